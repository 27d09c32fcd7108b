//! The autoscaler the emulator lacks: evaluates each group's stored target-tracking policies
//! (DescribePolicies) the way AWS describes them and calls SetDesiredCapacity. Average CPU
//! comes from the CPU publisher's samples, the backlog from the queue's visible messages;
//! in-service and warming counts from the fleet. Every decision is kept on a watch channel
//! and appended to a JSON lines file. Talks to Auto Scaling and SQS.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::{MetricType, ScalingPolicy};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stack::config::Group;
use stack::{Clients, Stack};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cpu::CpuSnapshot;
use crate::fleet::FleetState;

const DECISIONS_KEPT: usize = 200;

/// What a target-tracking policy tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Tracked {
    /// `ASGAverageCPUUtilization`: the in-service instances' average CPU, in percent.
    AverageCpu,
    /// Visible messages in `queue` per in-service instance.
    BacklogPerInstance { queue: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingPolicy {
    pub name: String,
    pub tracked: Tracked,
    pub target: f64,
    /// The policy never asks to scale in (`DisableScaleIn`).
    pub scale_in_disabled: bool,
}

/// A policy's input at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub policy: TrackingPolicy,
    /// Average CPU in percent, or the queue's visible messages; `None` without data.
    pub value: Option<f64>,
}

/// A group at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Instances past warm-up.
    pub in_service: u32,
    /// Instances started and still warming up.
    pub warming: u32,
    /// Time since this autoscaler last changed the group's capacity.
    pub since_last_scaling: Option<Duration>,
    pub scale_in_cooldown: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleOut,
    ScaleIn,
    /// Desired capacity was outside min..max and is put back inside.
    Clamp,
    OnTarget,
    NoData,
    Warming,
    Cooldown,
    AtLimit,
    /// The group's AlarmNotification process is suspended: its policies do not run (AWS).
    Suspended,
    /// SetDesiredCapacity (or a read) failed.
    Failed,
}

impl Action {
    pub fn changes_capacity(self) -> bool {
        matches!(self, Action::ScaleOut | Action::ScaleIn | Action::Clamp)
    }
}

/// One evaluation's outcome: why capacity changed, or why it did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub at: DateTime<Utc>,
    pub group: String,
    pub policy: Option<String>,
    pub metric: Option<f64>,
    pub target: Option<f64>,
    pub from: u32,
    pub to: u32,
    pub action: Action,
    pub reason: String,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: ", self.at.format("%H:%M:%S"), self.group)?;
        if self.from != self.to {
            write!(f, "{} -> {}: ", self.from, self.to)?;
        }
        f.write_str(&self.reason)
    }
}

