//! The open-model scheduler keeps its arrival rate: over 30 s against a local server, the
//! server sees the planned number of requests, phase by phase, within 2 %.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::routing::get;
use axum::Router;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_hits_the_arrival_rate_within_2_percent_over_30_s() {
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = seen.clone();
    let url = common::serve(Router::new().route(
        "/hit",
        get(move || {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(Instant::now());
                "ok"
            }
        }),
    ))
    .await;
    // 15 s at 40/s (600), then 15 s ramping 40 -> 80/s (900): 1500 arrivals in 30 s.
    let s = common::scenario(
        r#"
        [open]
        phases = [
            { duration = "15s", rate = 40 },
            { duration = "15s", rate = 40, ramp_to = 80 },
        ]
        [[steps]]
        get = "/hit"
        "#,
    );
    let report = common::run(s, &[url]).await;
    let times = seen.lock().unwrap().clone();
    let first = times[0];
    let offsets: Vec<f64> = times
        .iter()
        .map(|t| t.duration_since(first).as_secs_f64())
        .collect();
    let within = |actual: f64, want: f64| (actual - want).abs() <= want * 0.02;

    assert_eq!(report.requests.sent, 1500, "{report:?}");
    assert_eq!(report.requests.ok, 1500);
    assert!(
        within(times.len() as f64, 1500.0),
        "{} requests",
        times.len()
    );
    let first_phase = offsets.iter().filter(|o| **o < 15.0).count() as f64;
    let second_phase = offsets.iter().filter(|o| **o >= 15.0).count() as f64;
    assert!(within(first_phase, 600.0), "first phase: {first_phase}");
    assert!(within(second_phase, 900.0), "second phase: {second_phase}");
    // Over the constant phase, each 5 s window gets 200 arrivals.
    for w in 0..3 {
        let n = offsets
            .iter()
            .filter(|o| **o >= w as f64 * 5.0 && **o < (w + 1) as f64 * 5.0)
            .count() as f64;
        assert!(within(n, 200.0), "window {w}: {n}");
    }
    // The whole run took the planned 30 s (the last arrival is due just before 30 s).
    let span = offsets.last().copied().unwrap();
    assert!((29.0..30.6).contains(&span), "span {span}");
    assert!(
        within(report.requests.rps_mean, 50.0),
        "mean {} req/s",
        report.requests.rps_mean
    );
}
