//! The DLQ engine against a real emulator (each test its own `TestCloud`): peeking, selective
//! and bulk redrive, the StartMessageMoveTask fallback, and that empty short polls do not end
//! a redrive early.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use local_cloud::testing::TestCloud;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::peek::{approximate_depth, peek, resolve_queue, PeekOptions};
use super::redrive::{self, Destination, MessageSet, Mover, RedriveProgress, RedriveRequest};
use super::{DlqError, Filter};

fn attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

/// Put `n` messages in a queue: body `{"v":1,"video_id":"vid-<i>"}`, attributes
/// failure_class (permanent for even i), failure_reason and worker_instance.
async fn inject(sqs: &aws_sdk_sqs::Client, url: &str, n: usize, delay_s: i32) -> Vec<String> {
    let mut bodies = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .map(|i| {
                let body = format!(r#"{{"v":1,"video_id":"vid-{i}"}}"#);
                bodies.push(body.clone());
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(delay_s)
                    .message_attributes(
                        "failure_class",
                        attr(if i % 2 == 0 { "permanent" } else { "retryable" }),
                    )
                    .message_attributes("failure_reason", attr(&format!("reason {i}")))
                    .message_attributes("worker_instance", attr("i-0abc"))
                    .message_attributes(
                        "attempt",
                        MessageAttributeValue::builder()
                            .data_type("Number")
                            .string_value(i.to_string())
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed().is_empty(), "{:?}", out.failed());
    }
    bodies
}

/// Drain a queue: every message's body and attributes (as text).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 3 {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(300)
            // Short polls: the task queue long-polls 20 s by default (receive_wait_s).
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        if r.messages().is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        for m in r.messages() {
            let attrs = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                format!(
                                    "{}:{}",
                                    v.data_type(),
                                    v.string_value().unwrap_or_default()
                                ),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push((m.body().unwrap_or_default().to_string(), attrs));
        }
    }
    out
}

struct Setup {
    cloud: TestCloud,
    dlq: String,
    tasks: String,
    state: tempfile::TempDir,
}

async fn setup() -> Setup {
    let cloud = TestCloud::provisioned().await;
    let dlq = resolve_queue(&cloud.clients.sqs, &cloud.stack.queues.dlq.name)
        .await
        .unwrap()
        .url;
    let tasks = resolve_queue(&cloud.clients.sqs, &cloud.stack.queues.tasks.name)
        .await
        .unwrap()
        .url;
    Setup {
        cloud,
        dlq,
        tasks,
        state: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// Every message in the DLQ, by one default peek pass.
    async fn peek_all(&self) -> Vec<super::DlqMessage> {
        peek(
            &self.cloud.clients.sqs,
            &self.dlq,
            &PeekOptions::default(),
            &CancellationToken::new(),
        )
        .await
        .unwrap()
    }

    fn request(&self, selection: MessageSet) -> RedriveRequest {
        let mut r = RedriveRequest::new(
            &self.cloud.stack.queues.dlq.name,
            selection,
            Destination::Source,
            self.state.path().to_path_buf(),
        );
        r.visibility_s = 5;
        r
    }

    async fn run(&self, req: &RedriveRequest) -> Result<redrive::RedriveOutcome, DlqError> {
        let (tx, _rx) = watch::channel(RedriveProgress::default());
        redrive::run(
            &self.cloud.clients,
            &self.cloud.stack,
            req,
            &tx,
            &CancellationToken::new(),
        )
        .await
    }
}

#[tokio::test]
async fn peek_sees_every_message_once_with_its_attributes_and_releases_them() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 25, 0).await;
    let all = s.peek_all().await;
    let ids: BTreeSet<&str> = all.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(all.len(), 25);
    assert_eq!(ids.len(), 25, "each message once");
    let m = all.iter().find(|m| m.body.contains("\"vid-4\"")).unwrap();
    assert_eq!(m.attributes["failure_class"], "permanent");
    assert_eq!(m.attributes["failure_reason"], "reason 4");
    assert_eq!(m.attributes["worker_instance"], "i-0abc");
    assert_eq!(m.failure_reason(), Some("reason 4"));
    assert!(m.receive_count >= 1);
    assert!(m.sent_at.is_some());
    assert!(m.size > m.body.len());
    // Released at the end of the pass: all visible again, nothing consumed.
    let visible = sqs
        .get_queue_attributes()
        .queue_url(&s.dlq)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        visible.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "25"
    );
    // A filtered peek with a limit.
    let opts = PeekOptions {
        filter: Filter::parse("attr.failure_class=permanent").unwrap(),
        max: 5,
        ..PeekOptions::default()
    };
    let some = peek(sqs, &s.dlq, &opts, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(some.len(), 5);
    assert!(some
        .iter()
        .all(|m| m.attributes["failure_class"] == "permanent"));
}

