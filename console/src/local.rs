//! `flightdeck demo` and `flightdeck local ...`: bring the local cloud up (installing the
//! emulator on first use), provision the stack, run the local fleet (a process per Auto
//! Scaling instance, their CPU metrics, the autoscaler), and take it all down again without
//! leaving a process behind.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use local_cloud::fleet::FleetEventKind;
use local_cloud::registry::{self, Running};
use local_cloud::{
    Autoscaler, AutoscalerConfig, CpuConfig, CpuPublisher, Emulator, EmulatorHealth, Fleet,
    FleetConfig, Installation, Keeper, KeeperConfig,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stack::{Clients, Stack};

use crate::cli::{FleetArgs, LocalCommand, Target, UiArgs};
use crate::{connect, status};

/// A local cloud this process stood up (or attached to). Dropping it stops an owned
/// emulator and removes the `local up` record.
struct LocalCloud {
    emulator: Emulator,
    /// The emulator's installation, when this process started it (to start it again).
    install: Option<Installation>,
    clients: Clients,
    registered: bool,
}

impl Drop for LocalCloud {
    fn drop(&mut self) {
        self.emulator.stop();
        if self.registered {
            registry::clear(std::process::id());
        }
    }
}

impl LocalCloud {
    /// Start a new emulator (installing it if needed) and provision the stack on it.
    async fn start(stack: &Stack, port: Option<u16>) -> anyhow::Result<LocalCloud> {
        let cache = local_cloud::paths::cache_dir();
        let install = tokio::task::spawn_blocking(move || Installation::ensure(&cache))
            .await
            .context("the emulator installer stopped unexpectedly")??;
        let emulator = Emulator::start(&install, port).await?;
        let mut cloud = LocalCloud::provisioned(emulator, stack).await?;
        cloud.install = Some(install);
        Ok(cloud)
    }

    /// Use an emulator that is already running at `endpoint`.
    async fn attach(endpoint: &str, stack: &Stack) -> anyhow::Result<LocalCloud> {
        let emulator = Emulator::attach(endpoint)?;
        LocalCloud::provisioned(emulator, stack).await
    }

    async fn provisioned(emulator: Emulator, stack: &Stack) -> anyhow::Result<LocalCloud> {
        let clients = Clients::connect(
            &local_cloud::aws_options(emulator.endpoint(), &stack.region),
            &stack.region,
        )
        .await;
        let report = local_cloud::provision(&clients, stack)
            .await
            .with_context(|| format!("provisioning the stack at {}", emulator.endpoint()))?;
        eprintln!(
            "flightdeck: stack provisioned at {} ({} resources, {} changed)",
            emulator.endpoint(),
            report.resources.len(),
            report.changed()
        );
        // The emulator answers STS too: the demo's audit entries name its principal.
        let clients = crate::target::identify(clients).await;
        Ok(LocalCloud {
            emulator,
            install: None,
            clients,
            registered: false,
        })
    }

    /// Hand the emulator this process started to a keeper that restarts it when it dies;
    /// `None` for an attached one. Dropping the keeper stops the emulator.
    fn keep(&mut self, stack: &Stack) -> Option<Keeper> {
        let install = self.install.clone()?;
        self.emulator.pid()?;
        Some(Keeper::start(
            self.emulator.take(),
            install,
            self.clients.clone(),
            stack.clone(),
            KeeperConfig::default(),
        ))
    }

    /// Record this local cloud so `local down` and `--local` can find it; refuses a second one.
    fn register(&mut self, region: &str) -> anyhow::Result<()> {
        refuse_second_local_cloud()?;
        registry::save(&Running {
            owner_pid: std::process::id(),
            emulator_pid: self.emulator.pid(),
            endpoint: self.emulator.endpoint().to_string(),
            region: region.to_string(),
            started_at: chrono::Utc::now(),
        })
        .with_context(|| format!("cannot write {}", registry::path().display()))?;
        self.registered = true;
        Ok(())
    }
}

fn refuse_second_local_cloud() -> anyhow::Result<()> {
    match registry::current() {
        Some(other) => anyhow::bail!(
            "a local cloud is already running at {} (pid {}); stop it with `flightdeck local down`",
            other.endpoint,
            other.owner_pid
        ),
        None => Ok(()),
    }
}

/// The fleet, its CPU publisher and its autoscaler, started together after provisioning and
/// stopped together, waiting for every child process.
pub struct LocalFleet {
    pub fleet: Fleet,
    pub cpu: CpuPublisher,
    /// Ships each instance's log lines to CloudWatch Logs (the CloudWatch agent's part).
    pub logs: local_cloud::LogShipper,
    pub autoscaler: Option<Autoscaler>,
    /// Evaluates the stack's alarms (and publishes the SQS and Auto Scaling metrics they read).
    pub alarms: local_cloud::AlarmEvaluator,
    lifecycle: Option<local_cloud::Lifecycle>,
    printer: Option<tokio::task::JoinHandle<()>>,
}

impl LocalFleet {
    fn start(
        cloud: &LocalCloud,
        stack: &Stack,
        args: &FleetArgs,
        target: &Target,
    ) -> anyhow::Result<LocalFleet> {
        let mut config = FleetConfig::new(cloud.emulator.endpoint(), &stack.region, stack);
        config.stack_file = target.stack.clone();
        config.warmup = args.warmup.map(Duration::from_secs);
        let machine = config.machine;
        let runtime_dir = config.runtime_dir.clone();
        let fleet = Fleet::start(&cloud.clients, stack, config)?;
        let cpu = CpuPublisher::start(
            &cloud.clients,
            fleet.subscribe(),
            CpuConfig {
                interval: Duration::from_secs(10),
                share_cores: machine.share_cores,
            },
        );
        let logs = local_cloud::LogShipper::start(
            &cloud.clients,
            stack,
            fleet.subscribe(),
            local_cloud::ShipConfig::default(),
        );
        let autoscaler = (!args.no_autoscaler).then(|| {
            let mut config = AutoscalerConfig::new(&runtime_dir);
            config.scale_in_cooldown = args.cooldown.map(Duration::from_secs);
            Autoscaler::start(
                &cloud.clients,
                stack,
                fleet.subscribe(),
                cpu.subscribe(),
                config,
            )
        });
        let alarms = local_cloud::AlarmEvaluator::start(
            &cloud.clients,
            stack,
            local_cloud::EvaluatorConfig::default(),
        );
        let expire_after = args
            .expire_after
            .unwrap_or(crate::cli::DEFAULT_EXPIRE_AFTER_MIN);
        let lifecycle = (expire_after > 0).then(|| {
            local_cloud::Lifecycle::start(
                &cloud.clients,
                local_cloud::LifecycleConfig::for_stack(
                    stack,
                    Duration::from_secs(expire_after * 60),
                ),
            )
        });
        Ok(LocalFleet {
            fleet,
            cpu,
            logs,
            autoscaler,
            alarms,
            lifecycle,
            printer: None,
        })
    }

    /// What the console watches and switches.
    pub fn hooks(&self) -> crate::agents::fleet::LocalHooks {
        crate::agents::fleet::LocalHooks {
            fleet: self.fleet.subscribe(),
            autoscaler: self.autoscaler.as_ref().map(Autoscaler::subscribe),
        }
    }

    /// Print the fleet's events and the autoscaler's decisions as they happen.
    fn print_events(&mut self) {
        let mut fleet = self.fleet.subscribe();
        let mut decisions = self.autoscaler.as_ref().map(Autoscaler::subscribe);
        let mut alarms = Some(self.alarms.subscribe());
        self.printer = Some(tokio::spawn(async move {
            let (mut last_event, mut last_decision) = (0u64, None);
            let mut seen_transitions = 0u64;
            loop {
                for e in fleet.borrow_and_update().events.iter() {
                    if e.seq > last_event {
                        last_event = e.seq;
                        let tag = if e.kind == FleetEventKind::Notice {
                            "note"
                        } else {
                            "fleet"
                        };
                        println!("{tag}: {e}");
                    }
                }
                if let Some(rx) = decisions.as_mut() {
                    for d in rx.borrow_and_update().decisions.iter() {
                        if last_decision.is_none_or(|t| d.at > t) {
                            last_decision = Some(d.at);
                            println!("autoscaler: {d}");
                        }
                    }
                }
                if let Some(rx) = alarms.as_mut() {
                    let state = rx.borrow_and_update();
                    for t in state.since(seen_transitions) {
                        println!(
                            "alarm: {} {} -> {}: {}",
                            t.alarm,
                            t.from.as_str(),
                            t.to.as_str(),
                            t.reason
                        );
                    }
                    seen_transitions = state.recorded;
                }
                let alarmed = async {
                    match alarms.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                let decided = async {
                    match decisions.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    changed = fleet.changed() => if changed.is_err() { return },
                    ok = decided => if !ok { decisions = None },
                    ok = alarmed => if !ok { alarms = None },
                }
            }
        }));
    }

    /// Stop the autoscaler, then the metrics, then every process (waiting for each).
    async fn stop(self) {
        if let Some(a) = self.autoscaler {
            a.stop().await;
        }
        self.alarms.stop().await;
        if let Some(l) = self.lifecycle {
            l.stop().await;
        }
        self.cpu.stop().await;
        let running = self.fleet.state().instances.len();
        if running > 0 {
            eprintln!("flightdeck: stopping {running} fleet process(es)...");
        }
        self.fleet.stop().await;
        // After the processes: their last lines go out too.
        self.logs.stop().await;
        if let Some(p) = self.printer {
            // Let the last events (stops) print, then end the printer.
            tokio::time::sleep(Duration::from_millis(50)).await;
            p.abort();
        }
    }
}

async fn start_fleet(
    cloud: &LocalCloud,
    stack: &Stack,
    args: &FleetArgs,
    target: &Target,
    print: bool,
) -> anyhow::Result<Option<LocalFleet>> {
    if args.no_fleet {
        return Ok(None);
    }
    let mut fleet = LocalFleet::start(cloud, stack, args, target)?;
    if print {
        fleet.print_events();
    } else {
        eprintln!(
            "flightdeck: {}",
            fleet
                .fleet
                .state()
                .machine
                .map(|m| m.summary())
                .unwrap_or_default()
        );
    }
    Ok(Some(fleet))
}

async fn stop_fleet(fleet: Option<LocalFleet>) {
    if let Some(f) = fleet {
        f.stop().await;
    }
}

/// Ctrl-C and SIGTERM, caught from the moment this is made (so a signal that arrives while
/// the fleet starts is not lost, nor fatal).
struct ShutdownSignal {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    fn listen() -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        ShutdownSignal {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves when the operator asks us to stop (Ctrl-C or SIGTERM).
    async fn recv(&mut self) {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.int) => {}
            () = next(&mut self.term) => {}
        }
    }
}

fn exports(endpoint: &str, region: &str) -> String {
    let (key, secret) = local_cloud::LOCAL_CREDENTIALS;
    format!(
        "  export AWS_ENDPOINT_URL={endpoint} AWS_REGION={region} AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret}"
    )
}

/// `flightdeck demo`: the local cloud plus the live console; quitting the console stops the
/// local cloud. Without a terminal on stdout (scripts, CI) or with `--no-tui`, it prints the
/// status instead and keeps the local cloud up until Ctrl-C.
pub async fn demo(
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
        Some(crate::tour::plan(fleet_args)?)
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
        if let Some(k) = keeper {
            k.stop().await;
        }
        drop(cloud);
        println!("Local cloud stopped.");
        return result;
    }
    let snapshot = status::gather(&cloud.clients, stack)
        .await
        .map_err(|e| crate::explain(&e.failure, e.action, &cloud.clients))?;
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

pub async fn run(cmd: LocalCommand, target: &Target, stack: &Stack) -> anyhow::Result<()> {
    match cmd {
        LocalCommand::Install => {
            let cache = local_cloud::paths::cache_dir();
            let install = tokio::task::spawn_blocking(move || Installation::ensure(&cache))
                .await
                .context("the emulator installer stopped unexpectedly")??;
            println!("emulator ready: {}", install.venv.display());
            Ok(())
        }
        LocalCommand::Up { port, fleet } => {
            refuse_second_local_cloud()?;
            let mut cloud = match &target.endpoint {
                Some(endpoint) => LocalCloud::attach(endpoint, stack).await?,
                None => LocalCloud::start(stack, port).await?,
            };
            cloud.register(&stack.region)?;
            println!("Local cloud running at {}.", cloud.emulator.endpoint());
            println!("Use it from other terminals with `flightdeck --local status`, or:");
            println!("{}", exports(cloud.emulator.endpoint(), &stack.region));
            let mut signals = ShutdownSignal::listen();
            println!("Stop it with Ctrl-C or `flightdeck local down`.");
            let fleet = start_fleet(&cloud, stack, &fleet, target, true).await?;
            signals.recv().await;
            stop_fleet(fleet).await;
            drop(cloud);
            println!("Local cloud stopped.");
            Ok(())
        }
        LocalCommand::Down => down().await,
        LocalCommand::Provision => {
            let clients = connect(target, stack).await?;
            let report = local_cloud::provision(&clients, stack)
                .await
                .map_err(|e| match e {
                    local_cloud::ProvisionError::Aws {
                        failure, action, ..
                    } => crate::explain(&failure, action, &clients),
                    other => other.into(),
                })?;
            for (resource, change) in &report.resources {
                println!("{change:>9}  {resource}");
            }
            Ok(())
        }
    }
}

/// Stop the `local up` process (it stops its emulator on the way out) and wait for it.
async fn down() -> anyhow::Result<()> {
    let Some(running) = registry::current() else {
        println!("No local cloud is running.");
        return Ok(());
    };
    kill(Pid::from_raw(running.owner_pid as i32), Signal::SIGTERM)
        .with_context(|| format!("cannot signal the local cloud (pid {})", running.owner_pid))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while registry::alive(running.owner_pid) {
        if Instant::now() > deadline {
            anyhow::bail!(
                "the local cloud (pid {}) did not stop within 15 s; stop it with `kill {}`",
                running.owner_pid,
                running.owner_pid
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("Local cloud at {} stopped.", running.endpoint);
    Ok(())
}
