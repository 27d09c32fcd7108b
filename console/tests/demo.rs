//! `flightdeck demo` and `flightdeck local up|down` as processes: they bring the local cloud
//! up with the stack on it, and however they end, no emulator is left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    _runtime: tempfile::TempDir,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let runtime = tempfile::tempdir().unwrap();
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("flightdeck"))
            .args(args)
            .env("FLIGHTDECK_RUNTIME_DIR", runtime.path())
            .env("FLIGHTDECK_LOG_DIR", local_cloud::paths::test_logs_dir())
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            child,
            lines,
            seen: Vec::new(),
            _runtime: runtime,
        }
    }

    /// Read output until a line contains `needle`; returns that line.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!(
            "no line with {needle:?}; output so far:\n{}",
            self.seen.join("\n")
        );
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the process did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn emulator_pid(line: &str) -> u32 {
    let after = line.split("emulator pid ").nth(1).unwrap();
    after
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap()
}

fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn demo_shows_the_stack_and_ctrl_c_leaves_nothing_behind() {
    let mut demo = Demo::start(&["demo"]);
    let running = demo.wait_for("Local cloud running at");
    let emulator = emulator_pid(&running);
    demo.wait_for("Press Ctrl-C");
    let out = demo.seen.join("\n");
    for needle in [
        "flightdeck-api ",
        "flightdeck-worker ",
        "video_tasks ",
        "video_dlq ",
        "flightdeck-videos ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(std::path::Path::new(&format!("/proc/{emulator}")).exists());

    kill(demo.pid(), Signal::SIGINT).unwrap();
    assert!(demo.wait_exit().success());
    assert!(
        gone_within(emulator, Duration::from_secs(1)),
        "emulator {emulator} outlived the demo"
    );
}

#[test]
fn a_killed_demo_takes_its_emulator_with_it() {
    let mut demo = Demo::start(&["demo"]);
    let emulator = emulator_pid(&demo.wait_for("Local cloud running at"));
    kill(demo.pid(), Signal::SIGKILL).unwrap();
    demo.wait_exit();
    // No handler runs on SIGKILL: the emulator's launcher notices its parent is gone.
    assert!(
        gone_within(emulator, Duration::from_secs(5)),
        "emulator {emulator} outlived a kill -9"
    );
}

#[test]
fn local_up_then_down_from_another_process() {
    let runtime = tempfile::tempdir().unwrap();
    let mut up = Command::new(assert_cmd::cargo::cargo_bin("flightdeck"));
    up.args(["local", "up"])
        .env("FLIGHTDECK_RUNTIME_DIR", runtime.path())
        .env("FLIGHTDECK_LOG_DIR", local_cloud::paths::test_logs_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = up.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("Local cloud running at http://127.0.0.1:"),
        "{first}"
    );

    let with_runtime = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("flightdeck").unwrap();
        c.args(args).env("FLIGHTDECK_RUNTIME_DIR", runtime.path());
        c
    };
    // Another terminal finds it with --local.
    with_runtime(&["--local", "status", "--json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"flightdeck-worker\""));
    // A second `local up` is refused with the way out.
    with_runtime(&["local", "up"]).assert().failure().stderr(
        predicates::str::contains("already running")
            .and(predicates::str::contains("flightdeck local down")),
    );

    with_runtime(&["local", "down"])
        .assert()
        .success()
        .stdout(predicates::str::contains("stopped"));
    let status = child.wait().unwrap();
    assert!(status.success());
    with_runtime(&["--local", "status"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("no local cloud is running"));
}

use predicates::prelude::PredicateBooleanExt;
