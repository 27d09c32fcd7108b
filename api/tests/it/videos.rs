//! Own videos: ownership (403/404), pagination, delete removing the S3 objects.

use axum::http::StatusCode;

use crate::common::*;

/// Store-backed paths on both databases (the videos are recorded directly).
async fn ownership_and_pages(db: Db) {
    let Some(h) = Harness::without_cloud(db).await else {
        return;
    };
    let (alice, alice_token, _) = h.user("alice@example.com", None).await;
    let (_, bob_token, _) = h.user("bob@example.com", None).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = uuid::Uuid::new_v4();
        h.store
            .create_video(store::NewVideo {
                id,
                owner_id: alice,
                title: format!("clip {i}"),
                source_key: format!("uploads/2026/01/01/{id}.mp4"),
                original_filename: "c.mp4".into(),
                size_bytes: 10,
                content_type: "video/mp4".into(),
                correlation_id: "c".into(),
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let r = h
        .send(get(&format!("/api/videos/{}", ids[0]), Some(&alice_token)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["title"], "clip 0");
    assert_eq!(
        (&v["output_key"], &v["attempts"], &v["last_failure"]),
        (
            &serde_json::Value::Null,
            &serde_json::json!(0),
            &serde_json::Value::Null
        )
    );
    // A retry after a retryable failure, a permanent failure, a redrive, then success: the
    // record says where the output is, how many attempts it took and what failed last.
    let id = ids[1];
    h.store.mark_processing(id).await.unwrap();
    assert!(h
        .store
        .record_failure(id, "storage_unavailable")
        .await
        .unwrap());
    h.store.mark_processing(id).await.unwrap();
    h.store.mark_failed(id, "corrupt_input").await.unwrap();
    h.store.mark_queued(id).await.unwrap();
    h.store.mark_processing(id).await.unwrap();
    let key = format!("processed/2026/01/01/{id}.mp4");
    h.store.mark_processed(id, &key).await.unwrap();
    let v = h
        .send(get(&format!("/api/videos/{id}"), Some(&alice_token)))
        .await
        .json();
    assert_eq!(v["status"], "processed");
    assert_eq!(v["output_key"], key.as_str());
    assert_eq!(v["attempts"], 3);
    assert_eq!(v["last_failure"], "corrupt_input");
    assert!(v["last_failure_at"].is_string(), "{v}");
    assert_eq!(v["failure_reason"], serde_json::Value::Null);
    let r = h
        .send(get(&format!("/api/videos/{}", ids[0]), Some(&bob_token)))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let r = h
        .send(delete(&format!("/api/videos/{}", ids[0]), Some(&bob_token)))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let r = h
        .send(get(
            &format!("/api/videos/{}", uuid::Uuid::new_v4()),
            Some(&alice_token),
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let r = h
        .send(get("/api/videos/not-a-uuid", Some(&alice_token)))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    // Pages: newest first, total counted, limit capped.
    let r = h
        .send(get("/api/videos?limit=2&offset=0", Some(&alice_token)))
        .await;
    let v = r.json();
    assert_eq!(v["total"], 3);
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(v["items"][0]["title"], "clip 2");
    let r = h
        .send(get("/api/videos?limit=2&offset=2", Some(&alice_token)))
        .await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    let r = h
        .send(get("/api/videos?limit=100000", Some(&alice_token)))
        .await;
    assert_eq!(r.json()["limit"], 100);
    // What the OpenAPI document says: 1 <= limit <= u32::MAX, 0 <= offset <= u32::MAX.
    for bad in [
        "limit=abc",
        "limit=0",
        "limit=4294967296",
        "offset=4294967296",
        "offset=-1",
    ] {
        let r = h
            .send(get(&format!("/api/videos?{bad}"), Some(&alice_token)))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_query"),
            "{bad}"
        );
    }
    let r = h
        .send(get(
            "/api/videos?limit=4294967295&offset=4294967295",
            Some(&alice_token),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = h.send(get("/api/videos", Some(&bob_token))).await;
    assert_eq!(r.json()["total"], 0);
    h.finish().await;
}

on_both!(ownership_and_pages);

/// Delete removes the row and every version of the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_objects() {
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    let (owner, token, _) = h.user("del@example.com", None).await;
    let data = fake_mp4(2048);
    let r = h
        .send(upload_request(
            Some(&token),
            &[
                ("title", None, b"t"),
                ("video_file", Some("a.avi.mp4"), &data),
            ],
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["video_id"].as_str().unwrap().to_owned();
    // As if processed: a second object to delete.
    let processed_key = format!("processed/2026/01/01/{id}.mp4");
    h.cloud()
        .clients
        .s3
        .put_object()
        .bucket(&h.stack.bucket.name)
        .key(&processed_key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"out"))
        .send()
        .await
        .unwrap();
    let vid = uuid::Uuid::parse_str(&id).unwrap();
    h.store.mark_processing(vid).await.unwrap();
    h.store.mark_processed(vid, &processed_key).await.unwrap();
    assert_eq!(h.stored_versions().await, 1);

    let r = h
        .send(delete(&format!("/api/videos/{id}"), Some(&token)))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(h.stored_versions().await, 0);
    let processed = h
        .cloud()
        .clients
        .s3
        .list_object_versions()
        .bucket(&h.stack.bucket.name)
        .prefix("processed/")
        .send()
        .await
        .unwrap();
    assert!(processed.versions().is_empty() && processed.delete_markers().is_empty());
    assert!(h.rows_of(owner).await.is_empty());
    let r = h
        .send(get(&format!("/api/videos/{id}"), Some(&token)))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    h.finish().await;
}
