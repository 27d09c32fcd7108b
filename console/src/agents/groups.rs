//! The groups agent: each poll, DescribeAutoScalingGroups for the watched groups (one call for
//! all when names or tags can filter them server-side, see `ops::watch`). With the UI saying
//! which groups are on screen ([`GroupsPoller::with_on_screen`]), a poll reads only those, by
//! name, and the whole selection about every `offscreen_every` (and at the first poll); each
//! report carries every group with its last reading (`read_at`). Plus
//! DescribePolicies and DescribeScalingActivities (which change rarely) every 30 s, and EC2
//! DescribeInstances only for instances it has not seen yet (their launch times, which the
//! group's instance list lacks; the first poll reports the groups before asking, see
//! [`GroupsPoller::with_progress`]). Tells the metrics agent which series to fetch: each
//! group's CPU and capacity, and each of its instances' CPU.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::{Activity, AutoScalingGroup, Instance, ScalingPolicy};
use chrono::Utc;
use stack::Clients;
use tokio::sync::watch;
use ui::target::Selection;
use ui::{
    ActivityInfo, Agent, GroupSnapshot, InstanceInfo, MetricKey, PolicyInfo, PolicyKind, Report,
};

use super::{to_chrono, CallLog, Failure, Poller};

/// Policies and activities are re-read this often (and on the first poll).
const DETAIL_EVERY: Duration = Duration::from_secs(30);
/// Activities kept per group, newest first.
const ACTIVITIES: usize = 10;

pub struct GroupsPoller {
    clients: Clients,
    calls: CallLog,
    interval: Duration,
    selection: Selection,
    /// The CPU series the metrics agent fetches: each group's, and each of its instances'.
    names: watch::Sender<Vec<MetricKey>>,
    policies: BTreeMap<String, Vec<PolicyInfo>>,
    activities: BTreeMap<String, Vec<ActivityInfo>>,
    detail_at: Option<Instant>,
    /// Launch times by instance id; an instance is asked about once.
    launched: BTreeMap<String, Option<ui::Timestamp>>,
    /// Each group's last description, by name, and when it was taken.
    readings: BTreeMap<String, (Instant, ui::Timestamp, AutoScalingGroup)>,
    /// When the whole selection was last described.
    listed_at: Option<Instant>,
    /// The names the last listing returned (`None`: not listed yet). While groups come or go
    /// (a stack being created, an endpoint restarted and provisioned again, one group after
    /// another) each poll lists them all, until two listings in a row agree; otherwise a group
    /// created a moment after a listing would show only at the next off-screen listing.
    listed_names: Option<Vec<String>>,
    /// The names of the groups the UI shows; `None`: every group is read every poll.
    on_screen: Option<watch::Receiver<Vec<String>>>,
    offscreen_every: Duration,
    /// Where the first poll reports the groups before their instances' launch times (the
    /// agents' channel), when it is told; taken by that poll.
    progress: Option<tokio::sync::mpsc::Sender<Report>>,
}

/// What a poll describes.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    /// The whole selection.
    All,
    /// These groups by name (none: no call this poll).
    Named(Vec<String>),
}

/// The whole selection is described at the first poll (and after a group on screen was found
/// gone, or a listing found the groups changed: `listed_age` is `None` again), when
/// `offscreen_every` has passed since the last listing, while no group is known (an empty
/// answer costs nothing, and groups may appear at any time, as after an endpoint restart) and
/// when the screen shows a group not read yet; otherwise only the groups on screen whose
/// reading is about a poll old (a poll the UI started early, for groups that just came on
/// screen, reads only those).
pub fn due(
    listed_age: Option<Duration>,
    known: usize,
    shown: &[(String, Option<Duration>)],
    interval: Duration,
    offscreen_every: Duration,
) -> Due {
    // A poll that starts a little early still reads what the last one read.
    let slack = |d: Duration| d.mul_f64(0.8);
    let listing_due = listed_age.is_none_or(|age| age >= slack(offscreen_every));
    if listing_due || known == 0 || shown.iter().any(|(_, age)| age.is_none()) {
        return Due::All;
    }
    Due::Named(
        shown
            .iter()
            .filter(|(_, age)| age.is_some_and(|a| a >= slack(interval)))
            .map(|(name, _)| name.clone())
            .collect(),
    )
}

