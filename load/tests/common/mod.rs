//! Test servers on 127.0.0.1 (axum, or raw TCP for misbehaving ones) and a run helper.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

use load::{ApiTarget, Progress, Report, RunOptions, Scenario};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Serve `router` on a free port; the server lives as long as the test's runtime.
pub async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// A server that reads each request and then resets the connection (RST, not FIN).
pub async fn resetting_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                stream.set_zero_linger().unwrap();
                drop(stream);
            });
        }
    });
    format!("http://{addr}")
}

/// A server that reads each request and never answers (holds the connection open).
pub async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                tokio::time::sleep(Duration::from_secs(600)).await;
                drop(stream);
            });
        }
    });
    format!("http://{addr}")
}

/// An address where nothing listens (bound, then closed).
pub fn refused_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.toml", "test").unwrap_or_else(|e| panic!("{e}"))
}

pub async fn run(scenario: Scenario, targets: &[String]) -> Report {
    run_with(scenario, targets, CancellationToken::new())
        .await
        .0
}

/// Run and also return every progress snapshot seen.
pub async fn run_with(
    scenario: Scenario,
    targets: &[String],
    cancel: CancellationToken,
) -> (Report, Vec<Progress>) {
    let targets = targets
        .iter()
        .map(|t| ApiTarget::parse(t).unwrap())
        .collect();
    let (tx, mut rx) = watch::channel(Progress::preparing("test", "", 0.0));
    let seen = tokio::spawn(async move {
        let mut all = Vec::new();
        while rx.changed().await.is_ok() {
            all.push(rx.borrow_and_update().clone());
        }
        all
    });
    let mut options = RunOptions::new(targets, load::video::in_process());
    options.progress_every = Duration::from_millis(100);
    let report = load::run(scenario, options, tx, cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let progress = seen.await.unwrap();
    (report, progress)
}

/// Run, cancel once a progress snapshot satisfies `when` (at most 30 s in), and return the
/// report and every snapshot seen.
pub async fn run_cancelled_when(
    scenario: Scenario,
    targets: &[String],
    when: impl Fn(&Progress) -> bool + Send + 'static,
) -> (Report, Vec<Progress>) {
    let targets = targets
        .iter()
        .map(|t| ApiTarget::parse(t).unwrap())
        .collect();
    let (tx, mut rx) = watch::channel(Progress::preparing("test", "", 0.0));
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let seen = tokio::spawn(async move {
        let mut all = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep_until(deadline) => panic!("the condition to cancel never came: {:?}", all.last()),
            }
            let p = rx.borrow_and_update().clone();
            if !trigger.is_cancelled() && when(&p) {
                trigger.cancel();
            }
            all.push(p);
        }
        all
    });
    let mut options = RunOptions::new(targets, load::video::in_process());
    options.progress_every = Duration::from_millis(50);
    let report = load::run(scenario, options, tx, cancel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let progress = seen.await.unwrap();
    (report, progress)
}
