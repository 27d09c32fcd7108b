//! The agents against a real emulator (each test its own `TestCloud`), and against a dead
//! endpoint: what they report, that they back off and keep going, and that they stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::Utc;
use local_cloud::testing::TestCloud;
use stack::Clients;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use ui::{Agent, ErrorClass, MetricKey, Report};

use super::groups::GroupsPoller;
use super::metrics::MetricsPoller;
use super::queues::QueuesPoller;
use super::{run, Agents, CallLog, Intervals, Poller};
use ops::watch::{QueueFinder, Watch};
use ui::target::Selection;

const SEC: Duration = Duration::from_secs(1);

fn one(reports: Vec<Report>) -> Report {
    assert_eq!(reports.len(), 1, "{reports:?}");
    reports.into_iter().next().unwrap()
}

#[tokio::test]
async fn the_groups_agent_reports_both_groups_with_capacity_instances_and_policies() {
    let cloud = TestCloud::provisioned().await;
    let (names_tx, names_rx) = watch::channel(Vec::new());
    let calls = CallLog::default();
    let mut poller = GroupsPoller::new(
        cloud.clients.clone(),
        calls.clone(),
        SEC,
        Watch::stack(&cloud.stack).groups,
        names_tx,
    );
    let Report::Groups { groups, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a groups report");
    };
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["flightdeck-api", "flightdeck-worker"]);
    for g in &groups {
        let want = if g.name == cloud.stack.groups.api.name {
            &cloud.stack.groups.api
        } else {
            &cloud.stack.groups.worker
        };
        assert_eq!(
            (g.min, g.desired, g.max),
            (want.min, want.desired, want.max)
        );
        assert_eq!(g.instances.len(), want.desired as usize, "{g:?}");
        assert_eq!(g.in_service(), want.desired as usize);
        assert!(!g.policies.is_empty(), "no policies for {}", g.name);
        for i in &g.instances {
            let launched = i
                .launch_time
                .expect("EC2 knows every instance's launch time");
            assert!(launched <= Utc::now(), "{i:?}");
        }
    }
    assert!(groups.iter().any(|g| g.cpu_target().is_some()));
    // The metrics agent learns each group's series and its instances' without a call of its own.
    let expected: Vec<MetricKey> = groups.iter().flat_map(super::groups::series_of).collect();
    assert!(
        expected.contains(&MetricKey::instance_cpu(
            &groups[1].name,
            &groups[1].instances[0].id
        )),
        "each instance's CPU: {expected:?}"
    );
    assert_eq!(*names_rx.borrow(), expected);
    let stats = calls.stats_at(std::time::Instant::now());
    assert_eq!(stats.per_api["DescribeAutoScalingGroups"], 1);
    assert_eq!(stats.per_api["DescribePolicies"], 1);
    assert_eq!(stats.per_api["DescribeInstances"], 1);

    // Policies, activities and known instances' launch times are not re-read on every poll.
    let Report::Groups { groups: again, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a groups report");
    };
    let stats = calls.stats_at(std::time::Instant::now());
    assert_eq!(stats.per_api["DescribeAutoScalingGroups"], 2);
    assert_eq!(stats.per_api["DescribePolicies"], 1);
    assert_eq!(stats.per_api["DescribeInstances"], 1);
    assert!(again
        .iter()
        .zip(&groups)
        .all(|(a, g)| a.read_at > g.read_at));
    let unread = |gs: Vec<ui::GroupSnapshot>| {
        gs.into_iter()
            .map(|g| ui::GroupSnapshot { read_at: None, ..g })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        unread(again),
        unread(groups),
        "launch times are kept from the first poll"
    );
}

#[tokio::test]
async fn the_queues_agent_finds_video_tasks_and_its_dlq() {
    let cloud = TestCloud::provisioned().await;
    let tasks_url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name("video_tasks")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        cloud
            .clients
            .sqs
            .send_message()
            .queue_url(&tasks_url)
            .message_body("{}")
            .send()
            .await
            .unwrap();
    }
    // Only the task queue by name: its DLQ is found through the redrive policy.
    let finder = QueueFinder::new(Selection::names(["video_tasks"]), true);
    let mut poller = QueuesPoller::new(cloud.clients.clone(), CallLog::default(), SEC, finder);
    let Report::Queues { queues, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    let tasks = queues.iter().find(|q| q.name == "video_tasks").unwrap();
    let dlq = queues.iter().find(|q| q.name == "video_dlq").unwrap();
    assert_eq!(tasks.visible, 3);
    assert!(!tasks.is_dlq);
    let redrive = tasks
        .redrive
        .as_ref()
        .expect("video_tasks has a redrive policy");
    assert_eq!(redrive.dlq_arn, dlq.arn);
    assert_eq!(
        redrive.max_receive_count,
        cloud.stack.queues.tasks.max_receive_count
    );
    assert!(dlq.is_dlq);
    assert_eq!(
        tasks.visibility_timeout_s,
        cloud.stack.queues.tasks.visibility_timeout_s
    );
}

async fn put_cpu(clients: &Clients, group: &str, points: &[(chrono::DateTime<Utc>, f64)]) {
    put_cpu_by(clients, stack::metrics::DIM_ASG_NAME, group, points).await;
}

/// CPU points under one dimension (`AutoScalingGroupName` or `InstanceId`).
async fn put_cpu_by(
    clients: &Clients,
    dimension: &str,
    value: &str,
    points: &[(chrono::DateTime<Utc>, f64)],
) {
    let mut req = clients
        .cloudwatch
        .put_metric_data()
        .namespace(stack::metrics::EC2_NAMESPACE);
    for (t, v) in points {
        req = req.metric_data(
            MetricDatum::builder()
                .metric_name(stack::metrics::CPU_UTILIZATION)
                .dimensions(Dimension::builder().name(dimension).value(value).build())
                .timestamp(aws_smithy_types::DateTime::from_secs(t.timestamp()))
                .value(*v)
                .unit(StandardUnit::Percent)
                .build(),
        );
    }
    req.send().await.unwrap();
}

