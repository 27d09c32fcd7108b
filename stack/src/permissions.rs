//! The AWS actions the console may call. `--read-only` allows exactly `CONSOLE_READ_ONLY`;
//! the Terraform operator policies grant the same lists (a test keeps them equal).

/// Every call the console makes to look, and nothing else. Peeking at a DLQ receives
/// messages and releases them at once, so it needs ReceiveMessage and ChangeMessageVisibility.
pub const CONSOLE_READ_ONLY: &[&str] = &[
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribePolicies",
    "autoscaling:DescribeScalingActivities",
    "cloudwatch:GetMetricData",
    "ec2:DescribeInstances",
    "s3:GetBucketVersioning",
    "s3:ListBucket",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListDeadLetterSourceQueues",
    "sqs:ListMessageMoveTasks",
    "sqs:ListQueues",
    "sqs:ReceiveMessage",
];

/// What an operator may do on top of looking: redrive, purge, delete, change capacity.
pub const CONSOLE_OPERATOR_EXTRA: &[&str] = &[
    "autoscaling:SetDesiredCapacity",
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
}
