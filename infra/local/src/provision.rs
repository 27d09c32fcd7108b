//! Provisions the stack from `stack.json` through ordinary AWS SDK calls, idempotently: each
//! resource is read first and only created or changed when it differs, so a second run reports
//! every resource unchanged.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_autoscaling::types as asg;
use aws_sdk_ec2::types as ec2;
use aws_sdk_s3::types as s3;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;
use stack::config::{Group, Policy, Stack};
use stack::errors::{describe, AwsFailure};
use stack::Clients;

/// The emulator does not validate machine images; the local fleet runs processes instead.
pub const LOCAL_IMAGE_ID: &str = "ami-0f1d9c4a5b6e7d8c9";

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{resource}: {action} failed: {failure}")]
    Aws {
        resource: String,
        action: &'static str,
        failure: AwsFailure,
    },
    #[error("{resource}: {reason}")]
    Invalid { resource: String, reason: String },
}

impl ProvisionError {
    /// Whether the endpoint did not answer at all (wrong URL, emulator down).
    pub fn unreachable(&self) -> bool {
        matches!(self, ProvisionError::Aws { failure, .. } if failure.unreachable)
    }
}

/// What provisioning did to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProvisionReport {
    /// `(resource, what happened)` in the order provisioned.
    pub resources: Vec<(String, Change)>,
}

impl ProvisionReport {
    fn record(&mut self, resource: impl Into<String>, change: Change) {
        let resource = resource.into();
        tracing::info!(%resource, %change, "provisioned");
        self.resources.push((resource, change));
    }

    pub fn changed(&self) -> usize {
        self.resources
            .iter()
            .filter(|(_, c)| *c != Change::Unchanged)
            .count()
    }
}

fn aws_err<'a, E, R>(
    resource: &'a str,
    action: &'static str,
) -> impl FnOnce(aws_sdk_s3::error::SdkError<E, R>) -> ProvisionError + 'a
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: stack::errors::HttpStatus + fmt::Debug + 'static,
{
    move |e| ProvisionError::Aws {
        resource: resource.to_string(),
        action,
        failure: describe(&e),
    }
}

fn build_err(resource: &str) -> impl FnOnce(aws_sdk_s3::error::BuildError) -> ProvisionError + '_ {
    move |e| ProvisionError::Invalid {
        resource: resource.to_string(),
        reason: e.to_string(),
    }
}

/// Stand the stack up (or converge it) at whatever endpoint `clients` point to.
pub async fn provision(
    clients: &Clients,
    stack: &Stack,
) -> Result<ProvisionReport, ProvisionError> {
    let mut report = ProvisionReport::default();
    bucket(clients, stack, &mut report).await?;
    queues(clients, stack, &mut report).await?;
    for group in stack.groups() {
        launch_template(clients, stack, group, &mut report).await?;
        auto_scaling_group(clients, stack, group, &mut report).await?;
        policies(clients, stack, group, &mut report).await?;
        log_group(clients, group, &mut report).await?;
    }
    alarms(clients, stack, &mut report).await?;
    Ok(report)
}

/// The stack's CloudWatch alarms; one that already matches is left alone with its state.
async fn alarms(
    c: &Clients,
    stack: &Stack,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    if stack.alarms.is_empty() {
        return Ok(());
    }
    let existing = crate::alarms::describe_all(c)
        .await
        .map_err(|failure| ProvisionError::Aws {
            resource: "cloudwatch-alarms".into(),
            action: "DescribeAlarms",
            failure,
        })?;
    for alarm in &stack.alarms {
        let res = format!("alarm:{}", alarm.name);
        let have = existing
            .iter()
            .find(|a| a.alarm_name() == Some(alarm.name.as_str()));
        if have.is_some_and(|h| crate::alarms::same_alarm(h, stack, alarm)) {
            report.record(&res, Change::Unchanged);
            continue;
        }
        crate::alarms::put_request(c, stack, alarm)
            .send()
            .await
            .map_err(|e| ProvisionError::Aws {
                resource: res.clone(),
                action: "PutMetricAlarm",
                failure: describe(&e),
            })?;
        report.record(
            &res,
            if have.is_some() {
                Change::Updated
            } else {
                Change::Created
            },
        );
    }
    Ok(())
}