#[tokio::test]
async fn a_filtered_redrive_moves_exactly_the_matching_messages_intact() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    let bodies = inject(sqs, &s.dlq, 24, 0).await;
    let before: HashMap<String, HashMap<String, String>> = drain_peek(&s).await;
    let req = s.request(MessageSet::Filter(
        Filter::parse("attr.failure_class=permanent").unwrap(),
    ));
    let out = s.run(&req).await.unwrap();
    assert_eq!(out.progress.moved, 12);
    assert_eq!(out.progress.destination, "video_tasks");
    assert_eq!(out.progress.mover, Some(Mover::Batch));
    assert_eq!(out.progress.possible_duplicates, 0);
    assert!(
        out.journal.is_none(),
        "nothing outstanding, journal removed"
    );
    let moved = drain(sqs, &s.tasks).await;
    assert_eq!(moved.len(), 12);
    for (body, attrs) in &moved {
        assert!(attrs["failure_class"].ends_with(":permanent"), "{body}");
        // Body and every attribute exactly as they were in the DLQ.
        assert_eq!(&before[body], attrs, "{body}");
    }
    let left = drain(sqs, &s.dlq).await;
    assert_eq!(left.len(), 12);
    assert!(left
        .iter()
        .all(|(_, a)| a["failure_class"].ends_with(":retryable")));
    let mut all: Vec<String> = moved.into_iter().chain(left).map(|(b, _)| b).collect();
    all.sort();
    let mut want = bodies;
    want.sort();
    assert_eq!(all, want);
}

/// Every DLQ message's body -> attributes, without consuming them.
async fn drain_peek(s: &Setup) -> HashMap<String, HashMap<String, String>> {
    let msgs = s.peek_all().await;
    msgs.into_iter()
        .map(|m| {
            let attrs = m
                .raw_attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        format!("{}:{}", v.data_type(), v.string_value().unwrap_or_default()),
                    )
                })
                .collect();
            (m.body, attrs)
        })
        .collect()
}

#[tokio::test]
async fn selected_ids_and_a_dry_run() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 15, 0).await;
    let msgs = s.peek_all().await;
    let chosen: BTreeSet<String> = msgs.iter().take(2).map(|m| m.id.clone()).collect();
    let mut dry = s.request(MessageSet::Filter(
        Filter::parse("attr.failure_class=retryable").unwrap(),
    ));
    dry.dry_run = true;
    let out = s.run(&dry).await.unwrap();
    assert_eq!(out.would_move.len(), 7);
    assert_eq!(
        approximate_depth(sqs, &s.dlq).await.unwrap(),
        15,
        "dry run changes nothing"
    );
    assert_eq!(approximate_depth(sqs, &s.tasks).await.unwrap(), 0);

    let out = s
        .run(&s.request(MessageSet::Ids(chosen.clone())))
        .await
        .unwrap();
    assert_eq!(out.progress.moved, 2);
    assert_eq!(out.progress.remaining, Some(0));
    let moved = drain(sqs, &s.tasks).await;
    let want: BTreeSet<String> = msgs
        .iter()
        .filter(|m| chosen.contains(&m.id))
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(
        moved.into_iter().map(|(b, _)| b).collect::<BTreeSet<_>>(),
        want
    );
}

#[tokio::test]
async fn move_all_falls_back_to_the_batch_mover_where_move_tasks_are_not_implemented() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 13, 0).await;
    let (tx, rx) = watch::channel(RedriveProgress::default());
    let req = s.request(MessageSet::Everything);
    assert!(req.use_move_task);
    let out = redrive::run(
        &s.cloud.clients,
        &s.cloud.stack,
        &req,
        &tx,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.progress.mover, Some(Mover::Batch));
    assert!(
        out.progress
            .notes
            .iter()
            .any(|n| n.contains("StartMessageMoveTask is not implemented")),
        "{:?}",
        out.progress.notes
    );
    assert_eq!(out.progress.moved, 13);
    assert_eq!(out.progress.remaining, Some(0));
    // The last snapshot on the channel is the finished state.
    assert!(rx.borrow().finished);
    assert_eq!(rx.borrow().moved, 13);
    assert_eq!(drain(sqs, &s.tasks).await.len(), 13);
    assert_eq!(approximate_depth(sqs, &s.dlq).await.unwrap(), 0);
}

