//! What the acting agents (actions, load runs) share: their context, the audit record of each
//! action and the reports of its outcome.

use std::time::Duration;

use chrono::Utc;
use ops::dlq::redrive::{Mover, RedriveOutcome, RedriveProgress, RedriveRequest};
use ops::dlq::DlqError;
use ops::jobs::StartedBy;
use stack::{Clients, Stack};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use ui::{ActionOutcome, JobState, RedriveStatus, Report};

use ops::audit;

/// Audit entries sent to the view.
const AUDIT_SHOWN: usize = 500;

/// What the actions agent needs besides the commands.
#[derive(Clone)]
pub struct Context {
    pub clients: Clients,
    pub stack: Stack,
    pub profile: Option<String>,
    /// The local fleet run by this process: its API instances are the load run's targets.
    pub fleet: Option<watch::Receiver<local_cloud::fleet::FleetState>>,
}

impl Context {
    /// Where the agents' actions run and who acts, for the job runner and the audit log.
    pub fn acting(&self) -> ops::Ctx<'_> {
        ops::Ctx {
            clients: &self.clients,
            stack: &self.stack,
            profile: self.profile.as_deref(),
        }
    }
}

/// One action in the audit log, in the shape every front end records ([`ops::Ctx::record`]).
pub fn record(
    ctx: &Context,
    action: &str,
    target: &str,
    parameters: serde_json::Value,
    result: &str,
    detail: String,
) {
    ctx.acting()
        .record(action, target, &parameters, result, detail);
}

pub async fn send_audit(tx: &mpsc::Sender<Report>) {
    let entries = match audit::read(&audit::log_path(), AUDIT_SHOWN) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!("cannot read the audit log: {e}");
            return;
        }
    };
    let entries = entries
        .into_iter()
        .map(|e| ui::AuditEntry {
            at: e.at,
            who: e.who,
            action: e.action,
            target: e.target,
            ok: matches!(e.result.as_str(), "ok" | "dry_run"),
            detail: e.detail,
            result: e.result,
        })
        .collect();
    let _ = tx
        .send(Report::Audit {
            at: Utc::now(),
            entries,
        })
        .await;
}

pub async fn outcome(
    tx: &mpsc::Sender<Report>,
    action: &str,
    target: &str,
    ok: bool,
    message: impl Into<String>,
) {
    let _ = tx
        .send(Report::Action {
            at: Utc::now(),
            outcome: ActionOutcome {
                action: action.to_owned(),
                target: target.to_owned(),
                ok,
                message: message.into(),
            },
        })
        .await;
}

/// Runs a redrive through the job runner ([`ops::jobs::redrive`], which audits it) with its
/// progress on the status line, at most a few reports a second, and its end reported. The
/// console's actions agent and the tour both redrive this way. `None`: the UI went away
/// first, and the redrive was dropped with it (its journal lets a later run finish it).
pub async fn redrive_reported(
    acting: &ops::Ctx<'_>,
    req: &RedriveRequest,
    by: StartedBy,
    tx: &mpsc::Sender<Report>,
    cancel: &CancellationToken,
) -> Option<Result<RedriveOutcome, DlqError>> {
    let started = Utc::now();
    let (progress_tx, mut progress_rx) = watch::channel(RedriveProgress::default());
    let forward = async {
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
    };
    let result = tokio::select! {
        r = ops::jobs::redrive(acting, req, by, &progress_tx, cancel) => r,
        () = forward => return None,
    };
    let status = match &result {
        Ok(out) => {
            let state = if out.progress.cancelled {
                JobState::Cancelled
            } else {
                JobState::Done
            };
            status_of(&out.progress, started, state)
        }
        Err(e) => {
            let p = progress_tx.borrow().clone();
            let (_, line) = ops::jobs::error_result(acting.clients, e);
            status_of(&p, started, JobState::Failed(line))
        }
    };
    let _ = tx
        .send(Report::Redrive {
            at: Utc::now(),
            status,
        })
        .await;
    Some(result)
}

/// A redrive's progress as the status line shows it (also used by the demo tour).
pub fn status_of(p: &RedriveProgress, started: ui::Timestamp, state: JobState) -> RedriveStatus {
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
