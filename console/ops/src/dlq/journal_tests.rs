//! The unit tests of [`super`] (`journal.rs`).
#![allow(clippy::unwrap_used)]
use super::*;
use std::collections::HashSet;

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn one_redrive_per_dlq_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:5000/123456789012/video_dlq";
    let first = Journal::open(dir.path(), url).unwrap();
    let e = Journal::open(dir.path(), url).err().unwrap().to_string();
    assert!(e.contains("another redrive of this DLQ is running"), "{e}");
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    // Another DLQ is another lock.
    let other = Journal::open(dir.path(), "http://127.0.0.1:5000/123456789012/other_dlq");
    assert!(other.is_ok());
    drop(first);
    assert!(Journal::open(dir.path(), url).is_ok());
}

/// A child process started elsewhere in this process holds a copy of every open file until
/// its exec: the lock of a journal just closed can stay held for that moment, which is not
/// another redrive. A clone of the lock's file, let go shortly after, stands in for the child.
#[test]
fn a_lock_held_for_a_moment_after_closing_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:5000/123456789012/video_dlq";
    let j = Journal::open(dir.path(), url).unwrap();
    let child_copy = j._lock.try_clone().unwrap();
    drop(j);
    let child = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(child_copy);
    });
    assert!(Journal::open(dir.path(), url).is_ok());
    child.join().unwrap();
}

#[test]
fn a_reopened_journal_knows_each_message_state() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:5000/123456789012/video_dlq";
    let mut j = Journal::open(dir.path(), url).unwrap();
    assert!(j.prior().is_none());
    j.begin("video_dlq", "video_tasks", 7).unwrap();
    j.sending(&ids(&["a", "b", "c", "d"])).unwrap();
    j.sent(&ids(&["a", "b"])).unwrap();
    j.unsent(&ids(&["c"])).unwrap();
    j.deleted(&ids(&["a"])).unwrap();
    drop(j);
    // Simulate a kill in the middle of writing a line.
    let path = path_for(dir.path(), url);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(br#"{"step":"deleted","ids":["#).unwrap();
    drop(f);

    let j = Journal::open(dir.path(), url).unwrap();
    let prior = j.prior().unwrap();
    assert_eq!(prior.visibility, Duration::from_secs(7));
    assert_eq!(prior.outstanding, 2);
    assert_eq!(j.status("a"), None);
    assert_eq!(j.status("b"), Some(Status::Sent));
    assert_eq!(j.status("c"), None);
    assert_eq!(j.status("d"), Some(Status::Sending));

    // The cut line was ended on reopening, so the next run's lines read whole.
    let mut j = j;
    j.begin("video_dlq", "video_tasks", 9).unwrap();
    j.sent(&ids(&["d"])).unwrap();
    drop(j);
    let j = Journal::open(dir.path(), url).unwrap();
    assert_eq!(j.prior().unwrap().visibility, Duration::from_secs(9));
    assert_eq!(j.status("b"), Some(Status::Sent));
    assert_eq!(j.status("d"), Some(Status::Sent));
}

/// A chain of killed runs: each resend of a message an earlier run may have sent is on
/// record until cleared, however many runs finish in between.
#[tokio::test]
async fn possible_duplicates_stay_on_record_across_runs_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://h/1/q";
    // Run 1 resends "a" and is killed after sending it.
    let mut j = Journal::open(dir.path(), url).unwrap();
    j.begin("q", "t", 5).unwrap();
    let shared = j.share();
    shared.duplicates(&ids(&["a"])).await.unwrap();
    shared.sending(&ids(&["a"])).await.unwrap();
    drop(shared.into_inner().unwrap());
    // Run 2 resends "a" again and "b", finishes them, and ends with nothing outstanding.
    let mut j = Journal::open(dir.path(), url).unwrap();
    assert_eq!(j.duplicates().len(), 1);
    j.begin("q", "t", 5).unwrap();
    let shared = j.share();
    shared.duplicates(&ids(&["a", "b"])).await.unwrap();
    assert_eq!(shared.duplicates_on_record(), 2);
    shared.sending(&ids(&["a", "b"])).await.unwrap();
    shared.sent(&ids(&["a", "b"])).await.unwrap();
    shared.deleted(&ids(&["a", "b"])).await.unwrap();
    let outstanding = shared
        .into_inner()
        .unwrap()
        .finish(true, &HashSet::new())
        .unwrap();
    assert!(!outstanding, "nothing is left to move");
    // The record survives the clean end; run 3 still reports both.
    let j = Journal::open(dir.path(), url).unwrap();
    let on_record: Vec<&str> = j.duplicates().iter().map(String::as_str).collect();
    assert_eq!(on_record, ["a", "b"]);
    assert_eq!(j.clear_duplicates().unwrap(), 2);
    assert!(
        !path_for(dir.path(), url).exists(),
        "cleared, with nothing outstanding: no journal left"
    );
}

#[tokio::test]
async fn a_shared_journal_writes_every_batch_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://h/1/q";
    let mut j = Journal::open(dir.path(), url).unwrap();
    j.begin("q", "t", 5).unwrap();
    let shared = j.share();
    let batches: Vec<Vec<String>> = (0..8)
        .map(|b| (0..10).map(|i| format!("m{b}-{i}")).collect())
        .collect();
    // Eight batches at once, as the mover runs them: sending, sent, and for the even
    // ones deleted; odd ones stop after sent, as if killed before the delete.
    futures_util::future::join_all(batches.iter().enumerate().map(|(b, ids)| {
        let shared = &shared;
        async move {
            shared.sending(ids).await.unwrap();
            assert_eq!(shared.status(&ids[0]), Some(Status::Sending));
            shared.sent(ids).await.unwrap();
            if b % 2 == 0 {
                shared.deleted(ids).await.unwrap();
            }
        }
    }))
    .await;
    drop(shared.into_inner().unwrap());

    let text = std::fs::read_to_string(path_for(dir.path(), url)).unwrap();
    assert_eq!(text.lines().count(), 1 + 8 * 2 + 4);
    for line in text.lines() {
        serde_json::from_str::<Line>(line).unwrap();
    }
    let j = Journal::open(dir.path(), url).unwrap();
    assert_eq!(j.prior().unwrap().outstanding, 40);
    for (b, ids) in batches.iter().enumerate() {
        let want = if b % 2 == 0 { None } else { Some(Status::Sent) };
        for id in ids {
            assert_eq!(j.status(id), want, "{id}");
        }
    }
}

#[test]
fn finish_removes_or_compacts() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://h/1/q";
    let mut j = Journal::open(dir.path(), url).unwrap();
    j.begin("q", "t", 5).unwrap();
    j.sending(&ids(&["x"])).unwrap();
    j.sent(&ids(&["x"])).unwrap();
    j.deleted(&ids(&["x"])).unwrap();
    assert!(!j.finish(false, &HashSet::new()).unwrap());
    assert!(!path_for(dir.path(), url).exists());

    let mut j = Journal::open(dir.path(), url).unwrap();
    j.begin("q", "t", 5).unwrap();
    j.sending(&ids(&["y", "z"])).unwrap();
    j.sent(&ids(&["y"])).unwrap();
    assert!(j.finish(false, &HashSet::new()).unwrap());
    let j = Journal::open(dir.path(), url).unwrap();
    assert_eq!(j.status("y"), Some(Status::Sent));
    assert_eq!(j.status("z"), Some(Status::Sending));
    // Once the earlier run's messages had time to return and did not, they are dropped.
    assert!(!j.finish(true, &HashSet::new()).unwrap());
}
