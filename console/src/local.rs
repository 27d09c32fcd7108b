//! `flightdeck demo` and `flightdeck local ...`: bring the local cloud up (installing the
//! emulator on first use), provision the stack, and take it down again without leaving a
//! process behind.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use local_cloud::registry::{self, Running};
use local_cloud::{Emulator, Installation};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stack::{Clients, Stack};

use crate::cli::{LocalCommand, Target, UiArgs};
use crate::{connect, status};

/// A local cloud this process stood up (or attached to). Dropping it stops an owned
/// emulator and removes the `local up` record.
struct LocalCloud {
    emulator: Emulator,
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
        LocalCloud::provisioned(emulator, stack).await
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
        Ok(LocalCloud {
            emulator,
            clients,
            registered: false,
        })
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

/// Resolves when the operator asks us to stop (Ctrl-C or SIGTERM).
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
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
    ui: &UiArgs,
) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let tui = !no_tui && std::io::stdout().is_terminal();
    // A bad config file fails before anything starts.
    let setup = if tui {
        Some(crate::tui::Setup::load(ui)?)
    } else {
        None
    };
    let mut cloud = LocalCloud::start(stack, port).await?;
    // Only one local cloud is registered at a time; a demo beside a `local up` still runs.
    let registered = cloud.register(&stack.region).is_ok();
    if let Some(setup) = setup {
        let result = crate::tui::run(&cloud.clients, setup).await;
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
    println!("Press Ctrl-C to stop; nothing is left running.");
    shutdown_signal().await;
    drop(cloud);
    println!("Local cloud stopped.");
    Ok(())
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
        LocalCommand::Up { port } => {
            refuse_second_local_cloud()?;
            let mut cloud = match &target.endpoint {
                Some(endpoint) => LocalCloud::attach(endpoint, stack).await?,
                None => LocalCloud::start(stack, port).await?,
            };
            cloud.register(&stack.region)?;
            println!("Local cloud running at {}.", cloud.emulator.endpoint());
            println!("Use it from other terminals with `flightdeck --local status`, or:");
            println!("{}", exports(cloud.emulator.endpoint(), &stack.region));
            println!("Stop it with Ctrl-C or `flightdeck local down`.");
            shutdown_signal().await;
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