#[tokio::test]
async fn empty_short_polls_do_not_end_a_redrive_early() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    // Ten now, ten that become visible a second later: the polls in between come back empty.
    inject(sqs, &s.dlq, 10, 0).await;
    inject(sqs, &s.dlq, 10, 1).await;
    let out = s.run(&s.request(MessageSet::Everything)).await.unwrap();
    assert_eq!(out.progress.moved, 20, "{:?}", out.progress);
    assert_eq!(approximate_depth(sqs, &s.dlq).await.unwrap(), 0);

    // With a single empty receive allowed, a run ends before later messages show up: the
    // rule is what saves the run above. (A long delay keeps this half independent of load.)
    inject(sqs, &s.dlq, 10, 0).await;
    inject(sqs, &s.dlq, 10, 15).await;
    let mut hasty = s.request(MessageSet::Everything);
    hasty.empty_receives = 1;
    let out = s.run(&hasty).await.unwrap();
    assert_eq!(out.progress.moved, 10, "{:?}", out.progress);
}

#[tokio::test]
async fn cancel_stops_between_batches_and_a_rerun_finishes() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 30, 0).await;
    let mut req = s.request(MessageSet::Everything);
    req.rate_per_s = Some(10.0);
    let (tx, mut rx) = watch::channel(RedriveProgress::default());
    let cancel = CancellationToken::new();
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                if rx.borrow().moved >= 10 {
                    cancel.cancel();
                    return;
                }
            }
        })
    };
    let out = redrive::run(&s.cloud.clients, &s.cloud.stack, &req, &tx, &cancel)
        .await
        .unwrap();
    stopper.await.unwrap();
    assert!(out.progress.cancelled);
    assert!(
        out.progress.moved >= 10 && out.progress.moved < 30,
        "{:?}",
        out.progress
    );
    assert!(out.progress.notes.iter().any(|n| n.contains("stay moved")));
    let first = out.progress.moved;
    let out = s.run(&s.request(MessageSet::Everything)).await.unwrap();
    assert_eq!(first + out.progress.moved, 30);
    assert_eq!(drain(sqs, &s.tasks).await.len(), 30);
}

#[tokio::test]
async fn a_redrive_to_a_missing_queue_says_which() {
    let s = setup().await;
    let mut req = s.request(MessageSet::Everything);
    req.destination = Destination::Queue("no_such_queue".into());
    let e = s.run(&req).await.unwrap_err();
    assert!(
        e.to_string().contains("no queue named `no_such_queue`"),
        "{e}"
    );
}

#[tokio::test]
async fn an_edited_body_is_checked_then_sent_with_the_original_attributes() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 3, 0).await;
    let msgs = s.peek_all().await;
    let target = &msgs[0];
    let one = MessageSet::Ids(BTreeSet::from([target.id.clone()]));

    // Not a v1 video task (the injected bodies lack most fields): refused, nothing moves.
    let mut bad = s.request(one.clone());
    bad.edits
        .insert(target.id.clone(), r#"{"v":1,"video_id":"x"}"#.into());
    let e = s.run(&bad).await.unwrap_err().to_string();
    assert!(e.contains("is not a v1 video task for video_tasks"), "{e}");
    bad.edits.insert(target.id.clone(), "{not json".into());
    let e = s.run(&bad).await.unwrap_err().to_string();
    assert!(e.contains("message_not_json"), "{e}");
    assert_eq!(approximate_depth(sqs, &s.dlq).await.unwrap(), 3);
    assert_eq!(approximate_depth(sqs, &s.tasks).await.unwrap(), 0);

    // A valid task: sent with the new body and the old attributes; the others stay.
    let fixed = r#"{"v":1,"video_id":"3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f","source":"s3://b/uploads/x.mp4","correlation_id":"edited","submitted_at":"2026-11-22T13:00:00Z"}"#.to_string();
    let mut good = s.request(one);
    good.edits.insert(target.id.clone(), fixed.clone());
    let out = s.run(&good).await.unwrap();
    assert_eq!(out.progress.moved, 1);
    let moved = drain(sqs, &s.tasks).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].0, fixed);
    assert_eq!(
        moved[0].1.get("failure_reason").map(String::as_str),
        Some(format!("String:{}", target.attributes["failure_reason"]).as_str()),
        "the attributes travel unchanged"
    );
    assert_eq!(approximate_depth(sqs, &s.dlq).await.unwrap(), 2);
}

