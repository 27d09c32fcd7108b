//! The stack's CloudWatch alarms, as `infra/stack.json` defines them: what each watches (a
//! group, a queue or both), its metric, statistic, period, evaluation periods, threshold,
//! comparison and missing-data treatment, and a description saying what to do. Terraform
//! creates them on AWS; the local cloud creates them in the emulator and evaluates them.

use serde::{Deserialize, Serialize};

use crate::config::{Role, Stack};
use crate::metrics::{AUTOSCALING_NAMESPACE, DIM_ASG_NAME, DIM_QUEUE_NAME, GROUP_IN_SERVICE};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// The CloudWatch alarm name (unique in the account and region).
    pub name: String,
    /// What the alarm means and what to do about it (the alarm's description, shown on pages).
    pub description: String,
    pub watches: Watches,
    pub metric: AlarmMetric,
    pub statistic: Statistic,
    /// Seconds per datapoint: 10, 30 or a multiple of 60.
    pub period_s: u32,
    pub evaluation_periods: u32,
    /// How many of the evaluation periods must breach (M of N); all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing_data: MissingData,
}

/// What an alarm is about: the console's `enter` jumps to the group, else the queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watches {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSlot>,
}

/// One of the stack's two queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueSlot {
    Tasks,
    Dlq,
}

/// Which dimension the metric is published under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// `QueueName` = the watched queue's name.
    Queue,
    /// `AutoScalingGroupName` = the watched group's name.
    Group,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmMetric {
    pub namespace: String,
    pub name: String,
    pub by: By,
    /// Divide by the watched group's `AWS/AutoScaling GroupInServiceInstances` (metric math
    /// `m / in_service`, as AWS recommends for backlog per instance).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_instance: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Statistic {
    Average,
    Sum,
    Minimum,
    Maximum,
    SampleCount,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
            Statistic::SampleCount => "SampleCount",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::LessThanThreshold => "LessThanThreshold",
            Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The words CloudWatch uses in a state reason ("greater than").
    pub fn words(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => "greater than",
            Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Comparison::LessThanThreshold => "less than",
            Comparison::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }

    /// The short symbol for tables (`>`, `>=`, ...).
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => ">",
            Comparison::GreaterThanOrEqualToThreshold => ">=",
            Comparison::LessThanThreshold => "<",
            Comparison::LessThanOrEqualToThreshold => "<=",
        }
    }

    pub fn parse(s: &str) -> Option<Comparison> {
        [
            Comparison::GreaterThanThreshold,
            Comparison::GreaterThanOrEqualToThreshold,
            Comparison::LessThanThreshold,
            Comparison::LessThanOrEqualToThreshold,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// CloudWatch's `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    /// No data in the evaluation range: INSUFFICIENT_DATA.
    Missing,
    /// A missing datapoint counts as within the threshold.
    NotBreaching,
    /// A missing datapoint counts as breaching.
    Breaching,
    /// No data in the evaluation range: the alarm stays as it is.
    Ignore,
}

impl MissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingData::Missing => "missing",
            MissingData::NotBreaching => "notBreaching",
            MissingData::Breaching => "breaching",
            MissingData::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<MissingData> {
        [
            MissingData::Missing,
            MissingData::NotBreaching,
            MissingData::Breaching,
            MissingData::Ignore,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// One CloudWatch metric: namespace, name and its dimensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRef {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl Alarm {
    /// M of "M out of N": how many breaching periods put the alarm in ALARM.
    pub fn datapoints_to_alarm(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// The watched group's name in `stack`.
    pub fn group_name<'a>(&self, stack: &'a Stack) -> Option<&'a str> {
        self.watches.group.map(|r| stack.group(r).name.as_str())
    }

    /// The watched queue's name in `stack`.
    pub fn queue_name<'a>(&self, stack: &'a Stack) -> Option<&'a str> {
        self.watches.queue.map(|q| match q {
            QueueSlot::Tasks => stack.queues.tasks.name.as_str(),
            QueueSlot::Dlq => stack.queues.dlq.name.as_str(),
        })
    }

    /// The metric the alarm reads (before any per-instance division).
    pub fn metric_ref(&self, stack: &Stack) -> MetricRef {
        let dimension = match self.metric.by {
            By::Queue => (
                DIM_QUEUE_NAME.to_string(),
                self.queue_name(stack).unwrap_or_default().to_string(),
            ),
            By::Group => (
                DIM_ASG_NAME.to_string(),
                self.group_name(stack).unwrap_or_default().to_string(),
            ),
        };
        MetricRef {
            namespace: self.metric.namespace.clone(),
            name: self.metric.name.clone(),
            dimensions: vec![dimension],
        }
    }

    /// The divisor of a per-instance alarm: the watched group's in-service instances.
    pub fn in_service_ref(&self, stack: &Stack) -> Option<MetricRef> {
        if !self.metric.per_instance {
            return None;
        }
        Some(MetricRef {
            namespace: AUTOSCALING_NAMESPACE.to_string(),
            name: GROUP_IN_SERVICE.to_string(),
            dimensions: vec![(
                DIM_ASG_NAME.to_string(),
                self.group_name(stack)?.to_string(),
            )],
        })
    }

    /// What the alarm watches, for people: `group flightdeck-worker, queue video_tasks`.
    pub fn watches_text(&self, stack: &Stack) -> String {
        let mut parts = Vec::new();
        if let Some(g) = self.group_name(stack) {
            parts.push(format!("group {g}"));
        }
        if let Some(q) = self.queue_name(stack) {
            parts.push(format!("queue {q}"));
        }
        parts.join(", ")
    }
}

