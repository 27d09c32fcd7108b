//! The consumer against a real emulator, real FFmpeg and a real SQLite file: every way a
//! message can be settled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use store::VideoStatus;
use tokio_util::sync::CancellationToken;
use worker::Outcome;

use common::{dir_is_empty, env, synth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_stores_output_marks_processed_and_deletes() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let task = env.video(Some(synth(env.dir.path(), 2.0))).await;
    env.send(&task.to_json()).await;

    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    let Some(Outcome::Processed { key, bytes_in, .. }) = outcome.clone() else {
        panic!("expected processed, got {outcome:?}");
    };
    let expected_key =
        stack::message::dated_key("processed/", task.submitted_at, task.video_id, "mp4");
    assert_eq!(key, expected_key);
    assert!(bytes_in > 0);

    // The output is in S3, typed, and is the workload's transform.
    assert_eq!(env.processed_keys().await, vec![key.clone()]);
    let local = env.dir.path().join("out.mp4");
    assert_eq!(
        env.download(&key, &local).await.as_deref(),
        Some("video/mp4")
    );
    let info = media::probe(&local).unwrap();
    let v = info.video.unwrap();
    assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", 1280, 720));
    assert_eq!(info.audio_streams, 0);
    // intro 2 s + the 2 s upload + outro 2 s
    assert!(
        (v.duration.as_secs_f64() - 6.0).abs() < 0.1,
        "{:?}",
        v.duration
    );

    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Processed);
    assert_eq!(video.processed_key.as_deref(), Some(key.as_str()));
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    assert!(dir_is_empty(&env.work_dir()), "temp files left behind");

    // A duplicate delivery of a processed video is settled without redoing the work.
    env.send(&task.to_json()).await;
    let again = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        again,
        Some(Outcome::AlreadyProcessed {
            video_id: task.video_id
        })
    );
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_video_upload_is_dead_lettered_at_once_with_its_reason() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let task = env
        .video(Some(b"this is a text file, not a video\n".repeat(100)))
        .await;
    env.send(&task.to_json()).await;

    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        outcome,
        Some(Outcome::DeadLettered {
            video_id: Some(task.video_id),
            reason: "not_a_video"
        })
    );
    let dead = env
        .receive_raw(&env.dlq_url, 1)
        .await
        .expect("a DLQ message");
    assert_eq!(dead.body, task.to_json());
    assert_eq!(dead.attributes["failure_reason"], "not_a_video");
    assert_eq!(dead.attributes["failure_class"], "permanent");
    assert_eq!(dead.attributes["worker_instance"], "test-worker");
    assert!(dead.attributes["failure_detail"].contains("not a video"));

    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Failed);
    assert_eq!(video.failure_reason.as_deref(), Some("not_a_video"));
    assert_eq!(video.attempts, 1);
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
    assert!(env.processed_keys().await.is_empty());
    assert!(dir_is_empty(&env.work_dir()));
}

