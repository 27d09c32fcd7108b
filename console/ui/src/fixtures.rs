//! Fixed data and a fixed clock for the tests: the reference stack at 2026-11-22 13:00:00 UTC,
//! the worker group having just scaled out from 1 to 2 with the queue backed up.

use chrono::TimeZone;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::model::*;
use crate::{update, Event, State, ThemeSet, UiConfig};

pub fn t0() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 22, 13, 0, 0)
        .single()
        .expect("valid time")
}

/// `t0` plus `secs` (negative = before).
pub fn t(secs: i64) -> Timestamp {
    t0() + chrono::Duration::seconds(secs)
}

fn instance(id: &str, state: &str, az: &str, kind: &str, launched: i64) -> InstanceInfo {
    InstanceInfo {
        id: id.to_owned(),
        lifecycle_state: state.to_owned(),
        health: "Healthy".to_owned(),
        az: az.to_owned(),
        launch_time: Some(t(launched)),
        instance_type: kind.to_owned(),
    }
}

pub fn api(desired: u32) -> GroupSnapshot {
    GroupSnapshot {
        name: "api-asg".to_owned(),
        min: 2,
        desired,
        max: 4,
        instances: vec![
            instance(
                "i-0a1b2c3d4e5f60001",
                "InService",
                "us-east-1a",
                "t3.small",
                -86_400,
            ),
            instance(
                "i-0a1b2c3d4e5f60002",
                "InService",
                "us-east-1b",
                "t3.small",
                -86_400,
            ),
        ],
        policies: vec![PolicyInfo {
            name: "cpu50".to_owned(),
            kind: PolicyKind::TargetTrackingCpu { target: 50.0 },
            warmup_s: Some(120),
        }],
        default_cooldown_s: 120,
        health_check_type: "ELB".to_owned(),
        activities: Vec::new(),
        suspended: Vec::new(),
        read_at: None,
    }
}

/// The worker group with `desired` capacity, of which `in_service` are in service (the rest pending).
pub fn worker(desired: u32, in_service: u32) -> GroupSnapshot {
    let mut instances = vec![instance(
        "i-0f9e8d7c6b5a40001",
        "InService",
        "us-east-1a",
        "t3.large",
        -7200,
    )];
    if desired > 1 {
        let state = if in_service > 1 {
            "InService"
        } else {
            "Pending"
        };
        instances.push(instance(
            "i-0f9e8d7c6b5a40002",
            state,
            "us-east-1b",
            "t3.large",
            -120,
        ));
    }
    GroupSnapshot {
        name: "worker-asg".to_owned(),
        min: 1,
        desired,
        max: 3,
        instances,
        policies: vec![
            PolicyInfo {
                name: "cpu60".to_owned(),
                kind: PolicyKind::TargetTrackingCpu { target: 60.0 },
                warmup_s: Some(120),
            },
            PolicyInfo {
                name: "backlog".to_owned(),
                kind: PolicyKind::TargetTrackingCustom {
                    metric: "BacklogPerInstance".to_owned(),
                    target: 10.0,
                },
                warmup_s: Some(120),
            },
        ],
        default_cooldown_s: 300,
        health_check_type: "EC2".to_owned(),
        activities: if desired > 1 {
            vec![ActivityInfo {
                start: t(-120),
                status: if in_service > 1 {
                    "Successful"
                } else {
                    "InProgress"
                }
                .to_owned(),
                description: "Launching a new EC2 instance: i-0f9e8d7c6b5a40002".to_owned(),
            }]
        } else {
            Vec::new()
        },
        suspended: Vec::new(),
        read_at: None,
    }
}

fn queue(name: &str) -> QueueSnapshot {
    QueueSnapshot {
        name: name.to_owned(),
        url: format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}"),
        arn: format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
        visible: 0,
        in_flight: 0,
        delayed: 0,
        oldest_age_s: None,
        visibility_timeout_s: 60,
        retention_s: 1_209_600,
        receive_wait_s: 20,
        redrive: None,
        is_dlq: false,
        read_at: None,
    }
}

pub fn tasks(visible: u64, in_flight: u64) -> QueueSnapshot {
    QueueSnapshot {
        visible,
        in_flight,
        oldest_age_s: (visible > 0).then_some(95),
        redrive: Some(RedrivePolicy {
            dlq_arn: "arn:aws:sqs:us-east-1:123456789012:video_dlq".to_owned(),
            max_receive_count: 5,
        }),
        ..queue("video_tasks")
    }
}

pub fn dlq(visible: u64) -> QueueSnapshot {
    QueueSnapshot {
        visible,
        oldest_age_s: (visible > 0).then_some(1800),
        receive_wait_s: 0,
        is_dlq: true,
        ..queue("video_dlq")
    }
}

/// A CPU series every 60 s over the last hour, piecewise linear so it renders the same everywhere.
fn cpu_series(key: MetricKey, shape: impl Fn(i64) -> f64) -> SeriesUpdate {
    let points = (0..=60)
        .map(|m| MetricPoint {
            t: t(-3600 + m * 60),
            value: shape(m),
        })
        .collect();
    SeriesUpdate { key, points }
}

