//! The live console in a real terminal (tmux): it shows the local cloud's groups and queues,
//! and `q` ends it with the terminal restored (no raw mode, no alternate screen).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use local_cloud::testing::TestCloud;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills the session however the test ends.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

fn wait_for_pane(session: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let pane = tmux(&["capture-pane", "-p", "-t", session]);
        if done(&pane) {
            return pane;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not appear within 40 s; the pane:\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

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
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "100",
            "-y",
            "30",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let _session = Session(session.clone());

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
        "env -u AWS_ENDPOINT_URL -u AWS_PROFILE FLIGHTDECK_RUNTIME_DIR={} XDG_CONFIG_HOME={} {} demo; \
         echo \"exited=$?\"; sleep 60",
        runtime.path().display(),
        runtime.path().display(),
        assert_cmd::cargo::cargo_bin("flightdeck").display(),
    );
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "100",
            "-y",
            "30",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let _session = Session(session.clone());

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
