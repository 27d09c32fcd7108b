//! The `flightdeck-worker` binary against a real emulator: SIGTERM mid-job loses no message,
//! whether the drain lets the job finish or runs out and releases it, or the job is still
//! waiting for its turn to transform.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use store::VideoStatus;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use common::{dir_is_empty, env, synth, Env};

fn start_worker(env: &Env, drain_s: u64) -> Child {
    let (key, secret) = local_cloud::LOCAL_CREDENTIALS;
    // An empty AWS config, so a developer's ~/.aws cannot redirect the test.
    let aws_config = env.dir.path().join("aws-config");
    std::fs::write(&aws_config, "").unwrap();
    Command::new(env!("CARGO_BIN_EXE_flightdeck-worker"))
        .args([
            "--receive-wait",
            "1",
            "--drain-timeout",
            &drain_s.to_string(),
        ])
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
        .env("FLIGHTDECK_INSTANCE_ID", "test-binary")
        .env("RUST_LOG", "info")
        // The worker sets the malloc variables itself when they are unset (checked below).
        .env_remove("MALLOC_ARENA_MAX")
        .env_remove("MALLOC_MMAP_THRESHOLD_")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn wait_for_status(env: &Env, id: Uuid, status: VideoStatus, within: Duration) {
    let start = Instant::now();
    loop {
        let video = env.store.get_video(id).await.unwrap().unwrap();
        if video.status == status {
            return;
        }
        assert!(
            start.elapsed() < within,
            "video still {} after {within:?}",
            video.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The task's message is visible again at once (within a 2 s receive, not after the
/// visibility timeout), its body untouched.
async fn released_at_once(env: &Env, task: &stack::VideoTask) {
    let msg = env
        .receive_raw(&env.tasks_url, 2)
        .await
        .expect("the released message");
    assert_eq!(msg.body, task.to_json());
}

fn sigterm_and_wait(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("the worker did not exit within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_job_finishes_the_job_within_the_drain() {
    let env = env().await;
    let task = env.video(Some(synth(env.dir.path(), 4.0))).await;
    let mut child = start_worker(&env, 60);
    env.send(&task.to_json()).await;
    wait_for_status(
        &env,
        task.video_id,
        VideoStatus::Processing,
        Duration::from_secs(60),
    )
    .await;

    // It restarted itself with bounded malloc arenas (main.rs), keeping its PID.
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
    for var in [
        &b"MALLOC_ARENA_MAX=2"[..],
        &b"MALLOC_MMAP_THRESHOLD_=131072"[..],
    ] {
        assert!(
            vars.contains(&var),
            "{} not in the worker's environment",
            String::from_utf8_lossy(var)
        );
    }

    let status = sigterm_and_wait(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Processed);
    assert_eq!(env.processed_keys().await.len(), 1);
    assert_eq!(env.depth(&env.tasks_url).await, (0, 0));
    assert!(dir_is_empty(&env.work_dir()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_no_drain_left_releases_the_message_at_once() {
    let env = env().await;
    let task = env.video(Some(synth(env.dir.path(), 8.0))).await;
    let mut child = start_worker(&env, 0);
    env.send(&task.to_json()).await;
    wait_for_status(
        &env,
        task.video_id,
        VideoStatus::Processing,
        Duration::from_secs(60),
    )
    .await;

    let status = sigterm_and_wait(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status}");
    released_at_once(&env, &task).await;
    let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
    assert_eq!(video.status, VideoStatus::Processing);
    assert!(env.processed_keys().await.is_empty());
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    assert!(dir_is_empty(&env.work_dir()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_a_job_still_waiting_for_its_transform_and_finishes_the_running_one() {
    // One slot with the overlap (the default): the second job is received and downloaded
    // while the first transforms, and waits. SIGTERM: the running one finishes within the
    // drain; the waiting one gives its message back at once, for another worker.
    let env = env().await;
    // Long enough that the first transform is still running when SIGTERM comes, on a busy
    // machine too (the second job waits for it).
    let tasks = [
        env.video(Some(synth(env.dir.path(), 24.0))).await,
        env.video(Some(synth(env.dir.path(), 24.0))).await,
    ];
    let mut child = start_worker(&env, 60);
    for task in &tasks {
        env.send(&task.to_json()).await;
    }
    for task in &tasks {
        wait_for_status(
            &env,
            task.video_id,
            VideoStatus::Processing,
            Duration::from_secs(60),
        )
        .await;
    }
    // Both claimed: one transforms, the other downloads (a few milliseconds), then waits.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let status = sigterm_and_wait(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    let mut processed = Vec::new();
    let mut waiting = Vec::new();
    for task in &tasks {
        let video = env.store.get_video(task.video_id).await.unwrap().unwrap();
        match video.status {
            VideoStatus::Processed => processed.push(task),
            _ => waiting.push((task, video.status)),
        }
    }
    assert_eq!(processed.len(), 1, "one transform at a time: {waiting:?}");
    assert_eq!(waiting.len(), 1);
    let (task, status) = waiting[0];
    assert_eq!(status, VideoStatus::Processing);
    released_at_once(&env, task).await;
    assert_eq!(env.processed_keys().await.len(), 1);
    assert_eq!(env.depth(&env.dlq_url).await, (0, 0));
    assert!(dir_is_empty(&env.work_dir()));
}

/// Counts the ReceiveMessage calls its client starts.
#[derive(Debug, Clone, Default)]
struct CountReceives(Arc<AtomicUsize>);

impl Intercept for CountReceives {
    fn name(&self) -> &'static str {
        "count-receives"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == "ReceiveMessage")
        {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_starts_no_receive() {
    // Once shutdown has come, no slot starts a ReceiveMessage: one sent and then dropped would
    // still take a message on the server (the one this worker has just released, say) and hide
    // it from every other consumer for a visibility timeout. Each run below gives each of the
    // two lanes one chance; an unordered select started a receive in about half of them.
    let env = env().await;
    let receives = CountReceives::default();
    let mut clients = env.cloud.clients.clone();
    clients.sqs = aws_sdk_sqs::Client::from_conf(
        clients
            .sqs
            .config()
            .to_builder()
            .interceptor(receives.clone())
            .build(),
    );
    let worker = Arc::new(env.worker_on(&clients, |_| {}).await);
    // The interceptor sees this worker's calls (a receive before any stop is counted).
    assert_eq!(
        worker.poll_once(&CancellationToken::new()).await.unwrap(),
        None
    );
    assert_eq!(receives.0.load(Ordering::Relaxed), 1);

    for _ in 0..20 {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let report = worker.clone().run(shutdown, CancellationToken::new()).await;
        assert!(!report.abandoned);
    }
    assert_eq!(
        receives.0.load(Ordering::Relaxed),
        1,
        "receives started after the stop"
    );
}
