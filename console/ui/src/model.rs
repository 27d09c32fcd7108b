//! Plain owned data the AWS agents produce and send to the UI as `Report`s (no SDK types).

use std::collections::BTreeMap;
use std::time::Duration;

/// Wall-clock time of an observation; the UI's clock is advanced only by `Event::Tick`.
pub use crate::time::Timestamp;

/// The CloudWatch metric the dashboard charts per group.
pub const CPU_METRIC: &str = "CPUUtilization";
/// Auto Scaling's group metrics and SQS's queue metrics: history from before the console
/// started, under the console's own samples.
pub const GROUP_DESIRED_METRIC: &str = "GroupDesiredCapacity";
pub const GROUP_IN_SERVICE_METRIC: &str = "GroupInServiceInstances";
pub const GROUP_PENDING_METRIC: &str = "GroupPendingInstances";
pub const GROUP_TERMINATING_METRIC: &str = "GroupTerminatingInstances";
pub const QUEUE_VISIBLE_METRIC: &str = "ApproximateNumberOfMessagesVisible";
pub const QUEUE_IN_FLIGHT_METRIC: &str = "ApproximateNumberOfMessagesNotVisible";
/// The age of a queue's oldest message, in seconds: SQS gives it only as this metric.
pub const QUEUE_OLDEST_AGE_METRIC: &str = "ApproximateAgeOfOldestMessage";
/// The jobs a worker group finished in each period (`Flightdeck` namespace, by group, Sum):
/// the queue's "processed per minute".
pub const JOBS_SUCCEEDED_METRIC: &str = "JobsSucceeded";

/// A group's latest instance refresh (DescribeInstanceRefreshes), as the console last read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshView {
    pub id: String,
    /// Pending, InProgress, Successful, Failed, Cancelling, Cancelled, ...
    pub status: String,
    /// Still replacing instances (or undoing).
    pub active: bool,
    /// Status, progress and reason in one line.
    pub line: String,
}

/// One Auto Scaling group as DescribeAutoScalingGroups (+ policies, activities) showed it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub name: String,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub instances: Vec<InstanceInfo>,
    pub policies: Vec<PolicyInfo>,
    pub default_cooldown_s: u32,
    pub health_check_type: String,
    pub activities: Vec<ActivityInfo>,
    /// Scaling processes suspended on the group (SuspendProcesses), as AWS names them.
    pub suspended: Vec<String>,
    /// When this reading was taken. A group off the screen is read less often than the report
    /// is sent, which carries its last reading; `None`: at the report's time.
    pub read_at: Option<Timestamp>,
}

/// Auto Scaling's processes, as SuspendProcesses and ResumeProcesses name them.
pub const SCALING_PROCESSES: [&str; 9] = [
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
];

/// The process that runs a group's target-tracking and step policies: suspended, no policy
/// changes the capacity (what `:autoscaler off` suspends).
pub const ALARM_NOTIFICATION: &str = "AlarmNotification";

