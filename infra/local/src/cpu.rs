//! EC2-like CPU metrics for the local fleet: every 10 s, each instance's CPU time from
//! `/proc/<pid>/stat` (the process, its reaped children and its live descendants) as a
//! percentage of the instance's share of the machine ([`crate::fleet::Machine`]), published
//! to CloudWatch as `AWS/EC2 CPUUtilization` in one PutMetricData per interval. Talks to
//! /proc and CloudWatch; reads the fleet's state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::primitives::DateTime as AwsDateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stack::metrics::{CPU_UTILIZATION, DIM_ASG_NAME, DIM_INSTANCE_ID, EC2_NAMESPACE};
use stack::Clients;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::fleet::{FleetState, Phase};

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every Linux ABI.
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system, clock ticks) of `pid`, its children it has waited for, and its
/// live descendants.
pub fn cpu_ticks(pid: u32) -> std::io::Result<u64> {
    let own = read_stat(pid)?;
    let mut total = own.ticks + own.children_ticks;
    for (child, parent) in all_parents() {
        if parent == pid {
            total += descendant_ticks(child, 0);
        }
    }
    Ok(total)
}

fn descendant_ticks(pid: u32, depth: u32) -> u64 {
    // Descendants are rare here (FFmpeg runs in process); the depth bound keeps a strange
    // /proc from looping.
    let Ok(stat) = read_stat(pid) else { return 0 };
    let mut total = stat.ticks + stat.children_ticks;
    if depth < 8 {
        for (child, parent) in all_parents() {
            if parent == pid {
                total += descendant_ticks(child, depth + 1);
            }
        }
    }
    total
}

struct Stat {
    ppid: u32,
    ticks: u64,
    children_ticks: u64,
}

/// Fields of `/proc/<pid>/stat` after the parenthesised name: state(3) ppid(4) ...
/// utime(14) stime(15) cutime(16) cstime(17), numbered as in proc(5).
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(Stat {
        ppid: u32::try_from(field(4)?).ok()?,
        ticks: field(14)? + field(15)?,
        children_ticks: field(16)? + field(17)?,
    })
}

fn read_stat(pid: u32) -> std::io::Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| std::io::Error::other(format!("cannot parse /proc/{pid}/stat")))
}

fn all_parents() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid).ok()?.ppid)))
        .collect()
}

/// CPU utilisation in percent of `share_cores` for `ticks` of CPU time over `elapsed`,
/// clamped to 0..=100 like EC2's (an instance cannot use more than its cores).
pub fn utilisation(ticks: u64, elapsed: Duration, share_cores: f64) -> f64 {
    let wall = elapsed.as_secs_f64() * share_cores.max(f64::MIN_POSITIVE);
    if wall <= 0.0 {
        return 0.0;
    }
    (ticks as f64 / CLOCK_TICKS_PER_SECOND / wall * 100.0).clamp(0.0, 100.0)
}

/// One instance's CPU over the last interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuSample {
    pub instance_id: String,
    pub group: String,
    pub percent: f64,
    /// Whether the instance was past its warm-up (only those count for target tracking).
    pub in_service: bool,
}

/// The latest interval's samples, as the publisher measured them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuSnapshot {
    pub at: Option<DateTime<Utc>>,
    pub samples: Vec<CpuSample>,
    /// The last PutMetricData failure, if the latest one failed.
    pub error: Option<String>,
}

