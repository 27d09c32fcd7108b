//! What a run measured so far: HDR latency histograms (microseconds, 3 significant digits)
//! overall and per step, status and error counts, bytes, end-to-end processing, and the
//! recent window (rates over the last `WINDOW_S` seconds). The engine's tasks record into one
//! `Recorder`; `snapshot()` turns it into a `Progress`. Every request counter lives under the
//! one lock, so any snapshot adds up: `sent = ok + failed + cancelled + in_flight`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::client::FailureKind;

/// Highest latency a histogram holds (longer ones are recorded as this): one hour.
const MAX_MICROS: u64 = 3_600_000_000;

/// Length of the recent window that live rates (req/s, error rate, percentiles) cover.
pub const WINDOW_S: u64 = 10;

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
    /// Cut off by a cancel or the end of the graceful stop (for `processed`: the wait for it).
    pub cancelled: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: Histogram<u64>,
}

impl StepStats {
    fn new() -> StepStats {
        StepStats {
            ok: 0,
            failed: 0,
            cancelled: 0,
            errors: BTreeMap::new(),
            latency: new_histogram(),
        }
    }
}

/// Everything measured, behind the recorder's lock. Requests are those of the scenario's own
/// steps (get, upload), what thresholds judge; sign-up and login are only in `steps`.
pub struct Stats {
    /// Handed to the connection: `ok + failed + cancelled + in_flight`.
    pub sent: u64,
    /// Sent and not yet ended.
    pub in_flight: u64,
    /// Ended with an answer or an error: `ok + failed`.
    pub done: u64,
    pub ok: u64,
    pub failed: u64,
    /// Sent, then cut off by a cancel or the end of the graceful stop before it ended.
    pub cancelled: u64,
    /// Open model: arrivals that are due and wait for a send slot (`max_in_flight`).
    pub waiting: u64,
    /// Open model: arrivals that were due but never got a send slot before the run stopped.
    /// They were never sent, so they are not in `sent`.
    pub not_sent: u64,
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
    /// Completions of the last `WINDOW_S` seconds, for the live rates.
    pub recent: Window,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            sent: 0,
            in_flight: 0,
            done: 0,
            ok: 0,
            failed: 0,
            cancelled: 0,
            waiting: 0,
            not_sent: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            latency: new_histogram(),
            service: new_histogram(),
            steps: BTreeMap::new(),
            bytes_sent: 0,
            processed_bytes: 0,
            last_processed_s: 0.0,
            iterations: 0,
            recent: Window::new(),
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

/// The most error classes a count keeps apart by the API's `error_code`; past it, a new
/// code counts under its class alone (`http_503`), so a target that answers with ever new
/// codes cannot grow a run's maps.
pub const MAX_ERROR_KEYS: usize = 32;

/// Counts one failure under its key: the class (`timeout`, `http_503`), with the API's
/// `error_code` when the answer had one (`http_503/server_busy`).
fn count_error(errors: &mut BTreeMap<String, u64>, class: FailureKind, code: Option<&str>) {
    let key = match code {
        Some(code) => {
            let key = format!("{}/{code}", class.key());
            if errors.contains_key(&key) || errors.len() < MAX_ERROR_KEYS {
                key
            } else {
                class.key()
            }
        }
        None => class.key(),
    };
    *errors.entry(key).or_default() += 1;
}

/// How a request ended, as recorded.
pub struct Outcome {
    /// From the intended start to the whole response.
    pub latency: Duration,
    /// From the actual send to the whole response.
    pub service: Duration,
    pub status: Option<u16>,
    pub error: Option<FailureKind>,
    /// The API's `error_code` in a failed answer's body, when it had one.
    pub error_code: Option<String>,
    pub bytes_sent: u64,
    /// When it ended, in seconds since the load's clock started.
    pub at_s: f64,
}

/// Shared by all of a run's tasks.
pub struct Recorder {
    stats: Mutex<Stats>,
    pub active_vus: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            stats: Mutex::new(Stats::new()),
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
        let mut s = self.lock();
        s.sent += 1;
        s.in_flight += 1;
    }

