//! The stack's CloudWatch alarms in the local cloud. The emulator stores alarms
//! (PutMetricAlarm, DescribeAlarms, SetAlarmState) but never evaluates them and keeps no alarm
//! history (it has no DescribeAlarmHistory). This module creates the alarms from
//! `stack.json` and runs an evaluator that does what CloudWatch does: every interval it reads
//! each alarm's metric over its evaluation periods (aligned to the period, complete periods
//! only), applies the statistic, the comparison, M out of N and the missing-data treatment,
//! and calls SetAlarmState with a CloudWatch-like reason when the state changes. It keeps its
//! own bounded history of the transitions it made. Alarm actions (SNS) are not run locally.
//!
//! The rules are pure functions ([`periods`], [`bucket`], [`evaluate`]); the evaluator only
//! talks to CloudWatch (through clients with the emulator's time limits).

use std::collections::VecDeque;
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime as AwsDateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, StateValue,
    Statistic as CwStatistic,
};
use chrono::{DateTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};
use stack::alarms::{Alarm, MetricRef, MissingData, Statistic};
use stack::errors::{describe, AwsFailure};
use stack::{Clients, Stack};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::servicemetrics;

/// Transitions the evaluator remembers (all alarms together); older ones are dropped.
pub const HISTORY_KEPT: usize = 500;

/// CloudWatch's alarm states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    fn from_cw(s: Option<&StateValue>) -> AlarmState {
        match s {
            Some(StateValue::Alarm) => AlarmState::Alarm,
            Some(StateValue::Ok) => AlarmState::Ok,
            _ => AlarmState::InsufficientData,
        }
    }

    fn to_cw(self) -> StateValue {
        match self {
            AlarmState::Ok => StateValue::Ok,
            AlarmState::Alarm => StateValue::Alarm,
            AlarmState::InsufficientData => StateValue::InsufficientData,
        }
    }
}

/// Sample count, sum, minimum and maximum of some data: every statistic derives from these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatSet {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl StatSet {
    pub fn of(value: f64) -> StatSet {
        StatSet {
            count: 1.0,
            sum: value,
            min: value,
            max: value,
        }
    }

    pub fn merge(self, o: StatSet) -> StatSet {
        StatSet {
            count: self.count + o.count,
            sum: self.sum + o.sum,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }

    pub fn value(self, statistic: Statistic) -> f64 {
        match statistic {
            Statistic::Average => self.sum / self.count.max(f64::MIN_POSITIVE),
            Statistic::Sum => self.sum,
            Statistic::Minimum => self.min,
            Statistic::Maximum => self.max,
            Statistic::SampleCount => self.count,
        }
    }
}

/// The `n` complete periods of `period_s` before `now`, aligned to the period as CloudWatch's
/// are (start times, oldest first). The period `now` falls in is still open and not evaluated.
pub fn periods(now: DateTime<Utc>, period_s: u32, n: u32) -> Vec<DateTime<Utc>> {
    let p = i64::from(period_s.max(1));
    let end = now.timestamp().div_euclid(p) * p;
    (0..i64::from(n))
        .rev()
        .filter_map(|i| Utc.timestamp_opt(end - (i + 1) * p, 0).single())
        .collect()
}

/// The data of `points` per period (`starts` from [`periods`]), `None` where a period has none.
pub fn bucket(
    points: &[(DateTime<Utc>, StatSet)],
    starts: &[DateTime<Utc>],
    period_s: u32,
) -> Vec<Option<StatSet>> {
    let len = chrono::Duration::seconds(i64::from(period_s));
    starts
        .iter()
        .map(|&start| {
            points
                .iter()
                .filter(|(t, _)| *t >= start && *t < start + len)
                .map(|(_, s)| *s)
                .reduce(StatSet::merge)
        })
        .collect()
}

/// One evaluated period: its start and the alarm's value there (`None`: no data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub start: DateTime<Utc>,
    pub value: Option<f64>,
}

