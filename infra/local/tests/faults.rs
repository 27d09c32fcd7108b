//! The fault proxy in front of a real emulator: each fault reaches the SDK as the error the
//! real service would give, `stack::errors` classes it as such, and the proxy counts it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use local_cloud::faults::{Fault, FaultProxy, Rule};
use local_cloud::testing::TestCloud;
use stack::errors::describe;
use stack::{CallLimits, Clients, ErrorClass};

async fn through(proxy: &FaultProxy, cloud: &TestCloud, max_attempts: u32) -> Clients {
    Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &cloud.stack.region),
        &cloud.stack.region,
    )
    .await
    .with_limits(CallLimits {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(10),
        operation: Duration::from_secs(20),
        max_attempts,
    })
}

async fn tasks_url(clients: &Clients) -> String {
    clients
        .sqs
        .get_queue_url()
        .queue_name("video_tasks")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

async fn visible(clients: &Clients, url: &str) -> u64 {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    out.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap()
}

/// With the SDK's retries off, every fault shows as what it is: each service's throttling
/// error is `throttled`, a 500/503 and a reset are `retryable`; a lost answer fails the call
/// although the emulator acted on it.
#[tokio::test]
async fn each_fault_reaches_the_sdk_as_the_services_own_error() {
    let cloud = TestCloud::provisioned().await;
    let proxy = FaultProxy::start(cloud.endpoint()).await.unwrap();
    let c = through(&proxy, &cloud, 1).await;
    let url = tasks_url(&c).await;
    let bucket = &cloud.stack.bucket.name;

    proxy.add(Rule::new(Fault::Throttle).first(4));
    let e = c
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (describe(&e).class, describe(&e).code.as_deref()),
        (ErrorClass::Throttled, Some("RequestThrottled"))
    );
    let e =
        c.s3.get_object()
            .bucket(bucket)
            .key("k")
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        (describe(&e).class, describe(&e).code.as_deref()),
        (ErrorClass::Throttled, Some("SlowDown"))
    );
    let e = c
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (describe(&e).class, describe(&e).code.as_deref()),
        (ErrorClass::Throttled, Some("Throttling"))
    );
    let e = c.cloudwatch.list_metrics().send().await.unwrap_err();
    assert_eq!(
        (describe(&e).class, describe(&e).code.as_deref()),
        (ErrorClass::Throttled, Some("Throttling"))
    );
    proxy.clear();

    proxy.add(Rule::new(Fault::ServerError(500)).first(1));
    proxy.add(Rule::new(Fault::ServerError(503)).first(1));
    let e = c
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (describe(&e).class, describe(&e).status),
        (ErrorClass::Retryable, Some(500))
    );
    let e =
        c.s3.put_object()
            .bucket(bucket)
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
    assert_eq!(
        (describe(&e).class, describe(&e).status),
        (ErrorClass::Retryable, Some(503))
    );
    proxy.clear();

    proxy.add(Rule::new(Fault::Reset).service("sqs").first(1));
    let e = c
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(describe(&e).class, ErrorClass::Retryable, "{e:?}");
    assert_eq!(
        visible(&c, &url).await,
        0,
        "a reset request never reached the emulator"
    );

    proxy.add(Rule::new(Fault::LoseAnswer).action("SendMessage").first(1));
    let e = c
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(describe(&e).class, ErrorClass::Retryable, "{e:?}");
    assert_eq!(
        visible(&c, &url).await,
        1,
        "the emulator acted on the request whose answer was lost"
    );

    let counted: Vec<(String, String, &str)> = proxy
        .injections()
        .iter()
        .map(|i| {
            (
                i.call.service.clone(),
                i.call.action.clone(),
                i.fault.kind(),
            )
        })
        .collect();
    let want = [
        ("sqs", "SendMessage", "throttle"),
        ("s3", "GetObject", "throttle"),
        ("autoscaling", "DescribeAutoScalingGroups", "throttle"),
        ("monitoring", "ListMetrics", "throttle"),
        ("sqs", "SendMessage", "500"),
        ("s3", "PutObject", "503"),
        ("sqs", "SendMessage", "reset"),
        ("sqs", "SendMessage", "lose_answer"),
    ];
    let want: Vec<(String, String, &str)> = want
        .iter()
        .map(|(s, a, k)| (s.to_string(), a.to_string(), *k))
        .collect();
    assert_eq!(counted, want);
    assert!(proxy.seen("sqs", "GetQueueAttributes") >= 2);
}

/// With the SDK's standard retries (3 attempts) a passing fault is absorbed: the call
/// succeeds, and the proxy shows it was faulted; latency is added as asked.
#[tokio::test]
async fn the_sdk_retries_passing_faults_and_latency_is_added() {
    let cloud = TestCloud::provisioned().await;
    let proxy = FaultProxy::start(cloud.endpoint()).await.unwrap();
    let c = through(&proxy, &cloud, 3).await;
    let url = tasks_url(&c).await;
    proxy.add(Rule::new(Fault::Throttle).action("SendMessage").first(1));
    proxy.add(Rule::new(Fault::Reset).action("SendMessage").first(1));
    c.sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(proxy.injected("sqs", "SendMessage", "throttle"), 1);
    assert_eq!(proxy.injected("sqs", "SendMessage", "reset"), 1);
    assert_eq!(proxy.seen("sqs", "SendMessage"), 3);
    assert_eq!(visible(&c, &url).await, 1);

    proxy.add(Rule::new(Fault::Delay(Duration::from_millis(800))).action("GetQueueAttributes"));
    let started = Instant::now();
    visible(&c, &url).await;
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(proxy.injected("sqs", "GetQueueAttributes", "delay"), 1);
}
