//! Suspending and resuming an Auto Scaling group's processes (SuspendProcesses,
//! ResumeProcesses) and reading which are suspended, for `flightdeck suspend|resume` and the
//! console's `:suspend`/`:resume`. With AlarmNotification suspended no scaling policy changes
//! the group, so an operator's manual capacity sticks (the local autoscaler honours it as AWS
//! does).

use serde::Serialize;
use stack::errors::describe;
use stack::Clients;

use crate::scale::ScaleError;

/// The group's suspended processes after a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub group: String,
    pub action: &'static str,
    pub processes: Vec<String>,
    pub suspended: Vec<String>,
}

/// The processes suspended on `group` now (DescribeAutoScalingGroups).
pub async fn suspended(clients: &Clients, group: &str) -> Result<Vec<String>, ScaleError> {
    let g = crate::scale::find_group(clients, group).await?;
    let mut names: Vec<String> = g
        .suspended_processes()
        .iter()
        .filter_map(|p| p.process_name())
        .map(str::to_owned)
        .collect();
    names.sort();
    Ok(names)
}

/// Suspend (or resume) `processes` on `group`, then read back what is suspended.
pub async fn set(
    clients: &Clients,
    group: &str,
    processes: &[String],
    suspend: bool,
) -> Result<Outcome, ScaleError> {
    // The group must exist: SuspendProcesses on a missing name fails less clearly.
    suspended(clients, group).await?;
    let sent = if suspend {
        clients
            .autoscaling
            .suspend_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(processes.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ScaleError::Aws {
                action: "SuspendProcesses",
                failure: describe(&e),
            })
    } else {
        clients
            .autoscaling
            .resume_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(processes.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ScaleError::Aws {
                action: "ResumeProcesses",
                failure: describe(&e),
            })
    };
    sent?;
    Ok(Outcome {
        group: group.to_owned(),
        action: if suspend { "suspended" } else { "resumed" },
        processes: processes.to_vec(),
        suspended: suspended(clients, group).await?,
    })
}

/// The line an operator reads: `suspended Launch on flightdeck-worker; suspended now: Launch`.
pub fn summary(out: &Outcome) -> String {
    let now = if out.suspended.is_empty() {
        "nothing is suspended now".to_owned()
    } else {
        format!("suspended now: {}", out.suspended.join(", "))
    };
    format!(
        "{} {} on {}; {now}",
        out.action,
        out.processes.join(", "),
        out.group
    )
}
