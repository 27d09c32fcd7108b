//! flightdeck-api: the upload API. `app(state)` builds the axum router; the state holds the
//! store (records), the S3 and SQS clients (objects, jobs), the JWT keys and the metrics.

pub mod auth;
pub mod body_end;
pub mod cloudwatch;
pub mod error;
pub mod health;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod parts;
pub mod public;
pub mod upload;
pub mod videos;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::OnceCell;

pub use crate::auth::{resolve_jwt_secret, JwtSecret, SecretError};
pub use crate::error::ApiError;

/// 100 MiB, WORKLOAD.md's upload limit.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// S3's minimum part size (every part but the last must be at least this).
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Part buffers shared by all uploads: uploads hold at most this x `PART_SIZE` (40 MiB).
pub const DEFAULT_PART_BUFFERS: usize = 8;
/// The slowest upload body accepted, in bytes per second, over `DEFAULT_BODY_GRACE`.
pub const DEFAULT_BODY_MIN_RATE: u64 = 32 * 1024;
/// How far a request body may fall behind `body_min_rate` (and so how long it may stall).
pub const DEFAULT_BODY_GRACE: Duration = Duration::from_secs(5);
/// Uploads that may wait for a part buffer at once (see `parts::Queue`); more get 503.
pub const DEFAULT_UPLOAD_QUEUE: usize = 128;
/// How long an upload may wait for a part buffer before it gets 503.
pub const DEFAULT_UPLOAD_WAIT: Duration = Duration::from_secs(10);

/// Tunables; `Default` is what the binary runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_upload_bytes: u64,
    /// How many `PART_SIZE` buffers all uploads share (see `parts`); uploads beyond that wait.
    pub part_buffers: usize,
    /// How uploads wait for a part buffer: how many at once, and for how long each, before
    /// they are refused with 503 `server_busy`.
    pub upload_queue: parts::Queue,
    /// An upload body must arrive at least this fast (bytes/s) on average over any
    /// `body_grace` window, else 408 `client_too_slow` (0: only stalls of `body_grace`).
    pub body_min_rate: u64,
    /// The window of `body_min_rate`: how long a body may stall before it is cut off.
    pub body_grace: Duration,
    /// Largest `limit` a list accepts; larger values are capped.
    pub max_page_size: u32,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long a health check waits for each dependency.
    pub health_timeout: Duration,
    /// argon2id cost. Tests lower it; production keeps the crate's (OWASP) default.
    pub password_params: argon2::Params,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            part_buffers: DEFAULT_PART_BUFFERS,
            upload_queue: parts::Queue {
                max_waiting: DEFAULT_UPLOAD_QUEUE,
                max_wait: DEFAULT_UPLOAD_WAIT,
                overload_waiting: DEFAULT_PART_BUFFERS,
            },
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            body_grace: DEFAULT_BODY_GRACE,
            max_page_size: 100,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            health_timeout: Duration::from_secs(2),
            password_params: argon2::Params::default(),
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: store::Store,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    uploads_prefix: String,
    queue_name: String,
    queue_url: OnceCell<String>,
    keys: auth::Keys,
    config: Config,
    metrics: metrics::Metrics,
    part_buffers: parts::PartBuffers,
}

impl AppState {
    /// Build the state. Nothing is contacted here: the queue URL is resolved on first use,
    /// so the API starts (and reports unhealthy) while SQS is down.
    pub fn new(
        store: store::Store,
        clients: &stack::Clients,
        stack: &stack::Stack,
        secret: &JwtSecret,
        config: Config,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                s3: clients.s3.clone(),
                sqs: clients.sqs.clone(),
                bucket: stack.bucket.name.clone(),
                uploads_prefix: stack.bucket.uploads_prefix.clone(),
                queue_name: stack.queues.tasks.name.clone(),
                queue_url: OnceCell::new(),
                keys: auth::Keys::new(secret),
                part_buffers: parts::PartBuffers::new(
                    config.part_buffers,
                    PART_SIZE,
                    config.upload_queue,
                ),
                config,
                metrics: metrics::Metrics::default(),
            }),
        }
    }

    pub fn store(&self) -> &store::Store {
        &self.inner.store
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.inner.s3
    }

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.inner.sqs
    }

    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    pub fn uploads_prefix(&self) -> &str {
        &self.inner.uploads_prefix
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// The buffers uploads read their parts into.
    pub fn part_buffers(&self) -> &parts::PartBuffers {
        &self.inner.part_buffers
    }

    pub(crate) fn keys(&self) -> &auth::Keys {
        &self.inner.keys
    }

    /// The `video_tasks` queue URL, looked up once and then cached.
    pub async fn queue_url(
        &self,
    ) -> Result<
        &str,
        aws_sdk_sqs::error::SdkError<aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError>,
    > {
        self.inner
            .queue_url
            .get_or_try_init(|| async {
                let out = self
                    .inner
                    .sqs
                    .get_queue_url()
                    .queue_name(&self.inner.queue_name)
                    .send()
                    .await?;
                Ok(out.queue_url.unwrap_or_default())
            })
            .await
            .map(String::as_str)
    }
}

/// The whole API: every resource's routes, the request observer (correlation id, tracing,
/// metrics) around them, a JSON 404 for everything else, JSON for every other error
/// the framework itself answers (405, rejections), and `Connection: close` on any answer
/// given before the request's body was read to its end (`body_end`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(auth::router())
        .merge(videos::router(&state))
        .merge(public::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(body_end::close_unread))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
