//! The batch mover's decisions as a small state machine with no I/O, so that each transition
//! has its own tests. [`super::redrive`]'s `batch_move` drives it: it owns the clients, the
//! scanner and the journal, does what a transition says, and hands back what came of it.
//!
//! A pass ([`Pass`]) goes on while [`Pass::may_receive`] says so:
//!
//! ```text
//!   receive ──> sort ──> Work ──send──> Confirmed ──delete──> Done ──> account
//!   (Pass::start_receive,  (Work::sent,    (Confirmed::     (Pass::account)
//!    Pass::received)        Work::refused,  deleted)
//!    Pass::sort             Work::resumed_only)
//! ```
//!
//! and ends with [`Pass::end`], the exit accounting. Each message a batch takes ends in exactly
//! one place: deleted after its send (moved), kept for another look (sent, not yet deleted),
//! back into the pass (`retry`), left in the DLQ (`failed`, a refused send, not selected,
//! untaggable, a dry run): none is dropped. A message sent by an attempt that SQS may have
//! carried out without saying so, or by an earlier run that stopped mid-send, is counted and
//! journalled as a possible duplicate before anything else happens to it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::journal::Status;
use super::peek::DlqMessage;
use super::request::{tag_origin, MessageSet, Mover, RedriveProgress, RedriveRequest};
use super::DlqError;

/// Batches moved at once. Each is received, journalled, sent and deleted on its own; while
/// one waits on SQS or on the disk the others go on, and their journal fsyncs are shared
/// (see [`super::journal::SharedJournal`]). Receives stay one at a time, so the pass and its
/// empty-receive rule are the same as with one batch.
pub(super) const IN_FLIGHT: usize = 4;

/// Attempts to send one message before leaving it in the DLQ and reporting it failed.
pub(super) const MAX_SEND_ATTEMPTS: u32 = 3;

/// One batch to move: messages to send then delete, and messages an earlier run already
/// sent (only to delete).
#[derive(Debug, Default)]
pub(super) struct Work {
    pub to_send: Vec<DlqMessage>,
    pub resumed: Vec<DlqMessage>,
    /// Ids in `to_send` an earlier run may already have sent: journalled as possible
    /// duplicates before the send.
    pub duplicates: Vec<String>,
    /// Failed sends so far, per message in `to_send`.
    pub tries: HashMap<String, u32>,
}

impl Work {
    /// The ids journalled `sending` before the send.
    pub fn sending_ids(&self) -> Vec<String> {
        ids(&self.to_send)
    }

    /// Nothing to send (only what an earlier run sent): straight to the delete.
    pub fn resumed_only(self) -> Confirmed {
        Confirmed {
            done: Done {
                resumed: self.resumed.len() as u64,
                ..Done::default()
            },
            to_delete: self.resumed,
            ..Confirmed::default()
        }
    }

    /// SendMessageBatch answered: `sent` are in the destination, `unsent` are not (as far as
    /// the answer says). `uncertain`: an attempt may have been carried out without an answer
    /// saying so, so the sent may be there twice and the unsent once.
    pub fn sent(
        self,
        sent: Vec<DlqMessage>,
        unsent: Vec<DlqMessage>,
        uncertain: bool,
    ) -> Confirmed {
        let mut done = Done {
            resumed: self.resumed.len() as u64,
            sent: sent.len() as u64,
            ..Done::default()
        };
        let journal_sent = ids(&sent);
        // An earlier attempt of this send may have gone through as well as the last one.
        let journal_duplicates = if uncertain {
            journal_sent.clone()
        } else {
            Vec::new()
        };
        done.duplicates = journal_duplicates.len() as u64;
        // After an uncertain attempt the unsent may be in the destination already: they stay
        // `sending`, so that sending them again counts them as possible duplicates.
        let journal_unsent = if uncertain { Vec::new() } else { ids(&unsent) };
        for m in unsent {
            if self.tries.get(&m.id).copied().unwrap_or(0) + 1 >= MAX_SEND_ATTEMPTS {
                done.failed.push(m);
            } else {
                done.retry.push(m);
            }
        }
        let mut to_delete = self.resumed;
        to_delete.extend(sent);
        Confirmed {
            journal_sent,
            journal_duplicates,
            journal_unsent,
            to_delete,
            done,
        }
    }