/// The values an alarm compares: the statistic per period, divided per period by the group's
/// in-service instances for a per-instance alarm (no value where there were none in service,
/// as metric math gives none).
pub fn values(
    alarm: &Alarm,
    starts: &[DateTime<Utc>],
    metric: &[Option<StatSet>],
    in_service: Option<&[Option<StatSet>]>,
) -> Vec<Datapoint> {
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let v = metric
                .get(i)
                .copied()
                .flatten()
                .map(|s| s.value(alarm.statistic));
            let value = match in_service {
                None => v,
                Some(div) => match (v, div.get(i).copied().flatten()) {
                    (Some(v), Some(d)) if d.value(Statistic::Average) > 0.0 => {
                        Some(v / d.value(Statistic::Average))
                    }
                    _ => None,
                },
            };
            Datapoint { start, value }
        })
        .collect()
}

/// What an evaluation decided: the new state, and CloudWatch's reason and reason data.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: AlarmState,
    pub reason: String,
    pub reason_data: serde_json::Value,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%d/%m/%y %H:%M:%S").to_string()
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Evaluate `alarm` over `points` (one per evaluation period, oldest first) as CloudWatch does.
/// `None` means the state stays as it is (`ignore` with no data at all).
///
/// - A period breaches when its value compares true against the threshold; with
///   `breaching`, a period without data breaches too, with `notBreaching` it does not.
/// - ALARM when at least M (datapoints to alarm) of the N periods breach, else OK.
/// - No data in any period: `missing` gives INSUFFICIENT_DATA, `ignore` keeps the state,
///   `breaching` and `notBreaching` decide as above.
pub fn evaluate(alarm: &Alarm, points: &[Datapoint], now: DateTime<Utc>) -> Option<Evaluation> {
    let n = points.len();
    let m = alarm.datapoints_to_alarm() as usize;
    let present: Vec<(DateTime<Utc>, f64)> = points
        .iter()
        .filter_map(|p| p.value.map(|v| (p.start, v)))
        .collect();
    let missing = n - present.len();
    let mut data = serde_json::json!({
        "version": "1.0",
        "queryDate": now.to_rfc3339(),
        "statistic": alarm.statistic.as_str(),
        "period": alarm.period_s,
        "recentDatapoints": present.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": present
            .iter()
            .rev()
            .map(|(t, v)| serde_json::json!({ "timestamp": t.to_rfc3339(), "value": v }))
            .collect::<Vec<_>>(),
    });
    if let Some(first) = points.first() {
        data["startDate"] = first.start.to_rfc3339().into();
    }
    if present.is_empty() {
        let unknown = format!(
            "{n} datapoint{} {} unknown",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" }
        );
        let state = match alarm.treat_missing_data {
            MissingData::Ignore => return None,
            MissingData::Missing => AlarmState::InsufficientData,
            MissingData::NotBreaching => AlarmState::Ok,
            MissingData::Breaching if m <= n => AlarmState::Alarm,
            MissingData::Breaching => AlarmState::Ok,
        };
        let reason = match state {
            AlarmState::InsufficientData => format!("Insufficient Data: {unknown}."),
            AlarmState::Alarm => format!(
                "Threshold Crossed: no datapoints were received for {n} period{} and {n} missing datapoint{} treated as Breaching.",
                if n == 1 { "" } else { "s" },
                if n == 1 { " was" } else { "s were" }
            ),
            AlarmState::Ok => format!(
                "Threshold Crossed: no datapoints were received for {n} period{} and {n} missing datapoint{} treated as NonBreaching.",
                if n == 1 { "" } else { "s" },
                if n == 1 { " was" } else { "s were" }
            ),
        };
        return Some(Evaluation {
            state,
            reason,
            reason_data: data,
        });
    }
    let breaching: Vec<(DateTime<Utc>, f64)> = present
        .iter()
        .copied()
        .filter(|(_, v)| alarm.comparison.breaches(*v, alarm.threshold))
        .collect();
    let counted = breaching.len()
        + if alarm.treat_missing_data == MissingData::Breaching {
            missing
        } else {
            0
        };
    let alarm_state = counted >= m;
    let listed: Vec<(DateTime<Utc>, f64)> = if alarm_state {
        breaching.iter().rev().copied().collect()
    } else {
        present.iter().rev().copied().collect()
    };
    let list = listed
        .iter()
        .map(|(t, v)| format!("{} ({})", number(*v), stamp(*t)))
        .collect::<Vec<_>>()
        .join(", ");
    let k = if alarm_state { counted } else { present.len() };
    let verb = if k == 1 { "was" } else { "were" };
    let not = if alarm_state { "" } else { "not " };
    let mut reason = if n == 1 {
        format!(
            "Threshold Crossed: 1 datapoint [{list}] {verb} {not}{} the threshold ({}).",
            alarm.comparison.words(),
            number(alarm.threshold)
        )
    } else {
        format!(
            "Threshold Crossed: {k} out of the last {n} datapoints [{list}] {verb} {not}{} the threshold ({}) (minimum {m} datapoint{} for OK -> ALARM transition).",
            alarm.comparison.words(),
            number(alarm.threshold),
            if m == 1 { "" } else { "s" }
        )
    };
    if missing > 0 && alarm.treat_missing_data == MissingData::Breaching {
        reason.push_str(&format!(
            " {missing} missing datapoint{} treated as Breaching.",
            if missing == 1 { " was" } else { "s were" }
        ));
    }
    Some(Evaluation {
        state: if alarm_state {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        },
        reason,
        reason_data: data,
    })
}

