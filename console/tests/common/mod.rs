//! What the console's tests share: the real binary pointed at an emulator (the headless
//! commands), and detached tmux sessions that run it in a terminal.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `flightdeck` binary against `endpoint`, with the developer's AWS settings kept out, a
/// private state directory and a fixed user name for the audit log.
pub fn flightdeck(endpoint: &str, state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    for var in [
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "FLIGHTDECK_STACK",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("FLIGHTDECK_STATE_DIR", state)
        .env("USER", "tester")
        .args(["--endpoint", endpoint])
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to its end off the async runtime's threads.
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Terminal tests skip (saying so) where tmux is missing.
pub fn has_tmux() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok();
    if !found {
        eprintln!("skipped: tmux is not installed");
    }
    found
}

/// Runs `tmux ARGS`; its standard output.
pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A detached session running `sh -c SCRIPT` in a terminal of the given size; killed however
/// the test ends.
pub struct Session(pub String);

impl Session {
    pub fn start(name: &str, width: u16, height: u16, script: &str) -> Session {
        let (w, h) = (width.to_string(), height.to_string());
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                &w,
                "-y",
                &h,
                "sh",
                "-c",
                script,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed for {name}");
        Session(name.to_owned())
    }

    /// What the pane shows now.
    pub fn pane(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.0])
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

/// The pane once `done` holds; fails the test with the pane after 40 s.
pub fn wait_for_pane(session: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
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
