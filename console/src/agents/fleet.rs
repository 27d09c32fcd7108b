//! The local cloud's bridge (demo and `--local` with a fleet in this process): forwards the
//! fleet's processes, its notices and the autoscaler's decisions to the UI whenever they change.
//! (The fleet's errors reach the UI through the log, as warnings.)

use chrono::Utc;
use local_cloud::autoscaler::AutoscalerState;
use local_cloud::fleet::{FleetEventKind, FleetState};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use ui::{FleetProcess, LogLevel, Report, ScalingDecision};

/// What the console can watch and switch on a local cloud it runs itself.
#[derive(Clone)]
pub struct LocalHooks {
    pub fleet: watch::Receiver<FleetState>,
    pub autoscaler: Option<(
        local_cloud::autoscaler::AutoscalerSwitch,
        watch::Receiver<AutoscalerState>,
    )>,
}

fn processes(state: &FleetState) -> Vec<FleetProcess> {
    state
        .instances
        .iter()
        .map(|i| FleetProcess {
            instance_id: i.instance_id.clone(),
            group: i.group.clone(),
            pid: i.pid,
            phase: format!("{:?}", i.phase).to_lowercase(),
            port: i.port,
        })
        .collect()
}

fn decisions(state: &AutoscalerState) -> Vec<ScalingDecision> {
    state
        .decisions
        .iter()
        .map(|d| ScalingDecision {
            at: d.at,
            group: d.group.clone(),
            policy: d.policy.clone(),
            metric: d.metric,
            target: d.target,
            from: d.from,
            to: d.to,
            reason: d.reason.clone(),
        })
        .collect()
}

/// The fleet's notices newer than `seen` (which moves on), as notes for the UI.
fn notices(state: &FleetState, seen: &mut u64) -> Vec<Report> {
    let fresh: Vec<Report> = state
        .events
        .iter()
        .filter(|e| e.seq > *seen && e.kind == FleetEventKind::Notice)
        .map(|e| Report::Log {
            at: e.at,
            level: LogLevel::Info,
            text: format!("fleet: {}", e.message),
        })
        .collect();
    *seen = state.events.last().map_or(*seen, |e| e.seq.max(*seen));
    fresh
}

/// Runs until cancelled or the UI is gone.
pub async fn run(hooks: LocalHooks, tx: mpsc::Sender<Report>, token: CancellationToken) {
    let mut fleet = hooks.fleet;
    let mut scaler = hooks.autoscaler.map(|(_, rx)| rx);
    let fleet_report = |f: &FleetState| Report::Fleet {
        at: Utc::now(),
        processes: processes(f),
    };
    let scaler_report = |s: &AutoscalerState| Report::Autoscaler {
        at: Utc::now(),
        enabled: s.enabled,
        decisions: decisions(s),
    };
    let mut seen = 0;
    let first = {
        let state = fleet.borrow_and_update();
        let mut first = vec![fleet_report(&state)];
        first.extend(notices(&state, &mut seen));
        first
    };
    for report in first {
        if tx.send(report).await.is_err() {
            return;
        }
    }
    if let Some(rx) = &mut scaler {
        let first = scaler_report(&rx.borrow_and_update());
        if tx.send(first).await.is_err() {
            return;
        }
    }
    loop {
        let reports = tokio::select! {
            _ = token.cancelled() => return,
            r = fleet.changed() => match r {
                Ok(()) => {
                    let state = fleet.borrow_and_update();
                    let mut reports = vec![fleet_report(&state)];
                    reports.extend(notices(&state, &mut seen));
                    reports
                }
                Err(_) => return,
            },
            Some(r) = async {
                match &mut scaler {
                    Some(rx) => Some(rx.changed().await.map(|()| scaler_report(&rx.borrow_and_update()))),
                    None => None,
                }
            } => match r {
                Ok(report) => vec![report],
                Err(_) => return,
            },
        };
        for report in reports {
            if tx.send(report).await.is_err() {
                return;
            }
        }
    }
}