/// The group's CloudWatch Logs group with its retention (the fleet's shipper writes one
/// stream per instance into it, as the CloudWatch agent does on AWS).
async fn log_group(
    c: &Clients,
    group: &Group,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let name = &group.logs.group;
    let res = format!("log group {name}");
    let found = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(aws_err(&res, "DescribeLogGroups"))?;
    let existing = found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()));
    let retention = i32::try_from(group.logs.retention_days).unwrap_or(i32::MAX);
    let change = match existing {
        None => {
            c.logs
                .create_log_group()
                .log_group_name(name)
                .send()
                .await
                .map_err(aws_err(&res, "CreateLogGroup"))?;
            Change::Created
        }
        Some(g) if g.retention_in_days() == Some(retention) => Change::Unchanged,
        Some(_) => Change::Updated,
    };
    if change != Change::Unchanged {
        c.logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(retention)
            .send()
            .await
            .map_err(aws_err(&res, "PutRetentionPolicy"))?;
    }
    report.record(&res, change);
    Ok(())
}

async fn bucket(
    c: &Clients,
    stack: &Stack,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let b = &stack.bucket;
    let res = format!("s3://{}", b.name);
    let exists = match c.s3.head_bucket().bucket(&b.name).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => false,
        Err(e) => return Err(aws_err(&res, "HeadBucket")(e)),
    };
    if !exists {
        let mut req = c.s3.create_bucket().bucket(&b.name);
        let region = c.region();
        // us-east-1 is the one region that refuses an explicit location constraint.
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                s3::CreateBucketConfiguration::builder()
                    .location_constraint(s3::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        req.send().await.map_err(aws_err(&res, "CreateBucket"))?;
        report.record(&res, Change::Created);
    }
    let mut changed = false;

    if b.versioning {
        let status = stack::aws::bucket_versioning(&c.s3, &b.name)
            .await
            .map_err(aws_err(&res, "GetBucketVersioning"))?;
        if status != Some(s3::BucketVersioningStatus::Enabled) {
            c.s3.put_bucket_versioning()
                .bucket(&b.name)
                .versioning_configuration(
                    s3::VersioningConfiguration::builder()
                        .status(s3::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .map_err(aws_err(&res, "PutBucketVersioning"))?;
            changed = true;
        }
    }

    let current_sse = match c.s3.get_bucket_encryption().bucket(&b.name).send().await {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|conf| conf.rules().first())
            .and_then(|rule| rule.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_string()),
        Err(e) if describe(&e).class == stack::ErrorClass::Permanent => None,
        Err(e) => return Err(aws_err(&res, "GetBucketEncryption")(e)),
    };
    if current_sse.as_deref() != Some(b.encryption.as_str()) {
        let default = s3::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(s3::ServerSideEncryption::from(b.encryption.as_str()))
            .build()
            .map_err(build_err(&res))?;
        let conf = s3::ServerSideEncryptionConfiguration::builder()
            .rules(
                s3::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .build(),
            )
            .build()
            .map_err(build_err(&res))?;
        c.s3.put_bucket_encryption()
            .bucket(&b.name)
            .server_side_encryption_configuration(conf)
            .send()
            .await
            .map_err(aws_err(&res, "PutBucketEncryption"))?;
        changed = true;
    }

    if b.block_public_access {
        let all_blocked = match c.s3.get_public_access_block().bucket(&b.name).send().await {
            Ok(out) => out.public_access_block_configuration().is_some_and(|p| {
                p.block_public_acls() == Some(true)
                    && p.ignore_public_acls() == Some(true)
                    && p.block_public_policy() == Some(true)
                    && p.restrict_public_buckets() == Some(true)
            }),
            Err(e) if describe(&e).class == stack::ErrorClass::Permanent => false,
            Err(e) => return Err(aws_err(&res, "GetPublicAccessBlock")(e)),
        };
        if !all_blocked {
            c.s3.put_public_access_block()
                .bucket(&b.name)
                .public_access_block_configuration(
                    s3::PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map_err(aws_err(&res, "PutPublicAccessBlock"))?;
            changed = true;
        }
    }
    if exists {
        report.record(
            &res,
            if changed {
                Change::Updated
            } else {
                Change::Unchanged
            },
        );
    }
    Ok(())
}

async fn queues(
    c: &Clients,
    stack: &Stack,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let q = &stack.queues;
    let dlq_attrs = HashMap::from([(
        QueueAttributeName::MessageRetentionPeriod,
        q.dlq.retention_s.to_string(),
    )]);
    let dlq_url = ensure_queue(c, &q.dlq.name, dlq_attrs, report).await?;
    let dlq_arn = queue_arn(c, &q.dlq.name, &dlq_url).await?;

    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": q.tasks.max_receive_count,
    });
    let t = &q.tasks;
    let attrs = HashMap::from([
        (
            QueueAttributeName::VisibilityTimeout,
            t.visibility_timeout_s.to_string(),
        ),
        (
            QueueAttributeName::MessageRetentionPeriod,
            t.retention_s.to_string(),
        ),
        (
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
            t.receive_wait_s.to_string(),
        ),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ]);
    ensure_queue(c, &t.name, attrs, report).await?;
    Ok(())
}