/// The CloudWatch series the metrics agent fetches for a group: its CPU, each instance's CPU,
/// its capacity metrics (the history before the console's own samples, where AWS has it) and
/// the jobs its workers finished (published by the worker; empty for a group of API servers).
pub fn series_of(g: &GroupSnapshot) -> Vec<MetricKey> {
    let capacity = [
        ui::GROUP_DESIRED_METRIC,
        ui::GROUP_IN_SERVICE_METRIC,
        ui::GROUP_PENDING_METRIC,
        ui::GROUP_TERMINATING_METRIC,
        ui::JOBS_SUCCEEDED_METRIC,
    ];
    std::iter::once(MetricKey::group_cpu(&g.name))
        .chain(
            g.instances
                .iter()
                .map(|i| MetricKey::instance_cpu(&g.name, &i.id)),
        )
        .chain(capacity.iter().map(|m| MetricKey::of(&g.name, m)))
        .collect()
}

/// DescribeInstances takes at most this many ids per call.
const IDS_PER_CALL: usize = 100;

impl GroupsPoller {
    pub fn new(
        clients: Clients,
        calls: CallLog,
        interval: Duration,
        selection: Selection,
        names: watch::Sender<Vec<MetricKey>>,
    ) -> Self {
        GroupsPoller {
            clients,
            calls,
            interval,
            selection,
            names,
            policies: BTreeMap::new(),
            activities: BTreeMap::new(),
            detail_at: None,
            launched: BTreeMap::new(),
            readings: BTreeMap::new(),
            listed_at: None,
            listed_names: None,
            on_screen: None,
            offscreen_every: interval,
            progress: None,
        }
    }

    /// Report the first poll's groups on `tx` as soon as they are described, before EC2 is
    /// asked for their instances' launch times: DescribeInstances for every instance is the
    /// first poll's slowest call against the local cloud, and only the instances' ages wait
    /// for it.
    pub fn with_progress(mut self, tx: tokio::sync::mpsc::Sender<Report>) -> Self {
        self.progress = Some(tx);
        self
    }

    /// Read the groups the UI shows (`rx`, names) every poll and the whole selection about
    /// every `every`.
    pub fn with_on_screen(mut self, rx: watch::Receiver<Vec<String>>, every: Duration) -> Self {
        self.on_screen = Some(rx);
        self.offscreen_every = every;
        self
    }

    /// Describes what is due ([`due`]) into `readings`.
    async fn read_groups(&mut self) -> Result<(), Failure> {
        let due = match &mut self.on_screen {
            None => Due::All,
            Some(rx) => {
                let now = Instant::now();
                let shown: Vec<(String, Option<Duration>)> = rx
                    .borrow_and_update()
                    .iter()
                    .map(|n| (n.clone(), self.readings.get(n).map(|(t, ..)| now - *t)))
                    .collect();
                due(
                    self.listed_at.map(|t| now - t),
                    self.readings.len(),
                    &shown,
                    self.interval,
                    self.offscreen_every,
                )
            }
        };
        let (now, at) = (Instant::now(), Utc::now());
        match due {
            Due::All => {
                let groups =
                    ops::watch::describe_groups(&self.clients, &self.calls, &self.selection)
                        .await
                        .map_err(|e| Failure::from_call(&e))?;
                self.readings = groups
                    .into_iter()
                    .map(|g| {
                        let name = g.auto_scaling_group_name().unwrap_or_default().to_owned();
                        (name, (now, at, g))
                    })
                    .collect();
                let names: Vec<String> = self.readings.keys().cloned().collect();
                // The first listing is what there is, not a change.
                let changing = self
                    .listed_names
                    .as_ref()
                    .is_some_and(|last| *last != names);
                self.listed_names = Some(names);
                self.listed_at = (!changing).then_some(now);
            }
            Due::Named(names) if names.is_empty() => {}
            Due::Named(names) => {
                let groups = ops::watch::describe_named_groups(
                    &self.clients,
                    &self.calls,
                    &self.selection,
                    &names,
                )
                .await
                .map_err(|e| Failure::from_call(&e))?;
                // A name not returned is a group deleted since: the next poll lists them all
                // (others may have gone or come, as when the endpoint restarted empty).
                if groups.len() < names.len() {
                    self.listed_at = None;
                }
                for name in &names {
                    self.readings.remove(name);
                }
                for g in groups {
                    let name = g.auto_scaling_group_name().unwrap_or_default().to_owned();
                    self.readings.insert(name, (now, at, g));
                }
            }
        }
        Ok(())
    }

