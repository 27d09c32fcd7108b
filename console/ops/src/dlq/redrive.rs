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

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stack::{Clients, ErrorClass, Stack};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::peek::{resolve_queue, QueueRef};
use super::DlqError;

use super::batch::{batch_move, count_left, update_rate};
use super::request::new_run_id;
pub use super::request::{
    Destination, MessageSet, Mover, RedriveOutcome, RedriveProgress, RedriveRequest,
    MAX_MESSAGE_ATTRIBUTES,
};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;
    use crate::dlq::peek::DlqMessage;
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