/// Checks one alarm; `Err((key suffix, reason))`.
pub(crate) fn validate(alarm: &Alarm) -> Result<(), (&'static str, String)> {
    if alarm.name.is_empty() || alarm.name.len() > 255 {
        return Err(("name", "must be 1-255 characters".into()));
    }
    if alarm.description.trim().is_empty() || alarm.description.len() > 1024 {
        return Err((
            "description",
            "must say what to do, in 1-1024 characters".into(),
        ));
    }
    if alarm.watches.group.is_none() && alarm.watches.queue.is_none() {
        return Err(("watches", "name a group, a queue or both".into()));
    }
    match alarm.metric.by {
        By::Queue if alarm.watches.queue.is_none() => {
            return Err((
                "metric.by",
                "\"queue\" needs watches.queue to name the queue".into(),
            ))
        }
        By::Group if alarm.watches.group.is_none() => {
            return Err((
                "metric.by",
                "\"group\" needs watches.group to name the group".into(),
            ))
        }
        _ => {}
    }
    if alarm.metric.per_instance && alarm.watches.group.is_none() {
        return Err((
            "metric.per_instance",
            "needs watches.group: the divisor is that group's in-service instances".into(),
        ));
    }
    if alarm.metric.namespace.is_empty() || alarm.metric.name.is_empty() {
        return Err(("metric", "namespace and name must not be empty".into()));
    }
    let p = alarm.period_s;
    if !(p == 10 || p == 30 || (p >= 60 && p.is_multiple_of(60))) {
        return Err((
            "period_s",
            format!("{p}: CloudWatch takes 10, 30 or a multiple of 60"),
        ));
    }
    if alarm.evaluation_periods == 0 || u64::from(alarm.evaluation_periods) * u64::from(p) > 86_400
    {
        return Err((
            "evaluation_periods",
            format!(
                "{} periods of {p} s: must be at least 1 and span at most a day",
                alarm.evaluation_periods
            ),
        ));
    }
    let m = alarm.datapoints_to_alarm();
    if m == 0 || m > alarm.evaluation_periods {
        return Err((
            "datapoints_to_alarm",
            format!("{m} is outside 1..={}", alarm.evaluation_periods),
        ));
    }
    if !alarm.threshold.is_finite() {
        return Err(("threshold", "must be a finite number".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_breach_like_cloudwatch() {
        assert!(Comparison::GreaterThanThreshold.breaches(1.0, 0.0));
        assert!(!Comparison::GreaterThanThreshold.breaches(0.0, 0.0));
        assert!(Comparison::GreaterThanOrEqualToThreshold.breaches(0.0, 0.0));
        assert!(Comparison::LessThanThreshold.breaches(-1.0, 0.0));
        assert!(!Comparison::LessThanThreshold.breaches(0.0, 0.0));
        assert!(Comparison::LessThanOrEqualToThreshold.breaches(0.0, 0.0));
        for c in [
            Comparison::GreaterThanThreshold,
            Comparison::LessThanOrEqualToThreshold,
        ] {
            assert_eq!(Comparison::parse(c.as_str()), Some(c));
        }
        assert_eq!(
            MissingData::parse("notBreaching"),
            Some(MissingData::NotBreaching)
        );
        assert_eq!(MissingData::parse("nope"), None);
    }

    #[test]
    fn shipped_alarms_cover_the_four_signals() {
        let s = Stack::embedded().unwrap();
        let find = |metric: &str| {
            s.alarms
                .iter()
                .find(|a| a.metric.name == metric)
                .unwrap_or_else(|| panic!("no alarm on {metric}"))
        };
        let dlq = find(crate::metrics::SQS_VISIBLE);
        assert_eq!(dlq.queue_name(&s), Some("video_dlq"));
        assert_eq!(
            dlq.metric_ref(&s).dimensions,
            vec![("QueueName".to_string(), "video_dlq".to_string())]
        );
        let backlog = s
            .alarms
            .iter()
            .find(|a| a.metric.per_instance)
            .unwrap_or_else(|| panic!("no backlog alarm"));
        assert_eq!(backlog.group_name(&s), Some("flightdeck-worker"));
        assert_eq!(backlog.queue_name(&s), Some("video_tasks"));
        assert_eq!(
            backlog.in_service_ref(&s).map(|m| m.dimensions),
            Some(vec![(
                "AutoScalingGroupName".to_string(),
                "flightdeck-worker".to_string()
            )])
        );
        assert_eq!(
            find(crate::metrics::API_5XX).group_name(&s),
            Some("flightdeck-api")
        );
        assert_eq!(
            find(crate::metrics::JOBS_FAILED).group_name(&s),
            Some("flightdeck-worker")
        );
    }
}