    /// The send was refused outright (permissions, `--read-only`, a missing queue): nothing
    /// was sent, so the batch is journalled `unsent`, unless an attempt was uncertain (then
    /// they stay `sending`: a resend counts as a duplicate). The messages go back to the pass,
    /// to be released at its end. What an earlier run sent is counted resumed but not deleted
    /// now: the journal still says `sent`, so the next run deletes it without sending it.
    pub fn refused(self, error: DlqError, uncertain: bool) -> Refused {
        let journal_unsent = if uncertain {
            Vec::new()
        } else {
            self.sending_ids()
        };
        Refused {
            journal_unsent,
            done: Done {
                resumed: self.resumed.len() as u64,
                refused: Some((error, self.to_send)),
                ..Done::default()
            },
        }
    }
}

/// A refused send: what to journal, then the batch's end.
#[derive(Debug)]
pub(super) struct Refused {
    pub journal_unsent: Vec<String>,
    pub done: Done,
}

/// A send's outcome, before the delete: what to journal, in this order (`sent`, then
/// `duplicates`, then `unsent`), and what to delete from the DLQ.
#[derive(Debug, Default)]
pub(super) struct Confirmed {
    pub journal_sent: Vec<String>,
    pub journal_duplicates: Vec<String>,
    pub journal_unsent: Vec<String>,
    /// The resumed and the sent: in the destination, to delete from the DLQ.
    pub to_delete: Vec<DlqMessage>,
    done: Done,
}

impl Confirmed {
    /// DeleteMessageBatch answered (or nothing was to delete): `deleted` are gone from the
    /// DLQ, `kept` were not (they return after their visibility and are deleted then).
    pub fn deleted(mut self, deleted: Vec<String>, kept: usize) -> Done {
        self.done.kept = kept;
        self.done.deleted = deleted;
        self.done
    }

    /// Ended before the delete: nothing to delete.
    pub fn undeleted(self) -> Done {
        self.done
    }
}

/// What one batch did.
#[derive(Debug, Default)]
pub(super) struct Done {
    pub sent: u64,
    pub resumed: u64,
    /// Could not be sent, to come round again in this pass. Still invisible: the mover
    /// releases them when no receive is in flight, so that the scan sees them again.
    pub retry: Vec<DlqMessage>,
    /// The send was refused outright: nothing in the batch was sent.
    pub refused: Option<(DlqError, Vec<DlqMessage>)>,
    /// Could not be sent after [`MAX_SEND_ATTEMPTS`]: left in the DLQ.
    pub failed: Vec<DlqMessage>,
    /// Sent but not deleted: they return after their visibility and are deleted then.
    pub kept: usize,
    /// Deleted from the DLQ.
    pub deleted: Vec<String>,
    /// Sent, after an attempt that may also have sent them: possible duplicates.
    pub duplicates: u64,
    /// Time spent journalling, sending, deleting (receiving: the pass's).
    pub timings: [Duration; 4],
}

/// What to do before the next receive.
#[derive(Debug, Default)]
pub(super) struct Receive {
    /// To come round again in this pass: forgotten by the scanner and released, now that no
    /// receive is in flight.
    pub release: Vec<DlqMessage>,
    /// Held by the scanner (released at the end of the pass).
    pub hold: Vec<DlqMessage>,
    /// The scanner waits until then before it concludes the DLQ is empty.
    pub not_before: Option<Instant>,
    /// Wait this long first, to keep to the rate limit.
    pub delay: Duration,
}

/// A received batch, sorted.
#[derive(Debug, Default)]
pub(super) struct Sorted {
    /// Not to move now: the scanner holds them until the end of the pass.
    pub hold: Vec<DlqMessage>,
    /// To move, when there is anything to move.
    pub work: Option<Work>,
}

/// The end of a pass: what the driver releases and records, and the outcome so far.
#[derive(Debug)]
pub(super) struct Ending {
    pub state: RedriveProgress,
    /// Held by the scanner, then released: left in the DLQ.
    pub release: Vec<DlqMessage>,
    /// Deleted: the scanner forgets them.
    pub gone: Vec<String>,
    /// Sent (or tried) by this run: what the journal's finish keeps track of.
    pub this_run: HashSet<String>,
    pub would_move: Vec<DlqMessage>,
    pub untaggable_ids: Vec<String>,
    /// The first error; the pass stopped receiving at it.
    pub error: Option<DlqError>,
    /// For `--id`s: how many were not found.
    pub missing: u64,
}

