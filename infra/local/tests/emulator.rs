//! The emulator's lifecycle and the error classes of real calls against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use local_cloud::emulator::{free_port, probe};
use local_cloud::testing::TestCloud;
use local_cloud::Emulator;
use stack::errors::describe;
use stack::{Clients, ErrorClass};

#[tokio::test]
async fn stopping_the_emulator_frees_its_port_and_process() {
    let mut cloud = TestCloud::empty().await;
    let endpoint = cloud.endpoint().to_string();
    let pid = cloud.emulator.pid().unwrap();
    assert!(probe(&endpoint).is_ok());
    cloud.emulator.stop();
    assert!(
        probe(&endpoint).is_err(),
        "emulator still answers after stop"
    );
    // stop() reaps the child, so not even a zombie may remain.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "emulator pid {pid} still exists"
    );
}

#[tokio::test]
async fn attach_to_a_running_emulator_and_refuse_a_dead_one() {
    let cloud = TestCloud::empty().await;
    let attached = Emulator::attach(cloud.endpoint()).unwrap();
    assert_eq!(
        attached.pid(),
        None,
        "an attached emulator is not ours to stop"
    );
    drop(attached);
    assert!(
        probe(cloud.endpoint()).is_ok(),
        "dropping an attached emulator must not stop it"
    );

    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let err = Emulator::attach(&dead).unwrap_err().to_string();
    assert!(err.contains("cannot reach the emulator"), "{err}");
    assert!(err.contains("flightdeck local up"), "{err}");
}

#[tokio::test]
async fn unimplemented_calls_are_classified_not_implemented() {
    let cloud = TestCloud::provisioned().await;
    let sqs = &cloud.clients.sqs;
    let dlq = sqs
        .get_queue_url()
        .queue_name("video_dlq")
        .send()
        .await
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = arn.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let err = sqs
        .start_message_move_task()
        .source_arn(arn)
        .send()
        .await
        .unwrap_err();
    let failure = describe(&err);
    assert_eq!(failure.class, ErrorClass::NotImplemented, "{failure:?}");
}

#[tokio::test]
async fn missing_resources_are_permanent_and_dead_endpoints_unreachable() {
    let cloud = TestCloud::empty().await;
    let err = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name("no_such_queue")
        .send()
        .await
        .unwrap_err();
    assert_eq!(describe(&err).class, ErrorClass::Permanent);

    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let clients =
        Clients::connect(&local_cloud::aws_options(&dead, "us-east-1"), "us-east-1").await;
    let err = clients.sqs.list_queues().send().await.unwrap_err();
    let failure = describe(&err);
    assert!(failure.unreachable, "{failure:?}");
    assert_eq!(failure.class, ErrorClass::Retryable);
}

/// A queue's visible, in-flight and delayed message counts (GetQueueAttributes All).
async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: String) -> (usize, usize, usize) {
    use aws_sdk_sqs::types::QueueAttributeName as A;

    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    let get = |a: A| attrs.attributes().unwrap()[&a].parse::<usize>().unwrap();
    (
        get(A::ApproximateNumberOfMessages),
        get(A::ApproximateNumberOfMessagesNotVisible),
        get(A::ApproximateNumberOfMessagesDelayed),
    )
}