/// Whether the group's AlarmNotification process is suspended (SuspendProcesses).
fn alarm_notification_suspended(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> bool {
    g.suspended_processes()
        .iter()
        .any(|p| p.process_name() == Some("AlarmNotification"))
}

/// The capacity one policy asks for: `ceil(in_service * metric / target)`, AWS's
/// proportional rule. For the backlog, `in_service * (visible / in_service) / target` is
/// `visible / target`, which also holds with no instance in service.
fn proposal(reading: &Reading, in_service: u32) -> Option<(u32, f64)> {
    let value = reading.value?;
    let target = reading.policy.target;
    if target.is_nan() || target <= 0.0 || !value.is_finite() {
        return None;
    }
    let (wanted, metric) = match reading.policy.tracked {
        Tracked::AverageCpu => {
            if in_service == 0 {
                return None;
            }
            (f64::from(in_service) * value / target, value)
        }
        Tracked::BacklogPerInstance { .. } => {
            (value / target, value / f64::from(in_service.max(1)))
        }
    };
    // A hair below an integer is that integer (60 * 1 / 60 must not become 2).
    let capacity = (wanted - 1e-9).ceil().max(0.0);
    Some((capacity.min(f64::from(u32::MAX)) as u32, metric))
}

/// AWS target tracking for one group: scale out as soon as any policy wants more (to the
/// largest proposal, at once); scale in only when every policy wants less, no instance is
/// warming up and the scale-in cooldown has passed, one instance at a time; never outside
/// min..max.
pub fn decide(group: &GroupView, readings: &[Reading], now: DateTime<Utc>) -> Decision {
    let base = |action, to, reason: String| Decision {
        at: now,
        group: group.name.clone(),
        policy: None,
        metric: None,
        target: None,
        from: group.desired,
        to,
        action,
        reason,
    };
    if group.desired > group.max || group.desired < group.min {
        let to = group.desired.clamp(group.min, group.max);
        return base(
            Action::Clamp,
            to,
            format!(
                "desired {} is outside min..max ({}..{}): set to {to}",
                group.desired, group.min, group.max
            ),
        );
    }
    let proposals: Vec<(&Reading, Option<(u32, f64)>)> = readings
        .iter()
        .map(|r| (r, proposal(r, group.in_service)))
        .collect();
    let with = |d: Decision, r: &Reading, metric: Option<f64>| Decision {
        policy: Some(r.policy.name.clone()),
        metric,
        target: Some(r.policy.target),
        ..d
    };

    // Scale out: the largest proposal above the current desired capacity.
    let out = proposals
        .iter()
        .filter_map(|(r, p)| p.map(|(cap, metric)| (*r, cap, metric)))
        .filter(|(_, cap, _)| *cap > group.desired)
        .max_by_key(|(_, cap, _)| *cap);
    if let Some((r, cap, metric)) = out {
        let to = cap.min(group.max);
        let d = if to > group.desired {
            base(
                Action::ScaleOut,
                to,
                format!(
                    "scale out: {} is {metric:.1} against a target of {} (wants {cap})",
                    r.policy.name, r.policy.target
                ),
            )
        } else {
            base(
                Action::AtLimit,
                group.desired,
                format!(
                    "at max ({}): {} is {metric:.1} against {} and wants {cap}",
                    group.max, r.policy.name, r.policy.target
                ),
            )
        };
        return with(d, r, Some(metric));
    }

    // Scale in only when every policy agrees.
    if let Some((r, _)) = proposals.iter().find(|(_, p)| p.is_none()) {
        return with(
            base(
                Action::NoData,
                group.desired,
                format!("no data for {} yet: no scale-in", r.policy.name),
            ),
            r,
            None,
        );
    }
    let Some((r, cap, metric)) = proposals
        .iter()
        .filter_map(|(r, p)| p.map(|(cap, metric)| (*r, cap, metric)))
        .max_by_key(|(_, cap, _)| *cap)
    else {
        return base(Action::NoData, group.desired, "no scaling policies".into());
    };
    if cap >= group.desired {
        return with(
            base(
                Action::OnTarget,
                group.desired,
                format!(
                    "on target: {} is {metric:.1} against {}",
                    r.policy.name, r.policy.target
                ),
            ),
            r,
            Some(metric),
        );
    }
    if let Some((r, _)) = proposals.iter().find(|(r, _)| r.policy.scale_in_disabled) {
        return with(
            base(
                Action::OnTarget,
                group.desired,
                format!("{} has scale-in disabled", r.policy.name),
            ),
            r,
            None,
        );
    }
    if group.desired <= group.min {
        return with(
            base(
                Action::AtLimit,
                group.desired,
                format!(
                    "at min ({}): {} is {metric:.1} against {}",
                    group.min, r.policy.name, r.policy.target
                ),
            ),
            r,
            Some(metric),
        );
    }
    if group.warming > 0 {
        return with(
            base(
                Action::Warming,
                group.desired,
                format!("{} instance(s) warming up: scale-in waits", group.warming),
            ),
            r,
            Some(metric),
        );
    }
    if let Some(since) = group.since_last_scaling {
        if since < group.scale_in_cooldown {
            let left = group.scale_in_cooldown - since;
            return with(
                base(
                    Action::Cooldown,
                    group.desired,
                    format!(
                        "scale-in cooldown: {} s left ({} is {metric:.1} against {})",
                        left.as_secs().max(1),
                        r.policy.name,
                        r.policy.target
                    ),
                ),
                r,
                Some(metric),
            );
        }
    }
    let to = (group.desired - 1).max(cap).max(group.min);
    with(
        base(
            Action::ScaleIn,
            to,
            format!(
                "scale in: {} is {metric:.1} against a target of {} (wants {cap}; one at a time)",
                r.policy.name, r.policy.target
            ),
        ),
        r,
        Some(metric),
    )
}

/// Read a stored policy into what `decide` needs; `None` for policies it does not model
/// (step scaling, other metrics).
pub fn tracking_policy(p: &ScalingPolicy) -> Option<TrackingPolicy> {
    if p.policy_type() != Some("TargetTrackingScaling") {
        return None;
    }
    let conf = p.target_tracking_configuration()?;
    let tracked = if conf
        .predefined_metric_specification()
        .and_then(|s| s.predefined_metric_type())
        == Some(&MetricType::AsgAverageCpuUtilization)
    {
        Tracked::AverageCpu
    } else {
        let custom = conf.customized_metric_specification()?;
        let queue = custom.metrics().iter().find_map(|q| {
            let metric = q.metric_stat()?.metric()?;
            if metric.metric_name() != Some("ApproximateNumberOfMessagesVisible") {
                return None;
            }
            metric
                .dimensions()
                .iter()
                .find(|d| d.name() == Some(stack::metrics::DIM_QUEUE_NAME))
                .and_then(|d| d.value())
                .map(str::to_string)
        })?;
        Tracked::BacklogPerInstance { queue }
    };
    Some(TrackingPolicy {
        name: p.policy_name()?.to_string(),
        tracked,
        target: conf.target_value()?,
        scale_in_disabled: conf.disable_scale_in().unwrap_or(false),
    })
}

#[derive(Debug, Clone)]
pub struct AutoscalerConfig {
    /// How often every group is evaluated.
    pub interval: Duration,
    /// Overrides every group's `default_cooldown_s` as the scale-in cooldown.
    pub scale_in_cooldown: Option<Duration>,
    /// CPU samples older than this are no data.
    pub cpu_stale_after: Duration,
    /// The JSON lines file every recorded decision is appended to.
    pub decisions_path: PathBuf,
}

impl AutoscalerConfig {
    pub fn new(runtime_dir: &Path) -> AutoscalerConfig {
        AutoscalerConfig {
            interval: Duration::from_secs(10),
            scale_in_cooldown: None,
            cpu_stale_after: Duration::from_secs(35),
            decisions_path: decisions_path(runtime_dir),
        }
    }
}

pub fn decisions_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("autoscaler-decisions.jsonl")
}

