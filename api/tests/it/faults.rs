//! The upload behind the fault proxy (`local_cloud::faults`): faults the SDK's retries absorb
//! (S3 and SQS throttling, 5xx, a reset, latency) still end in one stored upload and one
//! message; faults that outlast the retries are 503 with nothing left behind, including what
//! an attempt whose answer was lost had already stored.

use std::time::Duration;

use axum::http::StatusCode;
use local_cloud::faults::{Fault, FaultProxy, Rule};
use stack::{Clients, VideoTask};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_ride_out_passing_faults_and_leave_nothing_when_faults_last() {
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    let proxy = FaultProxy::start(h.cloud().endpoint()).await.unwrap();
    let faulty = Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &h.stack.region),
        &h.stack.region,
    )
    .await;
    let h = h.rewire(&faulty, test_config());
    let (owner, token, _) = h.user("faults@example.com", None).await;
    // Passing faults on every step of a multipart upload and of the message.
    proxy.add(
        Rule::new(Fault::ServerError(500))
            .action("CreateMultipartUpload")
            .first(1),
    );
    proxy.add(Rule::new(Fault::Throttle).action("UploadPart").first(1));
    proxy.add(
        Rule::new(Fault::Reset)
            .action("CompleteMultipartUpload")
            .first(1),
    );
    proxy.add(Rule::new(Fault::Throttle).action("SendMessage").first(2));
    proxy.add(Rule::new(Fault::Delay(Duration::from_millis(300))).action("GetQueueUrl"));
    let r = upload(&h, &token, fake_mp4(api::PART_SIZE + 10)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let video_id = r.json()["video_id"].as_str().unwrap().to_owned();
    for (service, action, kind, n) in [
        ("s3", "CreateMultipartUpload", "500", 1),
        ("s3", "UploadPart", "throttle", 1),
        ("s3", "CompleteMultipartUpload", "reset", 1),
        ("sqs", "SendMessage", "throttle", 2),
        ("sqs", "GetQueueUrl", "delay", 1),
    ] {
        assert_eq!(proxy.injected(service, action, kind), n, "{action} {kind}");
    }
    assert_eq!(h.rows_of(owner).await.len(), 1);
    assert_eq!(h.stored_versions().await, 1);
    assert_eq!(h.pending_multipart_uploads().await, 0);
    let messages = h.drain_messages().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        VideoTask::parse(&messages[0]).unwrap().video_id.to_string(),
        video_id
    );

    // S3 throttles past the retries: 503 storage_unavailable, no row.
    proxy.clear();
    proxy.add(Rule::new(Fault::Throttle).action("PutObject"));
    let r = upload(&h, &token, fake_mp4(4096)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        "{}",
        r.text()
    );
    assert_eq!(proxy.injected("s3", "PutObject", "throttle"), 3);

    // SQS throttles past the retries after the object was stored by a PutObject whose first
    // answer was lost (the retry stored a second version): 503 queue_unavailable, and every
    // version this upload stored is removed with its row.
    proxy.clear();
    let puts = proxy.seen("s3", "PutObject");
    let throttled = proxy.injected("sqs", "SendMessage", "throttle");
    proxy.add(Rule::new(Fault::LoseAnswer).action("PutObject").first(1));
    proxy.add(Rule::new(Fault::Throttle).action("SendMessage"));
    let r = upload(&h, &token, fake_mp4(4096)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable"),
        "{}",
        r.text()
    );
    assert_eq!(proxy.injected("s3", "PutObject", "lose_answer"), 1);
    assert_eq!(
        proxy.seen("s3", "PutObject") - puts,
        2,
        "the SDK retried the lost answer"
    );
    assert_eq!(
        proxy.injected("sqs", "SendMessage", "throttle") - throttled,
        3
    );
    proxy.clear();
    h.settle().await;
    assert_eq!(
        h.rows_of(owner).await.len(),
        1,
        "only the first upload's row"
    );
    assert_eq!(
        h.stored_versions().await,
        1,
        "only the first upload's object: nothing half-stored"
    );
    assert!(h.drain_messages().await.is_empty());
    h.finish().await;
}

async fn upload(h: &Harness, token: &str, data: Vec<u8>) -> Reply {
    h.send(upload_request(
        Some(token),
        &[("title", None, b"t"), ("video_file", Some("a.mp4"), &data)],
        None,
    ))
    .await
}
