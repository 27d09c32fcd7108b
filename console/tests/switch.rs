//! Switching region and profile inside the running console (tmux, real binary, local emulator):
//! the endpoint comes from the config file's `[aws]`, `:region` shows an empty region with no
//! old data, `:profile` completes from the AWS config file, and switching back shows the stack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use local_cloud::testing::TestCloud;

mod common;
use common::{tmux, Session};

impl Session {
    fn wait(&self, what: &str, done: impl Fn(&str, &str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let pane = tmux(&["capture-pane", "-p", "-t", &self.0]);
            let header = pane.lines().next().unwrap_or_default().to_owned();
            if done(&header, &pane) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not appear within 40 s; the pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn command(&self, line: &str) {
        tmux(&["send-keys", "-t", &self.0, ":"]);
        tmux(&["send-keys", "-t", &self.0, "-l", line]);
        tmux(&["send-keys", "-t", &self.0, "Enter"]);
    }
}

#[test]
fn region_and_profile_switch_in_the_running_console() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cloud = runtime.block_on(TestCloud::provisioned());
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    std::fs::create_dir_all(dir.join("flightdeck")).unwrap();
    std::fs::write(
        dir.join("flightdeck/config.toml"),
        format!(
            "[aws]\nendpoint = \"{}\"\nregion = \"{}\"\n[refresh]\ngroups_s = 1\nqueues_s = 1\n",
            cloud.endpoint(),
            cloud.clients.region()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("aws-config"), "[default]\n[profile prod]\n").unwrap();
    // A profile named with :profile wins over the environment's keys (as the AWS CLI's
    // --profile does), so prod has keys of its own; the emulator accepts any.
    std::fs::write(
        dir.join("aws-credentials"),
        "[prod]\naws_access_key_id = prodkey\naws_secret_access_key = prodsecret\n",
    )
    .unwrap();
    let name = format!("flightdeck-switch-test-{}", std::process::id());
    let script = format!(
        "env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u AWS_REGION -u AWS_DEFAULT_REGION -u NO_COLOR \
         -u FLIGHTDECK_CONFIG XDG_CONFIG_HOME={d} AWS_CONFIG_FILE={d}/aws-config \
         AWS_SHARED_CREDENTIALS_FILE={d}/aws-credentials AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
         {bin} --read-only; echo \"exited=$?\"; sleep 60",
        d = dir.display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
    );
    let session = Session::start(&name, 100, 30, &script);
    let region = cloud.clients.region().to_owned();

    session.wait("the stack in the home region", |h, p| {
        h.contains(&region) && p.contains("flightdeck-worker") && p.contains("video_tasks")
    });

    session.command("region eu-west-3");
    let pane = session.wait("the empty eu-west-3", |h, p| {
        h.contains("eu-west-3")
            && !h.contains('→')
            && p.contains("Groups (0)")
            && !p.contains("waiting for the first groups report")
    });
    assert!(
        !pane.contains("flightdeck-worker"),
        "old data shown:\n{pane}"
    );
    assert!(!pane.contains("video_tasks"), "old data shown:\n{pane}");

    // Tab completes the profile from AWS_CONFIG_FILE.
    tmux(&["send-keys", "-t", &session.0, ":"]);
    tmux(&["send-keys", "-t", &session.0, "-l", "profile pr"]);
    tmux(&["send-keys", "-t", &session.0, "Tab"]);
    tmux(&["send-keys", "-t", &session.0, "Enter"]);
    session.wait("profile prod in eu-west-3", |h, p| {
        h.contains("prod · eu-west-3") && !p.contains("waiting for the first groups report")
    });

    session.command(&format!("region {region}"));
    session.wait("the stack again, as prod", |h, p| {
        h.contains(&format!("prod · {region}")) && p.contains("flightdeck-worker")
    });

    tmux(&["send-keys", "-t", &session.0, "q"]);
    let pane = session.wait("the exit", |_, p| p.contains("exited="));
    assert!(pane.contains("exited=0"), "{pane}");
}
