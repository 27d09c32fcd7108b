//! The batch mover's decisions as a small state machine with no I/O, so that each transition
//! has its own tests. `super::batch`'s `batch_move` drives it: it owns the clients, the
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
#[path = "mover_tests.rs"]
mod tests;
