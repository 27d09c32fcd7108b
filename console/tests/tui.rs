//! The live console in a real terminal (tmux): it shows the local cloud's groups and queues,
//! and `q` ends it with the terminal restored (no raw mode, no alternate screen).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use local_cloud::testing::TestCloud;

mod common;
use common::{tmux, wait_for_pane, Session};

#[tokio::test]
async fn the_console_shows_groups_and_queues_and_q_restores_the_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let cloud = TestCloud::provisioned().await;
    let config_home = tempfile::tempdir().unwrap();
    let session = format!("flightdeck-test-{}", std::process::id());
    let bin = assert_cmd::cargo::cargo_bin("flightdeck");
    // After the console exits, the shell prints its status and the terminal's mode.
    let script = format!(
        "env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u NO_COLOR XDG_CONFIG_HOME={} \
         AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test {} --endpoint {}; \
         echo \"exited=$?\"; stty -a | tr ' ' '\\n' | grep -x -e '-\\?icanon' -e '-\\?echo'; echo modes-done; sleep 60",
        config_home.path().display(),
        bin.display(),
        cloud.endpoint()
    );
    let _session = Session::start(&session, 100, 30, &script);

    let pane = tokio::task::spawn_blocking({
        let session = session.clone();
        move || {
            wait_for_pane(&session, "both groups and video_tasks", |p| {
                p.contains("flightdeck-api")
                    && p.contains("flightdeck-worker")
                    && p.contains("video_tasks")
            })
        }
    })
    .await
    .unwrap();
    assert_eq!(
        tmux(&["display-message", "-p", "-t", &session, "#{alternate_on}"]).trim(),
        "1",
        "the console should draw on the alternate screen:\n{pane}"
    );

    tmux(&["send-keys", "-t", &session, "q"]);
    let pane = tokio::task::spawn_blocking({
        let session = session.clone();
        // Wait for the line printed after the terminal modes, so they are all on screen.
        move || {
            wait_for_pane(&session, "the exit status and terminal modes", |p| {
                p.contains("modes-done")
            })
        }
    })
    .await
    .unwrap();
    assert!(pane.contains("exited=0"), "{pane}");
    let modes: Vec<&str> = pane
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with("icanon") || l.ends_with("echo"))
        .collect();
    assert_eq!(modes, ["icanon", "echo"], "raw mode left on:\n{pane}");
    assert_eq!(
        tmux(&["display-message", "-p", "-t", &session, "#{alternate_on}"]).trim(),
        "0",
        "the alternate screen was not left"
    );
    assert!(
        !pane.contains("flightdeck-worker"),
        "the dashboard is still on screen:\n{pane}"
    );
}

