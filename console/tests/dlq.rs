//! `flightdeck dlq ...` as a user runs it against a real emulator: selective redrive, a
//! redrive killed with SIGKILL and run again (nothing lost), the typed confirmation, and
//! `--read-only` refusing every mutating call at the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use local_cloud::testing::TestCloud;

mod common;
use common::{flightdeck, run, text};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

/// `n` messages with bodies `{"v":1,"video_id":"<tag>-<i>"}` and failure attributes.
async fn inject(sqs: &aws_sdk_sqs::Client, url: &str, tag: &str, n: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .map(|i| {
                let body = format!(r#"{{"v":1,"video_id":"{tag}-{i}"}}"#);
                bodies.push(body.clone());
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_attributes(
                        "failure_class",
                        attr(if i % 3 == 0 { "permanent" } else { "retryable" }),
                    )
                    .message_attributes("failure_reason", attr(&format!("corrupt input {i}")))
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
    bodies
}

/// Every message in a queue (consumed with a long visibility): body -> attributes.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 3 {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            // Short polls: the task queue long-polls 20 s by default (receive_wait_s).
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        if r.messages().is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        for m in r.messages() {
            let attrs = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            out.push((m.body().unwrap_or_default().to_string(), attrs));
        }
    }
    out
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    out.attributes()
        .unwrap()
        .values()
        .map(|v| v.parse::<u64>().unwrap())
        .sum()
}

async fn url(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string()
}

async fn create(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string()
}

fn audit_lines(state: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(state.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn dlq_help_documents_filters_and_exit_codes() {
    let out = StdCommand::new(BIN)
        .args(["dlq", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    for want in [
        "redrive",
        "purge",
        "attr.failure_class=permanent",
        "age>10m",
        "signature=ID",
    ] {
        assert!(help.contains(want), "{want} not in\n{help}");
    }
    for sub in [
        "list", "groups", "show", "export", "redrive", "delete", "purge",
    ] {
        let out = StdCommand::new(BIN)
            .args(["dlq", sub, "--help"])
            .output()
            .unwrap();
        let help = text(&out.stdout);
        assert!(
            help.contains("Exit codes:") && help.contains("3  refused"),
            "{sub}:\n{help}"
        );
        assert!(
            help.contains("6  redrive done, but messages were left"),
            "{sub}:\n{help}"
        );
    }
}

/// A redrive that ends with messages another consumer holds says how many, in its last line,
/// its JSON and its audit entry, and exits 6 (not 0, and not 5 when nothing else moved).
#[tokio::test]
async fn a_redrive_that_leaves_messages_held_elsewhere_exits_6_with_their_count() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    let tasks = url(sqs, "video_tasks").await;
    inject(sqs, &dlq, "h", 8).await;
    // Another consumer holds two of them for five minutes.
    let mut held = 0;
    while held < 2 {
        let r = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(2 - held)
            .visibility_timeout(300)
            .send()
            .await
            .unwrap();
        held += r.messages().len() as i32;
    }
    let redrive = |json: bool| {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(["dlq", "redrive", "--all", "--no-move-task", "--yes"]);
        if json {
            cmd.arg("--json");
        }
        cmd
    };
    let out = run(redrive(true)).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 message(s) left in video_dlq: held by another consumer"),
        "{}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&report["moved"], &report["left"]), (&6.into(), &2.into()));
    assert_eq!(depth(sqs, &tasks).await, 6);
    let audit = audit_lines(state.path());
    let last = audit.last().unwrap();
    assert_eq!(last["result"], "partial");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("2 left in the DLQ, held by another consumer"),
        "{last}"
    );

    // Again with nothing else to move: still 6 (something is there), and the last line says so.
    let out = run(redrive(false)).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let last_line = stdout.lines().last().unwrap_or_default();
    assert!(
        last_line.contains("moved 0 message(s)") && last_line.contains("; 2 left in the DLQ"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_filtered_redrive_moves_exactly_the_matching_messages_with_bodies_and_attributes() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    let tasks = url(sqs, "video_tasks").await;
    let bodies = inject(sqs, &dlq, "v", 21).await;

    // list (JSON) sees all of them and leaves them in place.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "list", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listing["messages"].as_array().unwrap();
    assert_eq!(listed.len(), 21);
    // The queue's own counts, read before the listing's peek.
    assert_eq!(
        (&listing["queue"], &listing["depth"], &listing["in_flight"]),
        (
            &serde_json::json!("video_dlq"),
            &serde_json::json!(21),
            &serde_json::json!(0)
        )
    );
    assert_eq!(depth(sqs, &dlq).await, 21);

    // Dry run: what would move, nothing changes, no confirmation needed.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args([
        "dlq",
        "redrive",
        "--filter",
        "attr.failure_class=permanent",
        "--dry-run",
        "--json",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dry["would_move"].as_array().unwrap().len(), 7);
    assert_eq!(depth(sqs, &tasks).await, 0);

    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args([
        "dlq",
        "redrive",
        "--filter",
        "attr.failure_class=permanent",
        "--yes",
        "--json",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["moved"], 7);
    assert_eq!(report["destination"], "video_tasks");

    let moved = drain(sqs, &tasks).await;
    let left = drain(sqs, &dlq).await;
    assert_eq!(moved.len(), 7);
    assert_eq!(left.len(), 14);
    for (body, attrs) in &moved {
        let i: usize = body
            .trim_end_matches("\"}")
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(i % 3, 0, "{body} should not have moved");
        assert_eq!(attrs["failure_class"], "permanent");
        assert_eq!(attrs["failure_reason"], format!("corrupt input {i}"));
        assert!(bodies.contains(body));
    }
    assert!(left.iter().all(|(_, a)| a["failure_class"] == "retryable"));

    let audit = audit_lines(state.path());
    assert_eq!(
        audit.len(),
        1,
        "dry runs and lists are not audited: {audit:?}"
    );
    assert_eq!(audit[0]["action"], "dlq.redrive");
    assert_eq!(audit[0]["result"], "ok");
    assert_eq!(audit[0]["who"], "tester");
    assert_eq!(audit[0]["target"], "video_dlq");
}

/// Sends one message per body with the given attributes.
async fn send_each(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    attrs: &[(&str, &str)],
    bodies: &[String],
) {
    for body in bodies {
        let mut req = sqs.send_message().queue_url(url).message_body(body);
        for (k, v) in attrs {
            req = req.message_attributes(*k, attr(v));
        }
        req.send().await.unwrap();
    }
}

/// Three failure signatures in one DLQ: `dlq groups` finds them, and export, redrive and delete
/// with `--filter signature=ID` act on exactly one group each.
#[tokio::test]
async fn a_grouped_redrive_moves_exactly_one_group_and_leaves_the_others() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    let tasks = url(sqs, "video_tasks").await;
    // Five corrupt inputs whose reasons differ only by a number, three other failures, and
    // two dead-lettered without attributes (SQS's maxReceiveCount), one body shape.
    for i in 0..5 {
        let reason = format!("corrupt: invalid NAL unit size {}", 1000 + i * 37);
        send_each(
            sqs,
            &dlq,
            &[("failure_reason", &reason), ("failure_class", "permanent")],
            &[format!(r#"{{"v":1,"video_id":"corrupt-{i}"}}"#)],
        )
        .await;
    }
    let bodies = |tag: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| format!(r#"{{"v":1,"video_id":"{tag}-{i}"}}"#))
            .collect()
    };
    send_each(
        sqs,
        &dlq,
        &[
            ("failure_reason", "not_a_video"),
            ("failure_class", "permanent"),
        ],
        &bodies("notvideo", 3),
    )
    .await;
    send_each(sqs, &dlq, &[], &bodies("plain", 2)).await;

    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "groups", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["messages"], 10);
    let groups = listing["groups"].as_array().unwrap();
    let summary: Vec<(u64, &str)> = groups
        .iter()
        .map(|g| {
            (
                g["count"].as_u64().unwrap(),
                g["signature"]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (5, "corrupt: invalid nal unit size <n> (permanent)"),
            (3, "not_a_video (permanent)"),
            (2, "body {v, video_id}"),
        ]
    );
    let corrupt = groups[0]["signature"]["id"].as_str().unwrap().to_owned();
    let plain = groups[2]["signature"]["id"].as_str().unwrap().to_owned();
    assert!(groups[0]["oldest"].is_string() && groups[0]["newest"].is_string());
    assert!(
        groups[0]["min_receives"].as_u64().unwrap() <= groups[0]["max_receives"].as_u64().unwrap()
    );
    assert_eq!(groups[0]["ids"].as_array().unwrap().len(), 5);
    assert_eq!(groups[0]["example_id"], groups[0]["ids"][0]);

    // The table shows the same ids.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "groups"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{corrupt}      5")),
        "{table}"
    );

    // Export: the group as JSON lines, nothing removed.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "export", "--filter", &format!("signature={corrupt}")]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    for l in &lines {
        assert!(l["body"].as_str().unwrap().contains("corrupt-"), "{l}");
        assert_eq!(l["attributes"]["failure_class"], "permanent");
        assert_eq!(l["signature"]["id"], corrupt.as_str());
        assert!(l["id"].is_string() && l["sent_at"].is_string() && l["receive_count"].is_u64());
    }
    assert_eq!(depth(sqs, &dlq).await, 10);

    // Redrive that group: exactly its five messages move.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args([
        "dlq",
        "redrive",
        "--filter",
        &format!("signature={corrupt}"),
        "--yes",
        "--json",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["moved"], 5);
    let mut moved: Vec<String> = drain(sqs, &tasks)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    moved.sort();
    assert_eq!(moved, bodies("corrupt", 5));

    // Delete another group: the third is all that is left.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args([
        "dlq",
        "delete",
        "--filter",
        &format!("signature={plain}"),
        "--yes",
        "--json",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deleted"], 2);
    let mut left: Vec<String> = drain(sqs, &dlq).await.into_iter().map(|(b, _)| b).collect();
    left.sort();
    assert_eq!(left, bodies("notvideo", 3));

    // A group that is gone matches nothing.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "export", "--filter", &format!("signature={corrupt}")]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

/// A small seeded generator (xorshift), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test]
async fn a_redrive_killed_at_random_points_and_run_again_loses_nothing() {
    const RUNS: usize = 20;
    const SEED: u64 = 0x5eed_f11e;
    let cloud = TestCloud::empty().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let mut rng = Rng(SEED);
    let mut total_dups = 0;
    let mut killed_mid_run = 0;
    let mut with_dups = None;
    for run_no in 0..RUNS {
        let n = 12 + rng.below(19) as usize;
        let kill_after = Duration::from_millis(rng.below(1500));
        let src = create(sqs, &format!("k{run_no}-src")).await;
        let dlq = create(sqs, &format!("k{run_no}-dlq")).await;
        let injected = inject(sqs, &dlq, &format!("r{run_no}"), n).await;
        let args = [
            "dlq".to_string(),
            "redrive".into(),
            "-q".into(),
            format!("k{run_no}-dlq"),
            "--to".into(),
            format!("k{run_no}-src"),
            "--all".into(),
            "--no-move-task".into(),
            "--yes".into(),
            "--json".into(),
            "--visibility".into(),
            "2".into(),
            "--rate".into(),
            "30".into(),
        ];

        // A chain of one to three runs, each killed at a random point (a resume killed again
        // must not forget what the runs before it could not prevent).
        let kills = 1 + rng.below(3);
        for k in 0..kills {
            let kill_after = if k == 0 {
                kill_after
            } else {
                Duration::from_millis(rng.below(2500))
            };
            let mut cmd = flightdeck(cloud.endpoint(), state.path());
            cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::null());
            let finished = tokio::task::spawn_blocking(move || {
                let mut child = cmd.spawn().unwrap();
                std::thread::sleep(kill_after);
                let finished = child.try_wait().unwrap().is_some();
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                finished
            })
            .await
            .unwrap();
            if !finished {
                killed_mid_run += 1;
            }
        }

        // Run it again to the end.
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(&args);
        let out = run(cmd).await;
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(5)),
            "run {run_no}: exit {code:?}: {}",
            text(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // The whole chain's possible duplicates, not only this last run's.
        let dups = report["possible_duplicates_total"].as_u64().unwrap();
        assert_eq!(
            report["possible_duplicate_ids"].as_array().unwrap().len() as u64,
            dups,
            "{report}"
        );
        assert!(report["possible_duplicates"].as_u64().unwrap() <= dups);

        let in_src = drain(sqs, &src).await;
        assert_eq!(
            depth(sqs, &dlq).await,
            0,
            "run {run_no}: the DLQ should be empty: {report}"
        );
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for (body, attrs) in &in_src {
            *counts.entry(body.as_str()).or_default() += 1;
            assert!(attrs.contains_key("failure_reason"), "attributes kept");
        }
        for body in &injected {
            assert!(
                counts.contains_key(body.as_str()),
                "run {run_no} (seed {SEED:#x}, kill after {kill_after:?}): lost {body}"
            );
        }
        let extra = in_src.len() as u64 - n as u64;
        assert!(
            extra <= dups,
            "run {run_no}: {extra} duplicate(s) in the destination but only {dups} reported: {report}"
        );
        total_dups += dups;
        if dups > 0 {
            with_dups = Some((format!("k{run_no}-dlq"), dups));
        }
    }
    // The record outlives the run that finished the job, until the operator clears it.
    if let Some((dlq, dups)) = with_dups {
        let listed = |clear: bool| {
            let mut cmd = flightdeck(cloud.endpoint(), state.path());
            cmd.args(["dlq", "duplicates", "-q", &dlq, "--json"]);
            if clear {
                cmd.arg("--clear");
            }
            cmd
        };
        let out = run(listed(false)).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            record["possible_duplicate_ids"].as_array().unwrap().len() as u64,
            dups
        );
        assert!(run(listed(true)).await.status.success());
        let out = run(listed(false)).await;
        let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(record["possible_duplicate_ids"], serde_json::json!([]));
        let audit = audit_lines(state.path());
        assert!(
            audit.iter().any(|e| e["action"] == "dlq.duplicates.clear"),
            "{audit:?}"
        );
    }
    assert!(
        killed_mid_run >= RUNS / 2,
        "only {killed_mid_run} of {RUNS} kills landed before the end"
    );
    eprintln!(
        "{RUNS} runs, {killed_mid_run} killed mid-run, {total_dups} possible duplicates reported"
    );
}

#[tokio::test]
async fn purge_delete_and_bulk_redrive_need_the_typed_confirmation() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    inject(sqs, &dlq, "c", 9).await;

    // No terminal and no --yes: refused, nothing changes.
    for args in [
        &["dlq", "purge"][..],
        &["dlq", "delete", "--filter", "attr.failure_class=permanent"],
        &["dlq", "redrive", "--all"],
        &["dlq", "redrive", "--filter", "c-1"],
    ] {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(args);
        let out = run(cmd).await;
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("pass --yes"),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(depth(sqs, &dlq).await, 9, "{args:?} changed the queue");
    }
    let audit = audit_lines(state.path());
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|e| e["result"] == "refused"));

    // With --yes: delete by filter, then purge.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args([
        "dlq",
        "delete",
        "--filter",
        "attr.failure_class=permanent",
        "--yes",
        "--json",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deleted"], 3);
    assert_eq!(depth(sqs, &dlq).await, 6);

    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "purge", "--yes"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(depth(sqs, &dlq).await, 0);
    let audit = audit_lines(state.path());
    assert_eq!(audit.len(), 6);
    assert_eq!(audit[5]["action"], "dlq.purge");
    assert_eq!(audit[5]["result"], "ok");

    // Nothing left to match: exit 5.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "redrive", "--filter", "c-1", "--yes"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

