//! The `flightdeck` binary as a user runs it: help, status against a real emulator, and one
//! clear line for each kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use local_cloud::emulator::free_port;
use local_cloud::testing::TestCloud;
use predicates::prelude::*;

fn flightdeck() -> Command {
    let mut cmd = Command::cargo_bin("flightdeck").unwrap();
    // Keep the developer's AWS settings out of the tests.
    for var in [
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "FLIGHTDECK_STACK",
        "FLIGHTDECK_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    // Nor a config file of theirs: tests that want one pass --config.
    cmd.env("XDG_CONFIG_HOME", "/nonexistent");
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    cmd
}

#[test]
fn every_command_has_help() {
    flightdeck().arg("--help").assert().success().stdout(
        predicate::str::contains("status")
            .and(predicate::str::contains("demo"))
            .and(predicate::str::contains("local")),
    );
    for args in [
        &["status", "--help"][..],
        &["demo", "--help"],
        &["local", "--help"],
        &["local", "up", "--help"],
        &["local", "down", "--help"],
        &["local", "install", "--help"],
        &["local", "provision", "--help"],
    ] {
        flightdeck()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: flightdeck"));
    }
}

#[tokio::test]
async fn status_shows_groups_queues_and_bucket() {
    let cloud = TestCloud::provisioned().await;
    let endpoint = cloud.endpoint().to_string();
    let out = tokio::task::spawn_blocking(move || {
        flightdeck()
            .args(["status", "--endpoint", &endpoint])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .to_string()
    };
    assert_eq!(
        line("flightdeck-api ")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["flightdeck-api", "2", "2", "4", "2", "0", "0"]
    );
    assert_eq!(
        line("flightdeck-worker")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["flightdeck-worker", "1", "1", "3", "1", "0", "0"]
    );
    assert!(
        line("video_tasks").ends_with("video_dlq (after 5 receives)"),
        "{text}"
    );
    assert!(line("video_dlq").contains(" 0 "), "{text}");
    assert_eq!(
        line("flightdeck-videos")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["flightdeck-videos", "yes", "Enabled"]
    );
}

#[tokio::test]
async fn status_json_is_machine_readable() {
    let cloud = TestCloud::provisioned().await;
    // A message in the queue shows up as visible.
    let url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name("video_tasks")
        .send()
        .await
        .unwrap();
    cloud
        .clients
        .sqs
        .send_message()
        .queue_url(url.queue_url().unwrap())
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let endpoint = cloud.endpoint().to_string();
    let out = tokio::task::spawn_blocking(move || {
        flightdeck()
            .args(["--endpoint", &endpoint, "status", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["groups"].as_array().unwrap().len(), 2);
    assert_eq!(v["queues"].as_array().unwrap().len(), 2);
    let tasks = v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "video_tasks")
        .unwrap();
    assert_eq!(tasks["visible"], 1);
    assert_eq!(tasks["dead_letter_queue"], "video_dlq");
    assert_eq!(v["bucket"]["exists"], true);
    assert_eq!(v["bucket"]["versioning"], "Enabled");
    assert_eq!(v["region"], "us-east-1");
}

#[test]
fn unreachable_endpoint_is_one_clear_line() {
    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let out = flightdeck()
        .args(["status", "--endpoint", &dead])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "flightdeck: cannot reach {dead} (connection refused)"
        )),
        "{err}"
    );
    assert!(err.contains("flightdeck local up"), "{err}");
}

#[test]
fn bad_stack_files_name_the_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let shipped: serde_json::Value =
        serde_json::from_str(stack::config::DEFAULT_STACK_JSON).unwrap();

    let mut wrong_type = shipped.clone();
    wrong_type["queues"]["tasks"]["max_receive_count"] = "five".into();
    let path = dir.path().join("wrong-type.json");
    std::fs::write(&path, wrong_type.to_string()).unwrap();
    let out = flightdeck()
        .args(["status", "--stack"])
        .arg(&path)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "flightdeck: {}: queues.tasks.max_receive_count: invalid type",
            path.display()
        )),
        "{err}"
    );

    let mut unknown = shipped;
    unknown["groups"]["worker"]["max_size"] = 3.into();
    let path = dir.path().join("unknown-key.json");
    std::fs::write(&path, unknown.to_string()).unwrap();
    let out = flightdeck()
        .args(["status", "--stack"])
        .arg(&path)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.starts_with(&format!(
            "flightdeck: {}: groups.worker.max_size: unknown field `max_size`",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn missing_python_says_how_to_install_it() {
    let cache = tempfile::tempdir().unwrap();
    let out = flightdeck()
        .args(["local", "install"])
        .env("FLIGHTDECK_CACHE_DIR", cache.path())
        .env("FLIGHTDECK_PYTHON", "/nonexistent/python3")
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    let last = err.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("flightdeck: /nonexistent/python3 was not found"),
        "{err}"
    );
    assert!(
        last.contains("sudo apt-get install -y python3 python3-venv"),
        "{err}"
    );
}

#[test]
fn broken_venv_module_says_how_to_fix_it() {
    // An interpreter whose `-m venv` fails the way Debian's python3 does without python3-venv.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("python3");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Python 3.11.2'; exit 0; fi\n\
         echo 'The virtual environment was not created successfully because ensurepip is not available.' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = flightdeck()
        .args(["local", "install"])
        .env("FLIGHTDECK_CACHE_DIR", dir.path().join("cache"))
        .env("FLIGHTDECK_PYTHON", &fake)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.contains("has no working venv module"), "{err}");
    assert!(last.contains("ensurepip is not available"), "{err}");
    assert!(
        last.ends_with("sudo apt-get install -y python3-venv"),
        "{err}"
    );
}

