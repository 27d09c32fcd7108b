//! Votes: once per user per video (`AlreadyVoted`), processed videos only (`NotVotable`),
//! `NotFound` for a missing video or user.

use store::{Entity, Store, StoreError, VideoStatus};
use uuid::Uuid;

use crate::common::{new_video, processed_video, user};

on_both!(
    vote_once_per_user,
    only_processed_videos_take_votes,
    missing_video_or_user_is_not_found
);

async fn vote_once_per_user(store: &Store) {
    let owner = user(store, "star@example.com", Some("Bogotá")).await;
    let fan = user(store, "fan@example.com", None).await;
    let fan2 = user(store, "fan2@example.com", None).await;
    let video = processed_video(store, owner, "clip").await;

    store.vote(fan, video.id).await.unwrap();
    let err = store.vote(fan, video.id).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyVoted), "{err:?}");
    assert!(!err.is_retryable());
    store.vote(fan2, video.id).await.unwrap();
    store.vote(owner, video.id).await.unwrap(); // owners may vote for their own video

    let public = store.list_public(None, 10, 0).await.unwrap();
    assert_eq!(public.items[0].votes, 3);
}

async fn only_processed_videos_take_votes(store: &Store) {
    let owner = user(store, "owner@example.com", None).await;
    let fan = user(store, "fan@example.com", None).await;

    let video = store.create_video(new_video(owner, "wip")).await.unwrap();
    let expect_not_votable = |status: VideoStatus, err: StoreError| {
        assert!(
            matches!(err, StoreError::NotVotable { status: s } if s == status),
            "{status}: {err:?}"
        );
    };
    expect_not_votable(
        VideoStatus::Queued,
        store.vote(fan, video.id).await.unwrap_err(),
    );
    store.mark_processing(video.id).await.unwrap();
    expect_not_votable(
        VideoStatus::Processing,
        store.vote(fan, video.id).await.unwrap_err(),
    );
    store.mark_failed(video.id, "corrupt").await.unwrap();
    expect_not_votable(
        VideoStatus::Failed,
        store.vote(fan, video.id).await.unwrap_err(),
    );
    assert!(store.rankings(None, 10).await.unwrap().is_empty());
}

async fn missing_video_or_user_is_not_found(store: &Store) {
    let owner = user(store, "owner@example.com", None).await;
    let fan = user(store, "fan@example.com", None).await;
    let video = processed_video(store, owner, "clip").await;

    let err = store.vote(fan, Uuid::new_v4()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(Entity::Video)),
        "{err:?}"
    );
    let err = store.vote(Uuid::new_v4(), video.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(Entity::User)), "{err:?}");
    assert_eq!(
        store.list_public(None, 1, 0).await.unwrap().items[0].votes,
        0
    );
}
