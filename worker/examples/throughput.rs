//! Worker throughput on the local cloud, for `bench/worker.sh`: uploads `--jobs` copies of
//! `--input`, enqueues one message each, runs the consumer until every video is settled and
//! prints one TSV line: jobs, input MB, wall s, MB/min (input MB per wall minute, download
//! to upload and status included; the uploads that feed the queue are not timed), then the
//! CPU seconds per job of this process (the worker: FFmpeg, the SDK, SQLite) and of the
//! emulator over the same time, and the machine's idle CPU over that time in cores (from
//! `/proc/stat`: how much more the run could have used).
//! `--ffmpeg-threads N` caps FFmpeg's threads per job, as the worker's flag does;
//! `--no-overlap` runs one job per slot at a time, as the worker's flag does.
//! It runs with `flightdeck-worker`'s malloc settings (`worker::MALLOC`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use local_cloud::testing::TestCloud;
use stack::message::S3Uri;
use stack::VideoTask;
use store::{NewUser, NewVideo, Store, VideoStatus};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use worker::{Worker, WorkerConfig};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    // The worker binary's malloc settings (it sets them the same way), so this measures what
    // runs; an operator's MALLOC_ARENA_MAX in the environment wins, as it does for the worker.
    stack::process::exec_with_malloc("throughput", worker::MALLOC);
    run();
}

#[tokio::main]
async fn run() {
    let input = PathBuf::from(arg("--input").expect("--input FILE"));
    let jobs: usize = arg("--jobs").map_or(3, |j| j.parse().unwrap());
    let concurrency: usize = arg("--concurrency").map_or(1, |c| c.parse().unwrap());
    let assets_dir = PathBuf::from(arg("--assets").expect("--assets DIR"));
    let ffmpeg_threads: Option<usize> = arg("--ffmpeg-threads").map(|t| t.parse().unwrap());
    let bytes = std::fs::read(&input).unwrap();
    let size_mb = bytes.len() as f64 / 1e6;

    let cloud = TestCloud::provisioned().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ))
    .await
    .unwrap();
    let owner = store
        .create_user(NewUser {
            email: "bench@example.com".into(),
            first_name: "B".into(),
            last_name: "Bench".into(),
            password_hash: "x".into(),
            city: None,
            country: None,
        })
        .await
        .unwrap()
        .id;
    let bucket = cloud.stack.bucket.name.clone();
    let tasks_url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name(&cloud.stack.queues.tasks.name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // WORKLOAD.md's baseline assets: the same intro/outro and watermark as the CLI baseline.
    let assets = media::Assets::baseline(&assets_dir).unwrap();
    let mut config = WorkerConfig::from_stack(&cloud.stack);
    config.concurrency = concurrency;
    config.ffmpeg_threads = ffmpeg_threads;
    config.overlap = !std::env::args().any(|a| a == "--no-overlap");
    // As the worker does: the intro and outro are encoded once (by the first job).
    config.segment_cache = Some(assets_dir.join("segments"));
    config.receive_wait = Duration::from_secs(1);
    config.work_dir = dir.path().join("work");
    let worker = Arc::new(
        Worker::new(&cloud.clients, &cloud.stack, store.clone(), assets, config)
            .await
            .unwrap(),
    );

    let mut ids = Vec::new();
    for _ in 0..jobs {
        let id = Uuid::new_v4();
        let key = format!("uploads/bench/{id}.mp4");
        cloud
            .clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(bytes.clone()))
            .send()
            .await
            .unwrap();
        store
            .create_video(NewVideo {
                id,
                owner_id: owner,
                title: "bench".into(),
                source_key: key.clone(),
                original_filename: "in.mp4".into(),
                size_bytes: bytes.len() as u64,
                content_type: "video/mp4".into(),
                correlation_id: id.to_string(),
            })
            .await
            .unwrap();
        ids.push((id, key));
    }

    // This process's ticks include the emulator's: it is a child.
    let emulator_pid = cloud
        .emulator
        .pid()
        .expect("the test cloud runs its own emulator");
    let ticks = || {
        let all = local_cloud::cpu::cpu_ticks(std::process::id()).unwrap();
        let emulator = local_cloud::cpu::cpu_ticks(emulator_pid).unwrap();
        (all.saturating_sub(emulator), emulator)
    };
    let (worker_ticks, emulator_ticks) = ticks();
    let idle_start = idle_ticks();
    let start = Instant::now();
    for (id, key) in &ids {
        let task = VideoTask::new(*id, S3Uri::new(&bucket, key), id.to_string());
        cloud
            .clients
            .sqs
            .send_message()
            .queue_url(&tasks_url)
            .message_body(task.to_json())
            .send()
            .await
            .unwrap();
    }
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(
        worker
            .clone()
            .run(shutdown.clone(), CancellationToken::new()),
    );
    loop {
        let mut settled = 0;
        for (id, _) in &ids {
            let v = store.get_video(*id).await.unwrap().unwrap();
            match v.status {
                VideoStatus::Processed => settled += 1,
                VideoStatus::Failed => panic!("video {id} failed: {:?}", v.failure_reason),
                _ => {}
            }
        }
        if settled == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = start.elapsed().as_secs_f64();
    let (worker_end, emulator_end) = ticks();
    let idle_cores =
        (idle_ticks() - idle_start) as f64 / local_cloud::cpu::CLOCK_TICKS_PER_SECOND / wall;
    let per_job =
        |ticks: u64| ticks as f64 / local_cloud::cpu::CLOCK_TICKS_PER_SECOND / jobs as f64;
    shutdown.cancel();
    let report = run.await.unwrap();
    assert_eq!(report.outcomes.get("processed").copied(), Some(jobs as u64));
    let mb = size_mb * jobs as f64;
    println!(
        "{jobs}\t{size_mb:.2}\t{wall:.2}\t{:.1}\t{:.2}\t{:.2}\t{idle_cores:.2}",
        mb / wall * 60.0,
        per_job(worker_end - worker_ticks),
        per_job(emulator_end - emulator_ticks)
    );
}

/// The machine's idle and I/O-wait time so far, in clock ticks summed over its cores (the
/// first line of `/proc/stat`).
fn idle_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpu = stat.lines().next().unwrap();
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    fields[3] + fields[4]
}
