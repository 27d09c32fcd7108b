//! The actions agent: carries out what the operator confirmed in the UI (redrive, delete,
//! purge, desired capacity, suspending scaling processes, instance refresh), one redrive at a time, with the same
//! engine as the headless `flightdeck dlq` and `flightdeck scale`. Every action is written to
//! the audit log, whose latest entries are sent back for the audit view. The group actions
//! (capacity, processes, instance refresh) are in `groups`; the DLQ's are here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use ui::{Command, JobState, MessageSelection, RedriveStatus, Report};

pub use super::context::Context;
use super::context::{outcome, record, send_audit};

use crate::audit;
use crate::dlq::peek::resolve_queue;
use crate::dlq::redrive::{self, Mover, RedriveProgress};
use crate::dlq::{Destination, Filter, MessageSet, RedriveRequest};

mod groups;
use groups::{follow_refresh, instance_refresh, scale, set_processes};

/// Starts the agent; commands go in through the returned sender.
pub fn spawn(
    ctx: Context,
    tx: mpsc::Sender<Report>,
    token: CancellationToken,
) -> (mpsc::UnboundedSender<Command>, tokio::task::JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let handle = tokio::spawn(run(ctx, cmd_rx, tx, token));
    (cmd_tx, handle)
}

async fn run(
    ctx: Context,
    mut commands: mpsc::UnboundedReceiver<Command>,
    tx: mpsc::Sender<Report>,
    token: CancellationToken,
) {
    send_audit(&tx).await;
    super::load::send_scenarios(&ctx, &tx).await;
    let mut redrive: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    let mut load: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    // One follower per group of a refresh in progress; a new read replaces it.
    let mut following: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    loop {
        let command = tokio::select! {
            _ = token.cancelled() => break,
            c = commands.recv() => match c {
                Some(c) => c,
                None => break,
            },
        };
        if redrive.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            redrive = None;
        }
        if load.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            load = None;
        }
        match command {
            Command::Redrive(req) => {
                if redrive.is_some() {
                    outcome(
                        &tx,
                        "redrive",
                        &req.dlq,
                        false,
                        "a redrive is already running",
                    )
                    .await;
                    continue;
                }
                let cancel = token.child_token();
                let handle =
                    tokio::spawn(run_redrive(ctx.clone(), req, tx.clone(), cancel.clone()));
                redrive = Some((cancel, handle));
            }
            Command::StartLoad { scenario } => {
                if load.is_some() {
                    outcome(&tx, "load", &scenario, false, "a load run is already going").await;
                    continue;
                }
                let cancel = token.child_token();
                let handle = tokio::spawn(super::load::run(
                    ctx.clone(),
                    scenario,
                    tx.clone(),
                    cancel.clone(),
                ));
                load = Some((cancel, handle));
            }
            Command::CancelLoad => {
                if let Some((cancel, _)) = &load {
                    cancel.cancel();
                }
            }
            Command::CancelRedrive => {
                if let Some((cancel, _)) = &redrive {
                    cancel.cancel();
                }
            }
            Command::DeleteMessages { queue, ids } => delete(&ctx, &tx, &queue, ids, &token).await,
            Command::Purge { queue } => purge(&ctx, &tx, &queue).await,
            Command::SetDesiredCapacity {
                group,
                desired,
                honor_cooldown,
            } => scale(&ctx, &tx, &group, desired, honor_cooldown).await,
            Command::Audited {
                action,
                target,
                result,
                detail,
            } => {
                record(
                    &ctx,
                    &action,
                    &target,
                    serde_json::json!({}),
                    &result,
                    detail,
                );
                send_audit(&tx).await;
            }
            Command::SetProcesses {
                group,
                processes,
                suspend,
            } => set_processes(&ctx, &tx, &group, &processes, suspend).await,
            Command::InstanceRefresh { group, action } => {
                let active = instance_refresh(&ctx, &tx, &group, action).await;
                if let Some(old) = following.remove(&group) {
                    old.abort();
                }
                if active {
                    let follow = follow_refresh(ctx.clone(), tx.clone(), group.clone());
                    let token = token.child_token();
                    following.insert(
                        group,
                        tokio::spawn(async move {
                            tokio::select! {
                                () = token.cancelled() => {}
                                () = follow => {}
                            }
                        }),
                    );
                }
            }
            _ => {}
        }
    }
    if let Some((cancel, handle)) = load {
        cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    }
    if let Some((cancel, handle)) = redrive {
        cancel.cancel();
        // The mover stops between batches; its journal makes a later run finish the job.
        let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    }
}

fn selection(sel: &MessageSelection) -> Result<MessageSet, String> {
    Ok(match sel {
        MessageSelection::Ids(ids) => MessageSet::Ids(ids.iter().cloned().collect::<BTreeSet<_>>()),
        MessageSelection::Filter(f) => {
            MessageSet::Filter(Filter::parse(f).map_err(|e| e.to_string())?)
        }
        MessageSelection::All => MessageSet::Everything,
    })
}

/// A redrive's progress as the status line shows it (also used by the demo tour).
pub(crate) fn status_of(
    p: &RedriveProgress,
    started: ui::Timestamp,
    state: JobState,
) -> RedriveStatus {
    let mode = match p.mover {
        Some(Mover::MoveTask) => "move task",
        Some(Mover::Batch) | None => "batch mover",
    };
    RedriveStatus {
        from: p.dlq.clone(),
        to: p.destination.clone(),
        mode: mode.to_owned(),
        note: p.notes.last().cloned(),
        dry_run: p.dry_run,
        moved: p.moved,
        remaining: p.remaining,
        duplicates: p.possible_duplicates,
        per_s: p.rate_per_s,
        started,
        state,
    }
}