/// Sends `m0`, `m1`, ... up to `count` messages to `url`, `batch` a SendMessageBatch.
async fn send_numbered(sqs: &aws_sdk_sqs::Client, url: &str, count: usize, batch: usize) {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

    for start in (0..count).step_by(batch) {
        let entries = (start..(start + batch).min(count))
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!("m{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
}

/// The launcher's fixes to moto's SQS costs (infra/local/src/launcher.py) must not change
/// what SQS does: counts, FIFO content-based de-duplication, delays, in-flight messages and
/// receiving from a deep queue all behave as before.
#[tokio::test]
async fn the_emulator_fixes_are_applied_and_keep_sqs_behaviour() {
    use aws_sdk_sqs::types::QueueAttributeName as A;

    let cloud = TestCloud::empty().await;
    let log = std::fs::read_to_string(cloud.emulator.log_path().unwrap()).unwrap();
    assert!(
        log.contains(
            "emulator fixes applied: sqs-retention-check, sqs-send-cost, sqs-receive-lock, sqs-clock, sqs-attributes-once, s3-list-versions-copy, s3-range-read, s3-multipart-join, s3-write-once, module-list, s3-storage-bound, s3-inflight-bound, request-bodies-freed, quiet-log, log-events-bound, models-freed, metric-data-bound, metric-scan-once, keep-alive"
        ),
        "{log}"
    );
    let sqs = &cloud.clients.sqs;
    let count = |url: String| queue_counts(sqs, url);

    // FIFO with content-based de-duplication: the same body three times is one message.
    let fifo = sqs
        .create_queue()
        .queue_name("fixes.fifo")
        .attributes(A::FifoQueue, "true")
        .attributes(A::ContentBasedDeduplication, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for _ in 0..3 {
        sqs.send_message()
            .queue_url(&fifo)
            .message_body("same")
            .message_group_id("g")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(count(fifo.clone()).await, (1, 0, 0));

    // A standard queue: 25 sent in batches, one delayed, three received (in flight).
    let std = sqs
        .create_queue()
        .queue_name("fixes-std")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    send_numbered(sqs, &std, 25, 5).await;
    sqs.send_message()
        .queue_url(&std)
        .message_body("later")
        .delay_seconds(60)
        .send()
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&std)
        .max_number_of_messages(3)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 3);
    assert_eq!(count(std.clone()).await, (22, 3, 1));

    // Every visible message comes back exactly once when the queue is drained.
    let mut seen = std::collections::HashSet::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&std)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            assert!(seen.insert(m.body().unwrap().to_string()), "twice: {m:?}");
        }
    }
    assert_eq!(seen.len(), 22);
    assert_eq!(count(std.clone()).await, (0, 25, 1));
    // sqs-attributes-once: named attributes answer as All does, and only those asked for.
    let named = sqs
        .get_queue_attributes()
        .queue_url(&std)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .attribute_names(A::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    let named = named.attributes().unwrap();
    assert_eq!(named.len(), 3, "{named:?}");
    assert_eq!(named[&A::ApproximateNumberOfMessagesNotVisible], "25");
    assert_eq!(named[&A::ApproximateNumberOfMessagesDelayed], "1");
    assert_eq!(named[&A::VisibilityTimeout], "30");
    // quiet-log: dozens of calls answered 200, none of them a line in the log.
    let log = std::fs::read_to_string(cloud.emulator.log_path().unwrap()).unwrap();
    assert!(!log.contains("HTTP/1.1\" 200"), "{log}");
}

