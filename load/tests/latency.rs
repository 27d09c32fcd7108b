//! Percentiles against servers with known delays, and latency measured from the intended
//! send time in the open model (no coordinated omission).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;

/// Every 10th request takes 200 ms, the others 10 ms.
fn delayed_server() -> Router {
    let n = Arc::new(AtomicU64::new(0));
    Router::new().route(
        "/delay",
        get(move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move {
                let ms = if i % 10 == 9 { 200 } else { 10 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "ok"
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentiles_match_injected_delays() {
    let url = common::serve(delayed_server()).await;
    let s = common::scenario(
        r#"
        thresholds = ["median < 50ms", "p95 < 150ms"]
        [closed]
        vus = 4
        duration = "60s"
        iterations = 200
        [[steps]]
        get = "/delay"
        "#,
    );
    let r = common::run(s, &[url]).await;
    assert_eq!(r.requests.sent, 200);
    assert_eq!(r.requests.ok, 200);
    let l = r.latency.unwrap();
    let ms = |s: f64| s * 1000.0;
    assert_eq!(l.count, 200);
    assert!(ms(l.min) >= 10.0, "min {l:?}");
    assert!((10.0..100.0).contains(&ms(l.median)), "median {l:?}");
    assert!((200.0..300.0).contains(&ms(l.p95)), "p95 {l:?}");
    assert!((200.0..400.0).contains(&ms(l.max)), "max {l:?}");
    // 180 fast and 20 slow requests: p90 sits on the fast side, p95 on the slow side.
    // (Bounds leave room for a busy machine; the two groups are 190 ms apart.)
    assert!(ms(l.p90) < 150.0, "p90 {l:?}");
    let step = r.steps.iter().find(|s| s.label == "get /delay").unwrap();
    assert_eq!(step.ok, 200);
    // The median threshold passes, the p95 one fails, so the run fails.
    assert!(
        r.thresholds[0].passed && !r.thresholds[1].passed,
        "{:?}",
        r.thresholds
    );
    assert!(!r.passed);
    // The histogram holds every request: 180 within 100 ms, all 200 within 500 ms.
    let up_to = |ms: f64| {
        r.histogram
            .iter()
            .filter(|b| b.le_ms.is_some_and(|le| le <= ms))
            .map(|b| b.count)
            .sum::<u64>()
    };
    assert_eq!(up_to(100.0), 180);
    assert_eq!(up_to(500.0), 200);
}

/// One request stalls the server's only slot for 1 s. With one request in flight at a
/// time, later arrivals wait; measured from their intended time they show the stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_latency_counts_from_the_intended_send_time() {
    let n = Arc::new(AtomicU64::new(0));
    let url = common::serve(Router::new().route(
        "/stall",
        get(move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move {
                let ms = if i == 20 { 1000 } else { 1 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "ok"
            }
        }),
    ))
    .await;
    // 20/s for 5 s = 100 arrivals, at most one in flight.
    let s = common::scenario(
        r#"
        [open]
        phases = [{ duration = "5s", rate = 20 }]
        max_in_flight = 1
        [[steps]]
        get = "/stall"
        "#,
    );
    let r = common::run(s, &[url]).await;
    assert_eq!(r.requests.ok, 100);
    let latency = r.latency.unwrap();
    let service = r.service_time.unwrap();
    // About 20 arrivals fall in the stall and wait up to 1 s: from the intended time the
    // p90 is hundreds of ms; from the actual send (what a closed loop would see) it is not.
    assert!(latency.p90 > 0.3, "latency {latency:?}");
    assert!(latency.max >= 1.0, "latency {latency:?}");
    assert!(service.p90 < 0.05, "service {service:?}");
    assert!(service.max >= 1.0, "service {service:?}");
}
