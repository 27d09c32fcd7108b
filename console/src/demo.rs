//! `flightdeck demo`: the local cloud plus the live console, and with `--tour` the story told
//! in captions; quitting the console stops the local cloud. Without a terminal on stdout (or
//! with `--no-tui`) the status is printed instead and the local cloud stays up until Ctrl-C.

use local_cloud::registry::{self, Running};
use local_cloud::EmulatorHealth;
use stack::Stack;

use crate::cli::args::{FleetArgs, Target, UiArgs};
use crate::cli::status;
use crate::local::{
    exports, start_fleet, start_lifecycle, stop_fleet, LocalCloud, LocalFleet, ShutdownSignal,
};

/// `flightdeck demo`: the local cloud plus the live console; quitting the console stops the
/// local cloud. Without a terminal on stdout (scripts, CI) or with `--no-tui`, it prints the
/// status instead and keeps the local cloud up until Ctrl-C.
pub async fn run(
    stack: &Stack,
    port: Option<u16>,
    no_tui: bool,
    tour: bool,
    fleet_args: &FleetArgs,
    target: &Target,
    ui: &UiArgs,
) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let tui = !no_tui && std::io::stdout().is_terminal();
    // The tour needs the fleet and runs it with short timings unless given.
    let tour = if tour {
        Some(crate::agents::tour::plan(fleet_args)?)
    } else {
        None
    };
    let fleet_args = tour.as_ref().map_or(fleet_args, |t| t.fleet_args());
    // A bad config file fails before anything starts.
    let setup = if tui {
        Some(crate::tui::Setup::load(
            ui,
            stack,
            target.profile.as_deref(),
        )?)
    } else {
        None
    };
    let mut cloud = LocalCloud::start(stack, port).await?;
    // Only one local cloud is registered at a time; a demo beside a `local up` still runs.
    let registered = cloud.register(&stack.region).is_ok();
    if let Some(mut setup) = setup {
        let mut signals = ShutdownSignal::listen();
        let lifecycle = start_lifecycle(&cloud, stack, fleet_args);
        let fleet = start_fleet(&cloud, stack, fleet_args, target, false).await?;
        setup.extras.local = fleet.as_ref().map(LocalFleet::hooks);
        // From here the screen is the console's: the emulator's deaths and restarts are told there.
        let keeper = cloud.keep(stack);
        if let Some(k) = &keeper {
            let record = registered
                .then(registry::current)
                .flatten()
                .filter(|r| r.owner_pid == std::process::id());
            setup.extras.feeds.push(emulator_feed(
                k.subscribe(),
                cloud.emulator.endpoint().to_owned(),
                record,
            ));
        }
        let emulator_pid = match &keeper {
            Some(k) => crate::agents::fleet::EmulatorPid::Kept(k.subscribe()),
            None => crate::agents::fleet::EmulatorPid::Recorded,
        };
        setup.extras.feeds.push(crate::agents::fleet::memory_feed(
            fleet.as_ref().map(|f| f.hooks().fleet),
            emulator_pid,
            Some(lifecycle.subscribe()),
        ));
        if let (Some(t), Some(f)) = (&tour, &fleet) {
            t.attach(&mut setup, &cloud.clients, stack, f, target);
        }
        // Quitting the console, Ctrl-C or SIGTERM: every path stops the fleet, then the cloud.
        let result = tokio::select! {
            r = crate::tui::run(&cloud.clients, setup) => r,
            () = signals.recv() => Ok(()),
        };
        stop_fleet(fleet).await;
        lifecycle.stop().await;
        if let Some(k) = keeper {
            k.stop().await;
        }
        drop(cloud);
        println!("Local cloud stopped.");
        return result;
    }
    let snapshot = status::gather(&cloud.clients, stack)
        .await
        .map_err(|e| ops::explain(&e.failure, e.action, &cloud.clients))?;
    print!("{}", snapshot.to_text());
    println!(
        "\nLocal cloud running at {} (emulator pid {}).",
        cloud.emulator.endpoint(),
        cloud.emulator.pid().map_or("-".into(), |p| p.to_string())
    );
    if registered {
        println!("Other terminals can use it with `flightdeck --local status`, or with:");
    } else {
        println!("Other terminals can use it with:");
    }
    println!("{}", exports(cloud.emulator.endpoint(), &stack.region));
    let mut signals = ShutdownSignal::listen();
    println!("Press Ctrl-C to stop; nothing is left running.");
    let lifecycle = start_lifecycle(&cloud, stack, fleet_args);
    let fleet = start_fleet(&cloud, stack, fleet_args, target, true).await?;
    let keeper = cloud.keep(stack);
    let told = keeper
        .as_ref()
        .map(|k| tokio::spawn(print_emulator(k.subscribe())));
    let printed = match (&tour, &fleet) {
        (Some(t), Some(f)) => Some(t.printed(&cloud.clients, stack, f, target)),
        _ => None,
    };
    signals.recv().await;
    if let Some(t) = printed {
        t.stop().await;
    }
    stop_fleet(fleet).await;
    lifecycle.stop().await;
    if let Some(t) = told {
        t.abort();
    }
    if let Some(k) = keeper {
        k.stop().await;
    }
    drop(cloud);
    println!("Local cloud stopped.");
    Ok(())
}

