//! The worker's metrics against a real emulator and real jobs: Prometheus `/metrics` scraped
//! over a socket, and the CloudWatch publisher's data read back with ListMetrics and
//! GetMetricData; then the same through the binary's flags and environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stack::metrics::{
    DIM_ASG_NAME, FLIGHTDECK_NAMESPACE, JOBS_FAILED, JOBS_SUCCEEDED, JOB_SECONDS,
    PROCESSED_MEGABYTES,
};
use store::VideoStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use worker::cloudwatch::Publisher;
use worker::Outcome;

use common::{env, synth, Env};

/// `GET /metrics` over a real socket; returns the body.
async fn scrape(addr: SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("text/plain; version=0.0.4"));
    body.to_string()
}

/// The value of one sample line, e.g. `flightdeck_worker_bytes_in_total`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Sum of `name` for `group` over the last hour, as GetMetricData returns it.
async fn cloudwatch_value(env: &Env, name: &str, group: &str, stat: &str) -> Option<f64> {
    let now = SystemTime::now();
    let out = env
        .cloud
        .clients
        .cloudwatch
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(3600)))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("q")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(FLIGHTDECK_NAMESPACE)
                                .metric_name(name)
                                .dimensions(
                                    Dimension::builder().name(DIM_ASG_NAME).value(group).build(),
                                )
                                .build(),
                        )
                        .period(7200)
                        .stat(stat)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let result = out.metric_data_results.unwrap_or_default().pop()?;
    let values = result.values.unwrap_or_default();
    (!values.is_empty()).then(|| values.iter().sum())
}

