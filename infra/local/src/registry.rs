//! The record of a running `flightdeck local up`, so that `flightdeck local down` and
//! `--local` in another terminal can find it. One local cloud per cache directory.

use std::path::PathBuf;

use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Running {
    /// The `flightdeck local up` process that owns the emulator.
    pub owner_pid: u32,
    pub emulator_pid: Option<u32>,
    pub endpoint: String,
    pub region: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

pub fn path() -> PathBuf {
    crate::paths::runtime_dir().join("running.json")
}

/// Whether a process with this PID is running. Signal 0 checks existence without sending
/// anything; a zombie (exited, not yet reaped by its parent) counts as gone.
pub fn alive(pid: u32) -> bool {
    if kill(Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: `123 (name) Z ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z"),
        Err(_) => true,
    }
}

/// The running local cloud, if its owner is still alive; a stale record is removed.
pub fn current() -> Option<Running> {
    let text = std::fs::read_to_string(path()).ok()?;
    let running: Running = serde_json::from_str(&text).ok()?;
    if alive(running.owner_pid) {
        Some(running)
    } else {
        let _ = std::fs::remove_file(path());
        None
    }
}

pub fn save(running: &Running) -> std::io::Result<()> {
    let p = path();
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = p.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_string_pretty(running).unwrap_or_default(),
    )?;
    std::fs::rename(tmp, p)
}

/// Remove the record if it is ours.
pub fn clear(owner_pid: u32) {
    if let Ok(text) = std::fs::read_to_string(path()) {
        if serde_json::from_str::<Running>(&text).is_ok_and(|r| r.owner_pid == owner_pid) {
            let _ = std::fs::remove_file(path());
        }
    }
}
