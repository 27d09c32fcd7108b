//! The local fleet against a real emulator with real `flightdeck-worker` and `flightdeck-api`
//! processes (built by `cargo test --workspace` before any test runs): desired capacity
//! becomes processes, a dead process is replaced, CPU reaches CloudWatch, and the autoscaler
//! scales out and back in within min..max. Every test checks that no process outlives it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use local_cloud::autoscaler::{self, Action};
use local_cloud::cpu::{CpuSample, CpuSnapshot};
use local_cloud::fleet::{self, FleetEventKind, Phase};
use local_cloud::testing::TestCloud;
use local_cloud::{
    Autoscaler, AutoscalerConfig, CpuConfig, CpuPublisher, Fleet, FleetConfig, FleetState,
};
use stack::config::Role;
use tokio::sync::watch;

const WORKER: &str = "flightdeck-worker";
const API: &str = "flightdeck-api";
/// Test warm-up; the bound below is warm-up + a poll + process start on a busy machine.
const WARMUP: Duration = Duration::from_secs(2);
const BOUND: Duration = Duration::from_secs(45);

struct Dirs {
    runtime: tempfile::TempDir,
    logs: tempfile::TempDir,
}

fn config(cloud: &TestCloud, roles: &[Role]) -> (FleetConfig, Dirs) {
    let dirs = Dirs {
        runtime: tempfile::tempdir().unwrap(),
        logs: tempfile::tempdir().unwrap(),
    };
    let mut c = FleetConfig::new(cloud.endpoint(), &cloud.stack.region, &cloud.stack);
    c.runtime_dir = dirs.runtime.path().to_path_buf();
    c.logs_dir = dirs.logs.path().to_path_buf();
    c.roles = roles.to_vec();
    c.poll = Duration::from_millis(500);
    c.warmup = Some(WARMUP);
    c.stop_grace = Duration::from_secs(20);
    c.shutdown_grace = Duration::from_secs(8);
    (c, dirs)
}

async fn wait_for(
    rx: &mut watch::Receiver<FleetState>,
    limit: Duration,
    what: &str,
    ok: impl Fn(&FleetState) -> bool,
) -> FleetState {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        {
            let state = rx.borrow_and_update();
            if ok(&state) {
                return state.clone();
            }
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            let state = rx.borrow().clone();
            let events: Vec<String> = state.events.iter().map(|e| e.to_string()).collect();
            panic!(
                "timed out waiting for {what}; instances {:#?}\nevents:\n{}",
                state.instances,
                events.join("\n")
            );
        }
    }
}

fn alive(pid: u32) -> bool {
    local_cloud::registry::alive(pid)
}

fn pids(state: &FleetState, group: &str) -> Vec<u32> {
    state.group(group).filter_map(|i| i.pid).collect()
}

async fn set_desired(cloud: &TestCloud, group: &str, n: i32) {
    cloud
        .clients
        .autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(group)
        .desired_capacity(n)
        .send()
        .await
        .unwrap();
}

async fn desired(cloud: &TestCloud, group: &str) -> i32 {
    let out = cloud
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()[0].desired_capacity().unwrap()
}

