//! `flightdeck instance-refresh start|status|cancel GROUP`, over [`ops::refresh`]: the
//! confirm path, the audit entry and the exit codes.

use clap::{Args, Subcommand};

use crate::cli::headless::{exit, Ctx, Exit, EXIT_CODES, FAILED, REFUSED};
use ops::confirm::{Action, Confirm};
use ops::refresh::{cancel, start, status, unsupported};
use ops::scale::ScaleError;

#[derive(Debug, Subcommand)]
pub enum RefreshCommand {
    /// Replace every instance of GROUP in rolling batches (typed confirm: the group's name)
    #[command(after_help = EXIT_CODES)]
    Start(StartArgs),
    /// The group's latest instance refreshes: status, progress, reason
    #[command(after_help = EXIT_CODES)]
    Status(GroupArgs),
    /// Cancel GROUP's instance refresh in progress (instances already replaced stay)
    #[command(after_help = EXIT_CODES)]
    Cancel(GroupArgs),
}

#[derive(Debug, Clone, Args)]
pub struct GroupArgs {
    /// The Auto Scaling group
    pub group: String,
    /// Do not ask for confirmation (for scripts)
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub group: GroupArgs,
    /// Share of the desired capacity that stays in service during the refresh, in percent
    #[arg(long, value_name = "PCT", default_value_t = 90, value_parser = clap::value_parser!(i32).range(0..=100))]
    pub min_healthy: i32,
    /// Seconds a new instance warms up before it counts as healthy [default: the group's]
    #[arg(long, value_name = "S")]
    pub warmup: Option<i32>,
}

/// A failure as the CLI exits with it: the endpoint's gap is a refusal (nothing changed).
fn fail(ctx: &Ctx<'_>, e: ScaleError) -> anyhow::Error {
    match unsupported(&e) {
        Some(text) => exit(REFUSED, text),
        None => crate::cli::scale::fail(ctx, e),
    }
}

/// `flightdeck instance-refresh start|status|cancel GROUP`.
pub async fn run(cmd: RefreshCommand, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    match cmd {
        RefreshCommand::Status(args) => {
            let list = status(ctx.clients, &args.group)
                .await
                .map_err(|e| fail(ctx, e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("{}: no instance refresh", args.group);
            } else {
                for r in &list {
                    println!("{}  {}", r.id, r.line());
                }
            }
            Ok(())
        }
        RefreshCommand::Start(args) => {
            let params = serde_json::json!({
                "min_healthy_percentage": args.min_healthy,
                "instance_warmup_s": args.warmup,
            });
            let what = format!(
                "Replace every instance of {} in rolling batches, keeping {}% of the desired \
                 capacity in service.",
                args.group.group, args.min_healthy
            );
            let confirm = Confirm::for_action(&Action::InstanceRefresh {
                group: &args.group.group,
            });
            act(
                ctx,
                &args.group,
                "scale.instance_refresh",
                params,
                &what,
                confirm,
                || {
                    start(
                        ctx.clients,
                        &args.group.group,
                        args.min_healthy,
                        args.warmup,
                    )
                },
            )
            .await
        }
        RefreshCommand::Cancel(args) => {
            let what = format!(
                "Cancel the instance refresh of {} (instances already replaced stay).",
                args.group
            );
            act(
                ctx,
                &args,
                "scale.instance_refresh_cancel",
                serde_json::json!({}),
                &what,
                Confirm::Plain,
                || cancel(ctx.clients, &args.group),
            )
            .await
        }
    }
}

/// Confirm, call, audit and print one change: start or cancel.
async fn act<F, Fut>(
    ctx: &Ctx<'_>,
    args: &GroupArgs,
    action: &str,
    params: serde_json::Value,
    what: &str,
    confirm: Confirm,
    call: F,
) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, ScaleError>>,
{
    let record =
        |result: &str, detail: String| ctx.record(action, &args.group, &params, result, detail);
    if !ctx.clients.is_read_only() {
        if let Err(r) = ops::confirm::headless(&confirm, what, args.yes) {
            record("refused", r.to_string());
            return Err(exit(REFUSED, r.to_string()));
        }
    }
    match call().await {
        Ok(id) => {
            let verb = if action.ends_with("cancel") {
                "cancelling"
            } else {
                "started"
            };
            let text = format!(
                "{verb} instance refresh {id} on {}; follow it with `flightdeck instance-refresh status {}`",
                args.group, args.group
            );
            record("ok", text.clone());
            if args.json {
                let out = serde_json::json!({ "group": args.group, "instance_refresh_id": id, "action": verb });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{text}");
            }
            Ok(())
        }
        Err(e) => {
            let err = fail(ctx, e);
            let code = err.downcast_ref::<Exit>().map_or(FAILED, |x| x.code);
            record(
                if code == REFUSED { "refused" } else { "failed" },
                err.to_string(),
            );
            Err(err)
        }
    }
}
