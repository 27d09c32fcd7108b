//! The local fleet: makes each Auto Scaling group in the emulator real on this machine. It
//! watches the groups (DescribeAutoScalingGroups every ~2 s) and keeps one local process per
//! in-service instance: `flightdeck-worker` for the worker group, `flightdeck-api` on its own
//! port for the API group. Talks to Auto Scaling and to its child processes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::LifecycleState;
use chrono::{DateTime, Utc};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use stack::config::{Group, Role};
use stack::{Clients, Stack};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
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

/// What this machine can give the fleet: how many cores, each instance's share of them (the
/// 100 % of its `CPUUtilization`), and FFmpeg's thread cap per worker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    /// Cores one instance may use: `max(1, cores / (sum of the groups' max sizes))`, so a
    /// full fleet fits the machine the way instances fit their hosts.
    pub share_cores: f64,
    /// `FLIGHTDECK_FFMPEG_THREADS` for each worker: its share, at least 1, at most 8.
    pub ffmpeg_threads: usize,
    /// Two cores or fewer: the demo runs, with FFmpeg held to one thread per worker.
    pub small: bool,
}

impl Machine {
    pub fn detect(stack: &Stack) -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Machine::for_cores(cores, stack)
    }

    pub fn for_cores(cores: usize, stack: &Stack) -> Machine {
        let cores = cores.max(1);
        let instances: usize = stack.groups().iter().map(|g| g.max as usize).sum();
        let share = (cores / instances.max(1)).max(1);
        Machine {
            cores,
            share_cores: share as f64,
            ffmpeg_threads: share.clamp(1, 8),
            small: cores <= 2,
        }
    }

    /// One line for the operator at start.
    pub fn summary(&self) -> String {
        let threads = if self.ffmpeg_threads == 1 {
            "1 FFmpeg thread".to_string()
        } else {
            format!("{} FFmpeg threads", self.ffmpeg_threads)
        };
        if self.small {
            format!(
                "small machine ({} cores): each worker is capped at {threads}, and an instance's CPU is measured against {} core(s); transforms run slower than on a larger machine",
                self.cores, self.share_cores
            )
        } else {
            format!(
                "machine: {} cores; each instance's CPU is measured against {} core(s); workers use {threads}",
                self.cores, self.share_cores
            )
        }
    }
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

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started; not yet healthy (the API has not answered `/api/health`).
    Starting,
    /// Healthy, inside the group's warm-up: it runs but its metrics do not count yet.
    Warming,
    /// Past warm-up: counts for the group's metrics and the autoscaler.
    InService,
    /// SIGTERM sent (scale-in or shutdown); waiting for the graceful stop.
    Stopping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    pub instance_id: String,
    pub group: String,
    pub role: Role,
    pub pid: Option<u32>,
    /// The API's port on 127.0.0.1.
    pub port: Option<u16>,
    pub endpoint: Option<String>,
    pub phase: Phase,
    pub started_at: DateTime<Utc>,
    pub log: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetEventKind {
    /// Something the operator should know once (machine size, ...).
    Notice,
    Started,
    InService,
    Stopping,
    Stopped,
    /// A process exited on its own.
    Died,
    /// A dead instance was terminated so the group launches a replacement.
    Replaced,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetEvent {
    /// Increases by one per event: subscribers print the events newer than the last they saw.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: FleetEventKind,
    pub group: Option<String>,
    pub instance_id: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FleetEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.at.format("%H:%M:%S"))?;
        if let Some(g) = &self.group {
            write!(f, " {g}")?;
        }
        if let Some(i) = &self.instance_id {
            write!(f, " {i}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What the fleet publishes on its watch channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetState {
    /// False once the fleet has stopped every process.
    pub running: bool,
    pub instances: Vec<InstanceView>,
    /// The latest events, oldest first (at most 200).
    pub events: Vec<FleetEvent>,
    pub machine: Option<Machine>,
}

impl FleetState {
    pub fn group(&self, group: &str) -> impl Iterator<Item = &InstanceView> {
        let group = group.to_string();
        self.instances.iter().filter(move |i| i.group == group)
    }

    /// Instances of `group` past their warm-up.
    pub fn in_service(&self, group: &str) -> usize {
        self.group(group)
            .filter(|i| i.phase == Phase::InService)
            .count()
    }

    /// Instances of `group` started and not yet in service (the autoscaler waits for them).
    pub fn warming(&self, group: &str) -> usize {
        self.group(group)
            .filter(|i| matches!(i.phase, Phase::Starting | Phase::Warming))
            .count()
    }

    /// Processes running for `group`, whatever their phase.
    pub fn processes(&self, group: &str) -> usize {
        self.group(group).filter(|i| i.pid.is_some()).count()
    }

    /// The healthy API instances' endpoints: the load balancer's targets. Warm-up concerns
    /// the autoscaler's metrics, not traffic (on AWS a target group routes to an instance as
    /// soon as its health check passes).
    pub fn api_endpoints(&self) -> Vec<String> {
        self.instances
            .iter()
            .filter(|i| i.role == Role::Api && matches!(i.phase, Phase::Warming | Phase::InService))
            .filter_map(|i| i.endpoint.clone())
            .collect()
    }
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
        let agent = Agent {
            clients: clients.clone(),
            groups,
            bins,
            home,
            jwt_secret: random_hex(32),
            setpriv: find_in_path("setpriv"),
            spawner: Spawner::start(),
            config,
            procs: BTreeMap::new(),
            stopping: JoinSet::new(),
            stopping_views: BTreeMap::new(),
            events: VecDeque::new(),
            seq: 0,
            tx,
            backoff: HashMap::new(),
            last_error: None,
            endpoints_written: None,
        };
        let task = tokio::spawn(agent.run(cancel.clone()));
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

/// Children are spawned from one long-lived thread: `PR_SET_PDEATHSIG` (set through
/// `setpriv --pdeathsig KILL`) fires when the *thread* that forked the child exits, and a
/// runtime's threads may come and go. When the fleet ends, this thread ends, and any child
/// still alive (only if the fleet itself was killed) receives SIGKILL.
struct Spawner {
    tx: Option<std::sync::mpsc::Sender<SpawnRequest>>,
}

type SpawnRequest = (Command, oneshot::Sender<std::io::Result<Child>>);

impl Spawner {
    fn start() -> Spawner {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
        let handle = tokio::runtime::Handle::current();
        let spawned = std::thread::Builder::new()
            .name("fleet-spawner".into())
            .spawn(move || {
                let _runtime = handle.enter();
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the fleet's spawner thread: {e}");
            return Spawner { tx: None };
        }
        Spawner { tx: Some(tx) }
    }

    async fn spawn(&self, cmd: Command) -> std::io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        match &self.tx {
            Some(tx) => {
                tx.send((cmd, reply))
                    .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
                answer
                    .await
                    .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
            }
            None => {
                let mut cmd = cmd;
                cmd.spawn()
            }
        }
    }
}

struct Proc {
    view: InstanceView,
    child: Child,
    started: Instant,
    healthy_since: Option<Instant>,
    warmup: Duration,
}

struct Stopped {
    view: InstanceView,
    outcome: StopOutcome,
}

#[derive(Debug)]
enum StopOutcome {
    Exited(Option<ExitStatus>),
    Killed,
}

struct Agent {
    clients: Clients,
    groups: Vec<Group>,
    bins: Vec<(Role, PathBuf)>,
    home: PathBuf,
    jwt_secret: String,
    setpriv: Option<PathBuf>,
    spawner: Spawner,
    config: FleetConfig,
    procs: BTreeMap<String, Proc>,
    stopping: JoinSet<Stopped>,
    stopping_views: BTreeMap<String, InstanceView>,
    events: VecDeque<FleetEvent>,
    seq: u64,
    tx: watch::Sender<FleetState>,
    /// Per group: consecutive failed starts and when the next start may happen.
    backoff: HashMap<String, (u32, Instant)>,
    last_error: Option<String>,
    endpoints_written: Option<Vec<String>>,
}

impl Agent {
    async fn run(mut self, cancel: CancellationToken) {
        self.event(
            FleetEventKind::Notice,
            None,
            None,
            self.config.machine.summary(),
        );
        if self.setpriv.is_none() {
            self.event(
                FleetEventKind::Notice,
                None,
                None,
                "setpriv (util-linux) not found: if flightdeck is killed with SIGKILL its fleet processes stay behind; install util-linux".into(),
            );
        }
        let mut last_poll: Option<Instant> = None;
        loop {
            if last_poll.is_none_or(|t| t.elapsed() >= self.config.poll) {
                last_poll = Some(Instant::now());
                self.reconcile().await;
            }
            self.check_processes().await;
            self.publish();
            tokio::select! {
                () = cancel.cancelled() => break,
                Some(done) = self.stopping.join_next() => {
                    if let Ok(stopped) = done { self.stopped(stopped); }
                }
                () = tokio::time::sleep(TICK) => {}
            }
        }
        self.shutdown().await;
    }

    fn event(
        &mut self,
        kind: FleetEventKind,
        group: Option<&str>,
        instance_id: Option<&str>,
        message: String,
    ) {
        self.seq += 1;
        let event = FleetEvent {
            seq: self.seq,
            at: Utc::now(),
            kind,
            group: group.map(str::to_string),
            instance_id: instance_id.map(str::to_string),
            message,
        };
        match kind {
            FleetEventKind::Error | FleetEventKind::Died => tracing::warn!("fleet: {event}"),
            _ => tracing::info!("fleet: {event}"),
        }
        self.events.push_back(event);
        while self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
    }

    fn publish(&mut self) {
        let mut instances: Vec<InstanceView> =
            self.procs.values().map(|p| p.view.clone()).collect();
        instances.extend(self.stopping_views.values().cloned());
        let state = FleetState {
            running: true,
            instances,
            events: self.events.iter().cloned().collect(),
            machine: Some(self.config.machine),
        };
        self.write_endpoints(&state);
        self.tx.send_if_modified(|old| {
            if *old == state {
                false
            } else {
                *old = state;
                true
            }
        });
    }

    fn write_endpoints(&mut self, state: &FleetState) {
        let Some(api) = self.groups.iter().find(|g| g.role == Role::Api) else {
            return;
        };
        let endpoints = state.api_endpoints();
        if self.endpoints_written.as_ref() == Some(&endpoints) {
            return;
        }
        let record = ApiEndpoints {
            owner_pid: std::process::id(),
            group: api.name.clone(),
            endpoints: endpoints.clone(),
            updated_at: Utc::now(),
        };
        let path = endpoints_path(&self.config.runtime_dir);
        let tmp = path.with_extension("json.tmp");
        let written = std::fs::write(
            &tmp,
            serde_json::to_string_pretty(&record).unwrap_or_default(),
        )
        .and_then(|()| std::fs::rename(&tmp, &path));
        match written {
            Ok(()) => self.endpoints_written = Some(endpoints),
            Err(e) => {
                let msg = format!("cannot write {}: {e}", path.display());
                self.error_once(msg);
            }
        }
    }

    fn error_once(&mut self, message: String) {
        if self.last_error.as_ref() != Some(&message) {
            self.last_error = Some(message.clone());
            self.event(FleetEventKind::Error, None, None, message);
        }
    }

    /// Read the groups and start or stop processes to match their instances.
    async fn reconcile(&mut self) {
        let names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        let out = match self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let failure = stack::errors::describe(&e);
                self.error_once(format!("DescribeAutoScalingGroups failed: {failure}"));
                return;
            }
        };
        self.last_error = None;
        let mut wanted: BTreeMap<String, Group> = BTreeMap::new();
        for found in out.auto_scaling_groups() {
            let Some(group) = self
                .groups
                .iter()
                .find(|g| Some(g.name.as_str()) == found.auto_scaling_group_name())
            else {
                continue;
            };
            for instance in found.instances() {
                let live = matches!(
                    instance.lifecycle_state(),
                    Some(
                        LifecycleState::InService
                            | LifecycleState::Pending
                            | LifecycleState::PendingProceed
                            | LifecycleState::PendingWait
                    )
                );
                if let (true, Some(id)) = (live, instance.instance_id()) {
                    wanted.insert(id.to_string(), group.clone());
                }
            }
        }
        // Scale-in: instances gone from their group stop gracefully, in the background.
        let gone: Vec<String> = self
            .procs
            .keys()
            .filter(|id| !wanted.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(p) = self.procs.remove(&id) {
                self.begin_stop(p, "scale-in");
            }
        }
        // Scale-out: instances without a process get one.
        for (id, group) in wanted {
            if self.procs.contains_key(&id) || self.stopping_views.contains_key(&id) {
                continue;
            }
            if let Some((_, next)) = self.backoff.get(&group.name) {
                if Instant::now() < *next {
                    continue;
                }
            }
            self.launch(&id, &group).await;
        }
    }

    async fn launch(&mut self, id: &str, group: &Group) {
        let Some(bin) = self
            .bins
            .iter()
            .find(|(r, _)| *r == group.role)
            .map(|(_, b)| b.clone())
        else {
            return;
        };
        let log_path = self.config.logs_dir.join(format!("{id}.log"));
        let log = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
        {
            Ok(f) => f,
            Err(e) => {
                let msg = format!("cannot open the log {}: {e}", log_path.display());
                self.error_once(msg);
                return;
            }
        };
        let log_err = match log.try_clone() {
            Ok(f) => f,
            Err(e) => {
                self.error_once(format!("cannot open the log {}: {e}", log_path.display()));
                return;
            }
        };
        let port = match group.role {
            Role::Api => match crate::emulator::free_port() {
                Ok(p) => Some(p),
                Err(e) => {
                    self.error_once(format!("no free port for an API instance: {e}"));
                    return;
                }
            },
            Role::Worker => None,
        };
        let mut cmd = match &self.setpriv {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        self.child_env(&mut cmd, id, group, port);
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a Ctrl-C at the terminal reaches flightdeck, which then
            // stops its children in order, instead of reaching every child at once.
            .process_group(0)
            .kill_on_drop(true);
        match self.spawner.spawn(cmd).await {
            Ok(child) => {
                let pid = child.id();
                let warmup = self
                    .config
                    .warmup
                    .unwrap_or(Duration::from_secs(u64::from(group.warmup_s)));
                let view = InstanceView {
                    instance_id: id.to_string(),
                    group: group.name.clone(),
                    role: group.role,
                    pid,
                    port,
                    endpoint: port.map(|p| format!("http://127.0.0.1:{p}")),
                    phase: Phase::Starting,
                    started_at: Utc::now(),
                    log: log_path.clone(),
                };
                let what = match port {
                    Some(p) => format!(
                        "started {} (pid {}) on port {p}; log {}",
                        API_BIN,
                        pid.unwrap_or_default(),
                        log_path.display()
                    ),
                    None => format!(
                        "started {} (pid {}); log {}",
                        WORKER_BIN,
                        pid.unwrap_or_default(),
                        log_path.display()
                    ),
                };
                self.event(FleetEventKind::Started, Some(&group.name), Some(id), what);
                self.procs.insert(
                    id.to_string(),
                    Proc {
                        view,
                        child,
                        started: Instant::now(),
                        healthy_since: None,
                        warmup,
                    },
                );
            }
            Err(e) => {
                self.failed_start(&group.name);
                self.error_once(format!("cannot start {}: {e}", bin.display()));
            }
        }
    }

    fn child_env(&self, cmd: &mut Command, id: &str, group: &Group, port: Option<u16>) {
        let (key, secret) = crate::LOCAL_CREDENTIALS;
        // Nothing of the developer's own AWS setup may leak into the local fleet.
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("AWS_") || n == "RUST_LOG" {
                cmd.env_remove(&name);
            }
        }
        let data = self.home.join("data");
        cmd.env("AWS_ENDPOINT_URL", &self.config.endpoint)
            .env("AWS_REGION", &self.config.region)
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("FLIGHTDECK_INSTANCE_ID", id)
            .env("FLIGHTDECK_ASG_NAME", &group.name)
            .env("DATABASE_URL", database_url(&self.home))
            .env("FLIGHTDECK_DATA_DIR", &data);
        if let Some(file) = &self.config.stack_file {
            cmd.env("FLIGHTDECK_STACK", file);
        }
        match group.role {
            Role::Worker => {
                cmd.env("FLIGHTDECK_WORK_DIR", self.work_dir(id))
                    .env("FLIGHTDECK_ASSETS_DIR", &self.config.assets_dir)
                    .env(
                        "FLIGHTDECK_FFMPEG_THREADS",
                        self.config.machine.ffmpeg_threads.to_string(),
                    )
                    // Several datums per CloudWatch minute, so the console's "processed per
                    // minute" is whole a minute after the jobs finish, not two.
                    .env("FLIGHTDECK_METRICS_INTERVAL", "10");
            }
            Role::Api => {
                // One secret for every API instance: a token from one is good at the others,
                // as behind a load balancer.
                cmd.env("FLIGHTDECK_JWT_SECRET", &self.jwt_secret);
                if let Some(p) = port {
                    cmd.env("FLIGHTDECK_API_LISTEN", format!("127.0.0.1:{p}"));
                }
            }
        }
    }

    fn failed_start(&mut self, group: &str) {
        let entry = self
            .backoff
            .entry(group.to_string())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
        let delay = Duration::from_secs((1u64 << entry.0.min(5)).min(30));
        entry.1 = Instant::now() + delay;
    }

    /// Liveness, health and warm-up of every process; dead ones are replaced.
    async fn check_processes(&mut self) {
        let ids: Vec<String> = self.procs.keys().cloned().collect();
        for id in ids {
            let Some(p) = self.procs.get_mut(&id) else {
                continue;
            };
            match p.child.try_wait() {
                Ok(Some(status)) => {
                    if let Some(p) = self.procs.remove(&id) {
                        self.died(p, status).await;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::debug!("fleet: cannot check {id}: {e}"),
            }
            if p.healthy_since.is_none() {
                let healthy = match p.view.port {
                    Some(port) => api_healthy(port).await,
                    None => true,
                };
                if healthy {
                    p.healthy_since = Some(Instant::now());
                    p.view.phase = Phase::Warming;
                }
            }
            if p.view.phase == Phase::Warming && p.started.elapsed() >= p.warmup {
                p.view.phase = Phase::InService;
                let (group, warm) = (p.view.group.clone(), p.warmup);
                self.backoff.remove(&group);
                self.event(
                    FleetEventKind::InService,
                    Some(&group),
                    Some(&id),
                    format!("in service (healthy, warm-up of {} s over)", warm.as_secs()),
                );
            }
        }
    }

    /// The work directory of instance `id` (a worker's downloads and partial outputs).
    fn work_dir(&self, id: &str) -> PathBuf {
        self.home.join("work").join(id)
    }

    /// Remove the work directory of an instance whose process is gone: a worker killed
    /// mid-job leaves its source and partial output there, and its instance id never runs
    /// again (a replacement is a new instance).
    fn remove_work_dir(&self, id: &str) {
        let dir = self.work_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!("fleet: removed the work directory {}", dir.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("fleet: cannot remove {}: {e}", dir.display()),
        }
    }

    /// A process exited on its own: like an instance failing its EC2 health check, it is
    /// terminated in its group without lowering the desired capacity, so the group launches
    /// a replacement (a new instance id) that the next poll starts. Its work directory goes.
    async fn died(&mut self, p: Proc, status: ExitStatus) {
        let (group, id) = (p.view.group.clone(), p.view.instance_id.clone());
        self.remove_work_dir(&id);
        if p.started.elapsed() < QUICK_DEATH {
            self.failed_start(&group);
        }
        self.event(
            FleetEventKind::Died,
            Some(&group),
            Some(&id),
            format!(
                "process {} exited ({status}); see {}",
                p.view.pid.unwrap_or_default(),
                p.view.log.display()
            ),
        );
        let replaced = self
            .clients
            .autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(&id)
            .should_decrement_desired_capacity(false)
            .send()
            .await;
        match replaced {
            Ok(_) => self.event(
                FleetEventKind::Replaced,
                Some(&group),
                Some(&id),
                "unhealthy instance terminated; the group launches a replacement".into(),
            ),
            Err(e) => {
                // The next poll restarts a process for the same instance if it is still there.
                let failure = stack::errors::describe(&e);
                self.event(
                    FleetEventKind::Error,
                    Some(&group),
                    Some(&id),
                    format!(
                        "cannot replace the unhealthy instance ({failure}); restarting its process"
                    ),
                );
            }
        }
    }

    fn begin_stop(&mut self, mut p: Proc, why: &str) {
        p.view.phase = Phase::Stopping;
        let (group, id) = (p.view.group.clone(), p.view.instance_id.clone());
        self.event(
            FleetEventKind::Stopping,
            Some(&group),
            Some(&id),
            format!("{why}: SIGTERM to pid {}", p.view.pid.unwrap_or_default()),
        );
        let grace = self.config.stop_grace;
        self.stopping_views.insert(id.clone(), p.view.clone());
        let view = p.view.clone();
        self.stopping.spawn(async move {
            let outcome = stop_child(p.child, grace, None).await;
            Stopped { view, outcome }
        });
    }

    fn stopped(&mut self, s: Stopped) {
        self.stopping_views.remove(&s.view.instance_id);
        self.remove_work_dir(&s.view.instance_id);
        let message = match s.outcome {
            StopOutcome::Exited(Some(status)) => format!("stopped ({status})"),
            StopOutcome::Exited(None) => "stopped".to_string(),
            StopOutcome::Killed => "did not stop within its grace period: killed".to_string(),
        };
        self.event(
            FleetEventKind::Stopped,
            Some(&s.view.group),
            Some(&s.view.instance_id),
            message,
        );
    }

    /// Stop every process at once and wait for all of them (and for scale-ins in progress).
    async fn shutdown(&mut self) {
        let grace = self.config.shutdown_grace;
        let procs = std::mem::take(&mut self.procs);
        for (_, mut p) in procs {
            p.view.phase = Phase::Stopping;
            self.stopping_views
                .insert(p.view.instance_id.clone(), p.view.clone());
            let view = p.view.clone();
            self.stopping.spawn(async move {
                let outcome = stop_child(p.child, grace, Some(grace / 2)).await;
                Stopped { view, outcome }
            });
        }
        self.publish();
        while let Some(done) = self.stopping.join_next().await {
            if let Ok(stopped) = done {
                self.stopped(stopped);
            }
        }
        let path = endpoints_path(&self.config.runtime_dir);
        if read_owner(&path) == Some(std::process::id()) {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_dir_all(&self.home);
        self.event(FleetEventKind::Notice, None, None, "fleet stopped".into());
        let state = FleetState {
            running: false,
            instances: Vec::new(),
            events: self.events.iter().cloned().collect(),
            machine: Some(self.config.machine),
        };
        self.tx.send_replace(state);
    }
}

fn read_owner(path: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<ApiEndpoints>(&text)
        .ok()
        .map(|e| e.owner_pid)
}

/// SIGTERM, then wait up to `grace` (with a second SIGTERM at `nudge`), then SIGKILL.
async fn stop_child(mut child: Child, grace: Duration, nudge: Option<Duration>) -> StopOutcome {
    let Some(pid) = child.id() else {
        return StopOutcome::Exited(child.try_wait().ok().flatten());
    };
    let pid = Pid::from_raw(pid as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    if let Some(nudge) = nudge {
        if let Ok(status) = tokio::time::timeout(nudge, child.wait()).await {
            return StopOutcome::Exited(status.ok());
        }
        let _ = kill(pid, Signal::SIGTERM);
    }
    match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => StopOutcome::Exited(status.ok()),
        Err(_) => {
            let _ = child.kill().await;
            StopOutcome::Killed
        }
    }
}

/// Does the API on `port` answer `GET /api/health` with 200?
async fn api_healthy(port: u16) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream
            .write_all(
                format!("GET /api/health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
            )
            .await
            .ok()?;
        let mut head = [0u8; 32];
        let n = stream.read(&mut head).await.ok()?;
        let text = String::from_utf8_lossy(&head[..n]).to_string();
        Some(text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"))
    };
    tokio::time::timeout(Duration::from_secs(2), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `bytes` random bytes from the kernel, as hex (falls back to time and pid if unreadable).
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf));
    if read.is_err() {
        let seed = format!(
            "{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        return format!("{seed:0>64}");
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
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
        let (a, b) = (random_hex(32), random_hex(32));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
