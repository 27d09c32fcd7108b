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
        // Points at another period are another resolution: the agent refetches the whole
        // window at the new one, so the old points go rather than mix with the new.
        if self.period_s.is_some_and(|p| p != period_s) {
            self.series.clear();
        }
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
        // A series with nothing left in the day (a terminated instance's) goes entirely.
        self.series
            .retain(|_, s| s.last_key_value().is_some_and(|(t, _)| *t >= at - KEEP));
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

    /// The highest point since `from` of any series of `group`'s `metric` (the group's and its
    /// instances').
    pub fn max_since(&self, group: &str, metric: &str, from: Timestamp) -> Option<f64> {
        self.series
            .iter()
            .filter(|(k, _)| k.group == group && k.metric == metric)
            .flat_map(|(_, s)| s.range(from..).map(|(_, v)| *v))
            .reduce(f64::max)
    }

    /// The oldest point of any series.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.series
            .values()
            .filter_map(|s| s.first_key_value().map(|(t, _)| *t))
            .min()
    }

    pub fn latest(&self, key: &MetricKey) -> Option<MetricPoint> {
        self.series
            .get(key)?
            .last_key_value()
            .map(|(&t, &value)| MetricPoint { t, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(min: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    fn update(points: &[(i64, f64)]) -> Vec<SeriesUpdate> {
        vec![SeriesUpdate {
            key: MetricKey::group_cpu("g"),
            points: points
                .iter()
                .map(|&(m, value)| MetricPoint { t: at(m), value })
                .collect(),
        }]
    }

    #[test]
    fn a_series_that_stopped_a_day_ago_is_forgotten() {
        let mut m = Metrics::default();
        let gone = MetricKey::instance_cpu("g", "i-gone");
        m.apply(
            at(0),
            60,
            vec![SeriesUpdate {
                key: gone.clone(),
                points: vec![MetricPoint {
                    t: at(0),
                    value: 5.0,
                }],
            }],
        );
        m.apply(at(24 * 60), 60, update(&[(24 * 60, 1.0)]));
        assert!(m.latest(&gone).is_some(), "still within the day");
        m.apply(at(26 * 60), 60, update(&[(26 * 60, 1.0)]));
        assert_eq!(m.latest(&gone), None);
        assert_eq!(m.series.len(), 1);
    }

    #[test]
    fn a_new_period_replaces_the_points_of_the_old_one() {
        let mut m = Metrics::default();
        m.apply(at(10), 60, update(&[(1, 10.0), (2, 20.0), (3, 30.0)]));
        m.apply(at(11), 60, update(&[(3, 33.0), (4, 40.0)]));
        let key = MetricKey::group_cpu("g");
        assert_eq!(
            m.range(&key, at(0), at(10)).len(),
            4,
            "same period: merged, revised"
        );
        assert_eq!(m.latest(&key).map(|p| p.value), Some(40.0));
        m.apply(at(12), 300, update(&[(0, 25.0), (5, 35.0)]));
        let points: Vec<f64> = m
            .range(&key, at(0), at(10))
            .iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(points, [25.0, 35.0]);
        assert_eq!(m.period_s, Some(300));
    }
}
