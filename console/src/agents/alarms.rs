//! The alarms agent: every interval, the stack's alarms (DescribeAlarms for the names
//! stack.json defines, and one GetMetricData for their current values: [`ops::alarms::read`]),
//! and each alarm's state changes (DescribeAlarmHistory) when it is first seen and whenever its
//! state changed since. Where the endpoint keeps no alarm history (the emulator has no
//! DescribeAlarmHistory), the history is the changes this agent saw, and says so. Talks to
//! CloudWatch.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use stack::{Clients, ErrorClass, Stack};
use ui::alarms::{AlarmHistory, AlarmRow, AlarmTransition, HISTORY_KEPT};
use ui::{Agent, Report};

use super::{CallLog, Failure, Poller};

/// How often the alarms are read (CloudWatch evaluates about once a minute).
pub const ALARMS_EVERY: Duration = Duration::from_secs(10);

/// What the history note says when the endpoint keeps none.
pub const SEEN_NOTE: &str =
    "the endpoint keeps no alarm history (no DescribeAlarmHistory): changes seen by this console";

pub struct AlarmsPoller {
    clients: Clients,
    calls: CallLog,
    stack: Stack,
    interval: Duration,
    /// Each alarm's state and when it last changed, as last read.
    seen: HashMap<String, (ui::alarms::AlarmState, Option<ui::Timestamp>)>,
    history: BTreeMap<String, Vec<AlarmTransition>>,
    /// `Some(note)` once the endpoint turned out to keep no history (or failed to give it).
    note: Option<String>,
}

impl AlarmsPoller {
    pub fn new(clients: Clients, calls: CallLog, stack: Stack, interval: Duration) -> Self {
        AlarmsPoller {
            clients,
            calls,
            stack,
            interval,
            seen: HashMap::new(),
            history: BTreeMap::new(),
            note: None,
        }
    }

    /// Brings the history up to date with `rows`: asks the endpoint for the alarms that are new
    /// or changed, or records the change itself where the endpoint keeps no history.
    async fn update_history(&mut self, rows: &[AlarmRow]) {
        let calls = self.calls.clone();
        let record = move |api: &'static str, ok: bool| calls.record(api, ok);
        for row in rows {
            let now = (row.state, row.since);
            let before = self.seen.insert(row.name.clone(), now);
            if before == Some(now) {
                continue;
            }
            if self.note.is_none() {
                match ops::alarms::history(&self.clients, &row.name, &record).await {
                    Ok(h) => {
                        self.history.insert(row.name.clone(), h);
                        continue;
                    }
                    Err(e) => {
                        self.note = Some(if e.failure.class == ErrorClass::NotImplemented {
                            SEEN_NOTE.to_owned()
                        } else {
                            format!("{}: {}; changes seen by this console", e.api, e.failure)
                        });
                    }
                }
            }
            observe(&mut self.history, row, before.map(|(s, _)| s));
        }
    }
}

/// Records a change of `row` seen by polling (from `before`, or its first sighting).
fn observe(
    history: &mut BTreeMap<String, Vec<AlarmTransition>>,
    row: &AlarmRow,
    before: Option<ui::alarms::AlarmState>,
) {
    let Some(at) = row.since else { return };
    let list = history.entry(row.name.clone()).or_default();
    if list
        .first()
        .is_some_and(|t| t.at == at && t.to == row.state)
    {
        return;
    }
    list.insert(
        0,
        AlarmTransition {
            at,
            from: before.filter(|b| *b != row.state),
            to: row.state,
            reason: row.reason.clone(),
        },
    );
    list.truncate(HISTORY_KEPT);
}

impl Poller for AlarmsPoller {
    const AGENT: Agent = Agent::Alarms;

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        let calls = self.calls.clone();
        let record = move |api: &'static str, ok: bool| calls.record(api, ok);
        let rows = ops::alarms::read(&self.clients, &self.stack, &record)
            .await
            .map_err(|e| Failure::from_aws(e.api, &e.failure))?;
        self.update_history(&rows).await;
        // Alarms no longer at the target leave the history too: it stays bounded.
        self.history
            .retain(|name, _| rows.iter().any(|r| &r.name == name));
        Ok(vec![Report::Alarms {
            at: Utc::now(),
            alarms: rows,
            history: AlarmHistory {
                by_alarm: self.history.clone(),
                note: self.note.clone(),
            },
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ui::alarms::AlarmState;

    fn row(state: AlarmState, since: i64) -> AlarmRow {
        AlarmRow {
            name: "dlq".into(),
            state,
            description: String::new(),
            group: None,
            queue: Some("video_dlq".into()),
            metric: "AWS/SQS ApproximateNumberOfMessagesVisible".into(),
            statistic: "Maximum".into(),
            period_s: 60,
            comparison: ">".into(),
            threshold: 0.0,
            current: None,
            since: chrono::DateTime::from_timestamp(since, 0),
            reason: format!("r{since}"),
        }
    }

    #[test]
    fn seen_changes_are_recorded_newest_first_once_each_and_bounded() {
        let mut h = BTreeMap::new();
        observe(&mut h, &row(AlarmState::InsufficientData, 1), None);
        observe(
            &mut h,
            &row(AlarmState::Alarm, 2),
            Some(AlarmState::InsufficientData),
        );
        // The same state read again is not a change.
        observe(&mut h, &row(AlarmState::Alarm, 2), Some(AlarmState::Alarm));
        let list = &h["dlq"];
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].to, AlarmState::Alarm);
        assert_eq!(list[0].from, Some(AlarmState::InsufficientData));
        assert_eq!(list[0].reason, "r2");
        assert_eq!(list[1].from, None);
        for i in 3..100 {
            let s = if i % 2 == 0 {
                AlarmState::Ok
            } else {
                AlarmState::Alarm
            };
            observe(&mut h, &row(s, i), None);
        }
        assert_eq!(h["dlq"].len(), HISTORY_KEPT);
        assert_eq!(h["dlq"][0].reason, "r99");
    }
}