/// What an operator does after a permanent failure: fix the upload, redrive the message from
/// the DLQ. The redriven message is a request to try again, not a duplicate to discard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redriven_message_for_a_failed_video_is_tried_again() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let task = env.video(Some(b"not a video at all\n".repeat(100))).await;
    env.send(&task.to_json()).await;
    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(outcome, Some(Outcome::DeadLettered { .. })),
        "{outcome:?}"
    );
    let dead = env
        .receive_raw(&env.dlq_url, 1)
        .await
        .expect("a DLQ message");

    // The fix, then the redrive: the same body back on the task queue.
    env.put(&task.source.key, synth(env.dir.path(), 2.0)).await;
    env.send(&dead.body).await;
    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(outcome, Some(Outcome::Processed { .. })),
        "{outcome:?}"
    );
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Processed);
    assert_eq!(video.failure_reason, None);
    assert_eq!(video.attempts, 2);
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_message_body_is_dead_lettered() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    for (body, reason) in [
        ("hello", "message_not_json"),
        (r#"{"v":2,"video_id":"x"}"#, "message_unsupported_version"),
    ] {
        env.send(body).await;
        let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
        assert_eq!(
            outcome,
            Some(Outcome::DeadLettered {
                video_id: None,
                reason
            })
        );
        let dead = env
            .receive_raw(&env.dlq_url, 1)
            .await
            .expect("a DLQ message");
        assert_eq!(dead.body, body);
        assert_eq!(dead.attributes["failure_reason"], reason);
        assert_eq!(dead.attributes["failure_class"], "permanent");
    }
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_is_released_and_succeeds_once_the_object_appears() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let task = env.video(None).await;
    env.send(&task.to_json()).await;

    let first = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(
            first,
            Some(Outcome::Released {
                reason: "source_missing",
                marked_failed: false,
                ..
            })
        ),
        "{first:?}"
    );
    // Released, not deleted and not dead-lettered.
    assert_eq!(env.depth(&env.tasks_url).await, (0, 1));
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Processing);
    assert_eq!(video.last_failure.as_deref(), Some("source_missing"));

    // The upload lands; the redelivery (after the 1 s backoff) succeeds.
    env.put(&task.source.key, synth(env.dir.path(), 1.0)).await;
    let mut outcome = None;
    for _ in 0..5 {
        outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
        if outcome.is_some() {
            break;
        }
    }
    assert!(
        matches!(outcome, Some(Outcome::Processed { .. })),
        "{outcome:?}"
    );
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Processed);
    assert_eq!(video.attempts, 2);
    assert!(video.processed_key.is_some());
    assert_eq!(
        video.last_failure.as_deref(),
        Some("source_missing"),
        "the record keeps what failed on the way"
    );
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_failure_on_the_last_receive_marks_the_video_failed() {
    let env = env().await;
    let worker = env.worker(|c| c.max_receive_count = 1).await;
    let task = env.video(None).await;
    env.send(&task.to_json()).await;
    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(
            outcome,
            Some(Outcome::Released {
                reason: "source_missing",
                marked_failed: true,
                ..
            })
        ),
        "{outcome:?}"
    );
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Failed);
    assert_eq!(video.failure_reason.as_deref(), Some("source_missing"));
    // Still released, not deleted: SQS's redrive moves it to the DLQ.
    assert_eq!(env.depth(&env.tasks_url).await, (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_database_releases_the_message_with_a_backoff() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let task = env.video(Some(synth(env.dir.path(), 1.0))).await;
    env.send(&task.to_json()).await;
    env.store.close().await;

    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(
            outcome,
            Some(Outcome::Released {
                reason: "database_unavailable",
                ..
            })
        ),
        "{outcome:?}"
    );
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    // Hidden for the backoff, then delivered again.
    assert_eq!(env.depth(&env.tasks_url).await, (0, 1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = env
        .receive_raw(&env.tasks_url, 2)
        .await
        .expect("redelivered");
    assert_eq!(again.body, task.to_json());
    assert_eq!(again.receive_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_running_jobs_message_hidden() {
    let env = env().await;
    let sqs = &env.cloud.clients.sqs;
    // A queue of our own with a 2 s visibility timeout.
    let url = sqs
        .create_queue()
        .queue_name("heartbeat-test")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "2",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue = worker::queue::Queue::new(sqs.clone(), url.clone(), env.dlq_url.clone());
    sqs.send_message()
        .queue_url(&url)
        .message_body("slow job")
        .send()
        .await
        .unwrap();
    let msg = queue
        .receive(Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();

    let stop = tokio_util::sync::CancellationToken::new();
    let beat = queue.heartbeat(
        msg.receipt_handle.clone(),
        Duration::from_millis(500),
        Duration::from_secs(2),
        stop.clone(),
    );
    // Well past the 2 s visibility timeout, the message is still hidden.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        env.receive_raw(&url, 0).await.is_none(),
        "the message reappeared while its job was running"
    );
    stop.cancel();
    let beats = beat.await.unwrap();
    assert!(beats >= 5, "{beats} beats");
    // Without beats it reappears once the last extension runs out.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = env.receive_raw(&url, 1).await.expect("visible again");
    assert_eq!(again.body, "slow job");
}

/// S3 hangs (accepts connections, never answers) while a job runs: the download's time limit
/// ends it, the message is released for a retry (neither deleted nor dead-lettered), and the
/// video is not marked processed. SQS hanging makes a poll fail instead of waiting forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_endpoint_releases_the_job_instead_of_waiting_forever() {
    use local_cloud::testing::{Fault, FaultyEndpoint};
    let env = env().await;
    let proxy = FaultyEndpoint::start(env.cloud.endpoint(), Fault::BlackHole).await;
    let hung = stack::Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &env.cloud.stack.region),
        &env.cloud.stack.region,
    )
    .await
    .with_limits(stack::CallLimits {
        connect: Duration::from_secs(1),
        attempt: Duration::from_secs(1),
        operation: Duration::from_secs(3),
        max_attempts: 2,
    });
    let never = Duration::from_secs(90);
    let task = env.video(Some(synth(env.dir.path(), 1.0))).await;
    env.send(&task.to_json()).await;

    // SQS is real, S3 hangs.
    let mut clients = env.cloud.clients.clone();
    clients.s3 = hung.s3.clone();
    let assets = tokio::task::spawn_blocking(common::assets).await.unwrap();
    let mut config = worker::WorkerConfig::from_stack(&env.cloud.stack);
    config.receive_wait = Duration::from_secs(1);
    config.backoff_base = Duration::from_secs(1);
    config.work_dir = env.work_dir();
    let worker = worker::Worker::new(
        &clients,
        &env.cloud.stack,
        env.store.clone(),
        assets,
        config,
    )
    .await
    .unwrap();
    let outcome = tokio::time::timeout(never, worker.poll_once(&CancellationToken::new()))
        .await
        .expect("the job waited on a hung S3 without a limit")
        .unwrap();
    assert!(
        matches!(
            outcome,
            Some(Outcome::Released {
                reason: "s3_unavailable",
                ..
            })
        ),
        "{outcome:?}"
    );
    assert_eq!(
        env.depth(&env.tasks_url).await,
        (0, 1),
        "released, not deleted"
    );
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_ne!(video.status, VideoStatus::Processed);

    // SQS hangs too: a receive fails within its limits.
    let queue = worker.queue();
    let hung_queue =
        worker::queue::Queue::new(hung.sqs.clone(), queue.url.clone(), queue.dlq_url.clone());
    let polled = tokio::time::timeout(never, hung_queue.receive(Duration::from_secs(1)))
        .await
        .expect("a receive from a hung SQS waited without a limit");
    assert!(polled.is_err(), "{polled:?}");
}
