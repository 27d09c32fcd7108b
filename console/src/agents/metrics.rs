//! The metrics agent: each group's `AWS/EC2 CPUUtilization` (by `AutoScalingGroupName`) and each
//! of its instances' (by `InstanceId`, as EC2 publishes it), each group's `AWS/AutoScaling`
//! capacity metrics and each queue's `AWS/SQS` depth (where they exist: the history under the
//! console's own samples) and oldest message's age (SQS's only source of it) through
//! GetMetricData, up to 500 queries a call, incremental (only newer points are sent) and with
//! StartTime aligned to the period. The period follows the chart window. With the UI saying
//! which groups and queues are on screen ([`MetricsPoller::with_on_screen`]), their series
//! are fetched every poll and the others about every `offscreen_every`, a share each poll.
//! Talks to CloudWatch.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricStat, ScanBy,
};
use chrono::Utc;
use stack::metrics::{
    AUTOSCALING_NAMESPACE, CPU_UTILIZATION, DIM_ASG_NAME, DIM_INSTANCE_ID, DIM_QUEUE_NAME,
    EC2_NAMESPACE, FLIGHTDECK_NAMESPACE, JOBS_SUCCEEDED, SQS_NAMESPACE,
};
use stack::Clients;
use tokio::sync::watch;
use ui::{Agent, MetricKey, MetricPoint, Report, SeriesUpdate, Timestamp};

use super::{to_chrono, CallLog, Failure, Poller};

/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES: usize = ops::sdk::GET_METRIC_DATA_MAX_QUERIES;
/// CloudWatch publishes EC2 metrics minutes late: every poll re-reads this much before the
/// newest point it already has, so late points are not missed.
const LATE: chrono::Duration = chrono::Duration::minutes(5);

/// The CloudWatch period for a chart window: one-minute points up to 3 h (at most 180 per
/// series), five-minute points beyond (288 for 24 h).
pub fn period_for(window: Duration) -> u32 {
    if window <= Duration::from_secs(3 * 3600) {
        60
    } else {
        300
    }
}

/// `t` rounded down to a multiple of `period_s` since the epoch (CloudWatch's buckets).
pub fn align_down(t: Timestamp, period_s: u32) -> Timestamp {
    let p = i64::from(period_s.max(1));
    let secs = t.timestamp().div_euclid(p) * p;
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// `t` rounded up to the next period boundary (itself when already on one).
pub fn align_up(t: Timestamp, period_s: u32) -> Timestamp {
    let down = align_down(t, period_s);
    if down == t {
        t
    } else {
        down + chrono::Duration::seconds(i64::from(period_s))
    }
}

/// Where each series stands: the newest point sent, how far it has been fetched, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cursor {
    pub newest: Option<Timestamp>,
    pub fetched_to: Option<Timestamp>,
    pub fetched_at: Option<Instant>,
}

/// The aligned `[start, end)` to fetch for `groups` (series) at `now`: from the earliest point
/// any of them still needs (never before the window), to the end of the current period.
pub fn fetch_range<K: Ord>(
    now: Timestamp,
    window: Duration,
    period_s: u32,
    cursors: &BTreeMap<K, Cursor>,
    groups: &[K],
) -> (Timestamp, Timestamp) {
    let window_start =
        now - chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::hours(1));
    let since = groups
        .iter()
        .map(|g| {
            let c = cursors.get(g).copied().unwrap_or_default();
            match (c.newest, c.fetched_to) {
                (_, None) => window_start,
                (Some(newest), Some(to)) => newest.min(to - LATE),
                (None, Some(to)) => to - LATE,
            }
        })
        .min()
        .unwrap_or(window_start)
        .max(window_start);
    (align_down(since, period_s), align_up(now, period_s))
}

