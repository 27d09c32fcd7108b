//! The worker's settings: queue timings from stack.json, the rest from flags, with typed
//! defaults; and the retry backoff as a pure function.

use std::path::PathBuf;
use std::time::Duration;

use stack::Stack;

/// How one worker process runs. `WorkerConfig::from_stack` gives the defaults.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Transforms run at once; each slot long-polls for one message at a time.
    pub concurrency: usize,
    /// Each slot holds a second job beside the one transforming: it is received and
    /// downloaded while the other transforms, and the other's upload overlaps its transform,
    /// so the CPU does not wait for S3 between jobs. At most `concurrency` transforms run.
    pub overlap: bool,
    /// Long-poll wait of each ReceiveMessage (stack.json `receive_wait_s`).
    pub receive_wait: Duration,
    /// The queue's visibility timeout; the heartbeat keeps a running job's message hidden
    /// for this long past each beat.
    pub visibility_timeout: Duration,
    /// Time between heartbeats (a third of the visibility timeout: two beats may fail
    /// before the message reappears).
    pub heartbeat_interval: Duration,
    /// The queue's maxReceiveCount: on that receive a retryable failure also marks the video
    /// failed, since SQS dead-letters the message instead of delivering it again.
    pub max_receive_count: u32,
    /// Backoff for a retryable failure: `base * 2^(receives - 1)`, at most `max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Where each job gets its temporary directory (download and output).
    pub work_dir: PathBuf,
    /// Names this process in the DLQ's `worker_instance` attribute and in logs.
    pub instance_id: String,
    /// On shutdown, how long running jobs may take to finish before their messages are
    /// released (visibility 0) for another worker.
    pub drain_timeout: Duration,
    /// Parallel ranged GETs per download and parallel parts per upload.
    pub transfer_parallelism: usize,
    /// Size of one ranged GET and of one multipart part (S3's minimum part is 5 MiB).
    pub part_size: u64,
    pub processed_prefix: String,
    /// Caps FFmpeg's threads per job (the filter graph and libx264; the upload's decoder gets
    /// half of them, at least one); `None` is automatic: one per core.
    pub ffmpeg_threads: Option<usize>,
    /// How many nice steps below the upload's decoder each transform's filter and encoder
    /// threads run (media's `TransformOptions::stage_nice`; 0: every thread alike).
    pub stage_nice: i32,
    /// Where the encoded intro and outro are kept between jobs (media's segment cache);
    /// `None`: every job encodes them again.
    pub segment_cache: Option<PathBuf>,
}

impl WorkerConfig {
    pub fn from_stack(stack: &Stack) -> WorkerConfig {
        let q = &stack.queues.tasks;
        let visibility = Duration::from_secs(u64::from(q.visibility_timeout_s.max(1)));
        WorkerConfig {
            concurrency: 1,
            overlap: true,
            receive_wait: Duration::from_secs(u64::from(q.receive_wait_s)),
            visibility_timeout: visibility,
            heartbeat_interval: (visibility / 3).max(Duration::from_secs(1)),
            max_receive_count: q.max_receive_count,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            work_dir: std::env::temp_dir().join("flightdeck-worker"),
            instance_id: default_instance_id(),
            drain_timeout: Duration::from_secs(30),
            transfer_parallelism: 4,
            part_size: 8 * 1024 * 1024,
            processed_prefix: stack.bucket.processed_prefix.clone(),
            ffmpeg_threads: None,
            stage_nice: media::TransformOptions::default().stage_nice,
            segment_cache: None,
        }
    }

    /// The thread count each transform gets: the configured cap, else one per core. (The
    /// media crate runs its decoder single-threaded for 0, so "automatic" is resolved here.)
    pub fn transform_threads(&self) -> usize {
        self.ffmpeg_threads.filter(|&n| n > 0).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// How long a message stays hidden after its `receives`-th receive failed retryably.
    pub fn backoff(&self, receives: u32) -> Duration {
        let exp = receives.saturating_sub(1).min(16);
        self.backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.backoff_max)
            // SQS's visibility timeout cannot exceed 12 hours.
            .min(Duration::from_secs(12 * 3600))
    }
}

/// `<hostname>-<pid>`: unique per process on a machine, readable in the DLQ.
pub fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_stack() {
        let stack = Stack::embedded().unwrap();
        let c = WorkerConfig::from_stack(&stack);
        assert_eq!(c.receive_wait, Duration::from_secs(20));
        assert_eq!(c.visibility_timeout, Duration::from_secs(60));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(20));
        assert_eq!(c.max_receive_count, 5);
        assert_eq!(c.processed_prefix, "processed/");
        assert_eq!(c.concurrency, 1);
        assert_eq!(c.ffmpeg_threads, None);
        assert_eq!(c.stage_nice, 10, "media's default: the decoder first");
    }

    #[test]
    fn ffmpeg_threads_default_to_the_core_count_and_obey_a_cap() {
        let stack = Stack::embedded().unwrap();
        let mut c = WorkerConfig::from_stack(&stack);
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(c.transform_threads(), cores);
        c.ffmpeg_threads = Some(1);
        assert_eq!(c.transform_threads(), 1);
        c.ffmpeg_threads = Some(0);
        assert_eq!(c.transform_threads(), cores);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let stack = Stack::embedded().unwrap();
        let c = WorkerConfig::from_stack(&stack);
        assert_eq!(c.backoff(0), Duration::from_secs(10));
        assert_eq!(c.backoff(1), Duration::from_secs(10));
        assert_eq!(c.backoff(2), Duration::from_secs(20));
        assert_eq!(c.backoff(4), Duration::from_secs(80));
        assert_eq!(c.backoff(6), Duration::from_secs(300));
        assert_eq!(c.backoff(u32::MAX), Duration::from_secs(300));
    }
}