#[tokio::test]
async fn the_queue_counts_end_a_pass_over_an_empty_queue_early() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    // A thousand empty receives with growing pauses would take over a quarter of an hour;
    // the counts (nothing visible, delayed or in flight) end it after three.
    let opts = PeekOptions {
        empty_receives: 1000,
        ..PeekOptions::default()
    };
    let found = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        peek(sqs, &s.dlq, &opts, &CancellationToken::new()),
    )
    .await
    .expect("the counts should end the pass")
    .unwrap();
    assert!(found.is_empty());

    // A delayed message keeps the counts from ending it: the pass waits for it (and then
    // ends early again: the one in flight is the one this pass holds).
    inject(sqs, &s.dlq, 1, 1).await;
    let opts = PeekOptions {
        empty_receives: 30,
        ..PeekOptions::default()
    };
    let found = peek(sqs, &s.dlq, &opts, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the delayed message is found");
}

/// Receive `n` messages as another consumer would and keep them in flight for `hold_s`:
/// their (id, receipt handle).
async fn hold_elsewhere(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    n: usize,
    hold_s: i32,
) -> Vec<(String, String)> {
    let mut held = Vec::new();
    while held.len() < n {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages((n - held.len()).min(10) as i32)
            .visibility_timeout(hold_s)
            .send()
            .await
            .unwrap();
        for m in r.messages() {
            held.push((
                m.message_id().unwrap().to_owned(),
                m.receipt_handle().unwrap().to_owned(),
            ));
        }
    }
    held
}

/// The other consumer lets go: visible again at once.
async fn let_go(sqs: &aws_sdk_sqs::Client, url: &str, held: &[(String, String)]) {
    for (_, handle) in held {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn messages_held_by_another_consumer_are_counted_as_left() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 12, 0).await;
    let held = hold_elsewhere(sqs, &s.dlq, 3, 300).await;

    // One of the held ids asked for by id: nothing moves, and it is the one left.
    let one = BTreeSet::from([held[0].0.clone()]);
    let out = s.run(&s.request(MessageSet::Ids(one))).await.unwrap();
    assert_eq!(
        (out.progress.moved, out.progress.left),
        (0, 1),
        "{:?}",
        out.progress
    );

    let out = s.run(&s.request(MessageSet::Everything)).await.unwrap();
    assert_eq!(
        (out.progress.moved, out.progress.left),
        (9, 3),
        "{:?}",
        out.progress
    );
    assert!(!out.progress.cancelled);
    assert_eq!(drain(sqs, &s.tasks).await.len(), 9);
    assert_eq!(approximate_depth(sqs, &s.dlq).await.unwrap(), 3);

    // Once the other consumer lets go, a run takes them and leaves nothing.
    let_go(sqs, &s.dlq, &held).await;
    let out = s.run(&s.request(MessageSet::Everything)).await.unwrap();
    assert_eq!(
        (out.progress.moved, out.progress.left),
        (3, 0),
        "{:?}",
        out.progress
    );
}

