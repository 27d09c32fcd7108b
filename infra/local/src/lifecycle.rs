//! The local cloud's S3 lifecycle rule: on AWS a lifecycle rule expires objects some days
//! after they were written; the emulator stores rules but never runs them, and a demo's load
//! runs write gigabytes an hour. Every `every`, this removes each version (and delete marker)
//! under the given prefixes written more than `expire_after` ago, as a rule with
//! `NoncurrentVersionExpiration` and `Expiration` would. Talks to S3 only.

use std::time::Duration;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use chrono::{DateTime, Utc};
use stack::errors::{describe, AwsFailure};
use stack::Clients;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct LifecycleConfig {
    pub bucket: String,
    /// Only keys under these prefixes expire (the uploads and the processed outputs).
    pub prefixes: Vec<String>,
    pub expire_after: Duration,
    pub every: Duration,
}

impl LifecycleConfig {
    /// The stack's uploads and outputs, expired `expire_after` after they were written.
    pub fn for_stack(stack: &stack::Stack, expire_after: Duration) -> LifecycleConfig {
        LifecycleConfig {
            bucket: stack.bucket.name.clone(),
            prefixes: vec!["uploads/".into(), "processed/".into()],
            expire_after,
            every: Duration::from_secs(60),
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub versions: u64,
    pub bytes: u64,
}

/// Listing pages one sweep reads at most (1,000 versions each); the rest waits for the next.
const MAX_PAGES: usize = 50;

/// One pass: remove every version under the prefixes last modified before `now - expire_after`.
pub async fn sweep(
    clients: &Clients,
    config: &LifecycleConfig,
    now: DateTime<Utc>,
) -> Result<Swept, AwsFailure> {
    let cutoff = now - chrono::Duration::from_std(config.expire_after).unwrap_or_default();
    let cutoff_s = cutoff.timestamp();
    let mut swept = Swept::default();
    for prefix in &config.prefixes {
        let mut expired = Vec::new();
        // ListObjectVersions pages by key and version markers (the SDK has no paginator).
        let (mut key_marker, mut version_marker) = (None, None);
        for _ in 0..MAX_PAGES {
            let page = clients
                .s3
                .list_object_versions()
                .bucket(&config.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| describe(&e))?;
            for v in page.versions() {
                if v.last_modified().is_some_and(|t| t.secs() < cutoff_s) {
                    swept.bytes += v.size().unwrap_or(0).max(0) as u64;
                    expired.push((
                        v.key().unwrap_or_default().to_owned(),
                        v.version_id().map(str::to_owned),
                    ));
                }
            }
            for m in page.delete_markers() {
                if m.last_modified().is_some_and(|t| t.secs() < cutoff_s) {
                    expired.push((
                        m.key().unwrap_or_default().to_owned(),
                        m.version_id().map(str::to_owned),
                    ));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        // DeleteObjects takes at most 1,000 keys a call.
        for chunk in expired.chunks(1000) {
            let objects = chunk
                .iter()
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.clone())
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
                .bucket(&config.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            swept.versions += chunk.len() as u64;
        }
    }
    Ok(swept)
}

/// The rule, running until stopped.
pub struct Lifecycle {
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Lifecycle {
    pub fn start(clients: &Clients, config: LifecycleConfig) -> Lifecycle {
        let token = CancellationToken::new();
        let (clients, stop) = (clients.clone(), token.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    () = tokio::time::sleep(config.every) => {}
                }
                match sweep(&clients, &config, Utc::now()).await {
                    Ok(s) if s.versions > 0 => tracing::info!(
                        versions = s.versions,
                        mb = s.bytes / (1 << 20),
                        "lifecycle: expired objects older than {} s",
                        config.expire_after.as_secs()
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("lifecycle: {e}"),
                }
            }
        });
        Lifecycle { token, task }
    }

    pub async fn stop(self) {
        self.token.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use aws_sdk_s3::primitives::ByteStream;

    use super::*;
    use crate::testing::TestCloud;

    /// Objects written before the cutoff go, every version of them; newer ones and keys
    /// outside the prefixes stay.
    #[tokio::test]
    async fn a_sweep_expires_old_versions_under_the_prefixes_only() {
        let cloud = TestCloud::provisioned().await;
        let s3 = &cloud.clients.s3;
        let bucket = cloud.stack.bucket.name.clone();
        for key in [
            "uploads/a.mp4",
            "uploads/a.mp4",
            "processed/b.mp4",
            "keep/c.txt",
        ] {
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(ByteStream::from_static(b"0123456789"))
                .send()
                .await
                .unwrap();
        }
        let config = LifecycleConfig::for_stack(&cloud.stack, Duration::from_secs(60));
        // Nothing is older than a minute yet.
        let none = sweep(&cloud.clients, &config, Utc::now()).await.unwrap();
        assert_eq!(none, Swept::default());
        // Seen from two minutes ahead, everything under the prefixes has expired.
        let later = Utc::now() + chrono::Duration::seconds(120);
        let swept = sweep(&cloud.clients, &config, later).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                versions: 3,
                bytes: 30
            }
        );
        let left = s3
            .list_object_versions()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let keys: Vec<_> = left.versions().iter().filter_map(|v| v.key()).collect();
        assert_eq!(keys, ["keep/c.txt"]);
    }
}
