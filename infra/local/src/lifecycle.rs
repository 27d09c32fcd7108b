//! The local cloud's S3 lifecycle rule, and its storage cap.
//!
//! On AWS a lifecycle rule expires objects some days after they were written; the emulator
//! stores rules but never runs them, and a demo's load runs write gigabytes an hour. Every
//! `every`, this removes each version (and delete marker) under the given prefixes written
//! more than `expire_after` ago, as a rule with `NoncurrentVersionExpiration` and
//! `Expiration` would.
//!
//! S3 has no size limit, but this machine's disk does: when the versions under the prefixes
//! hold more than 60 % of the local cloud's storage cap ([`StorageLimits`]), the oldest go
//! until 40 % is left, so that the emulator, which refuses writes past the cap, keeps taking
//! new uploads. A job whose upload went that way fails with `source_missing`, as it would
//! after an expiry. Talks to S3 only.

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
    /// Only keys under these prefixes expire (the uploads and the processed outputs).
    pub prefixes: Vec<String>,
    /// Versions written longer ago than this go; `None` keeps them (no expiry rule).
    pub expire_after: Option<Duration>,
    /// The local cloud's storage bounds: past [`StorageLimits::evict_above`] the oldest
    /// versions go. `None`: no cap (an emulator this process did not bound).
    pub storage: Option<StorageLimits>,
    pub every: Duration,
}

impl LifecycleConfig {
    /// The stack's uploads and outputs, expired `expire_after` after they were written and
    /// kept under the storage cap, checked every 5 s (a load run writes 100-250 MB/s).
    pub fn for_stack(
        stack: &stack::Stack,
        expire_after: Option<Duration>,
        storage: Option<StorageLimits>,
    ) -> LifecycleConfig {
        LifecycleConfig {
            bucket: stack.bucket.name.clone(),
            prefixes: vec!["uploads/".into(), "processed/".into()],
            expire_after,
            storage,
            every: Duration::from_secs(5),
        }
    }
}

/// What one sweep removed, and what is left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Versions and delete markers removed because of their age...
    pub versions: u64,
    pub bytes: u64,
    /// ...and the oldest versions removed to stay under the storage cap.
    pub evicted: u64,
    pub evicted_bytes: u64,
    /// Bytes the versions under the prefixes hold after the sweep.
    pub held: u64,
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
}

/// Every version and delete marker under `prefix`, up to [`MAX_PAGES`] pages.
async fn list(clients: &Clients, bucket: &str, prefix: &str) -> Result<Vec<Listed>, AwsFailure> {
    let mut listed = Vec::new();
    // ListObjectVersions pages by key and version markers (the SDK has no paginator).
    let (mut key_marker, mut version_marker) = (None, None);
    for _ in 0..MAX_PAGES {
        let page = clients
            .s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
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
            });
        }
        for m in page.delete_markers() {
            listed.push(Listed {
                key: m.key().unwrap_or_default().to_owned(),
                version: m.version_id().map(str::to_owned),
                size: 0,
                modified_s: m.last_modified().map_or(i64::MAX, |t| t.secs()),
                marker: true,
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
/// `now - expire_after`, then, past the storage cap's eviction mark, the oldest of the rest.
pub async fn sweep(
    clients: &Clients,
    config: &LifecycleConfig,
    now: DateTime<Utc>,
) -> Result<Swept, AwsFailure> {
    let cutoff_s = config.expire_after.map_or(i64::MIN, |after| {
        (now - chrono::Duration::from_std(after).unwrap_or_default()).timestamp()
    });
    let mut listed = Vec::new();
    for prefix in &config.prefixes {
        listed.extend(list(clients, &config.bucket, prefix).await?);
    }
    let (mut gone, mut kept): (Vec<Listed>, Vec<Listed>) =
        listed.into_iter().partition(|l| l.modified_s < cutoff_s);
    let mut swept = Swept {
        versions: gone.len() as u64,
        bytes: gone.iter().map(|l| l.size).sum(),
        held: kept.iter().map(|l| l.size).sum(),
        ..Swept::default()
    };
    if let Some(limits) = config.storage.filter(|l| swept.held > l.evict_above()) {
        // Oldest first; a delete marker holds nothing and stays for the expiry.
        kept.retain(|l| !l.marker);
        kept.sort_by(|a, b| (a.modified_s, &a.key).cmp(&(b.modified_s, &b.key)));
        for l in kept {
            if swept.held <= limits.evict_to() {
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
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    () = tokio::time::sleep(config.every) => {}
                }
                match sweep(&clients, &config, Utc::now()).await {
                    Ok(s) => {
                        report(&config, &s, &mut untold);
                        tx.send_modify(|state| state.held = Some(s.held));
                    }
                    Err(e) => tracing::warn!("lifecycle: {e}"),
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
            "lifecycle: uploads and outputs passed 60 % of the local cloud's {} storage cap \
             ({}): removed the {} oldest ({}){since}, {} left",
            human(limits.cap),
            crate::storage::STORAGE_ENV,
            untold.evicted,
            human(untold.bytes),
            human(s.held)
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

    /// Past 60 % of the cap the oldest versions under the prefixes go until 40 % is left;
    /// keys outside the prefixes are neither counted nor removed.
    #[tokio::test]
    async fn past_the_cap_the_oldest_versions_go_first() {
        let cloud = TestCloud::provisioned().await;
        // Written in this order, within a second or across one: either way a and b are the
        // two oldest by (time, key).
        let keys = [
            "uploads/a",
            "processed/b",
            "uploads/c",
            "uploads/d",
            "keep/e",
        ];
        put_all(&cloud, &keys, &[7u8; 1000]).await;
        let cap = StorageLimits {
            cap: 5000,
            min_free: 0,
        };
        // No expiry: only the cap removes anything.
        let config = LifecycleConfig::for_stack(&cloud.stack, None, Some(cap));
        let swept = sweep(&cloud.clients, &config, Utc::now()).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                evicted: 2,
                evicted_bytes: 2000,
                held: 2000,
                ..Swept::default()
            }
        );
        assert_eq!(
            keys_left(&cloud).await,
            ["keep/e", "uploads/c", "uploads/d"]
        );
        // At 40 % of the cap nothing more goes.
        let again = sweep(&cloud.clients, &config, Utc::now()).await.unwrap();
        assert_eq!(again.evicted, 0);
    }
}
