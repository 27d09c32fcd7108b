//! Deterministic synthetic reports shaped like the reference workload (an API group, a worker
//! group, `video_tasks` -> `video_dlq`), for the preview example and for eyeballing layouts.
//! A 15-minute scenario repeats: load ramps, the queue builds, workers scale out, CPU rises,
//! one poison video lands in the DLQ, and everything drains back.

use std::collections::BTreeMap;

use crate::model::{
    ActivityInfo, CallStats, GroupSnapshot, InstanceInfo, MetricKey, MetricPoint, PolicyInfo,
    PolicyKind, QueueSnapshot, RedrivePolicy, Report, SeriesUpdate, Timestamp,
};

const CYCLE_S: f64 = 900.0;
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

pub struct Synthetic {
    pub start: Timestamp,
    /// Scenario seconds per real second.
    pub speed: f64,
}

/// Worker desired capacity steps, in scenario seconds within a cycle: (from, desired).
const WORKER_STEPS: [(f64, u32); 5] = [(0.0, 1), (200.0, 2), (330.0, 3), (620.0, 2), (720.0, 1)];
const API_STEPS: [(f64, u32); 3] = [(0.0, 2), (300.0, 3), (520.0, 2)];
const WARMUP_S: f64 = 60.0;

fn step_at(steps: &[(f64, u32)], s: f64) -> u32 {
    steps
        .iter()
        .rev()
        .find(|(from, _)| s >= *from)
        .map_or(steps[0].1, |(_, d)| *d)
}

/// A repeatable wobble in [-1, 1] from a time and a salt.
fn noise(secs: i64, salt: u64) -> f64 {
    let mut x = (secs as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ salt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % 2001) as f64 / 1000.0 - 1.0
}

fn smooth(a: f64, b: f64, s: f64) -> f64 {
    ((s - a) / (b - a)).clamp(0.0, 1.0)
}

impl Synthetic {
    pub fn new(start: Timestamp, speed: f64) -> Self {
        Synthetic { start, speed }
    }

    fn scenario(&self, t: Timestamp) -> f64 {
        ((t - self.start).num_milliseconds() as f64 / 1000.0 * self.speed).rem_euclid(CYCLE_S)
    }

    /// Real time at which the current cycle's scenario second `s` happened.
    fn real_at(&self, t: Timestamp, s: f64) -> Timestamp {
        let back = (self.scenario(t) - s) / self.speed;
        t - chrono::Duration::milliseconds((back * 1000.0) as i64)
    }

    /// Upload load in [0, 1].
    fn load(&self, s: f64) -> f64 {
        0.1 + 0.9 * (smooth(60.0, 240.0, s) - smooth(420.0, 540.0, s))
    }

    fn visible(&self, s: f64) -> u64 {
        (160.0 * (smooth(80.0, 330.0, s) - smooth(360.0, 600.0, s)))
            .round()
            .max(0.0) as u64
    }

    fn group(&self, t: Timestamp, name: &str, steps: &[(f64, u32)], salt: u64) -> GroupSnapshot {
        let s = self.scenario(t);
        let desired = step_at(steps, s);
        let in_service = step_at(steps, s - WARMUP_S).min(desired).max(1);
        let mut instances = Vec::new();
        let mut activities = Vec::new();
        // After a scale-in, the surplus instances show as terminating for 40 s.
        let shown = desired.max(step_at(steps, s - 40.0));
        for slot in 0..shown {
            let id = format!(
                "i-0{salt:x}{:015x}",
                0x00a1_b2c3_d4e5_f000_u64 + u64::from(slot)
            );
            let az = if slot % 2 == 0 {
                "us-east-1a"
            } else {
                "us-east-1b"
            };
            let first_needed = steps
                .iter()
                .find(|(_, d)| *d > slot)
                .map_or(0.0, |(from, _)| *from);
            let launched = if slot < steps[0].1 {
                self.start - chrono::Duration::hours(2)
            } else {
                self.real_at(t, first_needed)
            };
            let lifecycle = if slot >= desired {
                "Terminating"
            } else if slot >= in_service {
                "Pending"
            } else {
                "InService"
            };
            if slot >= steps[0].1 {
                activities.push(ActivityInfo {
                    start: launched,
                    status: if lifecycle == "Pending" {
                        "InProgress".to_owned()
                    } else {
                        "Successful".to_owned()
                    },
                    description: format!("Launching a new EC2 instance: {id}"),
                });
            }
            instances.push(InstanceInfo {
                id,
                lifecycle_state: lifecycle.to_owned(),
                health: "Healthy".to_owned(),
                az: az.to_owned(),
                launch_time: Some(launched),
                instance_type: if salt == 1 { "t3.small" } else { "t3.large" }.to_owned(),
            });
        }
        let api = salt == 1;
        let mut policies = vec![PolicyInfo {
            name: "cpu-target".to_owned(),
            kind: PolicyKind::TargetTrackingCpu {
                target: if api { 50.0 } else { 60.0 },
            },
            warmup_s: Some(120),
        }];
        if !api {
            policies.push(PolicyInfo {
                name: "backlog-per-instance".to_owned(),
                kind: PolicyKind::TargetTrackingCustom {
                    metric: "BacklogPerInstance".to_owned(),
                    target: 10.0,
                },
                warmup_s: Some(120),
            });
        }
        GroupSnapshot {
            name: name.to_owned(),
            min: steps[0].1,
            desired,
            max: if api { 4 } else { 3 },
            instances,
            policies,
            default_cooldown_s: if api { 120 } else { 300 },
            health_check_type: if api { "ELB" } else { "EC2" }.to_owned(),
            activities,
            suspended: Vec::new(),
            read_at: None,
        }
    }

