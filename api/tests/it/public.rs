//! Public listing, votes (once per user) and rankings by city.

use axum::http::StatusCode;
use uuid::Uuid;

use crate::common::*;

async fn processed_video(h: &Harness, owner: Uuid, title: &str) -> Uuid {
    let id = Uuid::new_v4();
    h.store
        .create_video(store::NewVideo {
            id,
            owner_id: owner,
            title: title.into(),
            source_key: format!("uploads/2026/01/01/{id}.mp4"),
            original_filename: "c.mp4".into(),
            size_bytes: 10,
            content_type: "video/mp4".into(),
            correlation_id: "c".into(),
        })
        .await
        .unwrap();
    h.store.mark_processing(id).await.unwrap();
    h.store
        .mark_processed(id, &format!("processed/2026/01/01/{id}.mp4"))
        .await
        .unwrap();
    id
}

async fn votes_and_rankings(db: Db) {
    let Some(h) = Harness::without_cloud(db).await else {
        return;
    };
    let (ana, ana_token, _) = h.user("ana@example.com", Some("Bogotá")).await;
    let (beto, beto_token, _) = h.user("beto@example.com", Some("Medellín")).await;
    let (_, carla_token, _) = h.user("carla@example.com", Some("Bogotá")).await;
    let ana_video = processed_video(&h, ana, "ana's goal").await;
    let beto_video = processed_video(&h, beto, "beto's dribble").await;
    let queued = Uuid::new_v4();
    h.store
        .create_video(store::NewVideo {
            id: queued,
            owner_id: beto,
            title: "not yet".into(),
            source_key: "uploads/x.mp4".into(),
            original_filename: "x.mp4".into(),
            size_bytes: 1,
            content_type: "video/mp4".into(),
            correlation_id: "c".into(),
        })
        .await
        .unwrap();

    let vote = |id: Uuid| format!("/api/public/videos/{id}/vote");
    let r = h
        .send(post_empty(&vote(ana_video), Some(&beto_token)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h
        .send(post_empty(&vote(ana_video), Some(&beto_token)))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "already_voted")
    );
    let r = h
        .send(post_empty(&vote(ana_video), Some(&carla_token)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(post_empty(&vote(beto_video), Some(&ana_token)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h.send(post_empty(&vote(queued), Some(&ana_token))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let r = h
        .send(post_empty(&vote(Uuid::new_v4()), Some(&ana_token)))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h.send(post_empty(&vote(ana_video), None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Public list: processed only, with votes; city filter.
    let r = h.send(get("/api/public/videos", None)).await;
    let v = r.json();
    assert_eq!(v["total"], 2, "{v}");
    let r = h
        .send(get("/api/public/videos?city=Bogot%C3%A1", None))
        .await;
    let v = r.json();
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["id"], ana_video.to_string());
    assert_eq!(v["items"][0]["votes"], 2);

    // Rankings: ana 2, beto 1; by city only ana in Bogotá.
    let r = h.send(get("/api/public/rankings", None)).await;
    let v = r.json();
    assert_eq!(v[0]["user_id"], ana.to_string());
    assert_eq!(v[0]["votes"], 2);
    assert_eq!(v[0]["position"], 1);
    assert_eq!(v[1]["user_id"], beto.to_string());
    assert_eq!(v[1]["votes"], 1);
    let r = h
        .send(get("/api/public/rankings?city=Medell%C3%ADn&limit=5", None))
        .await;
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["player"], "Ana beto@example.com");
    h.finish().await;
}

on_both!(votes_and_rankings);
