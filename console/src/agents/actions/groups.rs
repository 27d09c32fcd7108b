//! The actions on a group: desired capacity, suspending and resuming scaling processes, and
//! instance refresh (started, followed until it ends, cancelled), each audited.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use ui::event::RefreshAction;
use ui::Report;

use crate::agents::context::{outcome, record, send_audit, Context};

pub(super) async fn set_processes(
    ctx: &Context,
    tx: &mpsc::Sender<Report>,
    group: &str,
    processes: &[String],
    suspend: bool,
) {
    let action = if suspend {
        "scale.suspend"
    } else {
        "scale.resume"
    };
    let params = serde_json::json!({ "processes": processes });
    match ops::processes::set(&ctx.clients, group, processes, suspend).await {
        Ok(out) => {
            let text = ops::processes::summary(&out);
            record(ctx, action, group, params, "ok", text.clone());
            outcome(tx, action, group, true, text).await;
        }
        Err(e) => {
            record(ctx, action, group, params, "failed", e.to_string());
            outcome(tx, action, group, false, e.to_string()).await;
        }
    }
    send_audit(tx).await;
}

/// Reads, starts or cancels a group's instance refresh; reports the latest. Whether it is
/// still in progress (worth following).
pub(super) async fn instance_refresh(
    ctx: &Context,
    tx: &mpsc::Sender<Report>,
    group: &str,
    action: RefreshAction,
) -> bool {
    use ops::refresh;
    let (audit, verb) = match action {
        RefreshAction::Start => ("scale.instance_refresh", "started"),
        RefreshAction::Cancel => ("scale.instance_refresh_cancel", "cancelling"),
        RefreshAction::Status => ("scale.instance_refresh_status", "read"),
    };
    let changed = match action {
        RefreshAction::Start => Some(refresh::start(&ctx.clients, group, 90, None).await),
        RefreshAction::Cancel => Some(refresh::cancel(&ctx.clients, group).await),
        RefreshAction::Status => None,
    };
    let params = serde_json::json!({});
    if let Some(result) = changed {
        match result {
            Ok(id) => {
                let text = format!("{verb} instance refresh {id}");
                record(ctx, audit, group, params, "ok", text.clone());
                outcome(tx, audit, group, true, text).await;
            }
            Err(e) => {
                let (result, text) = match refresh::unsupported(&e) {
                    Some(text) => ("refused", text),
                    None => ("failed", e.to_string()),
                };
                record(ctx, audit, group, params, result, text.clone());
                outcome(tx, audit, group, false, text).await;
                send_audit(tx).await;
                return false;
            }
        }
        send_audit(tx).await;
    }
    match refresh::status(&ctx.clients, group).await {
        Ok(list) => {
            let latest = list.first().map(refresh_view);
            let active = latest.as_ref().is_some_and(|r| r.active);
            if action == RefreshAction::Status {
                let text = latest
                    .as_ref()
                    .map_or_else(|| "no instance refresh".to_owned(), |r| r.line.clone());
                outcome(tx, "instance refresh", group, true, text).await;
            }
            let _ = tx
                .send(Report::InstanceRefresh {
                    at: Utc::now(),
                    group: group.to_owned(),
                    latest,
                })
                .await;
            active
        }
        Err(e) => {
            let text = refresh::unsupported(&e).unwrap_or_else(|| e.to_string());
            outcome(tx, "instance refresh", group, false, text).await;
            false
        }
    }
}

/// How often, and for how long at most, a refresh in progress is re-read.
const FOLLOW_EVERY: Duration = Duration::from_secs(15);
const FOLLOW_FOR: Duration = Duration::from_secs(4 * 3600);

/// Re-reads a refresh in progress until it ends (or a bound passes), reporting each read.
pub(super) async fn follow_refresh(ctx: Context, tx: mpsc::Sender<Report>, group: String) {
    let started = std::time::Instant::now();
    while started.elapsed() < FOLLOW_FOR {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let Ok(list) = ops::refresh::status(&ctx.clients, &group).await else {
            continue;
        };
        let latest = list.first().map(refresh_view);
        let active = latest.as_ref().is_some_and(|r| r.active);
        let report = Report::InstanceRefresh {
            at: Utc::now(),
            group: group.clone(),
            latest,
        };
        if tx.send(report).await.is_err() || !active {
            return;
        }
    }
}

fn refresh_view(r: &ops::refresh::RefreshInfo) -> ui::model::RefreshView {
    ui::model::RefreshView {
        id: r.id.clone(),
        status: r.status.clone(),
        active: r.active(),
        line: r.line(),
    }
}

pub(super) async fn scale(
    ctx: &Context,
    tx: &mpsc::Sender<Report>,
    group: &str,
    desired: u32,
    honor_cooldown: bool,
) {
    let params = serde_json::json!({ "desired": desired, "honor_cooldown": honor_cooldown });
    let result = async {
        let cap = ops::scale::describe_group(&ctx.clients, group).await?;
        ops::scale::set_desired(&ctx.clients, &cap, desired, honor_cooldown, false).await
    }
    .await;
    match result {
        Ok(out) => {
            let text = format!("desired {} → {}", out.from, out.to);
            record(ctx, "scale", group, params, "ok", text.clone());
            outcome(tx, "scale", group, true, text).await;
        }
        Err(e) => {
            let word = if matches!(e, ops::scale::ScaleError::OutOfRange { .. }) {
                "refused"
            } else {
                "failed"
            };
            record(ctx, "scale", group, params, word, e.to_string());
            outcome(tx, "scale", group, false, e.to_string()).await;
        }
    }
    send_audit(tx).await;
}