/// The processes an operator named, spelled as AWS spells them: any case, `all` for every one,
/// none for [`ALARM_NOTIFICATION`] alone (what stops the autoscaler fighting a manual change).
pub fn parse_processes<S: AsRef<str>>(words: &[S]) -> Result<Vec<String>, String> {
    if words.is_empty() {
        return Ok(vec![ALARM_NOTIFICATION.to_owned()]);
    }
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let w = w.as_ref().trim();
        if w.eq_ignore_ascii_case("all") {
            return Ok(SCALING_PROCESSES.iter().map(|p| (*p).to_owned()).collect());
        }
        match SCALING_PROCESSES.iter().find(|p| p.eq_ignore_ascii_case(w)) {
            Some(p) => {
                if !out.iter().any(|o| o == p) {
                    out.push((*p).to_owned());
                }
            }
            None => {
                return Err(format!(
                    "no scaling process named `{w}`: use one of {} (or `all`)",
                    SCALING_PROCESSES.join(", ")
                ))
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceInfo {
    pub id: String,
    /// As AWS spells it: `InService`, `Pending:Wait`, `Terminating`, `Standby`, ...
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health: String,
    pub az: String,
    pub launch_time: Option<Timestamp>,
    pub instance_type: String,
}

/// Coarse lifecycle phase used for the dashboard's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    InService,
    Pending,
    Terminating,
    Other,
}

impl InstanceInfo {
    pub fn phase(&self) -> Phase {
        let s = self.lifecycle_state.as_str();
        if s == "InService" {
            Phase::InService
        } else if s.starts_with("Pending") {
            Phase::Pending
        } else if s.starts_with("Terminat") {
            Phase::Terminating
        } else {
            Phase::Other
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInfo {
    pub name: String,
    pub kind: PolicyKind,
    /// Instance warm-up, when the policy sets one.
    pub warmup_s: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PolicyKind {
    /// Target tracking on `ASGAverageCPUUtilization`.
    TargetTrackingCpu { target: f64 },
    /// Target tracking on a customised metric, e.g. backlog per instance.
    TargetTrackingCustom { metric: String, target: f64 },
    /// Step, simple or predictive scaling: shown by type only.
    Other { policy_type: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityInfo {
    pub start: Timestamp,
    /// `Successful`, `InProgress`, `Failed`, ...
    pub status: String,
    pub description: String,
}

/// A group at its ceiling: desired capacity has reached max in a group that can scale
/// (min < max), so no policy can add an instance however far its metric is past the target.
pub fn at_max(min: i64, desired: i64, max: i64) -> bool {
    min < max && desired >= max
}

impl GroupSnapshot {
    pub fn count(&self, phase: Phase) -> usize {
        self.instances.iter().filter(|i| i.phase() == phase).count()
    }

    pub fn in_service(&self) -> usize {
        self.count(Phase::InService)
    }

    /// See [`at_max`].
    pub fn at_max(&self) -> bool {
        at_max(self.min.into(), self.desired.into(), self.max.into())
    }

    pub fn cpu_target(&self) -> Option<f64> {
        self.policies.iter().find_map(|p| match p.kind {
            PolicyKind::TargetTrackingCpu { target } => Some(target),
            _ => None,
        })
    }

    /// Target of a custom target-tracking policy whose metric mentions "backlog".
    pub fn backlog_target(&self) -> Option<f64> {
        self.policies.iter().find_map(|p| match &p.kind {
            PolicyKind::TargetTrackingCustom { metric, target }
                if metric.to_ascii_lowercase().contains("backlog") =>
            {
                Some(*target)
            }
            _ => None,
        })
    }
}

/// One SQS queue as GetQueueAttributes showed it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSnapshot {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub oldest_age_s: Option<u64>,
    pub visibility_timeout_s: u32,
    pub retention_s: u32,
    pub receive_wait_s: u32,
    pub redrive: Option<RedrivePolicy>,
    /// Some queue redrives into this one.
    pub is_dlq: bool,
    /// When these numbers were read, when that was before the report carrying them: the
    /// queues agent reads rows off the screen less often and sends their last reading.
    pub read_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedrivePolicy {
    pub dlq_arn: String,
    pub max_receive_count: u32,
}

/// The last `:`-separated part of an ARN (a queue's name for an SQS ARN).
pub fn name_from_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    pub t: Timestamp,
    pub value: f64,
}

/// A series is keyed by group and metric; `instance` narrows it to one instance's series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    /// The group, or for a queue metric (`ApproximateNumberOf…`) the queue.
    pub group: String,
    pub metric: String,
    pub instance: Option<String>,
}

impl MetricKey {
    pub fn group_cpu(group: &str) -> Self {
        MetricKey {
            group: group.to_owned(),
            metric: CPU_METRIC.to_owned(),
            instance: None,
        }
    }

    /// Another metric of a group or a queue (`resource`).
    pub fn of(resource: &str, metric: &str) -> Self {
        MetricKey {
            group: resource.to_owned(),
            metric: metric.to_owned(),
            instance: None,
        }
    }

    pub fn instance_cpu(group: &str, instance: &str) -> Self {
        MetricKey {
            group: group.to_owned(),
            metric: CPU_METRIC.to_owned(),
            instance: Some(instance.to_owned()),
        }
    }
}

/// New points for one series; agents send only points they have not sent before.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesUpdate {
    pub key: MetricKey,
    pub points: Vec<MetricPoint>,
}

/// The console's own AWS calls over the last minute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    /// Calls per API name (`DescribeAutoScalingGroups`, `GetMetricData`, ...).
    pub per_api: BTreeMap<String, u32>,
    /// Of those, the calls that failed, per API name (only names with a failure).
    pub failed: BTreeMap<String, u32>,
}

impl CallStats {
    pub fn total(&self) -> u32 {
        self.per_api.values().sum()
    }

    /// The calls that failed, of every API.
    pub fn errors(&self) -> u32 {
        self.failed.values().sum()
    }
}

/// What a failed call's agent should do: one classification for the workspace, the stack's.
pub use stack::ErrorClass;

/// How the screen names an error class: what the agent does about it.
pub fn class_label(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Retryable => "retrying",
        ErrorClass::Throttled => "throttled",
        ErrorClass::Auth => "auth",
        ErrorClass::Permanent => "failed",
        ErrorClass::NotImplemented => "not implemented",
    }
}

/// The agents of the console; errors from the first four mark their data stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Agent {
    Groups,
    Queues,
    Metrics,
    Dlq,
    Redrive,
    Scale,
    Load,
    Fleet,
    Alarms,
    Logs,
}

impl Agent {
    /// The agents whose data the dashboard shows: their errors mark it stale.
    pub const SOURCES: [Agent; 3] = [Agent::Groups, Agent::Queues, Agent::Metrics];

    pub fn label(self) -> &'static str {
        match self {
            Agent::Groups => "groups",
            Agent::Queues => "queues",
            Agent::Metrics => "cpu",
            Agent::Dlq => "dlq",
            Agent::Redrive => "redrive",
            Agent::Scale => "scale",
            Agent::Load => "load",
            Agent::Fleet => "fleet",
            Agent::Alarms => "alarms",
            Agent::Logs => "logs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// The demo's emulator, which the demo restarts on its port when it dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmulatorStatus {
    Running {
        endpoint: String,
        pid: Option<u32>,
        /// Restarts so far, and when the last one finished.
        restarts: u32,
        last_restart: Option<Timestamp>,
    },
    /// It died (`why`) and restart `attempt` of at most `max` is under way.
    Restarting {
        endpoint: String,
        why: String,
        attempt: u32,
        max: u32,
    },
    /// Down for good: why, and what the operator can do.
    Down { why: String, todo: String },
}

/// One message seen in a dead-letter queue by a peek (received with a short visibility and
/// released at once, so each peek raises its receive count).
#[derive(Debug, Clone, PartialEq)]
pub struct DlqMessage {
    pub id: String,
    /// When SQS first accepted it (`SentTimestamp`); the age is measured from here.
    pub sent_at: Option<Timestamp>,
    /// `ApproximateReceiveCount`, including the console's own peeks.
    pub receive_count: u32,
    pub size: usize,
    /// Message attributes (`failure_reason`, `failure_class`, `worker_instance`, ...) as text.
    pub attributes: BTreeMap<String, String>,
    pub body: String,
}

impl DlqMessage {
    pub fn failure_reason(&self) -> Option<&str> {
        self.attributes.get("failure_reason").map(String::as_str)
    }

    pub fn failure_class(&self) -> Option<&str> {
        self.attributes.get("failure_class").map(String::as_str)
    }
}

/// Where a redrive (or another long action) stands.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Running,
    Done,
    Cancelled,
    Failed(String),
}

/// A redrive's progress, reported as it moves messages.
#[derive(Debug, Clone, PartialEq)]
pub struct RedriveStatus {
    pub from: String,
    pub to: String,
    /// How it moves: "move task" (StartMessageMoveTask) or the console's own batch mover.
    pub mode: String,
    /// A note for the operator, e.g. why the batch mover is used.
    pub note: Option<String>,
    pub dry_run: bool,
    pub moved: u64,
    /// Messages still to move, when known.
    pub remaining: Option<u64>,
    /// Messages that may now exist twice (a resumed redrive could not prove they were not sent).
    pub duplicates: u64,
    pub per_s: f64,
    pub started: Timestamp,
    pub state: JobState,
}

impl RedriveStatus {
    /// Seconds left at the current rate, when both are known.
    pub fn eta_s(&self) -> Option<u64> {
        let left = self.remaining?;
        (self.per_s > 0.0).then(|| (left as f64 / self.per_s).ceil() as u64)
    }
}

/// One line of the audit log: every change the console made or tried to make.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub who: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ok: bool,
    pub result: String,
}

/// The end of an action the UI asked for (scale, delete, purge, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub action: String,
    pub target: String,
    pub ok: bool,
    pub message: String,
}

