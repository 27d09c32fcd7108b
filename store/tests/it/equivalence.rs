//! The same operations give the same results on SQLite and PostgreSQL: one scripted session
//! (successes, typed errors, listings, rankings) is run on each and the transcripts compared.

use std::collections::HashMap;
use std::fmt::Debug;

use store::{Store, StoreError, Video};
use uuid::Uuid;

use crate::common::{new_user, new_video, processed_key, tick};

/// Names for ids, so transcripts from different runs can be compared.
#[derive(Default)]
struct Names(HashMap<Uuid, String>);

impl Names {
    fn add(&mut self, id: Uuid, name: &str) -> Uuid {
        self.0.insert(id, name.to_owned());
        id
    }
    fn of(&self, id: Uuid) -> String {
        self.0.get(&id).cloned().unwrap_or_else(|| "?".into())
    }
    fn video(&self, v: &Video) -> String {
        format!(
            "{} owner={} {} attempts={} reason={:?} processed_key={} started={} done={}",
            self.of(v.id),
            self.of(v.owner_id),
            v.status,
            v.attempts,
            v.failure_reason,
            v.processed_key.is_some(),
            v.processing_started_at.is_some(),
            v.processed_at.is_some(),
        )
    }
}

fn outcome<T: Debug>(r: &Result<T, StoreError>, ok: impl Fn(&T) -> String) -> String {
    match r {
        Ok(v) => format!("ok {}", ok(v)),
        Err(e) => format!("err {e} (retryable={})", e.is_retryable()),
    }
}

