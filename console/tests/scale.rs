//! `flightdeck scale GROUP N` against a real emulator: values outside min..max are refused
//! by flightdeck (the emulator would accept them), scale to zero needs the typed
//! confirmation, `--read-only` refuses, and every attempt is audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command as StdCommand, Output, Stdio};

use local_cloud::testing::TestCloud;

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn flightdeck(endpoint: &str, state: &Path) -> StdCommand {
    let mut cmd = StdCommand::new(BIN);
    for var in [
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "FLIGHTDECK_STACK",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("FLIGHTDECK_STATE_DIR", state)
        .args(["--endpoint", endpoint])
        .stdin(Stdio::null());
    cmd
}

async fn run(mut cmd: StdCommand) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