/// A load run's progress (the load crate's snapshot, as the UI needs it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadStatus {
    pub scenario: String,
    /// `preparing`, `running`, `stopping`, `finished`, `cancelled` or `failed`.
    pub phase: String,
    pub finished: bool,
    /// What is happening now, or why it failed.
    pub detail: String,
    pub elapsed_s: f64,
    pub planned_s: f64,
    /// Requests: `sent = ok + failed + cancelled + in_flight`; `done = ok + failed`.
    pub sent: u64,
    pub done: u64,
    pub ok: u64,
    pub failed: u64,
    /// Sent, then cut off by a cancel or the end of the graceful stop.
    pub cancelled: u64,
    pub in_flight: u64,
    /// Arrivals waiting for a send slot now, and those that never got one (not sent).
    pub waiting: u64,
    pub not_sent: u64,
    /// Rates over the recent window.
    pub recent: LoadRecent,
    pub rps_mean: f64,
    /// Latency percentiles of the whole run so far, in seconds.
    pub p50_s: Option<f64>,
    pub p95_s: Option<f64>,
    pub p99_s: Option<f64>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, u64>,
    /// Latency histogram: (upper bound in ms, `None` for the rest, count).
    pub histogram: Vec<(Option<f64>, u64)>,
    pub processed: u64,
    /// End-to-end latency (upload to processed) percentiles of the whole run, in seconds.
    pub e2e_p50_s: Option<f64>,
    pub e2e_p95_s: Option<f64>,
    pub e2e_p99_s: Option<f64>,
    pub mb_per_min: Option<f64>,
    /// At the end: the thresholds' verdict, e.g. `p95 < 1s: pass · errors < 1%: FAIL`.
    pub verdict: Option<String>,
    pub started: Option<Timestamp>,
}

