//! The worker's metrics, fed once per settled job and per transfer: cumulative totals for
//! Prometheus (`GET /metrics`, the same hand-written text exposition as the API's) and
//! per-interval totals that the CloudWatch publisher takes and sends.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::consumer::Outcome;

/// Upper bounds of the job duration histogram, in seconds (a 4 MB job takes ~4 s, 50 MB ~10 s).
pub const DURATION_BUCKETS: [f64; 12] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// CloudWatch's StatisticSet for one interval's job durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondsStats {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// What happened since the CloudWatch publisher last took the totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interval {
    /// Jobs that stored their output (`processed`).
    pub succeeded: u64,
    /// Jobs that failed: dead-lettered or released with a backoff.
    pub failed: u64,
    /// Input bytes of the succeeded jobs.
    pub processed_bytes: u64,
    /// Durations of the succeeded and failed jobs.
    pub seconds: Option<SecondsStats>,
}

impl Interval {
    pub fn is_empty(&self) -> bool {
        *self == Interval::default()
    }

    /// Adds `other` (a batch that could not be sent) back into this one.
    pub fn merge(&mut self, other: Interval) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.processed_bytes += other.processed_bytes;
        self.seconds = match (self.seconds, other.seconds) {
            (Some(a), Some(b)) => Some(SecondsStats {
                count: a.count + b.count,
                sum: a.sum + b.sum,
                min: a.min.min(b.min),
                max: a.max.max(b.max),
            }),
            (a, b) => a.or(b),
        };
    }

    fn add_seconds(&mut self, secs: f64) {
        let s = self.seconds.get_or_insert(SecondsStats {
            count: 0,
            sum: 0.0,
            min: secs,
            max: secs,
        });
        s.count += 1;
        s.sum += secs;
        s.min = s.min.min(secs);
        s.max = s.max.max(secs);
    }
}

#[derive(Default)]
struct Tables {
    /// outcome label -> jobs
    jobs: BTreeMap<&'static str, u64>,
    /// outcome label -> durations
    durations: BTreeMap<&'static str, Histogram>,
    interval: Interval,
}

#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    in_flight: AtomicU64,
    slots: AtomicU64,
}

