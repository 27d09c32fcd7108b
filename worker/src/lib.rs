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

/// The worker's malloc settings, which `flightdeck-worker` sets for itself at start (and
/// `examples/throughput.rs`, so the benchmark measures what runs). glibc kept the frame and
/// part buffers freed by past jobs (1.6 MB per job with nothing leaked); with two arenas and
/// a fixed 128 KiB mmap threshold the worker's RSS stays flat over many jobs
/// (`bench/worker-memory.sh`).
pub const MALLOC: stack::process::Malloc = stack::process::Malloc {
    arenas: 2,
    mmap_threshold: Some(128 << 10),
};
