//! A redrive behind the fault proxy (`local_cloud::faults`): SQS throttles, answers 503,
//! resets connections and loses answers to calls it carried out. Counted afterwards against
//! the emulator itself: every message is in the destination or still in the DLQ, and every
//! message that reached the destination more than once is among the possible duplicates the
//! redrive reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use local_cloud::faults::{Fault, FaultProxy, Rule};
use local_cloud::testing::TestCloud;
use stack::Clients;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::peek::resolve_queue;
use super::redrive::{self, Destination, MessageSet, RedriveProgress, RedriveRequest};

const MESSAGES: usize = 40;

/// Every body in a queue, with how many times it is there (short polls until three in a row
/// come back empty; received messages stay hidden, so each is seen once).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut empty = 0;
    while empty < 3 {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(300)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        if r.messages().is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        for m in r.messages() {
            *out.entry(m.body().unwrap_or_default().to_owned())
                .or_insert(0) += 1;
        }
    }
    out
}

#[tokio::test]
async fn a_redrive_under_faults_conserves_every_message_and_reports_every_duplicate() {
    let cloud = TestCloud::provisioned().await;
    let sqs = &cloud.clients.sqs;
    let dlq = resolve_queue(sqs, &cloud.stack.queues.dlq.name)
        .await
        .unwrap()
        .url;
    let tasks = resolve_queue(sqs, &cloud.stack.queues.tasks.name)
        .await
        .unwrap()
        .url;
    // DLQ message id -> body.
    let mut bodies: BTreeMap<String, String> = BTreeMap::new();
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!(r#"{{"v":1,"video_id":"vid-{i}"}}"#))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(&dlq)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        for ok in out.successful() {
            let i: usize = ok.id().parse().unwrap();
            bodies.insert(
                ok.message_id().to_owned(),
                format!(r#"{{"v":1,"video_id":"vid-{i}"}}"#),
            );
        }
    }
    assert_eq!(bodies.len(), MESSAGES);

    let proxy = FaultProxy::start(cloud.endpoint()).await.unwrap();
    // The first rule that hits a request decides it; each counts the requests it is asked about.
    proxy.add(
        Rule::new(Fault::LoseAnswer)
            .action("SendMessageBatch")
            .every(3),
    );
    proxy.add(
        Rule::new(Fault::ServerError(503))
            .action("SendMessageBatch")
            .every(4),
    );
    proxy.add(
        Rule::new(Fault::Reset)
            .action("DeleteMessageBatch")
            .every(3),
    );
    proxy.add(
        Rule::new(Fault::LoseAnswer)
            .action("DeleteMessageBatch")
            .every(5),
    );
    proxy.add(Rule::new(Fault::Throttle).action("ReceiveMessage").every(4));
    proxy.add(
        Rule::new(Fault::LoseAnswer)
            .action("ReceiveMessage")
            .every(7)
            .at_most(2),
    );
    let faulty = Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &cloud.stack.region),
        &cloud.stack.region,
    )
    .await;

    let state = tempfile::tempdir().unwrap();
    let mut req = RedriveRequest::new(
        &cloud.stack.queues.dlq.name,
        MessageSet::Everything,
        Destination::Source,
        state.path().to_path_buf(),
    );
    // Messages whose receive or delete answer was lost come back quickly.
    req.visibility_s = 2;
    req.empty_receives = 3;
    // What an operator does: run again while the DLQ still holds messages.
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut runs = 0;
    loop {
        runs += 1;
        let (tx, _rx) = watch::channel(RedriveProgress::default());
        let outcome = redrive::run(&faulty, &cloud.stack, &req, &tx, &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("run {runs}: {e}"));
        assert!(
            outcome.progress.possible_duplicates_total as usize
                >= outcome.possible_duplicate_ids.len()
        );
        reported.extend(outcome.possible_duplicate_ids);
        let left = super::peek::approximate_depth(sqs, &dlq).await.unwrap();
        if left == 0 || runs == 3 {
            break;
        }
        // Whatever a lost receive hid comes back before the next run.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    proxy.clear();

    let moved = drain(sqs, &tasks).await;
    let left = drain(sqs, &dlq).await;
    let known: BTreeSet<&String> = bodies.values().collect();
    for body in moved.keys().chain(left.keys()) {
        assert!(known.contains(body), "a message nobody sent: {body}");
    }
    let mut duplicated = Vec::new();
    for (id, body) in &bodies {
        let copies = moved.get(body).copied().unwrap_or(0) + left.get(body).copied().unwrap_or(0);
        assert!(copies >= 1, "lost: {id} {body}");
        if copies > 1 && !reported.contains(id) {
            duplicated.push(format!("{id} ({copies} copies)"));
        }
    }
    assert!(
        duplicated.is_empty(),
        "duplicates nobody reported: {duplicated:?}; reported {reported:?}"
    );
    assert_eq!(
        left.len(),
        0,
        "{runs} run(s) left messages in the DLQ: {left:?}"
    );
    let actual: usize = moved.values().map(|n| n - 1).sum();
    // The faults really happened, and lost answers to sends really made duplicates.
    assert!(proxy.injected("sqs", "SendMessageBatch", "lose_answer") >= 1);
    assert!(proxy.injected("sqs", "SendMessageBatch", "503") >= 1);
    assert!(proxy.injected("sqs", "DeleteMessageBatch", "reset") >= 1);
    assert!(proxy.injected("sqs", "ReceiveMessage", "throttle") >= 1);
    assert!(
        actual >= 1,
        "no duplicate was made: {:?}",
        proxy.injections()
    );
}
