//! Instance refresh: replacing a group's instances in rolling batches (StartInstanceRefresh,
//! DescribeInstanceRefreshes, CancelInstanceRefresh), for `flightdeck instance-refresh` and the
//! console's `:instance-refresh`. An endpoint without the calls (the local cloud's emulator)
//! gets a clear refusal naming the gap ([`unsupported`]); nothing is changed there.

use aws_sdk_autoscaling::types::{InstanceRefresh, RefreshPreferences, RefreshStrategy};
use serde::Serialize;
use stack::errors::{describe, AwsFailure, ErrorClass};
use stack::Clients;

use crate::scale::ScaleError;

/// Refreshes shown by `status` and followed by the console: the newest few.
const SHOWN: i32 = 5;

/// One instance refresh, as an operator reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefreshInfo {
    pub id: String,
    /// Pending, InProgress, Successful, Failed, Cancelling, Cancelled, RollbackInProgress, ...
    pub status: String,
    pub percent_complete: Option<i32>,
    pub instances_to_update: Option<i32>,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub reason: Option<String>,
}

impl RefreshInfo {
    pub fn from_aws(r: &InstanceRefresh) -> RefreshInfo {
        RefreshInfo {
            id: r.instance_refresh_id().unwrap_or_default().to_owned(),
            status: r
                .status()
                .map_or_else(|| "Unknown".to_owned(), |s| s.as_str().to_owned()),
            percent_complete: r.percentage_complete(),
            instances_to_update: r.instances_to_update(),
            started: r.start_time().map(ToString::to_string),
            ended: r.end_time().map(ToString::to_string),
            reason: r.status_reason().map(str::to_owned),
        }
    }

    /// Still replacing (or about to, or undoing): worth following.
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "Pending" | "InProgress" | "Cancelling" | "RollbackInProgress" | "Baking"
        )
    }

    /// `InProgress 40% · 3 to update · since 2026-12-03T10:00:00Z`.
    pub fn line(&self) -> String {
        let mut parts = vec![match self.percent_complete {
            Some(p) => format!("{} {p}%", self.status),
            None => self.status.clone(),
        }];
        if let Some(n) = self.instances_to_update.filter(|_| self.active()) {
            parts.push(format!("{n} to update"));
        }
        match (&self.started, &self.ended) {
            (_, Some(end)) => parts.push(format!("ended {end}")),
            (Some(start), None) => parts.push(format!("since {start}")),
            (None, None) => {}
        }
        if let Some(r) = self.reason.as_deref().filter(|r| !r.is_empty()) {
            parts.push(r.to_owned());
        }
        parts.join(" · ")
    }
}

/// Why the call failed, in the operator's words: a missing call is the endpoint's gap.
fn aws(action: &'static str, failure: AwsFailure) -> ScaleError {
    ScaleError::Aws { action, failure }
}

/// The refusal for an endpoint that lacks instance refresh, or `None` for any other failure.
pub fn unsupported(e: &ScaleError) -> Option<String> {
    match e {
        ScaleError::Aws { action, failure } if failure.class == ErrorClass::NotImplemented => {
            Some(format!(
                "this endpoint does not implement instance refresh ({action}): the local \
                 cloud's emulator lacks it, so nothing was changed. On AWS it replaces the \
                 group's instances in rolling batches; here, scale the group out and in to \
                 replace instances"
            ))
        }
        _ => None,
    }
}

/// The group's newest refreshes, newest first.
pub async fn status(clients: &Clients, group: &str) -> Result<Vec<RefreshInfo>, ScaleError> {
    crate::scale::find_group(clients, group).await?;
    let out = clients
        .autoscaling
        .describe_instance_refreshes()
        .auto_scaling_group_name(group)
        .max_records(SHOWN)
        .send()
        .await
        .map_err(|e| aws("DescribeInstanceRefreshes", describe(&e)))?;
    Ok(out
        .instance_refreshes()
        .iter()
        .map(RefreshInfo::from_aws)
        .collect())
}

/// Start a rolling refresh; the new refresh's id.
pub async fn start(
    clients: &Clients,
    group: &str,
    min_healthy: i32,
    warmup: Option<i32>,
) -> Result<String, ScaleError> {
    crate::scale::find_group(clients, group).await?;
    let prefs = RefreshPreferences::builder()
        .min_healthy_percentage(min_healthy)
        .set_instance_warmup(warmup)
        .build();
    let out = clients
        .autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name(group)
        .strategy(RefreshStrategy::Rolling)
        .preferences(prefs)
        .send()
        .await
        .map_err(|e| aws("StartInstanceRefresh", describe(&e)))?;
    Ok(out.instance_refresh_id().unwrap_or_default().to_owned())
}

/// Cancel the refresh in progress; the cancelled refresh's id.
pub async fn cancel(clients: &Clients, group: &str) -> Result<String, ScaleError> {
    crate::scale::find_group(clients, group).await?;
    let out = clients
        .autoscaling
        .cancel_instance_refresh()
        .auto_scaling_group_name(group)
        .send()
        .await
        .map_err(|e| aws("CancelInstanceRefresh", describe(&e)))?;
    Ok(out.instance_refresh_id().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::primitives::DateTime;
    use aws_sdk_autoscaling::types::InstanceRefreshStatus;

    fn refresh(status: InstanceRefreshStatus, pct: Option<i32>, ended: bool) -> InstanceRefresh {
        InstanceRefresh::builder()
            .instance_refresh_id("r-1")
            .status(status)
            .set_percentage_complete(pct)
            .instances_to_update(3)
            .start_time(DateTime::from_secs(1_796_000_000))
            .set_end_time(ended.then(|| DateTime::from_secs(1_796_000_600)))
            .build()
    }

    #[test]
    fn a_refresh_in_progress_reads_as_progress_and_is_followed() {
        let r = RefreshInfo::from_aws(&refresh(InstanceRefreshStatus::InProgress, Some(40), false));
        assert!(r.active());
        assert_eq!(
            r.line(),
            "InProgress 40% · 3 to update · since 2026-11-30T00:53:20Z"
        );
    }

    #[test]
    fn a_finished_refresh_says_when_it_ended_and_is_not_followed() {
        let mut aws = refresh(InstanceRefreshStatus::Failed, Some(60), true);
        aws.status_reason = Some("instances failed health checks".into());
        let r = RefreshInfo::from_aws(&aws);
        assert!(!r.active());
        assert_eq!(
            r.line(),
            "Failed 60% · ended 2026-11-30T01:03:20Z · instances failed health checks"
        );
    }

    #[test]
    fn only_a_missing_call_is_the_endpoints_gap() {
        let failure = |class| ScaleError::Aws {
            action: "StartInstanceRefresh",
            failure: AwsFailure {
                class,
                code: None,
                message: "500".into(),
                status: Some(500),
                unreachable: false,
            },
        };
        let text = unsupported(&failure(ErrorClass::NotImplemented)).unwrap();
        assert!(text.contains("does not implement instance refresh (StartInstanceRefresh)"));
        assert!(text.contains("nothing was changed"));
        assert_eq!(unsupported(&failure(ErrorClass::Retryable)), None);
        assert_eq!(unsupported(&ScaleError::NoSuchGroup("g".into())), None);
    }
}
