//! SQLite as the API and the worker use it: two `Store`s (two pools, as two processes would
//! have) on one file in WAL mode, concurrent first starts, reopening, and `sqlite::memory:`.

use store::{Store, VideoStatus};
use tokio::task::JoinSet;

use crate::common::{new_user, new_video, processed_key, processed_video, temp_sqlite_url, user};

#[tokio::test]
async fn api_and_worker_share_one_file() {
    let (dir, url) = temp_sqlite_url();
    let api = Store::connect(&url).await.unwrap();
    let worker = Store::connect(&url).await.unwrap();

    let owner = user(&api, "owner@example.com", Some("Cali")).await;
    let video = api.create_video(new_video(owner, "shared")).await.unwrap();

    // The worker sees the API's row and moves it; the API sees each move.
    assert_eq!(
        worker.get_video(video.id).await.unwrap(),
        Some(video.clone())
    );
    worker.mark_processing(video.id).await.unwrap();
    assert_eq!(
        api.get_video(video.id).await.unwrap().unwrap().status,
        VideoStatus::Processing
    );
    worker
        .mark_processed(video.id, &processed_key(video.id))
        .await
        .unwrap();
    assert_eq!(api.list_public(None, 10, 0).await.unwrap().total, 1);

    // WAL mode is on: the write-ahead log sits beside the database file.
    assert!(dir.path().join("data/store.db-wal").exists());

    api.close().await;
    worker.close().await;
}

#[tokio::test]
async fn concurrent_writers_on_one_file_wait_instead_of_failing() {
    let (_dir, url) = temp_sqlite_url();
    let a = Store::connect(&url).await.unwrap();
    let b = Store::connect(&url).await.unwrap();
    let owner = user(&a, "owner@example.com", None).await;
    let video = processed_video(&a, owner, "popular").await;

    let mut tasks = JoinSet::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            let fan = store
                .create_user(new_user(&format!("fan{i}@example.com"), None))
                .await?;
            store.vote(fan.id, video.id).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap().unwrap();
    }
    assert_eq!(b.list_public(None, 1, 0).await.unwrap().items[0].votes, 40);
    assert_eq!(a.rankings(None, 1).await.unwrap()[0].votes, 40);
}

#[tokio::test]
async fn processes_starting_together_on_a_fresh_file_all_migrate() {
    let (_dir, url) = temp_sqlite_url();
    let mut tasks = JoinSet::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.spawn(async move { Store::connect(&url).await });
    }
    let mut stores = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        stores.push(joined.unwrap().unwrap());
    }
    let id = user(&stores[0], "first@example.com", None).await;
    for store in &stores {
        assert!(store.user_by_id(id).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn reopening_keeps_the_data_and_does_not_migrate_twice() {
    let (_dir, url) = temp_sqlite_url();
    let first = Store::connect(&url).await.unwrap();
    let id = user(&first, "persist@example.com", None).await;
    first.close().await;

    let again = Store::connect(&url).await.unwrap();
    assert_eq!(
        again.user_by_id(id).await.unwrap().unwrap().email,
        "persist@example.com"
    );
}

#[tokio::test]
async fn in_memory_store_works_and_is_private() {
    let one = Store::connect("sqlite::memory:").await.unwrap();
    let two = Store::connect("sqlite::memory:").await.unwrap();
    let id = user(&one, "mem@example.com", None).await;
    let owner_videos = one.create_video(new_video(id, "m")).await.unwrap();
    assert_eq!(
        one.get_video(owner_videos.id).await.unwrap().unwrap().title,
        "m"
    );
    assert!(one
        .user_by_email("MEM@example.com")
        .await
        .unwrap()
        .is_some());
    assert!(two
        .user_by_email("mem@example.com")
        .await
        .unwrap()
        .is_none());
    assert_eq!(one.backend_name(), "sqlite");
}