    /// Looks up the launch times of instances not seen before and forgets instances that are
    /// gone. A failure leaves the times unknown (shown as `–`) rather than failing the poll.
    async fn learn_launch_times(&mut self) {
        const API: &str = "DescribeInstances";
        let current: Vec<String> = self
            .readings
            .values()
            .flat_map(|(.., g)| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        self.launched.retain(|id, _| current.contains(id));
        let new: Vec<String> = current
            .into_iter()
            .filter(|id| !self.launched.contains_key(id))
            .collect();
        for chunk in new.chunks(IDS_PER_CALL) {
            let out = self
                .clients
                .ec2
                .describe_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await;
            self.calls.record(API, out.is_ok());
            match out {
                Ok(out) => {
                    for i in out.reservations().iter().flat_map(|r| r.instances()) {
                        if let Some(id) = i.instance_id() {
                            self.launched
                                .insert(id.to_owned(), i.launch_time().and_then(to_chrono));
                        }
                    }
                    // Ids EC2 did not return are not asked about again.
                    for id in chunk {
                        self.launched.entry(id.clone()).or_insert(None);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %Failure::from_sdk(API, &e).message, "launch times unknown");
                    return;
                }
            }
        }
    }

    async fn describe_policies(&self) -> Result<Vec<ScalingPolicy>, Failure> {
        const API: &str = "DescribePolicies";
        let mut out = Vec::new();
        let mut pages = self
            .clients
            .autoscaling
            .describe_policies()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.calls.record(API, page.is_ok());
            let page = page.map_err(|e| Failure::from_sdk(API, &e))?;
            out.extend(page.scaling_policies().iter().cloned());
        }
        Ok(out)
    }

    /// The latest activities of every group (one call; AWS returns newest first).
    async fn describe_activities(&self) -> Result<Vec<Activity>, Failure> {
        const API: &str = "DescribeScalingActivities";
        let out = self
            .clients
            .autoscaling
            .describe_scaling_activities()
            .max_records(100)
            .send()
            .await;
        self.calls.record(API, out.is_ok());
        let out = out.map_err(|e| Failure::from_sdk(API, &e))?;
        Ok(out.activities().to_vec())
    }
}

impl Poller for GroupsPoller {
    const AGENT: Agent = Agent::Groups;

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn changed(&mut self) {
        super::screen_changed(self.on_screen.as_mut()).await;
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        self.read_groups().await?;
        if self.detail_at.is_none_or(|t| t.elapsed() >= DETAIL_EVERY) {
            let policies = self.describe_policies().await?;
            let activities = self.describe_activities().await?;
            self.policies = policies_by_group(&policies);
            self.activities = activities_by_group(&activities);
            self.detail_at = Some(Instant::now());
        }
        if let Some(tx) = self.progress.take() {
            // Best effort: a full channel only means the UI sees the groups at the end.
            let _ = tx.try_send(self.report());
        }
        self.learn_launch_times().await;
        Ok(vec![self.report()])
    }
}