#[test]
fn a_bad_console_config_names_file_key_and_reason_before_the_terminal_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "theme = \"default\"\n[keys]\nquitt = \"q\"\n").unwrap();
    flightdeck()
        .args(["--config", file.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("config.toml:3: key `keys.quitt`: unknown field `quitt`")
                .and(predicate::str::contains("\x1b[?1049h").not()),
        );
    flightdeck()
        .args(["ui", "--theme", "nope"])
        .env("XDG_CONFIG_HOME", dir.path().join("empty"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("no theme named `nope`"));
}

#[test]
fn the_console_refuses_to_run_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    flightdeck()
        .args(["--endpoint", "http://127.0.0.1:9"])
        .env("XDG_CONFIG_HOME", dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("needs a terminal"));
}

#[tokio::test]
async fn status_watch_json_prints_a_line_per_interval_and_follows_changes() {
    use std::io::BufRead as _;
    let cloud = TestCloud::provisioned().await;
    let endpoint = cloud.endpoint().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args([
            "--endpoint",
            &endpoint,
            "status",
            "--json",
            "--watch",
            "--interval",
            "1",
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("FLIGHTDECK_STACK")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let visible = |line: &str| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "video_tasks")
            .unwrap()["visible"]
            .as_u64()
            .unwrap()
    };
    let wait = std::time::Duration::from_secs(30);
    let first = tokio::time::timeout(wait, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(visible(&first), 0);
    let url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name("video_tasks")
        .send()
        .await
        .unwrap();
    cloud
        .clients
        .sqs
        .send_message()
        .queue_url(url.queue_url().unwrap())
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let mut seen = 0;
    for _ in 0..10 {
        let line = tokio::time::timeout(wait, rx.recv())
            .await
            .unwrap()
            .unwrap();
        seen = visible(&line);
        if seen == 1 {
            break;
        }
    }
    assert_eq!(seen, 1, "a later line shows the new message");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM ends a watch cleanly: {status}");
}

#[tokio::test]
async fn status_follows_the_config_files_aws_endpoint_and_watch_selection() {
    let cloud = TestCloud::provisioned().await;
    cloud
        .clients
        .sqs
        .create_queue()
        .queue_name("jobs_a")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        format!(
            "[aws]\nendpoint = \"{}\"\n[watch]\ngroups = [\"flightdeck-api\"]\nqueue_prefixes = [\"jobs_\", \"video_t\"]\n",
            cloud.endpoint()
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        flightdeck()
            .args(["--config", file.to_str().unwrap(), "status", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let names = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(v["endpoint"], cloud.endpoint(), "[aws] endpoint used");
    assert_eq!(names("groups"), ["flightdeck-api"]);
    // video_dlq is not selected but is the DLQ of a selected queue.
    assert_eq!(names("queues"), ["jobs_a", "video_dlq", "video_tasks"]);
}

/// An AWS config directory with a `prod` profile (static keys) and an SSO profile nobody has
/// logged in to; HOME points at it so no real `~/.aws` is read.
fn aws_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile prod]\nregion = us-east-1\n\n[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Operator\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.example/start\nsso_region = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[prod]\naws_access_key_id = prodkey\naws_secret_access_key = prodsecret\n",
    )
    .unwrap();
    home
}

fn with_aws_home(home: &std::path::Path) -> Command {
    let mut cmd = flightdeck();
    cmd.env("HOME", home)
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE");
    cmd
}

/// A listener that counts the connections made to it: proof that no call was sent.
fn counting_listener() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    (listener, endpoint)
}

fn no_connection(listener: &std::net::TcpListener) -> bool {
    matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn an_unknown_profile_is_named_with_its_files_and_the_fix_before_any_call() {
    let home = aws_home();
    let (listener, endpoint) = counting_listener();
    // From AWS_PROFILE, without keys in the environment.
    let out = with_aws_home(home.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "nosuch")
        .args(["status", "--endpoint", &endpoint])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "AWS_PROFILE=nosuch",
        "no profile `nosuch`",
        "~/.aws/config",
        "aws configure --profile nosuch",
        "corp, prod",
    ] {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }
    assert!(
        !err.contains("refused"),
        "no service refused anything: {err}"
    );
    // From --profile, even with keys in the environment.
    let out = with_aws_home(home.path())
        .args(["--profile", "nosuch", "status", "--endpoint", &endpoint])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--profile nosuch: no profile `nosuch`"),
        "{err}"
    );
    assert!(
        no_connection(&listener),
        "a call was sent for a missing profile"
    );
}

