//! Against the real upload API (axum app on a socket, a private emulator, SQLite) and the
//! real worker in process: VUs sign up, log in, upload, and wait until `processed`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use api::{AppState, Config, JwtSecret};
use local_cloud::testing::TestCloud;
use store::Store;
use tokio_util::sync::CancellationToken;
use worker::{Worker, WorkerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_reach_the_api_and_are_processed_end_to_end() {
    let cloud = TestCloud::provisioned().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("flightdeck.db").display());
    let store = Store::connect(&db).await.unwrap();
    let config = Config {
        // Cheap argon2 so the test is not dominated by hashing; the algorithm is the same.
        password_params: argon2::Params::new(1024, 1, 1, None).unwrap(),
        ..Config::default()
    };
    let state = AppState::new(
        store.clone(),
        &cloud.clients,
        &cloud.stack,
        &JwtSecret::random(),
        config,
    );
    let url = common::serve(api::app(state)).await;

    let mut wc = WorkerConfig::from_stack(&cloud.stack);
    wc.work_dir = dir.path().join("work");
    wc.receive_wait = Duration::from_secs(1);
    wc.drain_timeout = Duration::from_secs(5);
    let assets = media::Assets::build(&dir.path().join("assets")).unwrap();
    let worker = Worker::new(&cloud.clients, &cloud.stack, store.clone(), assets, wc)
        .await
        .unwrap();
    let (shutdown, abandon) = (CancellationToken::new(), CancellationToken::new());
    let running = tokio::spawn(Arc::new(worker).run(shutdown.clone(), abandon.clone()));

    let s = common::scenario(
        r#"
        thresholds = ["errors < 1%", "processed.max < 2m"]
        [closed]
        vus = 2
        duration = "3m"
        iterations = 3
        [[steps]]
        upload = { video = "tiny", until_processed = true, poll_interval = "200ms", processed_timeout = "2m" }
        "#,
    );
    let r = common::run(s, &[url]).await;
    shutdown.cancel();
    running.await.unwrap();

    assert_eq!(r.requests.ok, 3, "{}", r.to_markdown());
    assert_eq!(r.statuses.get("201"), Some(&3));
    let step = |l: &str| r.steps.iter().find(|s| s.label == l).unwrap();
    assert_eq!(step("signup").ok, 2, "one account per VU");
    assert_eq!(step("login").ok, 2);
    let processed = r.processed.as_ref().unwrap();
    assert_eq!(processed.videos, 3, "{}", r.to_markdown());
    assert!(processed.mb_per_min.unwrap() > 0.0);
    assert!(r.passed, "{}", r.to_markdown());
    // The bytes are really in S3 and the API's records say processed.
    let objects = cloud
        .clients
        .s3
        .list_objects_v2()
        .bucket(&cloud.stack.bucket.name)
        .prefix(&cloud.stack.bucket.uploads_prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(objects.contents().len(), 3);
    let tiny = std::fs::metadata(
        load::video::videos_dir().join(load::video::cache_name(&load::VideoPreset::Tiny.spec())),
    )
    .unwrap()
    .len();
    assert!(objects
        .contents()
        .iter()
        .all(|o| o.size() == Some(tiny as i64)));
    assert!(r.requests.bytes_sent > 3 * tiny);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_without_an_api_fails_setup_clearly() {
    let s = common::scenario(
        r#"
        [open]
        phases = [{ duration = "1s", rate = 1 }]
        accounts = 1
        [[steps]]
        upload = { video = "tiny" }
        "#,
    );
    let target = load::ApiTarget::parse(&common::refused_address()).unwrap();
    let (tx, _rx) = tokio::sync::watch::channel(load::Progress::preparing("t", "", 0.0));
    let e = load::run(
        s,
        load::RunOptions::new(vec![target], load::video::in_process()),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("signing up"), "{msg}");
    assert!(msg.contains("connect_refused"), "{msg}");
    assert!(msg.contains("is the API running there?"), "{msg}");
}

#[test]
fn the_video_cache_follows_the_local_cloud_cache() {
    assert_eq!(load::video::cache_dir(), local_cloud::paths::cache_dir());
}