/// Prints the demo's emulator's deaths and restarts (without a TUI).
async fn print_emulator(mut health: tokio::sync::watch::Receiver<EmulatorHealth>) {
    while health.changed().await.is_ok() {
        let line = match &*health.borrow_and_update() {
            EmulatorHealth::Running { pid, .. } => format!(
                "emulator: restarted (pid {}) with the stack provisioned again",
                pid.map_or("-".into(), |p| p.to_string())
            ),
            EmulatorHealth::Restarting { why, attempt, max } => {
                format!("emulator: {why}; restarting it (attempt {attempt} of {max})")
            }
            EmulatorHealth::Down { why, log } => format!(
                "emulator: down: {why}. Stop with Ctrl-C and run `flightdeck demo` again{}",
                log.as_ref()
                    .map_or_else(String::new, |l| format!("; its log is {}", l.display()))
            ),
        };
        println!("{line}");
    }
}

/// Tells the UI how the demo's emulator is doing, and keeps the `local up` record's emulator
/// pid current across restarts.
fn emulator_feed(
    mut health: tokio::sync::watch::Receiver<EmulatorHealth>,
    endpoint: String,
    mut record: Option<Running>,
) -> crate::agents::Feed {
    Box::new(move |tx, token| {
        Box::pin(async move {
            loop {
                let status = emulator_status(&health.borrow_and_update(), &endpoint);
                if let (Some(r), ui::EmulatorStatus::Running { pid, .. }) = (&mut record, &status) {
                    if r.emulator_pid != *pid {
                        r.emulator_pid = *pid;
                        if let Err(e) = registry::save(r) {
                            tracing::warn!("cannot update {}: {e}", registry::path().display());
                        }
                    }
                }
                let report = ui::Report::Emulator {
                    at: chrono::Utc::now(),
                    status,
                };
                if tx.send(report).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = token.cancelled() => return,
                    changed = health.changed() => if changed.is_err() { return },
                }
            }
        })
    })
}

/// The keeper's news as the UI shows it, with what the operator can do when it is down.
fn emulator_status(health: &EmulatorHealth, endpoint: &str) -> ui::EmulatorStatus {
    match health {
        EmulatorHealth::Running {
            pid,
            restarts,
            last_restart,
        } => ui::EmulatorStatus::Running {
            endpoint: endpoint.to_owned(),
            pid: *pid,
            restarts: *restarts,
            last_restart: *last_restart,
        },
        EmulatorHealth::Restarting { why, attempt, max } => ui::EmulatorStatus::Restarting {
            endpoint: endpoint.to_owned(),
            why: why.clone(),
            attempt: *attempt,
            max: *max,
        },
        EmulatorHealth::Down { why, log } => ui::EmulatorStatus::Down {
            why: why.clone(),
            todo: format!(
                "quit with q (the fleet stops with it) and run `flightdeck demo` again{}",
                log.as_ref().map_or_else(String::new, |l| format!(
                    "; the emulator's log is {}",
                    l.display()
                ))
            ),
        },
    }
}
