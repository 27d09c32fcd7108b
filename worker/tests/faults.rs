//! The worker behind the fault proxy (`local_cloud::faults`): S3 and SQS throttle, answer
//! 5xx, reset connections and lose answers while the job loop runs. Every message still ends
//! exactly one way: its video processed once (output stored, message deleted) or, for a
//! non-video, dead-lettered with its reason; retryable failures are retried by class.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use local_cloud::faults::{Fault, FaultProxy, Rule};
use store::VideoStatus;
use tokio_util::sync::CancellationToken;

use common::{env, synth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_every_message_is_processed_once_or_dead_lettered() {
    let env = env().await;
    // A message whose receive answer is lost comes back after this, not after a minute.
    let visibility = Duration::from_secs(4);
    env.cloud
        .clients
        .sqs
        .set_queue_attributes()
        .queue_url(&env.tasks_url)
        .attributes(QueueAttributeName::VisibilityTimeout, "4")
        .send()
        .await
        .unwrap();

    let proxy = FaultProxy::start(env.cloud.endpoint()).await.unwrap();
    // Three throttled GETs outlast the SDK's three attempts: one job fails as throttled and
    // is released; its next delivery downloads.
    proxy.add(
        Rule::new(Fault::Throttle)
            .service("s3")
            .action("GetObject")
            .first(3),
    );
    // Passing faults the SDK's retries absorb.
    proxy.add(
        Rule::new(Fault::ServerError(503))
            .action("HeadObject")
            .first(1),
    );
    proxy.add(Rule::new(Fault::Reset).action("PutObject").first(1));
    proxy.add(
        Rule::new(Fault::ServerError(500))
            .action("SendMessage")
            .first(1),
    );
    proxy.add(
        Rule::new(Fault::Throttle)
            .action("ChangeMessageVisibility")
            .first(1),
    );
    proxy.add(Rule::new(Fault::Throttle).action("ReceiveMessage").every(4));
    // Uncertain outcomes: a receive SQS carried out (the message is hidden, then delivered
    // again), a delete SQS carried out (the retry finds it gone).
    proxy.add(
        Rule::new(Fault::LoseAnswer)
            .action("ReceiveMessage")
            .every(3)
            .at_most(1),
    );
    proxy.add(
        Rule::new(Fault::LoseAnswer)
            .action("DeleteMessage")
            .first(1),
    );

    let faulty = stack::Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &env.cloud.stack.region),
        &env.cloud.stack.region,
    )
    .await;
    let assets = tokio::task::spawn_blocking(common::assets).await.unwrap();
    let mut config = worker::WorkerConfig::from_stack(&env.cloud.stack);
    config.receive_wait = Duration::from_secs(1);
    config.backoff_base = Duration::from_secs(1);
    config.backoff_max = Duration::from_secs(2);
    config.visibility_timeout = visibility;
    config.heartbeat_interval = Duration::from_secs(1);
    config.work_dir = env.work_dir();
    config.instance_id = "test-worker".into();
    config.concurrency = 1;
    // One job at a time, so the three throttled GETs all fall on one job's download.
    config.overlap = false;
    let worker = Arc::new(
        worker::Worker::new(&faulty, &env.cloud.stack, env.store.clone(), assets, config)
            .await
            .unwrap(),
    );

    let good = [
        env.video(Some(synth(env.dir.path(), 1.0))).await,
        env.video(Some(synth(env.dir.path(), 1.0))).await,
    ];
    let poison = env
        .video(Some(b"this is a text file, not a video\n".repeat(100)))
        .await;
    for task in good.iter().chain([&poison]) {
        env.send(&task.to_json()).await;
    }

    let (shutdown, abandon) = (CancellationToken::new(), CancellationToken::new());
    let running = tokio::spawn(worker.clone().run(shutdown.clone(), abandon.clone()));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut settled = 0;
        for task in good.iter().chain([&poison]) {
            let v = env.store.get_video(task.video_id).await.unwrap().unwrap();
            if matches!(v.status, VideoStatus::Processed | VideoStatus::Failed) {
                settled += 1;
            }
        }
        if settled == 3 && env.depth(&env.tasks_url).await == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled in 90 s: tasks {:?}, dlq {:?}, faults {:?}",
            env.depth(&env.tasks_url).await,
            env.depth(&env.dlq_url).await,
            proxy.injections()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    shutdown.cancel();
    let report = running.await.unwrap();
    proxy.clear();

    // Each good video was transformed and stored once: a duplicate delivery is settled as
    // already processed, never transformed again.
    assert_eq!(report.outcomes.get("processed"), Some(&2), "{report:?}");
    assert_eq!(report.outcomes.get("dead_lettered"), Some(&1), "{report:?}");
    assert!(
        report.outcomes.get("released").copied().unwrap_or(0) >= 1,
        "{report:?}"
    );
    let mut keys = Vec::new();
    for task in &good {
        let v = env.store.get_video(task.video_id).await.unwrap().unwrap();
        assert_eq!(v.status, VideoStatus::Processed, "{v:?}");
        keys.push(v.processed_key.unwrap());
    }
    keys.sort();
    assert_eq!(env.processed_keys().await, keys);
    let v = env.store.get_video(poison.video_id).await.unwrap().unwrap();
    assert_eq!(
        (v.status, v.failure_reason.as_deref()),
        (VideoStatus::Failed, Some("not_a_video"))
    );
    // The download throttled past the SDK's retries was retried as throttled (not as an
    // outage or a permanent error): its video says so, unless it was the non-video, whose
    // dead-lettering reason replaced it on the second attempt.
    let mut throttled = 0;
    for task in &good {
        let v = env.store.get_video(task.video_id).await.unwrap().unwrap();
        throttled += usize::from(v.last_failure.as_deref() == Some("s3_throttled"));
    }
    let v = env.store.get_video(poison.video_id).await.unwrap().unwrap();
    throttled += usize::from(v.attempts == 2);
    assert_eq!(throttled, 1, "one job was released as s3_throttled");

    // The DLQ holds the non-video once, with its reason; nothing is left on the task queue.
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
    let dead = env
        .receive_raw(&env.dlq_url, 1)
        .await
        .expect("a DLQ message");
    assert_eq!(dead.body, poison.to_json());
    assert_eq!(dead.attributes["failure_reason"], "not_a_video");
    assert_eq!(env.depth(&env.dlq_url).await, (0, 1), "one DLQ copy only");

    // The faults really happened.
    assert_eq!(proxy.injected("s3", "GetObject", "throttle"), 3);
    assert_eq!(proxy.injected("s3", "HeadObject", "503"), 1);
    assert_eq!(proxy.injected("sqs", "SendMessage", "500"), 1);
    assert_eq!(proxy.injected("sqs", "DeleteMessage", "lose_answer"), 1);
    assert_eq!(proxy.injected("sqs", "ReceiveMessage", "lose_answer"), 1);
    assert!(proxy.injected("sqs", "ReceiveMessage", "throttle") >= 1);
    assert_eq!(
        proxy.injected("sqs", "ChangeMessageVisibility", "throttle"),
        1
    );
    // The outputs are under one part: each went up with one PutObject (the reset one retried
    // by the SDK), none as a multipart upload.
    assert_eq!(proxy.injected("s3", "PutObject", "reset"), 1);
    assert_eq!(proxy.seen("s3", "UploadPart"), 0);
    assert_eq!(proxy.seen("s3", "CreateMultipartUpload"), 0);
}