#[tokio::test]
async fn bad_filters_and_missing_queues_are_one_clear_line() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "list", "--filter", "age>5x"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("filter `age>5x`: not a duration"),
        "{}",
        text(&out.stderr)
    );
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "list", "-q", "nope"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no queue named `nope`"),
        "{}",
        text(&out.stderr)
    );
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "redrive"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--id ID, --filter EXPR, or --all"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn read_only_clients_refuse_every_mutating_call_before_sending_it_and_still_read() {
    let cloud = TestCloud::provisioned().await;
    let ro = cloud.clients.clone().read_only();
    assert!(ro.is_read_only());
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    inject(sqs, &dlq, "ro", 3).await;
    fn refused_at(what: &str, e: impl std::error::Error + 'static) {
        let e = stack::errors::error_chain(&e);
        assert!(
            e.contains(stack::aws::READ_ONLY_REFUSAL),
            "{what} was not refused by the client: {e}"
        );
    }

    // Reads work.
    assert!(ro.sqs.list_queues().send().await.is_ok());
    assert!(ro
        .sqs
        .get_queue_url()
        .queue_name("video_dlq")
        .send()
        .await
        .is_ok());
    let got = ro
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(1)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let handle = got.messages()[0].receipt_handle().unwrap().to_string();
    assert!(ro
        .sqs
        .change_message_visibility()
        .queue_url(&dlq)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .is_ok());
    assert!(ro
        .sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .is_ok());
    assert!(ro
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .is_ok());
    assert!(ro.autoscaling.describe_policies().send().await.is_ok());
    assert!(ro.ec2.describe_instances().send().await.is_ok());
    assert!(ro
        .s3
        .head_bucket()
        .bucket(&cloud.stack.bucket.name)
        .send()
        .await
        .is_ok());

    // Every mutating call the console could make (and a few it never does) is refused.
    let e = ro
        .sqs
        .send_message()
        .queue_url(&dlq)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    refused_at("SendMessage", e);
    let entry = SendMessageBatchRequestEntry::builder()
        .id("0")
        .message_body("x")
        .build()
        .unwrap();
    let e = ro
        .sqs
        .send_message_batch()
        .queue_url(&dlq)
        .entries(entry)
        .send()
        .await
        .unwrap_err();
    refused_at("SendMessageBatch", e);
    let e = ro
        .sqs
        .delete_message()
        .queue_url(&dlq)
        .receipt_handle(&handle)
        .send()
        .await
        .unwrap_err();
    refused_at("DeleteMessage", e);
    let del = aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
        .id("0")
        .receipt_handle(&handle)
        .build()
        .unwrap();
    let e = ro
        .sqs
        .delete_message_batch()
        .queue_url(&dlq)
        .entries(del)
        .send()
        .await
        .unwrap_err();
    refused_at("DeleteMessageBatch", e);
    let e = ro
        .sqs
        .purge_queue()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap_err();
    refused_at("PurgeQueue", e);
    let e = ro
        .sqs
        .start_message_move_task()
        .source_arn("arn:aws:sqs:us-east-1:123456789012:video_dlq")
        .send()
        .await
        .unwrap_err();
    refused_at("StartMessageMoveTask", e);
    let e = ro
        .sqs
        .cancel_message_move_task()
        .task_handle("x")
        .send()
        .await
        .unwrap_err();
    refused_at("CancelMessageMoveTask", e);
    let e = ro
        .sqs
        .create_queue()
        .queue_name("ro-new")
        .send()
        .await
        .unwrap_err();
    refused_at("CreateQueue", e);
    let e = ro
        .sqs
        .delete_queue()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap_err();
    refused_at("DeleteQueue", e);
    let e = ro
        .autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name("flightdeck-worker")
        .desired_capacity(2)
        .send()
        .await
        .unwrap_err();
    refused_at("SetDesiredCapacity", e);
    let e = ro
        .s3
        .put_object()
        .bucket(&cloud.stack.bucket.name)
        .key("x")
        .send()
        .await
        .unwrap_err();
    refused_at("PutObject", e);
    let e = ro
        .ec2
        .terminate_instances()
        .instance_ids("i-0")
        .send()
        .await
        .unwrap_err();
    refused_at("TerminateInstances", e);

    // And nothing reached the target.
    assert_eq!(depth(sqs, &dlq).await, 3);
    assert!(sqs
        .get_queue_url()
        .queue_name("ro-new")
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn read_only_refuses_every_mutating_dlq_command() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    inject(sqs, &dlq, "ro", 4).await;
    for args in [
        &["dlq", "redrive", "--all", "--yes"][..],
        &["dlq", "redrive", "--filter", "ro-1", "--yes"],
        &["dlq", "delete", "--filter", "ro-1", "--yes"],
        &["dlq", "purge", "--yes"],
    ] {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.arg("--read-only").args(args);
        let out = run(cmd).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains("refused by --read-only"), "{args:?}: {err}");
        assert_eq!(depth(sqs, &dlq).await, 4, "{args:?} changed the DLQ");
    }
    assert_eq!(depth(sqs, &url(sqs, "video_tasks").await).await, 0);
    // Looking still works.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["--read-only", "dlq", "list", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let audit = audit_lines(state.path());
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|e| e["result"] == "refused"), "{audit:?}");
}