/// The query for one series: a group's CPU (by `AutoScalingGroupName`) or an instance's (by
/// `InstanceId` alone, the dimension EC2 publishes it under), a group's capacity metric or a
/// queue's depth (the most in each period, so steps and peaks show), or the jobs a worker group
/// finished (the worker's own metric, summed per period); `id` must start with a lower-case
/// letter.
fn cpu_query(id: String, key: &MetricKey, period_s: u32) -> MetricDataQuery {
    let dim = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let (namespace, dimension, stat) = match (&key.instance, key.metric.as_str()) {
        (Some(instance), _) => (EC2_NAMESPACE, dim(DIM_INSTANCE_ID, instance), "Average"),
        (None, CPU_UTILIZATION) => (EC2_NAMESPACE, dim(DIM_ASG_NAME, &key.group), "Average"),
        (None, JOBS_SUCCEEDED) => (FLIGHTDECK_NAMESPACE, dim(DIM_ASG_NAME, &key.group), "Sum"),
        (None, m) if m.starts_with("Group") => (
            AUTOSCALING_NAMESPACE,
            dim(DIM_ASG_NAME, &key.group),
            "Maximum",
        ),
        (None, _) => (SQS_NAMESPACE, dim(DIM_QUEUE_NAME, &key.group), "Maximum"),
    };
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(&key.metric)
        .dimensions(dimension)
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(i32::try_from(period_s).unwrap_or(60))
        .stat(stat)
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(stat)
        .return_data(true)
        .build()
}

/// The points of one result, oldest first, without non-finite values.
pub fn points(result: &MetricDataResult) -> Vec<MetricPoint> {
    let mut out: Vec<MetricPoint> = result
        .timestamps()
        .iter()
        .zip(result.values())
        .filter_map(|(t, v)| {
            let t = to_chrono(t)?;
            v.is_finite().then_some(MetricPoint { t, value: *v })
        })
        .collect();
    out.sort_by_key(|p| p.t);
    out
}

/// Only the points at or after the newest one already sent (the newest is re-sent because
/// CloudWatch revises the latest period; the UI replaces a point at the same time).
pub fn newer(points: Vec<MetricPoint>, newest: Option<Timestamp>) -> Vec<MetricPoint> {
    match newest {
        Some(n) => points.into_iter().filter(|p| p.t >= n).collect(),
        None => points,
    }
}

pub struct MetricsPoller {
    clients: Clients,
    calls: CallLog,
    interval: Duration,
    window: watch::Receiver<Duration>,
    /// The series to fetch, from the groups agent.
    groups: watch::Receiver<Vec<MetricKey>>,
    /// And from the queues agent, when it tells.
    queues: Option<watch::Receiver<Vec<MetricKey>>>,
    /// The period the cursors were built at; a new period starts every series over.
    period_s: u32,
    cursors: BTreeMap<MetricKey, Cursor>,
    /// The last poll fetched only groups' CPU seen for the first time (see [`first_cpu`]):
    /// the next poll, at once, fetches the rest.
    rest_pending: bool,
    /// The groups and the queues the UI shows (names); `None`: every series every poll.
    on_screen: Option<(Names, Names)>,
    offscreen_every: Duration,
}

/// Names the UI sends (the groups, or the queues, on screen).
type Names = watch::Receiver<Vec<String>>;

/// Which of `keys` a poll fetches, in their order: every series never fetched and every series
/// of a group or queue on screen; of the others those about `offscreen_every` old, oldest
/// first, no more than their share of a poll (so each is fetched about every
/// `offscreen_every`, steadily rather than all at once).
pub fn due_series(
    keys: &[MetricKey],
    age: impl Fn(&MetricKey) -> Option<Duration>,
    on_screen: impl Fn(&str) -> bool,
    interval: Duration,
    offscreen_every: Duration,
) -> Vec<MetricKey> {
    // A poll that starts a little early still fetches what the last one fetched.
    let slack = offscreen_every.mul_f64(0.8);
    let mut off_screen = 0usize;
    let mut due_off: Vec<(Duration, usize)> = Vec::new();
    let mut take = vec![false; keys.len()];
    for (i, k) in keys.iter().enumerate() {
        match age(k) {
            None => take[i] = true,
            Some(_) if on_screen(&k.group) => take[i] = true,
            Some(a) => {
                off_screen += 1;
                if a >= slack {
                    due_off.push((a, i));
                }
            }
        }
    }
    let share = (off_screen as f64 * interval.as_secs_f64()
        / offscreen_every.as_secs_f64().max(0.001))
    .ceil() as usize;
    due_off.sort_by_key(|(a, _)| std::cmp::Reverse(*a));
    for (_, i) in due_off.into_iter().take(share.max(1)) {
        take[i] = true;
    }
    keys.iter()
        .zip(take)
        .filter(|(_, t)| *t)
        .map(|(k, _)| k.clone())
        .collect()
}

