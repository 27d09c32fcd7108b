//! The metrics AWS publishes about SQS queues and Auto Scaling groups, which the emulator does
//! not: once a minute, each stack queue's `AWS/SQS ApproximateNumberOfMessagesVisible` and
//! `ApproximateNumberOfMessagesNotVisible` (by `QueueName`, from GetQueueAttributes) and each
//! group's `AWS/AutoScaling GroupInServiceInstances` and `GroupDesiredCapacity` (by
//! `AutoScalingGroupName`, from DescribeAutoScalingGroups, as when the group's metrics
//! collection is on, which Terraform turns on). The alarms and the console's charts read them
//! from CloudWatch as they would on AWS. The oldest message's age, which no SQS call gives,
//! the emulator publishes itself (`launcher.py`, `publish_sqs_oldest_age`).

use std::collections::HashMap;

use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_cloudwatch::primitives::DateTime as AwsDateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use stack::errors::{describe, AwsFailure};
use stack::metrics::{
    AUTOSCALING_NAMESPACE, DIM_ASG_NAME, DIM_QUEUE_NAME, GROUP_DESIRED, GROUP_IN_SERVICE,
    SQS_NAMESPACE, SQS_NOT_VISIBLE, SQS_VISIBLE,
};
use stack::{Clients, Stack};

/// Publishes once per clock minute (as AWS does for these metrics), however often it ticks.
pub struct ServiceMetrics {
    queues: Vec<String>,
    groups: Vec<String>,
    urls: HashMap<String, String>,
    last_minute: Option<i64>,
}

impl ServiceMetrics {
    pub fn new(stack: &Stack) -> ServiceMetrics {
        ServiceMetrics {
            queues: vec![
                stack.queues.tasks.name.clone(),
                stack.queues.dlq.name.clone(),
            ],
            groups: stack.groups().iter().map(|g| g.name.clone()).collect(),
            urls: HashMap::new(),
            last_minute: None,
        }
    }

    /// Publish if nothing was published yet in `now`'s minute.
    pub async fn tick(&mut self, clients: &Clients, now: DateTime<Utc>) -> Result<(), AwsFailure> {
        let minute = now.timestamp().div_euclid(60);
        if self.last_minute == Some(minute) {
            return Ok(());
        }
        self.publish(clients, now).await?;
        self.last_minute = Some(minute);
        Ok(())
    }

    /// Read the queues and groups now and publish their metrics with the timestamp `at`.
    pub async fn publish(
        &mut self,
        clients: &Clients,
        at: DateTime<Utc>,
    ) -> Result<(), AwsFailure> {
        let ts = AwsDateTime::from_secs(at.timestamp());
        let datum = |name: &str, dim: &str, value: &str, v: f64| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(Dimension::builder().name(dim).value(value).build())
                .timestamp(ts)
                .unit(StandardUnit::Count)
                .value(v)
                .build()
        };
        let mut sqs = Vec::new();
        for queue in self.queues.clone() {
            let url = self.url(clients, &queue).await?;
            let out = clients
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .map_err(|e| {
                    // A queue made again (an emulator restart) has a new URL.
                    self.urls.remove(&queue);
                    describe(&e)
                })?;
            let attr = |name: &QueueAttributeName| {
                out.attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            sqs.push(datum(
                SQS_VISIBLE,
                DIM_QUEUE_NAME,
                &queue,
                attr(&QueueAttributeName::ApproximateNumberOfMessages),
            ));
            sqs.push(datum(
                SQS_NOT_VISIBLE,
                DIM_QUEUE_NAME,
                &queue,
                attr(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            ));
        }
        let groups = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(self.groups.clone()))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let mut asg = Vec::new();
        for g in groups.auto_scaling_groups() {
            let name = g.auto_scaling_group_name().unwrap_or_default();
            let in_service = g
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                .count();
            asg.push(datum(
                GROUP_IN_SERVICE,
                DIM_ASG_NAME,
                name,
                in_service as f64,
            ));
            asg.push(datum(
                GROUP_DESIRED,
                DIM_ASG_NAME,
                name,
                f64::from(g.desired_capacity().unwrap_or(0)),
            ));
        }
        for (namespace, data) in [(SQS_NAMESPACE, sqs), (AUTOSCALING_NAMESPACE, asg)] {
            if data.is_empty() {
                continue;
            }
            clients
                .cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .map_err(|e| describe(&e))?;
        }
        Ok(())
    }

    async fn url(&mut self, clients: &Clients, queue: &str) -> Result<String, AwsFailure> {
        if let Some(u) = self.urls.get(queue) {
            return Ok(u.clone());
        }
        let out = clients
            .sqs
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let url = out.queue_url().unwrap_or_default().to_string();
        self.urls.insert(queue.to_string(), url.clone());
        Ok(url)
    }
}
