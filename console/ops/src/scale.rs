//! Changing an Auto Scaling group's desired capacity by hand: the group's min..max are read
//! first and a value outside them is refused here (AWS refuses it too; the emulator does
//! not), with the policies that may override a manual change and the group's cooldown.

use serde::Serialize;
use stack::errors::describe;
use stack::Clients;

/// What the operator sees before changing a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupCapacity {
    pub group: String,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub cooldown_s: u32,
    /// Policies that may move the capacity again after a manual change.
    pub policies: Vec<PolicySummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySummary {
    pub name: String,
    /// `TargetTrackingScaling`, `StepScaling`, `SimpleScaling`, `PredictiveScaling`.
    pub kind: String,
    pub enabled: bool,
    /// Target tracking: the metric and target, e.g. `ASGAverageCPUUtilization 60`.
    pub detail: String,
}

impl PolicySummary {
    /// One line: `flightdeck-worker-cpu60: target tracking ASGAverageCPUUtilization 60`.
    pub fn line(&self) -> String {
        let state = if self.enabled { "" } else { " (disabled)" };
        format!("{}: {} {}{state}", self.name, self.kind, self.detail)
    }
}

/// Why a scale did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error(
        "no Auto Scaling group named `{0}` at the target: check the name with `flightdeck status`"
    )]
    NoSuchGroup(String),
    #[error("{group}: desired {requested} is outside min..=max ({min}..={max}); choose a value from {min} to {max}, or change the group's min/max first")]
    OutOfRange {
        group: String,
        requested: u32,
        min: u32,
        max: u32,
    },
    #[error("{action} failed: {failure}")]
    Aws {
        action: &'static str,
        failure: stack::errors::AwsFailure,
    },
}

/// One group as DescribeAutoScalingGroups shows it; a missing name is [`ScaleError::NoSuchGroup`].
pub async fn find_group(
    clients: &Clients,
    group: &str,
) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup, ScaleError> {
    let out = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .map_err(|e| ScaleError::Aws {
            action: "DescribeAutoScalingGroups",
            failure: describe(&e),
        })?;
    out.auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(group))
        .cloned()
        .ok_or_else(|| ScaleError::NoSuchGroup(group.to_string()))
}

/// Read a group's limits, cooldown and policies (DescribeAutoScalingGroups, DescribePolicies).
pub async fn describe_group(clients: &Clients, group: &str) -> Result<GroupCapacity, ScaleError> {
    let g = &find_group(clients, group).await?;
    let n = |v: Option<i32>| v.unwrap_or(0).max(0) as u32;
    let policies = clients
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name(group)
        .send()
        .await
        .map_err(|e| ScaleError::Aws {
            action: "DescribePolicies",
            failure: describe(&e),
        })?;
    let policies = policies
        .scaling_policies()
        .iter()
        .map(|p| {
            let detail = match p.target_tracking_configuration() {
                Some(t) => {
                    let metric = t
                        .predefined_metric_specification()
                        .and_then(|m| m.predefined_metric_type())
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_else(|| "custom metric".into());
                    format!("{metric} {}", t.target_value().unwrap_or_default())
                }
                None => p.adjustment_type().unwrap_or_default().to_string(),
            };
            PolicySummary {
                name: p.policy_name().unwrap_or_default().to_string(),
                kind: p.policy_type().unwrap_or("SimpleScaling").to_string(),
                enabled: p.enabled().unwrap_or(true),
                detail,
            }
        })
        .collect();
    Ok(GroupCapacity {
        group: group.to_string(),
        min: n(g.min_size()),
        desired: n(g.desired_capacity()),
        max: n(g.max_size()),
        cooldown_s: n(g.default_cooldown()),
        policies,
    })
}

/// Refuse a desired capacity outside the group's min..=max.
pub fn validate(cap: &GroupCapacity, requested: u32) -> Result<(), ScaleError> {
    if requested < cap.min || requested > cap.max {
        return Err(ScaleError::OutOfRange {
            group: cap.group.clone(),
            requested,
            min: cap.min,
            max: cap.max,
        });
    }
    Ok(())
}

/// What a scale did.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleOutcome {
    pub group: String,
    pub from: u32,
    pub to: u32,
    pub min: u32,
    pub max: u32,
    pub honor_cooldown: bool,
    pub dry_run: bool,
    /// Policies that may override the change.
    pub policies: Vec<String>,
}

/// Set the desired capacity after validating it against what the group says now.
pub async fn set_desired(
    clients: &Clients,
    cap: &GroupCapacity,
    to: u32,
    honor_cooldown: bool,
    dry_run: bool,
) -> Result<ScaleOutcome, ScaleError> {
    validate(cap, to)?;
    if !dry_run {
        clients
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&cap.group)
            .desired_capacity(to as i32)
            .honor_cooldown(honor_cooldown)
            .send()
            .await
            .map_err(|e| ScaleError::Aws {
                action: "SetDesiredCapacity",
                failure: describe(&e),
            })?;
    }
    Ok(ScaleOutcome {
        group: cap.group.clone(),
        from: cap.desired,
        to,
        min: cap.min,
        max: cap.max,
        honor_cooldown,
        dry_run,
        policies: cap
            .policies
            .iter()
            .filter(|p| p.enabled)
            .map(PolicySummary::line)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap() -> GroupCapacity {
        GroupCapacity {
            group: "flightdeck-worker".into(),
            min: 1,
            desired: 1,
            max: 3,
            cooldown_s: 120,
            policies: Vec::new(),
        }
    }

    #[test]
    fn only_min_to_max_is_accepted() {
        assert!(validate(&cap(), 1).is_ok());
        assert!(validate(&cap(), 3).is_ok());
        for bad in [0, 4, 9] {
            let e = validate(&cap(), bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains(&format!("desired {bad} is outside min..=max (1..=3)")),
                "{e}"
            );
        }
    }
}
