//! The unit tests of [`super`] (`mover.rs`).
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
