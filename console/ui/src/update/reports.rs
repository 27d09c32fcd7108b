//! Applies agents' reports to the data, recording freshness; superseded replies are dropped.

use crate::fmt;
use crate::model::{
    Agent, Claim, Disk, EmulatorStatus, JobState, LocalMemory, LogLevel, Pressure, Report,
    Timestamp, CPU_METRIC,
};
use crate::state::groups::ChangeKind;
use crate::state::health::AgentFailure;
use crate::state::{Level, Mark, RowCursor, State, TableId, TimelineEvent};

pub(super) fn apply(state: &mut State, report: Report) {
    if state.target.pending.is_some() && super::target::from_old_target(&report) {
        return;
    }
    match report {
        Report::Groups { at, groups } => {
            if state.groups.apply(at, groups) {
                state.health.ok(Agent::Groups, at);
                scaling_events(state, at);
            }
        }
        Report::Queues { at, queues } => {
            let before: Vec<(String, u64)> = state
                .queues
                .list
                .iter()
                .filter(|q| q.is_dlq)
                .map(|q| (q.name.clone(), q.visible + q.in_flight))
                .collect();
            if state.queues.apply(at, queues) {
                state.health.ok(Agent::Queues, at);
                dlq_events(state, at, &before);
            }
        }
        Report::Metrics {
            at,
            period_s,
            series,
        } => {
            state.metrics.apply(at, period_s, series);
            state.health.ok(Agent::Metrics, at);
        }
        Report::Calls { at, stats } => {
            if state.calls.as_ref().is_none_or(|(prev, _)| *prev <= at) {
                state.calls = Some((at, stats));
            }
        }
        Report::Dlq {
            at,
            queue,
            messages,
        } => {
            if state.dlq.apply(at, queue, messages) {
                state.health.ok(Agent::Dlq, at);
            }
        }
        Report::Redrive { at, status } => {
            let was_running = state
                .jobs
                .redrive
                .as_ref()
                .is_some_and(|r| r.state == JobState::Running);
            let verb = if status.dry_run {
                "would move"
            } else {
                "moved"
            };
            let dups = if status.duplicates > 0 {
                format!(
                    ", {} possible duplicate(s): see the audit log",
                    status.duplicates
                )
            } else {
                String::new()
            };
            match &status.state {
                // Possible duplicates are a warning: kept whole with the notes (`?`), since a
                // narrow bar cuts the count.
                JobState::Done if was_running => state.flash(
                    if status.duplicates > 0 {
                        Level::Warn
                    } else {
                        Level::Info
                    },
                    format!(
                        "redrive done: {verb} {} to {}{dups}",
                        status.moved, status.to
                    ),
                ),
                JobState::Cancelled if was_running => state.flash(
                    Level::Warn,
                    format!(
                        "redrive cancelled after {} ({verb}, they stay moved){dups}",
                        status.moved
                    ),
                ),
                JobState::Failed(e) if was_running => {
                    state.flash(Level::Error, format!("redrive failed: {e}"));
                }
                _ => {}
            }
            state.health.ok(Agent::Redrive, at);
            if !status.dry_run {
                state.timeline.push(TimelineEvent {
                    at: status.started,
                    mark: Mark::Redrive,
                    subject: status.from.clone(),
                    to: None,
                    text: format!("redrive {} → {}", status.from, status.to),
                });
            }
            state.jobs.redrive = Some(status);
        }
        Report::Action { at: _, outcome } => {
            let level = if outcome.ok {
                Level::Info
            } else {
                Level::Error
            };
            state.flash(
                level,
                format!("{} {}: {}", outcome.action, outcome.target, outcome.message),
            );
        }
        Report::Audit { at, entries } => state.audit.apply(at, entries),
        Report::Logs {
            at,
            request,
            reset,
            lines,
            more,
            note,
        } => {
            let keys = state.row_keys(TableId::Logs);
            let sel = state.nav.selection(TableId::Logs);
            // At the newest line (or nowhere yet), the selection follows new lines, as `tail
            // -f` does; anywhere else it stays where the operator put it.
            let at_tail = sel.key.is_none() || sel.key.as_ref() == keys.last();
            if state.logs.apply(at, &request, reset, lines, more, note) {
                state.health.ok(Agent::Logs, at);
                if at_tail {
                    let keys = state.row_keys(TableId::Logs);
                    state.nav.set_selection(
                        TableId::Logs,
                        RowCursor {
                            key: keys.last().cloned(),
                            index: keys.len().saturating_sub(1),
                            offset: sel.offset,
                        },
                    );
                }
            }
        }
        Report::ShowLogs { request, about, .. } => match request {
            Some(request) => super::logs::show(state, request, about),
            None => {
                if state.nav.view() == &crate::state::nav::View::Logs {
                    state.nav.pop();
                }
            }
        },
        Report::Alarms {
            at,
            alarms,
            history,
        } => {
            state.alarms.apply(at, alarms, history);
            state.health.ok(Agent::Alarms, at);
        }
        Report::Autoscaler { at, decisions } => {
            state.local.autoscaler = true;
            for d in decisions.iter().filter(|d| d.from != d.to) {
                state.timeline.push(TimelineEvent {
                    at: d.at,
                    mark: if d.to > d.from {
                        Mark::ScaleOut
                    } else {
                        Mark::ScaleIn
                    },
                    subject: d.group.clone(),
                    to: Some(d.to),
                    text: format!("{} {}→{}: {}", d.group, d.from, d.to, d.reason),
                });
            }
            state.local.decisions = decisions;
            state.health.ok(Agent::Fleet, at);
        }
        Report::Caption { at: _, text, claim } => match (text, claim) {
            (Some(text), Some(claim)) => state.local.claimed_caption = Some((text, claim)),
            (text, _) => {
                state.local.caption = text;
                state.local.claimed_caption = None;
            }
        },
        Report::Target { at: _, seq, result } => super::target::arrived(state, seq, result),
        Report::LoadScenarios {
            at: _,
            scenarios,
            target,
            remote_host,
        } => {
            state.load.scenarios = scenarios;
            state.load.target = target;
            state.load.remote_host = remote_host;
        }
        Report::Load { at, status } => {
            let was_running = state.load.running();
            if was_running && status.finished {
                let text = format!(
                    "load {} {}: {} sent = {} ok + {} failed + {} cancelled{}",
                    status.scenario,
                    status.phase,
                    status.sent,
                    status.ok,
                    status.failed,
                    status.cancelled,
                    status
                        .verdict
                        .as_ref()
                        .map_or_else(String::new, |v| format!(" · {v}"))
                );
                let level = if status.phase == "finished"
                    && !status.verdict.as_deref().unwrap_or("").contains("FAIL")
                {
                    Level::Info
                } else {
                    Level::Warn
                };
                state.flash(level, text);
            }
            let scenario = status.scenario.clone();
            let runs_before = state.load.runs.last().map(|r| r.0);
            state.load.apply(at, *status);
            state.health.ok(Agent::Load, at);
            load_events(state, &scenario, runs_before);
        }
        Report::InstanceRefresh {
            at: _,
            group,
            latest,
        } => match latest {
            Some(r) => {
                state.groups.refreshes.insert(group, r);
            }
            None => {
                state.groups.refreshes.remove(&group);
            }
        },
        Report::Fleet { at, processes } => {
            state.local.processes = processes;
            state.health.ok(Agent::Fleet, at);
        }
        Report::Log { at, level, text } => note(state, at, level, text),
        Report::Emulator { at, status } => emulator(state, at, status),
        Report::LocalMemory { at, memory } => local_memory(state, at, memory),
        Report::FitWindow { at: _, least } => state.chart.fit_at_least(least),
        Report::AgentError {
            at,
            agent,
            class,
            message,
            next_retry_in,
        } => {
            state.health.failed(
                agent,
                AgentFailure {
                    at,
                    class,
                    message,
                    next_retry_in,
                },
            );
        }
    }
}

