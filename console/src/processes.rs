//! Suspending and resuming an Auto Scaling group's processes (SuspendProcesses,
//! ResumeProcesses): `flightdeck suspend|resume GROUP [PROCESS...]` and the console's
//! `:suspend`/`:resume`. With AlarmNotification suspended no scaling policy changes the group,
//! so an operator's manual capacity sticks (the local autoscaler honours it as AWS does).

use clap::Args;
use serde::Serialize;
use stack::errors::describe;
use stack::Clients;

use crate::confirm::{Action, Confirm};
use crate::headless::{exit, Ctx, Exit, EXIT_CODES, REFUSED};
use crate::scale::ScaleError;

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct ProcessesArgs {
    /// The Auto Scaling group
    pub group: String,
    /// Processes, as AWS names them (Launch, Terminate, AddToLoadBalancer, AlarmNotification,
    /// AZRebalance, HealthCheck, InstanceRefresh, ReplaceUnhealthy, ScheduledActions) or
    /// `all`; none means AlarmNotification, the process that runs the scaling policies
    pub processes: Vec<String>,
    /// Do not ask for confirmation (for scripts)
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

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

/// `flightdeck suspend` (`suspend`) and `flightdeck resume`.
pub async fn run(args: ProcessesArgs, suspend: bool, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let processes = ui::parse_processes(&args.processes).map_err(|e| exit(2, e))?;
    let action = if suspend {
        "scale.suspend"
    } else {
        "scale.resume"
    };
    let params = serde_json::json!({ "processes": processes });
    let record = |result: &str, detail: String| {
        let entry = crate::audit::Entry::now(
            ctx.clients,
            ctx.profile,
            action,
            &args.group,
            params.clone(),
            result,
            detail,
        );
        if let Err(e) = crate::audit::record(&entry) {
            eprintln!("flightdeck: warning: {e:#}");
        }
    };
    let fail = |e| crate::scalecmd::fail(ctx, e);
    let now = suspended(ctx.clients, &args.group).await.map_err(fail)?;
    if !ctx.clients.is_read_only() {
        let verb = if suspend { "Suspend" } else { "Resume" };
        let what = format!(
            "{verb} {} on {} (suspended now: {}).",
            processes.join(", "),
            args.group,
            if now.is_empty() {
                "nothing".to_owned()
            } else {
                now.join(", ")
            }
        );
        let c = if suspend {
            Confirm::for_action(&Action::Suspend { group: &args.group })
        } else {
            Confirm::Plain
        };
        if let Err(r) = crate::confirm::headless(&c, &what, args.yes) {
            record("refused", r.to_string());
            return Err(exit(REFUSED, r.to_string()));
        }
    }
    match set(ctx.clients, &args.group, &processes, suspend).await {
        Ok(out) => {
            let text = summary(&out);
            record("ok", text.clone());
            if args.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{text}");
            }
            Ok(())
        }
        Err(e) => {
            let err = fail(e);
            let refused = err
                .downcast_ref::<Exit>()
                .is_some_and(|x| x.code == REFUSED);
            record(if refused { "refused" } else { "failed" }, err.to_string());
            Err(err)
        }
    }
}
