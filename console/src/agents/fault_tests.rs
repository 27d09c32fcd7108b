//! The agents behind the fault proxy (`local_cloud::faults`): AWS throttling every call. Each
//! agent reports it as throttling, the banner says so, the agent waits longer after each
//! failure (and really waits), and when the throttling ends the data comes back by itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use local_cloud::faults::{Fault, FaultProxy, Rule};
use local_cloud::testing::TestCloud;
use stack::Clients;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use ui::{Agent, ErrorClass, Event, Report, State, ThemeSet, UiConfig};

use super::groups::GroupsPoller;
use super::queues::QueuesPoller;
use super::{run, CallLog};
use ops::watch::{QueueFinder, Watch};

const SEC: Duration = Duration::from_secs(1);

#[tokio::test]
async fn throttled_agents_say_so_back_off_harder_each_time_and_recover() {
    let cloud = TestCloud::provisioned().await;
    let proxy = FaultProxy::start(cloud.endpoint()).await.unwrap();
    // Every Auto Scaling (query protocol) and SQS (JSON protocol) call is throttled.
    proxy.add(Rule::new(Fault::Throttle).service("autoscaling"));
    proxy.add(Rule::new(Fault::Throttle).service("sqs"));
    // The clients the console builds: the SDK's standard retries included.
    let clients = Clients::connect(
        &local_cloud::aws_options(proxy.endpoint(), &cloud.stack.region),
        &cloud.stack.region,
    )
    .await;

    let (tx, mut rx) = mpsc::channel(64);
    let token = CancellationToken::new();
    let (names_tx, _names) = watch::channel(Vec::new());
    let groups = GroupsPoller::new(
        clients.clone(),
        CallLog::default(),
        SEC,
        Watch::stack(&cloud.stack).groups,
        names_tx,
    );
    let queues = QueuesPoller::new(
        clients,
        CallLog::default(),
        SEC,
        QueueFinder::new(ui::target::Selection::names(["video_tasks"]), true),
    );
    let refresh = [Arc::new(Notify::new()), Arc::new(Notify::new())];
    let tasks = [
        tokio::spawn(run(groups, tx.clone(), token.clone(), refresh[0].clone())),
        tokio::spawn(run(queues, tx, token.clone(), refresh[1].clone())),
    ];

    let mut state = State::new(UiConfig::default(), ThemeSet::builtin(), Utc::now()).unwrap();
    // Two failed polls per agent: (when, next retry, message).
    let mut failures: BTreeMap<Agent, Vec<(DateTime<Utc>, Duration, String)>> = BTreeMap::new();
    while failures.values().map(Vec::len).min().unwrap_or(0) < 2 || failures.len() < 2 {
        let report = next(&mut rx).await;
        ui::update(&mut state, Event::Report(report.clone()));
        match report {
            Report::AgentError {
                agent,
                class,
                message,
                next_retry_in: Some(wait),
                at,
            } => {
                assert_eq!(class, ErrorClass::Throttled, "{agent:?}: {message}");
                failures.entry(agent).or_default().push((at, wait, message));
            }
            // The watchdog's "no answer yet" (a slow machine): not a failed poll.
            Report::AgentError {
                next_retry_in: None,
                ..
            } => {}
            other => panic!("data came through a throttled endpoint: {other:?}"),
        }
    }
    for (agent, seen) in &failures {
        let code = if *agent == Agent::Groups {
            "Throttling"
        } else {
            "RequestThrottled"
        };
        assert!(seen[0].2.contains(code), "{agent:?}: {}", seen[0].2);
        let waits: Vec<Duration> = seen.iter().take(2).map(|s| s.1).collect();
        assert_eq!(
            waits,
            [4 * SEC, 8 * SEC],
            "{agent:?}: throttling backs off from 4 s, doubling"
        );
        let gap = (seen[1].0 - seen[0].0).to_std().unwrap();
        assert!(
            gap >= 4 * SEC,
            "{agent:?} polled again {gap:?} after a throttled poll, before its 4 s backoff"
        );
    }
    ui::update(&mut state, Event::Tick(Utc::now()));
    let banner = ui::views::banner::text(&state).expect("a banner while throttled");
    assert!(banner.contains("throttled"), "{banner}");
    assert!(banner.contains("polls back off"), "{banner}");
    // The SDK retried each throttled call before the agent saw it (3 attempts per call).
    assert!(
        proxy.injected("autoscaling", "DescribeAutoScalingGroups", "throttle") >= 6,
        "{:?}",
        proxy.injections()
    );

    // The throttling ends: both agents' data comes back without a restart, and the banner goes.
    proxy.clear();
    for r in &refresh {
        r.notify_one();
    }
    let (mut groups_back, mut queues_back) = (false, false);
    while !(groups_back && queues_back) {
        let report = next(&mut rx).await;
        match &report {
            Report::Groups { groups, .. } => groups_back = groups.len() == 2,
            Report::Queues { queues, .. } => queues_back = !queues.is_empty(),
            _ => {}
        }
        ui::update(&mut state, Event::Report(report));
    }
    ui::update(&mut state, Event::Tick(Utc::now()));
    assert_eq!(ui::views::banner::text(&state), None);

    token.cancel();
    for t in tasks {
        t.await.unwrap();
    }
}

async fn next(rx: &mut mpsc::Receiver<Report>) -> Report {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no report within 30 s")
        .expect("the agents stopped")
}