/// Desired-capacity changes the console saw between reports, and AWS's scaling activities
/// (which reach back before the console started); one scaling is marked once.
fn scaling_events(state: &mut State, at: Timestamp) {
    let mut found = Vec::new();
    for g in &state.groups.list {
        for c in state
            .groups
            .changes(&g.name)
            .rev()
            .take_while(|c| c.at == at)
        {
            if let ChangeKind::Desired { from, to } = c.kind {
                found.push(TimelineEvent {
                    at,
                    mark: if to > from {
                        Mark::ScaleOut
                    } else {
                        Mark::ScaleIn
                    },
                    subject: g.name.clone(),
                    to: Some(to),
                    text: format!("{} desired {from}→{to}", g.name),
                });
            }
        }
        for a in &g.activities {
            let mark = if a.description.starts_with("Launching") {
                Mark::ScaleOut
            } else if a.description.starts_with("Terminating") {
                Mark::ScaleIn
            } else {
                continue;
            };
            found.push(TimelineEvent {
                at: a.start,
                mark,
                subject: g.name.clone(),
                to: None,
                text: format!("{}: {} ({})", g.name, a.description, a.status),
            });
        }
    }
    // Oldest first, so a burst of activities is kept as its first one.
    found.sort_by_key(|e| e.at);
    for e in found {
        state.timeline.push(e);
    }
}

