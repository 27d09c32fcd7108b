//! `flightdeck`: the operator's terminal. This file parses the command line, sets up logging
//! and turns failures into one line that says what went wrong and what to do next.

mod agents;
mod alarms;
mod audit;
mod calls;
mod cli;
mod confirm;
mod demo;
mod dlq;
mod dlqcmd;
mod editor;
mod framelog;
mod headless;
mod loadrun;
mod local;
mod logging;
mod logs;
mod logscmd;
mod processes;
mod refresh;
mod scale;
mod scalecmd;
mod sdk;
mod status;
mod synth;
mod target;
// `demo --tour` reads the local fleet's database (sqlx): only in the full build.
#[cfg_attr(not(feature = "full"), path = "tour_unavailable.rs")]
mod tour;
mod tui;
mod watch;

use std::process::ExitCode;

use clap::Parser;
use stack::errors::AwsFailure;
use stack::{Clients, ErrorClass, Stack};

use crate::cli::{Cli, Command, Target};

fn main() -> ExitCode {
    framelog::mark_start();
    let cli = Cli::parse();
    logging::init(owns_terminal(&cli));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flightdeck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<headless::Exit>() {
                if !exit.message.is_empty() {
                    eprintln!("flightdeck: {}", exit.message);
                }
                return ExitCode::from(exit.code);
            }
            eprintln!("flightdeck: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether this command draws a TUI (the console, or the demo's console on a terminal): its
/// log then goes to a file, as anything on stderr would be written over the screen.
fn owns_terminal(cli: &Cli) -> bool {
    use std::io::IsTerminal as _;
    let tui = match &cli.command {
        None | Some(Command::Ui) => true,
        Some(Command::Demo { no_tui, .. }) => !no_tui,
        Some(_) => false,
    };
    tui && std::io::stdout().is_terminal()
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    let stack = Stack::load_or_embedded(cli.target.stack.as_ref())?;
    match cli.command.take().unwrap_or(Command::Ui) {
        Command::Ui => {
            // A bad config file fails here, before the terminal is touched.
            let mut setup = tui::Setup::load(&cli.ui, &stack, cli.target.profile.as_deref())?;
            let mut target = cli.target.clone();
            target::apply_config(&mut target, &setup.config.aws);
            setup.extras.profile = target::effective_profile(&target);
            let clients = connect_as(&target, &stack, cli.ui.read_only).await?;
            if target.local {
                // The local cloud runs on this machine: its memory is part of the picture.
                setup.extras.feeds.push(agents::fleet::memory_feed(
                    None,
                    agents::fleet::EmulatorPid::Recorded,
                ));
            }
            tui::run(&clients, setup).await
        }
        Command::Status {
            json,
            watch,
            interval,
        } => {
            let (target, config) = configured(&cli.target, &cli.ui)?;
            let clients = connect(&target, &stack).await?;
            let selection = watch::Watch::from_config(&config.watch, &stack);
            if watch {
                return status::watch(&clients, &stack, selection, json, interval).await;
            }
            let mut watcher = status::Watcher::new(selection);
            let status = status::gather_watched(&clients, &stack, &mut watcher)
                .await
                .map_err(|e| explain(&e.failure, e.action, &clients))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", status.to_text());
            }
            Ok(())
        }
        Command::Demo {
            port,
            no_tui,
            tour,
            fleet,
        } => demo::run(&stack, port, no_tui, tour, &fleet, &cli.target, &cli.ui).await,
        Command::Local(cmd) => local::run(cmd, &cli.target, &stack).await,
        Command::Dlq(cmd) => {
            let acting = Acting::connect(&cli, &stack).await?;
            dlqcmd::run(cmd, &acting.ctx(&stack)).await
        }
        Command::Scale(args) => {
            let acting = Acting::connect(&cli, &stack).await?;
            scalecmd::run(args, &acting.ctx(&stack)).await
        }
        Command::Suspend(args) => processes_cmd(args, true, &cli, &stack).await,
        Command::Resume(args) => processes_cmd(args, false, &cli, &stack).await,
        Command::InstanceRefresh(cmd) => {
            let acting = Acting::connect(&cli, &stack).await?;
            refresh::run(cmd, &acting.ctx(&stack)).await
        }
        Command::Alarms(args) => {
            let acting = Acting::connect(&cli, &stack).await?;
            alarms::run(args, &acting.clients, &stack).await
        }
        Command::Logs(args) => {
            let acting = Acting::connect(&cli, &stack).await?;
            logscmd::run(args, &acting.ctx(&stack)).await
        }
        Command::Load(cmd) => loadrun::run(cmd, cli.target.local, cli.ui.read_only).await,
    }
}

/// `flightdeck suspend` and `flightdeck resume`.
async fn processes_cmd(
    args: processes::ProcessesArgs,
    suspend: bool,
    cli: &Cli,
    stack: &Stack,
) -> anyhow::Result<()> {
    let acting = Acting::connect(cli, stack).await?;
    processes::run(args, suspend, &acting.ctx(stack)).await
}

/// What a headless command acts with: the target's clients (refusing writes with
/// `--read-only`) and the profile the audit log names.
struct Acting {
    clients: Clients,
    profile: Option<String>,
}

impl Acting {
    async fn connect(cli: &Cli, stack: &Stack) -> anyhow::Result<Acting> {
        let (target, _) = configured(&cli.target, &cli.ui)?;
        let clients = connect_as(&target, stack, cli.ui.read_only).await?;
        Ok(Acting {
            clients,
            profile: target.profile,
        })
    }

    fn ctx<'a>(&'a self, stack: &'a Stack) -> headless::Ctx<'a> {
        headless::Ctx {
            clients: &self.clients,
            stack,
            profile: self.profile.as_deref(),
        }
    }
}

/// The target with the config file's `[aws]` under the flags and the environment.
fn configured(target: &Target, ui: &cli::UiArgs) -> anyhow::Result<(Target, ui::UiConfig)> {
    let config = tui::load_config(ui)?;
    let mut target = target.clone();
    target::apply_config(&mut target, &config.aws);
    Ok((target, config))
}

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
pub(crate) fn short_reason(message: &str) -> &'static str {
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