/// Create the queue, or bring its attributes to `want`. Returns the queue URL.
async fn ensure_queue(
    c: &Clients,
    name: &str,
    want: HashMap<QueueAttributeName, String>,
    report: &mut ProvisionReport,
) -> Result<String, ProvisionError> {
    let res = format!("sqs:{name}");
    match c.sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => {
            let url = out.queue_url().unwrap_or_default().to_string();
            let have = c
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .map_err(aws_err(&res, "GetQueueAttributes"))?;
            let have = have.attributes().cloned().unwrap_or_default();
            let differing: HashMap<_, _> = want
                .into_iter()
                .filter(|(k, v)| !same_attribute(have.get(k).map(String::as_str), v))
                .collect();
            if differing.is_empty() {
                report.record(&res, Change::Unchanged);
            } else {
                c.sqs
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(differing))
                    .send()
                    .await
                    .map_err(aws_err(&res, "SetQueueAttributes"))?;
                report.record(&res, Change::Updated);
            }
            Ok(url)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            let out = c
                .sqs
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(want))
                .send()
                .await
                .map_err(aws_err(&res, "CreateQueue"))?;
            report.record(&res, Change::Created);
            Ok(out.queue_url().unwrap_or_default().to_string())
        }
        Err(e) => Err(aws_err(&res, "GetQueueUrl")(e)),
    }
}

/// JSON attributes (the redrive policy) compare as JSON: services reformat them, and may
/// return numbers as strings.
fn same_attribute(have: Option<&str>, want: &str) -> bool {
    let Some(have) = have else { return false };
    if have == want {
        return true;
    }
    match (
        serde_json::from_str::<serde_json::Value>(have),
        serde_json::from_str::<serde_json::Value>(want),
    ) {
        (Ok(a), Ok(b)) if a.is_object() && b.is_object() => normalise(&a) == normalise(&b),
        _ => false,
    }
}

fn normalise(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => {
            map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect()
        }
        serde_json::Value::Number(n) => serde_json::Value::String(n.to_string()),
        other => other.clone(),
    }
}

async fn queue_arn(c: &Clients, name: &str, url: &str) -> Result<String, ProvisionError> {
    let res = format!("sqs:{name}");
    let out = c
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws_err(&res, "GetQueueAttributes"))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| ProvisionError::Invalid {
            resource: res,
            reason: "the queue has no QueueArn attribute".into(),
        })
}

async fn launch_template(
    c: &Clients,
    stack: &Stack,
    group: &Group,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let name = stack.launch_template_name(group);
    let res = format!("launch-template:{name}");
    let found = c
        .ec2
        .describe_launch_templates()
        .filters(
            ec2::Filter::builder()
                .name("launch-template-name")
                .values(&name)
                .build(),
        )
        .send()
        .await
        .map_err(aws_err(&res, "DescribeLaunchTemplates"))?;
    let data = || {
        ec2::RequestLaunchTemplateData::builder()
            .image_id(LOCAL_IMAGE_ID)
            .instance_type(ec2::InstanceType::from(group.instance_type.as_str()))
            .build()
    };
    if found.launch_templates().is_empty() {
        c.ec2
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(data())
            .send()
            .await
            .map_err(aws_err(&res, "CreateLaunchTemplate"))?;
        report.record(&res, Change::Created);
        return Ok(());
    }
    let versions = c
        .ec2
        .describe_launch_template_versions()
        .launch_template_name(&name)
        .versions("$Default")
        .send()
        .await
        .map_err(aws_err(&res, "DescribeLaunchTemplateVersions"))?;
    let current_type = versions
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .and_then(|d| d.instance_type())
        .map(|t| t.as_str().to_string());
    if current_type.as_deref() == Some(group.instance_type.as_str()) {
        report.record(&res, Change::Unchanged);
        return Ok(());
    }
    let created = c
        .ec2
        .create_launch_template_version()
        .launch_template_name(&name)
        .launch_template_data(data())
        .send()
        .await
        .map_err(aws_err(&res, "CreateLaunchTemplateVersion"))?;
    let version = created
        .launch_template_version()
        .and_then(|v| v.version_number())
        .map(|n| n.to_string())
        .unwrap_or_else(|| "$Latest".into());
    c.ec2
        .modify_launch_template()
        .launch_template_name(&name)
        .default_version(version)
        .send()
        .await
        .map_err(aws_err(&res, "ModifyLaunchTemplate"))?;
    report.record(&res, Change::Updated);
    Ok(())
}

