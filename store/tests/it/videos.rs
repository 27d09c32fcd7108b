//! Videos: create (queued), get, list by owner (newest first, paged, with total), delete.

use store::{Entity, Store, StoreError, VideoKeys, VideoStatus};
use uuid::Uuid;

use crate::common::{new_video, processed_key, processed_video, tick, user};

on_both!(
    create_starts_queued,
    create_for_unknown_owner_is_not_found,
    list_by_owner_newest_first_paged,
    delete_returns_keys_and_removes_votes,
);

async fn create_starts_queued(store: &Store) {
    let owner = user(store, "owner@example.com", None).await;
    let new = new_video(owner, "first");
    let created = store.create_video(new.clone()).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.owner_id, owner);
    assert_eq!(created.status, VideoStatus::Queued);
    assert_eq!(created.attempts, 0);
    assert_eq!(created.failure_reason, None);
    assert_eq!(created.processed_key, None);
    assert_eq!(created.processing_started_at, None);
    assert_eq!(created.processed_at, None);
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!(created.size_bytes, new.size_bytes);
    assert_eq!(created.source_key, new.source_key);
    assert_eq!(created.correlation_id, "corr-first");

    assert_eq!(store.get_video(new.id).await.unwrap(), Some(created));
    assert_eq!(store.get_video(Uuid::new_v4()).await.unwrap(), None);
}

async fn create_for_unknown_owner_is_not_found(store: &Store) {
    let err = store
        .create_video(new_video(Uuid::new_v4(), "orphan"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(Entity::User)), "{err:?}");
}

async fn list_by_owner_newest_first_paged(store: &Store) {
    let owner = user(store, "lister@example.com", None).await;
    let other = user(store, "other@example.com", None).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .create_video(new_video(owner, &format!("v{i}")))
                .await
                .unwrap()
                .id,
        );
        store
            .create_video(new_video(other, &format!("o{i}")))
            .await
            .unwrap();
        tick().await;
    }
    ids.reverse(); // newest first

    let all = store.list_videos_by_owner(owner, 100, 0).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(all.items.iter().map(|v| v.id).collect::<Vec<_>>(), ids);
    assert!(all.items.iter().all(|v| v.owner_id == owner));

    let page = store.list_videos_by_owner(owner, 2, 2).await.unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(
        page.items.iter().map(|v| v.id).collect::<Vec<_>>(),
        ids[2..4]
    );

    let past_end = store.list_videos_by_owner(owner, 10, 5).await.unwrap();
    assert_eq!((past_end.items.len(), past_end.total), (0, 5));

    let nobody = store
        .list_videos_by_owner(Uuid::new_v4(), 10, 0)
        .await
        .unwrap();
    assert_eq!((nobody.items.len(), nobody.total), (0, 0));
}

async fn delete_returns_keys_and_removes_votes(store: &Store) {
    let owner = user(store, "del@example.com", Some("Cali")).await;
    let voter = user(store, "voter@example.com", None).await;

    let queued = store
        .create_video(new_video(owner, "queued"))
        .await
        .unwrap();
    let keys = store.delete_video(queued.id).await.unwrap();
    assert_eq!(
        keys,
        VideoKeys {
            source_key: queued.source_key.clone(),
            processed_key: None
        }
    );
    assert_eq!(store.get_video(queued.id).await.unwrap(), None);

    let done = processed_video(store, owner, "done").await;
    store.vote(voter, done.id).await.unwrap();
    assert_eq!(store.rankings(None, 10).await.unwrap()[0].votes, 1);
    let keys = store.delete_video(done.id).await.unwrap();
    assert_eq!(keys.source_key, done.source_key);
    assert_eq!(keys.processed_key, Some(processed_key(done.id)));
    assert_eq!(store.list_public(None, 10, 0).await.unwrap().total, 0);
    assert!(store.rankings(None, 10).await.unwrap().is_empty());

    let err = store.delete_video(done.id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(Entity::Video)),
        "{err:?}"
    );
}
