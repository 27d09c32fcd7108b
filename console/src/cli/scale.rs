//! `flightdeck scale GROUP N`: set a group's desired capacity, validated against its
//! min..max, through the confirm path and into the audit log.

use clap::Args;

use crate::cli::headless::{exit, Ctx, Exit, EXIT_CODES, FAILED, REFUSED};
use ops::confirm::Action;
use ops::scale::{describe_group, set_desired, ScaleError};

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct ScaleArgs {
    /// The Auto Scaling group
    pub group: String,
    /// The new desired capacity (must be within the group's min..max)
    pub desired: u32,
    /// Refuse the change while the group is in its cooldown (SetDesiredCapacity HonorCooldown)
    #[arg(long)]
    pub honor_cooldown: bool,
    /// Validate and show what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (for scripts)
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

/// A scaling error as the exit the operator reads: refusals (out of range, `--read-only`) exit
/// [`REFUSED`] with the refusal's own words, AWS failures are explained.
pub(crate) fn fail(ctx: &Ctx<'_>, e: ScaleError) -> anyhow::Error {
    match e {
        ScaleError::OutOfRange { .. } => exit(REFUSED, e.to_string()),
        ScaleError::Aws { action, failure } => {
            if failure.message.contains(stack::aws::READ_ONLY_REFUSAL) {
                let text = failure
                    .message
                    .find(stack::aws::READ_ONLY_REFUSAL)
                    .map_or(failure.message.as_str(), |i| &failure.message[i..]);
                return exit(
                    REFUSED,
                    format!(
                        "{action}: {}",
                        text.split(": dispatch failure").next().unwrap_or(text)
                    ),
                );
            }
            exit(
                FAILED,
                format!("{:#}", ops::explain(&failure, action, ctx.clients)),
            )
        }
        other => exit(FAILED, other.to_string()),
    }
}

pub async fn run(args: ScaleArgs, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let cap = describe_group(ctx.clients, &args.group)
        .await
        .map_err(|e| fail(ctx, e))?;
    let params = serde_json::json!({
        "from": cap.desired, "to": args.desired, "min": cap.min, "max": cap.max,
        "honor_cooldown": args.honor_cooldown,
    });
    let record =
        |result: &str, detail: String| ctx.record("scale", &args.group, &params, result, detail);
    if let Err(e) = ops::scale::validate(&cap, args.desired) {
        if !args.dry_run {
            record("refused", e.to_string());
        }
        return Err(fail(ctx, e));
    }
    if !args.dry_run && !ctx.clients.is_read_only() {
        let mut what = format!(
            "Set {} desired capacity {} -> {} (min {}, max {}, cooldown {} s).",
            cap.group, cap.desired, args.desired, cap.min, cap.max, cap.cooldown_s
        );
        for p in cap.policies.iter().filter(|p| p.enabled) {
            what += &format!("\n  may be overridden by policy {}", p.line());
        }
        let c = ops::confirm::Confirm::for_action(&Action::Scale {
            group: &cap.group,
            to: args.desired,
        });
        if let Err(r) = ops::confirm::headless(&c, &what, args.yes) {
            record("refused", r.to_string());
            return Err(exit(REFUSED, r.to_string()));
        }
    }
    let out = match set_desired(
        ctx.clients,
        &cap,
        args.desired,
        args.honor_cooldown,
        args.dry_run,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            let err = fail(ctx, e);
            let refused = err
                .downcast_ref::<Exit>()
                .is_some_and(|x| x.code == REFUSED);
            record(if refused { "refused" } else { "failed" }, err.to_string());
            return Err(err);
        }
    };
    let summary = format!(
        "{} {}: desired {} -> {} (min {}, max {})",
        if out.dry_run { "would set" } else { "set" },
        out.group,
        out.from,
        out.to,
        out.min,
        out.max
    );
    if !args.dry_run {
        record("ok", summary.clone());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{summary}");
        for p in &out.policies {
            println!("note: policy {p} may change it again");
        }
    }
    Ok(())
}