pub fn metrics() -> Report {
    let series = vec![
        cpu_series(MetricKey::group_cpu("api-asg"), |m| {
            30.0 + ((m % 20) - 10).abs() as f64
        }),
        cpu_series(MetricKey::group_cpu("worker-asg"), |m| {
            if m < 30 {
                12.0
            } else {
                (12 + (m - 30) * 3).min(88) as f64
            }
        }),
        cpu_series(
            MetricKey::instance_cpu("worker-asg", "i-0f9e8d7c6b5a40001"),
            |_| 91.0,
        ),
        cpu_series(MetricKey::of("worker-asg", JOBS_SUCCEEDED_METRIC), |m| {
            if m < 30 {
                0.0
            } else {
                12.0
            }
        }),
    ];
    Report::Metrics {
        at: t(-10),
        period_s: 60,
        series,
    }
}

pub fn calls() -> CallStats {
    let per_api = [
        ("DescribeAutoScalingGroups", 12),
        ("GetMetricData", 2),
        ("GetQueueAttributes", 24),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    CallStats {
        per_api,
        failed: Default::default(),
    }
}

fn dead_letter(id: &str, age_s: i64, receives: u32, reason: &str, video: &str) -> DlqMessage {
    let body = format!(
        r#"{{"version":1,"video_id":"{video}","source":{{"bucket":"flightdeck-videos","key":"uploads/2026/11/22/{video}.mp4"}},"correlation_id":"c-{video}"}}"#
    );
    let attributes = [
        ("failure_reason", reason),
        ("failure_class", "permanent"),
        ("worker_instance", "i-0f9e8d7c6b5a40001"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    DlqMessage {
        id: id.to_owned(),
        sent_at: Some(t(-age_s)),
        receive_count: receives,
        size: body.len(),
        attributes,
        body,
    }
}

/// The three dead letters of the reference story, as a peek of `video_dlq` saw them.
pub fn dead_letters() -> Report {
    Report::Dlq {
        at: t(-3),
        queue: "video_dlq".to_owned(),
        messages: vec![
            dead_letter(
                "3f2a9c1e-0000-4000-8000-000000000001",
                1800,
                6,
                "not a video: no MP4, MOV or AVI container",
                "v-101",
            ),
            dead_letter(
                "7b41d0aa-0000-4000-8000-000000000002",
                900,
                6,
                "corrupt: invalid NAL unit size",
                "v-102",
            ),
            dead_letter(
                "c9e07f35-0000-4000-8000-000000000003",
                120,
                1,
                "not a video: no MP4, MOV or AVI container",
                "v-103",
            ),
        ],
    }
}

pub fn empty_state() -> State {
    State::new(UiConfig::default(), ThemeSet::builtin(), t0()).expect("default theme exists")
}

pub fn feed(state: &mut State, reports: impl IntoIterator<Item = Report>) {
    for r in reports {
        update(state, Event::Report(r));
    }
}

/// The reference story at t0: worker scaled 1 -> 2 two minutes ago, the new instance in service
/// five seconds ago, 84 messages visible, 3 dead letters.
pub fn loaded_state() -> State {
    let mut s = empty_state();
    feed(
        &mut s,
        [
            Report::Groups {
                at: t(-300),
                groups: vec![api(2), worker(1, 1)],
            },
            Report::Groups {
                at: t(-120),
                groups: vec![api(2), worker(2, 1)],
            },
            Report::Groups {
                at: t(-5),
                groups: vec![api(2), worker(2, 2)],
            },
            Report::Queues {
                at: t(-65),
                queues: vec![tasks(60, 2), dlq(2)],
            },
            Report::Queues {
                at: t(-35),
                queues: vec![tasks(96, 2), dlq(3)],
            },
            Report::Queues {
                at: t(-5),
                queues: vec![tasks(84, 4), dlq(3)],
            },
            metrics(),
            dead_letters(),
            Report::Calls {
                at: t(-2),
                stats: calls(),
            },
        ],
    );
    update(&mut s, Event::Tick(t0()));
    s
}

/// The demo's story over ten minutes, reported every 15 s: a load run starts at -9m, the queue
/// builds, the worker group steps 1 -> 2 -> 3 (each new instance pending for a minute), CPU
/// rises, a poison video reaches the DLQ at -3m20s, the run ends at -2m30s, the queue drains,
/// the worker group steps back to 2, and the operator redrives the DLQ at -1m.
pub fn story_state() -> State {
    let mut s = empty_state();
    let worker_at = |secs: i64| -> (u32, u32) {
        match secs {
            ..=-421 => (1, 1),
            -420..=-361 => (2, 1),
            -360..=-301 => (2, 2),
            -300..=-241 => (3, 2),
            -240..=-91 => (3, 3),
            _ => (2, 2),
        }
    };
    let depth_at = |secs: i64| -> u64 {
        let m = secs + 600;
        match m {
            ..=60 => 0,
            61..=300 => ((m - 60) / 2) as u64,
            301..=450 => (120 - (m - 300) / 3) as u64,
            _ => (70 - (m - 450)).max(0) as u64 / 2,
        }
    };
    let mut reports = Vec::new();
    for secs in (-600..=0).step_by(15) {
        let (desired, in_service) = worker_at(secs);
        let mut w = worker(desired.min(2), in_service.min(2));
        w.desired = desired;
        for i in 2..desired {
            let phase = if i < in_service {
                "InService"
            } else {
                "Pending"
            };
            w.instances.push(InstanceInfo {
                id: format!("i-0f9e8d7c6b5a4000{}", i + 1),
                lifecycle_state: phase.to_owned(),
                health: "Healthy".to_owned(),
                az: "us-east-1c".to_owned(),
                launch_time: Some(t(-300)),
                instance_type: "t3.large".to_owned(),
            });
        }
        if secs > -90 && secs < -60 {
            w.instances.push(InstanceInfo {
                id: "i-0f9e8d7c6b5a40003".to_owned(),
                lifecycle_state: "Terminating".to_owned(),
                health: "Healthy".to_owned(),
                az: "us-east-1c".to_owned(),
                launch_time: Some(t(-300)),
                instance_type: "t3.large".to_owned(),
            });
        }
        w.activities.clear();
        reports.push(Report::Groups {
            at: t(secs),
            groups: vec![api(2), w],
        });
        let visible = depth_at(secs);
        let dead = if secs >= -200 { 1 } else { 0 };
        let dead = if secs >= -60 { 0 } else { dead };
        reports.push(Report::Queues {
            at: t(secs),
            queues: vec![tasks(visible, u64::from(in_service.min(3)) * 2), dlq(dead)],
        });
    }
    let series = vec![
        cpu_series(MetricKey::group_cpu("api-asg"), |m| {
            if (51..58).contains(&m) {
                45.0
            } else {
                20.0
            }
        }),
        cpu_series(MetricKey::group_cpu("worker-asg"), |m| match m {
            ..=50 => 8.0,
            51..=53 => 40.0 + (m - 51) as f64 * 20.0,
            54..=57 => 85.0,
            _ => 55.0,
        }),
        // The jobs the workers finished each minute, as they publish them.
        cpu_series(MetricKey::of("worker-asg", JOBS_SUCCEEDED_METRIC), |m| {
            [0.0, 4.0, 8.0, 12.0, 18.0, 18.0, 18.0, 14.0, 10.0, 6.0]
                .get(usize::try_from(m - 51).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or(0.0)
        }),
    ];
    reports.push(Report::Metrics {
        at: t(-10),
        period_s: 60,
        series: series
            .into_iter()
            .map(|mut u| {
                u.points.retain(|p| p.t >= t(-600));
                u
            })
            .collect(),
    });
    let decision = |at: i64, from: u32, to: u32, reason: &str| ScalingDecision {
        at: t(at),
        group: "worker-asg".to_owned(),
        policy: Some("backlog".to_owned()),
        metric: None,
        target: Some(10.0),
        from,
        to,
        reason: reason.to_owned(),
    };
    reports.push(Report::Autoscaler {
        at: t(-90),
        decisions: vec![
            decision(-425, 1, 2, "backlog 24 per instance > 10"),
            decision(-305, 2, 3, "backlog 30 per instance > 10"),
            decision(-95, 3, 2, "backlog 2 per instance < 10"),
        ],
    });
    let run = |at: i64, phase: &str, finished: bool| Report::Load {
        at: t(at),
        status: Box::new(LoadStatus {
            scenario: "steady".to_owned(),
            phase: phase.to_owned(),
            finished,
            started: Some(t(-540)),
            sent: 4_210,
            done: 4_210,
            ok: 4_208,
            failed: 2,
            processed: 4_207,
            ..LoadStatus::default()
        }),
    };
    reports.push(run(-540, "running", false));
    reports.push(run(-150, "finished", true));
    reports.push(Report::Redrive {
        at: t(-55),
        status: RedriveStatus {
            from: "video_dlq".to_owned(),
            to: "video_tasks".to_owned(),
            mode: "move task".to_owned(),
            note: None,
            dry_run: false,
            moved: 1,
            remaining: Some(0),
            duplicates: 0,
            per_s: 1.0,
            started: t(-60),
            state: JobState::Done,
        },
    });
    // In time order, as the agents would have sent them.
    reports.sort_by_key(Report::at);
    for r in reports {
        update(&mut s, Event::Tick(r.at()));
        update(&mut s, Event::Report(r));
    }
    update(&mut s, Event::Tick(t0()));
    s
}

pub fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Types each character of `text` as a key.
pub fn type_text(state: &mut State, text: &str) -> Vec<crate::Command> {
    text.chars().flat_map(|c| update(state, key(c))).collect()
}