async fn listed_metric_names(env: &Env, group: &str) -> Vec<String> {
    let out = env
        .cloud
        .clients
        .cloudwatch
        .list_metrics()
        .namespace(FLIGHTDECK_NAMESPACE)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out
        .metrics
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m.dimensions()
                .iter()
                .any(|d| d.name() == Some(DIM_ASG_NAME) && d.value() == Some(group))
        })
        .filter_map(|m| m.metric_name)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_counts_real_jobs() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let metrics = worker.metrics().clone();
    let (listener, addr) = worker::metrics::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_ne!(addr.port(), 0, "port 0 must resolve to the bound port");
    let stop = CancellationToken::new();
    let server = tokio::spawn(worker::metrics::serve(
        listener,
        metrics.clone(),
        stop.clone(),
    ));

    let before = scrape(addr).await;
    assert_eq!(
        sample(&before, "flightdeck_worker_bytes_in_total"),
        Some(0.0)
    );
    assert_eq!(sample(&before, "flightdeck_worker_slots"), Some(1.0));

    let good = env.video(Some(synth(env.dir.path(), 1.0))).await;
    env.send(&good.to_json()).await;
    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    let Some(Outcome::Processed {
        bytes_in,
        bytes_out,
        ..
    }) = outcome
    else {
        panic!("expected processed, got {outcome:?}");
    };
    const NOT_A_VIDEO: &[u8] = b"this is not a video at all";
    let bad = env.video(Some(NOT_A_VIDEO.to_vec())).await;
    env.send(&bad.to_json()).await;
    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(outcome, Some(Outcome::DeadLettered { .. })),
        "{outcome:?}"
    );

    let text = scrape(addr).await;
    assert_eq!(
        sample(&text, "flightdeck_worker_jobs_total{outcome=\"processed\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "flightdeck_worker_jobs_total{outcome=\"dead_lettered\"}"
        ),
        Some(1.0)
    );
    // Both downloads count as bytes in; only the processed job uploaded anything.
    assert_eq!(
        sample(&text, "flightdeck_worker_bytes_in_total"),
        Some((bytes_in + NOT_A_VIDEO.len() as u64) as f64)
    );
    assert_eq!(
        sample(&text, "flightdeck_worker_bytes_out_total"),
        Some(bytes_out as f64)
    );
    assert_eq!(
        sample(
            &text,
            "flightdeck_worker_job_duration_seconds_count{outcome=\"processed\"}"
        ),
        Some(1.0)
    );
    let took = sample(
        &text,
        "flightdeck_worker_job_duration_seconds_sum{outcome=\"processed\"}",
    )
    .unwrap();
    assert!(took > 0.0 && took < 120.0, "{took}");
    assert_eq!(
        sample(
            &text,
            "flightdeck_worker_job_duration_seconds_bucket{outcome=\"processed\",le=\"+Inf\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "flightdeck_worker_jobs_in_flight"), Some(0.0));

    stop.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_publisher_sends_one_batch_that_the_emulator_returns() {
    let env = env().await;
    let worker = env.worker(|_| {}).await;
    let group = "flightdeck-worker-test";

    let good = env.video(Some(synth(env.dir.path(), 1.0))).await;
    env.send(&good.to_json()).await;
    let outcome = worker.poll_once(&CancellationToken::new()).await.unwrap();
    let Some(Outcome::Processed { bytes_in, .. }) = outcome else {
        panic!("expected processed, got {outcome:?}");
    };
    let bad = env.video(Some(b"not a video".to_vec())).await;
    env.send(&bad.to_json()).await;
    worker.poll_once(&CancellationToken::new()).await.unwrap();

    // An hour-long interval: only the final flush on stop can send anything.
    let publisher = Publisher::new(
        env.cloud.clients.cloudwatch.clone(),
        group,
        Arc::clone(worker.metrics()),
        Duration::from_secs(3600),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(publisher.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(listed_metric_names(&env, group).await.is_empty());
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        listed_metric_names(&env, group).await,
        [
            JOB_SECONDS,
            JOBS_FAILED,
            JOBS_SUCCEEDED,
            PROCESSED_MEGABYTES
        ]
    );
    assert_eq!(
        cloudwatch_value(&env, JOBS_SUCCEEDED, group, "Sum").await,
        Some(1.0)
    );
    assert_eq!(
        cloudwatch_value(&env, JOBS_FAILED, group, "Sum").await,
        Some(1.0)
    );
    let mb = cloudwatch_value(&env, PROCESSED_MEGABYTES, group, "Sum")
        .await
        .unwrap();
    assert!(
        (mb - bytes_in as f64 / 1e6).abs() < 1e-6,
        "{mb} vs {bytes_in}"
    );
    assert_eq!(
        cloudwatch_value(&env, JOB_SECONDS, group, "SampleCount").await,
        Some(2.0)
    );
    let secs = cloudwatch_value(&env, JOB_SECONDS, group, "Sum")
        .await
        .unwrap();
    assert!(secs > 0.0 && secs < 120.0, "{secs}");

    // The batch was taken: a second flush sends zero counts and no durations.
    let again = Publisher::new(
        env.cloud.clients.cloudwatch.clone(),
        group,
        Arc::clone(worker.metrics()),
        Duration::from_secs(3600),
    );
    again.flush().await.unwrap();
    assert_eq!(
        cloudwatch_value(&env, JOBS_SUCCEEDED, group, "Sum").await,
        Some(1.0)
    );
    assert_eq!(
        cloudwatch_value(&env, JOB_SECONDS, group, "SampleCount").await,
        Some(2.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_metrics_on_a_free_port_and_flushes_cloudwatch_on_sigterm() {
    let env = env().await;
    let group = "flightdeck-worker-bin";
    let (key, secret) = local_cloud::LOCAL_CREDENTIALS;
    let aws_config = env.dir.path().join("aws-config");
    std::fs::write(&aws_config, "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flightdeck-worker"))
        .args(["--receive-wait", "1", "--drain-timeout", "30"])
        .arg("--work-dir")
        .arg(env.work_dir())
        .arg("--assets-dir")
        .arg(common::assets_dir())
        .env("DATABASE_URL", &env.db_url)
        .env("AWS_ENDPOINT_URL", env.cloud.endpoint())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", &env.cloud.stack.region)
        .env("AWS_CONFIG_FILE", &aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &aws_config)
        .env("FLIGHTDECK_WORKER_METRICS_ADDR", "127.0.0.1:0")
        .env("FLIGHTDECK_ASG_NAME", group)
        .env("FLIGHTDECK_METRICS_INTERVAL", "3600")
        .env("FLIGHTDECK_FFMPEG_THREADS", "1")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The bound address is in the log; keep echoing the log for the test output.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Some(rest) = line.split_once("metrics on http://").map(|(_, r)| r) {
                let addr = rest.split('/').next().unwrap_or_default().to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker logs its metrics address")
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);

    let task = env.video(Some(synth(env.dir.path(), 1.0))).await;
    env.send(&task.to_json()).await;
    let start = Instant::now();
    loop {
        let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
        if video.status == VideoStatus::Processed {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "still {}",
            video.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The job is counted once it is settled (just after the status is written).
    let start = Instant::now();
    loop {
        let text = scrape(addr).await;
        if sample(&text, "flightdeck_worker_jobs_total{outcome=\"processed\"}") == Some(1.0) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listed_metric_names(&env, group).await.is_empty());

    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            panic!("the worker did not exit after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    assert_eq!(
        cloudwatch_value(&env, JOBS_SUCCEEDED, group, "Sum").await,
        Some(1.0)
    );
    assert_eq!(
        cloudwatch_value(&env, JOBS_FAILED, group, "Sum").await,
        Some(0.0)
    );
}