/// A load run's rates over its recent window (the last `window_s` seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadRecent {
    pub window_s: f64,
    /// What the numbers cover: less than `window_s` early in a run.
    pub covered_s: f64,
    /// `None` until a whole second is covered.
    pub rps: Option<f64>,
    /// `None` when no request ended in the window.
    pub error_pct: Option<f64>,
    pub p50_s: Option<f64>,
    pub p95_s: Option<f64>,
    pub p99_s: Option<f64>,
}

/// One evaluation of the local autoscaler that changed capacity, or changed why it did not.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingDecision {
    pub at: Timestamp,
    pub group: String,
    pub policy: Option<String>,
    pub metric: Option<f64>,
    pub target: Option<f64>,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

/// A local process standing in for an instance (the local cloud's fleet).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetProcess {
    pub instance_id: String,
    pub group: String,
    pub pid: Option<u32>,
    /// `starting`, `warming`, `in service`, `stopping`, ...
    pub phase: String,
    pub port: Option<u16>,
}

/// The local cloud's memory and the machine's, sampled by the console that runs or watches it
/// (demo, `--local`): resident sets in bytes, `None` when the process is not known or gone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalMemory {
    pub emulator: Option<u64>,
    pub console: Option<u64>,
    /// Each fleet process's resident set, by instance id.
    pub processes: Vec<(String, u64)>,
    pub total: u64,
    /// What the kernel can hand out without swapping.
    pub available: u64,
    /// The local cloud's S3 object data, as its lifecycle last counted it: known to the
    /// console that runs the local cloud (the demo).
    pub s3_data: Option<S3Data>,
    /// Free space on the disk that holds the emulator's object data.
    pub disk_free: Option<u64>,
    /// The free space the emulator keeps on that disk (`FLIGHTDECK_LOCAL_MIN_FREE_GB`): it
    /// refuses an S3 write that would leave less. Known to the console that runs the local
    /// cloud (the demo).
    pub disk_floor: Option<u64>,
}

