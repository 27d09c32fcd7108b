//! Plain owned data the AWS agents produce and send to the UI as `Report`s (no SDK types).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Wall-clock time of an observation; the UI's clock is advanced only by `Event::Tick`.
pub type Timestamp = DateTime<Utc>;

/// The CloudWatch metric the dashboard charts per group.
pub const CPU_METRIC: &str = "CPUUtilization";

/// One Auto Scaling group as DescribeAutoScalingGroups (+ policies, activities) showed it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub name: String,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub instances: Vec<InstanceInfo>,
    pub policies: Vec<PolicyInfo>,
    pub default_cooldown_s: u32,
    pub health_check_type: String,
    pub activities: Vec<ActivityInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceInfo {
    pub id: String,
    /// As AWS spells it: `InService`, `Pending:Wait`, `Terminating`, `Standby`, ...
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health: String,
    pub az: String,
    pub launch_time: Option<Timestamp>,
    pub instance_type: String,
}

/// Coarse lifecycle phase used for the dashboard's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    InService,
    Pending,
    Terminating,
    Other,
}

impl InstanceInfo {
    pub fn phase(&self) -> Phase {
        let s = self.lifecycle_state.as_str();
        if s == "InService" {
            Phase::InService
        } else if s.starts_with("Pending") {
            Phase::Pending
        } else if s.starts_with("Terminat") {
            Phase::Terminating
        } else {
            Phase::Other
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInfo {
    pub name: String,
    pub kind: PolicyKind,
    /// Instance warm-up, when the policy sets one.
    pub warmup_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PolicyKind {
    /// Target tracking on `ASGAverageCPUUtilization`.
    TargetTrackingCpu { target: f64 },
    /// Target tracking on a customised metric, e.g. backlog per instance.
    TargetTrackingCustom { metric: String, target: f64 },
    /// Step, simple or predictive scaling: shown by type only.
    Other { policy_type: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityInfo {
    pub start: Timestamp,
    /// `Successful`, `InProgress`, `Failed`, ...
    pub status: String,
    pub description: String,
}

impl GroupSnapshot {
    pub fn count(&self, phase: Phase) -> usize {
        self.instances.iter().filter(|i| i.phase() == phase).count()
    }

    pub fn in_service(&self) -> usize {
        self.count(Phase::InService)
    }

    pub fn cpu_target(&self) -> Option<f64> {
        self.policies.iter().find_map(|p| match p.kind {
            PolicyKind::TargetTrackingCpu { target } => Some(target),
            _ => None,
        })
    }

    /// Target of a custom target-tracking policy whose metric mentions "backlog".
    pub fn backlog_target(&self) -> Option<f64> {
        self.policies.iter().find_map(|p| match &p.kind {
            PolicyKind::TargetTrackingCustom { metric, target }
                if metric.to_ascii_lowercase().contains("backlog") =>
            {
                Some(*target)
            }
            _ => None,
        })
    }
}

/// One SQS queue as GetQueueAttributes showed it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSnapshot {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub oldest_age_s: Option<u64>,
    pub visibility_timeout_s: u32,
    pub retention_s: u32,
    pub receive_wait_s: u32,
    pub redrive: Option<RedrivePolicy>,
    /// Some queue redrives into this one.
    pub is_dlq: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedrivePolicy {
    pub dlq_arn: String,
    pub max_receive_count: u32,
}

/// The last `:`-separated part of an ARN (a queue's name for an SQS ARN).
pub fn name_from_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    pub t: Timestamp,
    pub value: f64,
}

/// A series is keyed by group and metric; `instance` narrows it to one instance's series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    pub group: String,
    pub metric: String,
    pub instance: Option<String>,
}

impl MetricKey {
    pub fn group_cpu(group: &str) -> Self {
        MetricKey {
            group: group.to_owned(),
            metric: CPU_METRIC.to_owned(),
            instance: None,
        }
    }

    pub fn instance_cpu(group: &str, instance: &str) -> Self {
        MetricKey {
            group: group.to_owned(),
            metric: CPU_METRIC.to_owned(),
            instance: Some(instance.to_owned()),
        }
    }
}

/// New points for one series; agents send only points they have not sent before.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesUpdate {
    pub key: MetricKey,
    pub points: Vec<MetricPoint>,
}

/// The console's own AWS calls over the last minute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    /// Calls per API name (`DescribeAutoScalingGroups`, `GetMetricData`, ...).
    pub per_api: BTreeMap<String, u32>,
    pub errors: u32,
}

impl CallStats {
    pub fn total(&self) -> u32 {
        self.per_api.values().sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Retryable,
    Throttled,
    Auth,
    Permanent,
    NotImplemented,
}

impl ErrorClass {
    pub fn label(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retrying",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Auth => "auth",
            ErrorClass::Permanent => "failed",
            ErrorClass::NotImplemented => "not implemented",
        }
    }
}

/// The agents of the console; errors from the first four mark their data stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Agent {
    Groups,
    Queues,
    Metrics,
    Dlq,
    Redrive,
    Scale,
    Load,
    Fleet,
}

impl Agent {
    pub fn label(self) -> &'static str {
        match self {
            Agent::Groups => "groups",
            Agent::Queues => "queues",
            Agent::Metrics => "cpu",
            Agent::Dlq => "dlq",
            Agent::Redrive => "redrive",
            Agent::Scale => "scale",
            Agent::Load => "load",
            Agent::Fleet => "fleet",
        }
    }
}

/// What agents send; each carries the time its data was observed (`at`).
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Groups {
        at: Timestamp,
        groups: Vec<GroupSnapshot>,
    },
    Queues {
        at: Timestamp,
        queues: Vec<QueueSnapshot>,
    },
    Metrics {
        at: Timestamp,
        period_s: u32,
        series: Vec<SeriesUpdate>,
    },
    Calls {
        at: Timestamp,
        stats: CallStats,
    },
    AgentError {
        at: Timestamp,
        agent: Agent,
        class: ErrorClass,
        message: String,
        next_retry_in: Option<Duration>,
    },
}

impl Report {
    pub fn at(&self) -> Timestamp {
        match self {
            Report::Groups { at, .. }
            | Report::Queues { at, .. }
            | Report::Metrics { at, .. }
            | Report::Calls { at, .. }
            | Report::AgentError { at, .. } => *at,
        }
    }
}