/// What the autoscaler publishes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerState {
    /// Recorded decisions, oldest first: capacity changes, and each change of why not.
    pub decisions: Vec<Decision>,
    /// The latest evaluation of each group, recorded or not.
    pub latest: BTreeMap<String, Decision>,
}

/// The running autoscaler. It stands aside for a group whose AlarmNotification process is
/// suspended (`:autoscaler off` in the console), as AWS does.
pub struct Autoscaler {
    cancel: CancellationToken,
    state: watch::Receiver<AutoscalerState>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Autoscaler {
    pub fn start(
        clients: &Clients,
        stack: &Stack,
        fleet: watch::Receiver<FleetState>,
        cpu: watch::Receiver<CpuSnapshot>,
        config: AutoscalerConfig,
    ) -> Autoscaler {
        let (tx, rx) = watch::channel(AutoscalerState::default());
        let cancel = CancellationToken::new();
        let agent = Evaluator {
            clients: clients.clone(),
            groups: stack.groups().into_iter().cloned().collect(),
            fleet,
            cpu,
            config,
            tx,
            last_scaling: HashMap::new(),
            last_recorded: HashMap::new(),
            decisions: VecDeque::new(),
            latest: BTreeMap::new(),
            queue_urls: HashMap::new(),
        };
        let task = tokio::spawn(agent.run(cancel.clone()));
        Autoscaler {
            cancel,
            state: rx,
            task: Some(task),
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<AutoscalerState> {
        self.state.clone()
    }

    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Autoscaler {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Evaluator {
    clients: Clients,
    groups: Vec<Group>,
    fleet: watch::Receiver<FleetState>,
    cpu: watch::Receiver<CpuSnapshot>,
    config: AutoscalerConfig,
    tx: watch::Sender<AutoscalerState>,
    last_scaling: HashMap<String, Instant>,
    /// The last recorded action per group, so unchanged holds are not recorded again.
    last_recorded: HashMap<String, Action>,
    decisions: VecDeque<Decision>,
    latest: BTreeMap<String, Decision>,
    queue_urls: HashMap<String, String>,
}

impl Evaluator {
    async fn run(mut self, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            self.evaluate().await;
        }
    }

    fn publish(&self) {
        self.tx.send_replace(AutoscalerState {
            decisions: self.decisions.iter().cloned().collect(),
            latest: self.latest.clone(),
        });
    }

    fn record(&mut self, d: Decision) {
        tracing::info!("autoscaler: {d}");
        self.last_recorded.insert(d.group.clone(), d.action);
        if let Err(e) = append_line(&self.config.decisions_path, &d) {
            tracing::warn!(
                "autoscaler: cannot append to {}: {e}",
                self.config.decisions_path.display()
            );
        }
        self.decisions.push_back(d);
        while self.decisions.len() > DECISIONS_KEPT {
            self.decisions.pop_front();
        }
    }

    async fn evaluate(&mut self) {
        let names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        let groups = match self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names))
            .send()
            .await
        {
            Ok(out) => out.auto_scaling_groups().to_vec(),
            Err(e) => {
                let reason = format!(
                    "DescribeAutoScalingGroups failed: {}",
                    stack::errors::describe(&e)
                );
                for g in self.groups.clone() {
                    self.failed(&g.name, 0, reason.clone());
                }
                self.publish();
                return;
            }
        };
        let fleet = self.fleet.borrow().clone();
        let cpu = self.cpu.borrow().clone();
        let cpu_fresh = cpu.at.is_some_and(|at| {
            (Utc::now() - at).to_std().unwrap_or_default() <= self.config.cpu_stale_after
        });
        for g in self.groups.clone() {
            let Some(found) = groups
                .iter()
                .find(|x| x.auto_scaling_group_name() == Some(g.name.as_str()))
            else {
                continue;
            };
            let desired = found.desired_capacity().unwrap_or(0).max(0) as u32;
            if alarm_notification_suspended(found) {
                self.suspended(&g.name, desired);
                continue;
            }
            let policies = match self
                .clients
                .autoscaling
                .describe_policies()
                .auto_scaling_group_name(&g.name)
                .send()
                .await
            {
                Ok(out) => out
                    .scaling_policies()
                    .iter()
                    .filter_map(tracking_policy)
                    .collect::<Vec<_>>(),
                Err(e) => {
                    let reason =
                        format!("DescribePolicies failed: {}", stack::errors::describe(&e));
                    self.failed(&g.name, desired, reason);
                    continue;
                }
            };
            let mut readings = Vec::new();
            for policy in policies {
                let value = match &policy.tracked {
                    Tracked::AverageCpu => cpu_fresh.then(|| cpu.group_average(&g.name)).flatten(),
                    Tracked::BacklogPerInstance { queue } => self.visible(queue).await,
                };
                readings.push(Reading { policy, value });
            }
            let view = GroupView {
                name: g.name.clone(),
                min: found.min_size().unwrap_or(0).max(0) as u32,
                max: found.max_size().unwrap_or(0).max(0) as u32,
                desired,
                in_service: fleet.in_service(&g.name) as u32,
                warming: fleet.warming(&g.name) as u32,
                since_last_scaling: self.last_scaling.get(&g.name).map(Instant::elapsed),
                scale_in_cooldown: self
                    .config
                    .scale_in_cooldown
                    .unwrap_or(Duration::from_secs(u64::from(g.default_cooldown_s))),
            };
            let decision = decide(&view, &readings, Utc::now());
            if decision.action.changes_capacity() {
                let set = self
                    .clients
                    .autoscaling
                    .set_desired_capacity()
                    .auto_scaling_group_name(&g.name)
                    .desired_capacity(decision.to as i32)
                    .honor_cooldown(false)
                    .send()
                    .await;
                match set {
                    Ok(_) => {
                        self.last_scaling.insert(g.name.clone(), Instant::now());
                        self.latest.insert(g.name.clone(), decision.clone());
                        self.record(decision);
                    }
                    Err(e) => {
                        let reason = format!(
                            "SetDesiredCapacity {} failed: {}",
                            decision.to,
                            stack::errors::describe(&e)
                        );
                        self.failed(&g.name, desired, reason);
                    }
                }
            } else {
                self.latest.insert(g.name.clone(), decision.clone());
                if self.last_recorded.get(&g.name) != Some(&decision.action) {
                    self.record(decision);
                }
            }
        }
        self.publish();
    }

    /// As on AWS: with AlarmNotification suspended no policy is evaluated, so capacity
    /// changes only by hand until it is resumed.
    fn suspended(&mut self, group: &str, desired: u32) {
        let d = Decision {
            at: Utc::now(),
            group: group.to_string(),
            policy: None,
            metric: None,
            target: None,
            from: desired,
            to: desired,
            action: Action::Suspended,
            reason: "AlarmNotification is suspended: the scaling policies do not run \
                     (resume it with `flightdeck resume GROUP` or `:resume`)"
                .into(),
        };
        self.latest.insert(group.to_string(), d.clone());
        if self.last_recorded.get(group) != Some(&Action::Suspended) {
            self.record(d);
        }
    }

    fn failed(&mut self, group: &str, desired: u32, reason: String) {
        let d = Decision {
            at: Utc::now(),
            group: group.to_string(),
            policy: None,
            metric: None,
            target: None,
            from: desired,
            to: desired,
            action: Action::Failed,
            reason,
        };
        self.latest.insert(group.to_string(), d.clone());
        if self.last_recorded.get(group) != Some(&Action::Failed) {
            self.record(d);
        }
    }

    /// The queue's `ApproximateNumberOfMessagesVisible`, or `None` when it cannot be read.
    async fn visible(&mut self, queue: &str) -> Option<f64> {
        let url = match self.queue_urls.get(queue) {
            Some(u) => u.clone(),
            None => {
                let out = self
                    .clients
                    .sqs
                    .get_queue_url()
                    .queue_name(queue)
                    .send()
                    .await
                    .ok()?;
                let url = out.queue_url()?.to_string();
                self.queue_urls.insert(queue.to_string(), url.clone());
                url
            }
        };
        let out = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .ok()?;
        out.attributes()?
            .get(&QueueAttributeName::ApproximateNumberOfMessages)?
            .parse::<f64>()
            .ok()
    }
}

fn append_line(path: &Path, d: &Decision) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let line = serde_json::to_string(d).map_err(std::io::Error::other)?;
    writeln!(f, "{line}")
}

/// The decisions recorded in a JSON lines file (for the console and tests).
pub fn read_decisions(path: &Path) -> Vec<Decision> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(target: f64, value: Option<f64>) -> Reading {
        Reading {
            policy: TrackingPolicy {
                name: "cpu".into(),
                tracked: Tracked::AverageCpu,
                target,
                scale_in_disabled: false,
            },
            value,
        }
    }

