//! The local cloud's storage bounds, against a real emulator: new uploads past 90 % of the
//! data cap, S3 writes past the cap, and writes below the free-disk floor are refused with 503
//! SlowDown and a message naming the bound, while reads and deletes go through, and a delete
//! makes room again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use local_cloud::testing::TestCloud;
use local_cloud::StorageLimits;
use stack::errors::describe;

/// Over 64 KiB, so the emulator keeps it in a file (what the cap counts).
const OBJECT: usize = 300_000;

async fn put(cloud: &TestCloud, key: &str) -> Result<(), stack::errors::AwsFailure> {
    cloud
        .clients
        .s3
        .put_object()
        .bucket(&cloud.stack.bucket.name)
        .key(key)
        .body(ByteStream::from(vec![1u8; OBJECT]))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// The version ids of `key` in the bucket.
async fn versions_of(cloud: &TestCloud, key: &str) -> Vec<String> {
    let listed = cloud
        .clients
        .s3
        .list_object_versions()
        .bucket(&cloud.stack.bucket.name)
        .prefix(key)
        .send()
        .await
        .unwrap();
    listed
        .versions()
        .iter()
        .filter_map(|v| v.version_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn new_uploads_stop_at_90_percent_writes_at_the_cap_and_a_delete_makes_room() {
    let cloud = TestCloud::provisioned_with(StorageLimits {
        cap: 950_000,
        min_free: 0,
    })
    .await;
    for key in ["uploads/a", "uploads/b"] {
        put(&cloud, key).await.unwrap();
    }
    // A third upload would take the data past 90 % of the cap (855,000 bytes)...
    let refused = put(&cloud, "uploads/c").await.unwrap_err();
    assert_eq!(refused.code.as_deref(), Some("SlowDown"), "{refused:?}");
    assert_eq!(refused.status, Some(503), "{refused:?}");
    assert!(
        refused
            .message
            .contains("new uploads stop at 90 % of its 0.9 MB cap (FLIGHTDECK_LOCAL_STORAGE_GB)"),
        "{}",
        refused.message
    );
    // ...while an output still fits in the last tenth, and nothing fits past the cap.
    put(&cloud, "processed/c").await.unwrap();
    let refused = put(&cloud, "processed/d").await.unwrap_err();
    assert_eq!(refused.code.as_deref(), Some("SlowDown"), "{refused:?}");
    assert!(
        refused
            .message
            .contains("past its 0.9 MB cap (FLIGHTDECK_LOCAL_STORAGE_GB)"),
        "{}",
        refused.message
    );
    // Reads and listings still work; nothing of the refused writes is there.
    let s3 = &cloud.clients.s3;
    let bucket = &cloud.stack.bucket.name;
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("uploads/a")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(OBJECT as i64));
    let versions = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = versions.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(keys, ["processed/c", "uploads/a", "uploads/b"]);
    // Deleting a version frees its file; once the emulator has looked again (every 0.5 s),
    // the write goes through.
    let [first] = &versions_of(&cloud, "uploads/a").await[..] else {
        panic!("uploads/a has one version");
    };
    s3.delete_object()
        .bucket(bucket)
        .key("uploads/a")
        .version_id(first)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    put(&cloud, "processed/d").await.unwrap();
}

#[tokio::test]
async fn a_write_that_would_leave_the_disk_below_its_floor_is_refused() {
    // No disk has a petabyte free.
    let cloud = TestCloud::provisioned_with(StorageLimits {
        cap: StorageLimits::default().cap,
        min_free: 1_000_000_000_000_000,
    })
    .await;
    let refused = put(&cloud, "uploads/a").await.unwrap_err();
    assert_eq!(refused.code.as_deref(), Some("SlowDown"), "{refused:?}");
    assert!(
        refused
            .message
            .contains("and it keeps 931322.6 GB free (FLIGHTDECK_LOCAL_MIN_FREE_GB)"),
        "{}",
        refused.message
    );
    // Bucket settings and multipart bookkeeping add no object data: they go through.
    let s3 = &cloud.clients.s3;
    let bucket = &cloud.stack.bucket.name;
    let tags = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("team")
                .value("flightdeck")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tags)
        .send()
        .await
        .unwrap();
    s3.create_multipart_upload()
        .bucket(bucket)
        .key("uploads/b")
        .send()
        .await
        .unwrap();
}