async fn run_redrive(
    ctx: Context,
    req: ui::RedriveRequest,
    tx: mpsc::Sender<Report>,
    cancel: CancellationToken,
) {
    let started = Utc::now();
    let params = serde_json::json!({
        "to": req.to,
        "selection": format!("{:?}", req.selection),
        "dry_run": req.dry_run,
        "edited_body": req.edited_body,
    });
    let sel = match selection(&req.selection) {
        Ok(s) => s,
        Err(e) => {
            outcome(&tx, "redrive", &req.dlq, false, e).await;
            return;
        }
    };
    let destination = req
        .to
        .clone()
        .map_or(Destination::Source, Destination::Queue);
    let mut engine = RedriveRequest::new(&req.dlq, sel, destination, audit::state_dir());
    engine.dry_run = req.dry_run;
    if let Some(body) = &req.edited_body {
        let MessageSelection::Ids(ids) = &req.selection else {
            outcome(
                &tx,
                "redrive",
                &req.dlq,
                false,
                "an edit applies to one message",
            )
            .await;
            return;
        };
        for id in ids {
            engine.edits.insert(id.clone(), body.clone());
        }
    }
    let (progress_tx, mut progress_rx) = watch::channel(RedriveProgress::default());
    let forward = {
        let tx = tx.clone();
        async move {
            while progress_rx.changed().await.is_ok() {
                let p = progress_rx.borrow_and_update().clone();
                let status = status_of(&p, started, JobState::Running);
                if tx
                    .send(Report::Redrive {
                        at: Utc::now(),
                        status,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                // At most a few frames' worth of progress reports per second.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let work = redrive::run(&ctx.clients, &ctx.stack, &engine, &progress_tx, &cancel);
    let result = tokio::select! {
        r = work => r,
        () = forward => return,
    };
    let (status, result_word, detail) = match &result {
        Ok(out) => {
            let p = &out.progress;
            let state = if p.cancelled {
                JobState::Cancelled
            } else {
                JobState::Done
            };
            let word = if p.dry_run {
                "dry_run"
            } else if p.cancelled {
                "cancelled"
            } else if p.left > 0 || p.failed > 0 || out.journal.is_some() {
                "partial"
            } else {
                "ok"
            };
            let mut detail = format!("{} moved to {}", p.moved, p.destination);
            if p.possible_duplicates_total > 0 {
                detail.push_str(&format!(
                    ", {} possible duplicates ({} on record for this DLQ)",
                    p.possible_duplicates, p.possible_duplicates_total
                ));
            }
            if p.left > 0 {
                detail.push_str(&format!(
                    ", {} left in the DLQ (held by another consumer)",
                    p.left
                ));
            }
            if let Some(note) = p.notes.last() {
                detail.push_str(&format!(" ({note})"));
            }
            (status_of(p, started, state), word, detail)
        }
        Err(e) => {
            let p = progress_tx.borrow().clone();
            let message = e.to_string();
            (
                status_of(&p, started, JobState::Failed(message.clone())),
                "failed",
                message,
            )
        }
    };
    record(&ctx, "dlq.redrive", &req.dlq, params, result_word, detail);
    let _ = tx
        .send(Report::Redrive {
            at: Utc::now(),
            status,
        })
        .await;
    send_audit(&tx).await;
}

async fn delete(
    ctx: &Context,
    tx: &mpsc::Sender<Report>,
    queue: &str,
    ids: Vec<String>,
    token: &CancellationToken,
) {
    let params = serde_json::json!({ "ids": ids });
    let result = async {
        let q = resolve_queue(&ctx.clients.sqs, queue).await?;
        let sel = MessageSet::Ids(ids.iter().cloned().collect());
        crate::dlq::delete::delete(
            &ctx.clients.sqs,
            &q,
            &sel,
            false,
            Some(&audit::state_dir()),
            token,
        )
        .await
    }
    .await;
    match result {
        Ok(out) => {
            let missing = ids.len() as u64 - out.deleted.min(ids.len() as u64);
            let mut text = format!("deleted {}", out.deleted);
            if missing > 0 {
                text.push_str(&format!(", {missing} not found (already gone?)"));
            }
            record(ctx, "dlq.delete", queue, params, "ok", text.clone());
            outcome(tx, "delete", queue, true, text).await;
        }
        Err(e) => {
            record(ctx, "dlq.delete", queue, params, "failed", e.to_string());
            outcome(tx, "delete", queue, false, e.to_string()).await;
        }
    }
    send_audit(tx).await;
}

async fn purge(ctx: &Context, tx: &mpsc::Sender<Report>, queue: &str) {
    let result = async {
        let q = resolve_queue(&ctx.clients.sqs, queue).await?;
        crate::dlq::delete::purge(&ctx.clients.sqs, &q).await
    }
    .await;
    match result {
        Ok(()) => {
            record(
                ctx,
                "dlq.purge",
                queue,
                serde_json::json!({}),
                "ok",
                "purged".to_owned(),
            );
            outcome(tx, "purge", queue, true, "purged (SQS may take up to 60 s)").await;
        }
        Err(e) => {
            record(
                ctx,
                "dlq.purge",
                queue,
                serde_json::json!({}),
                "failed",
                e.to_string(),
            );
            outcome(tx, "purge", queue, false, e.to_string()).await;
        }
    }
    send_audit(tx).await;
}
