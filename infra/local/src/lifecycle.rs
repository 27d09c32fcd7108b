//! The local cloud's S3 lifecycle rule, and its storage cap.
//!
//! On AWS a lifecycle rule expires objects some days after they were written; the emulator
//! stores rules but never runs them, and a demo's load runs write gigabytes an hour. Every
//! `every`, this removes each version (and delete marker) under the given prefixes written
//! more than `expire_after` ago, as a rule with `NoncurrentVersionExpiration` and
//! `Expiration` would.
//!
//! S3 has no size limit, but this machine's disk does: when the versions under the prefixes
//! hold more than 60 % of the local cloud's storage cap ([`StorageLimits`]), finished work
//! goes until 40 % is left: first the uploads of videos that have an output (oldest first),
//! then the outputs (oldest first; while the waiting uploads alone hold more than that, the
//! newest outputs up to 5 % of the cap stay). An upload without an output (queued, in
//! progress, or in the DLQ waiting for a redrive) is never removed for the cap: removing it
//! would fail its job with `source_missing`. When those alone fill the cap, the emulator
//! refuses new uploads past 90 % of it (the API answers 503 `storage_unavailable`) until
//! workers finish some, and keeps the rest for their outputs. A video's upload and output
//! are matched by file name (`uploads/<date>/<id>.mov` and `processed/<date>/<id>.mp4`).
//! Talks to S3 only.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use chrono::{DateTime, Utc};
use stack::errors::{describe, AwsFailure};
use stack::Clients;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::storage::{human, StorageLimits};

#[derive(Debug, Clone)]
pub struct LifecycleConfig {
    pub bucket: String,
    /// Only keys under these two prefixes expire: the uploads...
    pub uploads: String,
    /// ...and the processed outputs.
    pub outputs: String,
    /// Versions written longer ago than this go; `None` keeps them (no expiry rule).
    pub expire_after: Option<Duration>,
    /// The local cloud's storage bounds: past [`StorageLimits::evict_above`] the oldest
    /// versions go. `None`: no cap (an emulator this process did not bound).
    pub storage: Option<StorageLimits>,
    /// Sweeps come this often while the last one found the data past the eviction mark or
    /// removed something for the cap...
    pub every: Duration,
    /// ...and this often otherwise (each sweep lists every version under the prefixes, which
    /// costs the emulator CPU with thousands of uploads stored).
    pub every_below_mark: Duration,
}

impl LifecycleConfig {
    /// The stack's uploads and outputs, expired `expire_after` after they were written and
    /// kept under the storage cap, checked every 10 s past the eviction mark and every 30 s
    /// below it. A load run writes 100-250 MB/s, but the emulator refuses new uploads past 90 %
    /// of the cap whatever the lifecycle does; each sweep lists every version under the
    /// prefixes, the emulator's largest cost in a drain of thousands of uploads.
    pub fn for_stack(
        stack: &stack::Stack,
        expire_after: Option<Duration>,
        storage: Option<StorageLimits>,
    ) -> LifecycleConfig {
        LifecycleConfig {
            bucket: stack.bucket.name.clone(),
            uploads: stack.bucket.uploads_prefix.clone(),
            outputs: stack.bucket.processed_prefix.clone(),
            expire_after,
            storage,
            every: Duration::from_secs(10),
            every_below_mark: Duration::from_secs(30),
        }
    }
}

/// What one sweep removed, and what is left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Versions and delete markers removed because of their age...
    pub versions: u64,
    pub bytes: u64,
    /// ...and the processed uploads and outputs removed to stay under the storage cap.
    pub evicted: u64,
    pub evicted_bytes: u64,
    /// Bytes the versions under the prefixes hold after the sweep...
    pub held: u64,
    /// ...of which uploads without an output (never removed for the cap).
    pub waiting: u64,
}

/// Listing pages one sweep reads at most (1,000 versions each); the rest waits for the next.
const MAX_PAGES: usize = 50;

/// One version or delete marker under the prefixes.
struct Listed {
    key: String,
    version: Option<String>,
    size: u64,
    modified_s: i64,
    marker: bool,
    /// Under the outputs prefix (else under the uploads one).
    output: bool,
}

/// The video a key belongs to: its file name up to the first dot
/// (`uploads/2026/01/02/<id>.mov` and `processed/2026/01/02/<id>.mp4` -> `<id>`).
fn video_of(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.split('.').next().unwrap_or(name)
}

