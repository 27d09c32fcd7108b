//! What a run measured so far: HDR latency histograms (microseconds, 3 significant digits)
//! overall and per step, status and error counts, bytes, and end-to-end processing. The
//! engine's tasks record into one `Recorder`; `snapshot()` turns it into a `Progress`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::client::ErrorClass;

/// Highest latency a histogram holds (longer ones are recorded as this): one hour.
const MAX_MICROS: u64 = 3_600_000_000;

/// Upper bounds (ms) of the coarse latency buckets shown live and in reports.
pub const BUCKETS_MS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0,
];

// The bounds are constants hdrhistogram accepts (low >= 1, high >= 2 * low, 3 digits).
#[allow(clippy::expect_used)]
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant, valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Latency statistics in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let s = |us: u64| us as f64 / 1e6;
        Some(Latency {
            count: h.len(),
            min: s(h.min()),
            max: s(h.max()),
            mean: h.mean() / 1e6,
            median: s(h.value_at_quantile(0.5)),
            p90: s(h.value_at_quantile(0.90)),
            p95: s(h.value_at_quantile(0.95)),
            p99: s(h.value_at_quantile(0.99)),
            p999: s(h.value_at_quantile(0.999)),
        })
    }
}

/// A percentile of a histogram in seconds.
pub fn quantile(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e6)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Upper bound in milliseconds; `None` for the overflow bucket.
    pub le_ms: Option<f64>,
    pub count: u64,
}

pub fn buckets(h: &Histogram<u64>) -> Vec<Bucket> {
    let mut out = Vec::with_capacity(BUCKETS_MS.len() + 1);
    let mut below = 0;
    for le in BUCKETS_MS {
        let upto = h.count_between(0, (le * 1000.0) as u64);
        out.push(Bucket {
            le_ms: Some(le),
            count: upto - below,
        });
        below = upto;
    }
    out.push(Bucket {
        le_ms: None,
        count: h.len() - below,
    });
    out
}

/// Counts and latencies of one step label (`upload`, `get /api/health`, `login`, `processed`).
pub struct StepStats {
    pub ok: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: Histogram<u64>,
}

impl StepStats {
    fn new() -> StepStats {
        StepStats {
            ok: 0,
            failed: 0,
            errors: BTreeMap::new(),
            latency: new_histogram(),
        }
    }
}

/// Everything measured, behind the recorder's lock.
pub struct Stats {
    /// Requests of the scenario's own steps (get, upload); what thresholds judge.
    pub done: u64,
    pub ok: u64,
    pub failed: u64,
    /// Requests cut off by a stop or cancel before they finished (not in `done`).
    pub interrupted: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, u64>,
    /// Latency of every step request that got a response, from its intended start.
    pub latency: Histogram<u64>,
    /// From the moment the request was actually sent (differs in the open model when the
    /// runner or the in-flight limit delays a send).
    pub service: Histogram<u64>,
    pub steps: BTreeMap<String, StepStats>,
    pub bytes_sent: u64,
    pub processed_bytes: u64,
    /// Seconds into the run when the last video was seen `processed`.
    pub last_processed_s: f64,
    pub iterations: u64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            done: 0,
            ok: 0,
            failed: 0,
            interrupted: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            latency: new_histogram(),
            service: new_histogram(),
            steps: BTreeMap::new(),
            bytes_sent: 0,
            processed_bytes: 0,
            last_processed_s: 0.0,
            iterations: 0,
        }
    }

    /// The label's stats, created on first use; no allocation once it exists (hot path).
    fn step(&mut self, label: &str) -> Option<&mut StepStats> {
        if !self.steps.contains_key(label) {
            self.steps.insert(label.to_string(), StepStats::new());
        }
        self.steps.get_mut(label)
    }
}

/// How a request ended, as recorded.
pub struct Outcome {
    /// From the intended start to the whole response.
    pub latency: Duration,
    /// From the actual send to the whole response.
    pub service: Duration,
    pub status: Option<u16>,
    pub error: Option<ErrorClass>,
    pub bytes_sent: u64,
}

/// Shared by all of a run's tasks.
pub struct Recorder {
    stats: Mutex<Stats>,
    pub sent: AtomicU64,
    pub in_flight: AtomicU64,
    pub active_vus: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            stats: Mutex::new(Stats::new()),
            sent: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            active_vus: AtomicU64::new(0),
        }
    }
}

