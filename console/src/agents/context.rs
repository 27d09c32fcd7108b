//! What the acting agents (actions, load runs) share: their context, the audit record of each
//! action and the reports of its outcome.

use chrono::Utc;
use stack::{Clients, Stack};
use tokio::sync::{mpsc, watch};
use ui::{ActionOutcome, Report};

use crate::audit;

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

pub fn record(
    ctx: &Context,
    action: &str,
    target: &str,
    parameters: serde_json::Value,
    result: &str,
    detail: String,
) {
    let entry = audit::Entry::now(
        &ctx.clients,
        ctx.profile.as_deref(),
        action,
        target,
        parameters,
        result,
        detail,
    );
    if let Err(e) = audit::record(&entry) {
        tracing::warn!("{e:#}");
    }
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