impl Ending {
    /// Marks the run cancelled (or not), with a note when it was.
    pub fn cancelled(&mut self, cancelled: bool) {
        self.state.cancelled = cancelled;
        if cancelled {
            self.state
                .notes
                .push("cancelled: messages already moved stay moved; run again to continue".into());
        }
    }

    /// A clean end of the pass: every message an earlier run held has had time to come back.
    pub fn pass_complete(&self) -> bool {
        self.error.is_none() && !self.state.cancelled
    }
}

/// One pass of the batch mover over the DLQ.
#[derive(Debug)]
pub(super) struct Pass<'r> {
    req: &'r RedriveRequest,
    pub state: RedriveProgress,
    /// The DLQ's approximate depth at the start.
    depth: u64,
    attempts: HashMap<String, u32>,
    this_run: HashSet<String>,
    found_ids: HashSet<String>,
    /// Waiting for the next receive (see [`Receive`]).
    retry: Vec<DlqMessage>,
    hold: Vec<DlqMessage>,
    not_before: Option<Instant>,
    gone: Vec<String>,
    /// A batch asked for another look after the scan ends (retries, kept messages).
    rescan: bool,
    pass_over: bool,
    /// Messages handed to sends so far (the rate limit counts them).
    dispatched: u64,
    error: Option<DlqError>,
    in_flight: usize,
    would_move: Vec<DlqMessage>,
    untaggable_ids: Vec<String>,
    /// Batches moved, and the time per step summed over them (for `RUST_LOG=debug`).
    pub batches: u64,
    pub timings: [Duration; 4],
}

