//! The engine's contract: targets are used round-robin, progress is published while it
//! runs, cancelling stops it, and closed-model stages set the number of VUs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use load::RunState;
use tokio_util::sync::CancellationToken;

fn counting(delay_ms: u64) -> (Router, Arc<AtomicU64>) {
    let n = Arc::new(AtomicU64::new(0));
    let c = n.clone();
    let router = Router::new().route(
        "/api/health",
        get(move || {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                "ok"
            }
        }),
    );
    (router, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_spread_round_robin_over_targets() {
    let (a, na) = counting(0);
    let (b, nb) = counting(0);
    let urls = [common::serve(a).await, common::serve(b).await];
    let s = common::scenario(
        r#"
        [closed]
        vus = 2
        duration = "30s"
        iterations = 100
        [[steps]]
        get = "/api/health"
        "#,
    );
    let r = common::run(s, &urls).await;
    assert_eq!(r.requests.ok, 100);
    assert_eq!(r.targets.len(), 2);
    assert_eq!(na.load(Ordering::SeqCst), 50);
    assert_eq!(nb.load(Ordering::SeqCst), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_published_and_ramps_follow_the_stages() {
    let (router, _) = counting(20);
    let url = common::serve(router).await;
    // 0 -> 4 VUs over 2 s, hold 4 for 1 s.
    let s = common::scenario(
        r#"
        [closed]
        stages = [{ duration = "2s", target = 4 }, { duration = "1s", target = 4 }]
        graceful_stop = "2s"
        [[steps]]
        get = "/api/health"
        [[steps]]
        think = "50ms"
        "#,
    );
    let (r, progress) = common::run_with(s, &[url], CancellationToken::new()).await;
    assert!(progress.len() >= 10, "{} snapshots", progress.len());
    let running: Vec<_> = progress
        .iter()
        .filter(|p| p.state == RunState::Running)
        .collect();
    // VUs grow with the stage: few at first, 4 later.
    assert!(running.first().unwrap().active_vus <= 1);
    assert_eq!(running.iter().map(|p| p.active_vus).max(), Some(4));
    // Counters only grow, and the live percentiles appear once requests complete.
    assert!(running.windows(2).all(|w| w[0].done <= w[1].done));
    assert!(running.last().unwrap().p95.is_some());
    let last = progress.last().unwrap();
    assert_eq!(last.state, RunState::Finished);
    assert_eq!(last.done, r.requests.total);
    assert!(r.requests.ok > 20, "{r:?}");
    assert!((3.0..6.0).contains(&r.duration_s), "{}", r.duration_s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_run_and_says_so() {
    let (router, _) = counting(5);
    let url = common::serve(router).await;
    let s = common::scenario(
        r#"
        thresholds = ["errors < 1%"]
        [open]
        phases = [{ duration = "60s", rate = 20 }]
        [[steps]]
        get = "/api/health"
        "#,
    );
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.cancel();
    });
    let (r, progress) = common::run_with(s, &[url], cancel).await;
    assert!(r.cancelled);
    assert!(!r.passed, "a cancelled run does not pass");
    assert!(r.duration_s < 5.0, "{}", r.duration_s);
    assert!(
        (10..=40).contains(&r.requests.total),
        "{}",
        r.requests.total
    );
    assert_eq!(progress.last().unwrap().state, RunState::Cancelled);
}
