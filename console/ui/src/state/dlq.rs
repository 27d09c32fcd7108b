//! What the console knows about the dead-letter queue being browsed: the peeked messages, the
//! operator's multi-selection, the running redrive and the audit log.

use std::collections::BTreeSet;

use crate::model::{
    AuditEntry, Claim, DlqMessage, EmulatorStatus, FleetProcess, LoadStatus, LocalMemory,
    RedriveStatus, ScalingDecision, Timestamp,
};

/// Audit entries kept for the view.
const MAX_AUDIT: usize = 500;
/// Load runs remembered for the charts' marks.
const MAX_RUNS: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct Dlq {
    /// The queue the messages came from.
    pub queue: Option<String>,
    /// Oldest first.
    pub messages: Vec<DlqMessage>,
    pub at: Option<Timestamp>,
    /// Selected message ids; ids that leave the queue leave the selection.
    pub marked: BTreeSet<String>,
    /// The table shows one row per failure signature (`crate::dlqsig`) instead of per message.
    pub grouped: bool,
}

impl Dlq {
    pub fn apply(&mut self, at: Timestamp, queue: String, mut messages: Vec<DlqMessage>) -> bool {
        if self.queue.as_ref() == Some(&queue) && self.at.is_some_and(|prev| at <= prev) {
            return false;
        }
        if self.queue.as_ref() != Some(&queue) {
            self.marked.clear();
        }
        messages.sort_by(|a, b| (a.sent_at, &a.id).cmp(&(b.sent_at, &b.id)));
        let ids: BTreeSet<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        self.marked.retain(|id| ids.contains(id.as_str()));
        self.queue = Some(queue);
        self.messages = messages;
        self.at = Some(at);
        true
    }

    pub fn messages_of(&self, queue: &str) -> &[DlqMessage] {
        if self.queue.as_deref() == Some(queue) {
            &self.messages
        } else {
            &[]
        }
    }

    pub fn get(&self, queue: &str, id: &str) -> Option<&DlqMessage> {
        self.messages_of(queue).iter().find(|m| m.id == id)
    }

    pub fn toggle(&mut self, id: &str) {
        if !self.marked.remove(id) {
            self.marked.insert(id.to_owned());
        }
    }

    /// Marks every one of `ids`; when all are marked already, unmarks them.
    pub fn toggle_all(&mut self, ids: &[String]) {
        if !ids.is_empty() && ids.iter().all(|id| self.marked.contains(id)) {
            for id in ids {
                self.marked.remove(id);
            }
        } else {
            self.marked.extend(ids.iter().cloned());
        }
    }
}

/// The redrive in progress (or the last one, until the operator dismisses it).
#[derive(Debug, Clone, Default)]
pub struct Jobs {
    pub redrive: Option<RedriveStatus>,
}

#[derive(Debug, Clone, Default)]
pub struct Audit {
    pub entries: Vec<AuditEntry>,
    pub at: Option<Timestamp>,
}

impl Audit {
    pub fn apply(&mut self, at: Timestamp, entries: Vec<AuditEntry>) {
        self.entries = entries;
        let extra = self.entries.len().saturating_sub(MAX_AUDIT);
        self.entries.drain(..extra);
        self.at = Some(at);
    }
}

/// The local cloud's fleet and autoscaler, when the console runs on one.
#[derive(Debug, Clone, Default)]
pub struct Local {
    /// A local autoscaler reports here (there is none against AWS).
    pub autoscaler: bool,
    pub decisions: Vec<ScalingDecision>,
    pub processes: Vec<FleetProcess>,
    /// The demo tour's caption, while one is shown.
    pub caption: Option<String>,
    /// The tour's caption with a claim: held back until the screen shows its claim, then its
    /// number follows the screen while the claim holds (a queue that keeps building), so
    /// caption and table never disagree.
    pub claimed_caption: Option<(String, Claim)>,
    /// The demo's own emulator (kept running by the demo), when it runs one.
    pub emulator: Option<EmulatorStatus>,
    /// The local cloud's memory and the machine's, with when it was sampled.
    pub memory: Option<(Timestamp, LocalMemory)>,
}

impl Local {
    pub fn decisions_of<'a>(
        &'a self,
        group: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a ScalingDecision> {
        self.decisions.iter().filter(move |d| d.group == group)
    }

    pub fn process(&self, instance_id: &str) -> Option<&FleetProcess> {
        self.processes.iter().find(|p| p.instance_id == instance_id)
    }
}

/// One sample of a load run over time, for its charts: the recent window's rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSample {
    pub t: Timestamp,
    pub rps: Option<f64>,
    pub error_pct: Option<f64>,
    pub p50_s: Option<f64>,
    pub p95_s: Option<f64>,
    pub p99_s: Option<f64>,
}

/// Load runs: the scenarios, the current (or last) run, its history, and when runs happened
/// (marked on the CPU and queue charts).
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub scenarios: Vec<crate::model::ScenarioInfo>,
    /// Where runs go; `None` when the console knows no API endpoint.
    pub target: Option<String>,
    /// Set when runs go to another machine: its host must be typed to start one.
    pub remote_host: Option<String>,
    pub status: Option<LoadStatus>,
    pub samples: Vec<LoadSample>,
    /// Start and end (while running: none) of each run this session.
    pub runs: Vec<(Timestamp, Option<Timestamp>)>,
}

impl Load {
    pub fn running(&self) -> bool {
        self.status.as_ref().is_some_and(|s| !s.finished)
    }

    pub fn apply(&mut self, at: Timestamp, status: LoadStatus) {
        let new_run = self
            .status
            .as_ref()
            .is_none_or(|prev| prev.finished || prev.started != status.started);
        if new_run {
            self.samples.clear();
            self.runs.push((status.started.unwrap_or(at), None));
            if self.runs.len() > MAX_RUNS {
                self.runs.remove(0);
            }
        }
        if status.phase == "running" || status.phase == "stopping" {
            let r = &status.recent;
            self.samples.push(LoadSample {
                t: at,
                rps: r.rps,
                error_pct: r.error_pct,
                p50_s: r.p50_s,
                p95_s: r.p95_s,
                p99_s: r.p99_s,
            });
        }
        if status.finished {
            if let Some(run) = self.runs.last_mut() {
                run.1.get_or_insert(at);
            }
        }
        self.status = Some(status);
    }
}
