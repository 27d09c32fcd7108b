//! The stack's CloudWatch alarms, read for the console's alarms agent and for
//! `flightdeck alarms`: DescribeAlarms for the names `stack.json` defines, then one
//! GetMetricData for every alarm's newest complete datapoint (the current value; for a
//! per-instance alarm, its two metrics divided as its metric math does), and
//! DescribeAlarmHistory for an alarm's state changes. Talks to CloudWatch.

use std::collections::HashMap;

use aws_sdk_cloudwatch::types::{
    HistoryItemType, MetricAlarm, MetricDataQuery, MetricStat, ScanBy,
};
use chrono::Utc;
use stack::errors::{describe, AwsFailure};
use stack::metrics::{DIM_ASG_NAME, DIM_QUEUE_NAME};
use stack::{Clients, ErrorClass, Stack};
use ui::alarms::{AlarmRow, AlarmState, AlarmTransition};

use crate::sdk::to_chrono;

/// A failed call: which API, and why.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub api: &'static str,
    pub failure: AwsFailure,
}

/// DescribeAlarms takes at most 100 names a call.
const MAX_NAMES: usize = 100;
/// State changes read per alarm.
pub const HISTORY_READ: i32 = 20;

/// The stack's alarms at the target, in the order to read them (ALARM first); a stack alarm
/// the target does not have is a `Missing` row. `record` counts each call.
pub async fn read(
    clients: &Clients,
    stack: &Stack,
    record: &(dyn Fn(&'static str, bool) + Sync),
) -> Result<Vec<AlarmRow>, ReadError> {
    let names: Vec<String> = stack
        .alarms
        .iter()
        .take(MAX_NAMES)
        .map(|a| a.name.clone())
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    const API: &str = "DescribeAlarms";
    let out = clients
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names))
        .max_records(100)
        .send()
        .await;
    record(API, out.is_ok());
    let out = out.map_err(|e| ReadError {
        api: API,
        failure: describe(&e),
    })?;
    let found = out.metric_alarms();
    let current = current_values(clients, found, record).await?;
    let mut rows: Vec<AlarmRow> = stack
        .alarms
        .iter()
        .map(|want| match found.iter().find(|a| a.alarm_name() == Some(&want.name)) {
            Some(a) => {
                let mut row = row(a);
                row.current = current.get(&want.name).copied();
                row
            }
            None => AlarmRow {
                name: want.name.clone(),
                state: AlarmState::Missing,
                description: want.description.clone(),
                group: want.group_name(stack).map(str::to_owned),
                queue: want.queue_name(stack).map(str::to_owned),
                metric: format!("{} {}", want.metric.namespace, want.metric.name),
                statistic: want.statistic.as_str().to_owned(),
                period_s: want.period_s,
                comparison: want.comparison.symbol().to_owned(),
                threshold: want.threshold,
                current: None,
                since: None,
                reason: "not created at this target: run `terraform apply` in infra/terraform (AWS) or `flightdeck local provision` (an emulator)".to_owned(),
            },
        })
        .collect();
    ui::alarms::sort(&mut rows);
    Ok(rows)
}

/// Every dimension of the alarm, its metric math's metrics included.
fn dimensions(a: &MetricAlarm) -> Vec<(String, String)> {
    let plain = a.dimensions().iter();
    let math = a
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat()?.metric())
        .flat_map(|m| m.dimensions().iter());
    plain
        .chain(math)
        .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
        .collect()
}

