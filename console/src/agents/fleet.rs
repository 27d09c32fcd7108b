//! The local cloud's bridge (demo and `--local` with a fleet in this process): forwards the
//! fleet's processes, its notices, the autoscaler's decisions and the log shipper's news (a
//! failing or lossy shipping) to the UI whenever they change.
//! (The fleet's errors reach the UI through the log, as warnings.) A second feed samples the
//! local cloud's memory and the machine's.

use std::time::Duration;

use chrono::Utc;
use local_cloud::autoscaler::AutoscalerState;
use local_cloud::fleet::{FleetEventKind, FleetState};
use local_cloud::{memory, EmulatorHealth, ShipConfig, ShipNews, ShipStats};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use ui::{FleetProcess, LocalMemory, LogLevel, Report, S3Data, ScalingDecision};

use super::Feed;

/// What the console can watch and switch on a local cloud it runs itself.
#[derive(Clone)]
pub struct LocalHooks {
    pub fleet: watch::Receiver<FleetState>,
    pub autoscaler: Option<watch::Receiver<AutoscalerState>>,
    /// The log shipper's counters and its settings (for the notes' words).
    pub shipping: Option<(watch::Receiver<ShipStats>, ShipConfig)>,
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

/// The log shipper's news, as lines for the UI's log: a failing or lossy shipping as a
/// warning (the logs view would otherwise just go quiet).
fn shipping_notes(stats: &ShipStats, news: &mut ShipNews) -> Vec<Report> {
    news.news(stats, std::time::Instant::now())
        .into_iter()
        .map(|n| Report::Log {
            at: Utc::now(),
            level: if n.trouble {
                LogLevel::Warn
            } else {
                LogLevel::Info
            },
            text: format!("logs: {n}"),
        })
        .collect()
}

/// Where the memory feed finds the emulator: the demo's keeper (the pid changes with each
/// restart), the `local up` record (its owner keeps the pid current), or nowhere.
pub enum EmulatorPid {
    Kept(watch::Receiver<EmulatorHealth>),
    Recorded,
}

impl EmulatorPid {
    fn current(&self) -> Option<u32> {
        match self {
            EmulatorPid::Kept(health) => match &*health.borrow() {
                EmulatorHealth::Running { pid, .. } => *pid,
                _ => None,
            },
            EmulatorPid::Recorded => local_cloud::registry::current()?.emulator_pid,
        }
    }
}

/// How often the local cloud's memory is sampled: often enough to warn while a load run
/// ramps up, cheap (a few small /proc reads).
pub const MEMORY_EVERY: Duration = Duration::from_secs(5);

/// One sample of the emulator's, this console's and each fleet process's resident set, and
/// the machine's memory; `None` when /proc cannot be read (not Linux).
fn memory_sample(
    fleet: Vec<(String, u32)>,
    emulator: Option<u32>,
    s3_data: Option<S3Data>,
    disk_floor: Option<u64>,
) -> Option<LocalMemory> {
    let machine = memory::machine().ok()?;
    let processes = fleet
        .into_iter()
        .filter_map(|(id, pid)| Some((id, memory::rss_bytes(pid).ok()?)))
        .collect();
    Some(LocalMemory {
        emulator: emulator.and_then(|pid| memory::rss_bytes(pid).ok()),
        console: memory::rss_bytes(std::process::id()).ok(),
        processes,
        total: machine.total,
        available: machine.available,
        s3_data,
        disk_free: local_cloud::storage::disk_free(&local_cloud::paths::data_dir()).ok(),
        disk_floor,
    })
}

/// Samples the local cloud's memory (and its disk, and the S3 data its lifecycle counted
/// when this process runs it) every [`MEMORY_EVERY`] for the fleet view and the low-memory
/// warning.
pub fn memory_feed(
    fleet: Option<watch::Receiver<FleetState>>,
    emulator: EmulatorPid,
    lifecycle: Option<watch::Receiver<local_cloud::lifecycle::LifecycleState>>,
) -> Feed {
    Box::new(move |tx, token| {
        Box::pin(async move {
            let mut tick = tokio::time::interval(MEMORY_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let pids = fleet.as_ref().map_or_else(Vec::new, |f| {
                    f.borrow()
                        .instances
                        .iter()
                        .filter_map(|i| Some((i.instance_id.clone(), i.pid?)))
                        .collect()
                });
                let state = lifecycle.as_ref().map(|l| *l.borrow());
                let limits = state.and_then(|s| s.storage);
                let s3_data = limits.and_then(|limits| {
                    Some(S3Data {
                        held: state?.held?,
                        cap: limits.cap,
                        evicts_above: limits.evict_above(),
                    })
                });
                let floor = limits.map(|l| l.min_free);
                let Some(memory) = memory_sample(pids, emulator.current(), s3_data, floor) else {
                    return;
                };
                let report = Report::LocalMemory {
                    at: Utc::now(),
                    memory,
                };
                if tx.send(report).await.is_err() {
                    return;
                }
            }
        })
    })
}

/// Runs until cancelled or the UI is gone.
pub async fn run(hooks: LocalHooks, tx: mpsc::Sender<Report>, token: CancellationToken) {
    let mut fleet = hooks.fleet;
    let mut scaler = hooks.autoscaler;
    let mut shipping = hooks
        .shipping
        .map(|(rx, config)| (rx, ShipNews::new(config)));
    let fleet_report = |f: &FleetState| Report::Fleet {
        at: Utc::now(),
        processes: processes(f),
    };
    let scaler_report = |s: &AutoscalerState| Report::Autoscaler {
        at: Utc::now(),
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
            Some(r) = async {
                match &mut shipping {
                    Some((rx, news)) => Some(
                        rx.changed()
                            .await
                            .map(|()| shipping_notes(&rx.borrow_and_update(), news)),
                    ),
                    None => None,
                }
            } => match r {
                Ok(reports) => reports,
                // The shipper stopped (the fleet is stopping): nothing more to say.
                Err(_) => {
                    shipping = None;
                    Vec::new()
                }
            },
        };
        for report in reports {
            if tx.send(report).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    async fn next_log(rx: &mut mpsc::Receiver<Report>) -> (LogLevel, String) {
        let wait = async {
            loop {
                if let Report::Log { level, text, .. } = rx.recv().await.expect("the agent runs") {
                    return (level, text);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("a log line within 5 s")
    }

    #[tokio::test]
    async fn log_shipping_trouble_reaches_the_log_as_a_warning_once() {
        let fleet = FleetState {
            running: true,
            ..FleetState::default()
        };
        let (_fleet_tx, fleet_rx) = watch::channel(fleet);
        let (ship_tx, ship_rx) = watch::channel(ShipStats::default());
        let hooks = LocalHooks {
            fleet: fleet_rx,
            autoscaler: None,
            shipping: Some((ship_rx, ShipConfig::default())),
        };
        let (tx, mut rx) = mpsc::channel(16);
        let token = CancellationToken::new();
        let agent = tokio::spawn(run(hooks, tx, token.clone()));

        let failing = ShipStats {
            shipped: 10,
            error: Some("i-1: PutLogEvents took longer than 10s".into()),
            ..ShipStats::default()
        };
        ship_tx.send_replace(failing.clone());
        let (level, text) = next_log(&mut rx).await;
        assert_eq!(level, LogLevel::Warn);
        assert!(
            text.starts_with("logs: shipping to CloudWatch Logs failed (i-1: PutLogEvents"),
            "{text}"
        );
        // The same failure again (every poll publishes): nothing new to say. Then it recovers.
        ship_tx.send_replace(failing);
        ship_tx.send_replace(ShipStats {
            shipped: 12,
            ..ShipStats::default()
        });
        let (level, text) = next_log(&mut rx).await;
        assert_eq!(
            (level, text.as_str()),
            (
                LogLevel::Info,
                "logs: shipping to CloudWatch Logs again (12 lines shipped so far)"
            )
        );
        token.cancel();
        agent.await.unwrap();
    }
}