/// Concurrent receivers on one queue whose messages pass maxReceiveCount: every message ends
/// in the DLQ exactly once and no receive fails. moto as shipped races here (two scans move
/// the same message, the second answers HTTP 500); `sqs-receive-lock` serializes the scans.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_receivers_move_each_message_to_the_dlq_once_without_errors() {
    use aws_sdk_sqs::types::QueueAttributeName as A;

    let cloud = TestCloud::empty().await;
    let sqs = cloud.clients.sqs.clone();
    let dlq = sqs
        .create_queue()
        .queue_name("race-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&A::QueueArn]
        .clone();
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}"#);
    let queue = sqs
        .create_queue()
        .queue_name("race")
        .attributes(A::RedrivePolicy, policy)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    const SENT: usize = 2000;
    send_numbered(&sqs, &queue, SENT, 10).await;
    // Eight receivers; visibility 0 makes a received message visible again at once, so the
    // next scan (any receiver's) moves it to the DLQ.
    let mut receivers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (sqs, queue) = (sqs.clone(), queue.clone());
        receivers.spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..200 {
                match sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(10)
                    .visibility_timeout(0)
                    .send()
                    .await
                {
                    Ok(got) if got.messages().is_empty() => break,
                    Ok(_) => {}
                    Err(e) => failures.push(describe(&e).to_string()),
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = receivers.join_next().await {
        failures.extend(done.unwrap());
    }
    assert!(failures.is_empty(), "{failures:?}");
    // What the last receivers got is visible again: one more scan moves it.
    let last = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert!(last.messages().is_empty(), "{last:?}");
    assert_eq!(queue_counts(&sqs, queue).await, (0, 0, 0));
    assert_eq!(
        queue_counts(&sqs, dlq).await,
        (SENT, 0, 0),
        "each message in the DLQ once"
    );
    // Not even a retried one: the emulator logs every answer of 400 and over.
    let log = std::fs::read_to_string(cloud.emulator.log_path().unwrap()).unwrap();
    assert!(!log.contains("HTTP/1.1\" 500"), "{log}");
}

fn rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

/// moto's ListObjectVersions deep-copies every object in the bucket, data included, on every
/// call; as shipped, 20 listings of one key in a bucket of 24 x 4 MB objects take the emulator
/// to gigabytes (the demo's 21.6 GB came from this). With the launcher's fix and object data on
/// disk, the emulator stays small, the data stays intact and CopyObject still copies.
#[tokio::test]
async fn listing_versions_does_not_copy_the_buckets_data_and_objects_live_on_disk() {
    use aws_sdk_s3::primitives::ByteStream;

    let cloud = TestCloud::provisioned().await;
    let pid = cloud.emulator.pid().unwrap();
    let s3 = &cloud.clients.s3;
    let bucket = &cloud.stack.bucket.name;
    let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let before = rss_mb(pid);
    for i in 0..24 {
        s3.put_object()
            .bucket(bucket)
            .key(format!("uploads/{i}.mp4"))
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
    }
    let stored = rss_mb(pid);
    for i in 0..20 {
        let listed = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(format!("uploads/{i}.mp4"))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.versions().len(), 1);
        assert_eq!(listed.versions()[0].size(), Some(data.len() as i64));
    }
    let listed = rss_mb(pid);
    // 96 MB of objects on disk, not in the emulator (it grows by less than the data itself);
    // and 20 listings copy none of it (as shipped they add gigabytes).
    assert!(
        stored < before + 96,
        "storing 96 MB grew the emulator from {before} to {stored} MB"
    );
    assert!(
        listed < stored + 64,
        "20 listings grew the emulator from {stored} to {listed} MB"
    );

    let read = |key: &'static str| async move {
        s3.get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
    };
    assert!(
        read("uploads/3.mp4").await == data,
        "an object changed after listing"
    );
    s3.copy_object()
        .bucket(bucket)
        .key("copy.mp4")
        .copy_source(format!("{bucket}/uploads/3.mp4"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("uploads/3.mp4")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    assert!(
        read("copy.mp4").await == data,
        "a copy changed when its source was overwritten"
    );
}

#[tokio::test]
async fn ranged_reads_answer_as_s3_does_for_put_and_multipart_objects() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

    // The launcher serves a single range from the object's file (s3-range-read); every other
    // shape of Range header must still get what moto answers as shipped.
    let cloud = TestCloud::provisioned().await;
    let s3 = &cloud.clients.s3;
    let bucket = &cloud.stack.bucket.name;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
    s3.put_object()
        .bucket(bucket)
        .key("put.bin")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    // Two parts: 5 MiB (the minimum for all but the last) and a tail.
    let big: Vec<u8> = (0..5 * 1024 * 1024 + 1000u32)
        .map(|i| (i % 241) as u8)
        .collect();
    let id = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("multi.bin")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in big.chunks(5 * 1024 * 1024).enumerate() {
        let n = i32::try_from(n).unwrap() + 1;
        let etag = s3
            .upload_part()
            .bucket(bucket)
            .key("multi.bin")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap()
            .e_tag
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key("multi.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let get = |key: &'static str, range: &'static str| async move {
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(range)
            .send()
            .await
            .map_err(|e| describe(&e).code.unwrap_or_default())?;
        let content_range = out.content_range().map(str::to_owned);
        let body = out.body.collect().await.unwrap().into_bytes().to_vec();
        Ok::<_, String>((content_range, body))
    };
    let n = data.len();
    for (range, want, content_range) in [
        ("bytes=0-99", &data[..100], Some("bytes 0-99/300000")),
        (
            "bytes=1000-",
            &data[1000..],
            Some("bytes 1000-299999/300000"),
        ),
        (
            "bytes=-10",
            &data[n - 10..],
            Some("bytes 299990-299999/300000"),
        ),
        (
            "bytes=299990-400000",
            &data[n - 10..],
            Some("bytes 299990-299999/300000"),
        ),
        // Several ranges, or one S3 cannot parse: the whole object, as S3 answers.
        ("bytes=0-9,20-29", &data[..], None),
        ("bytes=x-y", &data[..], None),
    ] {
        let (got_range, body) = get("put.bin", range).await.unwrap();
        assert_eq!(got_range.as_deref(), content_range, "{range}");
        assert!(body == want, "{range}: {} bytes, wrong content", body.len());
    }
    let err = get("put.bin", "bytes=300000-").await.unwrap_err();
    assert!(err.contains("InvalidRange"), "{err}");

    // Across the parts' boundary of a multipart object, and each 1 MiB range in turn.
    let edge = 5 * 1024 * 1024;
    let (_, body) = get("multi.bin", "bytes=5242870-5242889").await.unwrap();
    assert!(body == big[edge - 10..edge + 10]);
    let mut joined = Vec::new();
    for start in (0..big.len()).step_by(1024 * 1024) {
        let range = format!("bytes={start}-{}", (start + 1024 * 1024).min(big.len()) - 1);
        let out = s3
            .get_object()
            .bucket(bucket)
            .key("multi.bin")
            .range(range)
            .send()
            .await
            .unwrap();
        joined.extend(out.body.collect().await.unwrap().into_bytes());
    }
    assert!(joined == big, "the ranges do not add up to the object");
}

/// moto's own multipart completion against the launcher's (s3-multipart-join), on the same
/// parts in moto's own objects: the same object bytes, ETag and checksum for every checksum
/// algorithm and type, and the same refusals.
#[test]
fn multipart_completion_streams_parts_and_answers_as_moto_does() {
    const CHECK: &str = r#"
import os, sys
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
from moto.s3 import models, exceptions

original = models.FakeMultipart.complete
ns["stream_multipart_completion"]()
patched = models.FakeMultipart.complete
assert patched is not original
first = bytes(i * 7 % 251 for i in range(5 * 1024 * 1024 + 3000))
second = bytes(i % 13 for i in range(1_500_001))

def upload(meta, *parts):
    m = models.FakeMultipart("k", meta, "123456789012", "us-east-1")
    for n, data in enumerate(parts, 1):
        m.set_part(n, data)
    return m, [(n, m.parts[n].etag) for n in m.parts]

for meta in [{}, {"x-amz-checksum-algorithm": "CRC32"},
             {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "FULL_OBJECT"},
             {"x-amz-checksum-algorithm": "CRC32C"}, {"x-amz-checksum-algorithm": "SHA1"},
             {"x-amz-checksum-algorithm": "SHA256"}, {"x-amz-checksum-algorithm": "CRC64NVME"}]:
    m, body = upload(meta, first, second)
    want = original(m, iter(body))
    got = patched(m, iter(body))
    m.dispose()  # moto disposes of the upload, closing its parts, before writing the key
    key = models.FakeKey("k", got[0], "123456789012", "us-east-1")
    assert key.value == want[0] and key.size == len(want[0]), meta
    assert got[1:] == want[1:], (meta, got[1:], want[1:])

def refusal(complete, parts, body):
    m, etags = upload({}, *parts)
    try:
        complete(m, iter(body(etags)))
    except Exception as e:
        return type(e).__name__
    return "accepted"

for parts, body in [
    ((first, second), lambda e: [(1, e[0][1]), (2, '"0123"')]),
    ((first, second), lambda e: [(1, e[0][1]), (3, e[1][1])]),
    ((second, first), lambda e: e),
    ((first,), lambda e: []),
]:
    want, got = refusal(original, parts, body), refusal(patched, parts, body)
    assert want == got and want != "accepted", (want, got)
print("same as moto")
"#;
    run_against_the_launcher(CHECK, "same as moto");
}

/// moto's own object writes against the launcher's (s3-write-once), object data in files as
/// the launcher keeps it: for bodies below, at and above the in-memory size, the same bytes
/// read back, size and ETag; a large body is in a file with its ETag taken as it was written
/// (what it saves is measured by bench/emulator-puts.sh); an ETag given with the key (a
/// completed multipart upload) is kept; a multipart join still streams.
#[test]
fn objects_are_written_once_with_moto_s_etags() {
    const CHECK: &str = r#"
import hashlib, os, sys, tempfile
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
os.environ["FLIGHTDECK_EMULATOR_DATA_DIR"] = tempfile.mkdtemp()
ns["keep_s3_data_on_disk"]()
from moto.s3 import models

def key(data, etag=None):
    return models.FakeKey("k", data, "123456789012", "us-east-1", etag=etag)

limit = int(os.environ["MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"])
bodies = [b"", b"x", bytes(range(256)) * (limit // 256), bytes(limit + 1),
          bytes(i * 7 % 251 for i in range(4_000_003)), bytearray(b"y" * (limit + 5))]
moto = [(k.value, k.size, k.etag) for k in map(key, bodies)]
ns["stream_multipart_completion"]()
ns["write_s3_objects_once"]()
for data, (value, size, etag) in zip(bodies, moto):
    k = key(data)
    if len(data) > limit:
        assert k._value_buffer._rolled and k._etag is not None, len(data)
    assert (k.value, k.size, k.etag) == (value, size, etag), len(data)
    assert etag.strip('"') == hashlib.md5(data).hexdigest()
given = key(bodies[4], etag="0123-2")
assert given.etag == '"0123-2"' and given.value == bodies[4]

m = models.FakeMultipart("k", {}, "123456789012", "us-east-1")
first, second = bytes(5 * 1024 * 1024 + 1), b"z" * 70_000
m.set_part(1, first)
m.set_part(2, second)
assert m.parts[1].etag.strip('"') == hashlib.md5(first).hexdigest()
joined, etag, _ = m.complete(iter([(n, m.parts[n].etag) for n in m.parts]))
m.dispose()
assert key(joined, etag=etag).value == first + second
print("same as moto")
"#;
    run_against_the_launcher(CHECK, "same as moto");
}

/// Runs `check` in the emulator's Python with the launcher's source on its stdin (it loads
/// the launcher's functions from there); it must succeed and print `expect`.
fn run_against_the_launcher(check: &str, expect: &str) {
    use std::io::Write;
    let install = local_cloud::Installation::ensure(&local_cloud::paths::cache_dir()).unwrap();
    let mut child = std::process::Command::new(install.python())
        .args(["-c", check])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(include_str!("../src/launcher.py").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(expect), "{stdout}{stderr}");
}

/// What the request-body checks below share: the launcher's functions loaded from stdin,
/// object data in files as the launcher keeps it, a moto server on a free port, and `put`: a
/// PutObject (or CreateBucket) with an unsigned body, its status and answer.
const SERVER: &str = r#"
import os, sys, tempfile, time, http.client
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
os.environ["FLIGHTDECK_EMULATOR_DATA_DIR"] = tempfile.mkdtemp()
ns["keep_s3_data_on_disk"]()
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server._server.server_port
AUTH = "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
def put(path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("PUT", path, body=body, headers={"Authorization": AUTH})
    r = c.getresponse(); text = r.read().decode(errors="replace"); c.close()
    return r.status, text
"#;

/// moto's Flask apps run in debug mode, where each request without a form is caught in a
/// reference cycle with its body until the collector next runs; with the launcher's fix
/// (request-bodies-freed) a body is freed with its answer. Measured with the collector off,
/// as moto ships (the body stays) and with the fix (nothing stays).
#[test]
fn a_request_body_is_freed_with_its_answer() {
    const CHECK: &str = r#"
import gc, tracemalloc
assert put("/bodies", b"")[0] == 200
body = os.urandom(4 << 20)
gc.disable()  # only reference counting frees memory from here on
tracemalloc.start()
def held_after(path):
    start = tracemalloc.get_traced_memory()[0]
    assert put(path, body)[0] == 200
    deadline = time.monotonic() + 2
    while True:
        held = tracemalloc.get_traced_memory()[0] - start
        if held < (1 << 20) or time.monotonic() > deadline:
            return held
        time.sleep(0.05)
shipped = held_after("/bodies/a")
ns["free_request_bodies"]()
fixed = held_after("/bodies/b")
print(f"held after the answer: {shipped >> 20} MiB as moto ships, {fixed >> 20} MiB with the fix")
assert shipped >= (4 << 20), shipped
assert fixed < (1 << 20), fixed
server.stop()
print("bodies freed")
"#;
    run_against_the_launcher(&format!("{SERVER}{CHECK}"), "bodies freed");
}

/// The bound on S3 request bodies in flight (s3-inflight-bound), at 6 MiB: a 4 MiB upload
/// whose client stalls holds 4 MiB; a second 4 MiB upload waits, and past its wait is refused
/// with 503 SlowDown naming the bound; a 1 MiB one fits beside it; once the stalled one is
/// answered, an upload waiting for room goes in; one alone goes in however large.
#[test]
fn s3_request_bodies_in_flight_are_bounded() {
    const CHECK: &str = r#"
import socket, threading
os.environ["FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES"] = str(6 << 20)
os.environ["FLIGHTDECK_EMULATOR_INFLIGHT_WAIT_S"] = "0.5"
ns["bound_s3_bodies_in_flight"]()
assert put("/gate", b"")[0] == 200
slow = socket.create_connection(("127.0.0.1", port))
slow.sendall(f"PUT /gate/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH}\r\n"
             f"Content-Length: {4 << 20}\r\n\r\n".encode() + b"x" * (2 << 20))
time.sleep(0.3)
started = time.monotonic()
status, text = put("/gate/second", b"x" * (4 << 20))
waited = time.monotonic() - started
assert status == 503 and "<Code>SlowDown</Code>" in text, (status, text)
assert "FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES" in text and waited >= 0.5, (waited, text)
assert put("/gate/small", b"x" * (1 << 20))[0] == 200
third = {}
waiter = threading.Thread(target=lambda: third.update(r=put("/gate/third", b"x" * (4 << 20))))
waiter.start()
time.sleep(0.1)
slow.sendall(b"x" * (2 << 20))
answer = slow.recv(4096).decode()
assert answer.startswith("HTTP/1.1 200"), answer
waiter.join()
assert third["r"][0] == 200, third
assert put("/gate/large", b"x" * (7 << 20))[0] == 200
slow.close()
server.stop()
print("in-flight bound holds")
"#;
    run_against_the_launcher(&format!("{SERVER}{CHECK}"), "in-flight bound holds");
}

/// quiet-log: an answer under 400 leaves no line in the emulator's log, a failed one does,
/// and the server's lines stop, with one line saying so, once the log reaches its bound.
#[test]
fn the_emulator_logs_failed_requests_within_a_bound() {
    let check = format!(
        "{SERVER}{}",
        r#"
log_path = tempfile.mktemp()
sys.stderr = open(log_path, "w")
os.environ["FLIGHTDECK_EMULATOR_LOG_MAX_MB"] = str(4000 / 2**20)
ns["quiet_request_log"]()
def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers={"Authorization": AUTH})
    r = c.getresponse(); r.read(); c.close()
    return r.status
assert put("/logs", b"")[0] == 200
assert all(put(f"/logs/k{i}", b"x")[0] == 200 for i in range(20))
assert get("/logs/k1") == 200
sys.stderr.flush()
assert " 200 " not in open(log_path).read(), open(log_path).read()
assert get("/logs/missing") == 404
sys.stderr.flush()
text = open(log_path).read()
assert "GET /logs/missing HTTP/1.1\" 404" in text, text
assert all(get("/logs/missing") == 404 for _ in range(100))
sys.stderr.flush()
text = open(log_path).read()
assert text.count("the server's lines stop here") == 1, text
assert text.count(" 404 ") < 100 and len(text) < 4000 + 400, len(text)
print("logged within the bound")
"#
    );
    run_against_the_launcher(&check, "logged within the bound");
}

/// log-events-bound: a log group keeps at most its bound of events (here 100, trimmed 5 %
/// over it), the oldest dropped first across its streams, each stream's stored bytes
/// matching what it keeps, moto's FilterLogEvents answering over them; and when it trims, a
/// group with a retention keeps nothing older.
#[test]
fn log_groups_keep_their_newest_events_within_a_bound() {
    const CHECK: &str = r#"
import os, sys, time
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
os.environ["FLIGHTDECK_EMULATOR_LOG_EVENTS"] = "100"
ns["bound_log_events"]()
from moto.logs import models

backend = models.logs_backends["123456789012"]["us-east-1"]
backend.create_log_group("/bound", {})
for s in ("a", "b", "c"):
    backend.create_log_stream("/bound", s)
now = int(time.time() * 1000)
# 3 streams x 60 events, interleaved in time: event k of stream s at now - 10000 + 3k + s.
for batch in range(6):
    for si, s in enumerate("abc"):
        events = [{"timestamp": now - 10_000 + 3 * k + si, "message": f"{s}{k:03d}"}
                  for k in range(batch * 10, batch * 10 + 10)]
        backend.put_log_events("/bound", s, events)
group = backend.groups["/bound"]
kept = sorted(e.timestamp for st in group.streams.values() for e in st.events)
assert 100 <= len(kept) <= 105, len(kept)
# The newest were kept, the oldest dropped: every kept event is newer than every dropped one.
every = sorted(now - 10_000 + 3 * k + si for k in range(60) for si in range(3))
assert kept == every[-len(kept):], (kept[:3], every[-len(kept):][:3])
for st in group.streams.values():
    assert st.stored_bytes == sum(len(e.message) for e in st.events), st.log_stream_name
# moto's own answers over what is kept.
found = backend.filter_log_events("/bound", None, None, None, 10_000, None, None, None)[0]
assert len(found) == len(kept), len(found)
# Past its retention: a group with one day keeps nothing older than a day when it trims.
backend.create_log_group("/retained", {})
backend.put_retention_policy("/retained", 1)
backend.create_log_stream("/retained", "x")
day = 86_400_000
backend.put_log_events("/retained", "x", [{"timestamp": now - 13 * day + i, "message": "old"} for i in range(50)])
backend.put_log_events("/retained", "x", [{"timestamp": now - 1000 + i, "message": "new"} for i in range(60)])
left = [e.message for e in backend.groups["/retained"].streams["x"].events]
assert left == ["new"] * 60, (len(left), left[:3])
print("log events bounded")
"#;
    run_against_the_launcher(CHECK, "log events bounded");
}

/// models-freed: moto's per-class record of its instances lists every live one, made before
/// or after the fix, hashable or not, and lets deleted ones go (purged SQS messages, an S3
/// key nobody holds); moto's reset still empties it.
#[test]
fn deleted_models_are_freed_and_live_ones_still_listed() {
    const CHECK: &str = r#"
import gc, sys, weakref
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
from moto.s3 import models as s3  # imported before the fix, as the launcher's fixes do
ns["track_models_weakly"]()
from moto.sqs import models as sqs  # and after it
from moto.core import model_instances

def tracked(cls):
    return list(cls.instances_tracked)

backend = sqs.sqs_backends["123456789012"]["us-east-1"]
backend.create_queue("q")
for i in range(10):
    backend.send_message("q", f"m{i}")
assert len(tracked(sqs.Message)) == 10, len(tracked(sqs.Message))
backend.purge_queue("q")
gc.collect()
assert tracked(sqs.Message) == [], tracked(sqs.Message)

key = s3.FakeKey("k", b"data", "123456789012", "us-east-1")
assert any(k is key for k in tracked(s3.FakeKey))
gone = weakref.ref(key)
del key
gc.collect()
assert gone() is None and all(k.name != "k" for k in tracked(s3.FakeKey))

# A model with equality but no hash is listed too.
grantee = s3.FakeGrantee(grantee_id="g")
assert [g for g in tracked(s3.FakeGrantee) if g is grantee] == [grantee]

# moto's reset empties the lists, and they stay weak.
model_instances.reset_model_data()
assert tracked(s3.FakeGrantee) == []
again = s3.FakeGrantee(grantee_id="h")
assert [g for g in tracked(s3.FakeGrantee) if g is again] == [again]
print("models freed")
"#;
    run_against_the_launcher(CHECK, "models freed");
}

/// metric-data-bound: CloudWatch datums older than the age bound (here an hour) go at the
/// first PutMetricData's check and at most once a minute after, and beyond the count bound
/// (here 1,000, trimmed 5 % over it) the oldest go at once; moto's statistics answer over
/// what is kept.
#[test]
fn metric_data_is_kept_within_its_age_and_count_bounds() {
    const CHECK: &str = r#"
import datetime, os, sys
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
os.environ["FLIGHTDECK_EMULATOR_METRIC_HOURS"] = "1"
os.environ["FLIGHTDECK_EMULATOR_METRIC_DATUMS"] = "1000"
ns["bound_metric_data"]()
from moto.cloudwatch import models

backend = models.cloudwatch_backends["123456789012"]["us-east-1"]
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
def datum(at, value, name="Depth"):
    return {"MetricName": name, "Value": value, "Timestamp": at,
            "Dimensions": [{"Name": "Queue", "Value": "q"}]}
# Two hours old: past the bound, dropped by the first put's check.
backend.put_metric_data("Local", [datum(now - datetime.timedelta(hours=2), 1.0)] * 20)
assert backend.metric_data == [], len(backend.metric_data)
# Within the minute no check runs; the next one keeps what is within the hour.
backend.put_metric_data("Local", [datum(now - datetime.timedelta(hours=2), 1.0)] * 5)
backend.put_metric_data("Local", [datum(now - datetime.timedelta(minutes=5), 2.0)] * 10)
assert len(backend.metric_data) == 15, len(backend.metric_data)
backend._flightdeck_trimmed -= 60
backend.put_metric_data("Local", [datum(now - datetime.timedelta(minutes=4), 3.0)])
assert [d.value for d in backend.metric_data] == [2.0] * 10 + [3.0], len(backend.metric_data)
# Over the count by more than 5 %: back to the newest 1,000 at once.
for i in range(1060):
    backend.put_metric_data("Local", [datum(now - datetime.timedelta(minutes=3), float(i))])
values = [d.value for d in backend.metric_data]
assert values == [float(i) for i in range(1060 - len(values), 1060)] and 1000 <= len(values) <= 1050, len(values)
# moto's own answers over what is kept.
stats = backend.get_metric_statistics("Local", "Depth", now - datetime.timedelta(minutes=10),
    now, 600, ["SampleCount"], dimensions=[{"Name": "Queue", "Value": "q"}])
assert sum(s.sample_count for s in stats) == len(values), [s.sample_count for s in stats]
print("metric data bounded")
"#;
    run_against_the_launcher(CHECK, "metric data bounded");
}

/// sqs-oldest-age: SQS's `ApproximateAgeOfOldestMessage`, which moto does not publish, is put
/// into CloudWatch for each queue holding messages (here every second instead of every
/// minute): the age of its oldest message, growing while it waits, nothing for a queue never
/// used, and one 0 when the queue empties, then nothing.
#[test]
fn sqs_oldest_message_ages_are_published_while_messages_wait() {
    const CHECK: &str = r#"
import sys, time
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
from moto.cloudwatch.models import cloudwatch_backends
from moto.sqs.models import sqs_backends

sqs = sqs_backends["123456789012"]["us-east-1"]
cw = cloudwatch_backends["123456789012"]["us-east-1"]
sqs.create_queue("busy")
sqs.create_queue("idle")
sqs.send_message("busy", "first")
time.sleep(2)
sqs.send_message("busy", "second")
def ages(queue):
    return [
        (d.value, d.unit)
        for d in cw.metric_data
        if d.namespace == "AWS/SQS"
        and d.name == "ApproximateAgeOfOldestMessage"
        and [(x.name, x.value) for x in d.dimensions] == [("QueueName", queue)]
    ]
ns["publish_sqs_oldest_age"](1)
time.sleep(3.5)
busy = [v for v, _ in ages("busy")]
assert len(busy) >= 2 and busy[0] >= 2 and busy == sorted(busy), busy
assert {u for _, u in ages("busy")} == {"Seconds"}, ages("busy")
assert ages("idle") == [], ages("idle")
for m in sqs.receive_message("busy", 10, 0, 30):
    sqs.delete_message("busy", m.receipt_handle)
time.sleep(2.5)
after = [v for v, _ in ages("busy")][len(busy):]
assert after and after[-1] == 0.0 and after.count(0.0) == 1, after
n = len(ages("busy"))
time.sleep(2.1)
assert len(ages("busy")) == n, ages("busy")[n:]
print("ages published")
"#;
    run_against_the_launcher(CHECK, "ages published");
}

/// metric-scan-once: GetMetricData picks out the datums its queries can match before moto's
/// loops run; over namespaces, names, one and two dimensions (in either order), units, a
/// math expression, a namespace with no data, two windows and both orders, every answer is
/// moto's own.
#[test]
fn metric_queries_answer_as_moto_does() {
    const CHECK: &str = r#"
import datetime, sys
ns = {"__name__": "flightdeck_launcher"}
exec(compile(sys.stdin.read(), "launcher.py", "exec"), ns)
from moto.cloudwatch import models

original = models.CloudWatchBackend.get_metric_data
ns["scan_metrics_once"]()
backend = models.cloudwatch_backends["123456789012"]["us-east-1"]
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
dims = [
    [],
    [{"Name": "InstanceId", "Value": "i-1"}],
    [{"Name": "InstanceId", "Value": "i-2"}],
    [{"Name": "AutoScalingGroupName", "Value": "w"}],
    [{"Name": "QueueName", "Value": "q"}, {"Name": "Env", "Value": "local"}],
    [{"Name": "Env", "Value": "local"}, {"Name": "QueueName", "Value": "q"}],
]
n = 0
for minute in range(90):
    for namespace in ("AWS/EC2", "Flightdeck", "AWS/SQS"):
        for name in ("CPUUtilization", "Depth"):
            for d in dims:
                n += 1
                backend.put_metric_data(namespace, [{
                    "MetricName": name, "Value": float(n % 97), "Dimensions": d,
                    "Unit": "Percent" if n % 3 else "Count",
                    "Timestamp": now - datetime.timedelta(minutes=minute, seconds=n % 50)}])

def stat(i, namespace, name, d, stat="Average", unit=None):
    q = {"Id": f"m{i}", "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name},
         "Period": 60, "Stat": stat}}
    if d:
        q["MetricStat"]["Metric"]["Dimensions"] = d
    if unit:
        q["MetricStat"]["Unit"] = unit
    return q

calls = []
for namespace in ("AWS/EC2", "Flightdeck", "Nowhere"):
    for name in ("CPUUtilization", "Depth"):
        for d in dims:
            calls.append([stat(1, namespace, name, d)])
            calls.append([stat(1, namespace, name, d, "Sum", "Count")])
calls.append([stat(1, "AWS/EC2", "CPUUtilization", dims[1]), stat(2, "AWS/SQS", "Depth", dims[4], "Maximum"),
              {"Id": "e1", "Expression": "m1 + m2"}])
for window in (datetime.timedelta(minutes=30), datetime.timedelta(hours=2)):
    for queries in calls:
        for order in ("TimestampAscending", "TimestampDescending"):
            want = original(backend, queries, now - window, now, order)
            got = backend.get_metric_data(queries, now - window, now, order)
            assert got == want, (queries, got, want)
assert sum(1 for q in calls if any(r["values"] for r in backend.get_metric_data(q, now - window, now))) > len(calls) // 2
print("metric answers as moto's")
"#;
    run_against_the_launcher(CHECK, "metric answers as moto's");
}

/// With connections kept open (keep-alive), a request body ends at its Content-Length, so
/// werkzeug may read it straight: a 4 MiB PutObject body in one read instead of 64 KiB at a
/// time into a growing buffer copied at the end (a quarter of the emulator's CPU per 4 MiB
/// upload, bench/emulator-puts.sh). The object reads back whole; a client gone before the end
/// of its body stores nothing.
#[test]
fn a_request_body_is_read_in_one_piece() {
    const CHECK: &str = r#"
ns["keep_connections_open"]()
reads = []
read = ns["_ThisBody"].read
def counted(self, size=-1):
    data = read(self, size)
    if data:
        reads.append(len(data))
    return data
ns["_ThisBody"].read = counted
assert put("/whole", b"")[0] == 200
body = os.urandom(4 << 20)
reads.clear()
assert put("/whole/k", body)[0] == 200
print(f"a 4 MiB body in {len(reads)} read(s)")
assert sum(reads) == len(body) and len(reads) == 1, reads[:3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("GET", "/whole/k", headers={"Authorization": AUTH})
r = c.getresponse()
assert r.status == 200 and r.read() == body
# A client gone before the end of its body stores nothing, as werkzeug's own stream and S3 do.
import socket
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(f"PUT /whole/cut HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
s.sendall(body[: 1 << 20])
s.shutdown(socket.SHUT_WR)
s.recv(65536)
s.close()
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("HEAD", "/whole/cut", headers={"Authorization": AUTH})
r = c.getresponse()
r.read()
assert r.status == 404, f"a quarter of a body was stored: HEAD answered {r.status}"
server.stop()
print("read in one piece")
"#;
    run_against_the_launcher(&format!("{SERVER}{CHECK}"), "read in one piece");
}

#[tokio::test]
async fn an_emulator_logs_where_it_is_told_and_keeps_that_log_across_a_restart() {
    // The tests' emulators stay out of the operator's log folder.
    let cloud = TestCloud::empty().await;
    let test_log = cloud.emulator.log_path().unwrap();
    assert_eq!(
        test_log.parent(),
        Some(local_cloud::paths::test_logs_dir().as_path())
    );

    let dir = tempfile::tempdir().unwrap();
    let install = local_cloud::Installation::ensure(&local_cloud::paths::cache_dir()).unwrap();
    let mut emulator = Emulator::start_logging(
        &install,
        None,
        local_cloud::StorageLimits::default(),
        dir.path(),
    )
    .await
    .unwrap();
    let log = emulator.log_path().unwrap().clone();
    assert_eq!(log.parent(), Some(dir.path()));
    assert!(log.is_file(), "{}", log.display());

    let pid = emulator.pid().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while emulator.exited().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the emulator did not die"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    emulator
        .restart(&install, "a test killed it")
        .await
        .unwrap();
    assert_eq!(emulator.log_path(), Some(&log));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("restarting the emulator (a test killed it)"),
        "{text}"
    );
    emulator.stop();
}
