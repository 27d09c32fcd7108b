//! The public side: processed videos with vote counts (city filter, paging, total) and the
//! players' rankings by votes.

use store::{Store, VideoStatus};
use uuid::Uuid;

use crate::common::{new_video, processed_video, tick, user};

on_both!(public_list_shows_processed_videos_only, rankings_by_votes);

async fn public_list_shows_processed_videos_only(store: &Store) {
    let bog = user(store, "bog@example.com", Some("Bogotá")).await;
    let med = user(store, "med@example.com", Some("Medellín")).await;
    let nowhere = user(store, "nowhere@example.com", None).await;
    let fans: Vec<Uuid> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(user(store, &format!("fan{i}@example.com"), None).await);
        }
        v
    };

    let a = processed_video(store, bog, "a").await;
    tick().await;
    let b = processed_video(store, med, "b").await;
    tick().await;
    let c = processed_video(store, bog, "c").await;
    tick().await;
    let d = processed_video(store, nowhere, "d").await;
    // Not public: queued, processing, failed.
    store.create_video(new_video(bog, "queued")).await.unwrap();
    let p = store
        .create_video(new_video(bog, "processing"))
        .await
        .unwrap();
    store.mark_processing(p.id).await.unwrap();
    let f = store.create_video(new_video(bog, "failed")).await.unwrap();
    store.mark_processing(f.id).await.unwrap();
    store.mark_failed(f.id, "corrupt").await.unwrap();

    for fan in &fans {
        store.vote(*fan, a.id).await.unwrap();
    }
    store.vote(fans[0], c.id).await.unwrap();

    let all = store.list_public(None, 10, 0).await.unwrap();
    assert_eq!(all.total, 4);
    // Most recently processed first.
    let order: Vec<Uuid> = all.items.iter().map(|v| v.id).collect();
    assert_eq!(order, vec![d.id, c.id, b.id, a.id]);
    let first = &all.items[3];
    assert_eq!(first.title, "a");
    assert_eq!(first.votes, 3);
    assert_eq!(first.owner_id, bog);
    assert_eq!(first.owner_first_name, "First-bog");
    assert_eq!(first.owner_last_name, "Last-bog");
    assert_eq!(first.city.as_deref(), Some("Bogotá"));
    assert_eq!(Some(first.processed_key.clone()), a.processed_key);
    assert_eq!(Some(first.processed_at), a.processed_at);
    assert_eq!(all.items[0].city, None);

    let bogota = store.list_public(Some("Bogotá"), 10, 0).await.unwrap();
    assert_eq!(bogota.total, 2);
    assert_eq!(
        bogota
            .items
            .iter()
            .map(|v| (v.id, v.votes))
            .collect::<Vec<_>>(),
        vec![(c.id, 1), (a.id, 3)]
    );
    // The city filter is an exact match.
    assert_eq!(
        store
            .list_public(Some("bogotá"), 10, 0)
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store.list_public(Some("Lima"), 10, 0).await.unwrap().total,
        0
    );

    let page = store.list_public(None, 2, 1).await.unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        page.items.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![c.id, b.id]
    );
    assert!(all.items.iter().all(|v| v.id != p.id && v.id != f.id));
    assert_eq!(
        store.get_video(p.id).await.unwrap().unwrap().status,
        VideoStatus::Processing
    );
}

async fn rankings_by_votes(store: &Store) {
    let ana = user(store, "ana@example.com", Some("Bogotá")).await;
    let ben = user(store, "ben@example.com", Some("Medellín")).await;
    let cy = user(store, "cy@example.com", Some("Bogotá")).await;
    let dee = user(store, "dee@example.com", Some("Bogotá")).await; // only a queued video
    let fans: Vec<Uuid> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(user(store, &format!("fan{i}@example.com"), None).await);
        }
        v
    };
    let a1 = processed_video(store, ana, "a1").await;
    let a2 = processed_video(store, ana, "a2").await;
    let b1 = processed_video(store, ben, "b1").await;
    let _c1 = processed_video(store, cy, "c1").await; // no votes
    store.create_video(new_video(dee, "d1")).await.unwrap();

    // ana: 2 + 1 = 3 votes over two videos; ben: 4.
    for fan in &fans[..2] {
        store.vote(*fan, a1.id).await.unwrap();
    }
    store.vote(fans[2], a2.id).await.unwrap();
    for fan in &fans {
        store.vote(*fan, b1.id).await.unwrap();
    }

    let all = store.rankings(None, 10).await.unwrap();
    let rows: Vec<(u32, Uuid, u64)> = all
        .iter()
        .map(|r| (r.position, r.user_id, r.votes))
        .collect();
    assert_eq!(rows, vec![(1, ben, 4), (2, ana, 3), (3, cy, 0)]);
    assert_eq!(all[0].first_name, "First-ben");
    assert_eq!(all[0].last_name, "Last-ben");
    assert_eq!(all[0].city.as_deref(), Some("Medellín"));

    let top = store.rankings(None, 1).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].user_id, ben);

    let bogota = store.rankings(Some("Bogotá"), 10).await.unwrap();
    let rows: Vec<(u32, Uuid, u64)> = bogota
        .iter()
        .map(|r| (r.position, r.user_id, r.votes))
        .collect();
    assert_eq!(rows, vec![(1, ana, 3), (2, cy, 0)]);
    assert!(store.rankings(Some("Lima"), 10).await.unwrap().is_empty());
}
