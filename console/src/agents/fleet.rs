//! The local cloud's bridge (demo and `--local` with a fleet in this process): forwards the
//! fleet's processes and the autoscaler's decisions to the UI whenever they change.

use chrono::Utc;
use local_cloud::autoscaler::AutoscalerState;
use local_cloud::fleet::FleetState;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use ui::{FleetProcess, Report, ScalingDecision};

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
    let first = fleet_report(&fleet.borrow_and_update());
    if tx.send(first).await.is_err() {
        return;
    }
    if let Some(rx) = &mut scaler {
        let first = scaler_report(&rx.borrow_and_update());
        if tx.send(first).await.is_err() {
            return;
        }
    }
    loop {
        let report = tokio::select! {
            _ = token.cancelled() => return,
            r = fleet.changed() => match r {
                Ok(()) => fleet_report(&fleet.borrow_and_update()),
                Err(_) => return,
            },
            Some(r) = async {
                match &mut scaler {
                    Some(rx) => Some(rx.changed().await.map(|()| scaler_report(&rx.borrow_and_update()))),
                    None => None,
                }
            } => match r {
                Ok(report) => report,
                Err(_) => return,
            },
        };
        if tx.send(report).await.is_err() {
            return;
        }
    }
}