    fn backlog(target: f64, visible: Option<f64>) -> Reading {
        Reading {
            policy: TrackingPolicy {
                name: "backlog".into(),
                tracked: Tracked::BacklogPerInstance { queue: "q".into() },
                target,
                scale_in_disabled: false,
            },
            value: visible,
        }
    }

    fn group(desired: u32, in_service: u32) -> GroupView {
        GroupView {
            name: "g".into(),
            min: 1,
            max: 3,
            desired,
            in_service,
            warming: 0,
            since_last_scaling: None,
            scale_in_cooldown: Duration::from_secs(120),
        }
    }

    #[test]
    fn high_cpu_scales_out_proportionally_and_at_once() {
        // 1 instance at 90 % against 60 %: ceil(1 * 90 / 60) = 2.
        let d = decide(&group(1, 1), &[cpu(60.0, Some(90.0))], Utc::now());
        assert_eq!((d.action, d.from, d.to), (Action::ScaleOut, 1, 2));
        assert_eq!(d.policy.as_deref(), Some("cpu"));
        assert_eq!(d.metric, Some(90.0));
        assert_eq!(d.target, Some(60.0));
        // 1 instance at 100 % against 40 %: ceil(2.5) = 3 in one step.
        let d = decide(&group(1, 1), &[cpu(40.0, Some(100.0))], Utc::now());
        assert_eq!(d.to, 3);
    }

