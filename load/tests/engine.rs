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
    assert_eq!(last.done, r.requests.sent);
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
    assert!((10..=40).contains(&r.requests.sent), "{}", r.requests.sent);
    assert_eq!(progress.last().unwrap().state, RunState::Cancelled);
}

/// Every snapshot adds up: `sent = ok + failed + cancelled + in flight`.
fn assert_adds_up(progress: &[load::Progress]) {
    for p in progress {
        assert_eq!(p.sent, p.ok + p.failed + p.cancelled + p.in_flight, "{p:?}");
        assert_eq!(p.done, p.ok + p.failed, "{p:?}");
    }
}

/// `/api/health`: the first `fast` calls answer 200 at once, the next `errors` answer 503,
/// every later one hangs (longer than any test), so it is in flight until cut off.
fn answers_then_hangs(fast: u64, errors: u64) -> (Router, Arc<AtomicU64>) {
    let n = Arc::new(AtomicU64::new(0));
    let c = n.clone();
    let router = Router::new().route(
        "/api/health",
        get(move || {
            let k = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if k < fast {
                    return axum::http::StatusCode::OK;
                }
                if k < fast + errors {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                tokio::time::sleep(Duration::from_secs(600)).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    (router, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_cancel_mid_run_every_request_is_accounted_for_open_model() {
    // 5 answered, 2 errors, then 2 requests hang in the 2 send slots, and later arrivals
    // wait for a slot that never frees: the cancel comes while they wait.
    let (router, received) = answers_then_hangs(5, 2);
    let url = common::serve(router).await;
    let s = common::scenario(
        r#"
        [open]
        phases = [{ duration = "60s", rate = 20 }]
        max_in_flight = 2
        [[steps]]
        get = "/api/health"
        "#,
    );
    // Cancel once the server has the 2 hanging requests and 3 arrivals wait behind them.
    let seen = received.clone();
    let (r, progress) = common::run_cancelled_when(s, &[url], move |p| {
        seen.load(Ordering::SeqCst) == 9 && p.in_flight == 2 && p.waiting >= 3
    })
    .await;
    assert_adds_up(&progress);
    assert!(
        progress.iter().any(|p| p.waiting >= 3),
        "arrivals waited for a slot"
    );
    let q = &r.requests;
    assert!(r.cancelled);
    assert_eq!(
        (q.sent, q.ok, q.failed, q.cancelled, q.in_flight),
        (9, 5, 2, 2, 0),
        "{q:?}"
    );
    assert!(q.not_sent >= 3, "the waiting arrivals are not lost: {q:?}");
    assert_eq!(
        received.load(Ordering::SeqCst),
        9,
        "the server saw what was sent"
    );
    assert_eq!(r.errors.get("http_503"), Some(&2));
    // The last snapshot says the same as the report.
    let last = progress.last().unwrap();
    assert_eq!(last.state, RunState::Cancelled);
    assert_eq!(
        (
            last.sent,
            last.ok,
            last.failed,
            last.cancelled,
            last.in_flight,
            last.not_sent,
            last.waiting
        ),
        (q.sent, q.ok, q.failed, q.cancelled, 0, q.not_sent, 0)
    );
    let md = r.to_markdown();
    assert!(
        md.contains(
            "Every request is accounted for: 9 sent = 5 ok + 2 failed + 2 cancelled + 0 in flight."
        ),
        "{md}"
    );
    assert!(md.contains("never got a send slot"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_cancel_mid_run_every_request_is_accounted_for_closed_model() {
    // 3 VUs: 4 answered, 1 error, then each VU's next request hangs until the cancel.
    let (router, received) = answers_then_hangs(4, 1);
    let url = common::serve(router).await;
    let s = common::scenario(
        r#"
        [closed]
        vus = 3
        duration = "60s"
        [[steps]]
        get = "/api/health"
        "#,
    );
    let seen = received.clone();
    let (r, progress) = common::run_cancelled_when(s, &[url], move |p| {
        seen.load(Ordering::SeqCst) == 8 && p.in_flight == 3
    })
    .await;
    assert_adds_up(&progress);
    let q = &r.requests;
    assert_eq!(
        (q.sent, q.ok, q.failed, q.cancelled, q.in_flight, q.not_sent),
        (8, 4, 1, 3, 0, 0),
        "{q:?}"
    );
    assert_eq!(received.load(Ordering::SeqCst), 8);
    let step = r
        .steps
        .iter()
        .find(|s| s.label == "get /api/health")
        .unwrap();
    assert_eq!((step.ok, step.failed, step.cancelled), (4, 1, 3));
    let last = progress.last().unwrap();
    assert_eq!((last.sent, last.cancelled, last.in_flight), (8, 3, 0));
}