#[tokio::test]
async fn the_metrics_agent_fetches_put_points_aligned_and_then_only_newer_ones() {
    let cloud = TestCloud::provisioned().await;
    let worker = cloud.stack.groups.worker.name.clone();
    let api = cloud.stack.groups.api.name.clone();
    let now = Utc::now();
    let minute = super::metrics::align_down(now, 60);
    let at = |m: i64| minute - chrono::Duration::minutes(m) + chrono::Duration::seconds(7);
    put_cpu(
        &cloud.clients,
        &worker,
        &[(at(10), 20.0), (at(5), 40.0), (at(2), 60.0)],
    )
    .await;

    let (_window_tx, window) = watch::channel(Duration::from_secs(3600));
    // An instance's CPU, published by `InstanceId` alone as EC2 does.
    let instance = "i-0feedc0ffee000001";
    put_cpu_by(
        &cloud.clients,
        stack::metrics::DIM_INSTANCE_ID,
        instance,
        &[(at(3), 75.0), (at(1), 85.0)],
    )
    .await;
    let (_names_tx, names) = watch::channel(vec![
        MetricKey::group_cpu(&api),
        MetricKey::group_cpu(&worker),
        MetricKey::instance_cpu(&worker, instance),
    ]);
    let calls = CallLog::default();
    let mut poller = MetricsPoller::new(cloud.clients.clone(), calls.clone(), SEC, window, names);
    let Report::Metrics {
        period_s, series, ..
    } = one(poller.poll().await.unwrap())
    else {
        panic!("not a metrics report");
    };
    assert_eq!(period_s, 60);
    let cpu = series
        .iter()
        .find(|s| s.key == MetricKey::group_cpu(&worker))
        .expect("the worker's CPU series");
    let values: Vec<f64> = cpu.points.iter().map(|p| p.value).collect();
    assert_eq!(values, [20.0, 40.0, 60.0], "{cpu:?}");
    for p in &cpu.points {
        assert_eq!(
            p.t.timestamp() % 60,
            0,
            "point not on a period boundary: {p:?}"
        );
    }
    assert!(series.iter().all(|s| s.key.group != api), "api has no CPU");
    assert_eq!(
        calls.stats_at(std::time::Instant::now()).per_api["GetMetricData"],
        1,
        "both groups in one call"
    );
    // The groups' CPU came alone (what the first full frame waits for); the poller asks to
    // poll again at once for the rest: here, the instance's CPU.
    assert!(
        series.iter().all(|s| s.key.instance.is_none()),
        "the first poll fetches the groups' CPU alone: {series:?}"
    );
    tokio::time::timeout(Duration::from_millis(100), poller.changed())
        .await
        .expect("the rest is fetched at once");
    let Report::Metrics { series, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a metrics report");
    };
    let by_instance = series
        .iter()
        .find(|s| s.key == MetricKey::instance_cpu(&worker, instance))
        .expect("the instance's CPU series");
    let values: Vec<f64> = by_instance.points.iter().map(|p| p.value).collect();
    assert_eq!(values, [75.0, 85.0], "{by_instance:?}");

    // The next poll sends only the newest point again (its period may be revised) and new ones.
    put_cpu(&cloud.clients, &worker, &[(at(1), 80.0)]).await;
    let Report::Metrics { series, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a metrics report");
    };
    let cpu = series
        .iter()
        .find(|s| s.key == MetricKey::group_cpu(&worker))
        .expect("the worker's CPU series");
    let values: Vec<f64> = cpu.points.iter().map(|p| p.value).collect();
    assert_eq!(values, [60.0, 80.0], "{cpu:?}");
}

/// What the agents watch on the provisioned stack: its groups and queues, no local fleet.
fn stack_extras(cloud: &TestCloud) -> super::Extras {
    super::Extras {
        stack: cloud.stack.clone(),
        profile: None,
        watch: Watch::stack(&cloud.stack),
        local: None,
        feeds: Vec::new(),
    }
}

#[tokio::test]
async fn all_agents_report_on_one_channel_and_count_their_calls() {
    let cloud = TestCloud::provisioned().await;
    let (tx, mut rx) = mpsc::channel(64);
    let extras = stack_extras(&cloud);
    let agents = Agents::spawn(&cloud.clients, tx, Intervals::default(), extras);
    agents.command(&ui::Command::SetMetricWindow(Duration::from_secs(15 * 60)));
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 8 {
        let report = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {seen:?} within 30 s"))
            .unwrap();
        match report {
            Report::Groups { .. } => seen.insert("groups"),
            Report::Queues { .. } => seen.insert("queues"),
            Report::Metrics { period_s, .. } => {
                assert_eq!(period_s, 60);
                seen.insert("metrics")
            }
            Report::Calls { stats, .. } if stats.total() > 0 => {
                assert!(
                    stats.per_api.contains_key("DescribeAutoScalingGroups"),
                    "{stats:?}"
                );
                seen.insert("calls")
            }
            Report::Calls { .. } => false,
            // The supervisor names the target first.
            Report::Target {
                seq: 0,
                result: Ok(info),
                ..
            } => {
                assert_eq!(info.region, cloud.clients.region());
                seen.insert("target")
            }
            // The actions agent starts by sending the audit log and the load scenarios.
            Report::Audit { .. } => seen.insert("audit"),
            Report::LoadScenarios { scenarios, .. } => {
                assert!(scenarios.iter().any(|s| s.name == "ramp"), "{scenarios:?}");
                seen.insert("scenarios")
            }
            // The stack's alarms, as provisioned.
            Report::Alarms { alarms, .. } => {
                assert_eq!(alarms.len(), cloud.stack.alarms.len(), "{alarms:?}");
                seen.insert("alarms")
            }
            other => panic!("unexpected {other:?}"),
        };
    }
    agents.shutdown().await;
    // Every sender is gone once the agents have stopped.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(drained.is_ok(), "an agent outlived shutdown");
}

