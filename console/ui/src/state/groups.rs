//! The latest `Groups` report, the capacity samples kept from successive reports (for the
//! capacity charts) and the capacity changes the console itself observed between reports.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use crate::model::{GroupSnapshot, Phase, Timestamp};

/// Changes kept per group; older ones fall off.
const MAX_CHANGES: usize = 200;
/// Capacity samples kept per group: a day at a 5 s poll.
const MAX_SAMPLES: usize = 17_280;

/// A group's capacity as one report showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacitySample {
    pub t: Timestamp,
    pub desired: u32,
    pub in_service: u32,
    pub pending: u32,
    pub terminating: u32,
    pub max: u32,
}

impl CapacitySample {
    pub fn of(t: Timestamp, g: &GroupSnapshot) -> Self {
        let n = |p: Phase| u32::try_from(g.count(p)).unwrap_or(u32::MAX);
        CapacitySample {
            t,
            desired: g.desired,
            in_service: n(Phase::InService),
            pending: n(Phase::Pending),
            terminating: n(Phase::Terminating),
            max: g.max,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Desired {
        from: u32,
        to: u32,
    },
    InService {
        from: usize,
        to: usize,
    },
    Bounds {
        min: (u32, u32),
        max: (u32, u32),
    },
    /// First seen after the first report (a new group).
    Appeared,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChangeKind::Desired { from, to } => write!(f, "desired {from}→{to}"),
            ChangeKind::InService { from, to } => write!(f, "in service {from}→{to}"),
            ChangeKind::Bounds { min, max } => {
                write!(f, "min/max {}/{}→{}/{}", min.0, max.0, min.1, max.1)
            }
            ChangeKind::Appeared => f.write_str("appeared"),
        }
    }
}

impl ChangeKind {
    /// A compact form for table cells.
    pub fn short(&self) -> String {
        match *self {
            ChangeKind::InService { from, to } => format!("insvc {from}→{to}"),
            ChangeKind::Appeared => "new".to_owned(),
            other => other.to_string(),
        }
    }
}

/// A change seen between two successive reports, stamped with the later report's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityChange {
    pub at: Timestamp,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Default)]
pub struct Groups {
    /// Sorted by name.
    pub list: Vec<GroupSnapshot>,
    pub at: Option<Timestamp>,
    /// Each group's latest instance refresh, once read (`:instance-refresh`).
    pub refreshes: BTreeMap<String, crate::model::RefreshView>,
    changes: BTreeMap<String, VecDeque<CapacityChange>>,
    samples: BTreeMap<String, VecDeque<CapacitySample>>,
    /// The groups last told to the groups agent as on screen.
    pub(crate) on_screen: Vec<String>,
}

impl Groups {
    /// Applies a report; an older report than the one shown is a superseded reply and is dropped.
    pub fn apply(&mut self, at: Timestamp, mut groups: Vec<GroupSnapshot>) -> bool {
        if self.at.is_some_and(|prev| at <= prev) {
            return false;
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        for g in &groups {
            let log = self.samples.entry(g.name.clone()).or_default();
            // A group kept from an earlier reading is not a new sample.
            let t = g.read_at.unwrap_or(at);
            if log.back().is_some_and(|last| last.t >= t) {
                continue;
            }
            log.push_back(CapacitySample::of(t, g));
            if log.len() > MAX_SAMPLES {
                log.pop_front();
            }
        }
        // Groups that are gone take their samples with them.
        self.samples
            .retain(|name, _| groups.iter().any(|g| &g.name == name));
        if self.at.is_some() {
            for g in &groups {
                let found = self.list.iter().find(|p| p.name == g.name);
                for kind in diff(found, g) {
                    let log = self.changes.entry(g.name.clone()).or_default();
                    let at = g.read_at.unwrap_or(at);
                    log.push_back(CapacityChange { at, kind });
                    if log.len() > MAX_CHANGES {
                        log.pop_front();
                    }
                }
            }
        }
        self.list = groups;
        self.at = Some(at);
        true
    }

    pub fn get(&self, name: &str) -> Option<&GroupSnapshot> {
        self.list.iter().find(|g| g.name == name)
    }

    /// Capacity samples, oldest first.
    pub fn samples(&self, name: &str) -> impl DoubleEndedIterator<Item = &CapacitySample> + Clone {
        self.samples.get(name).into_iter().flatten()
    }

    /// The oldest capacity sample of any group.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.samples
            .values()
            .filter_map(|s| s.front().map(|p| p.t))
            .min()
    }

    /// Observed changes, newest last.
    pub fn changes(&self, name: &str) -> impl DoubleEndedIterator<Item = &CapacityChange> {
        self.changes.get(name).into_iter().flatten()
    }

    pub fn last_change(&self, name: &str) -> Option<&CapacityChange> {
        self.changes(name).next_back()
    }
}

fn diff(prev: Option<&GroupSnapshot>, now: &GroupSnapshot) -> Vec<ChangeKind> {
    let Some(prev) = prev else {
        return vec![ChangeKind::Appeared];
    };
    let mut out = Vec::new();
    if (prev.min, prev.max) != (now.min, now.max) {
        out.push(ChangeKind::Bounds {
            min: (prev.min, now.min),
            max: (prev.max, now.max),
        });
    }
    if prev.desired != now.desired {
        out.push(ChangeKind::Desired {
            from: prev.desired,
            to: now.desired,
        });
    }
    let (was, is) = (prev.in_service(), now.in_service());
    if was != is {
        out.push(ChangeKind::InService { from: was, to: is });
    }
    out
}
