//! Metric names shared by the programs that publish them and the console that reads them.

/// EC2's namespace; the local fleet publishes instance CPU here exactly as EC2 does.
pub const EC2_NAMESPACE: &str = "AWS/EC2";
pub const CPU_UTILIZATION: &str = "CPUUtilization";
pub const DIM_INSTANCE_ID: &str = "InstanceId";
pub const DIM_ASG_NAME: &str = "AutoScalingGroupName";

/// Auto Scaling's group metrics (once a group's metrics collection is enabled).
pub const AUTOSCALING_NAMESPACE: &str = "AWS/AutoScaling";
pub const GROUP_DESIRED: &str = "GroupDesiredCapacity";
pub const GROUP_IN_SERVICE: &str = "GroupInServiceInstances";
pub const GROUP_PENDING: &str = "GroupPendingInstances";
pub const GROUP_TERMINATING: &str = "GroupTerminatingInstances";

/// SQS's queue metrics (by `QueueName`).
pub const SQS_NAMESPACE: &str = "AWS/SQS";
pub const SQS_VISIBLE: &str = "ApproximateNumberOfMessagesVisible";
pub const SQS_NOT_VISIBLE: &str = "ApproximateNumberOfMessagesNotVisible";

/// flightdeck's own namespace (worker job metrics, backlog per instance).
pub const FLIGHTDECK_NAMESPACE: &str = "Flightdeck";
pub const BACKLOG_PER_INSTANCE: &str = "BacklogPerInstance";
pub const DIM_QUEUE_NAME: &str = "QueueName";

/// The worker's job metrics in `Flightdeck`, one datum each per publish interval, with the
/// `AutoScalingGroupName` dimension of the worker's group.
pub const JOBS_SUCCEEDED: &str = "JobsSucceeded";
pub const JOBS_FAILED: &str = "JobsFailed";
/// Input megabytes (10^6 bytes) of the jobs that succeeded.
pub const PROCESSED_MEGABYTES: &str = "ProcessedMegabytes";
/// Job durations, as a statistic set (sum, count, min, max) per interval.
pub const JOB_SECONDS: &str = "JobSeconds";

/// The API's own count of 5xx responses in `Flightdeck`, with the `AutoScalingGroupName`
/// dimension of the API's group: it exists wherever the API runs, load balancer or not.
pub const API_5XX: &str = "Api5xxResponses";