#[tokio::test]
async fn a_dead_endpoint_is_reported_with_its_class_and_retried_until_cancelled() {
    let port = local_cloud::emulator::free_port().unwrap();
    let dead = format!("http://127.0.0.1:{port}");
    let clients =
        Clients::connect(&local_cloud::aws_options(&dead, "us-east-1"), "us-east-1").await;
    let (names_tx, _names) = watch::channel(Vec::new());
    let poller = GroupsPoller::new(
        clients,
        CallLog::default(),
        SEC,
        Selection::everything(),
        names_tx,
    );
    let (tx, mut rx) = mpsc::channel(8);
    let token = CancellationToken::new();
    let task = tokio::spawn(run(poller, tx, token.clone(), Arc::new(Notify::new())));

    let mut retries = Vec::new();
    for _ in 0..2 {
        let report = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("no error report within 30 s")
            .expect("the agent stopped");
        let Report::AgentError {
            agent,
            class,
            message,
            next_retry_in,
            ..
        } = report
        else {
            panic!("expected an error, got {report:?}");
        };
        assert_eq!(agent, Agent::Groups);
        assert_eq!(class, ErrorClass::Retryable);
        assert!(message.contains("DescribeAutoScalingGroups"), "{message}");
        assert!(message.contains("unreachable"), "{message}");
        retries.push(next_retry_in.expect("a retry time"));
    }
    assert!(retries[1] > retries[0], "no backoff: {retries:?}");
    assert!(!task.is_finished(), "the agent gave up");

    token.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the agent did not stop when cancelled")
        .unwrap();
}