async fn group_instances(cloud: &TestCloud, group: &str) -> Vec<String> {
    let out = cloud
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()[0]
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

fn env_of(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|s| String::from_utf8_lossy(s).to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn gone_within(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desired_capacity_becomes_processes_within_the_warm_up_bound() {
    let cloud = TestCloud::provisioned().await;
    let (config, dirs) = config(&cloud, &[Role::Api, Role::Worker]);
    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let mut rx = fleet.subscribe();

    // The stack's desired capacities: 2 API instances, 1 worker.
    let started = Instant::now();
    let state = wait_for(&mut rx, BOUND, "2 API + 1 worker in service", |s| {
        s.in_service(API) == 2 && s.in_service(WORKER) == 1
    })
    .await;
    assert!(started.elapsed() >= WARMUP, "in service before the warm-up");
    // Each is the right program, told its own instance id, group and the local cloud.
    let groups = [(API, "flightdeck-api"), (WORKER, "flightdeck-worker")];
    for (group, program) in groups {
        let ids = group_instances(&cloud, group).await;
        for i in state.group(group) {
            let pid = i.pid.unwrap();
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
            assert!(exe.ends_with(program), "{pid} runs {}", exe.display());
            assert!(
                ids.contains(&i.instance_id),
                "{} not in {ids:?}",
                i.instance_id
            );
            let env = env_of(pid);
            for want in [
                format!("FLIGHTDECK_INSTANCE_ID={}", i.instance_id),
                format!("FLIGHTDECK_ASG_NAME={group}"),
                format!("AWS_ENDPOINT_URL={}", cloud.endpoint()),
            ] {
                assert!(env.contains(&want), "{pid} lacks {want}");
            }
            if group == WORKER {
                assert!(env
                    .iter()
                    .any(|e| e.starts_with("FLIGHTDECK_FFMPEG_THREADS=")));
            }
        }
    }
    // The API instances answer on their own ports, and the endpoints file lists them.
    let endpoints = fleet::read_api_endpoints(dirs.runtime.path()).unwrap();
    let mut listed = endpoints.endpoints.clone();
    let mut expected = state.api_endpoints();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(listed.len(), 2);
    assert_ne!(listed[0], listed[1]);

    // Scale the workers out to 3, then in to 1.
    set_desired(&cloud, WORKER, 3).await;
    let t = Instant::now();
    let state = wait_for(&mut rx, BOUND, "3 workers in service", |s| {
        s.in_service(WORKER) == 3
    })
    .await;
    assert!(t.elapsed() >= WARMUP);
    let three = pids(&state, WORKER);
    assert_eq!(three.len(), 3);
    assert!(three.iter().all(|p| alive(*p)));

    set_desired(&cloud, WORKER, 1).await;
    let state = wait_for(&mut rx, BOUND, "1 worker left", |s| {
        s.processes(WORKER) == 1
    })
    .await;
    let left = pids(&state, WORKER);
    let stopped: Vec<u32> = three
        .iter()
        .copied()
        .filter(|p| !left.contains(p))
        .collect();
    assert_eq!(stopped.len(), 2);
    assert!(
        gone_within(&stopped, Duration::from_secs(5)),
        "scaled-in workers still run"
    );
    assert!(state
        .events
        .iter()
        .any(|e| e.kind == FleetEventKind::Stopped));

    let all: Vec<u32> = state.instances.iter().filter_map(|i| i.pid).collect();
    fleet.stop().await;
    assert!(
        gone_within(&all, Duration::from_secs(2)),
        "processes outlived the fleet"
    );
    assert!(fleet::read_api_endpoints(dirs.runtime.path()).is_none());
    assert!(!rx.borrow().running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_replaced_as_an_unhealthy_instance() {
    let cloud = TestCloud::provisioned().await;
    let (config, dirs) = config(&cloud, &[Role::Worker]);
    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let mut rx = fleet.subscribe();
    let state = wait_for(&mut rx, BOUND, "1 worker in service", |s| {
        s.in_service(WORKER) == 1
    })
    .await;
    let old = state.group(WORKER).next().unwrap().clone();
    let old_pid = old.pid.unwrap();
    // What a worker killed mid-job leaves: a job directory with the source and a partial
    // output, in its instance's work directory.
    let work = fleet::home_dir(dirs.runtime.path())
        .join("work")
        .join(&old.instance_id);
    assert!(
        work.is_dir(),
        "{} is not the worker's work directory",
        work.display()
    );
    std::fs::create_dir_all(work.join("job-killed")).unwrap();
    std::fs::write(work.join("job-killed/source.mp4"), b"half a download").unwrap();

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    let state = wait_for(&mut rx, BOUND, "a replacement worker in service", |s| {
        s.in_service(WORKER) == 1 && s.group(WORKER).all(|i| i.instance_id != old.instance_id)
    })
    .await;
    let new = state.group(WORKER).next().unwrap();
    assert_ne!(new.pid, Some(old_pid));
    assert!(alive(new.pid.unwrap()));
    // The group replaced the instance and kept its desired capacity.
    let ids = group_instances(&cloud, WORKER).await;
    assert!(!ids.contains(&old.instance_id), "{ids:?}");
    assert!(ids.contains(&new.instance_id), "{ids:?}");
    assert_eq!(desired(&cloud, WORKER).await, 1);
    let kinds: Vec<_> = state
        .events
        .iter()
        .filter(|e| e.instance_id.as_deref() == Some(old.instance_id.as_str()))
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&FleetEventKind::Died), "{kinds:?}");
    assert!(kinds.contains(&FleetEventKind::Replaced), "{kinds:?}");
    assert!(
        !work.exists(),
        "the dead worker's work directory is still there"
    );

    let pid = new.pid.unwrap();
    fleet.stop().await;
    assert!(gone_within(&[pid], Duration::from_secs(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_reaches_cloudwatch_as_ec2_metrics() {
    use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Statistic};
    let cloud = TestCloud::provisioned().await;
    let (config, _dirs) = config(&cloud, &[Role::Worker]);
    let share = config.machine.share_cores;
    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let mut rx = fleet.subscribe();
    let state = wait_for(&mut rx, BOUND, "1 worker in service", |s| {
        s.in_service(WORKER) == 1
    })
    .await;
    let id = state.group(WORKER).next().unwrap().instance_id.clone();
    let cpu = CpuPublisher::start(
        &cloud.clients,
        fleet.subscribe(),
        CpuConfig {
            interval: Duration::from_millis(700),
            share_cores: share,
        },
    );
    let mut snaps = cpu.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let snap = loop {
        tokio::time::timeout_at(deadline, snaps.changed())
            .await
            .expect("no CPU sample within 20 s")
            .unwrap();
        let s = snaps.borrow_and_update().clone();
        if s.samples
            .iter()
            .any(|x| x.instance_id == id && x.in_service)
        {
            break s;
        }
    };
    assert_eq!(snap.error, None);
    let sample = snap.samples.iter().find(|s| s.instance_id == id).unwrap();
    assert!((0.0..=100.0).contains(&sample.percent));

    let metrics = cloud
        .clients
        .cloudwatch
        .list_metrics()
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(
            DimensionFilter::builder()
                .name("InstanceId")
                .value(&id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let found = metrics.metrics();
    assert!(!found.is_empty(), "no CPUUtilization for {id}");
    let dims: Vec<(String, String)> = found[0]
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap().to_string(),
                d.value().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        dims,
        [("InstanceId".to_owned(), id.clone())],
        "by InstanceId alone, as EC2 publishes it"
    );

    // The group aggregate the console charts.
    let now = Utc::now();
    let stats = cloud
        .clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("AutoScalingGroupName")
                .value(WORKER)
                .build(),
        )
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            now.timestamp() - 600,
        ))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            now.timestamp() + 60,
        ))
        .period(60)
        .statistics(Statistic::Average)
        .send()
        .await
        .unwrap();
    assert!(!stats.datapoints().is_empty(), "no group aggregate");

    cpu.stop().await;
    fleet.stop().await;
}

/// Synthetic CPU for the autoscaler: every in-service worker reports `load` percent, the
/// way the CPU publisher would for instances that busy. This stands in for real load only:
/// the fleet, the decisions and SetDesiredCapacity are real.
fn synthetic_cpu(
    fleet: watch::Receiver<FleetState>,
    load: Arc<AtomicU64>,
) -> (watch::Receiver<CpuSnapshot>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(CpuSnapshot::default());
    let task = tokio::spawn(async move {
        loop {
            let state = fleet.borrow().clone();
            let percent = f64::from_bits(load.load(Ordering::Relaxed));
            let samples = state
                .instances
                .iter()
                .filter(|i| i.phase != Phase::Stopping)
                .map(|i| CpuSample {
                    instance_id: i.instance_id.clone(),
                    group: i.group.clone(),
                    percent,
                    in_service: i.phase == Phase::InService,
                })
                .collect();
            tx.send_replace(CpuSnapshot {
                at: Some(Utc::now()),
                samples,
                error: None,
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    (rx, task)
}

async fn wait_desired(
    cloud: &TestCloud,
    group: &str,
    want: i32,
    limit: Duration,
    seen: &mut Vec<i32>,
) {
    let deadline = Instant::now() + limit;
    loop {
        let d = desired(cloud, group).await;
        seen.push(d);
        if d == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "desired of {group} is {d}, not {want}, after {limit:?}; seen {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autoscaler_scales_out_under_load_and_back_in_after_the_cooldown() {
    let cloud = TestCloud::provisioned().await;
    let (config, dirs) = config(&cloud, &[Role::Worker]);
    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let mut rx = fleet.subscribe();
    wait_for(&mut rx, BOUND, "1 worker in service", |s| {
        s.in_service(WORKER) == 1
    })
    .await;

    let load = Arc::new(AtomicU64::new(95.0f64.to_bits()));
    let (cpu, feeder) = synthetic_cpu(fleet.subscribe(), load.clone());
    let cooldown = Duration::from_secs(4);
    let mut ac = AutoscalerConfig::new(dirs.runtime.path());
    ac.interval = Duration::from_millis(500);
    ac.scale_in_cooldown = Some(cooldown);
    let decisions_file = ac.decisions_path.clone();
    let scaler = Autoscaler::start(&cloud.clients, &cloud.stack, fleet.subscribe(), cpu, ac);

    // 95 % against the worker's 60 % target: out to 2, then (once warm, still hot) to max 3.
    let mut seen = Vec::new();
    wait_desired(&cloud, WORKER, 3, BOUND * 2, &mut seen).await;
    wait_for(&mut rx, BOUND, "3 workers in service", |s| {
        s.in_service(WORKER) == 3
    })
    .await;
    // Still hot at max: it stays at 3.
    tokio::time::sleep(Duration::from_secs(2)).await;
    seen.push(desired(&cloud, WORKER).await);

    // Load gone: back in to min 1, one step per cooldown.
    load.store(5.0f64.to_bits(), Ordering::Relaxed);
    wait_desired(&cloud, WORKER, 1, BOUND * 2, &mut seen).await;
    wait_for(&mut rx, BOUND, "1 worker left", |s| {
        s.processes(WORKER) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    seen.push(desired(&cloud, WORKER).await);
    assert!(
        seen.iter().all(|d| (1..=3).contains(d)),
        "outside min..max: {seen:?}"
    );
    assert_eq!(*seen.last().unwrap(), 1);

    let state = scaler.subscribe().borrow().clone();
    let changes: Vec<_> = state
        .decisions
        .iter()
        .filter(|d| d.group == WORKER && d.action.changes_capacity())
        .collect();
    assert!(
        changes.iter().all(|d| (1..=3).contains(&d.to)),
        "{changes:#?}"
    );
    let outs: Vec<_> = changes
        .iter()
        .filter(|d| d.action == Action::ScaleOut)
        .collect();
    let ins: Vec<_> = changes
        .iter()
        .filter(|d| d.action == Action::ScaleIn)
        .collect();
    assert!(!outs.is_empty() && !ins.is_empty(), "{changes:#?}");
    assert!(outs
        .iter()
        .all(|d| d.policy.as_deref() == Some("flightdeck-worker-cpu60")));
    assert!(outs
        .iter()
        .all(|d| d.metric == Some(95.0) && d.target == Some(60.0)));
    // Scale-in is cautious: one instance per step, each at least a cooldown after the last change.
    assert!(ins.iter().all(|d| d.from == d.to + 1), "{ins:#?}");
    for pair in changes.windows(2) {
        if pair[1].action == Action::ScaleIn {
            let gap = (pair[1].at - pair[0].at).to_std().unwrap();
            assert!(
                gap >= cooldown,
                "scale-in {gap:?} after the previous change"
            );
        }
    }
    // The same decisions are in the JSON lines file.
    let recorded = autoscaler::read_decisions(&decisions_file);
    let recorded_changes = recorded
        .iter()
        .filter(|d| d.group == WORKER && d.action.changes_capacity())
        .count();
    assert_eq!(recorded_changes, changes.len());

    scaler.stop().await;
    feeder.abort();
    fleet.stop().await;
}

/// One idle worker in service (5 % CPU) and an autoscaler config that evaluates every 300 ms
/// with a 500 ms scale-in cooldown: an idle group the autoscaler would take back to min.
#[allow(clippy::type_complexity)] // a test's setup, taken apart at once by its caller
async fn idle_worker_group() -> (
    TestCloud,
    Fleet,
    watch::Receiver<FleetState>,
    watch::Receiver<CpuSnapshot>,
    tokio::task::JoinHandle<()>,
    AutoscalerConfig,
    Dirs,
) {
    let cloud = TestCloud::provisioned().await;
    let (mut config, dirs) = config(&cloud, &[Role::Worker]);
    config.warmup = Some(Duration::from_millis(200));
    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let mut rx = fleet.subscribe();
    wait_for(&mut rx, BOUND, "1 worker in service", |s| {
        s.in_service(WORKER) == 1
    })
    .await;
    let load = Arc::new(AtomicU64::new(5.0f64.to_bits()));
    let (cpu, feeder) = synthetic_cpu(fleet.subscribe(), load);
    let mut ac = AutoscalerConfig::new(dirs.runtime.path());
    ac.interval = Duration::from_millis(300);
    ac.scale_in_cooldown = Some(Duration::from_millis(500));
    (cloud, fleet, rx, cpu, feeder, ac, dirs)
}

/// As on AWS: with AlarmNotification suspended the policies do not run, so a manual
/// scale-out of an idle group sticks; resumed, the group goes back to min.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_alarm_notification_stops_the_autoscaler() {
    let (cloud, fleet, mut rx, cpu, feeder, ac, _dirs) = idle_worker_group().await;
    cloud
        .clients
        .autoscaling
        .suspend_processes()
        .auto_scaling_group_name(WORKER)
        .scaling_processes("AlarmNotification")
        .send()
        .await
        .unwrap();
    let scaler = Autoscaler::start(&cloud.clients, &cloud.stack, fleet.subscribe(), cpu, ac);

    set_desired(&cloud, WORKER, 2).await;
    wait_for(&mut rx, BOUND, "2 workers in service", |s| {
        s.in_service(WORKER) == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        desired(&cloud, WORKER).await,
        2,
        "the idle group was scaled in"
    );
    let state = scaler.subscribe().borrow().clone();
    let latest = &state.latest[WORKER];
    assert_eq!(latest.action, Action::Suspended, "{latest:?}");
    assert!(latest.reason.contains("AlarmNotification is suspended"));
    let said = state
        .decisions
        .iter()
        .filter(|d| d.group == WORKER && d.action == Action::Suspended)
        .count();
    assert_eq!(said, 1, "said once, not every evaluation");

    cloud
        .clients
        .autoscaling
        .resume_processes()
        .auto_scaling_group_name(WORKER)
        .scaling_processes("AlarmNotification")
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    wait_desired(&cloud, WORKER, 1, BOUND, &mut seen).await;

    scaler.stop().await;
    feeder.abort();
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_instance_takes_traffic_as_soon_as_it_is_healthy() {
    let cloud = TestCloud::provisioned().await;
    let (mut config, dirs) = config(&cloud, &[Role::Api]);
    config.warmup = Some(Duration::from_secs(120));
    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let mut rx = fleet.subscribe();
    let state = wait_for(&mut rx, BOUND, "an API instance healthy", |s| {
        s.group(API).any(|i| i.phase == Phase::Warming)
    })
    .await;
    assert_eq!(state.in_service(API), 0, "still in its warm-up");
    let healthy: Vec<String> = state
        .group(API)
        .filter(|i| i.phase == Phase::Warming)
        .filter_map(|i| i.endpoint.clone())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed = fleet::read_api_endpoints(dirs.runtime.path())
            .map(|e| e.endpoints)
            .unwrap_or_default();
        if healthy.iter().all(|h| listed.contains(h)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "healthy {healthy:?} not listed within 5 s: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The endpoint answers: a load run would reach it.
    let addr = healthy[0].trim_start_matches("http://").to_owned();
    let status = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        String::from_utf8_lossy(&head).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(status, "HTTP/1.1 200", "{status}");
    fleet.stop().await;
}

#[tokio::test]
async fn a_missing_binary_says_how_to_build_it() {
    let cloud = TestCloud::empty().await;
    let (mut config, _dirs) = config(&cloud, &[Role::Worker]);
    let empty = tempfile::tempdir().unwrap();
    config.bin_dir = Some(empty.path().to_path_buf());
    let err = Fleet::start(&cloud.clients, &cloud.stack, config)
        .err()
        .expect("started without binaries")
        .to_string();
    assert!(err.contains("flightdeck-worker not found in"), "{err}");
    assert!(err.contains("cargo build --workspace"), "{err}");
}