/// A dead-letter queue that was empty and now holds messages: a poison message arrived.
fn dlq_events(state: &mut State, at: Timestamp, before: &[(String, u64)]) {
    let arrived: Vec<(String, u64)> = state
        .queues
        .list
        .iter()
        .filter(|q| q.is_dlq && q.visible + q.in_flight > 0)
        .filter(|q| before.iter().any(|(n, d)| *n == q.name && *d == 0))
        .map(|q| (q.name.clone(), q.visible + q.in_flight))
        .collect();
    for (name, depth) in arrived {
        state.timeline.push(TimelineEvent {
            at,
            mark: Mark::DlqArrival,
            to: None,
            text: format!("{name}: first dead letter ({depth})"),
            subject: name,
        });
    }
}

/// A load run's start and end, as `Load::apply` recorded them.
fn load_events(state: &mut State, scenario: &str, last_start_before: Option<Timestamp>) {
    let Some(&(start, end)) = state.load.runs.last() else {
        return;
    };
    if last_start_before != Some(start) {
        state.timeline.push(TimelineEvent {
            at: start,
            mark: Mark::LoadStart,
            subject: scenario.to_owned(),
            to: None,
            text: format!("load {scenario} started"),
        });
    }
    if let Some(end) = end {
        state.timeline.push(TimelineEvent {
            at: end,
            mark: Mark::LoadEnd,
            subject: scenario.to_owned(),
            to: None,
            text: format!("load {scenario} ended"),
        });
    }
}

fn level(level: LogLevel) -> Level {
    match level {
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warn,
        LogLevel::Error => Level::Error,
    }
}

/// Kept for the help screen; flashed when new (a repeat flashes again after a while).
fn note(state: &mut State, at: Timestamp, log_level: LogLevel, text: String) {
    if state.notes.push(at, log_level, text.clone()) {
        state.show_flash(level(log_level), text);
    }
}

/// Shows the tour's held-back caption once the console's own data holds its claim, with the
/// value the screen shows in place of `{}`; after that, the value follows the screen for as
/// long as the claim holds (then it keeps the last).
pub(super) fn settle_caption(state: &mut State) {
    if let Some((text, claim)) = &state.local.claimed_caption {
        if let Some(value) = shown(state, claim) {
            state.local.caption = Some(Claim::fill(text, value));
        }
    }
}

/// The claim's value as the screen shows it, when the claim holds.
fn shown(state: &State, claim: &Claim) -> Option<f64> {
    let within = |v: f64, min: f64, max: f64| (min..=max).contains(&v).then_some(v);
    match claim {
        Claim::Visible { queue, min, max } => {
            let q = state.queues.get(queue)?;
            within(q.visible as f64, *min as f64, *max as f64)
        }
        Claim::Desired { group, min, max } => {
            let g = state.groups.get(group)?;
            within(f64::from(g.desired), f64::from(*min), f64::from(*max))
        }
        Claim::Cpu { group, min } => {
            let from = state.now - chrono::Duration::minutes(15);
            let peak = state.metrics.max_since(group, CPU_METRIC, from)?;
            within(peak, *min, f64::INFINITY)
        }
        Claim::LogLines { ids, min } => {
            if state.nav.view() != &crate::state::nav::View::Logs {
                return None;
            }
            let n = state
                .log_rows()
                .iter()
                .filter(|l| ids.iter().any(|id| l.raw.contains(id.as_str())))
                .count() as u64;
            (n >= *min).then_some(n as f64)
        }
        Claim::Sent { scenario, min } => {
            let s = state.load.status.as_ref()?;
            // Only a running run is on the status line.
            (s.scenario == *scenario && !s.finished && s.sent >= *min).then_some(s.sent as f64)
        }
    }
}