impl CpuSnapshot {
    /// Average CPU of `group`'s in-service instances: target tracking's
    /// `ASGAverageCPUUtilization`, which leaves out instances still warming up.
    pub fn group_average(&self, group: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.group == group && s.in_service)
            .map(|s| s.percent)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

#[derive(Debug, Clone)]
pub struct CpuConfig {
    pub interval: Duration,
    /// Cores that make 100 % for one instance ([`crate::fleet::Machine::share_cores`]).
    pub share_cores: f64,
}

/// The CPU publisher's handle: its latest samples, and `stop`.
pub struct CpuPublisher {
    cancel: CancellationToken,
    snapshot: watch::Receiver<CpuSnapshot>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CpuPublisher {
    pub fn start(
        clients: &Clients,
        fleet: watch::Receiver<FleetState>,
        config: CpuConfig,
    ) -> CpuPublisher {
        let (tx, rx) = watch::channel(CpuSnapshot::default());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(publish_loop(
            clients.cloudwatch.clone(),
            fleet,
            config,
            tx,
            cancel.clone(),
        ));
        CpuPublisher {
            cancel,
            snapshot: rx,
            task: Some(task),
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<CpuSnapshot> {
        self.snapshot.clone()
    }

    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for CpuPublisher {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn publish_loop(
    cloudwatch: aws_sdk_cloudwatch::Client,
    mut fleet: watch::Receiver<FleetState>,
    config: CpuConfig,
    tx: watch::Sender<CpuSnapshot>,
    cancel: CancellationToken,
) {
    // The previous reading per instance: (pid, ticks, when).
    let mut previous: HashMap<String, (u32, u64, Instant)> = HashMap::new();
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
            changed = fleet.changed() => {
                if changed.is_err() {
                    return;
                }
                // A new instance gets its first reading now, so its first sample comes one
                // interval later rather than two.
                let state = fleet.borrow_and_update().clone();
                for i in &state.instances {
                    if let (Some(pid), false) = (i.pid, previous.contains_key(&i.instance_id)) {
                        if let Ok(ticks) = cpu_ticks(pid) {
                            previous.insert(i.instance_id.clone(), (pid, ticks, Instant::now()));
                        }
                    }
                }
                continue;
            }
        }
        let state = fleet.borrow().clone();
        let now = Instant::now();
        let mut samples = Vec::new();
        let mut seen = HashMap::new();
        for instance in &state.instances {
            let Some(pid) = instance.pid else { continue };
            if instance.phase == Phase::Stopping {
                continue;
            }
            let Ok(ticks) = cpu_ticks(pid) else { continue };
            if let Some((prev_pid, prev_ticks, when)) = previous.get(&instance.instance_id) {
                if *prev_pid == pid && ticks >= *prev_ticks {
                    samples.push(CpuSample {
                        instance_id: instance.instance_id.clone(),
                        group: instance.group.clone(),
                        percent: utilisation(
                            ticks - prev_ticks,
                            now.duration_since(*when),
                            config.share_cores,
                        ),
                        in_service: instance.phase == Phase::InService,
                    });
                }
            }
            seen.insert(instance.instance_id.clone(), (pid, ticks, now));
        }
        previous = seen;
        if samples.is_empty() {
            continue;
        }
        let at = Utc::now();
        let error = put(&cloudwatch, &samples, at).await.err();
        if let Some(e) = &error {
            tracing::warn!("cpu: PutMetricData failed: {e}");
        }
        tx.send_replace(CpuSnapshot {
            at: Some(at),
            samples,
            error,
        });
    }
}

/// The interval's data in one PutMetricData: each instance by `InstanceId` alone (the
/// dimension EC2 publishes an instance's CPU under, which the console's group view reads), and
/// each group's average by `AutoScalingGroupName` alone, the aggregate EC2 publishes for Auto
/// Scaling groups (and the one the console charts).
pub fn datums(samples: &[CpuSample], at: DateTime<Utc>) -> Vec<MetricDatum> {
    let ts = AwsDateTime::from_millis(at.timestamp_millis());
    let mut out = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    for s in samples {
        out.push(
            MetricDatum::builder()
                .metric_name(CPU_UTILIZATION)
                .dimensions(
                    Dimension::builder()
                        .name(DIM_INSTANCE_ID)
                        .value(&s.instance_id)
                        .build(),
                )
                .timestamp(ts)
                .unit(StandardUnit::Percent)
                .value(s.percent)
                .build(),
        );
        if !groups.contains(&s.group.as_str()) {
            groups.push(&s.group);
        }
    }
    for g in groups {
        let values: Vec<f64> = samples
            .iter()
            .filter(|s| s.group == g)
            .map(|s| s.percent)
            .collect();
        let avg = values.iter().sum::<f64>() / values.len().max(1) as f64;
        out.push(
            MetricDatum::builder()
                .metric_name(CPU_UTILIZATION)
                .dimensions(Dimension::builder().name(DIM_ASG_NAME).value(g).build())
                .timestamp(ts)
                .unit(StandardUnit::Percent)
                .value(avg)
                .build(),
        );
    }
    out
}

async fn put(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    samples: &[CpuSample],
    at: DateTime<Utc>,
) -> Result<(), String> {
    // PutMetricData takes up to 1,000 data; a local fleet has at most a few dozen.
    cloudwatch
        .put_metric_data()
        .namespace(EC2_NAMESPACE)
        .set_metric_data(Some(datums(samples, at)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| stack::errors::describe(&e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_spaces_and_parens_in_the_name() {
        let line = "4242 (flightdeck (w) x) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 9 0 1234 0 0";
        let s = parse_stat(line).unwrap_or_else(|| panic!("unparsed"));
        assert_eq!(s.ppid, 17);
        assert_eq!(s.ticks, 300);
        assert_eq!(s.children_ticks, 10);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn utilisation_is_cpu_seconds_over_the_share_and_clamped() {
        // 5 CPU-seconds in 10 s on a one-core share: 50 %.
        assert!((utilisation(500, Duration::from_secs(10), 1.0) - 50.0).abs() < 1e-9);
        // The same on a two-core share: 25 %.
        assert!((utilisation(500, Duration::from_secs(10), 2.0) - 25.0).abs() < 1e-9);
        // More than the share (other cores were free): 100 %, as EC2 never reports more.
        assert_eq!(utilisation(3000, Duration::from_secs(10), 1.0), 100.0);
        assert_eq!(utilisation(5, Duration::ZERO, 1.0), 0.0);
    }

    #[test]
    fn a_busy_thread_shows_up_in_this_process_ticks() {
        let pid = std::process::id();
        let before = cpu_ticks(pid).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = cpu_ticks(pid).unwrap_or_else(|e| panic!("{e}"));
        // 300 ms of spinning is 30 ticks; allow for scheduling on a busy machine.
        assert!(after >= before + 10, "before {before}, after {after}");
    }

    #[test]
    fn group_average_counts_in_service_instances_only() {
        let s = |id: &str, group: &str, percent, in_service| CpuSample {
            instance_id: id.into(),
            group: group.into(),
            percent,
            in_service,
        };
        let snap = CpuSnapshot {
            at: None,
            samples: vec![
                s("a", "w", 80.0, true),
                s("b", "w", 40.0, true),
                s("c", "w", 0.0, false),
                s("d", "api", 10.0, true),
            ],
            error: None,
        };
        assert_eq!(snap.group_average("w"), Some(60.0));
        assert_eq!(snap.group_average("api"), Some(10.0));
        assert_eq!(snap.group_average("none"), None);
        let d = datums(&snap.samples, Utc::now());
        // Four instances and two group aggregates.
        assert_eq!(d.len(), 6);
        let aggregate = d
            .iter()
            .find(|d| d.dimensions().len() == 1 && d.dimensions()[0].value() == Some("w"))
            .unwrap_or_else(|| panic!("no aggregate"));
        assert!((aggregate.value().unwrap_or_default() - 40.0).abs() < 1e-9);
    }
}
