//! Failures are classified: connection refused, reset, timeout, HTTP status by code (with the
//! API's `error_code` when the body has one) and a body over the limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

fn three_gets(timeout: &str) -> load::Scenario {
    common::scenario(&format!(
        r#"
        timeout = "{timeout}"
        [closed]
        vus = 1
        duration = "30s"
        iterations = 3
        graceful_stop = "5s"
        [[steps]]
        get = "/"
        "#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_resets_is_connection_reset() {
    let url = common::resetting_server().await;
    let r = common::run(three_gets("5s"), &[url]).await;
    assert_eq!(r.requests.failed, 3, "{r:?}");
    assert_eq!(r.errors.get("connection_reset"), Some(&3), "{:?}", r.errors);
    assert!(r.statuses.is_empty());
    assert!(r.latency.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_timeout() {
    let url = common::silent_server().await;
    let started = std::time::Instant::now();
    let r = common::run(three_gets("300ms"), &[url]).await;
    assert_eq!(r.errors.get("timeout"), Some(&3), "{:?}", r.errors);
    assert_eq!(r.requests.failed, 3);
    // Each waited its 300 ms timeout, no longer.
    let took = started.elapsed().as_secs_f64();
    assert!((0.9..5.0).contains(&took), "took {took} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_connect_refused() {
    let r = common::run(three_gets("5s"), &[common::refused_address()]).await;
    assert_eq!(r.errors.get("connect_refused"), Some(&3), "{:?}", r.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_counted_by_status() {
    let url = common::serve(Router::new().route(
        "/",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy") }),
    ))
    .await;
    let r = common::run(three_gets("5s"), &[url]).await;
    assert_eq!(r.errors.get("http_503"), Some(&3), "{:?}", r.errors);
    assert_eq!(r.statuses.get("503"), Some(&3));
    // An error response still has a latency.
    assert_eq!(r.latency.unwrap().count, 3);
    assert_eq!(r.requests.completed_pct, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_error_code_tells_answers_with_one_status_apart() {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let url = common::serve(Router::new().route(
        "/",
        get(move || {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let code = if i == 0 {
                "storage_unavailable"
            } else {
                "server_busy"
            };
            async move {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(serde_json::json!({"error_code": code, "message": "later"})),
                )
            }
        }),
    ))
    .await;
    let r = common::run(three_gets("5s"), &[url]).await;
    assert_eq!(
        r.errors.get("http_503/server_busy"),
        Some(&2),
        "{:?}",
        r.errors
    );
    assert_eq!(r.errors.get("http_503/storage_unavailable"), Some(&1));
    assert_eq!(
        r.statuses.get("503"),
        Some(&3),
        "statuses stay by code alone"
    );
    assert!(r.to_markdown().contains("| http_503/server_busy | 2 |"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_bad_response_not_held() {
    let url = common::serve(Router::new().route(
        "/",
        get(|| async { vec![b'x'; load::client::MAX_RESPONSE_BYTES + 1] }),
    ))
    .await;
    let r = common::run(three_gets("5s"), &[url]).await;
    assert_eq!(r.errors.get("bad_response"), Some(&3), "{:?}", r.errors);
    assert_eq!(r.requests.failed, 3);
}
