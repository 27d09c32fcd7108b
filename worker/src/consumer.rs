//! The consumer: slots that long-poll `video_tasks`, run one job each under a visibility
//! heartbeat, and settle every message exactly one way: deleted after success, dead-lettered
//! on a permanent failure, or released with a backoff on a retryable one. Shutdown stops
//! receiving, lets running jobs finish within the drain, and releases the rest.
//!
//! With the overlap (the default) each slot has two lanes and one transform permit: one
//! lane's job transforms while the other's is downloaded before it, or uploaded after it,
//! so the CPU does not sit idle while S3 moves a job's bytes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::{Assets, TransformOptions};
use stack::message::{dated_key, S3Uri};
use stack::{Clients, Stack, VideoTask};
use store::{Store, StoreError, VideoStatus};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::error::{FailureClass, WorkerError};
use crate::metrics::Metrics;
use crate::queue::{DeadLetter, Queue, Received};
use crate::storage;

/// How one message was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Output stored, status `processed`, message deleted.
    Processed {
        video_id: Uuid,
        key: String,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// A duplicate delivery of a video that is already processed: message deleted.
    AlreadyProcessed { video_id: Uuid },
    /// Permanent failure: sent to the DLQ with its reason, original deleted.
    DeadLettered {
        video_id: Option<Uuid>,
        reason: &'static str,
    },
    /// Retryable failure: message left on the queue, hidden for `backoff`. On the last
    /// receive the video is also marked failed (`marked_failed`).
    Released {
        video_id: Option<Uuid>,
        reason: &'static str,
        backoff: Duration,
        marked_failed: bool,
    },
    /// The worker is shutting down: message made visible again at once.
    ReleasedForShutdown { video_id: Option<Uuid> },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Processed { .. } => "processed",
            Outcome::AlreadyProcessed { .. } => "already_processed",
            Outcome::DeadLettered { .. } => "dead_lettered",
            Outcome::Released { .. } => "released",
            Outcome::ReleasedForShutdown { .. } => "released_for_shutdown",
        }
    }
}

/// What a `run` did, by outcome label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Jobs still running when the drain ran out (their messages were released).
    pub abandoned: bool,
}

/// What a successful job produced.
enum Done {
    Processed {
        key: String,
        bytes_in: u64,
        bytes_out: u64,
    },
    AlreadyProcessed,
}

/// A job directory younger than this is never swept: it may be being created right now.
const STALE_JOB_MIN_AGE: Duration = Duration::from_secs(60);

pub struct Worker {
    s3: aws_sdk_s3::Client,
    queue: Queue,
    store: Store,
    assets: Arc<Assets>,
    config: WorkerConfig,
    metrics: Arc<Metrics>,
    /// One per slot: held while a job transforms.
    transforms: Semaphore,
}