/// One alarm as the console shows it (without its current value).
pub fn row(a: &MetricAlarm) -> AlarmRow {
    let dims = dimensions(a);
    let dim = |name: &str| dims.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let metric = match (a.namespace(), a.metric_name()) {
        (Some(ns), Some(m)) => format!("{ns} {m}"),
        _ => a
            .metrics()
            .iter()
            .find_map(|q| q.expression())
            .unwrap_or("metric math")
            .to_owned(),
    };
    let statistic = a
        .statistic()
        .map(|s| s.as_str().to_owned())
        .or_else(|| {
            a.metrics()
                .iter()
                .find_map(|q| q.metric_stat()?.stat().map(str::to_owned))
        })
        .unwrap_or_default();
    let period_s = a
        .period()
        .or_else(|| a.metrics().iter().find_map(|q| q.metric_stat()?.period()))
        .unwrap_or(0)
        .max(0) as u32;
    AlarmRow {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        state: AlarmState::parse(a.state_value().map(|s| s.as_str()).unwrap_or_default()),
        description: a.alarm_description().unwrap_or_default().to_owned(),
        group: dim(DIM_ASG_NAME),
        queue: dim(DIM_QUEUE_NAME),
        metric,
        statistic,
        period_s,
        comparison: a
            .comparison_operator()
            .and_then(|c| stack::alarms::Comparison::parse(c.as_str()))
            .map_or_else(
                || {
                    a.comparison_operator()
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_default()
                },
                |c| c.symbol().to_owned(),
            ),
        threshold: a.threshold().unwrap_or_default(),
        current: None,
        since: a.state_updated_timestamp().and_then(to_chrono),
        reason: a.state_reason().unwrap_or_default().to_owned(),
    }
}

/// The queries for one alarm's current value, with ids `a{i}_{id}`: its metric, or its metric
/// math's metrics.
fn queries(i: usize, a: &MetricAlarm) -> Vec<MetricDataQuery> {
    if let (Some(ns), Some(name), Some(stat)) = (a.namespace(), a.metric_name(), a.statistic()) {
        let metric = aws_sdk_cloudwatch::types::Metric::builder()
            .namespace(ns)
            .metric_name(name)
            .set_dimensions(Some(a.dimensions().to_vec()))
            .build();
        return vec![MetricDataQuery::builder()
            .id(format!("a{i}_m"))
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(a.period().unwrap_or(60))
                    .stat(stat.as_str())
                    .build(),
            )
            .return_data(true)
            .build()];
    }
    a.metrics()
        .iter()
        .filter(|q| q.metric_stat().is_some())
        .filter_map(|q| {
            Some(
                MetricDataQuery::builder()
                    .id(format!("a{i}_{}", q.id()?))
                    .set_metric_stat(q.metric_stat().cloned())
                    .return_data(true)
                    .build(),
            )
        })
        .collect()
}

/// The value of a metric-math expression `x / y` over the newest values of its metrics;
/// other expressions have no value here.
fn math_value(expression: &str, values: &HashMap<String, f64>) -> Option<f64> {
    let (x, y) = expression.split_once('/')?;
    let (x, y) = (values.get(x.trim())?, values.get(y.trim())?);
    (*y != 0.0).then(|| x / y)
}