/// One state change the evaluator made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub alarm: String,
    pub from: AlarmState,
    pub to: AlarmState,
    pub reason: String,
}

/// What the evaluator has done: its transitions (newest last, at most [`HISTORY_KEPT`]), when
/// it last evaluated, and its last failure while that lasts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlarmsState {
    pub evaluated_at: Option<DateTime<Utc>>,
    pub history: VecDeque<Transition>,
    /// Transitions recorded in all (the history keeps the last [`HISTORY_KEPT`]).
    pub recorded: u64,
    pub error: Option<String>,
}

impl AlarmsState {
    fn record(&mut self, t: Transition) {
        while self.history.len() >= HISTORY_KEPT {
            self.history.pop_front();
        }
        self.history.push_back(t);
        self.recorded += 1;
    }

    /// The transitions recorded after the first `seen` (as many as the history still holds).
    pub fn since(&self, seen: u64) -> impl Iterator<Item = &Transition> {
        let new = self
            .recorded
            .saturating_sub(seen)
            .min(self.history.len() as u64) as usize;
        self.history.iter().skip(self.history.len() - new)
    }
}

fn aws_time(t: DateTime<Utc>) -> AwsDateTime {
    AwsDateTime::from_secs(t.timestamp())
}

fn dimensions(m: &MetricRef) -> Vec<Dimension> {
    m.dimensions
        .iter()
        .map(|(n, v)| Dimension::builder().name(n).value(v).build())
        .collect()
}

/// The metric's data in `[start, end)` as one statistic set per second (the finest CloudWatch
/// period), so that any statistic over any period can be computed from them.
async fn fetch(
    clients: &Clients,
    metric: &MetricRef,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, StatSet)>, AwsFailure> {
    let out = clients
        .cloudwatch
        .get_metric_statistics()
        .namespace(&metric.namespace)
        .metric_name(&metric.name)
        .set_dimensions(Some(dimensions(metric)))
        .start_time(aws_time(start))
        .end_time(aws_time(end))
        .period(1)
        .statistics(CwStatistic::SampleCount)
        .statistics(CwStatistic::Sum)
        .statistics(CwStatistic::Minimum)
        .statistics(CwStatistic::Maximum)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    Ok(out
        .datapoints()
        .iter()
        .filter_map(|d| {
            let t = Utc.timestamp_opt(d.timestamp()?.secs(), 0).single()?;
            Some((
                t,
                StatSet {
                    count: d.sample_count()?,
                    sum: d.sum()?,
                    min: d.minimum()?,
                    max: d.maximum()?,
                },
            ))
        })
        .collect())
}

