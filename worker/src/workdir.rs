//! Job directories in the worker's work directory, and removing the ones a dead worker left.
//!
//! Each job's directory `job-XXXXXX/` (the download and the partial output) has a lock file
//! beside it, `job-XXXXXX.lock`, created first and held (`flock`) for the job's lifetime. The
//! kernel releases the lock when the process dies however it dies (SIGKILL, OOM, a crash), so
//! a worker starting on the same work directory (a restarted service, a replacement sharing
//! the disk) removes exactly the jobs whose lock nobody holds: never a live worker's job.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::WorkerError;

const LOCK_SUFFIX: &str = ".lock";

/// A job's directory; removed, then its lock file, then the lock released, when dropped.
pub struct JobDir {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

impl JobDir {
    pub fn create(work_dir: &Path) -> Result<JobDir, WorkerError> {
        let io_err = |what: &'static str, p: &Path, e: io::Error| WorkerError::io(what, p, e);
        let named = tempfile::Builder::new()
            .prefix("job-")
            .suffix(LOCK_SUFFIX)
            .tempfile_in(work_dir)
            .map_err(|e| io_err("creating a job lock in", work_dir, e))?;
        named
            .as_file()
            .try_lock()
            .map_err(|e| io_err("locking", named.path(), io::Error::other(e.to_string())))?;
        let (lock, lock_path) = named
            .keep()
            .map_err(|e| io_err("keeping", work_dir, e.error))?;
        let dir = job_dir_of(&lock_path).ok_or_else(|| {
            WorkerError::io(
                "naming a job directory in",
                work_dir,
                io::Error::other("bad name"),
            )
        })?;
        if let Err(e) = fs::create_dir(&dir) {
            let _ = fs::remove_file(&lock_path);
            return Err(io_err("creating", &dir, e));
        }
        Ok(JobDir {
            dir,
            lock_path,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            tracing::warn!("removing the job directory {}: {e}", self.dir.display());
        }
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// `job-XXXXXX.lock` -> `job-XXXXXX`.
fn job_dir_of(lock_path: &Path) -> Option<PathBuf> {
    let name = lock_path.file_name()?.to_str()?;
    let stem = name.strip_suffix(LOCK_SUFFIX)?;
    Some(lock_path.with_file_name(stem))
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|a| a >= age)
}

/// What `sweep` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Job directories whose worker is gone.
    pub jobs: usize,
    /// Job directories still locked by a live worker, left alone.
    pub live: usize,
}

/// Remove the job directories in `work_dir` that no live process holds. Entries younger than
/// `min_age` are left alone (a job being created right now takes its lock within
/// microseconds of creating the file); a job directory without a lock file (from a worker
/// before locks) counts as dead once it is older than `min_age`.
pub fn sweep(work_dir: &Path, min_age: Duration) -> io::Result<Swept> {
    let mut swept = Swept::default();
    for entry in fs::read_dir(work_dir)? {
        let entry = entry?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("job-") || !older_than(&path, min_age) {
            continue;
        }
        if name.ends_with(LOCK_SUFFIX) {
            let Ok(lock) = File::open(&path) else {
                continue;
            };
            if lock.try_lock().is_err() {
                swept.live += 1;
                continue;
            }
            if let Some(dir) = job_dir_of(&path) {
                match fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            fs::remove_file(&path)?;
            swept.jobs += 1;
        } else if entry.file_type()?.is_dir() {
            let mut lock_name = name.to_owned();
            lock_name.push_str(LOCK_SUFFIX);
            if !path.with_file_name(lock_name).exists() {
                fs::remove_dir_all(&path)?;
                swept.jobs += 1;
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_job_dir_is_locked_while_it_lives_and_gone_after() {
        let work = tempfile::tempdir().unwrap();
        let job = JobDir::create(work.path()).unwrap();
        fs::write(job.path().join("source.mp4"), b"bytes").unwrap();
        assert_eq!(entries(work.path()).len(), 2, "the directory and its lock");
        // Another worker's sweep leaves a live job alone.
        let swept = sweep(work.path(), Duration::ZERO).unwrap();
        assert_eq!(swept, Swept { jobs: 0, live: 1 });
        assert!(job.path().join("source.mp4").exists());
        drop(job);
        assert!(entries(work.path()).is_empty());
    }

    /// A worker process killed with SIGKILL mid-job: its lock dies with it, and the next
    /// worker's sweep removes its directory (and only that one).
    #[test]
    fn a_killed_workers_job_is_swept_and_a_live_ones_is_not() {
        let work = tempfile::tempdir().unwrap();
        let dead = work.path().join("job-dead01");
        let live = work.path().join("job-live01");
        for dir in [&dead, &live] {
            fs::create_dir(dir).unwrap();
            fs::write(dir.join("output.mp4"), b"partial").unwrap();
        }
        // Two other processes hold the two jobs' locks the way a worker does (flock(2) on
        // an open file, held until the process dies): a shell locks it with flock(1) on its
        // own descriptor, then becomes `sleep`, which keeps the descriptor and the lock.
        let holder = |lock: &Path| {
            Command::new("sh")
                .args(["-c", "exec 9>>\"$0\" && flock 9 && exec sleep 60"])
                .arg(lock)
                .stdin(Stdio::null())
                .spawn()
                .expect("sh and flock(1), from util-linux")
        };
        let dead_lock = work.path().join("job-dead01.lock");
        let live_lock = work.path().join("job-live01.lock");
        let mut killed = holder(&dead_lock);
        let mut alive = holder(&live_lock);
        // Wait until both hold their lock.
        for lock in [&dead_lock, &live_lock] {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let held = File::open(lock).is_ok_and(|f| f.try_lock().is_err());
                if held {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "flock never took {lock:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert_eq!(
            sweep(work.path(), Duration::ZERO).unwrap(),
            Swept { jobs: 0, live: 2 }
        );
        killed.kill().unwrap(); // SIGKILL
        killed.wait().unwrap();
        let swept = sweep(work.path(), Duration::ZERO).unwrap();
        alive.kill().unwrap();
        alive.wait().unwrap();
        assert_eq!(swept, Swept { jobs: 1, live: 1 });
        assert!(!dead.exists() && !dead_lock.exists());
        assert!(live.join("output.mp4").exists());
    }

    #[test]
    fn young_entries_and_other_files_are_left_alone() {
        let work = tempfile::tempdir().unwrap();
        fs::create_dir(work.path().join("job-new")).unwrap();
        fs::write(work.path().join("notes.txt"), b"x").unwrap();
        let swept = sweep(work.path(), Duration::from_secs(3600)).unwrap();
        assert_eq!(swept, Swept::default());
        // Old enough and without a lock: from a worker before locks, removed.
        let swept = sweep(work.path(), Duration::ZERO).unwrap();
        assert_eq!(swept, Swept { jobs: 1, live: 0 });
        assert_eq!(entries(work.path()), ["notes.txt"]);
    }
}
