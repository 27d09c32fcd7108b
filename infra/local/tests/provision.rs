//! Provisioning against a real emulator: the stack comes up as stack.json says, a second run
//! changes nothing, and a drifted setting is converged back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_autoscaling::types::MetricType;
use aws_sdk_sqs::types::QueueAttributeName;
use local_cloud::testing::TestCloud;
use local_cloud::{provision, Change};

#[tokio::test]
async fn provisions_the_reference_stack() {
    let cloud = TestCloud::empty().await;
    let report = provision(&cloud.clients, &cloud.stack).await.unwrap();
    assert!(
        report.resources.iter().all(|(_, c)| *c == Change::Created),
        "{report:?}"
    );
    let c = &cloud.clients;

    // Bucket: versioning on, encrypted, public access blocked.
    let versioning = stack::aws::bucket_versioning(&c.s3, "flightdeck-videos")
        .await
        .unwrap();
    assert_eq!(versioning.as_ref().map(|s| s.as_str()), Some("Enabled"));
    let sse =
        c.s3.get_bucket_encryption()
            .bucket("flightdeck-videos")
            .send()
            .await
            .unwrap();
    let rule = &sse.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let pab =
        c.s3.get_public_access_block()
            .bucket("flightdeck-videos")
            .send()
            .await
            .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .block_public_acls(),
        Some(true)
    );

    // Queues with the redrive policy.
    let url = c
        .sqs
        .get_queue_url()
        .queue_name("video_tasks")
        .send()
        .await
        .unwrap();
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(url.queue_url().unwrap())
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "60");
    assert_eq!(
        attrs[&QueueAttributeName::ReceiveMessageWaitTimeSeconds],
        "20"
    );
    assert_eq!(
        attrs[&QueueAttributeName::MessageRetentionPeriod],
        "1209600"
    );
    let redrive: serde_json::Value =
        serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert!(redrive["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .ends_with(":video_dlq"));
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );

    // Groups with their sizes and launch templates; instances appear.
    let groups = c
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let groups = groups.auto_scaling_groups();
    assert_eq!(groups.len(), 2);
    let api = groups
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some("flightdeck-api"))
        .unwrap();
    assert_eq!(
        (api.min_size(), api.desired_capacity(), api.max_size()),
        (Some(2), Some(2), Some(4))
    );
    assert_eq!(api.health_check_type(), Some("ELB"));
    assert_eq!(api.instances().len(), 2);
    assert_eq!(
        api.launch_template().and_then(|t| t.launch_template_name()),
        Some("flightdeck-api-lt")
    );
    let worker = groups
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some("flightdeck-worker"))
        .unwrap();
    assert_eq!(
        (
            worker.min_size(),
            worker.desired_capacity(),
            worker.max_size()
        ),
        (Some(1), Some(1), Some(3))
    );

    // Target-tracking policies, including the backlog one's metric math.
    let policies = c
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name("flightdeck-worker")
        .send()
        .await
        .unwrap();
    let policies = policies.scaling_policies();
    let cpu = policies
        .iter()
        .find(|p| p.policy_name() == Some("flightdeck-worker-cpu60"))
        .unwrap();
    let tt = cpu.target_tracking_configuration().unwrap();
    assert_eq!(tt.target_value(), Some(60.0));
    assert_eq!(
        tt.predefined_metric_specification()
            .unwrap()
            .predefined_metric_type(),
        Some(&MetricType::AsgAverageCpuUtilization)
    );
    let backlog = policies
        .iter()
        .find(|p| p.policy_name() == Some("flightdeck-worker-backlog"))
        .unwrap();
    let custom = backlog
        .target_tracking_configuration()
        .unwrap()
        .customized_metric_specification()
        .unwrap();
    assert!(custom
        .metrics()
        .iter()
        .any(|m| m.expression() == Some("visible / in_service")));
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_drift_is_converged() {
    let cloud = TestCloud::provisioned().await;
    let again = provision(&cloud.clients, &cloud.stack).await.unwrap();
    assert_eq!(again.changed(), 0, "{again:?}");
    assert!(again.resources.len() >= 9, "{again:?}");

    // An operator scaled the worker group out: re-provisioning keeps their desired capacity.
    cloud
        .clients
        .autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name("flightdeck-worker")
        .desired_capacity(3)
        .send()
        .await
        .unwrap();
    // Someone changed the visibility timeout: re-provisioning puts it back.
    let url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name("video_tasks")
        .send()
        .await
        .unwrap();
    let url = url.queue_url().unwrap();
    cloud
        .clients
        .sqs
        .set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .unwrap();

    let third = provision(&cloud.clients, &cloud.stack).await.unwrap();
    let changed: Vec<_> = third
        .resources
        .iter()
        .filter(|(_, c)| *c != Change::Unchanged)
        .collect();
    assert_eq!(
        changed,
        vec![&("sqs:video_tasks".to_string(), Change::Updated)]
    );
    let g = cloud
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("flightdeck-worker")
        .send()
        .await
        .unwrap();
    assert_eq!(g.auto_scaling_groups()[0].desired_capacity(), Some(3));
    let vis = cloud
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    assert_eq!(
        vis.attributes().unwrap()[&QueueAttributeName::VisibilityTimeout],
        "60"
    );
}
