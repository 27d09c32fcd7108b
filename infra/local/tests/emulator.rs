//! The emulator's lifecycle and the error classes of real calls against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use local_cloud::emulator::{free_port, probe};
use local_cloud::testing::TestCloud;
use local_cloud::Emulator;
use stack::errors::describe;
use stack::{Clients, ErrorClass};

#[tokio::test]
async fn stopping_the_emulator_frees_its_port_and_process() {
    let mut cloud = TestCloud::empty().await;
    let endpoint = cloud.endpoint().to_string();
    let pid = cloud.emulator.pid().unwrap();
    assert!(probe(&endpoint).is_ok());
    cloud.emulator.stop();
    assert!(
        probe(&endpoint).is_err(),
        "emulator still answers after stop"
    );
    // stop() reaps the child, so not even a zombie may remain.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "emulator pid {pid} still exists"
    );
}

#[tokio::test]
async fn attach_to_a_running_emulator_and_refuse_a_dead_one() {
    let cloud = TestCloud::empty().await;
    let attached = Emulator::attach(cloud.endpoint()).unwrap();
    assert_eq!(
        attached.pid(),
        None,
        "an attached emulator is not ours to stop"
    );
    drop(attached);
    assert!(
        probe(cloud.endpoint()).is_ok(),
        "dropping an attached emulator must not stop it"
    );

    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let err = Emulator::attach(&dead).unwrap_err().to_string();
    assert!(err.contains("cannot reach the emulator"), "{err}");
    assert!(err.contains("flightdeck local up"), "{err}");
}

#[tokio::test]
async fn unimplemented_calls_are_classified_not_implemented() {
    let cloud = TestCloud::provisioned().await;
    let sqs = &cloud.clients.sqs;
    let dlq = sqs
        .get_queue_url()
        .queue_name("video_dlq")
        .send()
        .await
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = arn.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let err = sqs
        .start_message_move_task()
        .source_arn(arn)
        .send()
        .await
        .unwrap_err();
    let failure = describe(&err);
    assert_eq!(failure.class, ErrorClass::NotImplemented, "{failure:?}");
}

#[tokio::test]
async fn missing_resources_are_permanent_and_dead_endpoints_unreachable() {
    let cloud = TestCloud::empty().await;
    let err = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name("no_such_queue")
        .send()
        .await
        .unwrap_err();
    assert_eq!(describe(&err).class, ErrorClass::Permanent);

    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let clients =
        Clients::connect(&local_cloud::aws_options(&dead, "us-east-1"), "us-east-1").await;
    let err = clients.sqs.list_queues().send().await.unwrap_err();
    let failure = describe(&err);
    assert!(failure.unreachable, "{failure:?}");
    assert_eq!(failure.class, ErrorClass::Retryable);
}
