//! Moving dead letters back, deleting them, purging a queue.
//!
//! The batch mover receives ten at a time, sends to the destination with SendMessageBatch,
//! and only then deletes from the DLQ with DeleteMessageBatch; every step is journalled
//! first (see [`super::journal`]). Bodies and message attributes are resent unchanged, except
//! that `tag_origin` adds two attributes saying where each message came from
//! ([`ORIGIN_ATTRIBUTE`], [`RUN_ATTRIBUTE`]).
//! A send with an attempt SQS may have carried out without saying so (no answer, a 5xx),
//! followed by the SDK's retry, may have sent its messages twice: they are journalled as
//! possible duplicates, and those it did not send stay `sending`, so a resend counts too.
//! Up to `IN_FLIGHT` (4) batches move at once, sharing the journal's fsyncs; receives stay one
//! at a time, so the pass and its empty-receive rule are those of a single batch.
//! "Move all" first asks the endpoint for StartMessageMoveTask and follows it with
//! ListMessageMoveTasks; an endpoint that does not implement it (the emulator) gets the batch
//! mover, and the progress says so.
//!
//! Progress goes out on a `tokio::sync::watch` channel; a `CancellationToken` stops the run
//! between batches (a batch in flight finishes its send and delete, so nothing is half-moved).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use stack::{Clients, ErrorClass, Stack};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::journal::{Journal, SharedJournal};
use super::mover::{Done, Pass, Work};
use super::peek::{approximate_depth, resolve_queue, DlqMessage, QueueRef, Scanner};
use super::DlqError;

use super::request::new_run_id;
pub use super::request::{
    Destination, MessageSet, Mover, RedriveProgress, RedriveRequest, MAX_MESSAGE_ATTRIBUTES,
};

/// The result of a redrive.
#[derive(Debug, Clone, Serialize)]
pub struct RedriveOutcome {
    #[serde(flatten)]
    pub progress: RedriveProgress,
    /// Dry-run: the messages that would move.
    pub would_move: Vec<DlqMessage>,
    /// The journal, when something is still outstanding (delete failures); rerun to finish.
    pub journal: Option<PathBuf>,
    /// The DLQ message ids of every possible duplicate on record (see
    /// `possible_duplicates_total`).
    pub possible_duplicate_ids: Vec<String>,
    /// The DLQ message ids counted `untaggable`.
    pub untaggable_ids: Vec<String>,
}