impl GroupsPoller {
    /// Every group's last reading as a report, with the launch times known so far; tells the
    /// metrics agent the series they name.
    fn report(&self) -> Report {
        let at = Utc::now();
        let groups: Vec<&AutoScalingGroup> = self.readings.values().map(|(.., g)| g).collect();
        let mut snapshots = snapshots(&groups, &self.policies, &self.activities);
        for g in &mut snapshots {
            g.read_at = self.readings.get(&g.name).map(|(_, t, _)| *t);
        }
        for i in snapshots.iter_mut().flat_map(|g| g.instances.iter_mut()) {
            i.launch_time = self.launched.get(&i.id).copied().flatten();
        }
        let names: Vec<MetricKey> = snapshots.iter().flat_map(series_of).collect();
        self.names.send_if_modified(|old| {
            let changed = *old != names;
            if changed {
                *old = names;
            }
            changed
        });
        Report::Groups {
            at,
            groups: snapshots,
        }
    }
}

/// The dashboard's view of the groups, sorted by name.
pub fn snapshots(
    groups: &[&AutoScalingGroup],
    policies: &BTreeMap<String, Vec<PolicyInfo>>,
    activities: &BTreeMap<String, Vec<ActivityInfo>>,
) -> Vec<GroupSnapshot> {
    let mut out: Vec<GroupSnapshot> = groups
        .iter()
        .map(|g| {
            let name = g.auto_scaling_group_name().unwrap_or_default().to_owned();
            GroupSnapshot {
                min: count(g.min_size()),
                desired: count(g.desired_capacity()),
                max: count(g.max_size()),
                instances: g.instances().iter().map(instance_info).collect(),
                policies: policies.get(&name).cloned().unwrap_or_default(),
                default_cooldown_s: count(g.default_cooldown()),
                health_check_type: g.health_check_type().unwrap_or_default().to_owned(),
                activities: activities.get(&name).cloned().unwrap_or_default(),
                suspended: g
                    .suspended_processes()
                    .iter()
                    .filter_map(|p| p.process_name())
                    .map(str::to_owned)
                    .collect(),
                read_at: None,
                name,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn count(n: Option<i32>) -> u32 {
    n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

pub fn instance_info(i: &Instance) -> InstanceInfo {
    InstanceInfo {
        id: i.instance_id().unwrap_or_default().to_owned(),
        lifecycle_state: i
            .lifecycle_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        health: i.health_status().unwrap_or_default().to_owned(),
        az: i.availability_zone().unwrap_or_default().to_owned(),
        // The group's instance list has no launch time; the poller adds it from EC2.
        launch_time: None,
        instance_type: i.instance_type().unwrap_or_default().to_owned(),
    }
}

pub fn policy_info(p: &ScalingPolicy) -> PolicyInfo {
    let policy_type = p.policy_type().unwrap_or_default();
    let tracking = p
        .target_tracking_configuration()
        .filter(|_| policy_type == "TargetTrackingScaling");
    let kind = match tracking {
        Some(t) => {
            let target = t.target_value().unwrap_or(0.0);
            let predefined = t
                .predefined_metric_specification()
                .and_then(|p| p.predefined_metric_type())
                .map(|m| m.as_str());
            match (predefined, t.customized_metric_specification()) {
                (Some("ASGAverageCPUUtilization"), _) => PolicyKind::TargetTrackingCpu { target },
                (Some(metric), _) => PolicyKind::TargetTrackingCustom {
                    metric: metric.to_owned(),
                    target,
                },
                (None, Some(custom)) => {
                    // A metric-math policy names its result by the returned query's label.
                    let metric = custom
                        .metric_name()
                        .map(str::to_owned)
                        .or_else(|| {
                            custom
                                .metrics()
                                .iter()
                                .find(|q| q.return_data() == Some(true))
                                .and_then(|q| q.label().or(q.id()))
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| "custom".to_owned());
                    PolicyKind::TargetTrackingCustom { metric, target }
                }
                (None, None) => PolicyKind::Other {
                    policy_type: policy_type.to_owned(),
                },
            }
        }
        None => PolicyKind::Other {
            policy_type: policy_type.to_owned(),
        },
    };
    PolicyInfo {
        name: p.policy_name().unwrap_or_default().to_owned(),
        kind,
        warmup_s: p
            .estimated_instance_warmup()
            .and_then(|w| u32::try_from(w).ok()),
    }
}

pub fn policies_by_group(policies: &[ScalingPolicy]) -> BTreeMap<String, Vec<PolicyInfo>> {
    let mut out: BTreeMap<String, Vec<PolicyInfo>> = BTreeMap::new();
    for p in policies {
        if let Some(group) = p.auto_scaling_group_name() {
            out.entry(group.to_owned())
                .or_default()
                .push(policy_info(p));
        }
    }
    out
}

/// Activities per group, newest first, at most [`ACTIVITIES`] each.
pub fn activities_by_group(activities: &[Activity]) -> BTreeMap<String, Vec<ActivityInfo>> {
    let mut out: BTreeMap<String, Vec<ActivityInfo>> = BTreeMap::new();
    for a in activities {
        let Some(start) = a.start_time().and_then(to_chrono) else {
            continue;
        };
        let Some(group) = a.auto_scaling_group_name() else {
            continue;
        };
        out.entry(group.to_owned()).or_default().push(ActivityInfo {
            start,
            status: a
                .status_code()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            description: a.description().unwrap_or_default().to_owned(),
        });
    }
    for list in out.values_mut() {
        list.sort_by_key(|a| std::cmp::Reverse(a.start));
        list.truncate(ACTIVITIES);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_sdk_autoscaling::types::{
        CustomizedMetricSpecification, LifecycleState, MetricType, PredefinedMetricSpecification,
        ScalingActivityStatusCode, TargetTrackingConfiguration, TargetTrackingMetricDataQuery,
    };
    use ui::Phase;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn shown(ages: &[(&str, Option<u64>)]) -> Vec<(String, Option<Duration>)> {
        ages.iter()
            .map(|(n, a)| ((*n).to_owned(), a.map(secs)))
            .collect()
    }

    #[test]
    fn the_whole_selection_is_listed_first_then_every_offscreen_period() {
        let (every, off) = (secs(3), secs(60));
        let on = shown(&[("a", Some(3))]);
        assert_eq!(due(None, 1, &on, every, off), Due::All, "never listed");
        assert_eq!(
            due(Some(secs(10)), 5, &on, every, off),
            Due::Named(vec!["a".into()])
        );
        assert_eq!(
            due(Some(secs(50)), 5, &on, every, off),
            Due::All,
            "a little early"
        );
        assert_eq!(
            due(Some(secs(10)), 5, &shown(&[("new", None)]), every, off),
            Due::All,
            "a group on screen never read"
        );
        assert_eq!(
            due(Some(secs(10)), 0, &[], every, off),
            Due::All,
            "no group known: an empty answer is cheap, and groups may appear"
        );
    }

    #[test]
    fn groups_on_screen_are_read_when_about_a_poll_old_and_none_may_mean_no_call() {
        let (every, off) = (secs(3), secs(60));
        // `a` is a poll old; `b` and `c` were read since (a poll the UI starts early, for a
        // group that just came on screen, skips them).
        let on = shown(&[("a", Some(3)), ("b", Some(0)), ("c", Some(1))]);
        assert_eq!(
            due(Some(secs(10)), 5, &on, every, off),
            Due::Named(vec!["a".into()])
        );
        assert_eq!(
            due(Some(secs(10)), 5, &[], every, off),
            Due::Named(Vec::new())
        );
    }

    fn instance(id: &str, state: LifecycleState) -> Instance {
        Instance::builder()
            .instance_id(id)
            .lifecycle_state(state)
            .health_status("Healthy")
            .availability_zone("us-east-1a")
            .instance_type("t3.micro")
            .protected_from_scale_in(false)
            .build()
    }

    fn cpu_policy(group: &str, target: f64) -> ScalingPolicy {
        ScalingPolicy::builder()
            .auto_scaling_group_name(group)
            .policy_name("cpu")
            .policy_type("TargetTrackingScaling")
            .estimated_instance_warmup(60)
            .target_tracking_configuration(
                TargetTrackingConfiguration::builder()
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                            .build(),
                    )
                    .target_value(target)
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_group_maps_capacity_instances_and_policies() {
        let g = AutoScalingGroup::builder()
            .auto_scaling_group_name("flightdeck-worker")
            .min_size(1)
            .desired_capacity(2)
            .max_size(6)
            .default_cooldown(120)
            .health_check_type("EC2")
            .instances(instance("i-1", LifecycleState::InService))
            .instances(instance("i-2", LifecycleState::Pending))
            .build();
        let other = AutoScalingGroup::builder()
            .auto_scaling_group_name("a-first")
            .build();
        let policies = policies_by_group(&[cpu_policy("flightdeck-worker", 55.0)]);
        let out = snapshots(&[&g, &other], &policies, &BTreeMap::new());
        assert_eq!(out[0].name, "a-first", "sorted by name");
        assert_eq!((out[0].min, out[0].desired, out[0].max), (0, 0, 0));
        let w = &out[1];
        assert_eq!((w.min, w.desired, w.max), (1, 2, 6));
        assert_eq!(w.default_cooldown_s, 120);
        assert_eq!(w.health_check_type, "EC2");
        assert_eq!(w.in_service(), 1);
        assert_eq!(w.count(Phase::Pending), 1);
        assert_eq!(w.instances[0].az, "us-east-1a");
        assert_eq!(w.cpu_target(), Some(55.0));
        assert_eq!(w.policies[0].warmup_s, Some(60));
    }

    #[test]
    fn a_metric_math_policy_is_named_by_its_returned_query() {
        let p = ScalingPolicy::builder()
            .auto_scaling_group_name("w")
            .policy_name("backlog")
            .policy_type("TargetTrackingScaling")
            .target_tracking_configuration(
                TargetTrackingConfiguration::builder()
                    .customized_metric_specification(
                        CustomizedMetricSpecification::builder()
                            .metrics(
                                TargetTrackingMetricDataQuery::builder()
                                    .id("visible")
                                    .return_data(false)
                                    .build(),
                            )
                            .metrics(
                                TargetTrackingMetricDataQuery::builder()
                                    .id("backlog_per_instance")
                                    .label("BacklogPerInstance")
                                    .expression("visible / in_service")
                                    .return_data(true)
                                    .build(),
                            )
                            .build(),
                    )
                    .target_value(10.0)
                    .build(),
            )
            .build();
        let info = policy_info(&p);
        assert_eq!(
            info.kind,
            PolicyKind::TargetTrackingCustom {
                metric: "BacklogPerInstance".into(),
                target: 10.0
            }
        );
        let step = ScalingPolicy::builder()
            .policy_name("s")
            .policy_type("StepScaling")
            .build();
        assert_eq!(
            policy_info(&step).kind,
            PolicyKind::Other {
                policy_type: "StepScaling".into()
            }
        );
    }

    #[test]
    fn activities_are_grouped_newest_first() {
        let act = |group: &str, secs: i64, desc: &str| {
            Activity::builder()
                .activity_id(desc)
                .auto_scaling_group_name(group)
                .cause("test")
                .start_time(aws_smithy_types::DateTime::from_secs(secs))
                .status_code(ScalingActivityStatusCode::Successful)
                .description(desc)
                .build()
        };
        let out = activities_by_group(&[
            act("w", 100, "old"),
            act("w", 200, "new"),
            act("api", 150, "api"),
        ]);
        assert_eq!(out["w"][0].description, "new");
        assert_eq!(out["w"][1].description, "old");
        assert_eq!(out["w"][0].status, "Successful");
        assert_eq!(out["api"].len(), 1);
    }
}
