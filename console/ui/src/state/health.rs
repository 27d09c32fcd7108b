//! Per-agent freshness: when each last reported, and the error it reported since, if any.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::fmt;
use crate::model::{Agent, ErrorClass, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub struct AgentFailure {
    pub at: Timestamp,
    pub class: ErrorClass,
    pub message: String,
    pub next_retry_in: Option<Duration>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentHealth {
    pub last_ok: Option<Timestamp>,
    /// Set by an error report, cleared by the next successful report.
    pub failure: Option<AgentFailure>,
}

/// How fresh one agent's data is right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness<'a> {
    pub agent: Agent,
    /// Seconds since the data was observed; `None` before the first report.
    pub age_s: Option<u64>,
    pub stale: bool,
    pub failure: Option<&'a AgentFailure>,
}

impl AgentFailure {
    /// Seconds until the agent's next try (0: it is retrying now), if it said.
    pub fn retry_in_s(&self, now: Timestamp) -> Option<u64> {
        let wait = self.next_retry_in?;
        let due = self.at + chrono::Duration::from_std(wait).unwrap_or_default();
        Some(fmt::age_secs(due, now))
    }
}

impl Freshness<'_> {
    /// `4m throttled: Rate exceeded, retry in 8s`: the reason data is stale, for the status line.
    pub fn reason(&self, now: Timestamp) -> Option<String> {
        let f = self.failure?;
        let mut out = format!("{}: {}", crate::model::class_label(f.class), f.message);
        match f.retry_in_s(now) {
            Some(0) => out.push_str(", retrying"),
            Some(left) => out.push_str(&format!(", retry in {}", fmt::secs(left))),
            None => {}
        }
        Some(out)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Health {
    agents: BTreeMap<Agent, AgentHealth>,
}

impl Health {
    pub fn ok(&mut self, agent: Agent, at: Timestamp) {
        let h = self.agents.entry(agent).or_default();
        h.last_ok = Some(h.last_ok.map_or(at, |prev| prev.max(at)));
        if h.failure.as_ref().is_some_and(|f| f.at <= at) {
            h.failure = None;
        }
    }

    pub fn failed(&mut self, agent: Agent, failure: AgentFailure) {
        self.agents.entry(agent).or_default().failure = Some(failure);
    }

    /// Forgets an agent's failure: it stopped, so the failure no longer holds (the logs agent
    /// when its view closes).
    pub fn forget_failure(&mut self, agent: Agent) {
        if let Some(h) = self.agents.get_mut(&agent) {
            h.failure = None;
        }
    }

    pub fn get(&self, agent: Agent) -> Option<&AgentHealth> {
        self.agents.get(&agent)
    }

    /// Agents with an outstanding error, for the status line.
    pub fn failing(&self) -> impl Iterator<Item = (Agent, &AgentFailure)> {
        self.agents
            .iter()
            .filter_map(|(a, h)| h.failure.as_ref().map(|f| (*a, f)))
    }

    pub fn freshness(&self, agent: Agent, now: Timestamp, stale_after: Duration) -> Freshness<'_> {
        let h = self.agents.get(&agent);
        let age_s = h.and_then(|h| h.last_ok).map(|t| fmt::age_secs(now, t));
        let failure = h.and_then(|h| h.failure.as_ref());
        let stale = failure.is_some() || age_s.is_some_and(|a| a > stale_after.as_secs());
        Freshness {
            agent,
            age_s,
            stale,
            failure,
        }
    }
}
