//! The redrive journal: one JSON line per step, fsynced before the step's effect is relied
//! on, so a redrive killed at any point (SIGKILL included) can be run again without losing a
//! message and can say which duplicates it could not prevent.
//!
//! Protocol, per batch: `sending` (ids) -> SendMessageBatch -> `sent` / `unsent` (ids) ->
//! DeleteMessageBatch -> `deleted` (ids). On the next run a message found in the DLQ is:
//! - `sent`: already in the destination; it is deleted without sending again;
//! - `sending` (no outcome recorded): the earlier run may or may not have sent it; it is sent
//!   again and counted as a possible duplicate, the one case a standard queue cannot prevent;
//! - otherwise: moved normally.
//!
//! Each such resend is journalled (`duplicates`) before it is sent, and those ids stay in the
//! journal across runs, so that a chain of killed runs still reports every possible duplicate:
//! each run reports the DLQ's cumulative list until an operator clears it
//! (`flightdeck dlq duplicates --clear`).
//!
//! The file lives in the state directory, one per DLQ, and is removed when a run ends with
//! nothing outstanding and no possible duplicate on record.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "step", rename_all = "snake_case")]
enum Line {
    Run {
        dlq: String,
        destination: String,
        visibility_s: u64,
        at: String,
    },
    Sending {
        ids: Vec<String>,
    },
    Sent {
        ids: Vec<String>,
    },
    Unsent {
        ids: Vec<String>,
    },
    Deleted {
        ids: Vec<String>,
    },
    /// Sent again after an earlier run may already have sent them (journalled before the
    /// send): each may be in the destination twice. Kept until cleared.
    Duplicates {
        ids: Vec<String>,
    },
}

/// What the journal says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A send was started; no outcome was recorded.
    Sending,
    /// In the destination; not yet deleted from the DLQ.
    Sent,
}

/// An earlier run that did not finish.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorRun {
    pub destination: String,
    /// How long its received messages stay invisible after it stopped.
    pub visibility: Duration,
    /// When it last wrote to the journal (messages it held are visible again by
    /// `last_write + visibility`).
    pub last_write: SystemTime,
    /// Messages it left `sending` or `sent`.
    pub outstanding: usize,
}

/// An open journal for one DLQ.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Held (an exclusive `flock`) while this journal is open: one redrive per DLQ at a time.
    _lock: File,
    status: HashMap<String, Status>,
    /// Every possible duplicate on record for this DLQ, across runs.
    duplicates: BTreeSet<String>,
    prior: Option<PriorRun>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> super::DlqError + '_ {
    move |source| super::DlqError::Journal {
        path: path.to_path_buf(),
        source,
    }
}

/// The journal's file for a DLQ (its URL made into a file name).
pub fn path_for(dir: &Path, dlq_url: &str) -> PathBuf {
    dir.join(format!("redrive-{}.jsonl", file_stem(dlq_url)))
}

