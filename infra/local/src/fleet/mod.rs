//! The local fleet: makes each Auto Scaling group in the emulator real on this machine. It
//! watches the groups (DescribeAutoScalingGroups every ~2 s) and keeps one local process per
//! in-service instance: `flightdeck-worker` for the worker group, `flightdeck-api` on its own
//! port for the API group. Talks to Auto Scaling and to its child processes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stack::config::{Group, Role};
use stack::{Clients, Stack};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub const WORKER_BIN: &str = "flightdeck-worker";
pub const API_BIN: &str = "flightdeck-api";
/// Events kept in [`FleetState::events`]; older ones are dropped.
const EVENTS_KEPT: usize = 200;
/// How often the fleet checks its processes (liveness, health) between group polls.
const TICK: Duration = Duration::from_millis(250);
/// A process that dies sooner than this after its start counts as a failed start: the
/// group's next start then waits (exponential back-off), so a broken binary cannot spin.
const QUICK_DEATH: Duration = Duration::from_secs(10);

mod machine;
mod reconciler;
mod spawner;
mod state;

pub use machine::Machine;
use reconciler::Reconciler;
pub use state::{FleetEvent, FleetEventKind, FleetState, InstanceView, Phase};

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{name} not found in {dir}: build it with `cargo build --workspace` (or set FLIGHTDECK_BIN_DIR to the directory that holds it)")]
    MissingBinary { name: &'static str, dir: PathBuf },
    #[error("cannot find the directory of the running program: {0}; set FLIGHTDECK_BIN_DIR")]
    NoBinDir(std::io::Error),
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How the fleet runs its processes. `FleetConfig::new` gives the defaults; tests shorten
/// the warm-up and the grace periods.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The emulator every child talks to.
    pub endpoint: String,
    pub region: String,
    /// Where the fleet keeps its files: `fleet-<pid>/` (database, data, work dirs) and
    /// `fleet-endpoints.json`. Default: [`crate::paths::runtime_dir`].
    pub runtime_dir: PathBuf,
    /// Where each instance's log goes (`<instance-id>.log`). Default: [`crate::paths::logs_dir`].
    pub logs_dir: PathBuf,
    /// The transform's intro/watermark cache, shared by every worker and every run.
    pub assets_dir: PathBuf,
    /// Directory of `flightdeck-worker` and `flightdeck-api`; default [`bin_dir`].
    pub bin_dir: Option<PathBuf>,
    /// A stack file the children should load instead of their built-in copy.
    pub stack_file: Option<PathBuf>,
    /// Which groups to run (both by default).
    pub roles: Vec<Role>,
    /// How often to read the groups.
    pub poll: Duration,
    /// Overrides every group's `warmup_s`.
    pub warmup: Option<Duration>,
    /// Scale-in: how long a process may take to stop after SIGTERM before SIGKILL. The
    /// worker drains running jobs for up to 30 s, the API in-flight requests for 20 s.
    pub stop_grace: Duration,
    /// Fleet shutdown: SIGTERM, a second SIGTERM at half this (the worker then releases its
    /// jobs to the queue at once), SIGKILL at the end.
    pub shutdown_grace: Duration,
    pub machine: Machine,
}

impl FleetConfig {
    pub fn new(endpoint: &str, region: &str, stack: &Stack) -> FleetConfig {
        FleetConfig {
            endpoint: endpoint.to_string(),
            region: region.to_string(),
            runtime_dir: crate::paths::runtime_dir(),
            logs_dir: crate::paths::logs_dir(),
            assets_dir: crate::paths::cache_dir().join("assets"),
            bin_dir: None,
            stack_file: None,
            roles: vec![Role::Api, Role::Worker],
            poll: Duration::from_secs(2),
            warmup: None,
            stop_grace: Duration::from_secs(40),
            shutdown_grace: Duration::from_secs(10),
            machine: Machine::detect(stack),
        }
    }
}

/// Where `flightdeck-worker` and `flightdeck-api` are: `FLIGHTDECK_BIN_DIR`, else the directory
/// of the running program (`target/debug` or `target/release`; test programs run from
/// `target/<profile>/deps`, so that is stepped out of).
pub fn bin_dir() -> Result<PathBuf, FleetError> {
    if let Some(dir) = std::env::var_os("FLIGHTDECK_BIN_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(FleetError::NoBinDir)?;
    let mut dir = exe
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| FleetError::NoBinDir(std::io::Error::other("no parent directory")))?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        if let Some(up) = dir.parent() {
            dir = up.to_path_buf();
        }
    }
    Ok(dir)
}

fn binary(dir: &Path, name: &'static str) -> Result<PathBuf, FleetError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(FleetError::MissingBinary {
            name,
            dir: dir.to_path_buf(),
        })
    }
}

/// The home of the fleet this process runs under `runtime_dir`: `fleet-<pid>/` (its database,
/// data and work dirs).
pub fn home_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(format!("fleet-{}", std::process::id()))
}