/// Every version and delete marker under `prefix`, up to [`MAX_PAGES`] pages.
async fn list(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    output: bool,
) -> Result<Vec<Listed>, AwsFailure> {
    let mut listed = Vec::new();
    // ListObjectVersions pages by key and version markers (the SDK has no paginator).
    let (mut key_marker, mut version_marker) = (None, None);
    for _ in 0..MAX_PAGES {
        let page = clients
            .s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            // S3's largest page; the emulator's default is 100, and each of its pages costs
            // a pass over every version in the bucket.
            .max_keys(1000)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        for v in page.versions() {
            listed.push(Listed {
                key: v.key().unwrap_or_default().to_owned(),
                version: v.version_id().map(str::to_owned),
                size: v.size().unwrap_or(0).max(0) as u64,
                modified_s: v.last_modified().map_or(i64::MAX, |t| t.secs()),
                marker: false,
                output,
            });
        }
        for m in page.delete_markers() {
            listed.push(Listed {
                key: m.key().unwrap_or_default().to_owned(),
                version: m.version_id().map(str::to_owned),
                size: 0,
                modified_s: m.last_modified().map_or(i64::MAX, |t| t.secs()),
                marker: true,
                output,
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    Ok(listed)
}

/// Delete these versions, at most 1,000 a call (DeleteObjects' limit).
async fn delete(clients: &Clients, bucket: &str, gone: &[Listed]) -> Result<(), AwsFailure> {
    for chunk in gone.chunks(1000) {
        let objects = chunk
            .iter()
            .filter_map(|l| {
                ObjectIdentifier::builder()
                    .key(&l.key)
                    .set_version_id(l.version.clone())
                    .build()
                    .ok()
            })
            .collect();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| AwsFailure {
                class: stack::ErrorClass::Permanent,
                code: None,
                message: e.to_string(),
                status: None,
                unreachable: false,
            })?;
        clients
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| describe(&e))?;
    }
    Ok(())
}

/// One pass: remove every version under the prefixes last modified before
/// `now - expire_after`, then, past the storage cap's eviction mark, finished work: the
/// uploads of videos with an output, then the outputs, oldest first.
pub async fn sweep(
    clients: &Clients,
    config: &LifecycleConfig,
    now: DateTime<Utc>,
) -> Result<Swept, AwsFailure> {
    let cutoff_s = config.expire_after.map_or(i64::MIN, |after| {
        (now - chrono::Duration::from_std(after).unwrap_or_default()).timestamp()
    });
    let mut listed = list(clients, &config.bucket, &config.uploads, false).await?;
    listed.extend(list(clients, &config.bucket, &config.outputs, true).await?);
    let (mut gone, kept): (Vec<Listed>, Vec<Listed>) =
        listed.into_iter().partition(|l| l.modified_s < cutoff_s);
    let finished: HashSet<String> = kept
        .iter()
        .filter(|l| l.output && !l.marker)
        .map(|l| video_of(&l.key).to_owned())
        .collect();
    // Uploads without an output are waiting for a worker (or a redrive): never removed for
    // the cap. A delete marker holds nothing and stays for the expiry.
    let (waiting, mut finished_work): (Vec<Listed>, Vec<Listed>) = kept
        .into_iter()
        .filter(|l| !l.marker)
        .partition(|l| !l.output && !finished.contains(video_of(&l.key)));
    let mut swept = Swept {
        versions: gone.len() as u64,
        bytes: gone.iter().map(|l| l.size).sum(),
        waiting: waiting.iter().map(|l| l.size).sum(),
        ..Swept::default()
    };
    swept.held = swept.waiting + finished_work.iter().map(|l| l.size).sum::<u64>();
    if let Some(limits) = config.storage.filter(|l| swept.held > l.evict_above()) {
        // Processed uploads before outputs, each oldest first.
        finished_work.sort_by(|a, b| {
            (a.output, a.modified_s, &a.key).cmp(&(b.output, b.modified_s, &b.key))
        });
        // Outputs go down to 40 % too, but while the waiting uploads alone hold more, the
        // newest outputs up to 5 % of the cap stay: removing them would only make room for
        // other outputs, and a result just written is what someone looks for.
        let outputs_to = limits.evict_to().max(swept.waiting + limits.cap / 20);
        for l in finished_work {
            let to = if l.output {
                outputs_to
            } else {
                limits.evict_to()
            };
            if swept.held <= to {
                break;
            }
            swept.held -= l.size;
            swept.evicted += 1;
            swept.evicted_bytes += l.size;
            gone.push(l);
        }
    }
    delete(clients, &config.bucket, &gone).await?;
    Ok(swept)
}

/// What the lifecycle last counted, for the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleState {
    /// Bytes the versions under the prefixes held after the last sweep; `None` before the
    /// first.
    pub held: Option<u64>,
    /// The storage bounds it keeps them under.
    pub storage: Option<StorageLimits>,
}

/// The rule, running until stopped.
pub struct Lifecycle {
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    state: watch::Receiver<LifecycleState>,
}

impl Lifecycle {
    pub fn start(clients: &Clients, config: LifecycleConfig) -> Lifecycle {
        let token = CancellationToken::new();
        let (clients, stop) = (clients.clone(), token.clone());
        let (tx, state) = watch::channel(LifecycleState {
            held: None,
            storage: config.storage,
        });
        let task = tokio::spawn(async move {
            let mut untold = Untold::default();
            let mut wait = config.every;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                match sweep(&clients, &config, Utc::now()).await {
                    Ok(s) => {
                        report(&config, &s, &mut untold);
                        tx.send_modify(|state| state.held = Some(s.held));
                        let past_mark = config.storage.is_some_and(|l| s.held > l.evict_above());
                        wait = if past_mark || s.evicted > 0 {
                            config.every
                        } else {
                            config.every_below_mark
                        };
                    }
                    Err(e) => {
                        tracing::warn!("lifecycle: {e}");
                        wait = config.every;
                    }
                }
            }
        });
        Lifecycle { token, task, state }
    }

    /// The lifecycle's progress, updated after every sweep.
    pub fn subscribe(&self) -> watch::Receiver<LifecycleState> {
        self.state.clone()
    }

    pub async fn stop(self) {
        self.token.cancel();
        let _ = self.task.await;
    }
}