/// A queue's URL made into a file name (the state directory's files per queue).
pub(crate) fn file_stem(dlq_url: &str) -> String {
    dlq_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How long a lock found held is tried again before it counts as another redrive's.
const LOCK_GRACE: Duration = Duration::from_millis(500);

/// The lock beside a journal (`….lock`, which stays): a second redrive of the same DLQ, in
/// this process or another, stops with a message instead of sharing the journal. The kernel
/// drops it when its holder exits, even on `kill -9`.
///
/// A lock found held is tried again for [`LOCK_GRACE`] first: a child process being started
/// anywhere in this process (a test's emulator, a helper) shares every open file between its
/// fork and its exec, this lock's included, so a lock just released can read as held for a
/// moment. A real other redrive holds it far longer.
fn take_lock(journal: &Path) -> Result<File, super::DlqError> {
    let path = journal.with_extension("lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    let deadline = Instant::now() + LOCK_GRACE;
    let mut taken = file.try_lock();
    while matches!(taken, Err(std::fs::TryLockError::WouldBlock)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        taken = file.try_lock();
    }
    match taken {
        Ok(()) => {
            // Who holds it, for the next one's message.
            let _ = file.set_len(0);
            let _ = writeln!(file, "{}", std::process::id());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            Err(super::DlqError::Invalid(format!(
                "another redrive of this DLQ is running{}: wait for it to finish or stop it, then run this again (lock: {})",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                },
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
    }
}

impl Journal {
    /// Open (or create) the journal for a DLQ, reading what an earlier run left.
    pub fn open(dir: &Path, dlq_url: &str) -> Result<Journal, super::DlqError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = path_for(dir, dlq_url);
        let lock = take_lock(&path)?;
        let mut status = HashMap::new();
        let mut duplicates = BTreeSet::new();
        let mut prior = None;
        if let Ok(f) = File::open(&path) {
            let last_write = f
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or_else(|_| SystemTime::now());
            for line in BufReader::new(f).lines() {
                let line = line.map_err(io_err(&path))?;
                // A line cut short by a kill is the last one; what it would have said did not
                // happen as far as the journal knows, which is the safe reading.
                let Ok(entry) = serde_json::from_str::<Line>(&line) else {
                    continue;
                };
                match entry {
                    Line::Run {
                        destination,
                        visibility_s,
                        ..
                    } => {
                        prior = Some(PriorRun {
                            destination,
                            visibility: Duration::from_secs(visibility_s),
                            last_write,
                            outstanding: 0,
                        });
                    }
                    Line::Sending { ids } => set(&mut status, ids, Some(Status::Sending)),
                    Line::Sent { ids } => set(&mut status, ids, Some(Status::Sent)),
                    Line::Unsent { ids } | Line::Deleted { ids } => set(&mut status, ids, None),
                    Line::Duplicates { ids } => duplicates.extend(ids),
                }
            }
        }
        if let Some(p) = prior.as_mut() {
            p.outstanding = status.len();
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // A line a kill cut short gets its end, so that the next line starts on its own.
        if ends_mid_line(&path) {
            file.write_all(b"\n").map_err(io_err(&path))?;
            file.sync_data().map_err(io_err(&path))?;
        }
        // Make the file's own directory entry durable too.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Journal {
            path,
            file,
            _lock: lock,
            status,
            duplicates,
            prior,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every possible duplicate on record for this DLQ (this run's and earlier runs').
    pub fn duplicates(&self) -> &BTreeSet<String> {
        &self.duplicates
    }

    /// Clears the record of possible duplicates (the operator has checked them); returns how
    /// many there were. What is still outstanding stays.
    pub fn clear_duplicates(mut self) -> Result<usize, super::DlqError> {
        let n = self.duplicates.len();
        self.duplicates.clear();
        self.finish(false, &std::collections::HashSet::new())?;
        Ok(n)
    }

    /// The unfinished earlier run, if the journal holds one.
    pub fn prior(&self) -> Option<&PriorRun> {
        self.prior.as_ref()
    }

    #[cfg(test)]
    pub fn status(&self, id: &str) -> Option<Status> {
        self.status.get(id).copied()
    }

    pub fn begin(
        &mut self,
        dlq: &str,
        destination: &str,
        visibility_s: u64,
    ) -> Result<(), super::DlqError> {
        self.append(&Line::Run {
            dlq: dlq.to_string(),
            destination: destination.to_string(),
            visibility_s,
            at: chrono::Utc::now().to_rfc3339(),
        })
    }

    #[cfg(test)]
    pub fn sending(&mut self, ids: &[String]) -> Result<(), super::DlqError> {
        set(&mut self.status, ids.to_vec(), Some(Status::Sending));
        self.append(&Line::Sending { ids: ids.to_vec() })
    }

    #[cfg(test)]
    pub fn sent(&mut self, ids: &[String]) -> Result<(), super::DlqError> {
        set(&mut self.status, ids.to_vec(), Some(Status::Sent));
        self.append(&Line::Sent { ids: ids.to_vec() })
    }

    #[cfg(test)]
    pub fn unsent(&mut self, ids: &[String]) -> Result<(), super::DlqError> {
        set(&mut self.status, ids.to_vec(), None);
        self.append(&Line::Unsent { ids: ids.to_vec() })
    }

    #[cfg(test)]
    pub fn deleted(&mut self, ids: &[String]) -> Result<(), super::DlqError> {
        set(&mut self.status, ids.to_vec(), None);
        self.append(&Line::Deleted { ids: ids.to_vec() })
    }

    /// End the run. With `forget_prior` (the earlier run's messages have all had time to come
    /// back and none did, so they were deleted), entries only the earlier run wrote are
    /// dropped; possible duplicates stay until cleared. Returns whether something is still
    /// outstanding (the file is also kept while duplicates are on record).
    pub fn finish(
        self,
        forget_prior: bool,
        this_run: &std::collections::HashSet<String>,
    ) -> Result<bool, super::DlqError> {
        let keep: Vec<(String, Status)> = self
            .status
            .iter()
            .filter(|(id, _)| !forget_prior || this_run.contains(*id))
            .map(|(id, s)| (id.clone(), *s))
            .collect();
        drop(self.file);
        let outstanding = !keep.is_empty();
        if keep.is_empty() && self.duplicates.is_empty() {
            std::fs::remove_file(&self.path).map_err(io_err(&self.path))?;
            return Ok(false);
        }
        // Rewrite with only what is outstanding: write aside, fsync, rename over.
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        let prior = self.prior.as_ref();
        let header = Line::Run {
            dlq: String::new(),
            destination: prior.map(|p| p.destination.clone()).unwrap_or_default(),
            visibility_s: prior.map_or(30, |p| p.visibility.as_secs()),
            at: chrono::Utc::now().to_rfc3339(),
        };
        let mut text = serde_json::to_string(&header).unwrap_or_default() + "\n";
        for (status, line) in [(Status::Sending, 0), (Status::Sent, 1)] {
            let ids: Vec<String> = keep
                .iter()
                .filter(|(_, s)| *s == status)
                .map(|(i, _)| i.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let entry = if line == 0 {
                Line::Sending { ids }
            } else {
                Line::Sent { ids }
            };
            text += &(serde_json::to_string(&entry).unwrap_or_default() + "\n");
        }
        if !self.duplicates.is_empty() {
            let entry = Line::Duplicates {
                ids: self.duplicates.iter().cloned().collect(),
            };
            text += &(serde_json::to_string(&entry).unwrap_or_default() + "\n");
        }
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        Ok(outstanding)
    }

    fn append(&mut self, line: &Line) -> Result<(), super::DlqError> {
        let mut text = serde_json::to_string(line).map_err(|e| super::DlqError::Journal {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))
    }
}

fn ends_mid_line(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// One append waiting for the writer: the lines and who to tell once they are on disk.
type Append = (String, tokio::sync::oneshot::Sender<Result<(), String>>);

/// A journal shared by several batches in flight. Each step still reaches the disk before
/// the step it guards runs (the caller awaits it), but the appends that arrive while one
/// fsync is under way are written together and share the next fsync (a group commit).
/// Every line goes out whole in one append-mode write, and a batch's own steps stay in
/// order because each waits for the one before it.
#[derive(Debug)]
pub struct SharedJournal {
    path: PathBuf,
    status: std::sync::Mutex<HashMap<String, Status>>,
    duplicates: std::sync::Mutex<BTreeSet<String>>,
    prior: Option<PriorRun>,
    tx: std::sync::mpsc::Sender<Append>,
    writer: std::thread::JoinHandle<File>,
    lock: File,
}

impl Journal {
    /// Share the journal between batches in flight; [`SharedJournal::into_inner`] gives it
    /// back to finish the run.
    pub fn share(self) -> SharedJournal {
        let (tx, rx) = std::sync::mpsc::channel::<Append>();
        let mut file = self.file;
        let writer = std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                while let Ok(more) = rx.try_recv() {
                    group.push(more);
                }
                let text: String = group.iter().map(|(t, _)| t.as_str()).collect();
                let done = file
                    .write_all(text.as_bytes())
                    .and_then(|()| file.sync_data())
                    .map_err(|e| e.to_string());
                for (_, ack) in group {
                    let _ = ack.send(done.clone());
                }
            }
            file
        });
        SharedJournal {
            path: self.path,
            status: std::sync::Mutex::new(self.status),
            duplicates: std::sync::Mutex::new(self.duplicates),
            prior: self.prior,
            tx,
            writer,
            lock: self._lock,
        }
    }
}

impl SharedJournal {
    pub fn status(&self, id: &str) -> Option<Status> {
        self.status.lock().map_or(None, |s| s.get(id).copied())
    }

    /// Records, before they are sent again, messages an earlier run may already have sent.
    pub async fn duplicates(&self, ids: &[String]) -> Result<(), super::DlqError> {
        if let Ok(mut d) = self.duplicates.lock() {
            d.extend(ids.iter().cloned());
        }
        self.step(&[], None, Line::Duplicates { ids: ids.to_vec() })
            .await
    }

    /// How many possible duplicates are on record (cumulative).
    pub fn duplicates_on_record(&self) -> u64 {
        self.duplicates.lock().map_or(0, |d| d.len() as u64)
    }

    pub async fn sending(&self, ids: &[String]) -> Result<(), super::DlqError> {
        self.step(
            ids,
            Some(Status::Sending),
            Line::Sending { ids: ids.to_vec() },
        )
        .await
    }

    pub async fn sent(&self, ids: &[String]) -> Result<(), super::DlqError> {
        self.step(ids, Some(Status::Sent), Line::Sent { ids: ids.to_vec() })
            .await
    }

    pub async fn unsent(&self, ids: &[String]) -> Result<(), super::DlqError> {
        self.step(ids, None, Line::Unsent { ids: ids.to_vec() })
            .await
    }

    pub async fn deleted(&self, ids: &[String]) -> Result<(), super::DlqError> {
        self.step(ids, None, Line::Deleted { ids: ids.to_vec() })
            .await
    }

    async fn step(
        &self,
        ids: &[String],
        to: Option<Status>,
        line: Line,
    ) -> Result<(), super::DlqError> {
        let fail = |e: String| super::DlqError::Journal {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        };
        if let Ok(mut status) = self.status.lock() {
            set(&mut status, ids.to_vec(), to);
        }
        let mut text = serde_json::to_string(&line).map_err(|e| fail(e.to_string()))?;
        text.push('\n');
        let (ack, done) = tokio::sync::oneshot::channel();
        self.tx
            .send((text, ack))
            .map_err(|_| fail("the journal writer stopped".into()))?;
        done.await
            .map_err(|_| fail("the journal writer stopped".into()))?
            .map_err(fail)
    }

    /// Wait for the writer and take the journal back.
    pub fn into_inner(self) -> Result<Journal, super::DlqError> {
        drop(self.tx);
        let file = self.writer.join().map_err(|_| super::DlqError::Journal {
            path: self.path.clone(),
            source: std::io::Error::other("the journal writer panicked"),
        })?;
        Ok(Journal {
            path: self.path,
            file,
            _lock: self.lock,
            status: self.status.into_inner().unwrap_or_default(),
            duplicates: self.duplicates.into_inner().unwrap_or_default(),
            prior: self.prior,
        })
    }
}

fn set(status: &mut HashMap<String, Status>, ids: Vec<String>, to: Option<Status>) {
    for id in ids {
        match to {
            Some(s) => {
                status.insert(id, s);
            }
            None => {
                status.remove(&id);
            }
        }
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
