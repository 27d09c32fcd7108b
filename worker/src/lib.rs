//! flightdeck's queue worker: long-polls `video_tasks`, transforms each upload with FFmpeg in
//! process (the `media` crate), stores the output under `processed/`, records the video's
//! status in the `store`, and settles every message: deleted after success, dead-lettered
//! with its reason on a permanent failure, released with a backoff on a retryable one.

pub mod cloudwatch;
pub mod config;
pub mod consumer;
pub mod error;
pub mod metrics;
pub mod queue;
pub mod storage;
pub mod workdir;

pub use config::WorkerConfig;
pub use consumer::{Outcome, RunReport, Worker};
pub use error::{FailureClass, WorkerError};
pub use metrics::Metrics;
