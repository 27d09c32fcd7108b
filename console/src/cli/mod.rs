//! The headless commands, one module each, and the dispatch from the command line to them
//! (the live console, the demo and the local cloud have their own modules). Every command
//! shares one exit-code type ([`headless::Exit`]) and one acting context ([`headless::Ctx`]).

pub mod alarms;
pub mod args;
pub mod dlq;
pub mod headless;
pub mod load;
pub mod logs;
pub mod processes;
pub mod refresh;
pub mod scale;
pub mod status;

pub use args::*;

use ops::connect::{connect, connect_as};
use ops::explain;
use ops::target;
use stack::{Clients, Stack};

use crate::{agents, demo, local, tui};

/// Runs the command the command line names (the live console when none).
pub async fn run(mut cli: Cli) -> anyhow::Result<()> {
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
                    None,
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
            let selection = ops::watch::Watch::from_config(&config.watch, &stack);
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
            dlq::run(cmd, &acting.ctx(&stack)).await
        }
        Command::Scale(args) => {
            let acting = Acting::connect(&cli, &stack).await?;
            scale::run(args, &acting.ctx(&stack)).await
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
            logs::run(args, &acting.ctx(&stack)).await
        }
        Command::Load(cmd) => load::run(cmd, cli.target.local, cli.ui.read_only).await,
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
fn configured(target: &Target, ui: &UiArgs) -> anyhow::Result<(Target, ui::UiConfig)> {
    let config = tui::load_config(ui)?;
    let mut target = target.clone();
    target::apply_config(&mut target, &config.aws);
    Ok((target, config))
}
