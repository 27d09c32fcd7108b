//! The API's Prometheus metrics: requests by route and status, a latency histogram by route,
//! upload bytes and outcomes. Kept in process and rendered as text at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Tables {
    /// (method, route, status) -> count
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    /// outcome (`stored`, or an error code) -> count
    uploads: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
    upload_bytes: AtomicU64,
    /// 5xx answers since the CloudWatch publisher last took them ([`Metrics::take_5xx`]).
    server_errors: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if status >= 500 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(mut t) = self.tables.lock() else {
            return;
        };
        *t.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = t.latency.entry(route.to_owned()).or_default();
        let secs = elapsed.as_secs_f64();
        h.count += 1;
        h.sum += secs;
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
    }

    /// The 5xx answers counted since the last call, and starts a new count.
    pub fn take_5xx(&self) -> u64 {
        self.server_errors.swap(0, Ordering::Relaxed)
    }

    /// Puts back a count [`Metrics::take_5xx`] took that could not be published.
    pub fn restore_5xx(&self, n: u64) {
        self.server_errors.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes received from clients for uploads (counted as they stream in).
    pub fn add_upload_bytes(&self, n: u64) {
        self.upload_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_upload(&self, outcome: &str) {
        if let Ok(mut t) = self.tables.lock() {
            *t.uploads.entry(outcome.to_owned()).or_default() += 1;
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
            "# HELP flightdeck_api_requests_total HTTP requests handled, by route and status."
        );
        let _ = writeln!(out, "# TYPE flightdeck_api_requests_total counter");
        for ((method, route, status), n) in &t.requests {
            let _ = writeln!(
                out,
                "flightdeck_api_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP flightdeck_api_request_duration_seconds Time to answer a request, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE flightdeck_api_request_duration_seconds histogram"
        );
        for (route, h) in &t.latency {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "flightdeck_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "flightdeck_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "flightdeck_api_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "flightdeck_api_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP flightdeck_api_upload_bytes_total Upload bytes received from clients."
        );
        let _ = writeln!(out, "# TYPE flightdeck_api_upload_bytes_total counter");
        let _ = writeln!(
            out,
            "flightdeck_api_upload_bytes_total {}",
            self.upload_bytes.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP flightdeck_api_uploads_total Uploads by outcome (stored, or the error code)."
        );
        let _ = writeln!(out, "# TYPE flightdeck_api_uploads_total counter");
        for (outcome, n) in &t.uploads {
            let _ = writeln!(
                out,
                "flightdeck_api_uploads_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let mut out = state.metrics().render();
    let pool = state.part_buffers();
    for (name, kind, help, value) in [
        ("part_buffers", "gauge", "Shared upload part buffers (each api::PART_SIZE bytes).", pool.count()),
        ("part_buffers_in_use", "gauge", "Part buffers uploads hold now.", pool.in_use()),
        ("part_buffers_waiting", "gauge", "Uploads waiting for a part buffer now.", pool.waiting()),
        (
            "part_buffers_allocated_total",
            "counter",
            "Part buffers allocated since the start: stays at part_buffers while they are reused.",
            pool.allocated(),
        ),
        (
            "part_buffers_refused_total",
            "counter",
            "Uploads refused a part buffer (503 server_busy): the queue was full or the wait too long.",
            pool.refused(),
        ),
    ] {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP flightdeck_api_{name} {help}");
        let _ = writeln!(out, "# TYPE flightdeck_api_{name} {kind}");
        let _ = writeln!(out, "flightdeck_api_{name} {value}");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record_request("GET", "/api/health", 200, Duration::from_millis(3));
        m.record_request("GET", "/api/health", 503, Duration::from_millis(700));
        let text = m.render();
        assert!(text.contains(
            "flightdeck_api_requests_total{method=\"GET\",route=\"/api/health\",status=\"503\"} 1"
        ));
        assert!(text.contains(
            "flightdeck_api_request_duration_seconds_bucket{route=\"/api/health\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "flightdeck_api_request_duration_seconds_bucket{route=\"/api/health\",le=\"1\"} 2"
        ));
        assert!(
            text.contains("flightdeck_api_request_duration_seconds_count{route=\"/api/health\"} 2")
        );
    }
}