impl Recorder {
    pub fn lock(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A step request is about to be sent.
    pub fn start(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A step request ended (`counted`: a scenario step; else a sign-up or log-in, which has
    /// its own label but stays out of the totals that thresholds judge).
    pub fn finish(&self, label: &str, counted: bool, o: Outcome) {
        if counted {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        let mut s = self.lock();
        if counted {
            s.done += 1;
            s.bytes_sent += o.bytes_sent;
            if let Some(code) = o.status {
                *s.statuses.entry(code).or_default() += 1;
                s.latency.saturating_record(micros(o.latency));
                s.service.saturating_record(micros(o.service));
            }
            match o.error {
                None => s.ok += 1,
                Some(class) => {
                    s.failed += 1;
                    *s.errors.entry(class.key()).or_default() += 1;
                }
            }
        }
        let Some(step) = s.step(label) else { return };
        if o.status.is_some() {
            step.latency.saturating_record(micros(o.latency));
        }
        match o.error {
            None => step.ok += 1,
            Some(class) => {
                step.failed += 1;
                *step.errors.entry(class.key()).or_default() += 1;
            }
        }
    }

    /// A counted request was cut off by a stop.
    pub fn interrupted(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.lock().interrupted += 1;
    }

    /// An uploaded video reached `processed` (or failed to): end-to-end latency.
    pub fn processed(&self, latency: Duration, result: Result<u64, ErrorClass>, at_s: f64) {
        let mut s = self.lock();
        if let Ok(bytes) = result {
            s.processed_bytes += bytes;
            s.last_processed_s = s.last_processed_s.max(at_s);
        }
        let Some(step) = s.step("processed") else {
            return;
        };
        match result {
            Ok(_) => {
                step.ok += 1;
                step.latency.saturating_record(micros(latency));
            }
            Err(class) => {
                step.failed += 1;
                *step.errors.entry(class.key()).or_default() += 1;
            }
        }
    }

    pub fn iteration(&self) {
        self.lock().iterations += 1;
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Making test videos and accounts; the clock has not started.
    Preparing,
    Running,
    /// The load is over; waiting (up to the graceful stop) for running iterations.
    Stopping,
    Finished,
    Cancelled,
}

/// A live view of a run, published on a `watch` channel a few times a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub scenario: String,
    pub state: RunState,
    /// What is happening, e.g. "making the 4mb test video" or "stage 1/2: 3 of 5 VUs".
    pub detail: String,
    pub elapsed_s: f64,
    pub planned_s: f64,
    /// VUs wanted now (closed model) or arrivals per second wanted now (open model).
    pub target: f64,
    pub active_vus: u64,
    pub sent: u64,
    pub done: u64,
    pub ok: u64,
    pub failed: u64,
    pub in_flight: u64,
    /// Completions per second since the previous snapshot.
    pub rps_now: f64,
    pub rps_mean: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, u64>,
    pub histogram: Vec<Bucket>,
    pub bytes_sent: u64,
    pub processed: u64,
    pub mb_per_min: Option<f64>,
}

impl Progress {
    pub fn preparing(scenario: &str, detail: &str, planned_s: f64) -> Progress {
        Progress {
            scenario: scenario.to_string(),
            state: RunState::Preparing,
            detail: detail.to_string(),
            elapsed_s: 0.0,
            planned_s,
            target: 0.0,
            active_vus: 0,
            sent: 0,
            done: 0,
            ok: 0,
            failed: 0,
            in_flight: 0,
            rps_now: 0.0,
            rps_mean: 0.0,
            p50: None,
            p95: None,
            p99: None,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            histogram: Vec::new(),
            bytes_sent: 0,
            processed: 0,
            mb_per_min: None,
        }
    }
}

/// MB (10^6 bytes) per minute over `secs`.
pub fn mb_per_min(bytes: u64, secs: f64) -> Option<f64> {
    (secs > 0.0 && bytes > 0).then(|| bytes as f64 / 1e6 / (secs / 60.0))
}

impl Recorder {
    /// A snapshot; `prev` is the previous one (for the current rate).
    pub fn snapshot(&self, base: &Progress, elapsed_s: f64, prev: Option<&Progress>) -> Progress {
        let s = self.lock();
        let rps_now = match prev {
            Some(p) if elapsed_s > p.elapsed_s => {
                (s.done.saturating_sub(p.done)) as f64 / (elapsed_s - p.elapsed_s)
            }
            _ => 0.0,
        };
        let processed = s.steps.get("processed").map(|p| p.ok).unwrap_or(0);
        Progress {
            elapsed_s,
            active_vus: self.active_vus.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            done: s.done,
            ok: s.ok,
            failed: s.failed,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            rps_now,
            rps_mean: if elapsed_s > 0.0 {
                s.done as f64 / elapsed_s
            } else {
                0.0
            },
            p50: quantile(&s.latency, 0.5),
            p95: quantile(&s.latency, 0.95),
            p99: quantile(&s.latency, 0.99),
            statuses: s.statuses.clone(),
            errors: s.errors.clone(),
            histogram: buckets(&s.latency),
            bytes_sent: s.bytes_sent,
            processed,
            mb_per_min: mb_per_min(s.processed_bytes, s.last_processed_s),
            ..base.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ms: u64) -> Outcome {
        Outcome {
            latency: Duration::from_millis(ms),
            service: Duration::from_millis(ms),
            status: Some(200),
            error: None,
            bytes_sent: 10,
        }
    }

    #[test]
    fn records_and_summarises() {
        let r = Recorder::default();
        for ms in 1..=100 {
            r.start();
            r.finish("get /", true, ok(ms));
        }
        r.start();
        r.finish(
            "get /",
            true,
            Outcome {
                status: None,
                error: Some(ErrorClass::Timeout),
                ..ok(5000)
            },
        );
        r.start();
        r.finish(
            "get /",
            true,
            Outcome {
                status: Some(503),
                error: Some(ErrorClass::Http(503)),
                ..ok(7)
            },
        );
        r.finish("login", false, ok(3));
        let s = r.lock();
        assert_eq!((s.done, s.ok, s.failed), (102, 100, 2));
        assert_eq!(s.errors.get("timeout"), Some(&1));
        assert_eq!(s.errors.get("http_503"), Some(&1));
        assert_eq!(s.statuses.get(&200), Some(&100));
        // The timeout has no response, so no latency; the 503 has one.
        assert_eq!(s.latency.len(), 101);
        let l = Latency::of(&s.latency).unwrap();
        assert!((l.median - 0.050).abs() < 0.001, "{l:?}");
        assert!((l.max - 0.100).abs() < 0.001, "{l:?}");
        assert_eq!(s.steps["login"].ok, 1);
        assert_eq!(s.bytes_sent, 1020);
        drop(s);
        assert_eq!(r.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn buckets_partition_the_histogram() {
        let mut h = new_histogram();
        for us in [500, 1_500, 40_000, 40_000_000] {
            h.record(us).unwrap();
        }
        let b = buckets(&h);
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 4);
        assert_eq!(b[0].count, 1);
        assert_eq!(b[1].count, 1);
        assert_eq!(b.last().unwrap().count, 1);
    }
}
