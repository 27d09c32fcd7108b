//! The fleet's published state: each instance's phase and endpoint, and the fleet's events.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stack::config::Role;

use super::Machine;

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started; not yet healthy (the API has not answered `/api/health`).
    Starting,
    /// Healthy, inside the group's warm-up: it runs but its metrics do not count yet.
    Warming,
    /// Past warm-up: counts for the group's metrics and the autoscaler.
    InService,
    /// SIGTERM sent (scale-in or shutdown); waiting for the graceful stop.
    Stopping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    pub instance_id: String,
    pub group: String,
    pub role: Role,
    pub pid: Option<u32>,
    /// The API's port on 127.0.0.1.
    pub port: Option<u16>,
    pub endpoint: Option<String>,
    pub phase: Phase,
    pub started_at: DateTime<Utc>,
    pub log: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetEventKind {
    /// Something the operator should know once (machine size, ...).
    Notice,
    Started,
    InService,
    Stopping,
    Stopped,
    /// A process exited on its own.
    Died,
    /// A dead instance was terminated so the group launches a replacement.
    Replaced,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetEvent {
    /// Increases by one per event: subscribers print the events newer than the last they saw.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: FleetEventKind,
    pub group: Option<String>,
    pub instance_id: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FleetEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.at.format("%H:%M:%S"))?;
        if let Some(g) = &self.group {
            write!(f, " {g}")?;
        }
        if let Some(i) = &self.instance_id {
            write!(f, " {i}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What the fleet publishes on its watch channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetState {
    /// False once the fleet has stopped every process.
    pub running: bool,
    pub instances: Vec<InstanceView>,
    /// The latest events, oldest first (at most 200).
    pub events: Vec<FleetEvent>,
    pub machine: Option<Machine>,
}

impl FleetState {
    pub fn group(&self, group: &str) -> impl Iterator<Item = &InstanceView> {
        let group = group.to_string();
        self.instances.iter().filter(move |i| i.group == group)
    }

    /// Instances of `group` past their warm-up.
    pub fn in_service(&self, group: &str) -> usize {
        self.group(group)
            .filter(|i| i.phase == Phase::InService)
            .count()
    }

    /// Instances of `group` started and not yet in service (the autoscaler waits for them).
    pub fn warming(&self, group: &str) -> usize {
        self.group(group)
            .filter(|i| matches!(i.phase, Phase::Starting | Phase::Warming))
            .count()
    }

    /// Processes running for `group`, whatever their phase.
    pub fn processes(&self, group: &str) -> usize {
        self.group(group).filter(|i| i.pid.is_some()).count()
    }

    /// The healthy API instances' endpoints: the load balancer's targets. Warm-up concerns
    /// the autoscaler's metrics, not traffic (on AWS a target group routes to an instance as
    /// soon as its health check passes).
    pub fn api_endpoints(&self) -> Vec<String> {
        self.instances
            .iter()
            .filter(|i| i.role == Role::Api && matches!(i.phase, Phase::Warming | Phase::InService))
            .filter_map(|i| i.endpoint.clone())
            .collect()
    }
}
