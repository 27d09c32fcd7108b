//! The AWS actions the console may call. `--read-only` allows exactly `CONSOLE_READ_ONLY`;
//! the Terraform operator policies grant the same lists (a test keeps them equal).

/// Every call the console makes to look, and nothing else. Peeking at a DLQ receives
/// messages and releases them at once, so it needs ReceiveMessage and ChangeMessageVisibility.
pub const CONSOLE_READ_ONLY: &[&str] = &[
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeInstanceRefreshes",
    "autoscaling:DescribePolicies",
    "autoscaling:DescribeScalingActivities",
    // The stack's alarms (`:alarms`, `flightdeck alarms`) and their state changes.
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "ec2:DescribeInstances",
    // Log lines (`:logs`, `flightdeck logs`); a missing log group is told by its error.
    "logs:FilterLogEvents",
    "s3:GetBucketVersioning",
    "s3:ListBucket",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListDeadLetterSourceQueues",
    "sqs:ListMessageMoveTasks",
    "sqs:ListQueues",
    "sqs:ReceiveMessage",
    // Who the console acts as (top bar, audit log). AWS allows it to every principal; it is
    // listed so that the read-only guard lets it through and the policies say it is used.
    "sts:GetCallerIdentity",
];

/// What an operator may do on top of looking: redrive, purge, delete, change capacity,
/// suspend and resume scaling processes, start and cancel instance refreshes.
pub const CONSOLE_OPERATOR_EXTRA: &[&str] = &[
    "autoscaling:CancelInstanceRefresh",
    "autoscaling:ResumeProcesses",
    "autoscaling:SetDesiredCapacity",
    "autoscaling:StartInstanceRefresh",
    "autoscaling:SuspendProcesses",
    "sqs:CancelMessageMoveTask",
    "sqs:DeleteMessage",
    "sqs:PurgeQueue",
    "sqs:SendMessage",
    "sqs:StartMessageMoveTask",
];

/// Whether a call (`service:Action`) is allowed in read-only mode.
pub fn read_only_allows(action: &str) -> bool {
    CONSOLE_READ_ONLY.contains(&action)
}

/// The IAM action (`service:Action`) for an SDK call, from the service and operation names the
/// SDK puts in each request's metadata (`"Auto Scaling"`, `"SetDesiredCapacity"`). S3 names
/// differ from their IAM actions: listing and HeadBucket are `s3:ListBucket`; SQS batch calls
/// are authorised as their single-message action.
pub fn iam_action(service: &str, operation: &str) -> String {
    let service: String = service
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    // CloudWatch Logs calls itself "CloudWatch Logs"; its IAM prefix is `logs`.
    let service = match service.as_str() {
        "cloudwatchlogs" => "logs".to_owned(),
        _ => service,
    };
    let operation = match (service.as_str(), operation) {
        ("s3", "ListObjectsV2" | "ListObjects" | "HeadBucket") => "ListBucket",
        ("sqs", op) if op.ends_with("Batch") => op.trim_end_matches("Batch"),
        (_, op) => op,
    };
    format!("{service}:{operation}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_disjoint_and_well_formed() {
        for list in [CONSOLE_READ_ONLY, CONSOLE_OPERATOR_EXTRA] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "keep {list:?} sorted");
            assert!(list.iter().all(|a| a
                .split_once(':')
                .is_some_and(|(s, n)| !s.is_empty() && !n.is_empty())));
        }
        assert!(CONSOLE_OPERATOR_EXTRA.iter().all(|a| !read_only_allows(a)));
        assert!(read_only_allows("sqs:GetQueueAttributes"));
        assert!(!read_only_allows("sqs:PurgeQueue"));
    }

    #[test]
    fn sdk_names_map_to_iam_actions() {
        assert_eq!(
            iam_action("Auto Scaling", "SetDesiredCapacity"),
            "autoscaling:SetDesiredCapacity"
        );
        assert_eq!(iam_action("SQS", "ReceiveMessage"), "sqs:ReceiveMessage");
        assert_eq!(iam_action("S3", "HeadBucket"), "s3:ListBucket");
        assert_eq!(
            iam_action("CloudWatch", "GetMetricData"),
            "cloudwatch:GetMetricData"
        );
        assert!(read_only_allows(&iam_action("EC2", "DescribeInstances")));
        assert_eq!(iam_action("SQS", "SendMessageBatch"), "sqs:SendMessage");
        assert_eq!(
            iam_action("CloudWatch Logs", "FilterLogEvents"),
            "logs:FilterLogEvents"
        );
        assert!(!read_only_allows(&iam_action(
            "CloudWatch Logs",
            "PutLogEvents"
        )));
        assert!(read_only_allows(&iam_action(
            "SQS",
            "ChangeMessageVisibilityBatch"
        )));
    }
}