impl MetricsPoller {
    pub fn new(
        clients: Clients,
        calls: CallLog,
        interval: Duration,
        window: watch::Receiver<Duration>,
        groups: watch::Receiver<Vec<MetricKey>>,
    ) -> Self {
        MetricsPoller {
            clients,
            calls,
            interval,
            window,
            groups,
            queues: None,
            period_s: 0,
            cursors: BTreeMap::new(),
            rest_pending: false,
            on_screen: None,
            offscreen_every: interval,
        }
    }

    /// Fetch the series of the groups (`groups`, names) and queues (`queues`) the UI shows
    /// every poll, and the others about every `every`.
    pub fn with_on_screen(mut self, groups: Names, queues: Names, every: Duration) -> Self {
        self.on_screen = Some((groups, queues));
        self.offscreen_every = every;
        self
    }

    /// Also fetch the queues' series the queues agent names.
    pub fn with_queues(mut self, queues: watch::Receiver<Vec<MetricKey>>) -> Self {
        self.queues = Some(queues);
        self
    }

    /// One batch of at most [`MAX_QUERIES`] series: every page of one GetMetricData.
    async fn fetch(
        &self,
        batch: &[MetricKey],
        start: Timestamp,
        end: Timestamp,
        period_s: u32,
    ) -> Result<BTreeMap<MetricKey, Vec<MetricPoint>>, Failure> {
        const API: &str = "GetMetricData";
        let mut request = self
            .clients
            .cloudwatch
            .get_metric_data()
            .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
            .scan_by(ScanBy::TimestampAscending);
        for (i, key) in batch.iter().enumerate() {
            request = request.metric_data_queries(cpu_query(format!("g{i}"), key, period_s));
        }
        let mut out: BTreeMap<MetricKey, Vec<MetricPoint>> = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = request.clone().set_next_token(token.take()).send().await;
            self.calls.record(API, page.is_ok());
            let page = page.map_err(|e| Failure::from_sdk(API, &e))?;
            for result in page.metric_data_results() {
                let group = result
                    .id()
                    .and_then(|id| id.strip_prefix('g'))
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| batch.get(i));
                if let Some(group) = group {
                    out.entry(group.clone()).or_default().extend(points(result));
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        for series in out.values_mut() {
            series.sort_by_key(|p| p.t);
            series.dedup_by_key(|p| p.t);
        }
        Ok(out)
    }
}

impl Poller for MetricsPoller {
    const AGENT: Agent = Agent::Metrics;

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn changed(&mut self) {
        if self.rest_pending {
            // The rest of the series the last poll left out: now.
            return;
        }
        let queues = self.queues.as_mut();
        let queues = async move {
            match queues {
                Some(q) => q.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = self.window.changed() => if r.is_err() { std::future::pending::<()>().await },
            r = self.groups.changed() => if r.is_err() { std::future::pending::<()>().await },
            r = queues => if r.is_err() { std::future::pending::<()>().await },
        }
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        let window = *self.window.borrow_and_update();
        let mut groups = self.groups.borrow_and_update().clone();
        if let Some(q) = &mut self.queues {
            groups.extend(q.borrow_and_update().iter().cloned());
        }
        if groups.is_empty() {
            // The groups agent has not reported yet; it wakes this agent when it does.
            return Ok(Vec::new());
        }
        let period_s = period_for(window);
        if period_s != self.period_s {
            self.cursors.clear();
            self.period_s = period_s;
        }
        let wanted: HashSet<&MetricKey> = groups.iter().collect();
        self.cursors.retain(|g, _| wanted.contains(g));
        let first = first_cpu(&groups, &self.cursors);
        self.rest_pending = !first.is_empty() && first.len() < groups.len();
        if self.rest_pending {
            groups = first;
        } else if let Some((shown_groups, shown_queues)) = &self.on_screen {
            let shown: BTreeSet<String> = shown_groups
                .borrow()
                .iter()
                .chain(shown_queues.borrow().iter())
                .cloned()
                .collect();
            let now = Instant::now();
            groups = due_series(
                &groups,
                |k| self.cursors.get(k)?.fetched_at.map(|t| now - t),
                |name| shown.contains(name),
                self.interval,
                self.offscreen_every,
            );
        }
        let now = Utc::now();
        let mut series = Vec::new();
        for batch in groups.chunks(MAX_QUERIES) {
            let (start, end) = fetch_range(now, window, period_s, &self.cursors, batch);
            let mut fetched = self.fetch(batch, start, end, period_s).await?;
            for key in batch {
                let cursor = self.cursors.entry(key.clone()).or_default();
                let new = newer(fetched.remove(key).unwrap_or_default(), cursor.newest);
                cursor.fetched_to = Some(end);
                cursor.fetched_at = Some(Instant::now());
                if let Some(last) = new.last() {
                    cursor.newest = Some(last.t);
                }
                if !new.is_empty() {
                    series.push(SeriesUpdate {
                        key: key.clone(),
                        points: new,
                    });
                }
            }
        }
        // Sent even when empty: it tells the UI the CPU data is fresh as of now.
        Ok(vec![Report::Metrics {
            at: now,
            period_s,
            series,
        }])
    }
}

/// The groups' own CPU series not fetched yet, when there are any: a poll asks for them alone,
/// in one small call, so that the dashboard's first full frame (and a new group's CPU) does not
/// wait for the history of every instance and queue (hundreds of series), which the next poll
/// fetches at once.
fn first_cpu(keys: &[MetricKey], cursors: &BTreeMap<MetricKey, Cursor>) -> Vec<MetricKey> {
    keys.iter()
        .filter(|k| k.metric == ui::model::CPU_METRIC && k.instance.is_none())
        .filter(|k| !cursors.contains_key(*k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn series_on_screen_every_poll_the_rest_a_share_at_a_time_oldest_first() {
        let secs = Duration::from_secs;
        // Eight groups' CPU: g0 on screen, g7 never fetched, g1..g6 fetched 10..60 s ago.
        let keys: Vec<MetricKey> = (0..8)
            .map(|i| MetricKey::group_cpu(&format!("g{i}")))
            .collect();
        let age = |k: &MetricKey| match k.group.as_str() {
            "g7" => None,
            g => Some(secs(10 * g[1..].parse::<u64>().unwrap().max(1))),
        };
        let names = |ks: Vec<MetricKey>| ks.into_iter().map(|k| k.group).collect::<Vec<_>>();
        let due = due_series(&keys, age, |g| g == "g0", secs(15), secs(60));
        // Off the screen six series, a share of 6 x 15 / 60 = 2 a poll: of those at least
        // 48 s old (g5, g6), the oldest first.
        assert_eq!(names(due), ["g0", "g5", "g6", "g7"]);
        // Every series every poll without a screen to follow.
        let all = due_series(&keys, age, |_| true, secs(15), secs(60));
        assert_eq!(all.len(), 8);
        // Nothing due off the screen: only the screen's and the new.
        let fresh = |k: &MetricKey| (k.group != "g7").then_some(secs(1));
        let due = due_series(&keys, fresh, |g| g == "g0", secs(15), secs(60));
        assert_eq!(names(due), ["g0", "g7"]);
    }

    fn t(h: u32, m: u32, s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, s).unwrap()
    }

    #[test]
    fn each_series_is_asked_for_in_its_namespace_and_dimension() {
        let asked = |key: MetricKey| {
            let q = cpu_query("g0".into(), &key, 60);
            let stat = q.metric_stat().unwrap();
            let m = stat.metric().unwrap();
            let d = &m.dimensions()[0];
            [
                m.namespace().unwrap(),
                m.metric_name().unwrap(),
                d.name().unwrap(),
                d.value().unwrap(),
                stat.stat().unwrap(),
            ]
            .map(str::to_owned)
        };
        assert_eq!(
            asked(MetricKey::group_cpu("w")),
            [
                "AWS/EC2",
                "CPUUtilization",
                "AutoScalingGroupName",
                "w",
                "Average"
            ]
        );
        assert_eq!(
            asked(MetricKey::instance_cpu("w", "i-1")),
            ["AWS/EC2", "CPUUtilization", "InstanceId", "i-1", "Average"]
        );
        assert_eq!(
            asked(MetricKey::of("w", ui::GROUP_IN_SERVICE_METRIC)),
            [
                "AWS/AutoScaling",
                "GroupInServiceInstances",
                "AutoScalingGroupName",
                "w",
                "Maximum"
            ]
        );
        assert_eq!(
            asked(MetricKey::of("q", ui::QUEUE_VISIBLE_METRIC)),
            [
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                "q",
                "Maximum"
            ]
        );
        assert_eq!(
            asked(MetricKey::of("q", ui::QUEUE_OLDEST_AGE_METRIC)),
            [
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                "QueueName",
                "q",
                "Maximum"
            ]
        );
        assert_eq!(
            asked(MetricKey::of("w", ui::JOBS_SUCCEEDED_METRIC)),
            [
                "Flightdeck",
                "JobsSucceeded",
                "AutoScalingGroupName",
                "w",
                "Sum"
            ]
        );
    }

    #[test]
    fn the_period_follows_the_window() {
        assert_eq!(period_for(Duration::from_secs(15 * 60)), 60);
        assert_eq!(period_for(Duration::from_secs(3 * 3600)), 60);
        assert_eq!(period_for(Duration::from_secs(24 * 3600)), 300);
    }

    #[test]
    fn times_align_to_period_boundaries() {
        assert_eq!(align_down(t(10, 7, 42), 60), t(10, 7, 0));
        assert_eq!(align_down(t(10, 7, 42), 300), t(10, 5, 0));
        assert_eq!(align_up(t(10, 7, 42), 60), t(10, 8, 0));
        assert_eq!(align_up(t(10, 8, 0), 60), t(10, 8, 0));
    }

    #[test]
    fn groups_cpu_never_fetched_comes_first_and_alone() {
        let keys = vec![
            MetricKey::group_cpu("g1"),
            MetricKey::instance_cpu("g1", "i-1"),
            MetricKey::of("g1", ui::GROUP_DESIRED_METRIC),
            MetricKey::of("q1", "ApproximateNumberOfMessagesVisible"),
            MetricKey::group_cpu("g2"),
        ];
        let mut cursors = BTreeMap::new();
        assert_eq!(
            first_cpu(&keys, &cursors),
            [MetricKey::group_cpu("g1"), MetricKey::group_cpu("g2")]
        );
        cursors.insert(MetricKey::group_cpu("g1"), Cursor::default());
        assert_eq!(first_cpu(&keys, &cursors), [MetricKey::group_cpu("g2")]);
        cursors.insert(MetricKey::group_cpu("g2"), Cursor::default());
        assert!(first_cpu(&keys, &cursors).is_empty());
    }

    #[test]
    fn the_first_fetch_spans_the_window_and_later_ones_only_the_tail() {
        let now = t(12, 30, 20);
        let hour = Duration::from_secs(3600);
        let groups = vec!["api".to_owned(), "worker".to_owned()];
        let mut cursors = BTreeMap::new();
        assert_eq!(
            fetch_range(now, hour, 60, &cursors, &groups),
            (t(11, 30, 0), t(12, 31, 0))
        );

        // Both fetched to 12:31; worker's newest point is 12:29, api has none: 5 min back.
        cursors.insert(
            "worker".to_owned(),
            Cursor {
                newest: Some(t(12, 29, 0)),
                fetched_to: Some(t(12, 31, 0)),
                fetched_at: None,
            },
        );
        cursors.insert(
            "api".to_owned(),
            Cursor {
                newest: None,
                fetched_to: Some(t(12, 31, 0)),
                fetched_at: None,
            },
        );
        assert_eq!(
            fetch_range(t(12, 31, 5), hour, 60, &cursors, &groups),
            (t(12, 26, 0), t(12, 32, 0))
        );
        // A group seen for the first time pulls the batch back to the window's start.
        let three = vec!["api".into(), "worker".into(), "new".into()];
        assert_eq!(
            fetch_range(t(12, 31, 5), hour, 60, &cursors, &three).0,
            t(11, 31, 0)
        );
    }

    #[test]
    fn results_become_sorted_points_and_only_newer_ones_are_sent() {
        let r = MetricDataResult::builder()
            .id("g0")
            .timestamps(aws_smithy_types::DateTime::from_secs(
                t(10, 2, 0).timestamp(),
            ))
            .timestamps(aws_smithy_types::DateTime::from_secs(
                t(10, 1, 0).timestamp(),
            ))
            .timestamps(aws_smithy_types::DateTime::from_secs(
                t(10, 0, 0).timestamp(),
            ))
            .values(30.0)
            .values(f64::NAN)
            .values(10.0)
            .build();
        let p = points(&r);
        assert_eq!(
            p,
            vec![
                MetricPoint {
                    t: t(10, 0, 0),
                    value: 10.0
                },
                MetricPoint {
                    t: t(10, 2, 0),
                    value: 30.0
                },
            ]
        );
        let sent = newer(p.clone(), Some(t(10, 2, 0)));
        assert_eq!(sent.len(), 1);
        assert_eq!(newer(p, None).len(), 2);
    }
}