async fn script(store: &Store) -> Vec<String> {
    let mut n = Names::default();
    let mut t = Vec::new();

    let mut users = Vec::new();
    for (email, city) in [
        ("ana@example.com", Some("Bogotá")),
        ("Ben@Example.com", Some("Medellín")),
        ("cy@example.com", Some("Bogotá")),
        ("dee@example.com", None),
    ] {
        let u = store.create_user(new_user(email, city)).await.unwrap();
        users.push(n.add(u.id, email));
    }
    let r = store.create_user(new_user("BEN@example.COM", None)).await;
    t.push(format!("dup user: {}", outcome(&r, |u| u.email.clone())));
    let r = store.user_by_email("ben@EXAMPLE.com").await;
    t.push(format!(
        "by email: {}",
        outcome(&r, |u| format!("{:?}", u.as_ref().map(|u| n.of(u.id))))
    ));

    let mut videos = Vec::new();
    for (i, owner) in [0, 0, 1, 2, 3, 1].into_iter().enumerate() {
        let v = store
            .create_video(new_video(users[owner], &format!("v{i}")))
            .await
            .unwrap();
        videos.push(n.add(v.id, &format!("v{i}")));
        tick().await;
    }
    let r = store
        .create_video(new_video(Uuid::new_v4(), "orphan"))
        .await;
    t.push(format!("orphan: {}", outcome(&r, |v| n.video(v))));

    // Walk the status machine, including refused moves.
    let steps: Vec<(usize, &str)> = vec![
        (0, "processing"),
        (0, "processed"),
        (0, "processing"),
        (0, "queued"),
        (1, "processing"),
        (1, "processing"),
        (1, "failed"),
        (1, "processed"),
        (1, "queued"),
        (1, "processing"),
        (1, "processed"),
        (2, "processed"),
        (2, "failed"),
        (2, "processing"),
        (2, "processed"),
        (3, "queued"),
        (3, "processing"),
        (3, "processed"),
        (4, "processing"),
        (4, "failed"),
    ];
    for (i, to) in steps {
        let id = videos[i];
        let key = processed_key(id);
        let r = match to {
            "processing" => store.mark_processing(id).await,
            "processed" => store.mark_processed(id, &key).await,
            "failed" => store.mark_failed(id, "not a video").await,
            _ => store.mark_queued(id).await,
        };
        t.push(format!("v{i} -> {to}: {}", outcome(&r, |v| n.video(v))));
        tick().await;
    }
    let r = store.mark_processing(Uuid::new_v4()).await;
    t.push(format!(
        "missing -> processing: {}",
        outcome(&r, |v| n.video(v))
    ));

    // Votes: processed are v0, v1, v2, v3.
    for (u, v) in [
        (0, 0),
        (1, 0),
        (2, 0),
        (0, 0),
        (3, 1),
        (3, 2),
        (0, 4),
        (0, 5),
        (1, 3),
    ] {
        let r = store.vote(users[u], videos[v]).await;
        t.push(format!(
            "vote u{u} v{v}: {}",
            outcome(&r, |_| String::new())
        ));
    }
    let r = store.vote(users[0], Uuid::new_v4()).await;
    t.push(format!(
        "vote missing video: {}",
        outcome(&r, |_| String::new())
    ));
    let r = store.vote(Uuid::new_v4(), videos[0]).await;
    t.push(format!(
        "vote missing user: {}",
        outcome(&r, |_| String::new())
    ));

    for city in [None, Some("Bogotá"), Some("Medellín"), Some("bogotá")] {
        for (limit, offset) in [(10, 0), (2, 1)] {
            let p = store.list_public(city, limit, offset).await.unwrap();
            let items: Vec<String> = p
                .items
                .iter()
                .map(|v| format!("{}:{}:{:?}", n.of(v.id), v.votes, v.city))
                .collect();
            t.push(format!(
                "public {city:?} {limit}/{offset}: total={} {items:?}",
                p.total
            ));
        }
        let r = store.rankings(city, 10).await.unwrap();
        let rows: Vec<String> = r
            .iter()
            .map(|e| format!("{}.{}={}", e.position, n.of(e.user_id), e.votes))
            .collect();
        t.push(format!("rankings {city:?}: {rows:?}"));
    }
    for owner in [0, 1, 3] {
        let p = store
            .list_videos_by_owner(users[owner], 1, 0)
            .await
            .unwrap();
        let items: Vec<String> = p.items.iter().map(|v| n.video(v)).collect();
        t.push(format!("owner u{owner}: total={} {items:?}", p.total));
    }

    let r = store.delete_video(videos[0]).await;
    t.push(format!(
        "delete v0: {}",
        outcome(&r, |k| format!(
            "processed_key={}",
            k.processed_key.is_some()
        ))
    ));
    let r = store.delete_video(videos[0]).await;
    t.push(format!(
        "delete v0 again: {}",
        outcome(&r, |_| String::new())
    ));
    let r = store.rankings(None, 10).await.unwrap();
    t.push(format!(
        "rankings after delete: {:?}",
        r.iter()
            .map(|e| format!("{}={}", n.of(e.user_id), e.votes))
            .collect::<Vec<_>>()
    ));
    t
}

#[tokio::test]
async fn sqlite_and_postgres_agree() {
    let lite = crate::common::sqlite().await;
    let lite_transcript = script(&lite.store).await;
    lite.finish().await;

    // The transcript is meaningful on its own: spot-check it.
    let joined = lite_transcript.join("\n");
    for expected in [
        "dup user: err email is already registered (retryable=false)",
        "v0 -> processing: err invalid status transition from processed to processing",
        "v1 -> processing: ok v1 owner=ana@example.com processing attempts=2",
        "vote u0 v0: err user has already voted for this video (retryable=false)",
        "vote u0 v4: err video is failed; only processed videos can be voted for",
        "vote missing video: err video not found",
        "vote missing user: err user not found",
        "delete v0 again: err video not found",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in\n{joined}"
        );
    }

    let mem = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(
        script(&mem).await,
        lite_transcript,
        "in-memory SQLite differs from file"
    );

    if let Some(pg) = crate::common::postgres().await {
        let pg_transcript = script(&pg.store).await;
        pg.finish().await;
        for (i, (l, p)) in lite_transcript.iter().zip(&pg_transcript).enumerate() {
            assert_eq!(l, p, "step {i}: SQLite and PostgreSQL differ");
        }
        assert_eq!(lite_transcript.len(), pg_transcript.len());
    }
}
