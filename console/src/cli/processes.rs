//! `flightdeck suspend|resume GROUP [PROCESS...]`, over [`ops::processes`]: the confirm path,
//! the audit entry and the exit codes.

use clap::Args;

use crate::cli::headless::{exit, Ctx, Exit, EXIT_CODES, REFUSED};
use ops::confirm::{Action, Confirm};
use ops::processes::{set, summary, suspended};

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

/// `flightdeck suspend` (`suspend`) and `flightdeck resume`.
pub async fn run(args: ProcessesArgs, suspend: bool, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let processes = ui::parse_processes(&args.processes).map_err(|e| exit(2, e))?;
    let action = if suspend {
        "scale.suspend"
    } else {
        "scale.resume"
    };
    let params = serde_json::json!({ "processes": processes });
    let record =
        |result: &str, detail: String| ctx.record(action, &args.group, &params, result, detail);
    let fail = |e| crate::cli::scale::fail(ctx, e);
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
        if let Err(r) = ops::confirm::headless(&c, &what, args.yes) {
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