    #[test]
    fn scale_out_never_passes_max() {
        let d = decide(&group(2, 2), &[cpu(10.0, Some(100.0))], Utc::now());
        assert_eq!((d.action, d.to), (Action::ScaleOut, 3));
        let d = decide(&group(3, 3), &[cpu(10.0, Some(100.0))], Utc::now());
        assert_eq!((d.action, d.to), (Action::AtLimit, 3));
    }

    #[test]
    fn exactly_on_target_holds() {
        let d = decide(&group(1, 1), &[cpu(60.0, Some(60.0))], Utc::now());
        assert_eq!((d.action, d.to), (Action::OnTarget, 1));
    }

    #[test]
    fn warming_instances_count_toward_capacity_so_scale_out_is_not_repeated() {
        // desired 2 (one warming), the in-service one at 90 %: wants 2, which is already there.
        let mut g = group(2, 1);
        g.warming = 1;
        let d = decide(&g, &[cpu(60.0, Some(90.0))], Utc::now());
        assert_eq!(d.to, 2);
        assert!(!d.action.changes_capacity());
    }

    #[test]
    fn backlog_asks_for_visible_over_target() {
        // 45 visible messages, target 20 per instance: ceil(2.25) = 3.
        let d = decide(&group(1, 1), &[backlog(20.0, Some(45.0))], Utc::now());
        assert_eq!((d.action, d.to), (Action::ScaleOut, 3));
        assert_eq!(d.metric, Some(45.0));
        // With no instance in service the backlog still asks for capacity.
        let d = decide(&group(1, 0), &[backlog(20.0, Some(30.0))], Utc::now());
        assert_eq!((d.action, d.to), (Action::ScaleOut, 2));
    }

