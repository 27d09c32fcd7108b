//! Every AWS call has a time limit (`stack::CallLimits`): against a hung endpoint (it accepts
//! connections and never answers) a call fails as unreachable instead of waiting forever; a
//! slow endpoint within the limits still answers; an SQS long poll is not cut by the short
//! limit meant for other calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use local_cloud::testing::{Fault, FaultyEndpoint, TestCloud};
use stack::errors::describe;
use stack::{CallLimits, Clients, ErrorClass};

/// Limits short enough for a test, of the same shape as the standard ones.
const SHORT: CallLimits = CallLimits {
    connect: Duration::from_secs(1),
    attempt: Duration::from_secs(1),
    operation: Duration::from_secs(3),
    max_attempts: 2,
};

/// Far above any limit in play: reaching it means a call had no limit at all.
const NEVER: Duration = Duration::from_secs(60);

async fn clients_for(endpoint: &str) -> Clients {
    Clients::connect(
        &local_cloud::aws_options(endpoint, "us-east-1"),
        "us-east-1",
    )
    .await
    .with_limits(SHORT)
}

#[tokio::test]
async fn a_call_to_a_hung_endpoint_fails_as_unreachable_within_its_limits() {
    let cloud = TestCloud::empty().await;
    let hung = FaultyEndpoint::start(cloud.endpoint(), Fault::BlackHole).await;
    let clients = clients_for(hung.endpoint()).await;

    let sqs = tokio::time::timeout(NEVER, clients.sqs.list_queues().send())
        .await
        .expect("ListQueues to a hung endpoint waited without a limit");
    let failure = describe(&sqs.unwrap_err());
    assert!(failure.unreachable, "{failure:?}");
    assert_eq!(failure.class, ErrorClass::Retryable);

    // S3 has its own, longer transfer limits; they still end.
    let s3 = tokio::time::timeout(NEVER, clients.s3.list_buckets().send())
        .await
        .expect("ListBuckets to a hung endpoint waited without a limit");
    assert!(describe(&s3.unwrap_err()).unreachable);

    let asg = tokio::time::timeout(
        NEVER,
        clients.autoscaling.describe_auto_scaling_groups().send(),
    )
    .await
    .expect("DescribeAutoScalingGroups to a hung endpoint waited without a limit");
    assert!(describe(&asg.unwrap_err()).unreachable);
}

#[tokio::test]
async fn a_slow_endpoint_within_the_limits_still_answers() {
    let cloud = TestCloud::empty().await;
    let slow =
        FaultyEndpoint::start(cloud.endpoint(), Fault::Delay(Duration::from_millis(400))).await;
    let clients = clients_for(slow.endpoint()).await;
    clients
        .sqs
        .create_queue()
        .queue_name("slow_but_there")
        .send()
        .await
        .unwrap();
    let listed = clients.sqs.list_queues().send().await.unwrap();
    assert!(listed
        .queue_urls()
        .iter()
        .any(|u| u.ends_with("/slow_but_there")));
}

#[tokio::test]
async fn a_long_poll_outlasts_the_short_limit_and_a_hung_endpoint_returns_the_endpoint_to_service()
{
    let cloud = TestCloud::empty().await;
    let proxy = FaultyEndpoint::start(cloud.endpoint(), Fault::None).await;
    let clients = clients_for(proxy.endpoint()).await;
    let url = clients
        .sqs
        .create_queue()
        .queue_name("long_poll")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    // A 3 s long poll against a 1 s attempt limit: the per-call override widens it.
    let wait = Duration::from_secs(3);
    let out = clients
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(3)
        .customize()
        .config_override(stack::aws::long_poll(&clients.sqs, wait))
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());

    // The same call without the override is cut by the attempt limit (the endpoint is fine).
    let cut = clients
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(3)
        .send()
        .await
        .unwrap_err();
    assert!(describe(&cut).unreachable, "{:?}", describe(&cut));

    // Hung, then healthy again: the same clients recover with no rebuild.
    proxy.set(Fault::BlackHole);
    assert!(clients.sqs.list_queues().send().await.is_err());
    proxy.set(Fault::None);
    clients.sqs.list_queues().send().await.unwrap();
}

#[test]
fn every_client_carries_the_standard_limits_and_s3_the_transfer_ones() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let local = local_cloud::aws_options("http://127.0.0.1:9", "us-east-1");
    assert_eq!(
        local.limits,
        CallLimits::EMULATOR,
        "the local cloud's own limits"
    );
    let clients = rt.block_on(Clients::connect(
        &stack::AwsOptions {
            limits: CallLimits::STANDARD,
            ..local
        },
        "us-east-1",
    ));
    let std = CallLimits::STANDARD;
    let sqs = clients.sqs.config().timeout_config().cloned().unwrap();
    assert_eq!(sqs.operation_attempt_timeout(), Some(std.attempt));
    assert_eq!(sqs.operation_timeout(), Some(std.operation));
    assert_eq!(sqs.connect_timeout(), Some(std.connect));
    let s3 = clients.s3.config().timeout_config().cloned().unwrap();
    assert_eq!(
        s3.operation_attempt_timeout(),
        Some(std.for_transfers().attempt)
    );
    assert!(std.for_transfers().attempt > std.attempt);
    let asg = clients
        .autoscaling
        .config()
        .timeout_config()
        .cloned()
        .unwrap();
    assert_eq!(asg.operation_timeout(), Some(std.operation));
    let cw = clients
        .cloudwatch
        .config()
        .timeout_config()
        .cloned()
        .unwrap();
    assert_eq!(cw.operation_timeout(), Some(std.operation));
    let ec2 = clients.ec2.config().timeout_config().cloned().unwrap();
    assert_eq!(ec2.operation_timeout(), Some(std.operation));
}
