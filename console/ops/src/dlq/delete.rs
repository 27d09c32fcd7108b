//! Deleting chosen messages from a queue (or, dry-run, listing what would go), and purging
//! it. The redrive deletes its moved messages with the same batch call.

use chrono::Utc;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::batch::delete_batch;
use super::peek::{QueueRef, Scanner};
use super::{DlqError, MessageSet};

/// What a delete did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeleteOutcome {
    pub queue: String,
    pub deleted: u64,
    pub ids: Vec<String>,
    pub dry_run: bool,
    pub cancelled: bool,
}

/// Delete the selected messages from a queue (or, dry-run, list what would go).
pub async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueRef,
    selection: &MessageSet,
    dry_run: bool,
    state_dir: Option<&std::path::Path>,
    cancel: &CancellationToken,
) -> Result<DeleteOutcome, DlqError> {
    let mut scan = Scanner::new(&queue.url, 30, 5).with_own_receives(state_dir);
    let mut out = DeleteOutcome {
        queue: queue.name.clone(),
        dry_run,
        ..DeleteOutcome::default()
    };
    let result: Result<(), DlqError> = async {
        loop {
            if let MessageSet::Ids(ids) = selection {
                if out.ids.len() >= ids.len() {
                    break;
                }
            }
            let Some(batch) = scan.next_batch(sqs, cancel).await? else {
                break;
            };
            let now = Utc::now();
            let mut chosen = Vec::new();
            for m in batch {
                if selection.matches(&m, now) {
                    if dry_run {
                        scan.hold(&m);
                        out.ids.push(m.id.clone());
                    } else {
                        chosen.push(m);
                    }
                } else {
                    scan.hold(&m);
                }
            }
            if !chosen.is_empty() {
                match delete_batch(sqs, &queue.url, &chosen).await {
                    Ok((deleted, _)) => {
                        for id in &deleted {
                            scan.gone(id);
                        }
                        out.ids.extend(deleted);
                    }
                    Err(e) => {
                        let handles: Vec<String> =
                            chosen.iter().map(|m| m.receipt_handle.clone()).collect();
                        super::peek::release(sqs, &queue.url, &handles).await;
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    scan.release_held(sqs).await;
    result?;
    out.deleted = if dry_run { 0 } else { out.ids.len() as u64 };
    out.cancelled = cancel.is_cancelled();
    Ok(out)
}

/// Empty a queue with PurgeQueue (SQS allows one purge per queue every 60 s).
pub async fn purge(sqs: &aws_sdk_sqs::Client, queue: &QueueRef) -> Result<(), DlqError> {
    sqs.purge_queue()
        .queue_url(&queue.url)
        .send()
        .await
        .map_err(DlqError::aws("PurgeQueue"))?;
    Ok(())
}
