//! The video status machine against the database: the allowed moves, the attempt counter,
//! `InvalidTransition` for every other move, `NotFound` for missing videos, and races.

use store::{Entity, Store, StoreError, Video, VideoStatus};
use uuid::Uuid;

use crate::common::{new_video, processed_key, user};

on_both!(
    happy_path_to_processed,
    retry_reenters_processing,
    failure_then_redrive,
    every_other_move_is_invalid,
    missing_video_is_not_found,
    concurrent_finishers_only_one_wins,
);

async fn apply(store: &Store, id: Uuid, to: VideoStatus) -> Result<Video, StoreError> {
    match to {
        VideoStatus::Queued => store.mark_queued(id).await,
        VideoStatus::Processing => store.mark_processing(id).await,
        VideoStatus::Processed => store.mark_processed(id, &processed_key(id)).await,
        VideoStatus::Failed => {
            store
                .mark_failed(id, "not a video: moov atom not found")
                .await
        }
    }
}

/// A new video brought to `status` by allowed moves.
async fn video_in(store: &Store, owner: Uuid, status: VideoStatus) -> Video {
    let video = store
        .create_video(new_video(owner, status.as_str()))
        .await
        .unwrap();
    let path: &[VideoStatus] = match status {
        VideoStatus::Queued => &[],
        VideoStatus::Processing => &[VideoStatus::Processing],
        VideoStatus::Processed => &[VideoStatus::Processing, VideoStatus::Processed],
        VideoStatus::Failed => &[VideoStatus::Processing, VideoStatus::Failed],
    };
    let mut current = video;
    for step in path {
        current = apply(store, current.id, *step).await.unwrap();
    }
    assert_eq!(current.status, status);
    current
}

async fn happy_path_to_processed(store: &Store) {
    let owner = user(store, "happy@example.com", None).await;
    let queued = store.create_video(new_video(owner, "happy")).await.unwrap();

    let processing = store.mark_processing(queued.id).await.unwrap();
    assert_eq!(processing.status, VideoStatus::Processing);
    assert_eq!(processing.attempts, 1);
    let started = processing.processing_started_at.expect("start time");
    assert!(started >= queued.created_at);
    assert_eq!(processing.updated_at, started);

    let key = processed_key(queued.id);
    let processed = store.mark_processed(queued.id, &key).await.unwrap();
    assert_eq!(processed.status, VideoStatus::Processed);
    assert_eq!(processed.processed_key.as_deref(), Some(key.as_str()));
    assert_eq!(processed.attempts, 1);
    assert!(processed.processed_at.expect("processed time") >= started);
    assert_eq!(processed.failure_reason, None);
    // What the UPDATE returned is what is stored.
    assert_eq!(store.get_video(queued.id).await.unwrap(), Some(processed));
}

async fn retry_reenters_processing(store: &Store) {
    let owner = user(store, "retry@example.com", None).await;
    let video = store.create_video(new_video(owner, "retry")).await.unwrap();
    let first = store.mark_processing(video.id).await.unwrap();
    let second = store.mark_processing(video.id).await.unwrap();
    let third = store.mark_processing(video.id).await.unwrap();
    assert_eq!((first.attempts, second.attempts, third.attempts), (1, 2, 3));
    assert_eq!(third.status, VideoStatus::Processing);
    assert!(third.processing_started_at >= first.processing_started_at);
    let done = store
        .mark_processed(video.id, "processed/x.mp4")
        .await
        .unwrap();
    assert_eq!(done.attempts, 3);
}

async fn failure_then_redrive(store: &Store) {
    let owner = user(store, "redrive@example.com", None).await;
    let video = store
        .create_video(new_video(owner, "poison"))
        .await
        .unwrap();
    store.mark_processing(video.id).await.unwrap();

    let failed = store
        .mark_failed(video.id, "corrupt: invalid data found")
        .await
        .unwrap();
    assert_eq!(failed.status, VideoStatus::Failed);
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("corrupt: invalid data found")
    );
    assert_eq!(failed.processed_key, None);

    assert_eq!(
        failed.last_failure.as_deref(),
        Some("corrupt: invalid data found")
    );
    assert!(failed.last_failure_at.is_some());

    let requeued = store.mark_queued(video.id).await.unwrap();
    assert_eq!(requeued.status, VideoStatus::Queued);
    assert_eq!(requeued.failure_reason, None);
    assert_eq!(requeued.attempts, 1, "a redrive keeps the attempt count");
    assert_eq!(
        requeued.last_failure.as_deref(),
        Some("corrupt: invalid data found"),
        "a redrive keeps the last failure"
    );
    // A retryable failure is recorded only while processing, without a status change.
    assert!(!store
        .record_failure(video.id, "queue_unavailable")
        .await
        .unwrap());

    let again = store.mark_processing(video.id).await.unwrap();
    assert_eq!(again.attempts, 2);
    assert!(store
        .record_failure(video.id, "storage_unavailable")
        .await
        .unwrap());
    let read = store.get_video(video.id).await.unwrap().unwrap();
    assert_eq!(read.status, VideoStatus::Processing);
    assert_eq!(read.last_failure.as_deref(), Some("storage_unavailable"));
    assert!(read.last_failure_at >= failed.last_failure_at);
    assert!(!store.record_failure(Uuid::new_v4(), "x").await.unwrap());
    let done = store
        .mark_processed(video.id, &processed_key(video.id))
        .await
        .unwrap();
    assert_eq!(done.status, VideoStatus::Processed);
}

async fn every_other_move_is_invalid(store: &Store) {
    let owner = user(store, "matrix@example.com", None).await;
    let mut checked = 0;
    for from in VideoStatus::ALL {
        for to in VideoStatus::ALL {
            if from.can_transition_to(to) {
                continue;
            }
            let before = video_in(store, owner, from).await;
            let err = apply(store, before.id, to).await.unwrap_err();
            match err {
                StoreError::InvalidTransition { from: f, to: t } => {
                    assert_eq!((f, t), (from, to));
                }
                other => panic!("{from} -> {to}: expected InvalidTransition, got {other:?}"),
            }
            // A refused move changes nothing.
            assert_eq!(store.get_video(before.id).await.unwrap(), Some(before));
            checked += 1;
        }
    }
    assert_eq!(checked, 16 - 5);
}

async fn missing_video_is_not_found(store: &Store) {
    for to in VideoStatus::ALL {
        let err = apply(store, Uuid::new_v4(), to).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound(Entity::Video)),
            "{to}: {err:?}"
        );
    }
}

async fn concurrent_finishers_only_one_wins(store: &Store) {
    let owner = user(store, "race@example.com", None).await;
    let video = video_in(store, owner, VideoStatus::Processing).await;
    let (a, b) = tokio::join!(
        store.mark_processed(video.id, "processed/a.mp4"),
        store.mark_failed(video.id, "timeout"),
    );
    let oks = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(oks, 1, "{a:?} / {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(
        matches!(loser, Err(StoreError::InvalidTransition { .. })),
        "{loser:?}"
    );
}