/// The SQLite database every process of the fleet in `home` shares, as a `DATABASE_URL`.
pub fn database_url(home: &Path) -> String {
    format!("sqlite://{}", home.join("flightdeck.db").display())
}

/// Where the fleet writes its in-service API endpoints, for a load run started elsewhere.
pub fn endpoints_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("fleet-endpoints.json")
}

/// The content of [`endpoints_path`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiEndpoints {
    pub owner_pid: u32,
    pub group: String,
    /// `http://127.0.0.1:PORT` of each in-service API instance.
    pub endpoints: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// The API endpoints of the running fleet, if one is running for this runtime dir.
pub fn read_api_endpoints(runtime_dir: &Path) -> Option<ApiEndpoints> {
    let text = std::fs::read_to_string(endpoints_path(runtime_dir)).ok()?;
    let found: ApiEndpoints = serde_json::from_str(&text).ok()?;
    crate::registry::alive(found.owner_pid).then_some(found)
}

/// The running fleet. `stop` ends it and waits for every child; dropping it without `stop`
/// still kills every child (SIGKILL on drop, and the children die with their spawner).
pub struct Fleet {
    cancel: CancellationToken,
    state: watch::Receiver<FleetState>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Fleet {
    /// Check the binaries and start the fleet agent. It reads the groups at once.
    pub fn start(
        clients: &Clients,
        stack: &Stack,
        config: FleetConfig,
    ) -> Result<Fleet, FleetError> {
        let dir = match &config.bin_dir {
            Some(d) => d.clone(),
            None => bin_dir()?,
        };
        let mut bins = Vec::new();
        for role in &config.roles {
            let name = match role {
                Role::Worker => WORKER_BIN,
                Role::Api => API_BIN,
            };
            bins.push((*role, binary(&dir, name)?));
        }
        let home = home_dir(&config.runtime_dir);
        for path in [&home, &config.logs_dir, &config.assets_dir] {
            std::fs::create_dir_all(path).map_err(|source| FleetError::Dir {
                path: path.clone(),
                source,
            })?;
        }
        crate::paths::prune_logs(&config.logs_dir, crate::paths::LOGS_KEPT);
        let groups: Vec<Group> = stack
            .groups()
            .into_iter()
            .filter(|g| config.roles.contains(&g.role))
            .cloned()
            .collect();
        let (tx, rx) = watch::channel(FleetState {
            running: true,
            machine: Some(config.machine),
            ..FleetState::default()
        });
        let cancel = CancellationToken::new();
        let reconciler = Reconciler::new(clients.clone(), groups, bins, home, config, tx);
        let task = tokio::spawn(reconciler.run(cancel.clone()));
        Ok(Fleet {
            cancel,
            state: rx,
            task: Some(task),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<FleetState> {
        self.state.clone()
    }

    pub fn state(&self) -> FleetState {
        self.state.borrow().clone()
    }

    /// A token that stops the fleet when cancelled (for embedding in a larger shutdown).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stop every process (SIGTERM, bounded grace, SIGKILL) and wait for all of them.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        Stack::embedded().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_two_core_machine_is_small_and_gets_one_thread_per_worker() {
        let m = Machine::for_cores(2, &stack());
        assert!(m.small);
        assert_eq!(m.ffmpeg_threads, 1);
        assert_eq!(m.share_cores, 1.0);
        assert!(m.summary().contains("small machine (2 cores)"));
    }

    #[test]
    fn a_large_machine_shares_its_cores_among_the_largest_fleet() {
        // api max 4 + worker max 3 = 7 instances.
        let m = Machine::for_cores(16, &stack());
        assert!(!m.small);
        assert_eq!(m.share_cores, 2.0);
        assert_eq!(m.ffmpeg_threads, 2);
        assert_eq!(Machine::for_cores(64, &stack()).ffmpeg_threads, 8);
        assert_eq!(Machine::for_cores(0, &stack()).cores, 1);
    }

    #[test]
    fn the_state_counts_only_warm_instances_as_in_service() {
        let view = |id: &str, phase| InstanceView {
            instance_id: id.into(),
            group: "g".into(),
            role: Role::Api,
            pid: Some(1),
            port: Some(1),
            endpoint: Some(format!("http://{id}")),
            phase,
            started_at: Utc::now(),
            log: PathBuf::new(),
        };
        let state = FleetState {
            running: true,
            instances: vec![
                view("a", Phase::Starting),
                view("b", Phase::Warming),
                view("c", Phase::InService),
                view("d", Phase::Stopping),
            ],
            events: vec![],
            machine: None,
        };
        assert_eq!(state.in_service("g"), 1);
        assert_eq!(state.warming("g"), 2);
        assert_eq!(state.processes("g"), 4);
        // Healthy is enough to take traffic; warm-up is for the metrics.
        assert_eq!(
            state.api_endpoints(),
            vec!["http://b".to_string(), "http://c".to_string()]
        );
        assert_eq!(state.in_service("other"), 0);
    }

    #[test]
    fn random_secrets_differ() {
        let (a, b) = (reconciler::random_hex(32), reconciler::random_hex(32));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