#[test]
fn an_sso_profile_without_a_login_says_to_log_in_before_any_call() {
    let home = aws_home();
    let (listener, endpoint) = counting_listener();
    let out = with_aws_home(home.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["--profile", "corp", "status", "--endpoint", &endpoint])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("profile `corp`"), "{err}");
    assert!(err.contains("aws sso login --profile corp"), "{err}");
    assert!(err.contains("no AWS call was made"), "{err}");
    assert!(
        no_connection(&listener),
        "a call was sent without credentials"
    );
}

#[tokio::test]
async fn environment_keys_and_a_named_profile_say_which_wins() {
    let cloud = TestCloud::provisioned().await;
    let home = aws_home();
    let endpoint = cloud.endpoint().to_string();
    let path = home.path().to_path_buf();
    let (flag, env) = tokio::task::spawn_blocking(move || {
        let flag = with_aws_home(&path)
            .args(["--profile", "prod", "status", "--endpoint", &endpoint])
            .output()
            .unwrap();
        let env = with_aws_home(&path)
            .env("AWS_PROFILE", "prod")
            .args(["status", "--endpoint", &endpoint])
            .output()
            .unwrap();
        (flag, env)
    })
    .await
    .unwrap();
    assert!(
        flag.status.success(),
        "{}",
        String::from_utf8_lossy(&flag.stderr)
    );
    let err = String::from_utf8_lossy(&flag.stderr);
    assert!(
        err.contains("AWS_ACCESS_KEY_ID is set, but --profile prod wins"),
        "{err}"
    );
    assert_eq!(
        err.matches("AWS_ACCESS_KEY_ID is set").count(),
        1,
        "said once: {err}"
    );
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stderr)
    );
    let err = String::from_utf8_lossy(&env.stderr);
    assert!(
        err.contains("AWS_ACCESS_KEY_ID is set and overrides AWS_PROFILE=prod"),
        "{err}"
    );
}

#[test]
fn a_redrive_rate_must_be_a_finite_number_above_zero() {
    for bad in ["0", "-1", "NaN", "inf", "fast"] {
        let out = flightdeck()
            .args(["dlq", "redrive", "--all", "--dry-run", "--rate", bad])
            .args(["--endpoint", "http://127.0.0.1:9"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--rate {bad} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("`{bad}` is not a rate")) && err.contains("above 0"),
            "{err}"
        );
    }
}
