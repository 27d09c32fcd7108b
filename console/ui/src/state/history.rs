//! Capacity and queue depth over a stretch of time: the console's own samples, and before the
//! first of them the CloudWatch history (Auto Scaling's group metrics, SQS's depth) where AWS
//! has it, so a console started late still shows what happened before it.

use std::collections::BTreeSet;

use crate::model::{
    GroupSnapshot, MetricKey, MetricPoint, QueueSnapshot, Timestamp, GROUP_DESIRED_METRIC,
    GROUP_IN_SERVICE_METRIC, GROUP_PENDING_METRIC, GROUP_TERMINATING_METRIC, JOBS_SUCCEEDED_METRIC,
    QUEUE_IN_FLIGHT_METRIC, QUEUE_OLDEST_AGE_METRIC, QUEUE_VISIBLE_METRIC,
};
use crate::state::groups::CapacitySample;
use crate::state::queues::{QueueSample, Rates};
use crate::state::State;

/// How old a CloudWatch reading of a queue's oldest message may be and still be shown: SQS
/// publishes it once a minute, a few minutes late.
pub const OLDEST_AGE_FRESH: chrono::Duration = chrono::Duration::minutes(15);

/// The age of a queue's oldest message, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OldestAge {
    pub secs: u64,
    /// The CloudWatch point's time, when the age is SQS's metric (not the queue's reading).
    pub measured_at: Option<Timestamp>,
}

/// The value of `series` at `t`: its last point at or before `t`, else its first.
fn at(series: &[MetricPoint], t: Timestamp) -> Option<f64> {
    series
        .iter()
        .take_while(|p| p.t <= t)
        .last()
        .or_else(|| series.first())
        .map(|p| p.value)
}

fn count(v: Option<f64>) -> u64 {
    v.filter(|v| v.is_finite() && *v > 0.0)
        .map_or(0, |v| v.round() as u64)
}

impl State {
    /// CloudWatch's points of `metrics` for `resource` in `[from, to]` before `cutoff`, and
    /// the times any of them has a point.
    fn cloudwatch(
        &self,
        resource: &str,
        metrics: &[&str],
        from: Timestamp,
        to: Timestamp,
        cutoff: Option<Timestamp>,
    ) -> (Vec<Vec<MetricPoint>>, BTreeSet<Timestamp>) {
        let series: Vec<Vec<MetricPoint>> = metrics
            .iter()
            .map(|m| {
                let mut points = self.metrics.range(&MetricKey::of(resource, m), from, to);
                points.retain(|p| cutoff.is_none_or(|c| p.t < c));
                points
            })
            .collect();
        let times = series.iter().flatten().map(|p| p.t).collect();
        (series, times)
    }

