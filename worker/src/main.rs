//! `flightdeck-worker`: the queue worker process. Flags and environment in, a running
//! consumer out; SIGTERM/SIGINT drain it (a second signal releases running jobs at once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use stack::{AwsOptions, Clients, Stack};
use tokio_util::sync::CancellationToken;
use tracing::info;
use worker::cloudwatch::{Publisher, ASG_NAME_ENV};
use worker::{Worker, WorkerConfig};

/// The flightdeck queue worker: transforms uploaded videos from the `video_tasks` queue.
#[derive(Debug, Parser)]
#[command(name = "flightdeck-worker", version)]
struct Args {
    /// Stack definition (default: the built-in infra/stack.json).
    #[arg(long, env = "FLIGHTDECK_STACK")]
    stack: Option<PathBuf>,
    /// AWS endpoint URL (default: AWS_ENDPOINT_URL, else AWS's own endpoints).
    #[arg(long)]
    endpoint: Option<String>,
    /// AWS region (default: AWS_REGION, the profile's, else the stack's).
    #[arg(long)]
    region: Option<String>,
    /// AWS profile (default: AWS_PROFILE).
    #[arg(long)]
    profile: Option<String>,
    /// Database URL: sqlite:///path.db or postgres://... (default: SQLite in the data dir).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Data directory for the default database and assets.
    #[arg(long, env = "FLIGHTDECK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Transforms run at once (each slot holds one message, two with the overlap).
    #[arg(long, env = "FLIGHTDECK_WORKER_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// One job per slot at a time: no download of the next job while one transforms, no
    /// upload while the next one transforms.
    #[arg(long, env = "FLIGHTDECK_WORKER_NO_OVERLAP")]
    no_overlap: bool,
    /// Where jobs keep their temporary files (default: $TMPDIR/flightdeck-worker).
    #[arg(long, env = "FLIGHTDECK_WORK_DIR")]
    work_dir: Option<PathBuf>,
    /// This instance's name in the DLQ's worker_instance attribute (default: hostname-pid).
    #[arg(long, env = "FLIGHTDECK_INSTANCE_ID")]
    instance_id: Option<String>,
    /// Intro/outro clip and watermark cache (default: <data dir>/assets; built if missing).
    /// The intro and outro, once encoded, are kept in its `segments` directory.
    #[arg(long, env = "FLIGHTDECK_ASSETS_DIR")]
    assets_dir: Option<PathBuf>,
    /// Seconds running jobs get to finish on shutdown before their messages are released.
    #[arg(long, env = "FLIGHTDECK_DRAIN_TIMEOUT", default_value_t = 30)]
    drain_timeout: u64,
    /// Long-poll wait in seconds (default: the stack's receive_wait_s).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=20))]
    receive_wait: Option<u64>,
    /// Caps FFmpeg's threads per job: filter graph and libx264, the decoder half of them, at
    /// least one (default: one per core).
    #[arg(long, env = "FLIGHTDECK_FFMPEG_THREADS",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    ffmpeg_threads: Option<u16>,
    /// Nice steps the filter and encoder threads run below the upload's decoder, the
    /// transform's critical path on a small machine (0: every thread alike; default 10).
    #[arg(long, env = "FLIGHTDECK_STAGE_NICE",
          value_parser = clap::value_parser!(u8).range(0..=19))]
    stage_nice: Option<u8>,
    /// Where to serve Prometheus `/metrics`: HOST:PORT (port 0 picks a free one, logged at
    /// start), or `off`.
    #[arg(long, env = "FLIGHTDECK_WORKER_METRICS_ADDR", default_value = "127.0.0.1:0",
          value_parser = parse_metrics_addr)]
    metrics_addr: MetricsAddr,
    /// The worker's Auto Scaling group: CloudWatch metrics (namespace Flightdeck) are
    /// published with this AutoScalingGroupName; unset, none are published.
    #[arg(long, env = ASG_NAME_ENV)]
    asg_name: Option<String>,
    /// Seconds between CloudWatch PutMetricData calls (one call per interval).
    #[arg(long, env = "FLIGHTDECK_METRICS_INTERVAL", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    metrics_interval: u64,
}

#[derive(Debug, Clone, Copy)]
enum MetricsAddr {
    Off,
    At(SocketAddr),
}

fn parse_metrics_addr(s: &str) -> Result<MetricsAddr, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(MetricsAddr::Off);
    }
    s.parse().map(MetricsAddr::At).map_err(|_| {
        format!("`{s}` is not HOST:PORT (e.g. 127.0.0.1:9464, or port 0 for a free port) or `off`")
    })
}