/// Counts one running job while it lives.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn set_slots(&self, slots: usize) {
        self.slots.store(slots as u64, Ordering::Relaxed);
    }

    /// A job started; it counts as in flight until the guard is dropped.
    pub fn job_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Bytes downloaded from S3 (every download that completed, whatever the job's outcome).
    pub fn add_bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes uploaded to S3 (completed outputs).
    pub fn add_bytes_out(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }

    /// A job was settled after `elapsed`.
    pub fn record(&self, outcome: &Outcome, elapsed: Duration) {
        let Ok(mut t) = self.tables.lock() else {
            return;
        };
        let label = outcome.label();
        *t.jobs.entry(label).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let h = t.durations.entry(label).or_default();
        h.count += 1;
        h.sum += secs;
        for (bound, count) in DURATION_BUCKETS.iter().zip(h.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        match outcome {
            Outcome::Processed { bytes_in, .. } => {
                t.interval.succeeded += 1;
                t.interval.processed_bytes += bytes_in;
                t.interval.add_seconds(secs);
            }
            Outcome::DeadLettered { .. } | Outcome::Released { .. } => {
                t.interval.failed += 1;
                t.interval.add_seconds(secs);
            }
            // Neither did work: a duplicate delivery, or a job cut short by shutdown.
            Outcome::AlreadyProcessed { .. } | Outcome::ReleasedForShutdown { .. } => {}
        }
    }

    /// Takes the totals since the last call (the CloudWatch publisher's batch).
    pub fn take_interval(&self) -> Interval {
        self.tables
            .lock()
            .map(|mut t| std::mem::take(&mut t.interval))
            .unwrap_or_default()
    }

    /// Puts back a batch that could not be sent, so the next one carries it.
    pub fn restore_interval(&self, batch: Interval) {
        if let Ok(mut t) = self.tables.lock() {
            t.interval.merge(batch);
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(t) = self.tables.lock() else {
            return out;
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP flightdeck_worker_jobs_total Jobs settled, by outcome."
        );
        let _ = writeln!(out, "# TYPE flightdeck_worker_jobs_total counter");
        for (outcome, n) in &t.jobs {
            let _ = writeln!(
                out,
                "flightdeck_worker_jobs_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP flightdeck_worker_job_duration_seconds Time from receive to settled, by outcome."
        );
        let _ = writeln!(
            out,
            "# TYPE flightdeck_worker_job_duration_seconds histogram"
        );
        for (outcome, h) in &t.durations {
            for (bound, n) in DURATION_BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "flightdeck_worker_job_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "flightdeck_worker_job_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "flightdeck_worker_job_duration_seconds_sum{{outcome=\"{outcome}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "flightdeck_worker_job_duration_seconds_count{{outcome=\"{outcome}\"}} {}",
                h.count
            );
        }
        for (name, help, value) in [
            (
                "flightdeck_worker_bytes_in_total",
                "Bytes downloaded from S3 (uploads to transform).",
                &self.bytes_in,
            ),
            (
                "flightdeck_worker_bytes_out_total",
                "Bytes uploaded to S3 (transformed outputs).",
                &self.bytes_out,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        for (name, help, value) in [
            (
                "flightdeck_worker_jobs_in_flight",
                "Jobs held now: received and not yet settled (up to two per slot with the overlap).",
                &self.in_flight,
            ),
            (
                "flightdeck_worker_slots",
                "Transforms this worker runs at once (--concurrency).",
                &self.slots,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

/// `GET /metrics`; anything else is 404.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// Binds `addr` (port 0 picks a free port) and returns the listener and its real address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}

/// Serves `/metrics` on `listener` until `stop`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn processed(bytes_in: u64) -> Outcome {
        Outcome::Processed {
            video_id: Uuid::nil(),
            key: "processed/x.mp4".into(),
            bytes_in,
            bytes_out: 1,
        }
    }

    #[test]
    fn outcomes_feed_the_histogram_and_the_interval() {
        let m = Metrics::default();
        m.record(&processed(4_000_000), Duration::from_millis(4200));
        m.record(&processed(50_000_000), Duration::from_millis(9000));
        m.record(
            &Outcome::DeadLettered {
                video_id: None,
                reason: "not_a_video",
            },
            Duration::from_millis(300),
        );
        m.record(
            &Outcome::ReleasedForShutdown { video_id: None },
            Duration::from_secs(1),
        );
        let text = m.render();
        assert!(text.contains("flightdeck_worker_jobs_total{outcome=\"processed\"} 2"));
        assert!(text.contains("flightdeck_worker_jobs_total{outcome=\"dead_lettered\"} 1"));
        assert!(text.contains(
            "flightdeck_worker_job_duration_seconds_bucket{outcome=\"processed\",le=\"5\"} 1"
        ));
        assert!(text.contains(
            "flightdeck_worker_job_duration_seconds_bucket{outcome=\"processed\",le=\"10\"} 2"
        ));
        assert!(
            text.contains("flightdeck_worker_job_duration_seconds_count{outcome=\"processed\"} 2")
        );

        let batch = m.take_interval();
        assert_eq!(batch.succeeded, 2);
        assert_eq!(batch.failed, 1);
        assert_eq!(batch.processed_bytes, 54_000_000);
        let s = batch.seconds.unwrap();
        assert_eq!(s.count, 3);
        assert!((s.sum - 13.5).abs() < 1e-9);
        assert!((s.min - 0.3).abs() < 1e-9 && (s.max - 9.0).abs() < 1e-9);
        // Taken: the next batch starts empty, and a restored one comes back whole.
        assert!(m.take_interval().is_empty());
        m.restore_interval(batch.clone());
        m.record(&processed(1), Duration::from_secs(20));
        let again = m.take_interval();
        assert_eq!(again.succeeded, 3);
        assert_eq!(again.seconds.unwrap().max, 20.0);
    }

    #[test]
    fn in_flight_counts_live_guards() {
        let m = Metrics::default();
        let a = m.job_started();
        let b = m.job_started();
        assert_eq!(m.in_flight(), 2);
        drop(a);
        assert!(m.render().contains("flightdeck_worker_jobs_in_flight 1\n"));
        drop(b);
        assert_eq!(m.in_flight(), 0);
    }
}