/// The alarm's datapoints at `now`, read from CloudWatch.
pub async fn datapoints(
    clients: &Clients,
    stack: &Stack,
    alarm: &Alarm,
    now: DateTime<Utc>,
) -> Result<Vec<Datapoint>, AwsFailure> {
    let starts = periods(now, alarm.period_s, alarm.evaluation_periods);
    let (Some(&first), Some(&last)) = (starts.first(), starts.last()) else {
        return Ok(Vec::new());
    };
    let end = last + chrono::Duration::seconds(i64::from(alarm.period_s));
    let metric = bucket(
        &fetch(clients, &alarm.metric_ref(stack), first, end).await?,
        &starts,
        alarm.period_s,
    );
    let in_service = match alarm.in_service_ref(stack) {
        Some(m) => Some(bucket(
            &fetch(clients, &m, first, end).await?,
            &starts,
            alarm.period_s,
        )),
        None => None,
    };
    Ok(values(alarm, &starts, &metric, in_service.as_deref()))
}

/// Every alarm of the endpoint, by name (DescribeAlarms, paged; at most 20 pages).
pub async fn describe_all(clients: &Clients) -> Result<Vec<MetricAlarm>, AwsFailure> {
    let mut alarms = Vec::new();
    let mut token = None;
    for _ in 0..20 {
        let out = clients
            .cloudwatch
            .describe_alarms()
            .set_next_token(token.take())
            .max_records(100)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        alarms.extend(out.metric_alarms().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(alarms)
}

/// One pass over the stack's alarms at `now`: evaluate each that exists in the endpoint and
/// set its state where it changed. Returns the transitions made.
pub async fn evaluate_all(
    clients: &Clients,
    stack: &Stack,
    now: DateTime<Utc>,
) -> Result<Vec<Transition>, AwsFailure> {
    let existing = describe_all(clients).await?;
    let mut made = Vec::new();
    for alarm in &stack.alarms {
        let Some(have) = existing
            .iter()
            .find(|a| a.alarm_name() == Some(alarm.name.as_str()))
        else {
            continue;
        };
        let current = AlarmState::from_cw(have.state_value());
        let points = datapoints(clients, stack, alarm, now).await?;
        let Some(eval) = evaluate(alarm, &points, now) else {
            continue;
        };
        if eval.state == current {
            continue;
        }
        clients
            .cloudwatch
            .set_alarm_state()
            .alarm_name(&alarm.name)
            .state_value(eval.state.to_cw())
            .state_reason(truncate(&eval.reason, 1023))
            .state_reason_data(eval.reason_data.to_string())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        tracing::info!(alarm = %alarm.name, from = current.as_str(), to = eval.state.as_str(), "alarm: {}", eval.reason);
        made.push(Transition {
            at: now,
            alarm: alarm.name.clone(),
            from: current,
            to: eval.state,
            reason: eval.reason,
        });
    }
    Ok(made)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The PutMetricAlarm for a stack alarm: a plain metric alarm, or for a per-instance one the
/// metric math `metric / in_service` AWS recommends for backlog per instance. No actions: the
/// local cloud has no SNS (Terraform adds them on AWS).
pub fn put_request(
    clients: &Clients,
    stack: &Stack,
    alarm: &Alarm,
) -> aws_sdk_cloudwatch::operation::put_metric_alarm::builders::PutMetricAlarmFluentBuilder {
    let req = clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm.name)
        .alarm_description(&alarm.description)
        .evaluation_periods(alarm.evaluation_periods as i32)
        .datapoints_to_alarm(alarm.datapoints_to_alarm() as i32)
        .threshold(alarm.threshold)
        .comparison_operator(ComparisonOperator::from(alarm.comparison.as_str()))
        .treat_missing_data(alarm.treat_missing_data.as_str());
    let metric = alarm.metric_ref(stack);
    match alarm.in_service_ref(stack) {
        None => req
            .namespace(&metric.namespace)
            .metric_name(&metric.name)
            .set_dimensions(Some(dimensions(&metric)))
            .statistic(CwStatistic::from(alarm.statistic.as_str()))
            .period(alarm.period_s as i32),
        Some(in_service) => {
            let stat = |id: &str, m: &MetricRef, s: &str| {
                MetricDataQuery::builder()
                    .id(id)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace(&m.namespace)
                                    .metric_name(&m.name)
                                    .set_dimensions(Some(dimensions(m)))
                                    .build(),
                            )
                            .period(alarm.period_s as i32)
                            .stat(s)
                            .build(),
                    )
                    .return_data(false)
                    .build()
            };
            req.metrics(stat("m", &metric, alarm.statistic.as_str()))
                .metrics(stat("in_service", &in_service, "Average"))
                .metrics(
                    MetricDataQuery::builder()
                        .id("per_instance")
                        .expression("m / in_service")
                        .label(format!("{} per instance", metric.name))
                        .return_data(true)
                        .build(),
                )
        }
    }
}

