//! The upload: the happy path against real S3 and SQS, and every refusal leaving nothing.

use axum::http::StatusCode;
use chrono::Utc;
use stack::VideoTask;

use crate::common::*;

async fn happy_path(db: Db) {
    let Some(h) = Harness::with_cloud(db, test_config()).await else {
        return;
    };
    let (owner, token, _) = h.user("up@example.com", None).await;
    let clip = real_mp4();
    let r = h
        .send(upload_request(
            Some(&token),
            &[
                ("title", None, b"My first run"),
                ("video_file", Some("run.MP4"), &clip),
            ],
            Some("corr-happy-1"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.headers.get("x-correlation-id").unwrap(), "corr-happy-1");
    let v = r.json();
    let video_id = uuid::Uuid::parse_str(v["video_id"].as_str().unwrap()).unwrap();
    let task_id = v["task_id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/api/videos/{video_id}")
    );

    // The row: queued, with the key the message names.
    let rows = h.rows_of(owner).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.id, video_id);
    assert_eq!(row.status, store::VideoStatus::Queued);
    assert_eq!(row.title, "My first run");
    assert_eq!(row.original_filename, "run.MP4");
    assert_eq!(row.size_bytes, clip.len() as u64);
    assert_eq!(row.content_type, "video/mp4");
    assert_eq!(row.correlation_id, "corr-happy-1");
    let expected_key = format!("uploads/{}/{video_id}.mp4", Utc::now().format("%Y/%m/%d"));
    assert_eq!(row.source_key, expected_key);

    // The object: the same bytes. Sent with an unsigned payload, it still carries its CRC32
    // (the header S3 checks the body against); the emulator keeps it and answers it back.
    let obj = h
        .cloud()
        .clients
        .s3
        .get_object()
        .bucket(&h.stack.bucket.name)
        .key(&expected_key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .expect("object stored");
    assert_eq!(obj.checksum_crc32(), Some(crc32_base64(&clip).as_str()));
    let bytes = obj.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.as_ref(), clip.as_slice());

    // Exactly one v1 message, with the request's correlation id.
    let messages = h.drain_messages().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let task = VideoTask::parse(&messages[0]).expect("a v1 message");
    assert_eq!(task.video_id, video_id);
    assert_eq!(task.correlation_id, "corr-happy-1");
    assert_eq!(
        task.source.to_string(),
        format!("s3://{}/{expected_key}", h.stack.bucket.name)
    );
    assert!(!task_id.is_empty());

    // The owner sees it.
    let r = h
        .send(get(&format!("/api/videos/{video_id}"), Some(&token)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "queued");
    h.finish().await;
}

on_both!(happy_path);

/// Past one 5 MiB part: CreateMultipartUpload, two UploadParts, Complete; and a generated
/// correlation id reaches the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_goes_in_parts() {
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    let (owner, token, _) = h.user("big@example.com", None).await;
    let data = fake_mp4(api::PART_SIZE + 1_234_567);
    let r = h
        .send(upload_request(
            Some(&token),
            &[
                ("video_file", Some("big.mov"), &data),
                ("title", None, b"big"),
            ],
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let generated = r
        .headers
        .get("x-correlation-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let row = h.rows_of(owner).await.pop().unwrap();
    assert!(row.source_key.ends_with(".mov"));
    assert_eq!(row.content_type, "video/quicktime");
    let head = h
        .cloud()
        .clients
        .s3
        .head_object()
        .bucket(&h.stack.bucket.name)
        .key(&row.source_key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(h.pending_multipart_uploads().await, 0);
    let messages = h.drain_messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        VideoTask::parse(&messages[0]).unwrap().correlation_id,
        generated
    );
    let metrics = h.send(get("/metrics", None)).await.text();
    assert!(
        metrics.contains(&format!("flightdeck_api_upload_bytes_total {}", data.len())),
        "{metrics}"
    );
    assert!(metrics.contains("flightdeck_api_uploads_total{outcome=\"stored\"} 1"));
    h.finish().await;
}

/// Uploads share a bounded set of part buffers: with one buffer, three uploads at once (two
/// parts and a bit, one part and a byte, a single PutObject) all succeed (the others wait for
/// it, none fails), that one buffer carries every part (the SDK lets go of each part's
/// bytes, so nothing is allocated per part), and every object is byte-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_share_a_bounded_set_of_part_buffers() {
    let config = api::Config {
        part_buffers: 1,
        ..test_config()
    };
    let h = Harness::with_cloud(Db::Sqlite, config).await.unwrap();
    let (owner, token, _) = h.user("pool@example.com", None).await;
    let files: Vec<Vec<u8>> = [api::PART_SIZE * 2 + 777, api::PART_SIZE + 1, 4096]
        .into_iter()
        .map(fake_mp4)
        .collect();
    let send = |data: &[u8]| {
        h.send(upload_request(
            Some(&token),
            &[("title", None, b"t"), ("video_file", Some("a.mp4"), data)],
            None,
        ))
    };
    let (a, b, c) = tokio::join!(send(&files[0]), send(&files[1]), send(&files[2]));
    for r in [a, b, c] {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let pool = h.state.part_buffers();
    assert_eq!((pool.count(), pool.in_use()), (1, 0));
    assert_eq!(
        pool.allocated(),
        1,
        "one buffer for every part of every upload"
    );
    let rows = h.rows_of(owner).await;
    assert_eq!(rows.len(), 3);
    for row in rows {
        let stored = h
            .cloud()
            .clients
            .s3
            .get_object()
            .bucket(&h.stack.bucket.name)
            .key(&row.source_key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let sent = files
            .iter()
            .find(|f| f.len() as u64 == row.size_bytes)
            .unwrap();
        assert!(
            stored[..] == sent[..],
            "object of {} bytes differs",
            sent.len()
        );
    }
    assert_eq!(h.pending_multipart_uploads().await, 0);
    assert_eq!(h.drain_messages().await.len(), 3);
    h.finish().await;
}

/// Every refusal: its status and code, and nothing stored anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_nothing_behind() {
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    let (owner, token, _) = h.user("bad@example.com", None).await;
    let mp4 = fake_mp4(4096);
    let avi_bytes = b"RIFF\x10\0\0\0AVI LIST and more bytes".to_vec();
    let text = b"just some text, certainly not a video container".to_vec();
    let cases: Vec<(&str, Vec<Part<'_>>, StatusCode, &str)> = vec![
        (
            "wrong extension",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("clip.mkv"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_extension",
        ),
        (
            "text named mp4",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("clip.mp4"), &text),
            ],
            StatusCode::BAD_REQUEST,
            "not_a_video",
        ),
        (
            "avi named mp4",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("clip.mp4"), &avi_bytes),
            ],
            StatusCode::BAD_REQUEST,
            "not_a_video",
        ),
        (
            "mp4 named avi",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("clip.avi"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "not_a_video",
        ),
        (
            "tiny",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("clip.mp4"), b"\0\0\0"),
            ],
            StatusCode::BAD_REQUEST,
            "not_a_video",
        ),
        (
            "empty file",
            vec![("title", None, b"t"), ("video_file", Some("clip.mp4"), b"")],
            StatusCode::BAD_REQUEST,
            "empty_file",
        ),
        (
            "missing file",
            vec![("title", None, b"t")],
            StatusCode::BAD_REQUEST,
            "missing_file",
        ),
        (
            "missing title",
            vec![("video_file", Some("clip.mp4"), &mp4)],
            StatusCode::BAD_REQUEST,
            "missing_title",
        ),
        (
            "path in name",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("../../etc/clip.mp4"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_filename",
        ),
        (
            "control char",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("cl\tip.mp4"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_filename",
        ),
        (
            "bidi override in name",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("clip\u{202E}4pm.avi"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_filename",
        ),
        (
            "zero-width space in name",
            vec![
                ("title", None, b"t"),
                ("video_file", Some("cl\u{200B}ip.mp4"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_filename",
        ),
        (
            "bidi isolate in title",
            vec![
                ("title", None, "a\u{2067}b".as_bytes()),
                ("video_file", Some("clip.mp4"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "extra field",
            vec![
                ("title", None, b"t"),
                ("owner", None, b"x"),
                ("video_file", Some("clip.mp4"), &mp4),
            ],
            StatusCode::BAD_REQUEST,
            "unexpected_field",
        ),
    ];
    for (what, parts, status, code) in &cases {
        let r = h.send(upload_request(Some(&token), parts, None)).await;
        assert_eq!(
            (r.status, r.code()),
            (*status, code.to_string()),
            "{what}: {}",
            r.text()
        );
    }
    // Title after the file: the file was already stored when the missing title... is the
    // title present? Here the title is blank, so the stored object must be removed again.
    let r = h
        .send(upload_request(
            Some(&token),
            &[
                ("video_file", Some("clip.mp4"), &mp4),
                ("title", None, b"   "),
            ],
            None,
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "missing_title")
    );
    // Not multipart at all.
    let r = h
        .send(json_post("/api/videos/upload", serde_json::json!({})))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "no token is checked first"
    );
    let mut req = json_post("/api/videos/upload", serde_json::json!({}));
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let r = h.send(req).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_multipart")
    );
    // No token.
    let r = h
        .send(upload_request(
            None,
            &[
                ("title", None, b"t"),
                ("video_file", Some("clip.mp4"), &mp4),
            ],
            None,
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );

    h.settle().await;
    assert_eq!(
        h.stored_versions().await,
        0,
        "no object (or version) may remain"
    );
    assert_eq!(h.pending_multipart_uploads().await, 0);
    assert!(h.rows_of(owner).await.is_empty());
    assert!(h.drain_messages().await.is_empty());
    h.finish().await;
}

/// 413 counted on the stream, both before the first part and after parts were uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_is_refused_and_aborted() {
    let limit = api::PART_SIZE as u64 + 100_000;
    let config = api::Config {
        max_upload_bytes: limit,
        ..test_config()
    };
    let h = Harness::with_cloud(Db::Sqlite, config).await.unwrap();
    let (owner, token, _) = h.user("huge@example.com", None).await;
    // One byte over the limit: one part already uploaded, then the multipart is aborted.
    let over = fake_mp4(limit as usize + 1);
    let r = h
        .send(upload_request(
            Some(&token),
            &[("title", None, b"t"), ("video_file", Some("a.mp4"), &over)],
            None,
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        "{}",
        r.text()
    );
    // Exactly the limit is fine.
    let exact = fake_mp4(limit as usize);
    let r = h
        .send(upload_request(
            Some(&token),
            &[("title", None, b"t"), ("video_file", Some("a.mp4"), &exact)],
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let ok_id = r.json()["video_id"].as_str().unwrap().to_owned();
    h.settle().await;
    assert_eq!(h.pending_multipart_uploads().await, 0);
    assert_eq!(h.stored_versions().await, 1, "only the accepted upload");
    let rows = h.rows_of(owner).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id.to_string(), ok_id);
    assert_eq!(h.drain_messages().await.len(), 1);
    h.finish().await;
}

/// A small limit, below one part: 413 before anything reached S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_below_one_part() {
    let config = api::Config {
        max_upload_bytes: 10_000,
        ..test_config()
    };
    let h = Harness::with_cloud(Db::Sqlite, config).await.unwrap();
    let (owner, token, _) = h.user("small@example.com", None).await;
    let over = fake_mp4(10_001);
    let r = h
        .send(upload_request(
            Some(&token),
            &[("title", None, b"t"), ("video_file", Some("a.mp4"), &over)],
            None,
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    );
    h.assert_stored_exactly(owner, 0).await;
    h.finish().await;
}

/// S3 down: 503 storage_unavailable, no row. SQS down: 503 queue_unavailable, and the row
/// and the object that were already stored are removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_down_during_upload() {
    let h = Harness::with_cloud(Db::Sqlite, test_config())
        .await
        .unwrap();
    let (owner, _, _) = h.user("down@example.com", None).await;
    let dead = dead_clients(&h.stack).await;
    let mut no_s3 = h.cloud().clients.clone();
    no_s3.s3 = dead.s3.clone();
    let mut no_sqs = h.cloud().clients.clone();
    no_sqs.sqs = dead.sqs.clone();

    // Each state has its own random JWT secret: sign in again after rewiring.
    let h = h.rewire(&no_s3, test_config());
    let token = h
        .send(login("down@example.com", "correct horse"))
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let big = fake_mp4(api::PART_SIZE + 10);
    let r = h
        .send(upload_request(
            Some(&token),
            &[("title", None, b"t"), ("video_file", Some("a.mp4"), &big)],
            None,
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        "{}",
        r.text()
    );
    assert!(
        !r.text().contains("127.0.0.1"),
        "internals are not sent: {}",
        r.text()
    );
    assert!(h.rows_of(owner).await.is_empty());

    let h = h.rewire(&no_sqs, test_config());
    let r = h.send(login("down@example.com", "correct horse")).await;
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    for data in [fake_mp4(4096), big] {
        let r = h
            .send(upload_request(
                Some(&token),
                &[("title", None, b"t"), ("video_file", Some("a.mp4"), &data)],
                None,
            ))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable"),
            "{}",
            r.text()
        );
    }
    assert!(
        h.rows_of(owner).await.is_empty(),
        "the row is removed again"
    );
    assert_eq!(h.stored_versions().await, 0, "the object is removed again");
    assert_eq!(h.pending_multipart_uploads().await, 0);
    assert!(h.drain_messages().await.is_empty());
    h.finish().await;
}

/// S3's `CRC32` checksum (IEEE 802.3, reflected, as zlib computes it), big-endian, base64.
fn crc32_base64(data: &[u8]) -> String {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    aws_smithy_types::base64::encode((!crc).to_be_bytes())
}

#[test]
fn crc32_matches_the_known_value() {
    // The CRC-32 check value of "123456789" is 0xCBF43926.
    assert_eq!(crc32_base64(b"123456789"), "y/Q5Jg==");
}