impl Worker {
    /// Resolve the queues and prepare the work directory.
    pub async fn new(
        clients: &Clients,
        stack: &Stack,
        store: Store,
        assets: Assets,
        config: WorkerConfig,
    ) -> Result<Worker, WorkerError> {
        let queue = Queue::resolve(&clients.sqs, stack).await?;
        tokio::fs::create_dir_all(&config.work_dir)
            .await
            .map_err(|e| WorkerError::io("creating", &config.work_dir, e))?;
        // Jobs a dead worker left here (killed mid-job): their locks died with it.
        match crate::workdir::sweep(&config.work_dir, STALE_JOB_MIN_AGE) {
            Ok(swept) if swept.jobs > 0 => tracing::info!(
                removed = swept.jobs,
                live = swept.live,
                "removed the job directories of a dead worker"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("sweeping {}: {e}", config.work_dir.display()),
        }
        let metrics = Arc::new(Metrics::default());
        metrics.set_slots(config.concurrency.max(1));
        Ok(Worker {
            s3: clients.s3.clone(),
            queue,
            store,
            assets: Arc::new(assets),
            transforms: Semaphore::new(config.concurrency.max(1)),
            config,
            metrics,
        })
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// What this worker has done: `/metrics` renders it, the CloudWatch publisher sends it.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Run `concurrency` slots (two lanes each with the overlap) until `shutdown`; then
    /// drain: running jobs get `drain_timeout` to finish, after which (or when `abandon` is
    /// cancelled) they stop and their messages are released. A job still waiting for its
    /// transform when `shutdown` comes releases its message at once.
    pub async fn run(
        self: Arc<Self>,
        shutdown: CancellationToken,
        abandon: CancellationToken,
    ) -> RunReport {
        let mut slots = JoinSet::new();
        let lanes = if self.config.overlap { 2 } else { 1 };
        for slot in 0..self.config.concurrency.max(1) * lanes {
            let worker = self.clone();
            let (shutdown, abandon) = (shutdown.clone(), abandon.clone());
            slots.spawn(async move { worker.slot(slot, shutdown, abandon).await });
        }
        shutdown.cancelled().await;
        info!(
            drain_s = self.config.drain_timeout.as_secs(),
            "shutting down: no new messages; waiting for running jobs"
        );
        let mut report = RunReport::default();
        let drain = tokio::time::sleep(self.config.drain_timeout);
        tokio::pin!(drain);
        loop {
            tokio::select! {
                joined = slots.join_next() => match joined {
                    Some(Ok(outcomes)) => merge(&mut report, outcomes),
                    Some(Err(e)) => warn!(error = %e, "a worker slot ended abnormally"),
                    None => break,
                },
                () = &mut drain, if !abandon.is_cancelled() => {
                    warn!("drain timeout: releasing the messages of running jobs");
                    report.abandoned = true;
                    abandon.cancel();
                }
                () = abandon.cancelled(), if !report.abandoned => {
                    warn!("drain abandoned: releasing the messages of running jobs");
                    report.abandoned = true;
                }
            }
        }
        report
    }

    /// One slot: receive, handle, repeat, until `shutdown`.
    async fn slot(
        &self,
        slot: usize,
        shutdown: CancellationToken,
        abandon: CancellationToken,
    ) -> BTreeMap<&'static str, u64> {
        let mut outcomes = BTreeMap::new();
        let mut errors = 0u32;
        loop {
            // Stop receiving at once on shutdown. A message SQS handed out in the cancelled
            // call stays hidden for one visibility timeout, then is delivered again: delayed,
            // never lost. `biased`: once shutdown has come no receive starts at all (polled
            // first, a receive is sent even though its answer is dropped, and could take the
            // very message this worker has just released).
            let received = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                r = self.queue.receive(self.config.receive_wait) => r,
            };
            match received {
                Ok(Some(msg)) => {
                    errors = 0;
                    let outcome = self.handle_until(msg, &shutdown, &abandon).await;
                    *outcomes.entry(outcome.label()).or_insert(0) += 1;
                }
                Ok(None) => errors = 0,
                Err(e) => {
                    errors = errors.saturating_add(1);
                    let pause = Duration::from_secs(1u64 << errors.min(5));
                    warn!(slot, error = %e, pause_s = pause.as_secs(), "cannot receive; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
        outcomes
    }

    /// Receive at most one message (one long poll) and settle it.
    pub async fn poll_once(
        &self,
        abandon: &CancellationToken,
    ) -> Result<Option<Outcome>, WorkerError> {
        match self.queue.receive(self.config.receive_wait).await? {
            Some(msg) => Ok(Some(self.handle(msg, abandon).await)),
            None => Ok(None),
        }
    }

    /// Run the job for one message and settle the message. Never fails: every failure
    /// becomes an outcome (and a log line).
    pub async fn handle(&self, msg: Received, abandon: &CancellationToken) -> Outcome {
        self.handle_until(msg, &CancellationToken::new(), abandon)
            .await
    }

    /// `handle`, in a slot that stops at `shutdown`: a job still waiting for its transform
    /// then releases its message instead of starting.
    async fn handle_until(
        &self,
        msg: Received,
        shutdown: &CancellationToken,
        abandon: &CancellationToken,
    ) -> Outcome {
        let span = info_span!(
            "job",
            message_id = %msg.message_id,
            receive = msg.receive_count,
            video_id = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let _running = self.metrics.job_started();
            let task = match VideoTask::parse(&msg.body) {
                Ok(task) => task,
                Err(e) => {
                    let outcome = self.dead_letter(&msg, None, &WorkerError::BadMessage(e)).await;
                    self.metrics.record(&outcome, started.elapsed());
                    return outcome;
                }
            };
            let span = tracing::Span::current();
            span.record("video_id", tracing::field::display(task.video_id));
            span.record("correlation_id", task.correlation_id.as_str());

            let beat_stop = CancellationToken::new();
            let beat = self.queue.heartbeat(
                msg.receipt_handle.clone(),
                self.config.heartbeat_interval,
                self.config.visibility_timeout,
                beat_stop.clone(),
            );
            let result = self.process(&task, shutdown, abandon).await;
            beat_stop.cancel();
            let _ = beat.await;

            let id = Some(task.video_id);
            let outcome = match result {
                Ok(Done::Processed {
                    key,
                    bytes_in,
                    bytes_out,
                }) => {
                    self.delete(&msg).await;
                    Outcome::Processed {
                        video_id: task.video_id,
                        key,
                        bytes_in,
                        bytes_out,
                    }
                }
                Ok(Done::AlreadyProcessed) => {
                    self.delete(&msg).await;
                    Outcome::AlreadyProcessed {
                        video_id: task.video_id,
                    }
                }
                Err(WorkerError::Shutdown) => {
                    if let Err(e) = self.queue.set_visibility(&msg.receipt_handle, Duration::ZERO).await {
                        warn!(error = %e, "could not release the message; it reappears after its visibility timeout");
                    }
                    Outcome::ReleasedForShutdown { video_id: id }
                }
                Err(e) => match e.class() {
                    FailureClass::Permanent => self.dead_letter(&msg, id, &e).await,
                    FailureClass::Retryable => self.release(&msg, id, &e).await,
                },
            };
            let elapsed = started.elapsed();
            self.metrics.record(&outcome, elapsed);
            info!(
                outcome = outcome.label(),
                seconds = elapsed.as_secs_f64(),
                "job settled"
            );
            outcome
        }
        .instrument(span)
        .await
    }

    /// The job: claim the video, download, transform, upload, record.
    async fn process(
        &self,
        task: &VideoTask,
        shutdown: &CancellationToken,
        abandon: &CancellationToken,
    ) -> Result<Done, WorkerError> {
        let id = task.video_id;
        match self.store.mark_processing(id).await {
            Ok(_) => {}
            Err(StoreError::InvalidTransition {
                from: VideoStatus::Processed,
                ..
            }) => return Ok(Done::AlreadyProcessed),
            // A failed video's message only comes back when an operator redrives it from the
            // DLQ (after fixing the cause): that is a request to try again.
            Err(StoreError::InvalidTransition {
                from: VideoStatus::Failed,
                ..
            }) => {
                tracing::info!(video_id = %id, "the video had failed; trying it again (redriven)");
                self.store.mark_queued(id).await?;
                self.store.mark_processing(id).await?;
            }
            Err(StoreError::InvalidTransition { from, .. }) => {
                return Err(WorkerError::VideoNotProcessable { id, status: from })
            }
            Err(StoreError::NotFound(_)) => return Err(WorkerError::VideoNotFound(id)),
            Err(e) => return Err(e.into()),
        }

        // Removed on every path out of this function, success or not; locked while it lives,
        // so if this process dies the next worker's sweep removes it.
        let dir = crate::workdir::JobDir::create(&self.config.work_dir)?;
        let input = dir
            .path()
            .join(format!("source.{}", extension(&task.source.key)));
        let output = dir.path().join("output.mp4");

        let bytes_in = tokio::select! {
            r = storage::download(
                &self.s3,
                &task.source,
                &input,
                self.config.part_size,
                self.config.transfer_parallelism,
            ) => r?,
            () = abandon.cancelled() => return Err(WorkerError::Shutdown),
        };
        self.metrics.add_bytes_in(bytes_in);
        info!(bytes_in, "downloaded");

        let stats = {
            // The other lane's job may be transforming: wait for it, downloaded. On shutdown
            // a job that has not started gives its message back for another worker.
            let _permit = tokio::select! {
                biased;
                permit = self.transforms.acquire() => {
                    permit.map_err(|_| WorkerError::Shutdown)?
                }
                () = shutdown.cancelled() => return Err(WorkerError::Shutdown),
                () = abandon.cancelled() => return Err(WorkerError::Shutdown),
            };
            self.transform(&input, &output, abandon).await?
        };
        info!(
            frames_out = stats.frames_out,
            transform_s = stats.wall_time.as_secs_f64(),
            bumpers_encoded = stats.bumpers_encoded,
            "transformed"
        );

        // Keyed by the submission date, so a retry overwrites the same object.
        let key = dated_key(&self.config.processed_prefix, task.submitted_at, id, "mp4");
        let dest = S3Uri::new(task.source.bucket.clone(), key.clone());
        let bytes_out = storage::upload(
            &self.s3,
            &output,
            &dest,
            "video/mp4",
            self.config.part_size,
            self.config.transfer_parallelism,
            abandon,
        )
        .await?;
        self.metrics.add_bytes_out(bytes_out);

        match self.store.mark_processed(id, &key).await {
            Ok(_) => {}
            // Another delivery finished first; its output has the same key and content.
            Err(StoreError::InvalidTransition {
                from: VideoStatus::Processed,
                ..
            }) => return Ok(Done::AlreadyProcessed),
            Err(e) => return Err(e.into()),
        }
        Ok(Done::Processed {
            key,
            bytes_in,
            bytes_out,
        })
    }

    async fn transform(
        &self,
        input: &Path,
        output: &Path,
        abandon: &CancellationToken,
    ) -> Result<media::TransformStats, WorkerError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let options = TransformOptions {
            cancel: Some(cancel.clone()),
            threads: self.config.transform_threads(),
            stage_nice: self.config.stage_nice,
            segment_cache: self.config.segment_cache.clone(),
            ..TransformOptions::default()
        };
        let (assets, input, output) = (
            self.assets.clone(),
            input.to_path_buf(),
            output.to_path_buf(),
        );
        let job = tokio::task::spawn_blocking(move || {
            media::transform(&input, &output, &assets, &options)
        });
        // Always wait for the blocking job, so the work directory outlives it.
        let watcher = {
            let (abandon, cancel) = (abandon.clone(), cancel.clone());
            tokio::spawn(async move {
                abandon.cancelled().await;
                cancel.store(true, Ordering::Relaxed);
            })
        };
        let result = job.await;
        watcher.abort();
        match result {
            Ok(Ok(stats)) => Ok(stats),
            Ok(Err(media::TransformError::Cancelled)) if abandon.is_cancelled() => {
                Err(WorkerError::Shutdown)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(WorkerError::Transform(media::TransformError::Internal(
                format!("transform task failed: {e}"),
            ))),
        }
    }

    async fn delete(&self, msg: &Received) {
        if let Err(e) = self.queue.delete(&msg.receipt_handle).await {
            // The next delivery finds the video processed (or failed) and settles it.
            warn!(error = %e, "could not delete the message; a redelivery will settle it");
        }
    }

    /// Permanent: DLQ copy with the reason, video marked failed, original deleted. If the
    /// DLQ copy cannot be sent, the message is released instead so it is never lost.
    async fn dead_letter(
        &self,
        msg: &Received,
        video_id: Option<Uuid>,
        err: &WorkerError,
    ) -> Outcome {
        let reason = err.reason();
        let detail = err.to_string();
        warn!(reason, error = %detail, "permanent failure: dead-lettering");
        let why = DeadLetter {
            reason,
            class: FailureClass::Permanent.as_str(),
            detail: &detail,
            instance: &self.config.instance_id,
        };
        if let Err(e) = self.queue.dead_letter(&msg.body, &why).await {
            warn!(error = %e, "could not send to the DLQ; releasing the message instead");
            return self.release(msg, video_id, &e).await;
        }
        let claimed = !matches!(
            err,
            WorkerError::VideoNotFound(_) | WorkerError::VideoNotProcessable { .. }
        );
        if let (Some(id), true) = (video_id, claimed) {
            if let Err(e) = self.store.mark_failed(id, reason).await {
                warn!(error = %e, "could not mark the video failed");
            }
        }
        self.delete(msg).await;
        Outcome::DeadLettered { video_id, reason }
    }

    /// Retryable: leave the message on the queue, hidden for a backoff. On the last receive
    /// SQS dead-letters it instead of redelivering, so the video is marked failed now.
    async fn release(&self, msg: &Received, video_id: Option<Uuid>, err: &WorkerError) -> Outcome {
        let reason = err.reason();
        let backoff = self.config.backoff(msg.receive_count);
        let last = msg.receive_count >= self.config.max_receive_count;
        warn!(reason, error = %err, backoff_s = backoff.as_secs(), last_receive = last, "retryable failure: releasing");
        let mut marked_failed = false;
        match (video_id, last) {
            (Some(id), true) => match self.store.mark_failed(id, reason).await {
                Ok(_) => marked_failed = true,
                Err(e) => warn!(error = %e, "could not mark the video failed"),
            },
            // The video stays `processing` for the next delivery; its record says what
            // went wrong this time.
            (Some(id), false) => {
                if let Err(e) = self.store.record_failure(id, reason).await {
                    warn!(error = %e, "could not record the failure on the video");
                }
            }
            (None, _) => {}
        }
        if let Err(e) = self
            .queue
            .set_visibility(&msg.receipt_handle, backoff)
            .await
        {
            warn!(error = %e, "could not set the backoff; the message reappears after its visibility timeout");
        }
        Outcome::Released {
            video_id,
            reason,
            backoff,
            marked_failed,
        }
    }
}

fn merge(report: &mut RunReport, outcomes: BTreeMap<&'static str, u64>) {
    for (label, n) in outcomes {
        *report.outcomes.entry(label).or_insert(0) += n;
    }
}

/// The upload's extension, if it is a plain one (FFmpeg probes content, not names, but a
/// right extension helps it and a hostile one must not reach the file system).
fn extension(key: &str) -> String {
    key.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| {
            !ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .unwrap_or_else(|| "bin".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_sanitised() {
        assert_eq!(extension("uploads/2026/01/02/x.MP4"), "mp4");
        assert_eq!(extension("uploads/x.mov"), "mov");
        assert_eq!(extension("uploads/x"), "bin");
        assert_eq!(extension("uploads/x./../../etc"), "bin");
        assert_eq!(extension("uploads/x.verylongext"), "bin");
    }
}