/// A metric's dimensions as (name, value) pairs.
type Dims = Vec<(String, String)>;

/// Whether the endpoint's alarm already is the stack's (so provisioning leaves it, and its
/// state, alone).
pub fn same_alarm(have: &MetricAlarm, stack: &Stack, want: &Alarm) -> bool {
    let metric = want.metric_ref(stack);
    let dims = |d: &[Dimension]| -> Vec<(String, String)> {
        d.iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    d.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let shape = if want.metric.per_instance {
        let stats: Vec<(String, String, Dims)> = have
            .metrics()
            .iter()
            .filter_map(|q| {
                let m = q.metric_stat()?.metric()?;
                Some((
                    m.metric_name().unwrap_or_default().to_string(),
                    q.metric_stat()?.stat().unwrap_or_default().to_string(),
                    dims(m.dimensions()),
                ))
            })
            .collect();
        stats.first().map(|(n, s, d)| (n.as_str(), s.as_str(), d))
            == Some((
                metric.name.as_str(),
                want.statistic.as_str(),
                &metric.dimensions,
            ))
            && have
                .metrics()
                .iter()
                .any(|q| q.expression() == Some("m / in_service"))
    } else {
        have.namespace() == Some(metric.namespace.as_str())
            && have.metric_name() == Some(metric.name.as_str())
            && dims(have.dimensions()) == metric.dimensions
            && have.statistic().map(|s| s.as_str()) == Some(want.statistic.as_str())
            && have.period() == Some(want.period_s as i32)
    };
    shape
        && have.alarm_description() == Some(want.description.as_str())
        && have.evaluation_periods() == Some(want.evaluation_periods as i32)
        && have
            .datapoints_to_alarm()
            .unwrap_or(want.evaluation_periods as i32)
            == want.datapoints_to_alarm() as i32
        && have
            .threshold()
            .is_some_and(|t| (t - want.threshold).abs() < 1e-9)
        && have.comparison_operator().map(|c| c.as_str()) == Some(want.comparison.as_str())
        && have.treat_missing_data().unwrap_or("missing") == want.treat_missing_data.as_str()
}

#[derive(Debug, Clone)]
pub struct EvaluatorConfig {
    /// How often the alarms are evaluated (CloudWatch evaluates about every minute; a shorter
    /// interval only makes a state change show sooner after its period closes).
    pub interval: Duration,
}

impl Default for EvaluatorConfig {
    fn default() -> EvaluatorConfig {
        EvaluatorConfig {
            interval: Duration::from_secs(10),
        }
    }
}

/// The evaluator, running until stopped: each interval it publishes the SQS and Auto Scaling
/// metrics AWS would (once per minute, [`servicemetrics`]) and evaluates the alarms.
pub struct AlarmEvaluator {
    cancel: CancellationToken,
    state: watch::Receiver<AlarmsState>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl AlarmEvaluator {
    pub fn start(clients: &Clients, stack: &Stack, config: EvaluatorConfig) -> AlarmEvaluator {
        let (tx, rx) = watch::channel(AlarmsState::default());
        let cancel = CancellationToken::new();
        let (clients, stack, stop) = (clients.clone(), stack.clone(), cancel.clone());
        let task = tokio::spawn(async move {
            let mut publisher = servicemetrics::ServiceMetrics::new(&stack);
            let mut ticker = tokio::time::interval(config.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let now = Utc::now();
                let published = publisher.tick(&clients, now).await;
                let evaluated = evaluate_all(&clients, &stack, now).await;
                tx.send_modify(|s| {
                    s.evaluated_at = Some(now);
                    s.error = None;
                    if let Err(e) = &published {
                        s.error = Some(format!("publishing the SQS and Auto Scaling metrics: {e}"));
                    }
                    match evaluated {
                        Ok(made) => made.into_iter().for_each(|t| s.record(t)),
                        Err(e) => s.error = Some(format!("evaluating the alarms: {e}")),
                    }
                });
                if let Some(e) = &tx.borrow().error {
                    tracing::warn!("alarms: {e}");
                }
            }
        });
        AlarmEvaluator {
            cancel,
            state: rx,
            task: Some(task),
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<AlarmsState> {
        self.state.clone()
    }

    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for AlarmEvaluator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use stack::alarms::{AlarmMetric, By, Comparison, Watches};

    fn alarm(stat: Statistic, n: u32, m: Option<u32>, missing: MissingData) -> Alarm {
        Alarm {
            name: "a".into(),
            description: "do something".into(),
            watches: Watches {
                group: None,
                queue: Some(stack::alarms::QueueSlot::Dlq),
            },
            metric: AlarmMetric {
                namespace: "AWS/SQS".into(),
                name: "ApproximateNumberOfMessagesVisible".into(),
                by: By::Queue,
                per_instance: false,
            },
            statistic: stat,
            period_s: 60,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            threshold: 5.0,
            comparison: Comparison::GreaterThanThreshold,
            treat_missing_data: missing,
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn points(values: &[Option<f64>]) -> Vec<Datapoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Datapoint {
                start: t(60 * i as i64),
                value: *v,
            })
            .collect()
    }

    #[test]
    fn periods_are_aligned_complete_and_oldest_first() {
        // 1_800_000_000 is a multiple of 60; 90 s later the open period started at +60.
        let p = periods(t(90), 60, 3);
        assert_eq!(p, vec![t(-120), t(-60), t(0)]);
        // Exactly on a boundary, the period that just closed is the newest.
        assert_eq!(periods(t(120), 60, 1), vec![t(60)]);
        assert_eq!(periods(t(5), 300, 1).len(), 1);
    }

    #[test]
    fn bucketing_merges_each_periods_data_and_statistics_follow() {
        let pts = vec![
            (t(1), StatSet::of(2.0)),
            (t(30), StatSet::of(6.0)),
            (t(60), StatSet::of(10.0)),
        ];
        let b = bucket(&pts, &[t(0), t(60), t(120)], 60);
        let first = b[0].unwrap();
        assert_eq!(first.value(Statistic::Sum), 8.0);
        assert_eq!(first.value(Statistic::Average), 4.0);
        assert_eq!(first.value(Statistic::Minimum), 2.0);
        assert_eq!(first.value(Statistic::Maximum), 6.0);
        assert_eq!(first.value(Statistic::SampleCount), 2.0);
        // A datum on the boundary belongs to the period it starts.
        assert_eq!(b[1].unwrap().value(Statistic::Sum), 10.0);
        assert_eq!(b[2], None);
    }

    #[test]
    fn per_instance_divides_period_by_period_and_has_no_value_without_instances() {
        let mut a = alarm(Statistic::Average, 3, None, MissingData::Missing);
        a.metric.per_instance = true;
        let starts = [t(0), t(60), t(120)];
        let metric = [
            Some(StatSet::of(100.0)),
            Some(StatSet::of(90.0)),
            Some(StatSet::of(10.0)),
        ];
        let in_service = [Some(StatSet::of(2.0)), Some(StatSet::of(0.0)), None];
        let v = values(&a, &starts, &metric, Some(&in_service));
        assert_eq!(
            v.iter().map(|d| d.value).collect::<Vec<_>>(),
            vec![Some(50.0), None, None]
        );
    }

    #[test]
    fn one_breaching_period_of_one_alarms_and_says_so_like_cloudwatch() {
        let a = alarm(Statistic::Maximum, 1, None, MissingData::NotBreaching);
        let e = evaluate(&a, &points(&[Some(7.0)]), t(120)).unwrap();
        assert_eq!(e.state, AlarmState::Alarm);
        assert!(
            e.reason
                .starts_with("Threshold Crossed: 1 datapoint [7.0 ("),
            "{}",
            e.reason
        );
        assert!(e.reason.ends_with("was greater than the threshold (5.0)."));
        assert_eq!(e.reason_data["recentDatapoints"], serde_json::json!([7.0]));
        assert_eq!(e.reason_data["threshold"], serde_json::json!(5.0));
        let ok = evaluate(&a, &points(&[Some(5.0)]), t(120)).unwrap();
        assert_eq!(ok.state, AlarmState::Ok);
        assert!(ok
            .reason
            .contains("was not greater than the threshold (5.0)"));
    }

    #[test]
    fn m_out_of_n_needs_m_breaching_periods() {
        let a = alarm(Statistic::Sum, 3, Some(2), MissingData::NotBreaching);
        let one = evaluate(&a, &points(&[Some(9.0), Some(1.0), Some(1.0)]), t(200)).unwrap();
        assert_eq!(one.state, AlarmState::Ok);
        let two = evaluate(&a, &points(&[Some(9.0), Some(1.0), Some(8.0)]), t(200)).unwrap();
        assert_eq!(two.state, AlarmState::Alarm);
        assert!(two.reason.contains("2 out of the last 3 datapoints [8.0"));
        assert!(two
            .reason
            .contains("(minimum 2 datapoints for OK -> ALARM transition)"));
        // All N by default.
        let all = alarm(Statistic::Sum, 3, None, MissingData::NotBreaching);
        let e = evaluate(&all, &points(&[Some(9.0), Some(1.0), Some(8.0)]), t(200)).unwrap();
        assert_eq!(e.state, AlarmState::Ok);
    }

    #[test]
    fn missing_data_is_treated_as_configured() {
        let none = points(&[None, None]);
        let state =
            |m| evaluate(&alarm(Statistic::Maximum, 2, None, m), &none, t(200)).map(|e| e.state);
        assert_eq!(
            state(MissingData::Missing),
            Some(AlarmState::InsufficientData)
        );
        assert_eq!(state(MissingData::NotBreaching), Some(AlarmState::Ok));
        assert_eq!(state(MissingData::Breaching), Some(AlarmState::Alarm));
        assert_eq!(state(MissingData::Ignore), None);
        let e = evaluate(
            &alarm(Statistic::Maximum, 2, None, MissingData::Missing),
            &none,
            t(200),
        )
        .unwrap();
        assert_eq!(e.reason, "Insufficient Data: 2 datapoints were unknown.");
        // Some data: breaching fills the gaps with breaches, notBreaching with good ones.
        let gap = points(&[None, Some(9.0)]);
        let with =
            |m| evaluate(&alarm(Statistic::Maximum, 2, None, m), &gap, t(200)).map(|e| e.state);
        assert_eq!(with(MissingData::Breaching), Some(AlarmState::Alarm));
        assert_eq!(with(MissingData::NotBreaching), Some(AlarmState::Ok));
        // missing and ignore judge on the data there is: 1 of the 2 needed.
        assert_eq!(with(MissingData::Missing), Some(AlarmState::Ok));
    }

    #[test]
    fn history_is_bounded() {
        let mut s = AlarmsState::default();
        for i in 0..(HISTORY_KEPT + 10) {
            s.record(Transition {
                at: t(i as i64),
                alarm: "a".into(),
                from: AlarmState::Ok,
                to: AlarmState::Alarm,
                reason: String::new(),
            });
        }
        assert_eq!(s.history.len(), HISTORY_KEPT);
        assert_eq!(s.history.front().map(|t| t.at), Some(t(10)));
        assert_eq!(s.recorded, HISTORY_KEPT as u64 + 10);
        let tail: Vec<_> = s.since(s.recorded - 2).map(|t| t.at).collect();
        assert_eq!(
            tail,
            vec![t(HISTORY_KEPT as i64 + 8), t(HISTORY_KEPT as i64 + 9)]
        );
        assert_eq!(s.since(0).count(), HISTORY_KEPT);
    }

    async fn state_of(clients: &Clients, name: &str) -> (String, String, Option<String>) {
        let all = describe_all(clients).await.unwrap();
        let a = all
            .iter()
            .find(|a| a.alarm_name() == Some(name))
            .unwrap_or_else(|| panic!("{name} was not created"));
        (
            a.state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            a.state_reason().unwrap_or_default().to_string(),
            a.state_reason_data().map(str::to_string),
        )
    }

    /// Against the emulator: provisioning creates the stack's alarms; messages in the DLQ put
    /// its alarm in ALARM once a complete period holds the queue depth AWS would publish, and
    /// emptying the DLQ brings it back to OK the period after.
    #[tokio::test]
    async fn the_dlq_alarm_fires_and_clears() {
        let cloud = crate::testing::TestCloud::provisioned().await;
        let (clients, stack) = (&cloud.clients, &cloud.stack);
        let dlq_alarm = stack
            .alarms
            .iter()
            .find(|a| a.queue_name(stack) == Some(stack.queues.dlq.name.as_str()))
            .unwrap();
        let names: Vec<String> = describe_all(clients)
            .await
            .unwrap()
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_string))
            .collect();
        for a in &stack.alarms {
            assert!(names.contains(&a.name), "{} missing from {names:?}", a.name);
        }
        // Provisioning again leaves them as they are.
        let again = crate::provision(clients, stack).await.unwrap();
        assert!(again
            .resources
            .iter()
            .filter(|(r, _)| r.starts_with("alarm:"))
            .all(|(_, c)| *c == crate::Change::Unchanged));

        let dlq_url = clients
            .sqs
            .get_queue_url()
            .queue_name(&stack.queues.dlq.name)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        for i in 0..3 {
            clients
                .sqs
                .send_message()
                .queue_url(&dlq_url)
                .message_body(format!("{{\"dead\":{i}}}"))
                .send()
                .await
                .unwrap();
        }
        // A minute-aligned base in the past: the publisher's datum at base+1 s falls in the
        // period [base, base+60), which is complete when evaluated at base+61 s.
        let base = Utc
            .timestamp_opt(Utc::now().timestamp().div_euclid(60) * 60 - 600, 0)
            .unwrap();
        let mut publisher = servicemetrics::ServiceMetrics::new(stack);
        publisher
            .publish(clients, base + chrono::Duration::seconds(1))
            .await
            .unwrap();
        let made = evaluate_all(clients, stack, base + chrono::Duration::seconds(61))
            .await
            .unwrap();
        assert!(
            made.iter()
                .any(|t| t.alarm == dlq_alarm.name && t.to == AlarmState::Alarm),
            "{made:?}"
        );
        let (state, reason, data) = state_of(clients, &dlq_alarm.name).await;
        assert_eq!(state, "ALARM");
        assert!(
            reason.starts_with("Threshold Crossed: 1 datapoint [3.0 (")
                && reason.ends_with("was greater than the threshold (0.0)."),
            "{reason}"
        );
        let data: serde_json::Value = serde_json::from_str(&data.unwrap()).unwrap();
        assert_eq!(data["recentDatapoints"], serde_json::json!([3.0]));
        // Evaluating again changes nothing.
        let same = evaluate_all(clients, stack, base + chrono::Duration::seconds(70))
            .await
            .unwrap();
        assert!(!same.iter().any(|t| t.alarm == dlq_alarm.name), "{same:?}");

        clients
            .sqs
            .purge_queue()
            .queue_url(&dlq_url)
            .send()
            .await
            .unwrap();
        publisher
            .publish(clients, base + chrono::Duration::seconds(61))
            .await
            .unwrap();
        let made = evaluate_all(clients, stack, base + chrono::Duration::seconds(121))
            .await
            .unwrap();
        assert!(
            made.iter()
                .any(|t| t.alarm == dlq_alarm.name && t.to == AlarmState::Ok),
            "{made:?}"
        );
        let (state, reason, _) = state_of(clients, &dlq_alarm.name).await;
        assert_eq!(state, "OK");
        assert!(reason.contains("[0.0 ("), "{reason}");
        assert!(
            reason.contains("was not greater than the threshold (0.0)"),
            "{reason}"
        );
    }
}
