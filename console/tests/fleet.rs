//! The local fleet through the real `flightdeck` binary: `local up` and `demo --no-tui` start a
//! worker and API processes per group instance and print what happens; SIGTERM, SIGINT and
//! even SIGKILL of flightdeck leave no fleet process (or emulator) behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    runtime: tempfile::TempDir,
}

impl Run {
    fn start(args: &[&str]) -> Run {
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
        Run {
            child,
            lines,
            seen: Vec::new(),
            runtime,
        }
    }

    /// Read output until `done` holds for everything seen so far.
    fn wait_until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if done(&self.seen) {
                return;
            }
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(line);
            }
        }
        panic!("no {what}; output so far:\n{}", self.seen.join("\n"));
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "flightdeck did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn in_service(lines: &[String], group: &str) -> usize {
    lines
        .iter()
        .filter(|l| {
            l.starts_with("fleet: ")
                && l.contains(&format!(" {group} "))
                && l.contains(": in service")
        })
        .count()
}

/// Processes whose environment mentions `dir` (every fleet child gets its database there).
fn processes_mentioning(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| String::from_utf8_lossy(&env).contains(&needle))
                .unwrap_or(false)
        })
        .filter(|pid| local_cloud::registry::alive(*pid))
        .collect()
}

fn none_left(dir: &Path, limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left = processes_mentioning(dir);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fleet_is_up(run: &mut Run) {
    run.wait_until("2 API and 1 worker in service", |seen| {
        in_service(seen, "flightdeck-api") == 2 && in_service(seen, "flightdeck-worker") == 1
    });
    // flightdeck, the emulator and three fleet processes have the runtime dir in their
    // environment.
    let ours = processes_mentioning(run.runtime.path());
    assert!(ours.len() >= 5, "processes: {ours:?}");
}

#[test]
fn local_up_runs_the_fleet_and_sigterm_stops_every_process() {
    let mut run = Run::start(&["local", "up", "--warmup", "1"]);
    fleet_is_up(&mut run);
    let out = run.seen.join("\n");
    assert!(out.starts_with("Local cloud running at"), "{out}");
    assert!(out.contains("note: "), "no machine notice in\n{out}");
    // A load run elsewhere finds the API instances here.
    let endpoints = local_cloud::fleet::read_api_endpoints(run.runtime.path()).unwrap();
    assert_eq!(endpoints.endpoints.len(), 2, "{endpoints:?}");

    kill(run.pid(), Signal::SIGTERM).unwrap();
    assert!(run.wait_exit(Duration::from_secs(30)).success());
    let left = none_left(run.runtime.path(), Duration::from_secs(1));
    assert!(left.is_empty(), "left running after SIGTERM: {left:?}");
    assert!(local_cloud::fleet::read_api_endpoints(run.runtime.path()).is_none());
}

#[test]
fn demo_without_a_terminal_runs_the_fleet_and_ctrl_c_stops_every_process() {
    let mut run = Run::start(&["demo", "--no-tui", "--warmup", "1"]);
    fleet_is_up(&mut run);
    kill(run.pid(), Signal::SIGINT).unwrap();
    assert!(run.wait_exit(Duration::from_secs(30)).success());
    let left = none_left(run.runtime.path(), Duration::from_secs(1));
    assert!(left.is_empty(), "left running after SIGINT: {left:?}");
}

#[test]
fn a_killed_flightdeck_takes_its_fleet_with_it() {
    let mut run = Run::start(&["local", "up", "--warmup", "1"]);
    fleet_is_up(&mut run);
    kill(run.pid(), Signal::SIGKILL).unwrap();
    run.wait_exit(Duration::from_secs(5));
    // No handler runs on SIGKILL: each child dies with its parent (PR_SET_PDEATHSIG), and
    // the emulator's launcher notices its parent is gone.
    let left = none_left(run.runtime.path(), Duration::from_secs(5));
    assert!(left.is_empty(), "left running after kill -9: {left:?}");
}

#[test]
fn no_fleet_runs_just_the_emulator() {
    let mut run = Run::start(&["local", "up", "--no-fleet"]);
    run.wait_until("the stop hint", |seen| {
        seen.iter().any(|l| l.contains("Stop it with Ctrl-C"))
    });
    std::thread::sleep(Duration::from_secs(3));
    while let Ok(line) = run.lines.try_recv() {
        run.seen.push(line);
    }
    assert!(
        !run.seen.iter().any(|l| l.starts_with("fleet: ")),
        "{:?}",
        run.seen
    );
    kill(run.pid(), Signal::SIGTERM).unwrap();
    assert!(run.wait_exit(Duration::from_secs(20)).success());
}
