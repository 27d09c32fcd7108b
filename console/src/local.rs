//! `flightdeck local ...` (and the parts `flightdeck demo` shares): bring the local cloud up (installing the
//! emulator on first use), provision the stack, run the local fleet (a process per Auto
//! Scaling instance, their CPU metrics, the autoscaler), and take it all down again without
//! leaving a process behind.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use local_cloud::fleet::FleetEventKind;
use local_cloud::registry::{self, Running};
use local_cloud::{
    Autoscaler, AutoscalerConfig, CpuConfig, CpuPublisher, Emulator, Fleet, FleetConfig,
    Installation, Keeper, KeeperConfig,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stack::{Clients, Stack};

use crate::cli::args::{FleetArgs, LocalCommand, Target};
use ops::connect::connect;

/// A local cloud this process stood up (or attached to). Dropping it stops an owned
/// emulator and removes the `local up` record.
pub(crate) struct LocalCloud {
    pub(crate) emulator: Emulator,
    /// The emulator's installation, when this process started it (to start it again).
    install: Option<Installation>,
    pub(crate) clients: Clients,
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
    pub(crate) async fn start(stack: &Stack, port: Option<u16>) -> anyhow::Result<LocalCloud> {
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
        let clients = ops::target::identify(clients).await;
        Ok(LocalCloud {
            emulator,
            install: None,
            clients,
            registered: false,
        })
    }

    /// Hand the emulator this process started to a keeper that restarts it when it dies;
    /// `None` for an attached one. Dropping the keeper stops the emulator.
    pub(crate) fn keep(&mut self, stack: &Stack) -> Option<Keeper> {
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
    pub(crate) fn register(&mut self, region: &str) -> anyhow::Result<()> {
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
        Ok(LocalFleet {
            fleet,
            cpu,
            logs,
            autoscaler,
            alarms,
            printer: None,
        })
    }

    /// What the console watches and switches.
    pub fn hooks(&self) -> crate::agents::fleet::LocalHooks {
        crate::agents::fleet::LocalHooks {
            fleet: self.fleet.subscribe(),
            autoscaler: self.autoscaler.as_ref().map(Autoscaler::subscribe),
            shipping: Some((self.logs.subscribe(), self.logs.config().clone())),
        }
    }

    /// Print the fleet's events and the autoscaler's decisions as they happen.
    fn print_events(&mut self) {
        let mut fleet = self.fleet.subscribe();
        let mut decisions = self.autoscaler.as_ref().map(Autoscaler::subscribe);
        let mut alarms = Some(self.alarms.subscribe());
        let mut shipping = Some(self.logs.subscribe());
        let mut shipping_news = local_cloud::ShipNews::new(self.logs.config().clone());
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
                if let Some(rx) = shipping.as_mut() {
                    let stats = rx.borrow_and_update().clone();
                    for note in shipping_news.news(&stats, Instant::now()) {
                        println!("logs: {note}");
                    }
                }
                let shipped = async {
                    match shipping.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
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
                    ok = shipped => if !ok { shipping = None },
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
        self.cpu.stop().await;
        let running = self.fleet.state().instances.len();
        if running > 0 {
            eprintln!("flightdeck: stopping {running} fleet process(es)...");
        }
        self.fleet.stop().await;
        // After the processes: their last lines go out too.
        let shipping = self.logs.subscribe();
        self.logs.stop().await;
        if let Some(p) = self.printer {
            println!("logs: {}", shipping.borrow().summary());
            // Let the last events (stops) print, then end the printer.
            tokio::time::sleep(Duration::from_millis(50)).await;
            p.abort();
        }
    }
}

/// The local cloud's S3 lifecycle: uploads and outputs expire after `--expire-after` minutes,
/// and the oldest go first when they near the storage cap. Runs with or without the fleet.
pub(crate) fn start_lifecycle(
    cloud: &LocalCloud,
    stack: &Stack,
    args: &FleetArgs,
) -> local_cloud::Lifecycle {
    let minutes = args
        .expire_after
        .unwrap_or(crate::cli::args::DEFAULT_EXPIRE_AFTER_MIN);
    local_cloud::Lifecycle::start(
        &cloud.clients,
        local_cloud::LifecycleConfig::for_stack(
            stack,
            (minutes > 0).then(|| Duration::from_secs(minutes * 60)),
            Some(cloud.emulator.storage()),
        ),
    )
}

pub(crate) async fn start_fleet(
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

pub(crate) async fn stop_fleet(fleet: Option<LocalFleet>) {
    if let Some(f) = fleet {
        f.stop().await;
    }
}

/// Ctrl-C and SIGTERM, caught from the moment this is made (so a signal that arrives while
/// the fleet starts is not lost, nor fatal).
pub(crate) struct ShutdownSignal {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    pub(crate) fn listen() -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        ShutdownSignal {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves when the operator asks us to stop (Ctrl-C or SIGTERM).
    pub(crate) async fn recv(&mut self) {
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

pub(crate) fn exports(endpoint: &str, region: &str) -> String {
    let (key, secret) = local_cloud::LOCAL_CREDENTIALS;
    format!(
        "  export AWS_ENDPOINT_URL={endpoint} AWS_REGION={region} AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret}"
    )
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
            let storage = cloud.emulator.storage();
            println!(
                "Its S3 holds at most {} of objects ({}; past {} % the oldest uploads and outputs go) and writes nothing below {} free disk ({}).",
                local_cloud::storage::human(storage.cap),
                local_cloud::storage::STORAGE_ENV,
                local_cloud::storage::EVICT_ABOVE_PERCENT,
                local_cloud::storage::human(storage.min_free),
                local_cloud::storage::MIN_FREE_ENV,
            );
            let mut signals = ShutdownSignal::listen();
            println!("Stop it with Ctrl-C or `flightdeck local down`.");
            let lifecycle = start_lifecycle(&cloud, stack, &fleet);
            let fleet = start_fleet(&cloud, stack, &fleet, target, true).await?;
            signals.recv().await;
            stop_fleet(fleet).await;
            lifecycle.stop().await;
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
                    } => ops::explain(&failure, action, &clients),
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