/// The emulator's data disk running short, and reaching its floor, are each said once with
/// what to do, and so is the way back.
fn disk(state: &mut State, at: Timestamp, before: Disk, memory: &LocalMemory) {
    let Some(free) = memory.disk_free else {
        return;
    };
    let now = memory.disk();
    if now == before {
        return;
    }
    let free = fmt::bytes(free);
    let (level, text) = match (now, before) {
        (Disk::Full, _) => (
            LogLevel::Error,
            format!(
                "disk full: {free} free on the local cloud's data disk and its {}: uploads and outputs are refused (503 SlowDown) until disk is freed; stop the load run (x in the load view), free some disk, or lower FLIGHTDECK_LOCAL_MIN_FREE_GB",
                fmt::disk_refusal(memory)
            ),
        ),
        (Disk::Low, Disk::Ok) => (
            LogLevel::Warn,
            format!(
                "disk low: {free} free on the local cloud's data disk, and its {} (FLIGHTDECK_LOCAL_MIN_FREE_GB): stop the load run (x in the load view) or free some disk",
                fmt::disk_refusal(memory)
            ),
        ),
        (Disk::Low, _) => (
            LogLevel::Info,
            format!("disk: {free} free, S3 takes writes again (the disk is still low)"),
        ),
        (Disk::Ok, _) => (
            LogLevel::Info,
            format!("disk back to normal: {free} free"),
        ),
    };
    note(state, at, level, text);
}

/// The local cloud's memory: kept for the views; a rise in pressure is said once, with what
/// to do, and so is the way back.
fn local_memory(state: &mut State, at: Timestamp, memory: LocalMemory) {
    let previous = state.local.memory.as_ref().map(|(_, m)| m);
    let before = previous.map_or(Pressure::Ok, LocalMemory::pressure);
    let disk_before = previous.map_or(Disk::Ok, LocalMemory::disk);
    let now = memory.pressure();
    disk(state, at, disk_before, &memory);
    let free = format!(
        "{} of {} free",
        fmt::bytes(memory.available),
        fmt::bytes(memory.total)
    );
    let held = format!(
        "emulator {}, fleet {}",
        memory.emulator.map_or_else(|| "–".to_owned(), fmt::bytes),
        fmt::bytes(memory.fleet())
    );
    state.local.memory = Some((at, memory));
    if now > before {
        let what = if now == Pressure::Critical {
            "memory critical"
        } else {
            "memory low"
        };
        note(
            state,
            at,
            LogLevel::Warn,
            format!(
                "{what}: {free} ({held}); stop the load run (x in the load view) or scale the fleet in before the kernel kills processes"
            ),
        );
    } else if now == Pressure::Ok && before > Pressure::Ok {
        note(
            state,
            at,
            LogLevel::Info,
            format!("memory back to normal: {free}"),
        );
    }
}

/// The demo's emulator: each change is said once (flash and note); the banner and the status
/// line show the state while it lasts.
fn emulator(state: &mut State, at: Timestamp, status: EmulatorStatus) {
    let said = match (&state.local.emulator, &status) {
        (_, EmulatorStatus::Restarting {
            endpoint,
            why,
            attempt,
            max,
        }) => Some((
            LogLevel::Warn,
            format!("the demo's emulator died ({why}); restarting it on {endpoint} (attempt {attempt} of {max})"),
        )),
        (
            Some(EmulatorStatus::Restarting { .. } | EmulatorStatus::Down { .. }),
            EmulatorStatus::Running { endpoint, pid, .. },
        ) => Some((
            LogLevel::Info,
            format!(
                "emulator restarted on {endpoint}{} with the stack provisioned again; the fleet and the panels reconnect by themselves",
                pid.map_or_else(String::new, |p| format!(" (pid {p})"))
            ),
        )),
        (_, EmulatorStatus::Down { why, todo }) => Some((
            LogLevel::Error,
            format!("the demo's emulator is down: {why}. {todo}"),
        )),
        _ => None,
    };
    state.local.emulator = Some(status);
    if let Some((log_level, text)) = said {
        note(state, at, log_level, text);
    }
}