/// Find where "the source" of a DLQ is.
pub async fn source_of(
    clients: &Clients,
    stack: &Stack,
    dlq: &QueueRef,
) -> Result<String, DlqError> {
    let out = clients
        .sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq.url)
        .send()
        .await;
    let urls: Vec<String> = match out {
        Ok(o) => o.queue_urls().to_vec(),
        // Fall through to the stack's mapping when the endpoint cannot answer.
        Err(e) if stack::errors::describe(&e).class == ErrorClass::NotImplemented => Vec::new(),
        Err(e) => return Err(DlqError::aws("ListDeadLetterSourceQueues")(e)),
    };
    match urls.as_slice() {
        [one] => Ok(one.clone()),
        [] if dlq.name == stack.queues.dlq.name => Ok(stack.queues.tasks.name.clone()),
        [] => Err(DlqError::Invalid(format!(
            "no queue names {} as its dead-letter queue: say where to send with --to QUEUE",
            dlq.name
        ))),
        many => Err(DlqError::Invalid(format!(
            "{} queues use {} as their dead-letter queue ({}): choose one with --to QUEUE",
            many.len(),
            dlq.name,
            many.iter()
                .map(|u| u.rsplit('/').next().unwrap_or(u))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Run a redrive to the end, a cancel, or an error. Progress snapshots go to `progress`.
pub async fn run(
    clients: &Clients,
    stack: &Stack,
    req: &RedriveRequest,
    progress: &watch::Sender<RedriveProgress>,
    cancel: &CancellationToken,
) -> Result<RedriveOutcome, DlqError> {
    let sqs = &clients.sqs;
    let dlq = resolve_queue(sqs, &req.dlq).await?;
    let dest_name = match &req.destination {
        Destination::Source => source_of(clients, stack, &dlq).await?,
        Destination::Queue(q) => q.clone(),
    };
    let dest = resolve_queue(sqs, &dest_name).await?;
    if dest.url == dlq.url {
        return Err(DlqError::Invalid(format!(
            "{} is the dead-letter queue itself: send to another queue with --to QUEUE",
            dlq.name
        )));
    }
    check_edits(&req.edits, &dest.name, stack)?;
    let mut state = RedriveProgress {
        run_id: new_run_id(),
        dlq: dlq.name.clone(),
        destination: dest.name.clone(),
        dry_run: req.dry_run,
        ..RedriveProgress::default()
    };

    // The move task moves messages as they are: not with edits or tags.
    if req.selection == MessageSet::Everything
        && req.use_move_task
        && !req.dry_run
        && req.edits.is_empty()
        && !req.tag_origin
    {
        match move_task(clients, &dlq, &dest, req, &mut state, progress, cancel).await? {
            MoveTaskResult::Done => {
                return Ok(RedriveOutcome {
                    progress: state,
                    would_move: Vec::new(),
                    journal: None,
                    possible_duplicate_ids: Vec::new(),
                    untaggable_ids: Vec::new(),
                })
            }
            MoveTaskResult::NotImplemented => {
                state.notes.push(
                    "StartMessageMoveTask is not implemented at this endpoint: moving with flightdeck's batch mover instead".into(),
                );
            }
        }
    }
    batch_move(clients, &dlq, &dest, req, state, progress, cancel).await
}

/// Edited bodies must be JSON, and v1 video tasks when they go to the stack's task queue (what
/// the worker will parse); an edit fails the whole redrive before anything moves.
pub fn check_edits(
    edits: &BTreeMap<String, String>,
    destination: &str,
    stack: &Stack,
) -> Result<(), DlqError> {
    for (id, body) in edits {
        let bad = |why: String| DlqError::Invalid(format!("the edited body of {id} {why}"));
        if destination == stack.queues.tasks.name {
            stack::message::VideoTask::parse(body).map_err(|e| {
                bad(format!(
                    "is not a v1 video task for {destination}: {e} (code {})",
                    e.code()
                ))
            })?;
        } else {
            serde_json::from_str::<serde_json::Value>(body)
                .map_err(|e| bad(format!("is not JSON: {e}")))?;
        }
    }
    Ok(())
}

enum MoveTaskResult {
    Done,
    NotImplemented,
}

async fn move_task(
    clients: &Clients,
    dlq: &QueueRef,
    dest: &QueueRef,
    req: &RedriveRequest,
    state: &mut RedriveProgress,
    progress: &watch::Sender<RedriveProgress>,
    cancel: &CancellationToken,
) -> Result<MoveTaskResult, DlqError> {
    let mut start = clients.sqs.start_message_move_task().source_arn(&dlq.arn);
    // Without a destination, SQS moves each message back to the queue it came from.
    if matches!(req.destination, Destination::Queue(_)) {
        start = start.destination_arn(&dest.arn);
    }
    if let Some(rate) = req.rate_per_s {
        start = start.max_number_of_messages_per_second((rate.round() as i32).clamp(1, 500));
    }
    let handle = match start.send().await {
        Ok(out) => out.task_handle().unwrap_or_default().to_string(),
        Err(e) => {
            let failure = stack::errors::describe(&e);
            if failure.class == ErrorClass::NotImplemented {
                return Ok(MoveTaskResult::NotImplemented);
            }
            return Err(DlqError::Aws {
                action: "StartMessageMoveTask",
                failure,
            });
        }
    };
    state.mover = Some(Mover::MoveTask);
    state
        .notes
        .push("moving with SQS's StartMessageMoveTask".into());
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                clients.sqs.cancel_message_move_task().task_handle(&handle).send().await
                    .map_err(DlqError::aws("CancelMessageMoveTask"))?;
                state.cancelled = true;
                state.notes.push("cancelled: messages already moved stay moved".into());
                break;
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let out = clients
            .sqs
            .list_message_move_tasks()
            .source_arn(&dlq.arn)
            .max_results(1)
            .send()
            .await
            .map_err(DlqError::aws("ListMessageMoveTasks"))?;
        let Some(task) = out.results().first() else {
            continue;
        };
        state.moved = task.approximate_number_of_messages_moved().max(0) as u64;
        state.remaining = task
            .approximate_number_of_messages_to_move()
            .map(|t| (t - task.approximate_number_of_messages_moved()).max(0) as u64);
        update_rate(state, started);
        progress.send_replace(state.clone());
        match task.status() {
            Some("COMPLETED") => break,
            Some("CANCELLED") => {
                state.cancelled = true;
                break;
            }
            Some("FAILED") => {
                return Err(DlqError::Invalid(format!(
                    "the move task failed: {}",
                    task.failure_reason().unwrap_or("no reason given")
                )))
            }
            _ => {}
        }
    }
    if !state.cancelled {
        count_left(&clients.sqs, &dlq.url, &req.selection, 0, state).await;
    }
    state.finished = true;
    progress.send_replace(state.clone());
    Ok(MoveTaskResult::Done)
}

/// What a finished pass left in the DLQ held by another consumer: the queue's in-flight
/// count, read after this run released what it held (for `--id`s, at most the `missing` ids).
/// A failed read is a note, never a silent 0.
async fn count_left(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    selection: &MessageSet,
    missing: u64,
    state: &mut RedriveProgress,
) {
    match super::peek::depth_parts(sqs, url).await {
        Ok((_, in_flight)) => {
            state.left = match selection {
                MessageSet::Ids(_) => in_flight.min(missing),
                _ => in_flight,
            };
        }
        Err(e) => state.notes.push(format!(
            "could not tell whether another consumer held messages at the end ({e})"
        )),
    }
}

fn update_rate(state: &mut RedriveProgress, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    state.rate_per_s = if secs > 0.0 {
        state.moved as f64 / secs
    } else {
        0.0
    };
    state.eta = match (state.remaining, state.rate_per_s) {
        (Some(r), rate) if rate > 0.0 => Some(Duration::from_secs_f64(r as f64 / rate)),
        _ => None,
    };
}

enum Event {
    Scanned(
        Box<Scanner>,
        Result<Option<Vec<DlqMessage>>, DlqError>,
        Duration,
    ),
    Moved(Result<Done, DlqError>),
}

/// Move one batch: journal `sending`, send, journal `sent`/`unsent`, delete, journal
/// `deleted`. Each journal step is on disk before the step it guards starts; what to journal
/// and what comes next is [`Work`]'s and [`super::mover::Confirmed`]'s to say.
async fn move_batch(
    sqs: &aws_sdk_sqs::Client,
    journal: &SharedJournal,
    dlq_url: &str,
    dest_url: &str,
    work: Work,
) -> Result<Done, DlqError> {
    let mut timings = [Duration::ZERO; 4];
    let confirmed = if work.to_send.is_empty() {
        work.resumed_only()
    } else {
        let t = Instant::now();
        if !work.duplicates.is_empty() {
            journal.duplicates(&work.duplicates).await?;
        }
        journal.sending(&work.sending_ids()).await?;
        timings[0] += t.elapsed();
        let t = Instant::now();
        let sent = send_batch(sqs, dest_url, &work.to_send).await;
        timings[1] += t.elapsed();
        let (sent, unsent, uncertain) = match sent {
            Ok(r) => r,
            Err((e, uncertain)) => {
                // Refused outright: say so before giving up; the mover releases the messages.
                let refused = work.refused(e, uncertain);
                if !refused.journal_unsent.is_empty() {
                    journal.unsent(&refused.journal_unsent).await?;
                }
                let mut done = refused.done;
                done.timings = timings;
                return Ok(done);
            }
        };
        let confirmed = work.sent(sent, unsent, uncertain);
        let t = Instant::now();
        if !confirmed.journal_sent.is_empty() {
            journal.sent(&confirmed.journal_sent).await?;
        }
        if !confirmed.journal_duplicates.is_empty() {
            journal.duplicates(&confirmed.journal_duplicates).await?;
        }
        if !confirmed.journal_unsent.is_empty() {
            journal.unsent(&confirmed.journal_unsent).await?;
        }
        timings[0] += t.elapsed();
        confirmed
    };
    let mut done = if confirmed.to_delete.is_empty() {
        confirmed.undeleted()
    } else {
        let t = Instant::now();
        let (deleted, kept) = delete_batch(sqs, dlq_url, &confirmed.to_delete).await?;
        timings[2] += t.elapsed();
        let t = Instant::now();
        if !deleted.is_empty() {
            journal.deleted(&deleted).await?;
        }
        timings[0] += t.elapsed();
        confirmed.deleted(deleted, kept)
    };
    done.timings = timings;
    Ok(done)
}

/// The batch mover: drives a [`Pass`] (the decisions) with the scanner, the journal and SQS.
#[allow(clippy::too_many_arguments)]
async fn batch_move(
    clients: &Clients,
    dlq: &QueueRef,
    dest: &QueueRef,
    req: &RedriveRequest,
    state: RedriveProgress,
    progress: &watch::Sender<RedriveProgress>,
    cancel: &CancellationToken,
) -> Result<RedriveOutcome, DlqError> {
    let sqs = &clients.sqs;
    let depth = approximate_depth(sqs, &dlq.url).await?;
    let mut pass = Pass::new(req, state, depth);
    let mut scan = Scanner::new(&dlq.url, req.visibility_s, req.empty_receives)
        .with_own_receives(Some(&req.journal_dir));
    let journal = if req.dry_run {
        None
    } else {
        let mut j = Journal::open(&req.journal_dir, &dlq.url)?;
        if let Some(prior) = j.prior().cloned() {
            pass.state.notes.push(format!(
                "resuming an unfinished redrive ({} message(s) in flight when it stopped); waiting up to {} s for the messages it held to return",
                prior.outstanding,
                prior.visibility.as_secs()
            ));
            let back_at = prior.last_write + prior.visibility + Duration::from_secs(1);
            let wait = back_at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            scan.wait_until(tokio::time::Instant::now() + wait);
        }
        j.begin(&dlq.name, &dest.name, req.visibility_s.max(1) as u64)?;
        Some(j.share())
    };
    progress.send_replace(pass.state.clone());

    let started = Instant::now();
    // The scanner is either here or inside the one receive in flight; what batches in
    // flight learn about it (retry these, hold those, wait until) waits in the pass meanwhile.
    let mut scanner = Some(Box::new(scan));
    let mut events: FuturesUnordered<BoxFuture<'_, Event>> = FuturesUnordered::new();
    let journal_ref = journal.as_ref();

    loop {
        if pass.may_receive(cancel.is_cancelled()) {
            if let Some(mut s) = scanner.take() {
                let receive = pass.start_receive(started.elapsed());
                if !receive.release.is_empty() {
                    // Let them come round again in this pass: released only now, with no
                    // receive in flight, so that the scan returns them.
                    let handles: Vec<String> = receive
                        .release
                        .iter()
                        .map(|m| m.receipt_handle.clone())
                        .collect();
                    for m in &receive.release {
                        s.forget(&m.id);
                    }
                    super::peek::release(sqs, &dlq.url, &handles).await;
                }
                for m in &receive.hold {
                    s.hold(m);
                }
                if let Some(at) = receive.not_before {
                    s.wait_until(at);
                }
                let ahead = receive.delay;
                events.push(Box::pin(async move {
                    if !ahead.is_zero() {
                        tokio::select! {
                            _ = cancel.cancelled() => {}
                            _ = tokio::time::sleep(ahead) => {}
                        }
                    }
                    let t = Instant::now();
                    let r = s.next_batch(sqs, cancel).await;
                    Event::Scanned(s, r, t.elapsed())
                }));
            }
        }
        let Some(event) = events.next().await else {
            break;
        };
        match event {
            Event::Scanned(mut s, r, took) => {
                pass.timings[3] += took;
                let batch = match r {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        scanner = Some(s);
                        pass.scan_ended(cancel.is_cancelled());
                        continue;
                    }
                    Err(e) => {
                        scanner = Some(s);
                        pass.failed(e);
                        continue;
                    }
                };
                let sorted = pass.sort(
                    batch,
                    |id| journal_ref.and_then(|j| j.status(id)),
                    Utc::now(),
                );
                for m in &sorted.hold {
                    s.hold(m);
                }
                scanner = Some(s);
                if let (Some(j), Some(work)) = (journal_ref, sorted.work) {
                    events.push(Box::pin(async move {
                        Event::Moved(move_batch(sqs, j, &dlq.url, &dest.url, work).await)
                    }));
                }
            }
            Event::Moved(r) => {
                let on_record = journal_ref.map(|j| j.duplicates_on_record());
                if !pass.account(r, on_record, tokio::time::Instant::now()) {
                    continue;
                }
            }
        }
        pass.update_remaining();
        update_rate(&mut pass.state, started);
        progress.send_replace(pass.state.clone());
    }
    drop(events);
    tracing::debug!(
        batches = pass.batches,
        moved = pass.state.moved,
        wall_s = started.elapsed().as_secs_f64(),
        journal_s = pass.timings[0].as_secs_f64(),
        send_s = pass.timings[1].as_secs_f64(),
        delete_s = pass.timings[2].as_secs_f64(),
        receive_s = pass.timings[3].as_secs_f64(),
        "batch mover: time per step, summed over batches in flight"
    );
    let mut end = pass.end();
    if let Some(s) = scanner.as_mut() {
        for m in &end.release {
            s.hold(m);
        }
        for id in &end.gone {
            s.gone(id);
        }
        s.release_held(sqs).await;
    }
    end.cancelled(cancel.is_cancelled());
    let mut duplicate_ids = Vec::new();
    let kept = match journal {
        Some(j) => {
            let j = j.into_inner()?;
            duplicate_ids = j.duplicates().iter().cloned().collect();
            end.state.possible_duplicates_total = duplicate_ids.len() as u64;
            let path = j.path().to_path_buf();
            // A clean end of the pass means every message the earlier run held has had time
            // to come back; those that did not were deleted by it.
            if j.finish(end.pass_complete(), &end.this_run)? {
                Some(path)
            } else {
                None
            }
        }
        None => None,
    };
    if let Some(e) = end.error {
        return Err(e);
    }
    let mut state = end.state;
    if !state.cancelled {
        count_left(sqs, &dlq.url, &req.selection, end.missing, &mut state).await;
    }
    if state.remaining.is_some() && !state.cancelled {
        state.remaining = Some(match &req.selection {
            MessageSet::Ids(_) => end.missing,
            _ => approximate_depth(sqs, &dlq.url).await.unwrap_or(0),
        });
    }
    state.finished = true;
    state.eta = None;
    progress.send_replace(state.clone());
    Ok(RedriveOutcome {
        progress: state,
        would_move: end.would_move,
        journal: kept,
        possible_duplicate_ids: duplicate_ids,
        untaggable_ids: end.untaggable_ids,
    })
}

/// Notes whether an attempt of a call ended without saying if SQS carried it out: no answer
/// (a reset, a timeout) or a server error. A throttling or other 4xx answer is a refusal, so
/// a retry after one cannot duplicate anything; a retry after an uncertain attempt can.
#[derive(Debug, Clone, Default)]
struct Uncertain(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Uncertain {
    fn seen(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for Uncertain {
    fn name(&self) -> &'static str {
        "flightdeck-redrive-uncertain-attempts"
    }

    fn read_after_attempt(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let uncertain = match context.response() {
            Some(answer) => answer.status().is_server_error(),
            None => context.output_or_error().is_some_and(|r| r.is_err()),
        };
        if uncertain {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Send up to ten messages unchanged; returns (sent, not sent, uncertain): `uncertain` when an
/// attempt may have been carried out without an answer saying so, so that what was sent may
/// be in the destination twice and what was not may be there once. The SDK retries such an
/// attempt itself; this is how the mover learns that it did.
async fn send_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    msgs: &[DlqMessage],
) -> Result<(Vec<DlqMessage>, Vec<DlqMessage>, bool), (DlqError, bool)> {
    let fifo = url.ends_with(".fifo");
    let mut entries = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut e = SendMessageBatchRequestEntry::builder()
            .id(i.to_string())
            .message_body(&m.body)
            .set_message_attributes(
                (!m.raw_attributes.is_empty()).then(|| m.raw_attributes.clone()),
            );
        if fifo {
            // The original id deduplicates a resend within SQS's five-minute window.
            e = e
                .message_group_id(m.group_id.clone().unwrap_or_else(|| "redrive".into()))
                .message_deduplication_id(&m.id);
        }
        entries.push(
            e.build()
                .map_err(|e| (DlqError::Invalid(format!("building a send: {e}")), false))?,
        );
    }
    let uncertain = Uncertain::default();
    let out = sqs
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .customize()
        .interceptor(uncertain.clone())
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        // A whole-batch failure that may pass (network, 5xx): come round again.
        Err(e) if stack::errors::describe(&e).class.is_retryable() => {
            tracing::warn!(
                "SendMessageBatch failed, will retry: {}",
                stack::errors::describe(&e)
            );
            return Ok((Vec::new(), msgs.to_vec(), uncertain.seen()));
        }
        Err(e) => return Err((DlqError::aws("SendMessageBatch")(e), uncertain.seen())),
    };
    let ok: HashSet<&str> = out.successful().iter().map(|s| s.id()).collect();
    let (sent, unsent): (Vec<_>, Vec<_>) = msgs
        .iter()
        .enumerate()
        .partition(|(i, _)| ok.contains(i.to_string().as_str()));
    for f in out.failed() {
        tracing::warn!(
            "send of one message failed: {} {}",
            f.code(),
            f.message().unwrap_or_default()
        );
    }
    Ok((
        sent.into_iter().map(|(_, m)| m.clone()).collect(),
        unsent.into_iter().map(|(_, m)| m.clone()).collect(),
        uncertain.seen(),
    ))
}

/// Delete up to ten messages; returns (deleted ids, how many were not deleted).
pub(super) async fn delete_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    msgs: &[DlqMessage],
) -> Result<(Vec<String>, usize), DlqError> {
    let mut deleted = Vec::new();
    let mut kept = 0;
    for chunk in msgs.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .build()
                    .ok()
            })
            .collect();
        match sqs
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                let ok: HashSet<&str> = out.successful().iter().map(|s| s.id()).collect();
                for (i, m) in chunk.iter().enumerate() {
                    if ok.contains(i.to_string().as_str()) {
                        deleted.push(m.id.clone());
                    } else {
                        kept += 1;
                    }
                }
            }
            Err(e) if stack::errors::describe(&e).class.is_retryable() => {
                tracing::warn!(
                    "DeleteMessageBatch failed, the messages return and are deleted then: {}",
                    stack::errors::describe(&e)
                );
                kept += chunk.len();
            }
            Err(e) => return Err(DlqError::aws("DeleteMessageBatch")(e)),
        }
    }
    Ok((deleted, kept))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;
    use crate::dlq::request::{tag_origin, ORIGIN_ATTRIBUTE, RUN_ATTRIBUTE};

    fn message(attributes: usize) -> DlqMessage {
        let mut m = DlqMessage {
            id: "m-1".into(),
            receipt_handle: String::new(),
            body: "{}".into(),
            sent_at: None,
            receive_count: 0,
            approximate_receive_count: 0,
            size: 2,
            attributes: BTreeMap::new(),
            raw_attributes: HashMap::new(),
            source_arn: None,
            group_id: None,
        };
        for i in 0..attributes {
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value("v")
                .build()
                .unwrap();
            m.raw_attributes.insert(format!("a{i}"), v);
            m.attributes.insert(format!("a{i}"), "v".into());
            m.size += 2 + 6 + 1;
        }
        m
    }

    #[test]
    fn tagging_adds_the_origin_and_the_run_within_sqs_attribute_limit() {
        let mut m = message(8);
        assert!(tag_origin(&mut m, "run-1"));
        assert_eq!(m.raw_attributes.len(), 10);
        assert_eq!(
            m.raw_attributes[ORIGIN_ATTRIBUTE].string_value(),
            Some("m-1")
        );
        assert_eq!(
            m.raw_attributes[RUN_ATTRIBUTE].string_value(),
            Some("run-1")
        );
        assert_eq!(m.attributes[RUN_ATTRIBUTE], "run-1");
        let size = m.size;
        // Tagged again by a later run: replaced, not added.
        assert!(tag_origin(&mut m, "run-2"));
        assert_eq!(m.raw_attributes.len(), 10);
        assert_eq!(
            m.raw_attributes[RUN_ATTRIBUTE].string_value(),
            Some("run-2")
        );
        assert_eq!(m.size, size);

        // Nine or ten attributes already: refused, the message untouched.
        for n in [9, 10] {
            let mut m = message(n);
            let before = m.raw_attributes.clone();
            assert!(!tag_origin(&mut m, "run-1"), "{n} attributes");
            assert_eq!(m.raw_attributes, before);
            assert!(!m.attributes.contains_key(ORIGIN_ATTRIBUTE));
        }
        // Nine, one of them an earlier run's tag: one more fits.
        let mut m = message(8);
        assert!(tag_origin(&mut m, "run-1"));
        m.raw_attributes.remove(RUN_ATTRIBUTE);
        assert_eq!(m.raw_attributes.len(), 9);
        assert!(tag_origin(&mut m, "run-3"));
    }

    #[test]
    fn run_ids_differ_between_runs() {
        let a = new_run_id();
        std::thread::sleep(Duration::from_millis(2));
        assert_ne!(a, new_run_id());
        assert!(a.ends_with(&format!("Z-{}", std::process::id())), "{a}");
    }
}