/// Edit before redrive, headless: `--body-file` replaces one message's body, checked before
/// anything moves (JSON; a v1 video task for the task queue), and the audit log records it.
#[tokio::test]
async fn redrive_with_an_edited_body_checks_it_first_and_sends_it() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    let tasks = url(sqs, "video_tasks").await;
    inject(sqs, &dlq, "e", 2).await;
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "list", "--json"]);
    let listing: serde_json::Value = serde_json::from_slice(&run(cmd).await.stdout).unwrap();
    let id = listing["messages"][0]["id"].as_str().unwrap().to_owned();

    let redrive = |body: &str| {
        let file = state.path().join("body.json");
        std::fs::write(&file, body).unwrap();
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(["dlq", "redrive", "--id", &id, "--body-file"])
            .arg(&file)
            .args(["--yes", "--json"]);
        cmd
    };
    // Not JSON: refused before the confirmation, exit 1, nothing moved.
    let out = run(redrive("{oops")).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not JSON"),
        "{}",
        text(&out.stderr)
    );
    // JSON but not a v1 video task, and the destination is the task queue.
    let out = run(redrive(r#"{"v":1,"video_id":"x"}"#)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not a v1 video task for video_tasks"),
        "{}",
        text(&out.stderr)
    );
    // --body-file with more than one --id is a usage error.
    let mut cmd = redrive("{}");
    cmd.args(["--id", "another"]);
    assert_eq!(run(cmd).await.status.code(), Some(2));
    assert_eq!(depth(sqs, &dlq).await, 2);
    assert_eq!(depth(sqs, &tasks).await, 0);

    let fixed = r#"{"v":1,"video_id":"3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f","source":"s3://b/uploads/x.mp4","correlation_id":"edited","submitted_at":"2026-11-22T13:00:00Z"}"#;
    let out = run(redrive(&format!("{fixed}\n"))).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let moved = drain(sqs, &tasks).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        moved[0].0, fixed,
        "the trailing newline an editor adds is dropped"
    );
    assert_eq!(
        moved[0].1["failure_class"],
        listing["messages"][0]["attributes"]["failure_class"]
            .as_str()
            .unwrap(),
        "the attributes travel unchanged"
    );
    assert_eq!(depth(sqs, &dlq).await, 1);
    let audit = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "dlq.redrive");
    assert_eq!(last["result"], "ok");
    assert_eq!(last["parameters"]["edited_bodies"][&id], fixed);
}