    #[test]
    fn the_largest_scale_out_wins() {
        let d = decide(
            &group(1, 1),
            &[cpu(60.0, Some(70.0)), backlog(20.0, Some(50.0))],
            Utc::now(),
        );
        assert_eq!((d.to, d.policy.as_deref()), (3, Some("backlog")));
    }

    #[test]
    fn scale_in_waits_for_the_cooldown_then_steps_by_one() {
        let mut g = group(3, 3);
        g.since_last_scaling = Some(Duration::from_secs(30));
        let low = [cpu(60.0, Some(5.0)), backlog(20.0, Some(0.0))];
        let d = decide(&g, &low, Utc::now());
        assert_eq!((d.action, d.to), (Action::Cooldown, 3));
        assert!(d.reason.contains("90 s left"), "{}", d.reason);
        g.since_last_scaling = Some(Duration::from_secs(121));
        let d = decide(&g, &low, Utc::now());
        assert_eq!((d.action, d.from, d.to), (Action::ScaleIn, 3, 2));
        // Never below min.
        let mut g = group(2, 2);
        g.min = 2;
        let d = decide(&g, &low, Utc::now());
        assert_eq!((d.action, d.to), (Action::AtLimit, 2));
        let d = decide(&group(1, 1), &low, Utc::now());
        assert_eq!((d.action, d.to), (Action::OnTarget, 1));
    }