/// How often at most the removals for the cap are logged (a load run causes one per sweep).
const TELL_EVERY: Duration = Duration::from_secs(60);

/// Removals for the cap not logged yet, and when they last were.
#[derive(Default)]
struct Untold {
    evicted: u64,
    bytes: u64,
    told_at: Option<tokio::time::Instant>,
}

fn report(config: &LifecycleConfig, s: &Swept, untold: &mut Untold) {
    if s.versions > 0 {
        tracing::info!(
            versions = s.versions,
            mb = s.bytes >> 20,
            "lifecycle: expired objects older than {} s",
            config.expire_after.map_or(0, |d| d.as_secs())
        );
    }
    untold.evicted += s.evicted;
    untold.bytes += s.evicted_bytes;
    let due = untold.told_at.is_none_or(|t| t.elapsed() >= TELL_EVERY);
    if let (true, true, Some(limits)) = (untold.evicted > 0, due, config.storage) {
        let since = match untold.told_at {
            Some(t) => format!(" in the last {} s", t.elapsed().as_secs()),
            None => String::new(),
        };
        tracing::warn!(
            "lifecycle: uploads and outputs passed {} % of the local cloud's {} storage cap \
             ({}): removed {} processed uploads and outputs, oldest first ({}){since}; {} \
             left, of which uploads waiting for a worker {} (kept; new uploads stop at {} % \
             of the cap)",
            crate::storage::EVICT_ABOVE_PERCENT,
            human(limits.cap),
            crate::storage::STORAGE_ENV,
            untold.evicted,
            human(untold.bytes),
            human(s.held),
            human(s.waiting),
            crate::storage::INTAKE_ABOVE_PERCENT
        );
        *untold = Untold {
            told_at: Some(tokio::time::Instant::now()),
            ..Untold::default()
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use aws_sdk_s3::primitives::ByteStream;

    use super::*;
    use crate::testing::TestCloud;

    /// Writes `body` to each key in turn (a key twice makes two versions).
    async fn put_all(cloud: &TestCloud, keys: &[&str], body: &[u8]) {
        for key in keys {
            cloud
                .clients
                .s3
                .put_object()
                .bucket(&cloud.stack.bucket.name)
                .key(*key)
                .body(ByteStream::from(body.to_vec()))
                .send()
                .await
                .unwrap();
        }
    }

    /// The key of every version left in the bucket, sorted.
    async fn keys_left(cloud: &TestCloud) -> Vec<String> {
        let left = cloud
            .clients
            .s3
            .list_object_versions()
            .bucket(&cloud.stack.bucket.name)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = left
            .versions()
            .iter()
            .filter_map(|v| v.key().map(str::to_owned))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Objects written before the cutoff go, every version of them; newer ones and keys
    /// outside the prefixes stay.
    #[tokio::test]
    async fn a_sweep_expires_old_versions_under_the_prefixes_only() {
        let cloud = TestCloud::provisioned().await;
        let keys = [
            "uploads/a.mp4",
            "uploads/a.mp4",
            "processed/b.mp4",
            "keep/c.txt",
        ];
        put_all(&cloud, &keys, b"0123456789").await;
        let config = LifecycleConfig::for_stack(&cloud.stack, Some(Duration::from_secs(60)), None);
        // Nothing is older than a minute yet.
        let none = sweep(&cloud.clients, &config, Utc::now()).await.unwrap();
        assert_eq!(
            none,
            Swept {
                held: 30,
                waiting: 20,
                ..Swept::default()
            }
        );
        // Seen from two minutes ahead, everything under the prefixes has expired.
        let later = Utc::now() + chrono::Duration::seconds(120);
        let swept = sweep(&cloud.clients, &config, later).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                versions: 3,
                bytes: 30,
                ..Swept::default()
            }
        );
        assert_eq!(keys_left(&cloud).await, ["keep/c.txt"]);
    }

    /// The stack's lifecycle with a storage cap of `cap` bytes and no expiry: only the cap
    /// removes anything.
    fn capped(cloud: &TestCloud, cap: u64) -> LifecycleConfig {
        let limits = StorageLimits { cap, min_free: 0 };
        LifecycleConfig::for_stack(&cloud.stack, None, Some(limits))
    }

    /// Past 60 % of the cap finished work goes until 40 % is left: the uploads of videos with
    /// an output, then the outputs, each oldest first. An upload without an output stays,
    /// however old; keys outside the prefixes are neither counted nor removed.
    #[tokio::test]
    async fn past_the_cap_finished_work_goes_first_and_waiting_uploads_stay() {
        let cloud = TestCloud::provisioned().await;
        // b is the oldest upload but has no output: it waits for a worker.
        let keys = [
            "uploads/2026/01/02/b.mov",
            "uploads/2026/01/02/a.mov",
            "processed/2026/01/02/a.mp4",
            "uploads/2026/01/02/c.mov",
            "processed/2026/01/02/c.mp4",
            "keep/e",
        ];
        put_all(&cloud, &keys, &[7u8; 1000]).await;
        let config = capped(&cloud, 5000);
        let swept = sweep(&cloud.clients, &config, Utc::now()).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                evicted: 3,
                evicted_bytes: 3000,
                held: 2000,
                waiting: 1000,
                ..Swept::default()
            }
        );
        // Both processed uploads, then the older output; b stays.
        assert_eq!(
            keys_left(&cloud).await,
            [
                "keep/e",
                "processed/2026/01/02/c.mp4",
                "uploads/2026/01/02/b.mov"
            ]
        );
        // At 40 % of the cap nothing more goes.
        let again = sweep(&cloud.clients, &config, Utc::now()).await.unwrap();
        assert_eq!(again.evicted, 0);

        // Waiting uploads alone past the cap: nothing goes (the emulator refuses new uploads
        // instead).
        put_all(&cloud, &["uploads/d.mov", "uploads/f.mov"], &[7u8; 1000]).await;
        let tight = capped(&cloud, 2000);
        let swept = sweep(&cloud.clients, &tight, Utc::now()).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                evicted: 1,
                evicted_bytes: 1000,
                held: 3000,
                waiting: 3000,
                ..Swept::default()
            },
            "only c's output goes"
        );
        assert_eq!(
            keys_left(&cloud).await,
            [
                "keep/e",
                "uploads/2026/01/02/b.mov",
                "uploads/d.mov",
                "uploads/f.mov"
            ]
        );

        // With 3,000 bytes waiting against a 3,400-byte cap, outputs go only down to the
        // waiting uploads plus 5 % of the cap (3,170): the older goes, the newer stays.
        put_all(&cloud, &["processed/g.mp4", "processed/h.mp4"], &[7u8; 100]).await;
        let overloaded = capped(&cloud, 3400);
        let swept = sweep(&cloud.clients, &overloaded, Utc::now())
            .await
            .unwrap();
        assert_eq!((swept.evicted, swept.held), (1, 3100), "{swept:?}");
        let left = keys_left(&cloud).await;
        let outputs: Vec<_> = left
            .iter()
            .filter(|k| k.starts_with("processed/"))
            .collect();
        assert_eq!(outputs, ["processed/h.mp4"]);
    }

    #[test]
    fn a_key_belongs_to_the_video_named_by_its_file() {
        assert_eq!(video_of("uploads/2026/01/02/3f1c.mov"), "3f1c");
        assert_eq!(video_of("processed/2026/01/02/3f1c.mp4"), "3f1c");
        assert_eq!(video_of("uploads/x"), "x");
        assert_eq!(video_of("uploads/x.tar.gz"), "x");
    }
}