/// The emulator's data disk against the free space its S3 keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disk {
    Ok,
    /// Time to stop adding data: the warning shows.
    Low,
    /// At the floor: S3 refuses uploads and outputs until disk is freed.
    Full,
}

/// The local cloud's S3 object data against its storage cap, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Data {
    pub held: u64,
    pub cap: u64,
    /// Past this the lifecycle removes the oldest uploads and outputs.
    pub evicts_above: u64,
}

/// How close the machine is to running out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pressure {
    Ok,
    /// Time to stop adding load: the warning shows.
    Low,
    /// The kernel is about to start killing processes.
    Critical,
}

impl LocalMemory {
    /// An emulator this large is a leak or a runaway load run, not a working set (the soak's
    /// bound is 1.5 GB).
    pub const EMULATOR_LIMIT: u64 = 2 << 30;

    /// Less free disk than this above the emulator's floor is shown as a warning (4 GB free
    /// with the default floor of 2 GB; 4 GB, too, when the floor is not known).
    pub const DISK_MARGIN: u64 = 2 << 30;

    /// Within this of the floor the disk is full: S3 refuses a part (8 MiB) or an upload of
    /// the 4 MB scenarios' size; larger writes are refused a little earlier, as the warning
    /// says (`S3 refuses writes below ...`).
    pub const DISK_FULL_MARGIN: u64 = 16 << 20;

    /// The resident set of every fleet process in `instances`.
    pub fn fleet_of<'a>(&self, instances: impl IntoIterator<Item = &'a str>) -> (u64, usize) {
        instances
            .into_iter()
            .filter_map(|id| self.processes.iter().find(|(p, _)| p == id))
            .fold((0, 0), |(sum, n), (_, rss)| (sum + rss, n + 1))
    }

    pub fn fleet(&self) -> u64 {
        self.processes.iter().map(|(_, rss)| rss).sum()
    }

    /// Low within [`Self::DISK_MARGIN`] of the emulator's floor (of the default floor when
    /// it is not known); full within [`Self::DISK_FULL_MARGIN`] of a known floor.
    pub fn disk(&self) -> Disk {
        let Some(free) = self.disk_free else {
            return Disk::Ok;
        };
        let floor = self.disk_floor.unwrap_or(Self::DEFAULT_DISK_FLOOR);
        if self.disk_floor.is_some() && free < floor.saturating_add(Self::DISK_FULL_MARGIN) {
            Disk::Full
        } else if free < floor.saturating_add(Self::DISK_MARGIN) {
            Disk::Low
        } else {
            Disk::Ok
        }
    }

    /// The local cloud's floor when `FLIGHTDECK_LOCAL_MIN_FREE_GB` is not set.
    const DEFAULT_DISK_FLOOR: u64 = 2 << 30;

    /// Low below an eighth of the machine (at least 2 GiB) available or with the emulator over
    /// [`Self::EMULATOR_LIMIT`]; critical below a sixteenth (at least 1 GiB).
    pub fn pressure(&self) -> Pressure {
        let low = (self.total / 8).max(2 << 30);
        let critical = (self.total / 16).max(1 << 30);
        if self.total == 0 {
            Pressure::Ok
        } else if self.available < critical {
            Pressure::Critical
        } else if self.available < low || self.emulator.unwrap_or(0) > Self::EMULATOR_LIMIT {
            Pressure::Low
        } else {
            Pressure::Ok
        }
    }
}

