//! Where the local cloud keeps its files: the emulator's virtualenv, logs and the record of
//! a running `flightdeck local up`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `FLIGHTDECK_CACHE_DIR`, else `$XDG_CACHE_HOME/flightdeck`, else `~/.cache/flightdeck`,
/// else `.cache/flightdeck` under the current directory.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLIGHTDECK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("flightdeck");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("flightdeck");
    }
    PathBuf::from(".cache").join("flightdeck")
}

/// Where the emulator keeps object data (in unnamed files: nothing shows in a listing).
pub fn data_dir() -> PathBuf {
    cache_dir().join("emulator-data")
}

/// Where the emulator and the fleet's instances write their logs: `FLIGHTDECK_LOG_DIR`, else
/// `<cache>/logs`.
pub fn logs_dir() -> PathBuf {
    match std::env::var_os("FLIGHTDECK_LOG_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => cache_dir().join("logs"),
    }
}

/// Where the tests' emulators and fleets write their logs: `<cache>/test-logs`, pruned like
/// [`logs_dir`], so a test run neither pushes the operator's own logs out of theirs nor hides
/// them among its own (a CI run writes hundreds). A test that starts a `flightdeck` program
/// which runs a local cloud passes it on as `FLIGHTDECK_LOG_DIR`.
pub fn test_logs_dir() -> PathBuf {
    cache_dir().join("test-logs")
}

/// The emulator logs (`emulator-<port>.log`) and fleet instance logs (`i-<id>.log`) kept in
/// [`logs_dir`]: every emulator start and every instance launched writes a file of its own,
/// so without a bound the folder grows with every run (729 files after a few days of
/// benchmarks and tests).
pub const LOGS_KEPT: usize = 200;

/// A log written to this recently may belong to a process still running: never removed.
const LOG_IN_USE: Duration = Duration::from_secs(3600);

/// Removes the oldest emulator and instance logs in `dir` beyond the newest `keep`, leaving
/// any written to in the last hour and every other file. Returns how many it removed; a log
/// that cannot be read or removed stays.
pub fn prune_logs(dir: &Path, keep: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut logs: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".log") && (name.starts_with("emulator-") || name.starts_with("i-"))
        })
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some((meta.modified().ok()?, e.path()))
        })
        .collect();
    logs.sort_by_key(|log| std::cmp::Reverse(log.0));
    let recent = SystemTime::now()
        .checked_sub(LOG_IN_USE)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    logs.into_iter()
        .skip(keep)
        .filter(|(modified, path)| *modified < recent && std::fs::remove_file(path).is_ok())
        .count()
}

/// Where a running `local up` records itself: `FLIGHTDECK_RUNTIME_DIR`, else `<cache>/local`.
/// Tests point it at a temporary directory so they cannot see each other's local clouds.
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("FLIGHTDECK_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => cache_dir().join("local"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn log(dir: &Path, name: &str, age: Duration) {
        let file = File::create(dir.join(name)).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn the_oldest_logs_beyond_the_bound_go_and_recent_or_other_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let hours = |h: u64| Duration::from_secs(h * 3600);
        for i in 0..6 {
            log(
                dir.path(),
                &format!("emulator-{}.log", 40000 + i),
                hours(10 + i),
            );
            log(dir.path(), &format!("i-{i:017x}.log"), hours(20 + i));
        }
        // Beyond the bound but written to a minute ago: may still be open.
        log(dir.path(), "emulator-1.log", Duration::from_secs(60));
        log(dir.path(), "i-aaaa.log", Duration::from_secs(60));
        // Not a log the local cloud names so.
        log(dir.path(), "notes.log", hours(100));
        log(dir.path(), "emulator-2.txt", hours(100));

        assert_eq!(prune_logs(dir.path(), 4), 10, "14 logs, the newest 4 kept");
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "emulator-1.log",
                "emulator-2.txt",
                "emulator-40000.log",
                "emulator-40001.log",
                "i-aaaa.log",
                "notes.log",
            ]
        );
        assert_eq!(prune_logs(dir.path(), 4), 0);
        // A bound of one: the older recent log is past it, yet stays.
        assert_eq!(prune_logs(dir.path(), 1), 2);
        assert!(dir.path().join("emulator-1.log").exists());
        assert!(dir.path().join("i-aaaa.log").exists());
        assert!(!dir.path().join("emulator-40000.log").exists());
        assert_eq!(prune_logs(&dir.path().join("missing"), 4), 0);
    }
}