async fn auto_scaling_group(
    c: &Clients,
    stack: &Stack,
    g: &Group,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let res = format!("autoscaling-group:{}", g.name);
    let found = c
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&g.name)
        .send()
        .await
        .map_err(aws_err(&res, "DescribeAutoScalingGroups"))?;
    let Some(existing) = found.auto_scaling_groups().first() else {
        let template = asg::LaunchTemplateSpecification::builder()
            .launch_template_name(stack.launch_template_name(g))
            .version("$Default")
            .build();
        c.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&g.name)
            .launch_template(template)
            .min_size(g.min as i32)
            .max_size(g.max as i32)
            .desired_capacity(g.desired as i32)
            .set_availability_zones(Some(stack.zones(c.region())))
            .health_check_type(g.health_check.kind.as_str())
            .health_check_grace_period(g.health_check.grace_s as i32)
            .default_cooldown(g.default_cooldown_s as i32)
            .default_instance_warmup(g.warmup_s as i32)
            .tags(tag(&g.name, "flightdeck:stack", &stack.name))
            .tags(tag(&g.name, "flightdeck:role", role_name(g)))
            .send()
            .await
            .map_err(aws_err(&res, "CreateAutoScalingGroup"))?;
        report.record(&res, Change::Created);
        return Ok(());
    };
    // Desired capacity belongs to the operator and the autoscaler once the group exists:
    // re-provisioning only pulls it back inside a changed min..max.
    let desired = existing.desired_capacity().unwrap_or(g.desired as i32);
    let clamped = desired.clamp(g.min as i32, g.max as i32);
    let same = existing.min_size() == Some(g.min as i32)
        && existing.max_size() == Some(g.max as i32)
        && clamped == desired
        && existing.health_check_type() == Some(g.health_check.kind.as_str())
        && existing.health_check_grace_period() == Some(g.health_check.grace_s as i32)
        && existing.default_cooldown() == Some(g.default_cooldown_s as i32);
    if same {
        report.record(&res, Change::Unchanged);
        return Ok(());
    }
    c.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&g.name)
        .min_size(g.min as i32)
        .max_size(g.max as i32)
        .desired_capacity(clamped)
        .health_check_type(g.health_check.kind.as_str())
        .health_check_grace_period(g.health_check.grace_s as i32)
        .default_cooldown(g.default_cooldown_s as i32)
        .send()
        .await
        .map_err(aws_err(&res, "UpdateAutoScalingGroup"))?;
    report.record(&res, Change::Updated);
    Ok(())
}

fn role_name(g: &Group) -> &'static str {
    match g.role {
        stack::config::Role::Api => "api",
        stack::config::Role::Worker => "worker",
    }
}

fn tag(group: &str, key: &str, value: &str) -> asg::Tag {
    asg::Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(true)
        .build()
}