/// Looks by flightdeck, in separate processes, do not count as receives: after two listings
/// and a dry run, `receives>0` still selects nothing, in the dry run and in the real run.
#[tokio::test]
async fn flightdecks_own_looks_are_left_out_of_receive_counts_across_runs() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    inject(sqs, &dlq, "r", 5).await;
    for _ in 0..2 {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(["dlq", "list", "--json"]);
        let out = run(cmd).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for m in listing["messages"].as_array().unwrap() {
            assert_eq!(m["receive_count"], 0, "{m}");
        }
    }
    let redrive = |dry_run: bool| {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args([
            "dlq",
            "redrive",
            "--filter",
            "receives>0",
            "--yes",
            "--json",
        ]);
        if dry_run {
            cmd.arg("--dry-run");
        }
        cmd
    };
    let out = run(redrive(true)).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let out = run(redrive(false)).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(depth(sqs, &dlq).await, 5);
    // SQS's own count saw every look: two listings, a dry run, a run, and this one.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "list", "--json"]);
    let listing: serde_json::Value = serde_json::from_slice(&run(cmd).await.stdout).unwrap();
    for m in listing["messages"].as_array().unwrap() {
        assert_eq!(
            (&m["receive_count"], &m["approximate_receive_count"]),
            (&0.into(), &5.into()),
            "{m}"
        );
    }
}