/// What a tour caption says the screen shows. The console holds the caption back until its own
/// data (what it draws) holds the claim, so the audience never reads ahead of the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The queues table shows between `min` and `max` messages visible in `queue`.
    Visible { queue: String, min: u64, max: u64 },
    /// The groups table shows the group's desired capacity between `min` and `max`.
    Desired { group: String, min: u32, max: u32 },
    /// The group's CPU chart (its instances' or the group's series) reached `min` percent in
    /// the last 15 minutes.
    Cpu { group: String, min: f64 },
    /// The load panel shows a run of `scenario` with at least `min` requests sent.
    Sent { scenario: String, min: u64 },
    /// The logs view shows at least `min` lines about any of `ids`.
    LogLines { ids: Vec<String>, min: u64 },
}

impl Claim {
    /// Shown where the claim's value goes in a caption that has `{}`.
    pub const VALUE: &'static str = "{}";

    /// The caption's text with `value` in place of `{}`.
    pub fn fill(text: &str, value: f64) -> String {
        text.replacen(Self::VALUE, &format!("{value:.0}"), 1)
    }
}

/// Where the agents are pointed: the profile and region shown in the top bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// `None`: the default credential chain, no named profile.
    pub profile: Option<String>,
    pub region: String,
    /// A custom endpoint (an emulator), or `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Who the console acts as (STS GetCallerIdentity): the account and the short principal
    /// (`user/alice`, `Admin/alice` for an assumed role); `None` when STS did not answer.
    pub identity: Option<(String, String)>,
}

impl TargetInfo {
    /// `user/alice @ 123456789012`, when known.
    pub fn who(&self) -> Option<String> {
        self.identity
            .as_ref()
            .map(|(account, principal)| format!("{principal} @ {account}"))
    }

    /// `prod · eu-west-1`, or the region alone without a profile.
    pub fn label(&self) -> String {
        match &self.profile {
            Some(p) => format!("{p} · {}", self.region),
            None => self.region.clone(),
        }
    }
}

/// A scenario a load run can be started with, as the load view and its confirmation show it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    /// How much load and for how long: `9000 arrivals over 4m`, `up to 5 VUs over 1m`.
    pub size: String,
    /// The run's pass/fail rules, e.g. `p95 < 1s`.
    pub thresholds: Vec<String>,
}

