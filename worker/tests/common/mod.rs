//! Shared fixtures: a private local cloud, a SQLite store, a video row and an upload.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use local_cloud::testing::TestCloud;
use stack::message::S3Uri;
use stack::VideoTask;
use store::{NewUser, NewVideo, Store};
use tempfile::TempDir;
use uuid::Uuid;
use worker::{Worker, WorkerConfig};

pub struct Env {
    pub cloud: TestCloud,
    pub store: Store,
    pub db_url: String,
    pub dir: TempDir,
    pub owner: Uuid,
    pub bucket: String,
    pub tasks_url: String,
    pub dlq_url: String,
}

/// The transform's assets, built once and shared by every test (the build is race-safe).
pub fn assets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("worker-test-assets")
}

pub fn assets() -> media::Assets {
    media::Assets::build(&assets_dir()).unwrap()
}

pub async fn env() -> Env {
    let cloud = TestCloud::provisioned().await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("flightdeck.db").display());
    let store = Store::connect(&db_url).await.unwrap();
    let owner = store
        .create_user(NewUser {
            email: "pilot@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Pilot".into(),
            password_hash: "x".into(),
            city: None,
            country: None,
        })
        .await
        .unwrap()
        .id;
    let sqs = &cloud.clients.sqs;
    let url = |name: String| async move {
        sqs.get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    };
    let tasks_url = url(cloud.stack.queues.tasks.name.clone()).await;
    let dlq_url = url(cloud.stack.queues.dlq.name.clone()).await;
    let bucket = cloud.stack.bucket.name.clone();
    Env {
        cloud,
        store,
        db_url,
        dir,
        owner,
        bucket,
        tasks_url,
        dlq_url,
    }
}

impl Env {
    /// A worker with short waits and backoffs, so tests stay fast.
    pub async fn worker(&self, tweak: impl FnOnce(&mut WorkerConfig)) -> Worker {
        self.worker_on(&self.cloud.clients, tweak).await
    }

    /// `worker`, calling AWS through `clients` (a test's own, e.g. with an interceptor).
    pub async fn worker_on(
        &self,
        clients: &stack::aws::Clients,
        tweak: impl FnOnce(&mut WorkerConfig),
    ) -> Worker {
        let mut config = WorkerConfig::from_stack(&self.cloud.stack);
        config.receive_wait = Duration::from_secs(1);
        config.backoff_base = Duration::from_secs(1);
        config.backoff_max = Duration::from_secs(2);
        config.work_dir = self.work_dir();
        config.instance_id = "test-worker".into();
        tweak(&mut config);
        let assets = tokio::task::spawn_blocking(assets).await.unwrap();
        Worker::new(
            clients,
            &self.cloud.stack,
            self.store.clone(),
            assets,
            config,
        )
        .await
        .unwrap()
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Record a video and (when `bytes` is given) upload it; returns the task message.
    pub async fn video(&self, bytes: Option<Vec<u8>>) -> VideoTask {
        let id = Uuid::new_v4();
        let key = format!("uploads/2026/11/22/{id}.mp4");
        let size = bytes.as_ref().map_or(0, Vec::len) as u64;
        if let Some(bytes) = bytes {
            self.put(&key, bytes).await;
        }
        self.store
            .create_video(NewVideo {
                id,
                owner_id: self.owner,
                title: "test".into(),
                source_key: key.clone(),
                original_filename: "in.mp4".into(),
                size_bytes: size,
                content_type: "video/mp4".into(),
                correlation_id: format!("corr-{id}"),
            })
            .await
            .unwrap();
        VideoTask::new(id, S3Uri::new(&self.bucket, key), format!("corr-{id}"))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.cloud
            .clients
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .unwrap();
    }

    pub async fn send(&self, body: &str) {
        self.cloud
            .clients
            .sqs
            .send_message()
            .queue_url(&self.tasks_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Visible + in flight messages of a queue.
    pub async fn depth(&self, url: &str) -> (u64, u64) {
        let out = self
            .cloud
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes.unwrap();
        let get = |n: QueueAttributeName| attrs.get(&n).unwrap().parse().unwrap();
        (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Receive one message (body, message attributes, receive count) directly.
    pub async fn receive_raw(&self, url: &str, wait_s: i32) -> Option<RawMessage> {
        let out = self
            .cloud
            .clients
            .sqs
            .receive_message()
            .queue_url(url)
            .wait_time_seconds(wait_s)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(stack::aws::long_poll(
                &self.cloud.clients.sqs,
                std::time::Duration::from_secs(wait_s.max(0) as u64),
            ))
            .send()
            .await
            .unwrap();
        let m = out.messages.unwrap_or_default().into_iter().next()?;
        let attrs = m
            .message_attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.string_value.unwrap_or_default()))
            .collect();
        let count = m
            .attributes
            .unwrap_or_default()
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Some(RawMessage {
            body: m.body.unwrap_or_default(),
            attributes: attrs,
            receive_count: count,
        })
    }

    pub async fn processed_keys(&self) -> Vec<String> {
        let out = self
            .cloud
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix("processed/")
            .send()
            .await
            .unwrap();
        out.contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| o.key)
            .collect()
    }

    pub async fn download(&self, key: &str, to: &Path) -> Option<String> {
        let out = self
            .cloud
            .clients
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let content_type = out.content_type.clone();
        let bytes = out.body.collect().await.unwrap().into_bytes();
        std::fs::write(to, &bytes).unwrap();
        content_type
    }
}

pub struct RawMessage {
    pub body: String,
    pub attributes: std::collections::HashMap<String, String>,
    pub receive_count: u32,
}

/// A tiny synthetic MP4 (320x240, 30 fps).
pub fn synth(dir: &Path, seconds: f64) -> Vec<u8> {
    let path = dir.join(format!("synth-{}.mp4", Uuid::new_v4()));
    media::synth_video(
        &path,
        &media::SynthSpec {
            duration_s: seconds,
            ..media::SynthSpec::default()
        },
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

pub fn dir_is_empty(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => true,
    }
}