    #[test]
    fn scale_in_needs_every_policy_to_agree() {
        let g = group(3, 3);
        // CPU is low but the backlog wants 3.
        let d = decide(
            &g,
            &[cpu(60.0, Some(5.0)), backlog(20.0, Some(60.0))],
            Utc::now(),
        );
        assert_eq!((d.action, d.to), (Action::OnTarget, 3));
        // CPU is low but the backlog has no data.
        let d = decide(&g, &[cpu(60.0, Some(5.0)), backlog(20.0, None)], Utc::now());
        assert_eq!((d.action, d.to), (Action::NoData, 3));
        // A policy with scale-in disabled blocks it.
        let mut r = cpu(60.0, Some(5.0));
        r.policy.scale_in_disabled = true;
        let d = decide(&g, &[r], Utc::now());
        assert_eq!(d.action, Action::OnTarget);
    }

    #[test]
    fn no_scale_in_while_instances_warm_up() {
        let mut g = group(3, 2);
        g.warming = 1;
        let d = decide(&g, &[cpu(60.0, Some(1.0))], Utc::now());
        assert_eq!((d.action, d.to), (Action::Warming, 3));
    }

    #[test]
    fn desired_outside_min_max_is_put_back() {
        let d = decide(&group(9, 3), &[cpu(60.0, Some(60.0))], Utc::now());
        assert_eq!((d.action, d.from, d.to), (Action::Clamp, 9, 3));
        let d = decide(&group(0, 0), &[], Utc::now());
        assert_eq!((d.action, d.to), (Action::Clamp, 1));
    }

    #[test]
    fn cpu_without_in_service_instances_is_no_data() {
        let d = decide(&group(2, 0), &[cpu(60.0, Some(99.0))], Utc::now());
        assert_eq!(d.action, Action::NoData);
    }

    #[test]
    fn the_stack_policies_read_back_as_tracking_policies() {
        let stack = Stack::embedded().unwrap_or_else(|e| panic!("{e}"));
        let worker = stack.group(stack::config::Role::Worker);
        let read: Vec<TrackingPolicy> = worker
            .policies
            .iter()
            .map(|p| {
                let stored = ScalingPolicy::builder()
                    .policy_name(p.name())
                    .policy_type("TargetTrackingScaling")
                    .target_tracking_configuration(crate::provision::target_tracking(
                        &stack, worker, p,
                    ))
                    .build();
                tracking_policy(&stored).unwrap_or_else(|| panic!("unread {}", p.name()))
            })
            .collect();
        assert_eq!(read[0].tracked, Tracked::AverageCpu);
        assert_eq!(read[0].target, 60.0);
        assert_eq!(
            read[1].tracked,
            Tracked::BacklogPerInstance {
                queue: stack.queues.tasks.name.clone()
            }
        );
        assert_eq!(read[1].target, 20.0);
    }

    #[test]
    fn decisions_round_trip_through_the_jsonl_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("d.jsonl");
        let d = decide(&group(1, 1), &[cpu(60.0, Some(90.0))], Utc::now());
        append_line(&path, &d).unwrap_or_else(|e| panic!("{e}"));
        append_line(&path, &d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_decisions(&path), vec![d.clone(), d]);
    }
}
