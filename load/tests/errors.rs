//! Failures are classified: connection refused, reset, timeout and HTTP status by code.
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
