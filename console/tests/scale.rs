//! `flightdeck scale GROUP N` against a real emulator: values outside min..max are refused
//! by flightdeck (the emulator would accept them), scale to zero needs the typed
//! confirmation, `--read-only` refuses, and every attempt is audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use local_cloud::testing::TestCloud;

mod common;
use common::{flightdeck, run, text};

async fn desired(cloud: &TestCloud, group: &str) -> i32 {
    let out = cloud
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()[0].desired_capacity().unwrap()
}

#[tokio::test]
async fn scale_validates_against_min_max_confirms_and_audits() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let group = "flightdeck-worker"; // min 1, max 3
    assert_eq!(desired(&cloud, group).await, 1);

    // Above max and below min: refused by flightdeck, named min/max, nothing sent.
    for n in ["4", "0"] {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(["scale", group, n, "--yes"]);
        let out = run(cmd).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains(&format!("desired {n} is outside min..=max (1..=3)")),
            "{err}"
        );
        assert_eq!(desired(&cloud, group).await, 1);
    }

    // No terminal, no --yes: refused.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["scale", group, "2"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("pass --yes"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(desired(&cloud, group).await, 1);

    // Dry run: validated, unchanged.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["scale", group, "3", "--dry-run", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(desired(&cloud, group).await, 1);

    // In range with --yes: done, with the policies that may override it.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["scale", group, "3", "--yes", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["from"], 1);
    assert_eq!(report["to"], 3);
    assert!(
        !report["policies"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(desired(&cloud, group).await, 3);

    let audit: Vec<serde_json::Value> = std::fs::read_to_string(state.path().join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results: Vec<&str> = audit
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["refused", "refused", "refused", "ok"]);
    assert!(audit
        .iter()
        .all(|e| e["action"] == "scale" && e["target"] == group));
    assert_eq!(audit[3]["parameters"]["to"], 3);
    // Every entry names the AWS principal that acted, as the endpoint's STS tells it.
    for e in &audit {
        let arn = e["principal"].as_str().unwrap_or_default();
        assert!(arn.starts_with("arn:aws:"), "{e}");
        assert_eq!(e["account"], "123456789012", "{e}");
    }
}

/// Without USER and LOGNAME (containers, CI, sudo) the local user still has a name: the
/// passwd entry of the process's uid.
#[tokio::test]
async fn the_audit_names_the_local_user_without_user_or_logname() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.env_remove("USER")
        .env_remove("LOGNAME")
        .args(["scale", "flightdeck-worker", "9", "--yes"]);
    let out = run(cmd).await;
    assert!(!out.status.success());
    let audit = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(entry["result"], "refused", "{entry}");
    let who = entry["who"].as_str().unwrap();
    assert!(!who.is_empty() && who != "unknown", "{entry}");
    let uid = nix::unistd::getuid();
    let expected = nix::unistd::User::from_uid(uid)
        .unwrap()
        .map_or_else(|| format!("uid {uid}"), |u| u.name);
    assert_eq!(who, expected);
}

#[tokio::test]
async fn read_only_refuses_scale_at_the_client() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args(["--read-only", "scale", "flightdeck-api", "3", "--yes"]);
    let out = run(cmd).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("refused by --read-only") && err.contains("autoscaling:SetDesiredCapacity"),
        "{err}"
    );
    assert_eq!(desired(&cloud, "flightdeck-api").await, 2);
}

async fn suspended(cloud: &TestCloud, group: &str) -> Vec<String> {
    let out = cloud
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out.auto_scaling_groups()[0]
        .suspended_processes()
        .iter()
        .filter_map(|p| p.process_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// `flightdeck suspend|resume GROUP [PROCESS...]`: AlarmNotification by default, names checked
/// before anything is sent, a typed confirm (here `--yes`) for a suspend, audited, and
/// `--read-only` refuses.
#[tokio::test]
async fn suspend_and_resume_processes_are_checked_confirmed_and_audited() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let group = "flightdeck-worker";
    let go = |args: &[&str]| {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(args);
        run(cmd)
    };

    let out = go(&["suspend", group, "alarms", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no scaling process named `alarms`"));

    // No terminal and no --yes: refused, nothing suspended.
    let out = go(&["suspend", group]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(suspended(&cloud, group).await.is_empty());

    let out = go(&["suspend", group, "--yes"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(suspended(&cloud, group).await, ["AlarmNotification"]);
    assert!(text(&out.stdout).contains("suspended AlarmNotification on flightdeck-worker"));

    let out = go(&["suspend", group, "launch", "Terminate", "--yes", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["suspended"],
        serde_json::json!(["AlarmNotification", "Launch", "Terminate"])
    );

    let out = go(&["--read-only", "resume", group, "all", "--yes"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("refused by --read-only"));
    assert_eq!(suspended(&cloud, group).await.len(), 3);

    // A resume needs only a yes; with no names it resumes AlarmNotification.
    let out = go(&["resume", group, "--yes"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(suspended(&cloud, group).await, ["Launch", "Terminate"]);
    let out = go(&["resume", group, "all", "--yes"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(suspended(&cloud, group).await.is_empty());
    assert!(text(&out.stdout).contains("nothing is suspended now"));

    let audit = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("scale.suspend", "refused"),
        ("scale.suspend", "ok"),
        ("scale.suspend", "ok"),
        ("scale.resume", "refused"),
        ("scale.resume", "ok"),
        ("scale.resume", "ok"),
    ]
    .map(|(a, r)| (a.to_owned(), r.to_owned()));
    assert_eq!(seen, want);
}

/// `flightdeck instance-refresh`: the emulator lacks the calls, so each says so in one line,
/// changes nothing and exits as a refusal; a start still needs its typed confirm first, and
/// `--read-only` allows reading but refuses a start before anything is sent.
#[tokio::test]
async fn instance_refresh_says_clearly_when_the_endpoint_lacks_it() {
    let cloud = TestCloud::provisioned().await;
    let state = tempfile::tempdir().unwrap();
    let group = "flightdeck-worker";
    let go = |args: &[&str]| {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(args);
        run(cmd)
    };

    let out = go(&["instance-refresh", "status", "nope"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no Auto Scaling group named `nope`"));

    for args in [
        &["instance-refresh", "status", group][..],
        &["instance-refresh", "start", group, "--yes"],
        &["instance-refresh", "cancel", group, "--yes"],
    ] {
        let out = go(args).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("this endpoint does not implement instance refresh")
                && err.contains("nothing was changed"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }

    // No terminal and no --yes: the start is refused before any call.
    let out = go(&["instance-refresh", "start", group]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pass --yes"));

    let out = go(&["--read-only", "instance-refresh", "start", group, "--yes"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("refused by --read-only"));

    let audit = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap();
    let results: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            "scale.instance_refresh refused",
            "scale.instance_refresh_cancel refused",
            "scale.instance_refresh refused",
            "scale.instance_refresh refused",
        ]
    );
}