#[test]
fn demo_in_a_terminal_opens_the_console_and_quitting_stops_the_local_cloud() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let runtime = tempfile::tempdir().unwrap();
    let session = format!("flightdeck-demo-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_ENDPOINT_URL -u AWS_PROFILE FLIGHTDECK_RUNTIME_DIR={} XDG_CONFIG_HOME={} \
         FLIGHTDECK_LOG_DIR={} {} demo; echo \"exited=$?\"; sleep 60",
        runtime.path().display(),
        runtime.path().display(),
        local_cloud::paths::test_logs_dir().display(),
        assert_cmd::cargo::cargo_bin("flightdeck").display(),
    );
    let _session = Session::start(&session, 100, 30, &script);

    // The demo's console, on its own local cloud (recorded in the runtime dir).
    wait_for_pane(&session, "the demo's dashboard", |p| {
        p.contains("flightdeck-worker") && p.contains("video_tasks")
    });
    let record = std::fs::read_to_string(runtime.path().join("running.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    let emulator = record["emulator_pid"].as_u64().expect("an emulator pid");
    assert!(std::path::Path::new(&format!("/proc/{emulator}")).exists());

    tmux(&["send-keys", "-t", &session, "q"]);
    let pane = wait_for_pane(&session, "the exit status", |p| p.contains("exited="));
    assert!(pane.contains("exited=0"), "{pane}");
    assert!(pane.contains("Local cloud stopped."), "{pane}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{emulator}")).exists() {
        assert!(
            Instant::now() < deadline,
            "emulator {emulator} outlived the demo"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send_keys(session: &str, keys: &[&str]) {
    let mut args = vec!["send-keys", "-t", session];
    args.extend_from_slice(keys);
    tmux(&args);
}

async fn wait_async(
    session: &str,
    what: &'static str,
    done: impl Fn(&str) -> bool + Send + 'static,
) -> String {
    let session = session.to_owned();
    tokio::task::spawn_blocking(move || wait_for_pane(&session, what, done))
        .await
        .unwrap()
}

async fn queue_url(cloud: &TestCloud, name: &str) -> String {
    cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned()
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

/// Every message in a queue (received with a long visibility, so each is seen once).
async fn drain(cloud: &TestCloud, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    let mut empty = 0;
    while empty < 3 {
        let out = cloud
            .clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(300)
            // Short polls: the task queue long-polls 20 s by default (receive_wait_s).
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            empty += 1;
        } else {
            empty = 0;
            all.extend(out.messages().iter().cloned());
        }
    }
    all
}

/// The operator's path through the console on the local cloud: filter the groups, drill in,
/// switch theme, change desired capacity from the console and see a change made elsewhere
/// arrive; open the DLQ, filter it, mark two messages and redrive exactly those.
#[tokio::test]
async fn an_operator_filters_drills_in_scales_redrives_two_dead_letters_and_edits_one() {
    use aws_sdk_sqs::types::MessageAttributeValue;
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let cloud = TestCloud::provisioned().await;
    let dlq = queue_url(&cloud, "video_dlq").await;
    let tasks = queue_url(&cloud, "video_tasks").await;
    for (i, reason) in [
        "not a video: no container",
        "corrupt: bad NAL",
        "not a video: text file",
    ]
    .iter()
    .enumerate()
    {
        cloud
            .clients
            .sqs
            .send_message()
            .queue_url(&dlq)
            .message_body(format!(r#"{{"version":1,"video_id":"v-{i}"}}"#))
            .message_attributes(
                "failure_reason",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(*reason)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    // The operator's editor, for edit-before-redrive: it writes a valid v1 task over the body.
    let fixed = r#"{"v":1,"video_id":"3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f","source":"s3://b/uploads/x.mp4","correlation_id":"fixed-by-hand","submitted_at":"2026-11-22T13:00:00Z"}"#;
    let editor = home.path().join("edit.sh");
    std::fs::write(
        &editor,
        format!("#!/bin/sh\nprintf '%s\\n' '{fixed}' > \"$1\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let session = format!("flightdeck-ops-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u NO_COLOR -u VISUAL XDG_CONFIG_HOME={home} \
         FLIGHTDECK_STATE_DIR={home}/state AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
         EDITOR={editor} {bin} --endpoint {endpoint}; echo \"exited=$?\"; sleep 60",
        editor = editor.display(),
        home = home.path().display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
        endpoint = cloud.endpoint()
    );
    let _session = Session::start(&session, 140, 40, &script);
    wait_async(&session, "the dashboard", |p| {
        p.contains("flightdeck-worker") && p.contains("video_tasks")
    })
    .await;

    // Filter the groups, drill into the worker group, switch theme.
    send_keys(&session, &["/", "worker", "Enter"]);
    wait_async(&session, "the filtered groups", |p| {
        p.contains("Groups (1/2)")
    })
    .await;
    send_keys(&session, &["Enter"]);
    wait_async(&session, "the worker group's view", |p| {
        p.contains("group flightdeck-worker")
    })
    .await;
    send_keys(&session, &[":theme light", "Enter"]);
    wait_async(&session, "the theme switch", |p| p.contains("theme light")).await;

    // Desired capacity from the console: the dialog, a plain confirm, the change on screen.
    assert_eq!(desired(&cloud, "flightdeck-worker").await, 1);
    send_keys(&session, &["s"]);
    wait_async(&session, "the capacity dialog", |p| {
        p.contains("Desired capacity of flightdeck-worker")
    })
    .await;
    send_keys(&session, &["BSpace", "2", "Enter"]);
    wait_async(&session, "the confirm", |p| {
        p.contains("desired capacity 1 → 2")
    })
    .await;
    send_keys(&session, &["y"]);
    wait_async(&session, "the change seen by the console", |p| {
        p.contains("desired 1→2")
    })
    .await;
    assert_eq!(desired(&cloud, "flightdeck-worker").await, 2);
    // A change made elsewhere (another operator, a policy) shows up too.
    cloud
        .clients
        .autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name("flightdeck-worker")
        .desired_capacity(3)
        .send()
        .await
        .unwrap();
    wait_async(&session, "the outside change", |p| {
        p.contains("desired 2→3")
    })
    .await;

    // The DLQ: filter by attribute, mark both matches, redrive exactly those.
    send_keys(&session, &[":dlq", "Enter"]);
    wait_async(&session, "the peeked messages", |p| {
        p.contains("Messages (3)")
    })
    .await;
    send_keys(&session, &["/", "attr.failure_reason~video", "Enter"]);
    wait_async(&session, "the filtered messages", |p| {
        p.contains("Messages (2/3)")
    })
    .await;
    send_keys(&session, &["Space", "Space"]);
    wait_async(&session, "two marks", |p| p.contains("2 marked")).await;
    send_keys(&session, &["R"]);
    wait_async(&session, "the redrive confirm", |p| {
        p.contains("Move 2 selected message(s)")
    })
    .await;
    send_keys(&session, &["y"]);
    wait_async(&session, "the redrive's end", |p| {
        p.contains("done: moved 2")
    })
    .await;

    let moved = drain(&cloud, &tasks).await;
    let left = drain(&cloud, &dlq).await;
    let reasons = |ms: &[aws_sdk_sqs::types::Message]| {
        let mut r: Vec<String> = ms
            .iter()
            .map(|m| {
                m.message_attributes().unwrap()["failure_reason"]
                    .string_value()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        r.sort();
        r
    };
    assert_eq!(
        reasons(&moved),
        ["not a video: no container", "not a video: text file"]
    );
    assert_eq!(reasons(&left), ["corrupt: bad NAL"]);
    // Let the console see the one left again.
    for m in &left {
        cloud
            .clients
            .sqs
            .change_message_visibility()
            .queue_url(&dlq)
            .receipt_handle(m.receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }

    // Edit before redrive: open the last message, `e` runs $EDITOR on its body, the plain
    // confirm says it is edited, and the task queue gets the new body.
    send_keys(&session, &["Escape"]);
    wait_async(&session, "the last message, unfiltered", |p| {
        p.contains("Messages (1)")
    })
    .await;
    send_keys(&session, &["Enter"]);
    wait_async(&session, "the message view", |p| p.contains("bad NAL")).await;
    send_keys(&session, &["e"]);
    wait_async(&session, "the confirm of the edit", |p| {
        p.contains("with its edited body")
    })
    .await;
    send_keys(&session, &["y"]);
    wait_async(&session, "the edited redrive's end", |p| {
        p.contains("done: moved 1")
    })
    .await;
    let moved = drain(&cloud, &tasks).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body(), Some(fixed));
    assert_eq!(
        reasons(&moved),
        ["corrupt: bad NAL"],
        "attributes unchanged"
    );

    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(actions, ["scale", "dlq.redrive", "dlq.redrive"], "{audit}");

    send_keys(&session, &["q"]);
    let pane = wait_async(&session, "the exit status", |p| p.contains("exited=")).await;
    assert!(pane.contains("exited=0"), "{pane}");
}

/// Dead letters grouped by failure signature in a real terminal: `S` shows one row per group,
/// `space` marks a whole group and `R` redrives exactly its messages; the other group stays.
#[tokio::test]
async fn the_console_groups_dead_letters_and_redrives_exactly_one_group() {
    use aws_sdk_sqs::types::MessageAttributeValue;
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let cloud = TestCloud::provisioned().await;
    let dlq = queue_url(&cloud, "video_dlq").await;
    let tasks = queue_url(&cloud, "video_tasks").await;
    // Three corrupt inputs that differ by a number, then two of another kind: the largest
    // group is listed first.
    let reasons = [
        "corrupt: invalid NAL unit size 1234",
        "corrupt: invalid NAL unit size 99",
        "corrupt: invalid NAL unit size 7",
        "not_a_video",
        "not_a_video",
    ];
    for (i, reason) in reasons.iter().enumerate() {
        cloud
            .clients
            .sqs
            .send_message()
            .queue_url(&dlq)
            .message_body(format!(r#"{{"v":1,"video_id":"v-{i}"}}"#))
            .message_attributes(
                "failure_reason",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(*reason)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let session = format!("flightdeck-groups-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u NO_COLOR XDG_CONFIG_HOME={home} \
         FLIGHTDECK_STATE_DIR={home}/state AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
         {bin} --endpoint {endpoint}; echo \"exited=$?\"; sleep 60",
        home = home.path().display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
        endpoint = cloud.endpoint()
    );
    let _session = Session::start(&session, 120, 36, &script);
    wait_async(&session, "the dashboard", |p| p.contains("video_tasks")).await;
    send_keys(&session, &[":dlq", "Enter"]);
    wait_async(&session, "the peeked messages", |p| {
        p.contains("Messages (5)")
    })
    .await;
    send_keys(&session, &["S"]);
    let pane = wait_async(&session, "the groups", |p| {
        p.contains("Failure groups (2 of 5 messages)")
    })
    .await;
    let rows: Vec<&str> = pane
        .lines()
        .filter(|l| l.contains("corrupt: invalid nal unit size <n>") || l.contains("not_a_video"))
        .collect();
    assert_eq!(rows.len(), 2, "{pane}");
    assert!(
        rows[0].contains("corrupt") && rows[0].contains("  3  "),
        "{pane}"
    );
    assert!(
        rows[1].contains("not_a_video") && rows[1].contains("  2  "),
        "{pane}"
    );

    send_keys(&session, &["Space"]);
    wait_async(&session, "the group marked", |p| p.contains("3 marked")).await;
    send_keys(&session, &["R"]);
    wait_async(&session, "the redrive confirm", |p| {
        p.contains("Move 3 selected message(s)")
    })
    .await;
    send_keys(&session, &["y"]);
    wait_async(&session, "the redrive's end", |p| {
        p.contains("done: moved 3")
    })
    .await;

    let reasons_of = |ms: &[aws_sdk_sqs::types::Message]| {
        let mut r: Vec<String> = ms
            .iter()
            .map(|m| {
                m.message_attributes().unwrap()["failure_reason"]
                    .string_value()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        r.sort();
        r
    };
    let moved = drain(&cloud, &tasks).await;
    let left = drain(&cloud, &dlq).await;
    assert_eq!(
        reasons_of(&moved),
        [
            "corrupt: invalid NAL unit size 1234",
            "corrupt: invalid NAL unit size 7",
            "corrupt: invalid NAL unit size 99",
        ]
    );
    assert_eq!(reasons_of(&left), ["not_a_video", "not_a_video"]);

    send_keys(&session, &["q"]);
    let pane = wait_async(&session, "the exit status", |p| p.contains("exited=")).await;
    assert!(pane.contains("exited=0"), "{pane}");
}

/// An outage while the console runs: the emulator is killed, the panels keep their last data
/// marked STALE and a banner says what failed and what to do, within two refresh periods (the
/// groups and queues poll every 3 s); the emulator comes back on the same endpoint and the
/// console recovers by itself, without a restart.
#[tokio::test]
async fn killing_the_emulator_shows_stale_data_and_a_banner_and_a_restart_recovers() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let mut cloud = TestCloud::provisioned().await;
    let home = tempfile::tempdir().unwrap();
    let session = format!("flightdeck-outage-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u NO_COLOR XDG_CONFIG_HOME={home} \
         FLIGHTDECK_STATE_DIR={home}/state AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
         {bin} --endpoint {endpoint}; echo \"exited=$?\"; sleep 60",
        home = home.path().display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
        endpoint = cloud.endpoint()
    );
    let _session = Session::start(&session, 120, 40, &script);
    wait_async(&session, "the groups and queues", |p| {
        p.contains("flightdeck-worker") && p.contains("video_tasks") && !p.contains("STALE")
    })
    .await;

    // The outage: SIGKILL, as a crash or a lost network would leave it.
    let pid = cloud.emulator.pid().unwrap();
    let killed_at = Instant::now();
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    cloud.stop();
    let pane = wait_async(&session, "the banner and stale panels", |p| {
        p.contains("AWS unreachable") && p.contains("STALE")
    })
    .await;
    let noticed = killed_at.elapsed();
    assert!(
        noticed <= Duration::from_secs(2 * 3 + 2),
        "the outage took {noticed:?} to show (two refresh periods are 6 s):\n{pane}"
    );
    assert!(
        pane.contains("flightdeck local up"),
        "the banner should say what to do:\n{pane}"
    );
    assert!(
        pane.contains("flightdeck-worker") && pane.contains("video_tasks"),
        "the last data should stay on screen:\n{pane}"
    );

    // The endpoint comes back (with the stack provisioned again, as a restarted emulator has
    // no state): the banner goes and the panels are fresh again.
    cloud.restart_provisioned().await;
    let pane = wait_async(&session, "the recovery", |p| {
        !p.contains("AWS unreachable")
            && !p.contains("STALE")
            && p.contains("flightdeck-worker")
            && p.contains("video_tasks")
    })
    .await;
    eprintln!(
        "outage shown after {noticed:?}; recovered {:?} after the kill",
        killed_at.elapsed()
    );
    send_keys(&session, &["q"]);
    let pane_after = wait_async(&session, "the exit", |p| p.contains("exited=")).await;
    assert!(pane_after.contains("exited=0"), "{pane}\n{pane_after}");
}

/// Log output on screen: tracing's level words or its timestamps (`2025-01-02T03:04:05`).
fn log_text(pane: &str) -> Option<&str> {
    let iso = |line: &str| {
        let b = line.as_bytes();
        let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        (0..b.len()).any(|i| {
            (0..4).all(|k| d(i + k))
                && b.get(i + 4) == Some(&b'-')
                && d(i + 5)
                && d(i + 6)
                && b.get(i + 7) == Some(&b'-')
                && d(i + 8)
                && d(i + 9)
                && b.get(i + 10) == Some(&b'T')
                && d(i + 11)
                && d(i + 12)
                && b.get(i + 13) == Some(&b':')
        })
    };
    pane.lines()
        .find(|l| l.contains("WARN") || l.contains("ERROR") || l.contains(" INFO ") || iso(l))
}

/// The pane once `done` holds, failing at once if log text shows up on the way.
fn wait_clean(session: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    wait_for_pane(session, what, |p| {
        if let Some(line) = log_text(p) {
            panic!("log text on the console's screen while waiting for {what}: {line:?}\n{p}");
        }
        done(p)
    })
}

#[test]
fn the_log_check_sees_tracing_lines() {
    let line = "2025-01-02T03:04:05.123456Z  WARN local_cloud::fleet: fleet: 03:04:05 died";
    assert_eq!(log_text(&format!("dashboard\n{line}\n")), Some(line));
    assert_eq!(
        log_text("2025-01-02T03:04:05Z"),
        Some("2025-01-02T03:04:05Z")
    );
    assert_eq!(log_text("groups 3s · queues 2s · 12:03:04"), None);
}

/// The demo's emulator is SIGKILLed while its console runs (RUST_LOG=info, so the fleet and
/// the console have plenty to log): nothing is written over the screen, which says that the
/// emulator died and is being restarted, then that it was; the panels recover on the same
/// endpoint. The warnings are in the console's log file, which has no ANSI escapes, and so do
/// the fleet processes' logs.
#[test]
fn a_killed_demo_emulator_is_restarted_and_nothing_writes_over_the_console() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let runtime = tempfile::tempdir().unwrap();
    let state = runtime.path().join("state");
    // This run's emulator and fleet logs only.
    let logs = runtime.path().join("logs");
    let session = format!("flightdeck-keeper-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_ENDPOINT_URL -u AWS_PROFILE -u NO_COLOR RUST_LOG=info \
         FLIGHTDECK_RUNTIME_DIR={rt} FLIGHTDECK_STATE_DIR={state} XDG_CONFIG_HOME={rt} \
         FLIGHTDECK_LOG_DIR={logs} {bin} demo; echo \"exited=$?\"; sleep 60",
        rt = runtime.path().display(),
        state = state.display(),
        logs = logs.display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
    );
    let _session = Session::start(&session, 120, 40, &script);
    wait_clean(&session, "the demo's dashboard", |p| {
        p.contains("flightdeck-worker") && p.contains("video_tasks") && !p.contains("STALE")
    });
    let record = || -> serde_json::Value {
        let text = std::fs::read_to_string(runtime.path().join("running.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let first = record()["emulator_pid"].as_u64().expect("an emulator pid");

    assert!(Command::new("kill")
        .args(["-9", &first.to_string()])
        .status()
        .unwrap()
        .success());
    wait_clean(&session, "the emulator's death on screen", |p| {
        p.contains("emulator died (it exited (signal: 9 (SIGKILL)))")
    });
    let pane = wait_clean(&session, "the recovery", |p| {
        p.contains("emulator restarted 1×")
            && !p.contains("emulator died")
            && !p.contains("STALE")
            && !p.contains("unreachable")
            && p.contains("flightdeck-worker")
            && p.contains("video_tasks")
    });
    assert!(!pane.contains("local up"), "{pane}");
    let second = record()["emulator_pid"].as_u64().expect("an emulator pid");
    assert_ne!(first, second, "the record should name the new emulator");
    assert!(std::path::Path::new(&format!("/proc/{second}")).exists());

    // The help screen, scrolled to its end, says where the log is and what happened.
    send_keys(&session, &["?"]);
    wait_clean(&session, "the help screen", |p| p.contains("esc closes"));
    send_keys(&session, &["G"]);
    let log = state.join("flightdeck.log");
    let help = wait_clean(&session, "the help screen's logs", |p| {
        p.contains(&format!("console          {}", log.display()))
    });
    assert!(
        help.contains("emulator restarted on http://127.0.0.1:"),
        "{help}"
    );
    assert!(help.contains("the demo's emulator died"), "{help}");
    // Closed before the next key, which would otherwise arrive as alt-q.
    send_keys(&session, &["Escape"]);
    wait_clean(&session, "the help closed", |p| !p.contains("esc closes"));

    send_keys(&session, &["q"]);
    let pane = wait_for_pane(&session, "the exit status", |p| p.contains("exited="));
    assert!(pane.contains("exited=0"), "{pane}");
    assert!(pane.contains("Local cloud stopped."), "{pane}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{second}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the restarted emulator {second} outlived the demo"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("WARN") && text.contains("the emulator exited"),
        "the warnings should be in {}:\n{text}",
        log.display()
    );
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escapes in {}",
        log.display()
    );
    // The fleet processes wrote their logs without colours, where they were told to.
    let mut fleet_logs = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("i-") {
            fleet_logs += 1;
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(
                !text.contains('\u{1b}'),
                "ANSI escapes in {}",
                path.display()
            );
        }
    }
    assert!(fleet_logs > 0, "no fleet log written by this run");
}

/// Braille cells (the charts' plotted points) in the chart panel whose title row contains
/// `title`: the next `rows` rows, between the panel's corners.
fn plotted(pane: &str, title: &str, rows: usize) -> Option<usize> {
    let lines: Vec<Vec<char>> = pane.lines().map(|l| l.chars().collect()).collect();
    let wanted: Vec<char> = title.chars().collect();
    let (top, at) = lines.iter().enumerate().find_map(|(i, l)| {
        l.windows(wanted.len())
            .position(|w| w == wanted.as_slice())
            .map(|at| (i, at))
    })?;
    let left = lines[top][..=at].iter().rposition(|c| *c == '╭')?;
    let right = at + lines[top][at..].iter().position(|c| *c == '╮')?;
    Some(
        lines
            .iter()
            .skip(top + 1)
            .take(rows)
            .flat_map(|l| l.iter().take(right).skip(left))
            .filter(|c| ('\u{2801}'..='\u{28ff}').contains(*c))
            .count(),
    )
}

/// The number after `label` in the pane (`video_tasks visible 42` -> 42).
fn number_after(pane: &str, label: &str) -> Option<u64> {
    let at = pane.find(label)? + label.len();
    pane[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The real demo at 120x40 during a load run: the queue-depth chart rises and the worker
/// group's capacity chart steps up, each seen on the screen, with the run's start marked.
#[test]
fn the_demo_dashboard_shows_the_queue_building_and_capacity_stepping_during_a_load_run() {
    if !common::has_tmux() {
        return;
    }
    let runtime = tempfile::tempdir().unwrap();
    let state = runtime.path().join("state");
    let session = format!("flightdeck-story-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_ENDPOINT_URL -u AWS_PROFILE -u NO_COLOR \
         FLIGHTDECK_RUNTIME_DIR={rt} FLIGHTDECK_STATE_DIR={state} XDG_CONFIG_HOME={rt} \
         FLIGHTDECK_LOG_DIR={logs} {bin} demo; echo \"exited=$?\"; sleep 60",
        rt = runtime.path().display(),
        state = state.display(),
        logs = local_cloud::paths::test_logs_dir().display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
    );
    let _session = Session::start(&session, 120, 40, &script);
    // The queue chart and the worker group's capacity chart (left of its CPU chart).
    let queue_title = "╭ video_tasks";
    let worker_title = "╭ flightdeck-worker";
    let before = wait_for_pane(&session, "the dashboard's charts", |p| {
        p.contains(queue_title) && p.contains(worker_title) && p.contains("since start")
    });
    // Points above the baseline: the top four of the queue chart's five plot rows, and the
    // top three of the capacity chart's (at least half of the axis).
    let depth_before = plotted(&before, queue_title, 4).expect("the queue chart");
    let capacity_before = plotted(&before, worker_title, 3).expect("the capacity chart");

    // The fleet's API instances warm up before they take load: ask until the run starts.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        send_keys(&session, &[":"]);
        send_keys(&session, &["load medium", "Enter"]);
        std::thread::sleep(Duration::from_millis(500));
        send_keys(&session, &["y"]);
        std::thread::sleep(Duration::from_secs(2));
        let pane = tmux(&["capture-pane", "-p", "-t", &session]);
        send_keys(&session, &["Escape"]);
        if !pane.contains("no API instance") && !pane.contains("enter runs it against") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the load run did not start; the pane:\n{pane}"
        );
        std::thread::sleep(Duration::from_secs(5));
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut deeper, mut stepped) = (false, false);
    let mut pane = String::new();
    while !(deeper && stepped) {
        assert!(
            Instant::now() < deadline,
            "deeper queue: {deeper}, capacity stepped: {stepped}; the pane:\n{pane}"
        );
        std::thread::sleep(Duration::from_secs(2));
        pane = tmux(&["capture-pane", "-p", "-t", &session]);
        if !pane.contains(queue_title) || !pane.contains(worker_title) {
            continue;
        }
        let depth = plotted(&pane, queue_title, 4).unwrap_or(0);
        let capacity = plotted(&pane, worker_title, 3).unwrap_or(0);
        // The tables say what the charts should show: messages waiting, more than one desired.
        deeper |=
            number_after(&pane, "│video_tasks").is_some_and(|n| n > 0) && depth > depth_before;
        let desired = pane
            .lines()
            .find(|l| l.contains("│flightdeck-worker"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|mdm| mdm.split('/').nth(1))
            .and_then(|d| d.parse::<u32>().ok());
        stepped |= desired.is_some_and(|d| d > 1) && capacity > capacity_before;
    }
    assert!(pane.contains('▶'), "the run's start is marked:\n{pane}");

    send_keys(&session, &["q"]);
    let pane = wait_for_pane(&session, "the exit status", |p| p.contains("exited="));
    assert!(pane.contains("exited=0"), "{pane}");
}