    /// A step request ended (`counted`: a scenario step; else a sign-up or log-in, which has
    /// its own label but stays out of the totals that thresholds judge).
    pub fn finish(&self, label: &str, counted: bool, o: Outcome) {
        let mut s = self.lock();
        if counted {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.done += 1;
            let answered = o.status.map(|_| o.latency);
            s.recent.record(o.at_s, answered, o.error.is_some());
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
                    count_error(&mut s.errors, class, o.error_code.as_deref());
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
                count_error(&mut step.errors, class, o.error_code.as_deref());
            }
        }
    }

    /// A request was cut off by a cancel or the end of the graceful stop (`counted`: a
    /// scenario step's, as in `finish`).
    pub fn cancelled(&self, label: &str, counted: bool) {
        let mut s = self.lock();
        if counted {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.cancelled += 1;
        }
        if let Some(step) = s.step(label) {
            step.cancelled += 1;
        }
    }

    /// The wait for an uploaded video to be processed was cut off.
    pub fn processing_cut_off(&self) {
        if let Some(step) = self.lock().step("processed") {
            step.cancelled += 1;
        }
    }

    /// An arrival is due and waits for a send slot.
    pub fn waiting(&self) {
        self.lock().waiting += 1;
    }

    /// A waiting arrival got its send slot.
    pub fn got_slot(&self) {
        let mut s = self.lock();
        s.waiting = s.waiting.saturating_sub(1);
    }

    /// A waiting arrival was stopped before it got a send slot: it is never sent.
    pub fn never_sent(&self) {
        let mut s = self.lock();
        s.waiting = s.waiting.saturating_sub(1);
        s.not_sent += 1;
    }

    /// An uploaded video reached `processed` (or failed to): end-to-end latency.
    pub fn processed(&self, latency: Duration, result: Result<u64, FailureKind>, at_s: f64) {
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
                count_error(&mut step.errors, class, None);
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
///
/// The request counters always add up: `sent = ok + failed + cancelled + in_flight`
/// (`done = ok + failed`). Arrivals waiting for a send slot and those that never got one are
/// apart: they were not sent.
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
    /// Sent, then cut off by a cancel or the end of the graceful stop.
    pub cancelled: u64,
    pub in_flight: u64,
    /// Open model: arrivals due now that wait for a send slot (`max_in_flight`).
    pub waiting: u64,
    /// Open model: arrivals that never got a send slot before the run stopped (not sent).
    pub not_sent: u64,
    /// Rates over the last `WINDOW_S` seconds.
    pub recent: Recent,
    /// Completions per second over the whole run so far.
    pub rps_mean: f64,
    /// Latency percentiles over the whole run so far.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, u64>,
    pub histogram: Vec<Bucket>,
    pub bytes_sent: u64,
    pub processed: u64,
    /// End-to-end latency (upload accepted to video processed) percentiles, for scenarios that
    /// wait for processing.
    #[serde(default)]
    pub e2e_p50: Option<f64>,
    #[serde(default)]
    pub e2e_p95: Option<f64>,
    #[serde(default)]
    pub e2e_p99: Option<f64>,
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
            cancelled: 0,
            in_flight: 0,
            waiting: 0,
            not_sent: 0,
            recent: Recent::default(),
            rps_mean: 0.0,
            p50: None,
            p95: None,
            p99: None,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            histogram: Vec::new(),
            bytes_sent: 0,
            processed: 0,
            e2e_p50: None,
            e2e_p95: None,
            e2e_p99: None,
            mb_per_min: None,
        }
    }
}

/// MB (10^6 bytes) per minute over `secs`.
pub fn mb_per_min(bytes: u64, secs: f64) -> Option<f64> {
    (secs > 0.0 && bytes > 0).then(|| bytes as f64 / 1e6 / (secs / 60.0))
}

impl Recorder {
    /// A snapshot at `elapsed_s` seconds into the load; `base` carries the state and detail.
    pub fn snapshot(&self, base: &Progress, elapsed_s: f64) -> Progress {
        let s = self.lock();
        let processed_step = s.steps.get("processed");
        let processed = processed_step.map(|p| p.ok).unwrap_or(0);
        let e2e = |q: f64| processed_step.and_then(|p| quantile(&p.latency, q));
        Progress {
            elapsed_s,
            active_vus: self.active_vus.load(Ordering::Relaxed),
            sent: s.sent,
            done: s.done,
            ok: s.ok,
            failed: s.failed,
            cancelled: s.cancelled,
            in_flight: s.in_flight,
            waiting: s.waiting,
            not_sent: s.not_sent,
            recent: s.recent.recent(elapsed_s),
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
            e2e_p50: e2e(0.5),
            e2e_p95: e2e(0.95),
            e2e_p99: e2e(0.99),
            mb_per_min: mb_per_min(s.processed_bytes, s.last_processed_s),
            ..base.clone()
        }
    }
}

/// Rates over the recent window: what the load is doing now, not since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    /// The window's length, `WINDOW_S`.
    pub window_s: f64,
    /// Seconds the numbers cover: `window_s` once the run is that old, less before.
    pub covered_s: f64,
    /// Requests that ended in the window.
    pub ok: u64,
    pub failed: u64,
    /// Requests ended per second; `None` until a whole second is covered (one request in
    /// the first 250 ms is not 4 req/s).
    pub rps: Option<f64>,
    /// `failed` as a percentage of the requests that ended; `None` when none did.
    pub error_pct: Option<f64>,
    /// Latency percentiles of the answers in the window, in seconds.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// One second of completions.
