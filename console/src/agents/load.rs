//! Load runs started from the console: the same engine as `flightdeck load run`, its progress
//! forwarded to the load view, the end recorded in the audit log.

use std::time::Duration;

use chrono::Utc;
use load::{ApiTarget, Progress, RunOptions, RunState, Scenario};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use ui::{LoadRecent, LoadStatus, Report};

use super::context::{outcome, send_audit, Context};
use ops::jobs::StartedBy;

/// Where load runs go ([`ops::jobs::load_targets`]): `FLIGHTDECK_API_URL`, else the local
/// fleet's in-service API instances (this process's fleet, else a running `local up`).
pub fn targets(ctx: &Context) -> Result<(Vec<ApiTarget>, String), String> {
    let given: Vec<String> = std::env::var("FLIGHTDECK_API_URL").into_iter().collect();
    let fleet = match &ctx.fleet {
        Some(rx) => Some(rx.borrow().api_endpoints()),
        None => local_cloud::fleet::read_api_endpoints(&local_cloud::paths::runtime_dir())
            .map(|e| e.endpoints),
    };
    let t =
        ops::jobs::load_targets(&given, fleet, None).map_err(|e| format!("where to load: {e}"))?;
    Ok((t.targets, t.described))
}

/// Tells the UI which scenarios exist and where runs would go.
pub async fn send_scenarios(ctx: &Context, tx: &mpsc::Sender<Report>) {
    let scenarios = match Scenario::builtins() {
        Ok(list) => list
            .into_iter()
            .map(|s| ui::ScenarioInfo {
                size: s.size(),
                thresholds: s.thresholds.iter().map(ToString::to_string).collect(),
                name: s.name,
                description: s.description,
            })
            .collect(),
        Err(e) => {
            tracing::warn!("built-in scenarios: {e}");
            Vec::new()
        }
    };
    let (target, remote_host) = match targets(ctx) {
        Ok((t, text)) => {
            let remote = t
                .iter()
                .find(|t| !t.is_loopback())
                .map(|t| t.host().to_owned());
            (Some(text), remote)
        }
        // A local fleet's API is not up yet: runs find it when they start.
        Err(_) if ctx.fleet.is_some() => (Some("the local fleet's API".to_owned()), None),
        Err(_) => (None, None),
    };
    let _ = tx
        .send(Report::LoadScenarios {
            at: Utc::now(),
            scenarios,
            target,
            remote_host,
        })
        .await;
}

pub fn status(p: &Progress, started: ui::Timestamp) -> LoadStatus {
    let phase = match p.state {
        RunState::Preparing => "preparing",
        RunState::Running => "running",
        RunState::Stopping => "stopping",
        RunState::Finished => "finished",
        RunState::Cancelled => "cancelled",
    };
    LoadStatus {
        scenario: p.scenario.clone(),
        phase: phase.to_owned(),
        finished: matches!(p.state, RunState::Finished | RunState::Cancelled),
        detail: p.detail.clone(),
        elapsed_s: p.elapsed_s,
        planned_s: p.planned_s,
        sent: p.sent,
        done: p.done,
        ok: p.ok,
        failed: p.failed,
        cancelled: p.cancelled,
        in_flight: p.in_flight,
        waiting: p.waiting,
        not_sent: p.not_sent,
        recent: LoadRecent {
            window_s: p.recent.window_s,
            covered_s: p.recent.covered_s,
            rps: p.recent.rps,
            error_pct: p.recent.error_pct,
            p50_s: p.recent.p50,
            p95_s: p.recent.p95,
            p99_s: p.recent.p99,
        },
        rps_mean: p.rps_mean,
        p50_s: p.p50,
        p95_s: p.p95,
        p99_s: p.p99,
        statuses: p.statuses.clone(),
        errors: p.errors.clone(),
        histogram: p.histogram.iter().map(|b| (b.le_ms, b.count)).collect(),
        processed: p.processed,
        e2e_p50_s: p.e2e_p50,
        e2e_p95_s: p.e2e_p95,
        e2e_p99_s: p.e2e_p99,
        mb_per_min: p.mb_per_min,
        verdict: None,
        started: Some(started),
    }
}

/// Runs one scenario to its end or a cancel.
pub async fn run(ctx: Context, name: String, tx: mpsc::Sender<Report>, cancel: CancellationToken) {
    let started = Utc::now();
    let scenario = match Scenario::find(&name) {
        Ok(s) => s,
        Err(e) => return outcome(&tx, "load", &name, false, e.to_string()).await,
    };
    let (targets, _) = match targets(&ctx) {
        Ok(t) => t,
        Err(e) => return outcome(&tx, "load", &name, false, e).await,
    };
    let (progress_tx, mut progress_rx) =
        watch::channel(Progress::preparing(&name, "starting", 0.0));
    let forward = {
        let tx = tx.clone();
        async move {
            while progress_rx.changed().await.is_ok() {
                let p = progress_rx.borrow_and_update().clone();
                let mut st = status(&p, started);
                // The final report (with the verdict) comes from the run's result.
                st.finished = false;
                if tx
                    .send(Report::Load {
                        at: Utc::now(),
                        status: Box::new(st),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    // The job runner records the run in the audit log, as for the headless command.
    let acting = ctx.acting();
    let work = ops::jobs::load_run(
        Some(&acting),
        scenario,
        RunOptions::new(targets, crate::synth::maker()),
        StartedBy::Console,
        progress_tx.clone(),
        cancel.clone(),
    );
    let result = tokio::select! {
        r = work => r,
        () = forward => return,
    };
    let mut st = status(&progress_tx.borrow(), started);
    st.finished = true;
    match &result {
        Ok(report) => {
            st.verdict = ops::jobs::load_verdict(report);
            st.phase = if report.cancelled {
                "cancelled"
            } else {
                "finished"
            }
            .to_owned();
        }
        Err(e) => {
            st.phase = "failed".to_owned();
            st.detail = e.to_string();
        }
    }
    let _ = tx
        .send(Report::Load {
            at: Utc::now(),
            status: Box::new(st),
        })
        .await;
    send_audit(&tx).await;
}
