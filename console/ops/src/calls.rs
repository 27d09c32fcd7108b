//! The console's own AWS call counter: every agent records each call it makes (one per page),
//! and the calls agent reports the last minute's counts by API name for the status line.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ui::{CallStats, Report};

/// Calls are counted over this sliding window (the status line shows calls per minute).
pub const WINDOW: Duration = Duration::from_secs(60);
const REPORT_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Call {
    at: Instant,
    api: &'static str,
    ok: bool,
}

/// A log of recent calls shared by the agents; the lock is held only to push or count.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<VecDeque<Call>>>,
}

impl CallLog {
    pub fn record(&self, api: &'static str, ok: bool) {
        self.record_at(Instant::now(), api, ok);
    }

    fn record_at(&self, at: Instant, api: &'static str, ok: bool) {
        if let Ok(mut calls) = self.calls.lock() {
            prune(&mut calls, at);
            calls.push_back(Call { at, api, ok });
        }
    }

    /// Counts of the calls made within [`WINDOW`] before `now`.
    pub fn stats_at(&self, now: Instant) -> CallStats {
        let Ok(mut calls) = self.calls.lock() else {
            return CallStats::default();
        };
        prune(&mut calls, now);
        let mut stats = CallStats::default();
        for c in calls.iter() {
            *stats.per_api.entry(c.api.to_owned()).or_default() += 1;
            if !c.ok {
                *stats.failed.entry(c.api.to_owned()).or_default() += 1;
            }
        }
        stats
    }
}

fn prune(calls: &mut VecDeque<Call>, now: Instant) {
    while calls
        .front()
        .is_some_and(|c| now.saturating_duration_since(c.at) > WINDOW)
    {
        calls.pop_front();
    }
}

/// Reports the call counts every few seconds until cancelled.
pub async fn run(log: CallLog, tx: mpsc::Sender<Report>, token: CancellationToken) {
    let mut every = tokio::time::interval(REPORT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = every.tick() => {}
        }
        let report = Report::Calls {
            at: Utc::now(),
            stats: log.stats_at(Instant::now()),
        };
        if tx.send(report).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counts_by_api_and_errors_within_the_last_minute() {
        let log = CallLog::default();
        let t0 = Instant::now();
        log.record_at(t0, "ListQueues", true);
        log.record_at(t0 + Duration::from_secs(10), "GetQueueAttributes", true);
        log.record_at(t0 + Duration::from_secs(11), "GetQueueAttributes", false);
        let stats = log.stats_at(t0 + Duration::from_secs(30));
        assert_eq!(stats.per_api["GetQueueAttributes"], 2);
        assert_eq!(stats.per_api["ListQueues"], 1);
        assert_eq!(stats.total(), 3);
        assert_eq!(stats.errors(), 1);
        assert_eq!(
            stats.failed.into_iter().collect::<Vec<_>>(),
            [("GetQueueAttributes".to_owned(), 1)]
        );

        // 65 s after the first call it has left the window; the others have not.
        let stats = log.stats_at(t0 + Duration::from_secs(65));
        assert!(!stats.per_api.contains_key("ListQueues"));
        assert_eq!(stats.total(), 2);
        let stats = log.stats_at(t0 + Duration::from_secs(200));
        assert_eq!(stats, CallStats::default());
    }
}