/// Outputs up to one part go up with one PutObject, larger ones as a multipart upload of
/// `part_size` parts; both arrive byte for byte, and no multipart upload is left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_go_up_in_one_put_up_to_a_part_and_in_parts_past_it() {
    let env = env().await;
    let proxy = FaultProxy::start(env.cloud.endpoint()).await.unwrap();
    let s3 = stack::Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &env.cloud.stack.region),
        &env.cloud.stack.region,
    )
    .await
    .s3;
    let part = 5 * 1024 * 1024;
    for (name, size) in [
        ("small", 1_000_003u64),
        ("exact", part),
        ("large", 2 * part + 7),
    ] {
        let path = env.dir.path().join(format!("{name}.mp4"));
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let dest = stack::message::S3Uri::new(&env.bucket, format!("processed/{name}.mp4"));
        let sent = worker::storage::upload(
            &s3,
            &path,
            &dest,
            "video/mp4",
            part,
            2,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(sent, size);
        let stored = env
            .cloud
            .clients
            .s3
            .get_object()
            .bucket(&env.bucket)
            .key(&dest.key)
            .send()
            .await
            .unwrap();
        assert_eq!(stored.content_type(), Some("video/mp4"));
        let bytes = stored.body.collect().await.unwrap().into_bytes();
        assert!(
            bytes.as_ref() == data.as_slice(),
            "{name}: the bytes differ"
        );
    }
    assert_eq!(
        proxy.seen("s3", "PutObject"),
        2,
        "small and exact: one call each"
    );
    assert_eq!(proxy.seen("s3", "CreateMultipartUpload"), 1);
    assert_eq!(
        proxy.seen("s3", "UploadPart"),
        3,
        "large: two full parts and 7 bytes"
    );
    assert_eq!(proxy.seen("s3", "CompleteMultipartUpload"), 1);
    let pending = env
        .cloud
        .clients
        .s3
        .list_multipart_uploads()
        .bucket(&env.bucket)
        .send()
        .await
        .unwrap();
    assert!(pending.uploads().is_empty(), "{pending:?}");
}
