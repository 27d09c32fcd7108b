//! The actions agent: carries out what the operator confirmed in the UI (redrive, delete,
//! purge, desired capacity, suspending scaling processes, instance refresh), one redrive at a
//! time, with the same engine as the headless `flightdeck dlq` and `flightdeck scale`. Every
//! action is written to the audit log, whose latest entries are sent back for the audit view,
//! again whenever the log changes (entries of the tour, of load runs, of a headless command in
//! another terminal). The group actions (capacity, processes, instance refresh) are in
//! `groups`; the DLQ's are here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use ui::{Command, MessageSelection, Report};

pub use super::context::Context;
use super::context::{outcome, record, redrive_reported, send_audit};

use ops::audit;
use ops::dlq::peek::resolve_queue;
use ops::dlq::{Destination, Filter, MessageSet, RedriveRequest};
use ops::jobs::StartedBy;

mod groups;
use groups::{follow_refresh, instance_refresh, scale, set_processes};

/// How often the audit log is looked at (one stat) for entries written by others.
const AUDIT_WATCH: Duration = Duration::from_secs(2);

/// The audit log's size and time of change: a new stamp means new entries (the log is only
/// appended to); `None` while it does not exist.
async fn audit_stamp() -> Option<(u64, std::time::SystemTime)> {
    let meta = tokio::fs::metadata(audit::log_path()).await.ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

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
    // The stamp before the read: a line appended while it is read changes the stamp.
    let mut audit_seen = audit_stamp().await;
    send_audit(&tx).await;
    let mut audit_watch = tokio::time::interval(AUDIT_WATCH);
    audit_watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    super::load::send_scenarios(&ctx, &tx).await;
    let mut redrive: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    let mut load: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    // One follower per group of a refresh in progress; a new read replaces it.
    let mut following: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    loop {
        let command = tokio::select! {
            _ = token.cancelled() => break,
            _ = audit_watch.tick() => {
                let stamp = audit_stamp().await;
                if stamp != audit_seen {
                    audit_seen = stamp;
                    send_audit(&tx).await;
                }
                continue;
            }
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

async fn run_redrive(
    ctx: Context,
    req: ui::RedriveRequest,
    tx: mpsc::Sender<Report>,
    cancel: CancellationToken,
) {
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
    // The job runner records the redrive in the audit log, as for the headless command.
    if redrive_reported(&ctx.acting(), &engine, StartedBy::Console, &tx, &cancel)
        .await
        .is_none()
    {
        return;
    }
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
        ops::dlq::delete::delete(
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
        ops::dlq::delete::purge(&ctx.clients.sqs, &q).await
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
