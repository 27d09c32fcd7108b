//! The batch mover's I/O: it drives a [`Pass`] (the decisions, in `mover`) with the DLQ's
//! scanner, the journal and SQS. Up to `IN_FLIGHT` batches move at once, sharing the
//! journal's fsyncs; each batch is journalled `sending`, sent (SendMessageBatch), journalled
//! `sent`/`unsent`, deleted (DeleteMessageBatch) and journalled `deleted`, each step on disk
//! before the step it guards starts. [`super::redrive::run`] calls [`batch_move`] when the
//! move task is not used.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use stack::Clients;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::journal::{Journal, SharedJournal};
use super::mover::{Done, Pass, Work};
use super::peek::{approximate_depth, DlqMessage, QueueRef, Scanner};
use super::request::{MessageSet, RedriveOutcome, RedriveProgress, RedriveRequest};
use super::DlqError;

pub(super) fn update_rate(state: &mut RedriveProgress, started: Instant) {
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
pub(super) async fn batch_move(
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
        // Opening reads the journal and may wait a moment for its lock: off the runtime.
        let (dir, url) = (req.journal_dir.clone(), dlq.url.clone());
        let mut j = tokio::task::spawn_blocking(move || Journal::open(&dir, &url))
            .await
            .map_err(|e| DlqError::Invalid(format!("opening the redrive journal failed: {e}")))??;
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

/// What a finished pass left in the DLQ held by another consumer: the queue's in-flight
/// count, read after this run released what it held (for `--id`s, at most the `missing` ids).
/// A failed read is a note, never a silent 0.
pub(super) async fn count_left(
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