/// Raise receive counts as consumers would: message `vid-i` ends with `1 + i % 3` receives.
/// (Each round receives every visible message and keeps it; the next round starts from those
/// let go.)
async fn receive_by_index(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) {
    let index = |body: &str| -> usize {
        body.trim_end_matches("\"}")
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Message index -> its newest receipt handle (older ones stop working).
    let mut handles: HashMap<usize, String> = HashMap::new();
    let release = |handle: String| async move {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    };
    let mut visible = n;
    for round in 0..3 {
        let mut got = 0;
        while got < visible {
            let r = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .send()
                .await
                .unwrap();
            for m in r.messages() {
                got += 1;
                handles.insert(
                    index(m.body().unwrap()),
                    m.receipt_handle().unwrap().to_owned(),
                );
            }
        }
        // Let go of those that need another receive.
        let again: Vec<usize> = handles.keys().copied().filter(|i| i % 3 > round).collect();
        for i in &again {
            release(handles.remove(i).unwrap()).await;
        }
        visible = again.len();
    }
    for (_, handle) in handles {
        release(handle).await;
    }
}

#[tokio::test]
async fn a_receive_count_filter_selects_the_same_messages_in_the_dry_run_and_the_real_run() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 12, 0).await;
    receive_by_index(sqs, &s.dlq, 12).await;
    // vid-2, 5, 8, 11 were received three times by "consumers", the others once or twice.
    let want: BTreeSet<String> = [2, 5, 8, 11]
        .iter()
        .map(|i| format!(r#"{{"v":1,"video_id":"vid-{i}"}}"#))
        .collect();
    let filter = || MessageSet::Filter(Filter::parse("receives>2").unwrap());

    // Two dry runs (two looks, each raising every count at SQS by one), then the real run.
    for _ in 0..2 {
        let mut dry = s.request(filter());
        dry.dry_run = true;
        let out = s.run(&dry).await.unwrap();
        let shown: BTreeSet<String> = out.would_move.iter().map(|m| m.body.clone()).collect();
        assert_eq!(shown, want, "the dry run");
        for m in &out.would_move {
            assert_eq!(m.receive_count, 3, "{m:?}");
            assert!(m.approximate_receive_count > 3, "{m:?}");
        }
    }
    let out = s.run(&s.request(filter())).await.unwrap();
    assert_eq!(out.progress.moved, 4, "{:?}", out.progress);
    let moved: BTreeSet<String> = drain(sqs, &s.tasks)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(moved, want, "the real run moves what the dry runs showed");

    // A peek with the same state directory shows the same counts; the moved ids are gone from
    // the record.
    let opts = PeekOptions {
        state_dir: Some(s.state.path().to_path_buf()),
        ..PeekOptions::default()
    };
    let left = peek(sqs, &s.dlq, &opts, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(left.len(), 8);
    let mut counts: Vec<u32> = left.iter().map(|m| m.receive_count).collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 1, 1, 1, 2, 2, 2, 2]);
    let record =
        std::fs::read_to_string(super::receives::path_for(s.state.path(), &s.dlq)).unwrap();
    let record: HashMap<String, serde_json::Value> = serde_json::from_str(&record).unwrap();
    assert_eq!(record.len(), 8, "{record:?}");
}

#[tokio::test]
async fn tag_origin_adds_the_dlq_id_and_the_run_and_leaves_a_message_with_too_many_attributes() {
    let s = setup().await;
    let sqs = &s.cloud.clients.sqs;
    inject(sqs, &s.dlq, 4, 0).await;
    // One message with nine attributes already: an eleventh would be refused by SQS.
    let mut full = sqs
        .send_message()
        .queue_url(&s.dlq)
        .message_body(r#"{"v":1,"video_id":"full"}"#);
    for i in 0..9 {
        full = full.message_attributes(format!("a{i}"), attr("x"));
    }
    let full_id = full.send().await.unwrap().message_id().unwrap().to_owned();
    let before: HashMap<String, String> = s
        .peek_all()
        .await
        .into_iter()
        .map(|m| (m.body, m.id))
        .collect();

    let mut dry = s.request(MessageSet::Everything);
    dry.tag_origin = true;
    dry.dry_run = true;
    let out = s.run(&dry).await.unwrap();
    assert_eq!((out.would_move.len(), out.progress.untaggable), (4, 1));
    assert!(out.would_move[0]
        .attributes
        .contains_key(crate::dlq::request::ORIGIN_ATTRIBUTE));

    let mut req = s.request(MessageSet::Everything);
    req.tag_origin = true;
    let out = s.run(&req).await.unwrap();
    assert_eq!(out.progress.moved, 4, "{:?}", out.progress);
    assert_eq!(out.progress.untaggable, 1);
    assert_eq!(out.untaggable_ids, [full_id]);
    assert!(!out.progress.run_id.is_empty());
    let moved = drain(sqs, &s.tasks).await;
    assert_eq!(moved.len(), 4);
    for (body, attrs) in &moved {
        assert_eq!(
            attrs[crate::dlq::request::ORIGIN_ATTRIBUTE],
            format!("String:{}", before[body]),
            "{body}"
        );
        assert_eq!(
            attrs[crate::dlq::request::RUN_ATTRIBUTE],
            format!("String:{}", out.progress.run_id)
        );
        assert!(
            attrs["failure_reason"].starts_with("String:reason "),
            "kept"
        );
        assert_eq!(attrs.len(), 6, "four of its own and two tags: {attrs:?}");
    }
    // The untaggable one stays in the DLQ, visible.
    let left = s.peek_all().await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].raw_attributes.len(), 9);
}