/// A hung endpoint (accepts connections, never answers): the agent reports "no answer" after
/// two refresh periods while its call still waits, then the call's own limit ends it, and
/// when the endpoint answers again the data comes back with no restart.
#[tokio::test]
async fn a_hung_endpoint_is_reported_within_two_refresh_periods_and_recovers() {
    use local_cloud::testing::{Fault, FaultyEndpoint};
    let cloud = TestCloud::provisioned().await;
    let proxy = FaultyEndpoint::start(cloud.endpoint(), Fault::BlackHole).await;
    let clients = Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), "us-east-1"),
        "us-east-1",
    )
    .await
    .with_limits(stack::CallLimits {
        connect: SEC,
        // Two attempts outlast the 4 s watchdog, so its report always comes first.
        attempt: Duration::from_secs(3),
        operation: Duration::from_secs(8),
        max_attempts: 2,
    });
    let (names_tx, _names) = watch::channel(Vec::new());
    let poller = GroupsPoller::new(
        clients,
        CallLog::default(),
        SEC,
        Watch::stack(&cloud.stack).groups,
        names_tx,
    );
    let (tx, mut rx) = mpsc::channel(8);
    let token = CancellationToken::new();
    let task = tokio::spawn(run(poller, tx, token.clone(), Arc::new(Notify::new())));

    // First: the watchdog's report, while the call is still waiting.
    let Report::AgentError {
        agent,
        message,
        next_retry_in,
        ..
    } = next(&mut rx).await
    else {
        panic!("expected the no-answer report first");
    };
    assert_eq!(agent, Agent::Groups);
    assert!(message.contains("no answer in 4 s"), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(
        next_retry_in, None,
        "the call is still waiting, not retrying"
    );

    // Then the call's own limit ends it, as an ordinary unreachable failure with a retry.
    let Report::AgentError {
        message,
        next_retry_in,
        ..
    } = next(&mut rx).await
    else {
        panic!("expected the call to end with an error");
    };
    assert!(message.contains("DescribeAutoScalingGroups"), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert!(next_retry_in.is_some());

    // The endpoint answers again: groups come back without restarting anything.
    proxy.set(Fault::None);
    let groups = loop {
        match next(&mut rx).await {
            Report::Groups { groups, .. } => break groups,
            Report::AgentError { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(groups.len(), 2, "{groups:?}");
    token.cancel();
    task.await.unwrap();
}

async fn next(rx: &mut mpsc::Receiver<Report>) -> Report {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("no report within 60 s")
        .expect("the agent stopped")
}

/// A group with no instances, from the stack's worker launch template, with these tags.
async fn extra_group(cloud: &TestCloud, name: &str, tags: &[(&str, &str)]) {
    use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
    let template = LaunchTemplateSpecification::builder()
        .launch_template_name(cloud.stack.launch_template_name(&cloud.stack.groups.worker))
        .build();
    let mut req = cloud
        .clients
        .autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(template)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .set_availability_zones(Some(cloud.stack.zones(cloud.clients.region())));
    for (k, v) in tags {
        req = req.tags(
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(*k)
                .value(*v)
                .propagate_at_launch(false)
                .build(),
        );
    }
    req.send().await.unwrap();
}

/// A groups agent over every group, polled a second apart: the groups `shown` names are read
/// by name each poll, the others at the listings (every 10 minutes, and as `due` says).
fn on_screen_groups_poller(
    cloud: &TestCloud,
    calls: &CallLog,
    shown: watch::Receiver<Vec<String>>,
) -> GroupsPoller {
    let (names_tx, _) = watch::channel(Vec::new());
    GroupsPoller::new(
        cloud.clients.clone(),
        calls.clone(),
        SEC,
        Selection::everything(),
        names_tx,
    )
    .with_on_screen(shown, Duration::from_secs(600))
}

async fn delete_group(cloud: &TestCloud, name: &str) {
    cloud
        .clients
        .autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(name)
        .force_delete(true)
        .send()
        .await
        .unwrap();
}

async fn extra_queue(cloud: &TestCloud, name: &str, tags: &[(&str, &str)]) {
    let mut req = cloud.clients.sqs.create_queue().queue_name(name);
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    req.send().await.unwrap();
}

/// Checks, against the emulator, the server-side filters `ops::watch` relies on: if one
/// stops working the console still shows the right things (it filters again), but pays for it.
#[tokio::test]
async fn the_emulator_honours_the_group_tag_filters_and_the_queue_prefix() {
    use aws_sdk_autoscaling::types::Filter;
    let cloud = TestCloud::provisioned().await;
    extra_group(&cloud, "video-encode", &[("team", "video")]).await;
    extra_queue(&cloud, "jobs_a", &[("team", "video")]).await;
    let names = |out: &aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput| {
        let mut n: Vec<String> = out
            .auto_scaling_groups()
            .iter()
            .filter_map(|g| g.auto_scaling_group_name().map(str::to_owned))
            .collect();
        n.sort();
        n
    };
    let asg = &cloud.clients.autoscaling;
    let by_tag = asg
        .describe_auto_scaling_groups()
        .filters(Filter::builder().name("tag:team").values("video").build())
        .send()
        .await
        .unwrap();
    assert_eq!(names(&by_tag), ["video-encode"]);
    let by_key = asg
        .describe_auto_scaling_groups()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values("flightdeck:role")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(names(&by_key), ["flightdeck-api", "flightdeck-worker"]);
    let by_name = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("flightdeck-api")
        .auto_scaling_group_names("no-such-group")
        .send()
        .await
        .unwrap();
    assert_eq!(names(&by_name), ["flightdeck-api"]);

    let sqs = &cloud.clients.sqs;
    let listed = sqs
        .list_queues()
        .queue_name_prefix("video_")
        .send()
        .await
        .unwrap();
    let mut listed: Vec<&str> = listed
        .queue_urls()
        .iter()
        .map(|u| ops::watch::queue_name(u))
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["video_dlq", "video_tasks"]);
    let url = sqs
        .get_queue_url()
        .queue_name("jobs_a")
        .send()
        .await
        .unwrap();
    let tags = sqs
        .list_queue_tags()
        .queue_url(url.queue_url().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap()["team"], "video");
}

#[tokio::test]
async fn only_the_selected_groups_and_queues_are_reported() {
    let cloud = TestCloud::provisioned().await;
    extra_group(&cloud, "video-encode", &[]).await;
    extra_group(&cloud, "batch", &[("team", "video"), ("env", "prod")]).await;
    extra_group(&cloud, "batch-other", &[("team", "audio"), ("env", "prod")]).await;
    extra_queue(&cloud, "jobs_a", &[]).await;
    extra_queue(&cloud, "tagged", &[("team", "video")]).await;
    extra_queue(&cloud, "untagged", &[]).await;

    let groups_sel = Selection {
        prefixes: vec!["video-".into()],
        tags: [("team".to_owned(), Some("video".to_owned()))].into(),
        ..Selection::names(["flightdeck-api"])
    };
    let (names_tx, names_rx) = watch::channel(Vec::new());
    let calls = CallLog::default();
    let mut groups = GroupsPoller::new(
        cloud.clients.clone(),
        calls.clone(),
        SEC,
        groups_sel,
        names_tx,
    );
    let Report::Groups { groups: seen, .. } = one(groups.poll().await.unwrap()) else {
        panic!("not a groups report");
    };
    let seen: Vec<&str> = seen.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(seen, ["batch", "flightdeck-api", "video-encode"]);
    let charted: Vec<String> = names_rx
        .borrow()
        .iter()
        .filter(|k| **k == MetricKey::group_cpu(&k.group))
        .map(|k| k.group.clone())
        .collect();
    assert_eq!(
        charted,
        ["batch", "flightdeck-api", "video-encode"],
        "CPU follows"
    );

    // Names and tags alone: filtered by AWS, one call each, the rest never listed.
    let tagged_only = Selection {
        tags: [
            ("env".to_owned(), None),
            ("team".to_owned(), Some("video".to_owned())),
        ]
        .into(),
        ..Selection::names(["flightdeck-worker"])
    };
    let (names_tx, _names) = watch::channel(Vec::new());
    let calls = CallLog::default();
    let mut groups = GroupsPoller::new(
        cloud.clients.clone(),
        calls.clone(),
        SEC,
        tagged_only,
        names_tx,
    );
    let Report::Groups { groups: seen, .. } = one(groups.poll().await.unwrap()) else {
        panic!("not a groups report");
    };
    let seen: Vec<&str> = seen.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(seen, ["batch", "flightdeck-worker"]);
    assert_eq!(
        calls.stats_at(std::time::Instant::now()).per_api["DescribeAutoScalingGroups"],
        2
    );

    let queues_sel = Selection {
        prefixes: vec!["jobs_".into()],
        tags: [("team".to_owned(), Some("video".to_owned()))].into(),
        ..Selection::names(["video_tasks"])
    };
    let calls = CallLog::default();
    let finder = QueueFinder::new(queues_sel.clone(), true);
    let mut queues = QueuesPoller::new(cloud.clients.clone(), calls.clone(), SEC, finder);
    let Report::Queues { queues: seen, .. } = one(queues.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    let names: Vec<&str> = seen.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        ["jobs_a", "tagged", "video_dlq", "video_tasks"],
        "the DLQ by redrive"
    );
    assert!(seen.iter().any(|q| q.name == "video_dlq" && q.is_dlq));
    // The second poll reads attributes only: URLs, the list and the tags are remembered.
    let before = calls.stats_at(std::time::Instant::now());
    let Report::Queues { queues: again, .. } = one(queues.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    assert_eq!(again.len(), 4);
    let after = calls.stats_at(std::time::Instant::now());
    for api in ["ListQueues", "ListQueueTags", "GetQueueUrl"] {
        assert_eq!(
            after.per_api[api], before.per_api[api],
            "{api} called again"
        );
    }
    assert_eq!(after.per_api["GetQueueAttributes"], 8);

    // Without DLQs: the redrive target is not followed.
    let finder = QueueFinder::new(Selection::names(["video_tasks", "gone"]), false);
    let mut queues = QueuesPoller::new(cloud.clients.clone(), CallLog::default(), SEC, finder);
    let Report::Queues { queues: seen, .. } = one(queues.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    let names: Vec<&str> = seen.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        ["video_tasks"],
        "a missing name is skipped, not an error"
    );
}

/// The audit view follows the log: an entry another process appends (a headless command in
/// another terminal, a load run) reaches it within a few seconds, with no action of the
/// console's to trigger a read.
#[tokio::test]
async fn an_entry_another_process_appends_reaches_the_audit_view() {
    let state = super::test_state_dir();
    let cloud = TestCloud::provisioned().await;
    let (tx, mut rx) = mpsc::channel(64);
    let extras = stack_extras(&cloud);
    let agents = Agents::spawn(&cloud.clients, tx, Intervals::default(), extras);
    let target = format!("group-{}", uuid::Uuid::new_v4());
    let mut appended = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let report = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the appended entry was not sent within 30 s")
            .unwrap();
        let Report::Audit { entries, .. } = report else {
            continue;
        };
        if entries.iter().any(|e| e.target == target) {
            break;
        }
        if !appended {
            // After the first read: as `flightdeck scale` in another terminal writes it.
            let entry = ops::audit::Entry::local(
                None,
                "scale",
                &target,
                "elsewhere",
                serde_json::json!({ "desired": 2 }),
                "ok",
                "desired 1 → 2",
            );
            ops::audit::append_to(&state.join("audit.jsonl"), &entry).unwrap();
            appended = true;
        }
    }
    agents.shutdown().await;
}

/// Switching region on the emulator: the agents stop, the new region (empty) is reported,
/// then switching back shows the stack again; `--read-only` holds throughout.
#[tokio::test]
async fn a_region_switch_reports_the_empty_region_then_the_stack_again() {
    // Its refused scale is audited: into a state dir of the tests', not the operator's.
    let state = super::test_state_dir();
    let cloud = TestCloud::provisioned().await;
    let home = cloud.clients.region().to_owned();
    let clients = cloud.clients.clone().read_only();
    let (tx, mut rx) = mpsc::channel(64);
    let extras = stack_extras(&cloud);
    let fast = Intervals {
        groups: Duration::from_millis(200),
        queues: Duration::from_millis(200),
        metrics: Duration::from_secs(15),
        offscreen_queues: Duration::from_secs(60),
        offscreen_groups: Duration::from_secs(60),
    };
    let agents = Agents::spawn(&clients, tx, fast, extras);
    // Until the target with `seq` is reported: the groups and queues seen after it.
    async fn after_target(
        rx: &mut mpsc::Receiver<Report>,
        seq: u64,
    ) -> (ui::TargetInfo, Vec<String>, Vec<String>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut target = None;
        let (mut groups, mut queues) = (None, None);
        while groups.is_none() || queues.is_none() {
            let report = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("no report within 30 s")
                .unwrap();
            match report {
                Report::Target { seq: s, result, .. } if s == seq => {
                    target = Some(result.unwrap());
                }
                Report::Groups { groups: g, .. } if target.is_some() => {
                    groups = Some(g.into_iter().map(|g| g.name).collect());
                }
                Report::Queues { queues: q, .. } if target.is_some() => {
                    queues = Some(q.into_iter().map(|q| q.name).collect());
                }
                Report::AgentError { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
        (target.unwrap(), groups.unwrap(), queues.unwrap())
    }
    let (info, groups, queues) = after_target(&mut rx, 0).await;
    assert_eq!(info.region, home);
    assert_eq!(groups, ["flightdeck-api", "flightdeck-worker"]);
    assert_eq!(queues, ["video_dlq", "video_tasks"]);

    agents.command(&ui::Command::SwitchTarget {
        seq: 1,
        profile: None,
        region: "eu-west-3".into(),
    });
    let (info, groups, queues) = after_target(&mut rx, 1).await;
    assert_eq!(info.region, "eu-west-3");
    assert_eq!(info.endpoint.as_deref(), Some(cloud.endpoint()));
    assert!(
        groups.is_empty() && queues.is_empty(),
        "{groups:?} {queues:?}"
    );

    agents.command(&ui::Command::SwitchTarget {
        seq: 2,
        profile: None,
        region: home.clone(),
    });
    let (info, groups, _) = after_target(&mut rx, 2).await;
    assert_eq!(info.region, home);
    assert_eq!(groups, ["flightdeck-api", "flightdeck-worker"]);

    // The actions agent of the new generation still refuses changes.
    agents.command(&ui::Command::SetDesiredCapacity {
        group: "flightdeck-worker".into(),
        desired: 2,
        honor_cooldown: false,
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let report = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("no outcome within 30 s")
            .unwrap();
        if let Report::Action { outcome, .. } = report {
            assert!(!outcome.ok, "{outcome:?}");
            assert!(outcome.message.contains("read-only"), "{outcome:?}");
            break;
        }
    }
    agents.shutdown().await;
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(audit.contains("refused by --read-only"), "{audit}");
}

#[tokio::test]
async fn the_first_pass_reports_the_queues_read_so_far_then_the_rest_in_one() {
    let cloud = TestCloud::provisioned().await;
    for i in 0..4 {
        cloud
            .clients
            .sqs
            .create_queue()
            .queue_name(format!("fill_{i}"))
            .send()
            .await
            .unwrap();
    }
    let finder = QueueFinder::new(Selection::everything(), false);
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    // A zero step: a report after every queue read in the first pass.
    let mut poller = QueuesPoller::new(cloud.clients.clone(), CallLog::default(), SEC, finder)
        .with_progress(tx, Duration::ZERO);
    let Report::Queues { queues: all, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    assert_eq!(all.len(), 6);
    let mut sizes = Vec::new();
    while let Ok(Report::Queues { queues, .. }) = rx.try_recv() {
        sizes.push(queues.len());
    }
    assert_eq!(sizes, [1, 2, 3, 4, 5, 6], "growing partial reports");
    // Later passes report once, at the end.
    poller.poll().await.unwrap();
    assert!(rx.try_recv().is_err());
}

async fn put_lines(clients: &Clients, group: &str, stream: &str, lines: &[String]) {
    let _ = clients
        .logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    let now = Utc::now().timestamp_millis();
    let events = lines
        .iter()
        .map(|m| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now)
                .message(m)
                .build()
                .unwrap()
        })
        .collect::<Vec<_>>();
    clients
        .logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_logs_agent_reads_a_request_then_only_new_lines_and_stops_when_closed() {
    let cloud = TestCloud::provisioned().await;
    let group = cloud.stack.groups.worker.logs.group.clone();
    let line = |video: &str, message: &str| {
        format!(r#"{{"level":"WARN","message":"{message}","video_id":"{video}"}}"#)
    };
    put_lines(
        &cloud.clients,
        &group,
        "i-0live1",
        &[line("v-1", "job started"), line("v-2", "job started")],
    )
    .await;
    let request = ui::logs::LogsRequest {
        target: None,
        ids: vec!["v-1".to_owned()],
        terms: Vec::new(),
        since_s: 3_600,
    };
    let (wanted, rx) = watch::channel(Some((request.clone(), true)));
    let calls = CallLog::default();
    let mut tailer = super::logs::LogsTailer::new(
        cloud.clients.clone(),
        calls.clone(),
        cloud.stack.clone(),
        rx,
    );
    let Report::Logs {
        request: answered,
        reset,
        lines,
        note,
        ..
    } = one(tailer.poll().await.unwrap())
    else {
        panic!("not a logs report");
    };
    assert_eq!(answered, request);
    assert!(reset);
    assert_eq!(note, None);
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        ["job started video_id=v-1"],
        "only the lines about v-1"
    );
    assert_eq!(lines[0].stream, "i-0live1");
    assert_eq!(lines[0].level.as_deref(), Some("WARN"));
    assert_eq!(tailer.interval(), super::logs::FOLLOW_EVERY);

    // A follow-up read sends only what is new, though it reads the same window again.
    put_lines(
        &cloud.clients,
        &group,
        "i-0live1",
        &[line("v-1", "dead-lettering")],
    )
    .await;
    let Report::Logs { reset, lines, .. } = one(tailer.poll().await.unwrap()) else {
        panic!("not a logs report");
    };
    assert!(!reset);
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["dead-lettering video_id=v-1"]);
    let stats = calls.stats_at(std::time::Instant::now());
    assert!(stats.per_api["FilterLogEvents"] >= 2, "{:?}", stats.per_api);

    // A target the stack does not have is said, not retried as a failure.
    wanted.send_replace(Some((
        ui::logs::LogsRequest {
            target: Some("db".to_owned()),
            ..request.clone()
        },
        true,
    )));
    let Report::Logs { note, lines, .. } = one(tailer.poll().await.unwrap()) else {
        panic!("not a logs report");
    };
    assert!(lines.is_empty());
    assert!(note.is_some_and(|n| n.contains("`db` is neither a group")));

    // Closed: nothing is read, and the agent waits to be asked.
    wanted.send_replace(None);
    assert!(tailer.poll().await.unwrap().is_empty());
    assert!(tailer.interval() > Duration::from_secs(60));
}

/// Against the emulator: after the first pass, only the rows on screen (and the queues
/// watched by name) are read every pass; the others keep their reading, dated, until their
/// turn; a row that comes on screen is read at the next pass, which the change starts.
#[tokio::test]
async fn rows_off_the_screen_keep_their_reading_and_rows_coming_on_screen_are_read_at_once() {
    let cloud = TestCloud::provisioned().await;
    for name in ["fill_a", "fill_b", "fill_c"] {
        extra_queue(&cloud, name, &[]).await;
    }
    let finder = QueueFinder::new(Selection::everything(), true);
    let calls = CallLog::default();
    let (shown_tx, shown_rx) = watch::channel(vec!["fill_a".to_owned()]);
    let mut poller = QueuesPoller::new(cloud.clients.clone(), calls.clone(), SEC, finder)
        .with_on_screen(shown_rx, Duration::from_secs(600));
    let reads = || calls.stats_at(std::time::Instant::now()).per_api["GetQueueAttributes"];
    let Report::Queues { queues: first, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    let n = first.len();
    assert!(
        n >= 5,
        "the stack's two queues and the three more: {first:?}"
    );
    assert_eq!(reads(), n as u32, "the first pass reads every queue");

    // A message arrives in a row on screen and in one off it.
    for name in ["fill_a", "fill_b"] {
        let url = first.iter().find(|q| q.name == name).unwrap().url.clone();
        let sqs = &cloud.clients.sqs;
        sqs.send_message()
            .queue_url(url)
            .message_body("x")
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(SEC).await;
    let Report::Queues { queues: second, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    assert_eq!(reads(), n as u32 + 1, "only the row on screen");
    assert_eq!(second.len(), n, "every queue is still reported");
    let row =
        |qs: &[ui::QueueSnapshot], name: &str| qs.iter().find(|q| q.name == name).cloned().unwrap();
    assert_eq!(row(&second, "fill_a").visible, 1);
    let b = row(&second, "fill_b");
    assert_eq!(b.visible, 0, "kept from the first pass");
    assert_eq!(b.read_at, row(&first, "fill_b").read_at);
    assert!(row(&second, "fill_a").read_at > b.read_at);

    // fill_b scrolls on screen: the change wakes the poller, which reads it (and not fill_a,
    // read a moment ago).
    shown_tx.send_replace(vec!["fill_a".to_owned(), "fill_b".to_owned()]);
    tokio::time::timeout(SEC, poller.changed())
        .await
        .expect("the change wakes it");
    let Report::Queues { queues: third, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    assert_eq!(reads(), n as u32 + 2);
    assert_eq!(row(&third, "fill_b").visible, 1);
}

/// A dead-letter queue watched only because a redrive policy names it follows the same rule:
/// off the screen it keeps its reading, rather than being read again every pass.
#[tokio::test]
async fn a_dlq_found_by_redrive_is_read_off_screen_like_any_other_row() {
    let cloud = TestCloud::provisioned().await;
    let finder = QueueFinder::new(Selection::names(["video_tasks"]), true);
    let calls = CallLog::default();
    let (_shown_tx, shown_rx) = watch::channel(Vec::new());
    let mut poller = QueuesPoller::new(cloud.clients.clone(), calls.clone(), SEC, finder)
        .with_on_screen(shown_rx, Duration::from_secs(600));
    let reads = || calls.stats_at(std::time::Instant::now()).per_api["GetQueueAttributes"];
    let Report::Queues { queues: first, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    let names: Vec<&str> = first.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["video_dlq", "video_tasks"], "the DLQ by redrive");
    assert_eq!(reads(), 2);
    tokio::time::sleep(SEC).await;
    let Report::Queues { queues: second, .. } = one(poller.poll().await.unwrap()) else {
        panic!("not a queues report");
    };
    assert_eq!(reads(), 3, "video_tasks (watched by name) only");
    let dlq = |qs: &[ui::QueueSnapshot]| qs.iter().find(|q| q.name == "video_dlq").cloned();
    assert_eq!(
        dlq(&second).map(|q| q.read_at),
        dlq(&first).map(|q| q.read_at)
    );
}

/// The groups agent with the screen's groups: those are read by name each poll, the others keep
/// their reading (and its time) until the next listing; a group coming on screen is read at once,
/// and one deleted while on screen leaves the report.
#[tokio::test]
async fn groups_off_the_screen_keep_their_reading_and_groups_coming_on_screen_are_read_at_once() {
    let cloud = TestCloud::provisioned().await;
    for name in ["fill-a", "fill-b", "fill-c"] {
        extra_group(&cloud, name, &[]).await;
    }
    let calls = CallLog::default();
    let (shown_tx, shown_rx) = watch::channel(vec!["fill-a".to_owned()]);
    let mut poller = on_screen_groups_poller(&cloud, &calls, shown_rx);
    let described =
        || calls.stats_at(std::time::Instant::now()).per_api["DescribeAutoScalingGroups"];
    let report = |r: Vec<Report>| match one(r) {
        Report::Groups { groups, .. } => groups,
        other => panic!("not a groups report: {other:?}"),
    };
    let group = |gs: &[ui::GroupSnapshot], name: &str| gs.iter().find(|g| g.name == name).cloned();
    let first = report(poller.poll().await.unwrap());
    assert_eq!(first.len(), 5, "the stack's two groups and three more");
    assert_eq!(described(), 1, "the first poll lists every group");

    for name in ["fill-a", "fill-b"] {
        cloud
            .clients
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(name)
            .desired_capacity(1)
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(SEC).await;
    let second = report(poller.poll().await.unwrap());
    assert_eq!(described(), 2);
    assert_eq!(second.len(), 5, "every group is still reported");
    assert_eq!(group(&second, "fill-a").unwrap().desired, 1, "on screen");
    let b = group(&second, "fill-b").unwrap();
    assert_eq!(b.desired, 0, "kept from the first poll");
    assert_eq!(b.read_at, group(&first, "fill-b").unwrap().read_at);
    assert!(group(&second, "fill-a").unwrap().read_at > b.read_at);

    // fill-b comes on screen: the change wakes the poller, which reads it (not fill-a, read a
    // moment ago).
    shown_tx.send_replace(vec!["fill-a".to_owned(), "fill-b".to_owned()]);
    tokio::time::timeout(SEC, poller.changed())
        .await
        .expect("the change wakes it");
    let third = report(poller.poll().await.unwrap());
    assert_eq!(described(), 3);
    assert_eq!(group(&third, "fill-b").unwrap().desired, 1);

    // A group deleted while on screen: the next poll's answer lacks it, so the report does too.
    delete_group(&cloud, "fill-a").await;
    tokio::time::sleep(SEC).await;
    let fourth = report(poller.poll().await.unwrap());
    assert_eq!(described(), 4);
    assert!(group(&fourth, "fill-a").is_none(), "{fourth:?}");
    assert_eq!(fourth.len(), 4);
    // A group found gone: the next poll lists every group (fill-c, off the screen, read anew).
    let fifth = report(poller.poll().await.unwrap());
    assert_eq!(described(), 5);
    assert!(group(&fifth, "fill-c").unwrap().read_at > group(&fourth, "fill-c").unwrap().read_at);
}

/// Groups created one after another while the console runs (an endpoint restarted and
/// provisioned again, a stack being created): once a listing finds the groups changed, each
/// poll lists them all until two listings agree, so a group created just after a listing shows
/// at the next poll rather than at the next off-screen listing (10 minutes here).
#[tokio::test]
async fn groups_created_one_after_another_show_at_the_next_poll() {
    let cloud = TestCloud::provisioned().await;
    extra_group(&cloud, "fill-a", &[]).await;
    let calls = CallLog::default();
    let shown = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let (shown_tx, shown_rx) = watch::channel(shown(&["flightdeck-api", "fill-a"]));
    let mut poller = on_screen_groups_poller(&cloud, &calls, shown_rx);
    let mut poll = async || -> Vec<ui::GroupSnapshot> {
        tokio::time::sleep(SEC).await;
        match one(poller.poll().await.unwrap()) {
            Report::Groups { groups, .. } => groups,
            other => panic!("not a groups report: {other:?}"),
        }
    };
    let names = |gs: &[ui::GroupSnapshot]| gs.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&poll().await),
        ["fill-a", "flightdeck-api", "flightdeck-worker"]
    );

    // fill-a goes while on screen: read by name, it is missing, so the UI stops showing it.
    delete_group(&cloud, "fill-a").await;
    assert_eq!(
        names(&poll().await),
        ["flightdeck-api", "flightdeck-worker"]
    );
    shown_tx.send_replace(shown(&["flightdeck-api"]));
    // The next poll lists every group: two, not the three of the last listing.
    assert_eq!(
        names(&poll().await),
        ["flightdeck-api", "flightdeck-worker"]
    );

    // A group created just after that listing, off the screen, shows at the next poll.
    extra_group(&cloud, "fill-b", &[]).await;
    let with_b = poll().await;
    assert_eq!(
        names(&with_b),
        ["fill-b", "flightdeck-api", "flightdeck-worker"]
    );
    // That listing differed from the one before, so one more; the two agree, and from then on
    // only the group on screen is read.
    let settled = poll().await;
    let read_at = |gs: &[ui::GroupSnapshot], name: &str| {
        gs.iter().find(|g| g.name == name).and_then(|g| g.read_at)
    };
    assert!(read_at(&settled, "fill-b") > read_at(&with_b, "fill-b"));
    let named = poll().await;
    assert_eq!(read_at(&named, "fill-b"), read_at(&settled, "fill-b"));
    assert!(read_at(&named, "flightdeck-api") > read_at(&settled, "flightdeck-api"));
}

/// The same for queues: the queue finder re-lists only every 30 s, but once a look finds
/// queues gone or new, it looks again each pass until two looks agree; with queues listed
/// (`*`) and with queues watched by name.
#[tokio::test]
async fn queues_created_one_after_another_are_found_at_the_next_pass() {
    let cloud = TestCloud::provisioned().await;
    let calls = CallLog::default();
    let sqs = &cloud.clients.sqs;
    let names = |urls: &[String]| {
        urls.iter()
            .map(|u| ops::watch::queue_name(u).to_owned())
            .collect::<Vec<_>>()
    };
    let delete = async |url: &str| {
        sqs.delete_queue().queue_url(url).send().await.unwrap();
    };

    let mut listed = QueueFinder::new(Selection::everything(), false);
    let first = listed.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(names(&first), ["video_dlq", "video_tasks"]);
    // A queue created after a listing that changed nothing waits for the next listing.
    extra_queue(&cloud, "fill_a", &[]).await;
    let cached = listed.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(names(&cached), ["video_dlq", "video_tasks"]);
    // A queue found gone (a read answered "no such queue"): the next pass lists again...
    let tasks = first[1].clone();
    delete(&tasks).await;
    listed.forget(&tasks);
    let relisted = listed.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(names(&relisted), ["fill_a", "video_dlq"]);
    // ...and that listing differed from the one before, so the pass after lists again.
    extra_queue(&cloud, "fill_b", &[]).await;
    let again = listed.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(names(&again), ["fill_a", "fill_b", "video_dlq"]);
    let settled = listed.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(settled, again);
    extra_queue(&cloud, "fill_c", &[]).await;
    let cached = listed.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(cached, again, "two listings agreed: back to every 30 s");

    // By name: the queue vanishes, is missed at the next look, and is found at the one after.
    extra_queue(&cloud, "named_q", &[]).await;
    let mut by_name = QueueFinder::new(Selection::names(["named_q"]), false);
    let url = by_name.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(names(&url), ["named_q"]);
    delete(&url[0]).await;
    by_name.forget(&url[0]);
    assert!(by_name
        .urls(&cloud.clients, &calls)
        .await
        .unwrap()
        .is_empty());
    extra_queue(&cloud, "named_q", &[]).await;
    let back = by_name.urls(&cloud.clients, &calls).await.unwrap();
    assert_eq!(names(&back), ["named_q"]);
}

/// The first poll reports the groups as soon as they are described, before EC2 answers for
/// the instances' launch times (the poll's slowest call), then again with them; later polls
/// report once.
#[tokio::test]
async fn the_first_groups_poll_reports_before_the_launch_times_arrive() {
    let cloud = TestCloud::provisioned().await;
    let calls = CallLog::default();
    let (names_tx, names_rx) = watch::channel(Vec::new());
    let (tx, mut rx) = mpsc::channel(8);
    let mut poller = GroupsPoller::new(
        cloud.clients.clone(),
        calls.clone(),
        SEC,
        Selection::everything(),
        names_tx,
    )
    .with_progress(tx);
    let groups = |r: Report| match r {
        Report::Groups { groups, .. } => groups,
        other => panic!("not a groups report: {other:?}"),
    };
    let last = groups(one(poller.poll().await.unwrap()));
    let early = groups(rx.try_recv().expect("an early report"));
    assert!(rx.try_recv().is_err(), "one early report");
    let instances = |gs: &[ui::GroupSnapshot]| {
        gs.iter()
            .flat_map(|g| g.instances.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        !instances(&early).is_empty(),
        "the stack's groups have instances: {early:?}"
    );
    assert!(
        instances(&early).iter().all(|i| i.launch_time.is_none()),
        "{early:?}"
    );
    assert!(
        instances(&last).iter().all(|i| i.launch_time.is_some()),
        "{last:?}"
    );
    // The early report already named every series, the instances' CPU included.
    let expected: Vec<MetricKey> = last.iter().flat_map(super::groups::series_of).collect();
    assert_eq!(*names_rx.borrow(), expected);

    poller.poll().await.unwrap();
    assert!(rx.try_recv().is_err(), "later polls report once");
}