impl<'r> Pass<'r> {
    pub fn new(req: &'r RedriveRequest, mut state: RedriveProgress, depth: u64) -> Pass<'r> {
        state.mover = Some(Mover::Batch);
        state.remaining = match &req.selection {
            MessageSet::Everything => Some(depth),
            MessageSet::Ids(ids) => Some(ids.len() as u64),
            MessageSet::Filter(_) => None,
        };
        Pass {
            req,
            state,
            depth,
            attempts: HashMap::new(),
            this_run: HashSet::new(),
            found_ids: HashSet::new(),
            retry: Vec::new(),
            hold: Vec::new(),
            not_before: None,
            gone: Vec::new(),
            rescan: false,
            pass_over: false,
            dispatched: 0,
            error: None,
            in_flight: 0,
            would_move: Vec::new(),
            untaggable_ids: Vec::new(),
            batches: 0,
            timings: [Duration::ZERO; 4],
        }
    }

    fn missing(&self) -> u64 {
        match &self.req.selection {
            MessageSet::Ids(ids) => (ids.len() - self.found_ids.len()) as u64,
            _ => 0,
        }
    }

    /// Whether another receive may start (when the scanner is free): no error, the scan not
    /// over, not every `--id` found, not cancelled, fewer than [`IN_FLIGHT`] batches moving.
    pub fn may_receive(&self, cancelled: bool) -> bool {
        let all_found = match &self.req.selection {
            MessageSet::Ids(ids) => self.found_ids.len() >= ids.len(),
            _ => false,
        };
        self.error.is_none()
            && !self.pass_over
            && !all_found
            && !cancelled
            && self.in_flight < IN_FLIGHT
    }

    /// Starts a receive, `elapsed` after the pass began: hands over what the batches in
    /// flight learnt about the scan meanwhile.
    pub fn start_receive(&mut self, elapsed: Duration) -> Receive {
        self.rescan = false;
        // Keep the average at or under the limit, counting what has been started.
        let delay = match self.req.rate_per_s.filter(|r| *r > 0.0) {
            Some(rate) => {
                Duration::from_secs_f64(self.dispatched as f64 / rate).saturating_sub(elapsed)
            }
            None => Duration::ZERO,
        };
        Receive {
            release: std::mem::take(&mut self.retry),
            hold: std::mem::take(&mut self.hold),
            not_before: self.not_before.take(),
            delay,
        }
    }

    /// The receive found the scan's end: the pass is over, unless a batch in flight since
    /// asked for another look (and the run is not cancelled).
    pub fn scan_ended(&mut self, cancelled: bool) {
        self.pass_over = !self.rescan || cancelled;
    }

    /// A receive or a batch failed: the pass receives no more; the first error is the run's.
    pub fn failed(&mut self, e: DlqError) {
        self.error.get_or_insert(e);
    }

    /// Sorts a received batch (`status`: what the journal says of an id; `now`: for the
    /// filter's ages): what an earlier run sent is only deleted; what the selection does not
    /// match, what cannot be tagged and, on a dry run, everything is held; the rest is sent,
    /// edited and tagged as asked, those an earlier run may have sent counted as possible
    /// duplicates first.
    pub fn sort(
        &mut self,
        batch: Vec<DlqMessage>,
        status: impl Fn(&str) -> Option<Status>,
        now: DateTime<Utc>,
    ) -> Sorted {
        let req = self.req;
        self.state.scanned += batch.len() as u64;
        let mut hold = Vec::new();
        let mut work = Work::default();
        for mut m in batch {
            let journalled = status(&m.id);
            if journalled == Some(Status::Sent) {
                // An earlier run sent it and was stopped before deleting it.
                work.resumed.push(m);
                continue;
            }
            if !req.selection.matches(&m, now) {
                hold.push(m);
                continue;
            }
            self.found_ids.insert(m.id.clone());
            if let Some(body) = req.edits.get(&m.id) {
                m.size = body.len();
                m.body.clone_from(body);
            }
            if req.tag_origin && !tag_origin(&mut m, &self.state.run_id) {
                // Not sent, and said so: SQS would refuse an eleventh attribute.
                self.state.untaggable += 1;
                self.untaggable_ids.push(m.id.clone());
                hold.push(m);
                continue;
            }
            if req.dry_run {
                self.state.moved += 1;
                self.would_move.push(m.clone());
                hold.push(m);
                continue;
            }
            if journalled == Some(Status::Sending) {
                self.state.possible_duplicates += 1;
                work.duplicates.push(m.id.clone());
            }
            if let Some(n) = self.attempts.get(&m.id) {
                work.tries.insert(m.id.clone(), *n);
            }
            self.this_run.insert(m.id.clone());
            work.to_send.push(m);
        }
        self.dispatched += work.to_send.len() as u64;
        // A dry run has no journal: nothing moves (and nothing is resumed).
        let nothing = work.to_send.is_empty() && work.resumed.is_empty();
        let moves = !req.dry_run && !nothing;
        if moves {
            self.in_flight += 1;
        }
        Sorted {
            hold,
            work: moves.then_some(work),
        }
    }

    /// A batch ended (`duplicates_on_record`: the journal's count after it; `now`: when).
    /// `false` when it failed (the pass then receives no more).
    pub fn account(
        &mut self,
        result: Result<Done, DlqError>,
        duplicates_on_record: Option<u64>,
        now: Instant,
    ) -> bool {
        self.in_flight -= 1;
        self.batches += 1;
        let done = match result {
            Ok(d) => d,
            Err(e) => {
                self.failed(e);
                return false;
            }
        };
        for (t, d) in self.timings.iter_mut().zip(done.timings) {
            *t += d;
        }
        self.state.moved += done.sent;
        self.state.resumed += done.resumed;
        self.gone.extend(done.deleted);
        self.state.possible_duplicates += done.duplicates;
        if let Some(n) = duplicates_on_record {
            self.state.possible_duplicates_total = n;
        }
        for m in done.failed {
            self.state.failed += 1;
            *self.attempts.entry(m.id.clone()).or_default() += 1;
            self.hold.push(m);
        }
        for m in done.retry {
            *self.attempts.entry(m.id.clone()).or_default() += 1;
            self.retry.push(m);
            self.rescan = true;
        }
        if let Some((e, unsent)) = done.refused {
            // Released at the end with the messages held.
            self.hold.extend(unsent);
            self.failed(e);
        }
        if done.kept > 0 {
            // Sent but still in the DLQ: it returns after its visibility and is deleted then,
            // so the pass must last that long.
            let at = now + Duration::from_secs(self.req.visibility_s.max(1) as u64 + 1);
            self.not_before = Some(self.not_before.map_or(at, |t| t.max(at)));
            self.rescan = true;
        }
        if self.rescan {
            self.pass_over = false;
        }
        true
    }

    /// After each step: what is left to move, when known.
    pub fn update_remaining(&mut self) {
        let left = match &self.req.selection {
            MessageSet::Ids(_) => self.missing(),
            _ => self
                .depth
                .saturating_sub(self.state.moved + self.state.resumed),
        };
        if let Some(r) = self.state.remaining.as_mut() {
            *r = left;
        }
    }

    /// The pass is over (no receive or batch in flight): the exit accounting.
    pub fn end(self) -> Ending {
        let missing = self.missing();
        let mut release = self.hold;
        release.extend(self.retry);
        Ending {
            state: self.state,
            release,
            gone: self.gone,
            this_run: self.this_run,
            would_move: self.would_move,
            untaggable_ids: self.untaggable_ids,
            error: self.error,
            missing,
        }
    }
}

fn ids(msgs: &[DlqMessage]) -> Vec<String> {
    msgs.iter().map(|m| m.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;

    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;
    use crate::dlq::redrive::Destination;
    use crate::dlq::Filter;

    fn message(id: &str) -> DlqMessage {
        DlqMessage {
            id: id.into(),
            receipt_handle: format!("handle-{id}"),
            body: "{}".into(),
            sent_at: None,
            receive_count: 1,
            approximate_receive_count: 1,
            size: 2,
            attributes: BTreeMap::new(),
            raw_attributes: HashMap::new(),
            source_arn: None,
            group_id: None,
        }
    }

    fn messages(ids: &[&str]) -> Vec<DlqMessage> {
        ids.iter().map(|id| message(id)).collect()
    }

    fn request(selection: MessageSet) -> RedriveRequest {
        RedriveRequest::new(
            "video_dlq",
            selection,
            Destination::Source,
            PathBuf::from("/nonexistent"),
        )
    }

    fn only(ids: &[&str]) -> MessageSet {
        MessageSet::Ids(ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>())
    }

    fn id_list(msgs: &[DlqMessage]) -> Vec<&str> {
        msgs.iter().map(|m| m.id.as_str()).collect()
    }

    fn no_journal(_: &str) -> Option<Status> {
        None
    }

    fn refusal() -> DlqError {
        DlqError::Invalid("AccessDenied".into())
    }

    /// A pass that has sent `ids` in one batch, ready for what comes back.
    fn sending<'r>(req: &'r RedriveRequest, ids: &[&str]) -> (Pass<'r>, Work) {
        let mut pass = Pass::new(req, RedriveProgress::default(), 10);
        let work = pass
            .sort(messages(ids), no_journal, Utc::now())
            .work
            .unwrap();
        (pass, work)
    }

    #[test]
    fn the_remaining_count_starts_from_the_selection() {
        let everything = request(MessageSet::Everything);
        let pass = Pass::new(&everything, RedriveProgress::default(), 42);
        assert_eq!(pass.state.remaining, Some(42));
        assert_eq!(pass.state.mover, Some(Mover::Batch));
        let ids = request(only(&["a", "b"]));
        assert_eq!(
            Pass::new(&ids, RedriveProgress::default(), 42)
                .state
                .remaining,
            Some(2)
        );
        let filter = request(MessageSet::Filter(Filter::parse("poison").unwrap()));
        assert_eq!(
            Pass::new(&filter, RedriveProgress::default(), 42)
                .state
                .remaining,
            None
        );
    }

    #[test]
    fn sorting_sends_the_selected_holds_the_rest_and_only_deletes_what_an_earlier_run_sent() {
        let req = request(only(&["b", "c"]));
        let mut pass = Pass::new(&req, RedriveProgress::default(), 10);
        let journal = |id: &str| match id {
            "a" => Some(Status::Sent),
            "c" => Some(Status::Sending),
            _ => None,
        };
        let sorted = pass.sort(messages(&["a", "b", "c", "d"]), journal, Utc::now());
        assert_eq!(id_list(&sorted.hold), ["d"]);
        let work = sorted.work.unwrap();
        // Sent by an earlier run: deleted, not sent again, even though not selected.
        assert_eq!(id_list(&work.resumed), ["a"]);
        assert_eq!(id_list(&work.to_send), ["b", "c"]);
        // An earlier run started sending c and could not record whether it had.
        assert_eq!(work.duplicates, ["c"]);
        assert_eq!(pass.state.possible_duplicates, 1);
        assert_eq!(pass.state.scanned, 4);
        assert_eq!(work.sending_ids(), ["b", "c"]);
        // Both ids found: no more receives; the batch is in flight.
        assert!(!pass.may_receive(false));
        let end = pass.end();
        assert_eq!(end.missing, 0);
        assert_eq!(
            end.this_run,
            HashSet::from(["b".to_string(), "c".to_string()])
        );
    }

    #[test]
    fn sorting_applies_edits_and_holds_what_cannot_be_tagged() {
        let mut req = request(MessageSet::Everything);
        req.edits.insert("a".into(), r#"{"edited":true}"#.into());
        req.tag_origin = true;
        let mut pass = Pass::new(
            &req,
            RedriveProgress {
                run_id: "run-1".into(),
                ..RedriveProgress::default()
            },
            10,
        );
        let mut full = message("full");
        for i in 0..10 {
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value("v")
                .build()
                .unwrap();
            full.raw_attributes.insert(format!("a{i}"), v);
        }
        let sorted = pass.sort(vec![message("a"), full], no_journal, Utc::now());
        assert_eq!(id_list(&sorted.hold), ["full"]);
        assert_eq!(pass.state.untaggable, 1);
        let work = sorted.work.unwrap();
        let a = &work.to_send[0];
        assert_eq!(a.body, r#"{"edited":true}"#);
        assert_eq!(
            a.attributes.get(crate::dlq::request::ORIGIN_ATTRIBUTE),
            Some(&"a".to_string())
        );
        assert_eq!(pass.end().untaggable_ids, ["full"]);
    }

    #[test]
    fn a_dry_run_counts_and_holds_what_would_move_and_moves_nothing() {
        let mut req = request(MessageSet::Filter(Filter::parse("poison").unwrap()));
        req.dry_run = true;
        let mut pass = Pass::new(&req, RedriveProgress::default(), 10);
        let mut poison = message("p");
        poison.body = r#"{"poison":true}"#.into();
        let sorted = pass.sort(vec![poison, message("q")], no_journal, Utc::now());
        assert!(sorted.work.is_none());
        assert_eq!(id_list(&sorted.hold), ["p", "q"]);
        assert_eq!(pass.state.moved, 1);
        assert!(pass.may_receive(false), "nothing in flight");
        let end = pass.end();
        assert_eq!(id_list(&end.would_move), ["p"]);
        assert!(end.this_run.is_empty());
    }

    #[test]
    fn a_batch_with_nothing_to_move_is_not_dispatched() {
        let req = request(only(&["x"]));
        let mut pass = Pass::new(&req, RedriveProgress::default(), 10);
        let sorted = pass.sort(messages(&["a"]), no_journal, Utc::now());
        assert!(sorted.work.is_none());
        assert!(pass.may_receive(false));
    }

    #[test]
    fn a_certain_send_deletes_the_sent_and_journals_the_unsent() {
        let req = request(MessageSet::Everything);
        let (_, mut work) = sending(&req, &["a", "b"]);
        work.resumed = messages(&["r"]);
        let c = work.sent(messages(&["a"]), messages(&["b"]), false);
        assert_eq!(c.journal_sent, ["a"]);
        assert!(c.journal_duplicates.is_empty());
        assert_eq!(c.journal_unsent, ["b"]);
        assert_eq!(id_list(&c.to_delete), ["r", "a"]);
        let done = c.deleted(vec!["r".into(), "a".into()], 0);
        assert_eq!((done.sent, done.resumed, done.duplicates), (1, 1, 0));
        assert_eq!(id_list(&done.retry), ["b"]);
        assert!(done.failed.is_empty());
    }

    #[test]
    fn an_uncertain_send_reports_every_sent_message_as_a_possible_duplicate() {
        let req = request(MessageSet::Everything);
        let (_, work) = sending(&req, &["a", "b", "c"]);
        let c = work.sent(messages(&["a", "b"]), messages(&["c"]), true);
        assert_eq!(c.journal_sent, ["a", "b"]);
        assert_eq!(c.journal_duplicates, ["a", "b"]);
        // It may be in the destination already: it stays `sending`, so a resend counts too.
        assert!(c.journal_unsent.is_empty());
        let done = c.undeleted();
        assert_eq!(done.duplicates, 2);
        assert_eq!(id_list(&done.retry), ["c"]);
    }

    #[test]
    fn an_unsent_message_fails_after_its_last_attempt() {
        let req = request(MessageSet::Everything);
        let (_, mut work) = sending(&req, &["a", "b"]);
        work.tries.insert("a".into(), MAX_SEND_ATTEMPTS - 1);
        work.tries.insert("b".into(), MAX_SEND_ATTEMPTS - 2);
        let done = work
            .sent(Vec::new(), messages(&["a", "b"]), false)
            .undeleted();
        assert_eq!(id_list(&done.failed), ["a"]);
        assert_eq!(id_list(&done.retry), ["b"]);
    }

    #[test]
    fn a_refused_send_journals_unsent_only_when_no_attempt_was_uncertain() {
        let req = request(MessageSet::Everything);
        let (_, work) = sending(&req, &["a", "b"]);
        let refused = work.refused(refusal(), false);
        assert_eq!(refused.journal_unsent, ["a", "b"]);
        let (_, unsent) = refused.done.refused.unwrap();
        assert_eq!(id_list(&unsent), ["a", "b"]);

        let (_, work) = sending(&req, &["a", "b"]);
        let refused = work.refused(refusal(), true);
        assert!(refused.journal_unsent.is_empty());
        assert_eq!(refused.done.refused.unwrap().1.len(), 2);
    }

    /// Every split of a batch into sent and unsent, certain or not, at every attempt count:
    /// each message ends in exactly one place (to delete, to retry, failed), the resumed are
    /// deleted, and each sent after an uncertain attempt is journalled a possible duplicate.
    #[test]
    fn a_send_never_drops_a_message_and_reports_every_possible_duplicate() {
        let ids = ["a", "b", "c", "d"];
        let req = request(MessageSet::Everything);
        for mask in 0..(1u32 << ids.len()) {
            for uncertain in [false, true] {
                for tries in 0..MAX_SEND_ATTEMPTS {
                    let (_, mut work) = sending(&req, &ids);
                    work.resumed = messages(&["r"]);
                    for id in ids {
                        work.tries.insert(id.into(), tries);
                    }
                    let (sent, unsent): (Vec<_>, Vec<_>) = work
                        .to_send
                        .iter()
                        .cloned()
                        .enumerate()
                        .partition(|(i, _)| mask & (1 << i) != 0);
                    let sent: Vec<DlqMessage> = sent.into_iter().map(|(_, m)| m).collect();
                    let unsent: Vec<DlqMessage> = unsent.into_iter().map(|(_, m)| m).collect();
                    let c = work.sent(sent.clone(), unsent.clone(), uncertain);
                    let case = format!("mask {mask:04b}, uncertain {uncertain}, tries {tries}");
                    // Journalled: each sent as sent; each unsent as unsent unless uncertain.
                    assert_eq!(c.journal_sent, ids_of(&sent), "{case}");
                    let expect_unsent = if uncertain {
                        Vec::new()
                    } else {
                        ids_of(&unsent)
                    };
                    assert_eq!(c.journal_unsent, expect_unsent, "{case}");
                    let expect_dups = if uncertain { ids_of(&sent) } else { Vec::new() };
                    assert_eq!(c.journal_duplicates, expect_dups, "{case}");
                    let to_delete = ids_of(&c.to_delete);
                    let done = c.undeleted();
                    assert_eq!(done.duplicates, expect_dups.len() as u64, "{case}");
                    let mut places: Vec<String> = to_delete;
                    places.extend(ids_of(&done.retry));
                    places.extend(ids_of(&done.failed));
                    places.sort();
                    let mut expected: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
                    expected.push("r".into());
                    expected.sort();
                    assert_eq!(places, expected, "{case}");
                    assert_eq!(done.sent + done.resumed, sent.len() as u64 + 1, "{case}");
                }
            }
        }
    }

    fn ids_of(msgs: &[DlqMessage]) -> Vec<String> {
        msgs.iter().map(|m| m.id.clone()).collect()
    }

    #[test]
    fn accounting_counts_the_batch_and_brings_retries_round_again() {
        let req = request(MessageSet::Everything);
        let (mut pass, work) = sending(&req, &["a", "b", "c"]);
        assert_eq!(pass.state.remaining, Some(10));
        let mut work2 = Work {
            to_send: work.to_send,
            ..Work::default()
        };
        work2.tries.insert("c".into(), MAX_SEND_ATTEMPTS - 1);
        let done = work2
            .sent(messages(&["a"]), messages(&["b", "c"]), false)
            .deleted(vec!["a".into()], 0);
        let now = Instant::now();
        assert!(pass.account(Ok(done), Some(3), now));
        assert_eq!(pass.state.moved, 1);
        assert_eq!(pass.state.failed, 1);
        assert_eq!(pass.state.possible_duplicates_total, 3);
        pass.update_remaining();
        assert_eq!(pass.state.remaining, Some(9));
        // The scan's end does not end the pass: b comes round again first.
        pass.scan_ended(false);
        assert!(pass.may_receive(false));
        let receive = pass.start_receive(Duration::ZERO);
        assert_eq!(id_list(&receive.release), ["b"]);
        assert_eq!(id_list(&receive.hold), ["c"]);
        assert!(receive.not_before.is_none());
        // b is sent at its second attempt: the next sort says so.
        let work = pass
            .sort(messages(&["b"]), no_journal, Utc::now())
            .work
            .unwrap();
        assert_eq!(work.tries.get("b"), Some(&1));
        // With nothing asking for another look, the scan's end is the pass's.
        pass.scan_ended(false);
        assert!(!pass.may_receive(false));
        let end = pass.end();
        // c went to the scanner to hold at the receive: nothing more to hand over.
        assert!(end.release.is_empty());
        assert_eq!(end.gone, ["a"]);
        assert!(end.pass_complete());
    }

    #[test]
    fn a_sent_message_not_deleted_keeps_the_pass_open_until_it_returns() {
        let mut req = request(MessageSet::Everything);
        req.visibility_s = 30;
        let (mut pass, work) = sending(&req, &["a"]);
        let done = work
            .sent(messages(&["a"]), Vec::new(), false)
            .deleted(Vec::new(), 1);
        let now = Instant::now();
        pass.account(Ok(done), Some(0), now);
        pass.scan_ended(false);
        assert!(
            pass.may_receive(false),
            "the pass waits for the kept message"
        );
        let receive = pass.start_receive(Duration::ZERO);
        assert_eq!(receive.not_before, Some(now + Duration::from_secs(31)));
    }

    #[test]
    fn a_refusal_or_a_failed_batch_stops_receiving_and_holds_the_unsent() {
        let req = request(MessageSet::Everything);
        let (mut pass, work) = sending(&req, &["a", "b"]);
        assert!(pass.account(
            Ok(work.refused(refusal(), false).done),
            None,
            Instant::now()
        ));
        assert!(!pass.may_receive(false));
        let end = pass.end();
        assert_eq!(ids_of(&end.release), ["a", "b"]);
        assert!(end.error.is_some());
        assert!(!end.pass_complete());

        let (mut pass, _) = sending(&req, &["a"]);
        assert!(!pass.account(Err(refusal()), None, Instant::now()));
        assert_eq!(pass.batches, 1);
        assert!(!pass.may_receive(false));
    }

    #[test]
    fn receives_keep_to_the_rate_and_to_the_batches_in_flight() {
        let mut req = request(MessageSet::Everything);
        req.rate_per_s = Some(5.0);
        let mut pass = Pass::new(&req, RedriveProgress::default(), 100);
        for i in 0..IN_FLIGHT {
            assert!(pass.may_receive(false), "batch {i}");
            let batch: Vec<DlqMessage> = (0..10).map(|j| message(&format!("{i}-{j}"))).collect();
            assert!(pass.sort(batch, no_journal, Utc::now()).work.is_some());
        }
        assert!(!pass.may_receive(false), "{IN_FLIGHT} batches in flight");
        // 40 dispatched at 5/s is 8 s of sending; 3 s have passed.
        let receive = pass.start_receive(Duration::from_secs(3));
        assert_eq!(receive.delay, Duration::from_secs(5));
        assert!(!Pass::new(&req, RedriveProgress::default(), 1).may_receive(true));
    }

    #[test]
    fn the_end_says_what_was_not_found_and_whether_it_was_cancelled() {
        let req = request(only(&["a", "b", "c"]));
        let mut pass = Pass::new(&req, RedriveProgress::default(), 10);
        let _ = pass.sort(messages(&["a"]), no_journal, Utc::now());
        pass.update_remaining();
        assert_eq!(pass.state.remaining, Some(2));
        let mut end = pass.end();
        assert_eq!(end.missing, 2);
        end.cancelled(true);
        assert!(end.state.cancelled);
        assert!(
            end.state.notes[0].starts_with("cancelled"),
            "{:?}",
            end.state.notes
        );
        assert!(!end.pass_complete());
    }
}