fn main() -> anyhow::Result<()> {
    stack::process::exec_with_malloc("flightdeck-worker", worker::MALLOC);
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    // JSON lines with every span's fields (correlation_id, video_id) when stderr is not a
    // terminal (the fleet's log files, the CloudWatch agent); FLIGHTDECK_LOG_FORMAT overrides.
    stack::logline::init("info");
    let args = Args::parse();

    // Signals first, so a scale-in during startup is not a hard kill.
    let shutdown = CancellationToken::new();
    let abandon = CancellationToken::new();
    let signals = listen_for_signals(shutdown.clone(), abandon.clone())?;

    let stack = Stack::load_or_embedded(args.stack.as_ref())?;
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", data_dir.join("flightdeck.db").display()),
    };
    let store = store::Store::connect(&database_url)
        .await
        .context("connecting to the database")?;
    let assets_dir = args
        .assets_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("assets"));
    let segment_cache = assets_dir.join("segments");
    let assets = tokio::task::spawn_blocking(move || media::Assets::build(&assets_dir))
        .await?
        .context("building the transform's assets")?;

    let opts = AwsOptions {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
        credentials: None,
        limits: stack::CallLimits::STANDARD,
    };
    let clients = Clients::connect(&opts, &stack.region).await;
    let mut config = WorkerConfig::from_stack(&stack);
    config.concurrency = usize::from(args.concurrency);
    config.overlap = !args.no_overlap;
    config.drain_timeout = Duration::from_secs(args.drain_timeout);
    if let Some(wait) = args.receive_wait {
        config.receive_wait = Duration::from_secs(wait);
    }
    if let Some(dir) = args.work_dir {
        config.work_dir = dir;
    }
    if let Some(id) = args.instance_id {
        config.instance_id = id;
    }
    config.ffmpeg_threads = args.ffmpeg_threads.map(usize::from);
    if let Some(nice) = args.stage_nice {
        config.stage_nice = i32::from(nice);
    }
    config.segment_cache = Some(segment_cache);
    let worker = Worker::new(&clients, &stack, store.clone(), assets, config)
        .await
        .with_context(|| format!("starting against {}", clients.describe_target()))?;
    info!(
        target = %clients.describe_target(),
        queue = %worker.queue().url,
        concurrency = worker.config().concurrency,
        overlap = worker.config().overlap,
        instance = %worker.config().instance_id,
        "worker started"
    );

    let stop_metrics = CancellationToken::new();
    let server = match args.metrics_addr {
        MetricsAddr::Off => {
            info!("Prometheus /metrics is off");
            None
        }
        MetricsAddr::At(addr) => {
            let (listener, bound) = worker::metrics::bind(addr).await.with_context(|| {
                format!("cannot listen for /metrics on {addr}: choose another --metrics-addr / FLIGHTDECK_WORKER_METRICS_ADDR (port 0 picks a free port), or `off`")
            })?;
            info!(addr = %bound, "metrics on http://{bound}/metrics");
            let (metrics, stop) = (worker.metrics().clone(), stop_metrics.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = worker::metrics::serve(listener, metrics, stop).await {
                    tracing::warn!(error = %e, "the /metrics server stopped");
                }
            }))
        }
    };
    let publisher = match args.asg_name.filter(|g| !g.trim().is_empty()) {
        None => {
            info!("{ASG_NAME_ENV} is not set: not publishing CloudWatch metrics");
            None
        }
        Some(group) => {
            info!(group = %group, interval_s = args.metrics_interval, "publishing CloudWatch metrics to Flightdeck");
            let publisher = Publisher::new(
                clients.cloudwatch.clone(),
                group,
                worker.metrics().clone(),
                Duration::from_secs(args.metrics_interval),
            );
            let stop = stop_metrics.clone();
            Some(tokio::spawn(publisher.run(stop)))
        }
    };

    let report = Arc::new(worker).run(shutdown, abandon).await;
    signals.abort();
    // The final CloudWatch flush (bounded: a scale-in must not hang on it), then /metrics.
    stop_metrics.cancel();
    if let Some(publisher) = publisher {
        if tokio::time::timeout(Duration::from_secs(10), publisher)
            .await
            .is_err()
        {
            tracing::warn!("the last CloudWatch flush did not finish within 10 s");
        }
    }
    if let Some(server) = server {
        server.abort();
    }
    store.close().await;
    info!(outcomes = ?report.outcomes, abandoned = report.abandoned, "worker stopped");
    Ok(())
}

/// First SIGTERM/SIGINT: drain. Second: release running jobs now.
fn listen_for_signals(
    shutdown: CancellationToken,
    abandon: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(tokio::spawn(async move {
        for token in [shutdown, abandon] {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            info!("signal received");
            token.cancel();
        }
    }))
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("flightdeck")
}
