//! The reconciler: every ~2 s it reads the groups and starts, health-checks, warms up and
//! stops local processes until each in-service instance has exactly one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::LifecycleState;
use chrono::Utc;
use stack::config::{Group, Role};
use stack::Clients;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::spawner::{stop_child, Spawner, StopOutcome};
use super::{
    database_url, endpoints_path, ApiEndpoints, FleetConfig, FleetEvent, FleetEventKind,
    FleetState, InstanceView, Phase, API_BIN, EVENTS_KEPT, QUICK_DEATH, TICK, WORKER_BIN,
};

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

/// The fleet's reconciler: keeps one process per in-service instance of each group.
pub(super) struct Reconciler {
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

impl Reconciler {
    pub(super) fn new(
        clients: Clients,
        groups: Vec<Group>,
        bins: Vec<(Role, PathBuf)>,
        home: PathBuf,
        config: FleetConfig,
        tx: watch::Sender<FleetState>,
    ) -> Reconciler {
        Reconciler {
            clients,
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
        }
    }

    pub(super) async fn run(mut self, cancel: CancellationToken) {
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
pub(super) fn random_hex(bytes: usize) -> String {
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