    /// A group's capacity in `[from, to]`, oldest first.
    pub fn capacity_history(
        &self,
        group: &GroupSnapshot,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<CapacitySample> {
        let first_own = self.groups.samples(&group.name).next().map(|s| s.t);
        let metrics = [
            GROUP_DESIRED_METRIC,
            GROUP_IN_SERVICE_METRIC,
            GROUP_PENDING_METRIC,
            GROUP_TERMINATING_METRIC,
        ];
        let (s, times) = self.cloudwatch(&group.name, &metrics, from, to, first_own);
        let n = |i: usize, t| u32::try_from(count(at(&s[i], t))).unwrap_or(u32::MAX);
        let mut out: Vec<CapacitySample> = times
            .into_iter()
            .map(|t| CapacitySample {
                t,
                desired: n(0, t),
                in_service: n(1, t),
                pending: n(2, t),
                terminating: n(3, t),
                max: group.max,
            })
            .collect();
        out.extend(
            self.groups
                .samples(&group.name)
                .filter(|p| p.t >= from && p.t <= to)
                .copied(),
        );
        out
    }

    /// A queue's depth in `[from, to]`, oldest first.
    pub fn queue_history(&self, queue: &str, from: Timestamp, to: Timestamp) -> Vec<QueueSample> {
        let first_own = self.queues.samples(queue).next().map(|s| s.t);
        let metrics = [QUEUE_VISIBLE_METRIC, QUEUE_IN_FLIGHT_METRIC];
        let (s, times) = self.cloudwatch(queue, &metrics, from, to, first_own);
        let mut out: Vec<QueueSample> = times
            .into_iter()
            .map(|t| QueueSample {
                t,
                visible: count(at(&s[0], t)),
                in_flight: count(at(&s[1], t)),
                delayed: 0,
            })
            .collect();
        out.extend(
            self.queues
                .samples(queue)
                .filter(|p| p.t >= from && p.t <= to)
                .copied(),
        );
        out
    }

    /// The age of `q`'s oldest message while messages wait in it: the queue's reading where
    /// it has one, else SQS's `ApproximateAgeOfOldestMessage` (its newest point, if less than
    /// [`OLDEST_AGE_FRESH`] old). `None` for an empty queue or no recent point.
    pub fn oldest_age(&self, q: &QueueSnapshot) -> Option<OldestAge> {
        if q.visible == 0 {
            return None;
        }
        if let Some(secs) = q.oldest_age_s {
            return Some(OldestAge {
                secs,
                measured_at: None,
            });
        }
        let p = self
            .metrics
            .latest(&MetricKey::of(&q.name, QUEUE_OLDEST_AGE_METRIC))?;
        (p.value.is_finite() && p.value >= 0.0 && self.now() - p.t <= OLDEST_AGE_FRESH).then(|| {
            OldestAge {
                secs: p.value.round() as u64,
                measured_at: Some(p.t),
            }
        })
    }

    /// The jobs the workers consuming `queue` finished per minute, from their own
    /// `JobsSucceeded` metric: the newest complete period (the current one is still being
    /// published into). `None` until the workers have published a whole period, or when no
    /// group is paired with the queue.
    pub fn processed_per_minute(&self, queue: &str) -> Option<f64> {
        let group = self
            .config
            .pairing
            .group_for(queue, &self.groups.list, &self.queues.list)?;
        let period_s = self.metrics.period_s?;
        let now = self.metrics.at?;
        let period = chrono::Duration::seconds(i64::from(period_s));
        let key = MetricKey::of(&group.name, JOBS_SUCCEEDED_METRIC);
        let complete = self
            .metrics
            .range(&key, now - period * 3, now)
            .into_iter()
            .rfind(|p| p.t + period <= now)?;
        Some(complete.value * 60.0 / f64::from(period_s))
    }

    /// A queue's arrivals and departures per second, for its row, its view and its chart.
    /// From the depth's changes over the rate window alone, a queue that fills faster than it
    /// drains shows no falls: "out 0.0/s" while the workers finish jobs, when an operator
    /// looks. So where the consuming workers' `JobsSucceeded` rate (its newest complete
    /// period) is higher, departures are at least that, and arrivals at least the rises plus
    /// the departures the falls missed (the depth's net change is arrivals less departures).
    /// Estimates still: the metric's period is not the window, and failed jobs are not in it.
    pub fn flow(&self, queue: &str) -> Option<Rates> {
        let depth = self.queues.rates(queue, self.config.rate_window)?;
        let Some(done) = self.processed_per_minute(queue).map(|n| n / 60.0) else {
            return Some(depth);
        };
        let missed = (done - depth.out_per_s).max(0.0);
        Some(Rates {
            in_per_s: depth.in_per_s + missed,
            out_per_s: depth.out_per_s + missed,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::fixtures::*;
    use crate::model::*;

    fn oldest_age_point(at: i64, value: f64) -> Report {
        Report::Metrics {
            at: t(0),
            period_s: 60,
            series: vec![SeriesUpdate {
                key: MetricKey::of("video_tasks", QUEUE_OLDEST_AGE_METRIC),
                points: vec![MetricPoint { t: t(at), value }],
            }],
        }
    }

    /// SQS gives the oldest message's age only as a CloudWatch metric: its newest point counts
    /// while it is recent and messages wait; the queue's own reading, where an endpoint gives
    /// one, comes first.
    #[test]
    fn the_oldest_age_is_sqs_metric_while_recent_and_messages_wait() {
        use crate::state::OldestAge;
        let mut s = empty_state();
        let q = QueueSnapshot {
            oldest_age_s: None,
            ..tasks(40, 0)
        };
        feed(
            &mut s,
            [Report::Queues {
                at: t(0),
                queues: vec![q.clone(), dlq(0)],
            }],
        );
        assert_eq!(s.oldest_age(&q), None, "no point yet");
        feed(&mut s, [oldest_age_point(-120, 312.4)]);
        assert_eq!(
            s.oldest_age(&q),
            Some(OldestAge {
                secs: 312,
                measured_at: Some(t(-120))
            })
        );
        let empty = QueueSnapshot {
            visible: 0,
            ..q.clone()
        };
        assert_eq!(s.oldest_age(&empty), None, "nothing waits");
        assert_eq!(
            s.oldest_age(&tasks(40, 0)),
            Some(OldestAge {
                secs: 95,
                measured_at: None
            }),
            "the queue's own reading first"
        );
        let mut stale = empty_state();
        feed(&mut stale, [oldest_age_point(-16 * 60, 312.0)]);
        assert_eq!(stale.oldest_age(&q), None, "a point 16 minutes old");
    }

    /// The workers published 12 jobs at t0-3m, 30 at t0-2m and (so far) 5 at t0-1m.
    #[test]
    fn processed_per_minute_is_the_newest_complete_period_of_the_workers_metric() {
        let mut s = empty_state();
        let jobs = |period_s: u32, at: i64| Report::Metrics {
            at: t(at),
            period_s,
            series: vec![SeriesUpdate {
                key: MetricKey::of("worker-asg", JOBS_SUCCEEDED_METRIC),
                points: [(-180, 12.0), (-120, 30.0), (-60, 5.0)]
                    .map(|(at, value)| MetricPoint { t: t(at), value })
                    .to_vec(),
            }],
        };
        let topology = |at| {
            [
                Report::Groups {
                    at: t(at),
                    groups: vec![api(2), worker(2, 2)],
                },
                Report::Queues {
                    at: t(at),
                    queues: vec![tasks(80, 2), dlq(0)],
                },
            ]
        };
        feed(&mut s, topology(-30));
        assert_eq!(s.processed_per_minute("video_tasks"), None, "nothing yet");
        feed(&mut s, [jobs(60, -30)]);
        assert_eq!(s.processed_per_minute("video_tasks"), Some(30.0));
        assert_eq!(s.processed_per_minute("video_dlq"), None, "no consumer");
        // Five-minute points count five minutes of jobs.
        let mut s = empty_state();
        feed(&mut s, topology(300));
        feed(&mut s, [jobs(300, 300)]);
        assert_eq!(s.processed_per_minute("video_tasks"), Some(1.0));
    }

    /// A queue filling at 2/s net for 30 s while the workers finish 30 jobs a minute: its
    /// depth never falls, yet 0.5/s leave it, so at least 2.5/s arrive.
    #[test]
    fn a_filling_queue_shows_the_workers_departures_not_zero() {
        use crate::state::queues::Rates;
        let mut s = empty_state();
        for (i, at) in (-30..=0).step_by(10).enumerate() {
            let visible = 20 * i as u64;
            feed(
                &mut s,
                [
                    Report::Groups {
                        at: t(at),
                        groups: vec![api(2), worker(2, 2)],
                    },
                    Report::Queues {
                        at: t(at),
                        queues: vec![tasks(visible, 0), dlq(0)],
                    },
                ],
            );
        }
        let depth_only = s.flow("video_tasks").unwrap();
        assert_eq!(
            depth_only,
            Rates {
                in_per_s: 2.0,
                out_per_s: 0.0
            },
            "no metric yet: the depth's changes alone"
        );
        feed(
            &mut s,
            [Report::Metrics {
                at: t(0),
                period_s: 60,
                series: vec![SeriesUpdate {
                    key: MetricKey::of("worker-asg", JOBS_SUCCEEDED_METRIC),
                    points: vec![MetricPoint {
                        t: t(-120),
                        value: 30.0,
                    }],
                }],
            }],
        );
        let flow = s.flow("video_tasks").unwrap();
        assert!((flow.out_per_s - 0.5).abs() < 1e-9, "{flow:?}");
        assert!((flow.in_per_s - 2.5).abs() < 1e-9, "{flow:?}");
        assert_eq!(s.flow("video_dlq").unwrap().out_per_s, 0.0, "no consumer");
    }

    /// A console started at t0 - 5 min, with CloudWatch knowing the half hour before.
    #[test]
    fn history_before_the_first_own_sample_comes_from_cloudwatch() {
        let mut s = empty_state();
        let points = |f: fn(i64) -> f64| -> Vec<MetricPoint> {
            (0..=30)
                .map(|m| MetricPoint {
                    t: t(-1800 + m * 60),
                    value: f(m),
                })
                .collect()
        };
        let series = vec![
            SeriesUpdate {
                key: MetricKey::of("worker-asg", GROUP_DESIRED_METRIC),
                points: points(|m| if m < 10 { 1.0 } else { 2.0 }),
            },
            SeriesUpdate {
                key: MetricKey::of("worker-asg", GROUP_IN_SERVICE_METRIC),
                points: points(|m| if m < 12 { 1.0 } else { 2.0 }),
            },
            SeriesUpdate {
                key: MetricKey::of("video_tasks", QUEUE_VISIBLE_METRIC),
                points: points(|m| (m * 3) as f64),
            },
        ];
        feed(
            &mut s,
            [
                Report::Metrics {
                    at: t(-300),
                    period_s: 60,
                    series,
                },
                Report::Groups {
                    at: t(-300),
                    groups: vec![api(2), worker(2, 2)],
                },
                Report::Queues {
                    at: t(-300),
                    queues: vec![tasks(80, 2), dlq(0)],
                },
            ],
        );
        let g = s.groups.get("worker-asg").unwrap().clone();
        let cap = s.capacity_history(&g, t(-1800), t0());
        assert_eq!(
            cap.len(),
            26,
            "25 minutes from CloudWatch, then the own sample"
        );
        assert_eq!((cap[0].desired, cap[0].in_service), (1, 1));
        assert_eq!(
            (cap[11].desired, cap[11].in_service),
            (2, 1),
            "the new one pending"
        );
        assert_eq!(cap[11].max, 3);
        assert!(cap.windows(2).all(|w| w[0].t < w[1].t));
        assert_eq!(
            cap.last().unwrap().t,
            t(-300),
            "own samples from the start on"
        );

        let q = s.queue_history("video_tasks", t(-1800), t0());
        assert_eq!(q.len(), 26);
        assert_eq!(q[10].visible, 30);
        assert_eq!((q[25].visible, q[25].in_flight), (80, 2));
        assert!(s.queue_history("video_dlq", t(-1800), t0()).len() == 1);
        // The fitted window reaches back to CloudWatch's first point.
        assert_eq!(s.shown_window(), std::time::Duration::from_secs(1800));
    }
}