struct Slot {
    second: Option<u64>,
    ok: u64,
    failed: u64,
    latency: Histogram<u64>,
}

/// Completions of the last `WINDOW_S` seconds in one-second slots, reused in a ring, so the
/// live rates cost the same memory at any request rate. Times are seconds since the load's
/// clock started. Latency here keeps 2 significant digits (1 %), plenty for a live view.
pub struct Window {
    slots: Vec<Slot>,
}

impl Default for Window {
    fn default() -> Self {
        Window::new()
    }
}

impl Window {
    // The bounds are constants hdrhistogram accepts (low >= 1, high >= 2 * low, 2 digits).
    #[allow(clippy::expect_used)]
    pub fn new() -> Window {
        let slots = (0..WINDOW_S)
            .map(|_| Slot {
                second: None,
                ok: 0,
                failed: 0,
                latency: Histogram::new_with_bounds(1, MAX_MICROS, 2)
                    .expect("constant, valid histogram bounds"),
            })
            .collect();
        Window { slots }
    }

    /// A request ended at `at_s`; `latency` when it was answered.
    pub fn record(&mut self, at_s: f64, latency: Option<Duration>, failed: bool) {
        let second = at_s.max(0.0) as u64;
        let len = self.slots.len() as u64;
        let Some(slot) = usize::try_from(second % len)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
        else {
            return;
        };
        match slot.second {
            // Recorded late, after its slot moved on: already outside the window.
            Some(s) if s > second => return,
            Some(s) if s == second => {}
            _ => {
                slot.second = Some(second);
                slot.ok = 0;
                slot.failed = 0;
                slot.latency.reset();
            }
        }
        if failed {
            slot.failed += 1;
        } else {
            slot.ok += 1;
        }
        if let Some(l) = latency {
            slot.latency.saturating_record(micros(l));
        }
    }

