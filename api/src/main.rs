//! `flightdeck-api`: parse flags, connect the store and AWS clients, serve `api::app` until
//! SIGTERM or Ctrl-C, then drain in-flight requests for a bounded time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "flightdeck-api", version, about = "The flightdeck upload API")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FLIGHTDECK_API_LISTEN", default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Stack definition (default: the built-in copy of infra/stack.json).
    #[arg(long, env = "FLIGHTDECK_STACK")]
    stack: Option<PathBuf>,
    /// sqlite:///path.db or postgres://... (default: a SQLite file in the data dir).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Where the default SQLite file lives.
    #[arg(long, env = "FLIGHTDECK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Largest accepted upload, in bytes.
    #[arg(long, env = "FLIGHTDECK_MAX_UPLOAD_BYTES", default_value_t = api::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
    /// How many 5 MiB part buffers all uploads share: the bound on upload memory. Uploads
    /// beyond that wait for a buffer (slower, not refused).
    #[arg(long, env = "FLIGHTDECK_API_PART_BUFFERS", default_value_t = api::DEFAULT_PART_BUFFERS as u64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    part_buffers: u64,
    /// How many uploads may wait for a part buffer at once; more are refused at once with 503
    /// `server_busy` (and `Retry-After`), as are uploads that wait longer than
    /// `--upload-wait-seconds`.
    #[arg(long, env = "FLIGHTDECK_API_UPLOAD_QUEUE", default_value_t = api::DEFAULT_UPLOAD_QUEUE as u64,
          value_parser = clap::value_parser!(u64).range(0..=65536))]
    upload_queue: u64,
    /// How long an upload may wait for a part buffer before 503 `server_busy`.
    #[arg(long, env = "FLIGHTDECK_API_UPLOAD_WAIT_SECONDS", default_value_t = api::DEFAULT_UPLOAD_WAIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    upload_wait_seconds: u64,
    /// While the server is overloaded (an upload's wait for a part buffer ran out within the
    /// last `--upload-wait-seconds`), how many new uploads may wait at once; more are refused
    /// at once with 503 `server_busy`. Default: as many as `--part-buffers`.
    #[arg(long, env = "FLIGHTDECK_API_UPLOAD_OVERLOAD_QUEUE",
          value_parser = clap::value_parser!(u64).range(0..=65536))]
    upload_overload_queue: Option<u64>,
    /// The slowest accepted upload body, bytes per second over any `--body-grace-seconds`
    /// window; slower clients get 408 `client_too_slow` (0: only stalls are cut off).
    #[arg(long, env = "FLIGHTDECK_API_BODY_MIN_RATE", default_value_t = api::DEFAULT_BODY_MIN_RATE)]
    body_min_rate: u64,
    /// The window of `--body-min-rate`: how long an upload body may stall.
    #[arg(long, env = "FLIGHTDECK_API_BODY_GRACE_SECONDS", default_value_t = api::DEFAULT_BODY_GRACE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_grace_seconds: u64,
    /// AWS endpoint (an emulator); default: AWS_ENDPOINT_URL, else AWS itself.
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    profile: Option<String>,
    /// How long in-flight requests may finish after SIGTERM.
    #[arg(long, default_value_t = 20)]
    drain_seconds: u64,
}

fn data_dir(args: &Args) -> PathBuf {
    if let Some(dir) = &args.data_dir {
        return dir.clone();
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("flightdeck")
}

fn main() -> anyhow::Result<()> {
    // Two malloc arenas: under overload the API holds 264 MB instead of glibc's 453-516 MB.
    // A fixed mmap threshold as well (as the worker has) took it to 81 MB but cost 2 ms of
    // CPU per 4 MB upload, 30 % more (`bench/api-overload.sh`, `bench/api.sh`).
    stack::process::exec_with_malloc(
        "flightdeck-api",
        stack::process::Malloc {
            arenas: 2,
            mmap_threshold: None,
        },
    );
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    // JSON lines with every span's fields (correlation_id, video_id) when stderr is not a
    // terminal (the fleet's log files, the CloudWatch agent); FLIGHTDECK_LOG_FORMAT overrides.
    stack::logline::init("info");
    let args = Args::parse();

    let env = std::env::var("FLIGHTDECK_ENV").ok();
    let secret = std::env::var("FLIGHTDECK_JWT_SECRET").ok();
    let (secret, generated) = api::resolve_jwt_secret(env.as_deref(), secret.as_deref())?;
    if generated {
        tracing::warn!("FLIGHTDECK_JWT_SECRET is not set: using a random secret; tokens will not survive a restart (production mode refuses this)");
    }

    let stack = stack::Stack::load_or_embedded(args.stack.as_ref())?;
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            let dir = data_dir(&args);
            format!("sqlite://{}", dir.join("flightdeck.db").display())
        }
    };
    let store = store::Store::connect(&database_url)
        .await
        .context("opening the database")?;
    tracing::info!(backend = store.backend_name(), "database ready");
    let opts = stack::AwsOptions {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
        credentials: None,
        limits: stack::CallLimits::STANDARD,
    };
    let clients = stack::Clients::connect(&opts, &stack.region).await;
    tracing::info!(target = %clients.describe_target(), "AWS clients ready");

    let config = api::Config {
        max_upload_bytes: args.max_upload_bytes,
        part_buffers: usize::try_from(args.part_buffers).unwrap_or(api::DEFAULT_PART_BUFFERS),
        upload_queue: api::parts::Queue {
            max_waiting: usize::try_from(args.upload_queue).unwrap_or(api::DEFAULT_UPLOAD_QUEUE),
            max_wait: Duration::from_secs(args.upload_wait_seconds),
            overload_waiting: usize::try_from(
                args.upload_overload_queue.unwrap_or(args.part_buffers),
            )
            .unwrap_or(api::DEFAULT_PART_BUFFERS),
        },
        body_min_rate: args.body_min_rate,
        body_grace: Duration::from_secs(args.body_grace_seconds),
        ..api::Config::default()
    };
    let state = api::AppState::new(store.clone(), &clients, &stack, &secret, config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "flightdeck-api serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The 5xx count the stack's API 5xx alarm reads, under the group's name.
    let publisher = std::env::var(api::cloudwatch::ASG_NAME_ENV)
        .ok()
        .filter(|g| !g.is_empty())
        .map(|group| {
            tracing::info!(%group, "publishing the 5xx count to CloudWatch every minute");
            tokio::spawn(
                api::cloudwatch::Publisher::new(clients.cloudwatch.clone(), group)
                    .run(state.clone(), stop_rx.clone()),
            )
        });
    let server = axum::serve(listener, api::app(state.clone())).with_graceful_shutdown({
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    });
    let drain = Duration::from_secs(args.drain_seconds);
    let mut rx = stop_rx;
    let deadline = async move {
        let _ = rx.wait_for(|stop| *stop).await;
        tokio::time::sleep(drain).await;
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests for up to {drain:?}");
        let _ = stop_tx.send(true);
    });
    tokio::select! {
        served = server => served.context("serving")?,
        () = deadline => tracing::warn!("drain time over; dropping the remaining requests"),
    }
    if let Some(p) = publisher {
        // The last count goes out (its call has the clients' own time limit).
        let _ = tokio::time::timeout(Duration::from_secs(10), p).await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
