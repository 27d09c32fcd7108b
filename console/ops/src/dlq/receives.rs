//! flightdeck's own receives of each message in a queue (peeks, dry runs, redrives,
//! deletes), kept per queue in the state directory, so that the receive counts shown and the
//! `receives` filter term use the count from before flightdeck looked: a dry run's peek no
//! longer makes the real run select more.
//!
//! One JSON file per queue (`receives-<queue>.json`): message id -> receives and when it was
//! last received. A scan adds its pass's receives when the pass ends, under an exclusive lock
//! beside the file, by reading, adding and renaming over, so that passes in several processes
//! (the console's view, a CLI run) add up instead of overwriting each other. Ids flightdeck
//! deleted are dropped, and so are ids not received for longer than SQS keeps a message.
//! A process killed mid-pass loses that pass's receives: its messages then count one more,
//! never fewer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DlqError;

/// SQS keeps a message at most 14 days; an id not received for longer is gone.
const FORGET_AFTER_S: i64 = 14 * 24 * 3600;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    receives: u32,
    /// Unix seconds.
    last: i64,
}

/// One queue's record, and what the pass in progress adds to it.
#[derive(Debug)]
pub struct OwnReceives {
    path: PathBuf,
    /// On disk when the pass started.
    before: HashMap<String, Seen>,
    /// This pass's receives, not yet on disk.
    pass: HashMap<String, u32>,
    /// Deleted by this pass: dropped from the record.
    gone: HashSet<String>,
}

/// The record's file for a queue.
pub fn path_for(dir: &Path, queue_url: &str) -> PathBuf {
    dir.join(format!(
        "receives-{}.json",
        super::journal::file_stem(queue_url)
    ))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DlqError + '_ {
    move |source| DlqError::Journal {
        path: path.to_path_buf(),
        source,
    }
}

fn read(path: &Path) -> HashMap<String, Seen> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    match serde_json::from_str(&text) {
        Ok(map) => map,
        Err(e) => {
            // Unreadable: counts fall back to what SQS says (one more per earlier look).
            tracing::warn!("ignoring {}: {e}", path.display());
            HashMap::new()
        }
    }
}

impl OwnReceives {
    /// The record as it is now (none yet: empty).
    pub fn load(dir: &Path, queue_url: &str) -> OwnReceives {
        let path = path_for(dir, queue_url);
        OwnReceives {
            before: read(&path),
            path,
            pass: HashMap::new(),
            gone: HashSet::new(),
        }
    }

    /// Counts one receive of `id` by this pass and returns its receive count from before
    /// flightdeck's own receives, given SQS's ApproximateReceiveCount (which includes this one).
    pub fn received(&mut self, id: &str, approximate: u32) -> u32 {
        let n = self.pass.entry(id.to_owned()).or_default();
        *n += 1;
        let own = self.before.get(id).map_or(0, |s| s.receives) + *n;
        approximate.saturating_sub(own)
    }

    /// This message was deleted: forget it.
    pub fn gone(&mut self, id: &str) {
        self.gone.insert(id.to_owned());
    }

    /// Adds this pass's receives to the file (what other processes added meanwhile stays).
    pub fn flush(&mut self, now_s: i64) -> Result<(), DlqError> {
        if self.pass.is_empty() && self.gone.is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        let mut all = read(&self.path);
        for (id, n) in self.pass.drain() {
            let seen = all.entry(id).or_default();
            seen.receives = seen.receives.saturating_add(n);
            seen.last = now_s;
        }
        for id in self.gone.drain() {
            all.remove(&id);
        }
        all.retain(|_, s| now_s - s.last <= FORGET_AFTER_S);
        let sorted: BTreeMap<_, _> = all.iter().collect();
        let text = serde_json::to_string(&sorted).map_err(|e| DlqError::Journal {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        self.before = all;
        // The lock goes with `lock` at the end of this scope.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const URL: &str = "http://127.0.0.1:5000/123456789012/video_dlq";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn counts_leave_out_every_receive_flightdeck_made_across_passes() {
        let dir = tempfile::tempdir().unwrap();
        // A message three consumers' receives old: the first pass sees 4 (its own included).
        let mut first = OwnReceives::load(dir.path(), URL);
        assert_eq!(first.received("a", 4), 3);
        // Received again in the same pass (its visibility ended): still 3.
        assert_eq!(first.received("a", 5), 3);
        assert_eq!(first.received("b", 1), 0);
        first.flush(NOW).unwrap();
        // A later pass (another process): two of flightdeck's receives are on record.
        let mut second = OwnReceives::load(dir.path(), URL);
        assert_eq!(second.received("a", 6), 3);
        // A consumer received it once more in between: that one counts.
        let mut third = OwnReceives::load(dir.path(), URL);
        assert_eq!(third.received("a", 7), 4);
        // Never below 0, whatever SQS's approximate count says.
        assert_eq!(third.received("b", 0), 0);
    }

    #[test]
    fn passes_in_two_processes_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut console = OwnReceives::load(dir.path(), URL);
        let mut cli = OwnReceives::load(dir.path(), URL);
        console.received("a", 1);
        cli.received("a", 2);
        cli.flush(NOW).unwrap();
        console.flush(NOW).unwrap();
        let mut later = OwnReceives::load(dir.path(), URL);
        assert_eq!(
            later.received("a", 3),
            0,
            "both earlier receives were flightdeck's"
        );
    }

    #[test]
    fn deleted_and_long_unseen_ids_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = OwnReceives::load(dir.path(), URL);
        old.received("old", 1);
        old.flush(NOW - FORGET_AFTER_S - 1).unwrap();
        let mut pass = OwnReceives::load(dir.path(), URL);
        pass.received("moved", 1);
        pass.received("kept", 1);
        pass.gone("moved");
        pass.flush(NOW).unwrap();
        let text = std::fs::read_to_string(path_for(dir.path(), URL)).unwrap();
        let on_disk: HashMap<String, Seen> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            on_disk.keys().map(String::as_str).collect::<Vec<_>>(),
            ["kept"]
        );
        // A pass that received nothing writes nothing.
        std::fs::remove_file(path_for(dir.path(), URL)).unwrap();
        OwnReceives::load(dir.path(), URL).flush(NOW).unwrap();
        assert!(!path_for(dir.path(), URL).exists());
    }

    #[test]
    fn an_unreadable_record_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path_for(dir.path(), URL), "{not json").unwrap();
        let mut r = OwnReceives::load(dir.path(), URL);
        assert_eq!(r.received("a", 2), 1);
        r.flush(NOW).unwrap();
        let mut again = OwnReceives::load(dir.path(), URL);
        assert_eq!(again.received("a", 3), 1);
    }
}