/// `--tag-origin`: each message sent carries its DLQ id and the run's id; one that already has
/// nine attributes stays in the DLQ, named, and the run exits 6.
#[tokio::test]
async fn tag_origin_tags_what_it_sends_and_names_what_it_cannot_tag() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let sqs = &cloud.clients.sqs;
    let dlq = url(sqs, "video_dlq").await;
    let tasks = url(sqs, "video_tasks").await;
    inject(sqs, &dlq, "t", 3).await;
    let mut full = sqs
        .send_message()
        .queue_url(&dlq)
        .message_body(r#"{"v":1,"video_id":"full"}"#);
    for i in 0..9 {
        full = full.message_attributes(format!("a{i}"), attr("x"));
    }
    let full_id = full.send().await.unwrap().message_id().unwrap().to_owned();

    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["dlq", "redrive", "--all", "--tag-origin", "--yes", "--json"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("1 message(s) left in video_dlq: too many attributes to tag"),
        "{}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["moved"], &report["untaggable"]),
        (&3.into(), &1.into())
    );
    assert_eq!(report["untaggable_ids"], serde_json::json!([full_id]));
    let run_id = report["run_id"].as_str().unwrap();
    let moved = drain(sqs, &tasks).await;
    assert_eq!(moved.len(), 3);
    let mut origins: Vec<&str> = moved
        .iter()
        .map(|(_, a)| a["flightdeck.origin_message_id"].as_str())
        .collect();
    origins.sort_unstable();
    origins.dedup();
    assert_eq!(origins.len(), 3, "one DLQ id each: {moved:?}");
    assert!(!origins.contains(&full_id.as_str()));
    assert!(moved
        .iter()
        .all(|(_, a)| a["flightdeck.redrive_run"] == run_id));
    assert_eq!(depth(sqs, &dlq).await, 1);
    let audit = audit_lines(state.path());
    let last = audit.last().unwrap();
    assert_eq!(
        (&last["result"], &last["parameters"]["tag_origin"]),
        (&"partial".into(), &true.into())
    );

    let help = StdCommand::new(BIN)
        .args(["dlq", "redrive", "--help"])
        .output()
        .unwrap();
    let help = text(&help.stdout);
    assert!(
        help.contains("--tag-origin") && help.contains("flightdeck.origin_message_id"),
        "{help}"
    );
}