/// The target-tracking configuration a stack policy stands for.
pub fn target_tracking(
    stack: &Stack,
    group: &Group,
    policy: &Policy,
) -> asg::TargetTrackingConfiguration {
    match policy {
        Policy::AverageCpu { target, .. } => asg::TargetTrackingConfiguration::builder()
            .predefined_metric_specification(
                asg::PredefinedMetricSpecification::builder()
                    .predefined_metric_type(asg::MetricType::AsgAverageCpuUtilization)
                    .build(),
            )
            .target_value(*target)
            .build(),
        Policy::BacklogPerInstance { target, .. } => {
            // AWS's recommended form: metric math over the queue's visible messages and the
            // group's in-service instances.
            let query = |id: &str,
                         namespace: &str,
                         metric: &str,
                         dim_name: &str,
                         dim_value: &str,
                         stat: &str| {
                asg::TargetTrackingMetricDataQuery::builder()
                    .id(id)
                    .metric_stat(
                        asg::TargetTrackingMetricStat::builder()
                            .metric(
                                asg::Metric::builder()
                                    .namespace(namespace)
                                    .metric_name(metric)
                                    .dimensions(
                                        asg::MetricDimension::builder()
                                            .name(dim_name)
                                            .value(dim_value)
                                            .build(),
                                    )
                                    .build(),
                            )
                            .stat(stat)
                            .build(),
                    )
                    .return_data(false)
                    .build()
            };
            let visible = query(
                "visible",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                &stack.queues.tasks.name,
                "Sum",
            );
            let in_service = query(
                "in_service",
                "AWS/AutoScaling",
                "GroupInServiceInstances",
                stack::metrics::DIM_ASG_NAME,
                &group.name,
                "Average",
            );
            let backlog = asg::TargetTrackingMetricDataQuery::builder()
                .id("backlog_per_instance")
                .expression("visible / in_service")
                .label(stack::metrics::BACKLOG_PER_INSTANCE)
                .return_data(true)
                .build();
            asg::TargetTrackingConfiguration::builder()
                .customized_metric_specification(
                    asg::CustomizedMetricSpecification::builder()
                        .metrics(visible)
                        .metrics(in_service)
                        .metrics(backlog)
                        .build(),
                )
                .target_value(*target)
                .build()
        }
    }
}

async fn policies(
    c: &Clients,
    stack: &Stack,
    g: &Group,
    report: &mut ProvisionReport,
) -> Result<(), ProvisionError> {
    let res_group = format!("autoscaling-group:{}", g.name);
    let existing = c
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name(&g.name)
        .send()
        .await
        .map_err(aws_err(&res_group, "DescribePolicies"))?;
    for policy in &g.policies {
        let res = format!("scaling-policy:{}", policy.name());
        let have = existing
            .scaling_policies()
            .iter()
            .find(|p| p.policy_name() == Some(policy.name()));
        let want = target_tracking(stack, g, policy);
        let same = have.is_some_and(|p| {
            p.policy_type() == Some("TargetTrackingScaling")
                && p.estimated_instance_warmup() == Some(g.warmup_s as i32)
                && p.target_tracking_configuration()
                    .is_some_and(|t| same_tracking(t, &want))
        });
        if same {
            report.record(&res, Change::Unchanged);
            continue;
        }
        c.autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(&g.name)
            .policy_name(policy.name())
            .policy_type("TargetTrackingScaling")
            .estimated_instance_warmup(g.warmup_s as i32)
            .target_tracking_configuration(want)
            .send()
            .await
            .map_err(aws_err(&res, "PutScalingPolicy"))?;
        report.record(
            &res,
            if have.is_some() {
                Change::Updated
            } else {
                Change::Created
            },
        );
    }
    Ok(())
}

/// Compare what matters of two target-tracking configurations (services fill in defaults,
/// such as `DisableScaleIn`, that a plain equality would trip over).
fn same_tracking(
    a: &asg::TargetTrackingConfiguration,
    b: &asg::TargetTrackingConfiguration,
) -> bool {
    let predefined = |t: &asg::TargetTrackingConfiguration| {
        t.predefined_metric_specification()
            .and_then(|p| p.predefined_metric_type())
            .map(|t| t.as_str().to_string())
    };
    let custom = |t: &asg::TargetTrackingConfiguration| {
        t.customized_metric_specification().map(|m| {
            m.metrics()
                .iter()
                .map(|q| {
                    (
                        q.id().map(str::to_string),
                        q.expression().map(str::to_string),
                        q.metric_stat()
                            .and_then(|s| s.metric())
                            .and_then(|m| m.metric_name())
                            .map(str::to_string),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let target = |t: &asg::TargetTrackingConfiguration| t.target_value().unwrap_or(f64::NAN);
    (target(a) - target(b)).abs() < 1e-9 && predefined(a) == predefined(b) && custom(a) == custom(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_attributes_compare_as_json() {
        let want =
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:video_dlq","maxReceiveCount":5}"#;
        assert!(same_attribute(
            Some(
                r#"{"maxReceiveCount": "5", "deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:video_dlq"}"#
            ),
            want
        ));
        assert!(!same_attribute(
            Some(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:video_dlq","maxReceiveCount":4}"#
            ),
            want
        ));
        assert!(same_attribute(Some("60"), "60"));
        assert!(!same_attribute(Some("30"), "60"));
        assert!(!same_attribute(None, "60"));
    }
}
