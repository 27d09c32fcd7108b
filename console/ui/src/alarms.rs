//! The stack's CloudWatch alarms as the console shows them: state, what each watches (its
//! group and queue, from the alarm's dimensions), threshold against the current value, since
//! when, the reason, and its history. No I/O: the alarms agent and `flightdeck alarms` fill these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// State changes kept per alarm.
pub const HISTORY_KEPT: usize = 20;

/// CloudWatch's alarm states; `Missing` is a stack alarm the target does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Alarm,
    InsufficientData,
    Ok,
    Missing,
}

impl AlarmState {
    pub fn parse(s: &str) -> AlarmState {
        match s {
            "ALARM" => AlarmState::Alarm,
            "OK" => AlarmState::Ok,
            _ => AlarmState::InsufficientData,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
            AlarmState::Ok => "OK",
            AlarmState::Missing => "MISSING",
        }
    }

    /// The short word for narrow tables.
    pub fn short(self) -> &'static str {
        match self {
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "NO DATA",
            AlarmState::Ok => "OK",
            AlarmState::Missing => "MISSING",
        }
    }
}

/// One state change of an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmTransition {
    pub at: Timestamp,
    pub from: Option<AlarmState>,
    pub to: AlarmState,
    pub reason: String,
}

/// One alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRow {
    pub name: String,
    pub state: AlarmState,
    /// What it means and what to do.
    pub description: String,
    /// The Auto Scaling group it watches (its `AutoScalingGroupName` dimension).
    pub group: Option<String>,
    /// The queue it watches (its `QueueName` dimension).
    pub queue: Option<String>,
    /// `AWS/SQS ApproximateNumberOfMessagesVisible`, or the metric math for a per-instance alarm.
    pub metric: String,
    pub statistic: String,
    pub period_s: u32,
    /// `>`, `>=`, `<` or `<=`.
    pub comparison: String,
    pub threshold: f64,
    /// The metric's newest complete datapoint at the last poll, when there is one.
    pub current: Option<f64>,
    /// When the state last changed.
    pub since: Option<Timestamp>,
    pub reason: String,
}

impl AlarmRow {
    /// `group flightdeck-worker, queue video_tasks`.
    pub fn watches(&self) -> String {
        let mut parts = Vec::new();
        if let Some(g) = &self.group {
            parts.push(format!("group {g}"));
        }
        if let Some(q) = &self.queue {
            parts.push(format!("queue {q}"));
        }
        if parts.is_empty() {
            self.metric.clone()
        } else {
            parts.join(", ")
        }
    }

    /// `> 40`, with the threshold's decimals only when it has them.
    pub fn threshold_text(&self) -> String {
        format!("{} {}", self.comparison, number(self.threshold))
    }

    /// The current value, or `-` when there is none.
    pub fn current_text(&self) -> String {
        self.current.map_or_else(|| "-".to_owned(), number)
    }
}

/// The state changes known for each alarm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmHistory {
    /// Newest first, at most [`HISTORY_KEPT`] per alarm.
    pub by_alarm: BTreeMap<String, Vec<AlarmTransition>>,
    /// Where the history comes from when it is not the endpoint's own record.
    pub note: Option<String>,
}

/// The alarms as the UI holds them (from `Report::Alarms`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alarms {
    pub at: Option<Timestamp>,
    /// In reading order ([`sort`]).
    pub rows: Vec<AlarmRow>,
    pub history: AlarmHistory,
}

impl Alarms {
    pub fn apply(&mut self, at: Timestamp, mut rows: Vec<AlarmRow>, history: AlarmHistory) {
        if self.at.is_some_and(|prev| prev > at) {
            return;
        }
        sort(&mut rows);
        self.at = Some(at);
        self.rows = rows;
        self.history = history;
    }

    pub fn get(&self, name: &str) -> Option<&AlarmRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// How many are in ALARM.
    pub fn firing(&self) -> usize {
        in_alarm(&self.rows)
    }
}

/// A number as a person reads it: integers without decimals, others with up to two.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Rows in the order an operator reads them: ALARM first, then no data, OK, missing; by name.
pub fn sort(rows: &mut [AlarmRow]) {
    rows.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)));
}

/// How many are in ALARM.
pub fn in_alarm(rows: &[AlarmRow]) -> usize {
    rows.iter().filter(|r| r.state == AlarmState::Alarm).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, state: AlarmState) -> AlarmRow {
        AlarmRow {
            name: name.into(),
            state,
            description: String::new(),
            group: Some("g".into()),
            queue: None,
            metric: "m".into(),
            statistic: "Sum".into(),
            period_s: 60,
            comparison: ">".into(),
            threshold: 40.0,
            current: Some(12.5),
            since: None,
            reason: String::new(),
        }
    }

    #[test]
    fn alarms_sort_first_and_numbers_read_plainly() {
        let mut rows = vec![
            row("b", AlarmState::Ok),
            row("z", AlarmState::Alarm),
            row("a", AlarmState::InsufficientData),
            row("a", AlarmState::Alarm),
        ];
        sort(&mut rows);
        let order: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.state)).collect();
        assert_eq!(
            order,
            vec![
                ("a", AlarmState::Alarm),
                ("z", AlarmState::Alarm),
                ("a", AlarmState::InsufficientData),
                ("b", AlarmState::Ok)
            ]
        );
        assert_eq!(in_alarm(&rows), 2);
        assert_eq!(rows[0].threshold_text(), "> 40");
        assert_eq!(rows[0].current_text(), "12.5");
        assert_eq!(number(0.333_333), "0.33");
        assert_eq!(rows[0].watches(), "group g");
        assert_eq!(AlarmState::parse("ALARM"), AlarmState::Alarm);
        assert_eq!(AlarmState::parse("INSUFFICIENT_DATA").short(), "NO DATA");
    }
}