    pub fn groups(&self, t: Timestamp) -> Vec<GroupSnapshot> {
        vec![
            self.group(t, "api-asg", &API_STEPS, 1),
            self.group(t, "worker-asg", &WORKER_STEPS, 2),
        ]
    }

    fn queue(name: &str) -> QueueSnapshot {
        QueueSnapshot {
            name: name.to_owned(),
            url: format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"),
            arn: format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            visible: 0,
            in_flight: 0,
            delayed: 0,
            oldest_age_s: None,
            visibility_timeout_s: 60,
            retention_s: 14 * 86_400,
            receive_wait_s: 20,
            redrive: None,
            is_dlq: false,
            read_at: None,
        }
    }

    pub fn queues(&self, t: Timestamp) -> Vec<QueueSnapshot> {
        let s = self.scenario(t);
        let workers = u64::from(step_at(&WORKER_STEPS, s - WARMUP_S));
        let visible = self.visible(s);
        let tasks = QueueSnapshot {
            visible,
            in_flight: if visible > 0 {
                2 * workers
            } else {
                u64::from(self.load(s) > 0.5)
            },
            delayed: 0,
            oldest_age_s: (visible > 0).then(|| ((s - 80.0).max(0.0) / 3.0) as u64),
            redrive: Some(RedrivePolicy {
                dlq_arn: format!("arn:aws:sqs:{REGION}:{ACCOUNT}:video_dlq"),
                max_receive_count: 5,
            }),
            ..Synthetic::queue("video_tasks")
        };
        let poison = u64::from(s >= 480.0);
        let dlq = QueueSnapshot {
            visible: poison,
            oldest_age_s: (poison > 0).then(|| ((s - 480.0) / self.speed) as u64),
            receive_wait_s: 0,
            is_dlq: true,
            ..Synthetic::queue("video_dlq")
        };
        vec![tasks, dlq]
    }

    fn cpu(&self, group: &str, t: Timestamp, salt: u64) -> f64 {
        let s = self.scenario(t);
        let v = if group.starts_with("api") {
            14.0 + 45.0 * self.load(s) / (f64::from(step_at(&API_STEPS, s - WARMUP_S)) / 2.0)
        } else if self.visible(s) > 0 {
            82.0 - 8.0 * f64::from(step_at(&WORKER_STEPS, s - WARMUP_S))
        } else {
            9.0
        };
        (v + 3.0 * noise(t.timestamp(), salt)).clamp(0.0, 100.0)
    }

    /// CPU points every `period_s` in `(from, to]`, per group and per current instance.
    pub fn metrics(&self, from: Timestamp, to: Timestamp, period_s: u32) -> Vec<SeriesUpdate> {
        let p = i64::from(period_s.max(1));
        let first = from.timestamp().div_euclid(p) * p + p;
        let times: Vec<Timestamp> = (first..=to.timestamp())
            .step_by(p as usize)
            .filter_map(|s| chrono::DateTime::from_timestamp(s, 0))
            .collect();
        let mut out = Vec::new();
        for g in self.groups(to) {
            let points = times
                .iter()
                .map(|&t| MetricPoint {
                    t,
                    value: self.cpu(&g.name, t, 7),
                })
                .collect();
            out.push(SeriesUpdate {
                key: MetricKey::group_cpu(&g.name),
                points,
            });
            for (k, i) in g.instances.iter().enumerate() {
                let points = times
                    .iter()
                    .rev()
                    .take(3)
                    .map(|&t| MetricPoint {
                        t,
                        value: (self.cpu(&g.name, t, 11 + k as u64) + 4.0 * k as f64).min(100.0),
                    })
                    .collect();
                out.push(SeriesUpdate {
                    key: MetricKey::instance_cpu(&g.name, &i.id),
                    points,
                });
            }
        }
        out
    }

    pub fn calls(&self) -> CallStats {
        let per_api: BTreeMap<String, u32> = [
            ("DescribeAutoScalingGroups", 12),
            ("DescribePolicies", 2),
            ("DescribeScalingActivities", 6),
            ("GetMetricData", 6),
            ("GetQueueAttributes", 24),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        CallStats {
            per_api,
            failed: BTreeMap::new(),
        }
    }

    /// One poll's worth of reports at `t`: groups, queues, calls, and metrics since `since`.
    pub fn reports(&self, t: Timestamp, since: Timestamp, period_s: u32) -> Vec<Report> {
        vec![
            Report::Groups {
                at: t,
                groups: self.groups(t),
            },
            Report::Queues {
                at: t,
                queues: self.queues(t),
            },
            Report::Metrics {
                at: t,
                period_s,
                series: self.metrics(since, t, period_s),
            },
            Report::Calls {
                at: t,
                stats: self.calls(),
            },
        ]
    }
}
