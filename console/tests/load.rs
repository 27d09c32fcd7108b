//! `flightdeck load ...` as a user runs it: the real binary against an axum test server;
//! the exit code follows the thresholds, and the safety rules refuse what they should.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use predicates::str::contains;

/// A server on a free port, in its own thread: `/fast` answers at once, `/slow` after 50 ms,
/// `/broken` with 500.
fn server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new()
                .route("/fast", get(|| async { "ok" }))
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        "ok"
                    }),
                )
                .route(
                    "/broken",
                    get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
                );
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn scenario(dir: &Path, name: &str, path: &str, thresholds: &str) -> String {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "thresholds = {thresholds}\n[closed]\nvus = 2\nduration = \"20s\"\niterations = 20\n[[steps]]\nget = \"{path}\"\n"
        ),
    )
    .unwrap();
    file.display().to_string()
}

fn flightdeck(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("flightdeck").unwrap();
    cmd.env("FLIGHTDECK_CACHE_DIR", dir)
        .env("FLIGHTDECK_RUNTIME_DIR", dir)
        .env("FLIGHTDECK_STATE_DIR", dir.join("state"))
        .env_remove("FLIGHTDECK_API_URL")
        .timeout(Duration::from_secs(60));
    cmd
}

#[test]
fn passing_thresholds_exit_0_with_a_report() {
    let addr = server();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "fast",
        "/fast",
        r#"["p95 < 1s", "errors < 1%"]"#,
    );
    let out = dir.path().join("reports");
    let assert = flightdeck(dir.path())
        .args(["load", "run", &file, "--json", "--target"])
        .arg(format!("http://{addr}"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report["requests"]["ok"], 20);
    assert_eq!(report["passed"], true);
    assert_eq!(report["thresholds"][0]["passed"], true);
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        written
            .iter()
            .any(|f| f.starts_with("fast-") && f.ends_with(".json")),
        "{written:?}"
    );
    assert!(written.iter().any(|f| f.ends_with(".md")), "{written:?}");

    // Audited as the console's runs are (the job runner's one shape), naming the API's address.
    let audit = std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(entry["action"], "load.run");
    assert_eq!(entry["target"], "fast");
    assert_eq!(entry["result"], "ok");
    assert_eq!(entry["parameters"]["by"], "command");
    assert_eq!(entry["endpoint"], format!("http://{addr}"));
    let detail = entry["detail"].as_str().unwrap();
    assert!(detail.starts_with("20 sent = 20 ok"), "{detail}");
}

#[test]
fn a_failed_latency_threshold_exits_99() {
    let addr = server();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "slow", "/slow", r#"["p95 < 10ms"]"#);
    flightdeck(dir.path())
        .args(["load", "run", &file, "--target"])
        .arg(format!("http://{addr}"))
        .assert()
        .code(99)
        .stdout(contains("| `p95 < 10ms` |"))
        .stdout(contains("FAIL"))
        .stderr(contains("threshold failed: `p95 < 10ms`"));
}

#[test]
fn a_failed_error_threshold_exits_99_and_counts_by_status() {
    let addr = server();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "broken", "/broken", r#"["errors < 1%"]"#);
    flightdeck(dir.path())
        .args(["load", "run", &file, "--target"])
        .arg(format!("http://{addr}"))
        .assert()
        .code(99)
        .stdout(contains("| http_500 | 20 |"));
}

#[test]
fn targets_come_from_the_environment_and_spread_round_robin() {
    let (a, b) = (server(), server());
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "fast", "/fast", "[]");
    let assert = flightdeck(dir.path())
        .env("FLIGHTDECK_API_URL", format!("http://{a},http://{b}"))
        .args(["load", "run", &file, "--json"])
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report["targets"].as_array().unwrap().len(), 2);
}

#[test]
fn read_only_refuses_a_load_run() {
    let dir = tempfile::tempdir().unwrap();
    flightdeck(dir.path())
        .args(["--read-only", "load", "run", "smoke"])
        .assert()
        .code(3)
        .stderr(contains("--read-only refuses load runs"));
}

#[test]
fn a_remote_target_needs_a_typed_confirm() {
    let dir = tempfile::tempdir().unwrap();
    // No terminal to type on and no --yes: refused before anything is sent.
    flightdeck(dir.path())
        .args(["load", "run", "smoke", "--target", "http://api.example.com"])
        .write_stdin("")
        .assert()
        .code(3)
        .stderr(contains("api.example.com"))
        .stderr(contains("--yes"));
}

#[test]
fn bad_scenarios_and_targets_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[closed]\nvus = 1\nduration = \"1s\"\n[[steps]]\nget = \"/x\"\nthink = \"1s\"\n",
    )
    .unwrap();
    flightdeck(dir.path())
        .args(["load", "run"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(contains("bad.toml: steps[0]"));
    flightdeck(dir.path())
        .args(["load", "run", "no-such-scenario"])
        .assert()
        .code(1)
        .stderr(contains("flightdeck load list"));
    flightdeck(dir.path())
        .args(["load", "run", "smoke", "--target", "https://127.0.0.1:1"])
        .assert()
        .code(1)
        .stderr(contains("https targets are not supported"));
    flightdeck(dir.path())
        .args(["load", "run", "smoke", "--video-size", "3mb"])
        .assert()
        .code(2)
        .stderr(contains("tiny, 4mb, 50mb, 100mb"));
}

#[test]
fn list_shows_the_workload_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let assert = flightdeck(dir.path())
        .args(["load", "list"])
        .assert()
        .success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for name in [
        "smoke",
        "ramp",
        "sustained",
        "low",
        "medium",
        "high",
        "stress",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{out}"
        );
    }
    // How much each sends, for the whole run.
    let stress = out.lines().find(|l| l.starts_with("stress")).unwrap();
    assert!(stress.contains("9000 arrivals over 4m"), "{stress}");
}