impl ScenarioInfo {
    /// A scenario known by name and description only.
    pub fn new(name: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            ..Self::default()
        }
    }

    /// `9000 arrivals over 4m · passes if p95 < 1s, errors < 1%`: what the run will do and
    /// what it is judged by (empty when neither is known).
    pub fn plan(&self) -> String {
        let judged = (!self.thresholds.is_empty())
            .then(|| format!("passes if {}", self.thresholds.join(", ")));
        [Some(self.size.clone()).filter(|s| !s.is_empty()), judged]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// What agents send; each carries the time its data was observed (`at`).
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Groups {
        at: Timestamp,
        groups: Vec<GroupSnapshot>,
    },
    Queues {
        at: Timestamp,
        queues: Vec<QueueSnapshot>,
    },
    Metrics {
        at: Timestamp,
        period_s: u32,
        series: Vec<SeriesUpdate>,
    },
    Calls {
        at: Timestamp,
        stats: CallStats,
    },
    AgentError {
        at: Timestamp,
        agent: Agent,
        class: ErrorClass,
        message: String,
        next_retry_in: Option<Duration>,
    },
    /// Messages peeked from a dead-letter queue, newest view of the whole queue as far as known.
    Dlq {
        at: Timestamp,
        queue: String,
        messages: Vec<DlqMessage>,
    },
    Redrive {
        at: Timestamp,
        status: RedriveStatus,
    },
    Action {
        at: Timestamp,
        outcome: ActionOutcome,
    },
    /// The audit log's latest entries, oldest first.
    Audit {
        at: Timestamp,
        entries: Vec<AuditEntry>,
    },
    /// The local autoscaler (local cloud only): its recorded decisions.
    Autoscaler {
        at: Timestamp,
        decisions: Vec<ScalingDecision>,
    },
    /// A group's latest instance refresh; `None` when it has had none.
    InstanceRefresh {
        at: Timestamp,
        group: String,
        latest: Option<RefreshView>,
    },
    /// The local fleet's processes (local cloud only).
    Fleet {
        at: Timestamp,
        processes: Vec<FleetProcess>,
    },
    /// A load run's progress.
    Load {
        at: Timestamp,
        // Boxed: the largest report by far, and one of the rarest.
        status: Box<LoadStatus>,
    },
    /// The scenarios a load run can be started with.
    LoadScenarios {
        at: Timestamp,
        scenarios: Vec<ScenarioInfo>,
        /// Where runs go, e.g. `the local fleet's API (2 instances)`; `None`: no API known.
        target: Option<String>,
        /// A host that is not this machine: starting a run needs it typed.
        remote_host: Option<String>,
    },
    /// A caption for the audience (`flightdeck demo --tour`); `None` clears it. With a claim,
    /// the caption waits until the console's own data shows it, and `{}` in the text becomes
    /// the value the screen shows.
    Caption {
        at: Timestamp,
        text: Option<String>,
        claim: Option<Claim>,
    },
    /// A warning or error from the console's log (the whole log is in its file), or a notice.
    Log {
        at: Timestamp,
        level: LogLevel,
        text: String,
    },
    /// Fit the charts to the data again with at least this window (the demo tour asks for a
    /// couple of minutes, so that its story fills the charts).
    FitWindow {
        at: Timestamp,
        least: std::time::Duration,
    },
    /// The local cloud's memory (sampled every few seconds while the console runs one).
    LocalMemory {
        at: Timestamp,
        memory: LocalMemory,
    },
    /// The demo's own emulator: running, being restarted, or down for good.
    Emulator {
        at: Timestamp,
        status: EmulatorStatus,
    },
    /// Log lines for the logs view's request: after a `reset` they replace what the view
    /// shows, otherwise they are new lines (each sent once).
    Logs {
        at: Timestamp,
        request: crate::logs::LogsRequest,
        reset: bool,
        lines: Vec<crate::logs::LogEntry>,
        /// More lines matched than one read keeps (the newest are kept).
        more: bool,
        /// A log group missing at the target, or a target the reader does not know.
        note: Option<String>,
    },
    /// The demo tour opens the logs view on `request` (what it is `about`), or with `None`
    /// leaves it, so the audience sees the lines a caption speaks of.
    ShowLogs {
        at: Timestamp,
        request: Option<crate::logs::LogsRequest>,
        about: Option<String>,
    },
    /// The stack's alarms and the state changes known for each.
    Alarms {
        at: Timestamp,
        alarms: Vec<crate::alarms::AlarmRow>,
        history: crate::alarms::AlarmHistory,
    },
    /// The agents now watch this target (`seq` 0: the start; else the `SwitchTarget` it
    /// answers). Every report after it is about this target; an error leaves the old one.
    Target {
        at: Timestamp,
        seq: u64,
        result: Result<TargetInfo, String>,
    },
}

impl Report {
    pub fn at(&self) -> Timestamp {
        match self {
            Report::Groups { at, .. }
            | Report::Queues { at, .. }
            | Report::Metrics { at, .. }
            | Report::Calls { at, .. }
            | Report::AgentError { at, .. }
            | Report::Dlq { at, .. }
            | Report::Redrive { at, .. }
            | Report::Action { at, .. }
            | Report::Audit { at, .. }
            | Report::Autoscaler { at, .. }
            | Report::Fleet { at, .. }
            | Report::InstanceRefresh { at, .. }
            | Report::Caption { at, .. }
            | Report::Target { at, .. }
            | Report::Load { at, .. }
            | Report::LoadScenarios { at, .. }
            | Report::Log { at, .. }
            | Report::Emulator { at, .. }
            | Report::LocalMemory { at, .. }
            | Report::FitWindow { at, .. }
            | Report::Alarms { at, .. }
            | Report::Logs { at, .. }
            | Report::ShowLogs { at, .. } => *at,
        }
    }
}
