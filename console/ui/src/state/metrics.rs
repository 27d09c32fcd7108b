//! CPU (and other) series merged from incremental `Metrics` reports.

use std::collections::BTreeMap;

use crate::model::{MetricKey, MetricPoint, SeriesUpdate, Timestamp};

/// Points older than this behind a series' newest point are dropped (longest window + margin).
const KEEP: chrono::Duration = chrono::Duration::hours(25);

#[derive(Debug, Clone, Default)]
pub struct Metrics {
    series: BTreeMap<MetricKey, BTreeMap<Timestamp, f64>>,
    pub at: Option<Timestamp>,
    /// The CloudWatch period of the latest report, shown in chart titles.
    pub period_s: Option<u32>,
}

impl Metrics {
    pub fn apply(&mut self, at: Timestamp, period_s: u32, updates: Vec<SeriesUpdate>) {
        for u in updates {
            let series = self.series.entry(u.key).or_default();
            // A point at an existing time replaces it: CloudWatch revises the latest period.
            for p in u.points {
                if p.value.is_finite() {
                    series.insert(p.t, p.value);
                }
            }
            if let Some((&newest, _)) = series.last_key_value() {
                let cutoff = newest - KEEP;
                *series = series.split_off(&cutoff);
            }
        }
        self.at = Some(self.at.map_or(at, |prev| prev.max(at)));
        self.period_s = Some(period_s);
    }

    /// Points with `from <= t <= to`, oldest first.
    pub fn range(&self, key: &MetricKey, from: Timestamp, to: Timestamp) -> Vec<MetricPoint> {
        self.series
            .get(key)
            .map(|s| {
                s.range(from..=to)
                    .map(|(&t, &value)| MetricPoint { t, value })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn latest(&self, key: &MetricKey) -> Option<MetricPoint> {
        self.series
            .get(key)?
            .last_key_value()
            .map(|(&t, &value)| MetricPoint { t, value })
    }
}