    /// The rates at `now_s`: the slots of the last `WINDOW_S` seconds, the current partial
    /// one included, over the time they really cover.
    pub fn recent(&self, now_s: f64) -> Recent {
        let now_s = now_s.max(0.0);
        let current = now_s as u64;
        let len = self.slots.len() as u64;
        let first = (current + 1).saturating_sub(len);
        let covered_s = now_s - first as f64;
        let mut latency: Option<Histogram<u64>> = None;
        let (mut ok, mut failed) = (0, 0);
        for slot in &self.slots {
            let Some(second) = slot.second else { continue };
            if second < first || second > current {
                continue;
            }
            ok += slot.ok;
            failed += slot.failed;
            match &mut latency {
                None => latency = Some(slot.latency.clone()),
                Some(h) => {
                    // Same bounds: adding cannot fail.
                    let _ = h.add(&slot.latency);
                }
            }
        }
        let done = ok + failed;
        let q = |p: f64| latency.as_ref().and_then(|h| quantile(h, p));
        Recent {
            window_s: len as f64,
            covered_s,
            ok,
            failed,
            rps: (covered_s >= 1.0).then(|| done as f64 / covered_s),
            error_pct: (done > 0).then(|| failed as f64 * 100.0 / done as f64),
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
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
            error_code: None,
            bytes_sent: 10,
            at_s: 1.5,
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
                error: Some(FailureKind::Timeout),
                ..ok(5000)
            },
        );
        r.start();
        r.finish(
            "get /",
            true,
            Outcome {
                status: Some(503),
                error: Some(FailureKind::Http(503)),
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
        assert_eq!((s.sent, s.in_flight), (102, 0));
    }

    #[test]
    fn failed_answers_count_under_their_api_error_code_up_to_a_bound() {
        let r = Recorder::default();
        let answer = |status: u16, code: Option<&str>| Outcome {
            status: Some(status),
            error: Some(FailureKind::Http(status)),
            error_code: code.map(str::to_owned),
            ..ok(7)
        };
        for code in ["server_busy", "server_busy", "storage_unavailable"] {
            r.finish("post /api/videos", true, answer(503, Some(code)));
        }
        r.finish("post /api/videos", true, answer(502, None));
        {
            let s = r.lock();
            let keys: Vec<(&str, u64)> = s.errors.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            assert_eq!(
                keys,
                [
                    ("http_502", 1),
                    ("http_503/server_busy", 2),
                    ("http_503/storage_unavailable", 1)
                ]
            );
            assert_eq!(
                s.steps["post /api/videos"].errors, s.errors,
                "the step's too"
            );
        }
        // A target answering with ever new codes: the map stops growing at the bound, and
        // every answer is still counted.
        for i in 0..100 {
            r.finish(
                "post /api/videos",
                true,
                answer(500, Some(&format!("code_{i}"))),
            );
        }
        let s = r.lock();
        assert_eq!(s.errors.len(), MAX_ERROR_KEYS + 1, "{:?}", s.errors);
        assert!(s.errors.contains_key("http_500"));
        assert_eq!(s.errors.values().sum::<u64>(), 104);
        assert_eq!(s.failed, 104);
    }

    #[test]
    fn every_request_is_accounted_for_in_each_snapshot() {
        let r = Recorder::default();
        let adds_up = |p: &Progress| {
            assert_eq!(p.sent, p.ok + p.failed + p.cancelled + p.in_flight, "{p:?}");
            assert_eq!(p.done, p.ok + p.failed, "{p:?}");
        };
        let base = Progress::preparing("t", "", 10.0);
        for _ in 0..5 {
            r.start();
        }
        adds_up(&r.snapshot(&base, 1.0));
        r.finish("get /", true, ok(3));
        r.finish(
            "get /",
            true,
            Outcome {
                status: None,
                error: Some(FailureKind::Timeout),
                ..ok(60_000)
            },
        );
        r.cancelled("get /", true);
        // Sign-ups are not the scenario's requests: they stay out of the counts.
        r.finish("signup", false, ok(3));
        r.cancelled("login", false);
        // Arrivals that wait for a slot are not sent; one gets it, one never does.
        r.waiting();
        r.waiting();
        r.got_slot();
        r.never_sent();
        let p = r.snapshot(&base, 2.0);
        adds_up(&p);
        assert_eq!(
            (p.sent, p.ok, p.failed, p.cancelled, p.in_flight),
            (5, 1, 1, 1, 2)
        );
        assert_eq!((p.waiting, p.not_sent), (0, 1));
        let s = r.lock();
        let get = &s.steps["get /"];
        assert_eq!((get.ok, get.failed, get.cancelled), (1, 1, 1));
        assert_eq!(s.steps["login"].cancelled, 1);
    }

    fn second(ms: u64) -> Option<Duration> {
        Some(Duration::from_millis(ms))
    }

    #[test]
    fn the_window_rates_cover_only_the_last_seconds() {
        let mut w = Window::new();
        // A slow, failing start: 20 answers of 900 ms in second 2, half of them errors.
        for i in 0..20 {
            w.record(2.5, second(900), i % 2 == 0);
        }
        // Then 10 fast answers per second in seconds 20..=29.
        for sec in 20..30 {
            for _ in 0..10 {
                w.record(f64::from(sec) + 0.5, second(10), false);
            }
        }
        let r = w.recent(29.5);
        assert_eq!(r.window_s, WINDOW_S as f64);
        assert!((r.covered_s - 9.5).abs() < 1e-9, "{r:?}");
        assert_eq!((r.ok, r.failed), (100, 0), "the start is out of the window");
        assert!((r.rps.unwrap() - 100.0 / 9.5).abs() < 1e-9, "{r:?}");
        assert_eq!(r.error_pct, Some(0.0));
        let p95 = r.p95.unwrap();
        assert!((0.0099..=0.0101).contains(&p95), "{r:?}");
        // Later, with nothing new, the window empties second by second.
        let r = w.recent(35.0);
        assert_eq!((r.ok, r.failed), (40, 0), "seconds 26..=29 remain");
        let r = w.recent(45.0);
        assert_eq!(
            (r.ok, r.failed, r.rps, r.error_pct, r.p50),
            (0, 0, Some(0.0), None, None)
        );
    }

    #[test]
    fn the_window_at_the_start_of_a_run() {
        let mut w = Window::new();
        w.record(0.1, second(50), false);
        // One request in the first 250 ms is no rate yet.
        let r = w.recent(0.25);
        assert_eq!(r.rps, None);
        assert_eq!(r.ok, 1);
        w.record(1.2, second(70), true);
        w.record(1.4, None, true);
        let r = w.recent(2.0);
        assert!((r.covered_s - 2.0).abs() < 1e-9, "{r:?}");
        assert!((r.rps.unwrap() - 1.5).abs() < 1e-9, "{r:?}");
        let pct = r.error_pct.unwrap();
        assert!((pct - 200.0 / 3.0).abs() < 1e-9, "{r:?}");
        // Only answered requests have a latency: 50 and 70 ms.
        assert!((0.069..=0.071).contains(&r.p99.unwrap()), "{r:?}");
    }

    #[test]
    fn a_late_record_does_not_overwrite_a_newer_second() {
        let mut w = Window::new();
        w.record(15.5, second(10), false);
        // Second 5 shares slot 5 with second 15, and is out of the window at 15.9 anyway.
        w.record(5.5, second(10), true);
        let r = w.recent(15.9);
        assert_eq!((r.ok, r.failed), (1, 0));
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
