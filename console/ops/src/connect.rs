//! Connecting to the target (`--local`, an endpoint, a profile) and one line for a failed AWS
//! call that says what failed, why, and what to do next.

use stack::errors::AwsFailure;
use stack::{Clients, ErrorClass, Stack};

use crate::target::{self, Target};

/// Clients for the target, refusing every mutating call when `read_only` (`--read-only`).
pub async fn connect_as(
    target: &Target,
    stack: &Stack,
    read_only: bool,
) -> anyhow::Result<Clients> {
    let clients = connect(target, stack).await?;
    Ok(if read_only {
        clients.read_only()
    } else {
        clients
    })
}

/// Clients for the target: `--local` resolves to the running local cloud's endpoint.
pub async fn connect(target: &Target, stack: &Stack) -> anyhow::Result<Clients> {
    let opts = if target.local {
        let running = local_cloud::registry::current().ok_or_else(|| {
            anyhow::anyhow!("no local cloud is running: start one with `flightdeck local up` (or use `flightdeck demo`)")
        })?;
        local_cloud::aws_options(&running.endpoint, &running.region)
    } else {
        if let Some(notice) = target::override_notice(target) {
            tracing::warn!("{notice}");
        }
        stack::AwsOptions {
            endpoint: target.endpoint.clone(),
            region: target.region.clone(),
            profile: target.profile.clone(),
            credentials: None,
            limits: stack::CallLimits::STANDARD,
        }
    };
    let clients = Clients::connect(&opts, &stack.region).await;
    // A missing profile or credentials fail here, named, before any service is called.
    target::preflight(target, &clients).await?;
    Ok(target::identify(clients).await)
}

/// One line for a failed AWS call: what failed, why, and what to do next.
pub fn explain(failure: &AwsFailure, action: &str, clients: &Clients) -> anyhow::Error {
    let target = clients.describe_target();
    if failure.unreachable {
        let reason = short_reason(&failure.message);
        return match clients.endpoint() {
            Some(endpoint) => anyhow::anyhow!(
                "cannot reach {endpoint} ({reason}). Start the local cloud with `flightdeck local up`, or point --endpoint / AWS_ENDPOINT_URL at a running endpoint"
            ),
            None => anyhow::anyhow!(
                "cannot reach AWS in {} ({reason}). Check the network, the region (--region / AWS_REGION) and any proxy settings",
                clients.region()
            ),
        };
    }
    match failure.class {
        // No answer came (no status): the call was never signed or sent, so no service refused it.
        ErrorClass::Auth if failure.status.is_none() => anyhow::anyhow!(
            "{action} was not sent to {target}: no usable AWS credentials ({failure}). Check AWS_PROFILE / --profile (`aws configure --profile NAME`, `aws sso login --profile NAME`) or AWS_ACCESS_KEY_ID"
        ),
        ErrorClass::Auth => anyhow::anyhow!(
            "{target} refused {action}: {failure}. Check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, or `aws sso login`) and that they allow {action}"
        ),
        ErrorClass::Throttled => anyhow::anyhow!(
            "{target} is throttling {action}: {failure}. Wait a moment and try again"
        ),
        ErrorClass::NotImplemented => anyhow::anyhow!(
            "{target} does not implement {action} (an emulator's gap): nothing was changed. Against AWS the call works"
        ),
        _ => anyhow::anyhow!("{action} at {target} failed: {failure}"),
    }
}

/// The useful part of a transport error chain.
pub fn short_reason(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("connection refused") {
        "connection refused"
    } else if m.contains("timed out") || m.contains("timeout") {
        "timed out"
    } else if m.contains("dns") || m.contains("resolve") || m.contains("lookup") {
        "host name not resolved"
    } else {
        "no answer"
    }
}