/// Each alarm's newest complete datapoint, in one GetMetricData (at most 500 queries).
async fn current_values(
    clients: &Clients,
    alarms: &[MetricAlarm],
    record: &(dyn Fn(&'static str, bool) + Sync),
) -> Result<HashMap<String, f64>, ReadError> {
    const API: &str = "GetMetricData";
    let mut all = Vec::new();
    let mut longest = 60;
    for (i, a) in alarms.iter().enumerate() {
        for q in queries(i, a) {
            if let Some(p) = q.metric_stat().and_then(|s| s.period()) {
                longest = longest.max(p);
            }
            all.push(q);
        }
    }
    all.truncate(crate::sdk::GET_METRIC_DATA_MAX_QUERIES);
    if all.is_empty() {
        return Ok(HashMap::new());
    }
    let p = i64::from(longest.max(1));
    // The open period is not complete: the newest value is from the period before it.
    let end = Utc::now().timestamp().div_euclid(p) * p;
    let start = end - 5 * p;
    let out = clients
        .cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(all))
        .start_time(aws_smithy_types::DateTime::from_secs(start))
        .end_time(aws_smithy_types::DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await;
    record(API, out.is_ok());
    let out = out.map_err(|e| ReadError {
        api: API,
        failure: describe(&e),
    })?;
    let mut newest: HashMap<String, (i64, f64)> = HashMap::new();
    for r in out.metric_data_results() {
        let Some(id) = r.id() else { continue };
        for (t, v) in r.timestamps().iter().zip(r.values()) {
            let e = newest.entry(id.to_owned()).or_insert((t.secs(), *v));
            if t.secs() > e.0 {
                *e = (t.secs(), *v);
            }
        }
    }
    let mut values = HashMap::new();
    for (i, a) in alarms.iter().enumerate() {
        let Some(name) = a.alarm_name() else { continue };
        let prefix = format!("a{i}_");
        let mine: HashMap<String, f64> = newest
            .iter()
            .filter_map(|(id, (_, v))| Some((id.strip_prefix(&prefix)?.to_owned(), *v)))
            .collect();
        let value = match a.metrics().iter().find_map(|q| q.expression()) {
            Some(expr) => math_value(expr, &mine),
            None => mine.get("m").copied(),
        };
        if let Some(v) = value {
            values.insert(name.to_owned(), v);
        }
    }
    Ok(values)
}

/// The alarm's last state changes, newest first (DescribeAlarmHistory).
pub async fn history(
    clients: &Clients,
    name: &str,
    record: &(dyn Fn(&'static str, bool) + Sync),
) -> Result<Vec<AlarmTransition>, ReadError> {
    const API: &str = "DescribeAlarmHistory";
    let out = clients
        .cloudwatch
        .describe_alarm_history()
        .alarm_name(name)
        .history_item_type(HistoryItemType::StateUpdate)
        .max_records(HISTORY_READ)
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await;
    let out = out.map_err(|e| ReadError {
        api: API,
        failure: describe(&e),
    });
    // An endpoint without alarm history (the emulator) answers "not implemented": a probe's
    // answer, which the alarms view explains, not an error for the footer's count.
    let answered = match &out {
        Ok(_) => true,
        Err(e) => e.failure.class == ErrorClass::NotImplemented,
    };
    record(API, answered);
    Ok(out?
        .alarm_history_items()
        .iter()
        .filter_map(|h| {
            // HistoryData is JSON: {"oldState": {"stateValue": ...}, "newState": {"stateValue":
            // ..., "stateReason": ...}}; the summary says "Alarm updated from OK to ALARM".
            let data: serde_json::Value =
                serde_json::from_str(h.history_data().unwrap_or("{}")).unwrap_or_default();
            let state = |k: &str| data[k]["stateValue"].as_str().map(AlarmState::parse);
            Some(AlarmTransition {
                at: h.timestamp().and_then(to_chrono)?,
                from: state("oldState"),
                to: state("newState")?,
                reason: data["newState"]["stateReason"]
                    .as_str()
                    .or(h.history_summary())
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_divides_its_two_metrics() {
        let v = HashMap::from([("m".to_owned(), 90.0), ("in_service".to_owned(), 3.0)]);
        assert_eq!(math_value("m / in_service", &v), Some(30.0));
        assert_eq!(math_value("m/in_service", &v), Some(30.0));
        assert_eq!(math_value("m + in_service", &v), None);
        let zero = HashMap::from([("m".to_owned(), 9.0), ("in_service".to_owned(), 0.0)]);
        assert_eq!(math_value("m / in_service", &zero), None);
    }
}

#[cfg(test)]
mod live_tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use local_cloud::testing::TestCloud;

    use super::*;

    /// The emulator keeps no alarm history: DescribeAlarmHistory answers "not implemented",
    /// which the alarms agent turns into a note. The call is counted, but not as an error (the
    /// footer's error count would otherwise flag a fault for a minute at every local start).
    #[tokio::test]
    async fn an_endpoint_without_alarm_history_is_not_counted_as_an_error() {
        let cloud = TestCloud::provisioned().await;
        let recorded = Mutex::new(Vec::new());
        let record = |api: &'static str, ok: bool| recorded.lock().unwrap().push((api, ok));
        let name = &cloud.stack.alarms[0].name;
        let err = history(&cloud.clients, name, &record).await.unwrap_err();
        assert_eq!(err.failure.class, ErrorClass::NotImplemented, "{err:?}");
        assert_eq!(*recorded.lock().unwrap(), [("DescribeAlarmHistory", true)]);
    }
}
