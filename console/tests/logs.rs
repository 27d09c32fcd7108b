//! Log lines end to end against a real emulator: a real `flightdeck-worker` process of the
//! local fleet (built by `cargo test --workspace`, or `cargo build -p worker`, before this runs)
//! fails on a poison video and dead-letters it; the fleet's shipper sends its log file to
//! CloudWatch Logs; `flightdeck logs --dlq-message ID` finds the worker's line from the dead
//! letter alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use local_cloud::fleet::{self, FleetConfig};
use local_cloud::testing::TestCloud;
use local_cloud::{Fleet, LogShipper, ShipConfig};
use stack::config::Role;
use store::{NewUser, NewVideo, Store};

mod common;
use common::{flightdeck, run, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_line_about_a_poison_video_is_found_from_its_dead_letter() {
    let cloud = TestCloud::provisioned().await;
    let runtime = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut config = FleetConfig::new(cloud.endpoint(), &cloud.stack.region, &cloud.stack);
    config.runtime_dir = runtime.path().to_path_buf();
    config.logs_dir = logs.path().to_path_buf();
    config.roles = vec![Role::Worker];
    config.poll = Duration::from_millis(500);
    config.warmup = Some(Duration::from_secs(2));
    config.stop_grace = Duration::from_secs(20);
    config.shutdown_grace = Duration::from_secs(8);

    // The poison video: a row in the fleet's database and an upload that is not a video.
    let home = fleet::home_dir(runtime.path());
    std::fs::create_dir_all(&home).unwrap();
    let store = Store::connect(&fleet::database_url(&home)).await.unwrap();
    let owner = store
        .create_user(NewUser {
            email: "pilot@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Pilot".into(),
            password_hash: "x".into(),
            city: None,
            country: None,
        })
        .await
        .unwrap()
        .id;
    let video_id = uuid::Uuid::new_v4();
    let correlation_id = format!("logs-test-{}", &video_id.simple().to_string()[..8]);
    let key = format!("uploads/2026/12/03/{video_id}.mp4");
    let bytes = b"this is a text file, not a video\n".repeat(100);
    cloud
        .clients
        .s3
        .put_object()
        .bucket(&cloud.stack.bucket.name)
        .key(&key)
        .body(ByteStream::from(bytes.clone()))
        .send()
        .await
        .unwrap();
    store
        .create_video(NewVideo {
            id: video_id,
            owner_id: owner,
            title: "poison".into(),
            source_key: key.clone(),
            original_filename: "poison.mp4".into(),
            size_bytes: bytes.len() as u64,
            content_type: "video/mp4".into(),
            correlation_id: correlation_id.clone(),
        })
        .await
        .unwrap();

    let fleet = Fleet::start(&cloud.clients, &cloud.stack, config).unwrap();
    let shipper = LogShipper::start(
        &cloud.clients,
        &cloud.stack,
        fleet.subscribe(),
        ShipConfig {
            poll: Duration::from_millis(300),
            ..ShipConfig::default()
        },
    );
    let task = stack::VideoTask::new(
        video_id,
        stack::message::S3Uri::new(&cloud.stack.bucket.name, key),
        correlation_id.clone(),
    );
    let queue_url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name(&cloud.stack.queues.tasks.name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    cloud
        .clients
        .sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body(task.to_json())
        .send()
        .await
        .unwrap();

    // The dead letter, as an operator finds it.
    let deadline = Instant::now() + Duration::from_secs(150);
    let dead_id = loop {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args(["dlq", "list", "--json"]);
        let out = run(cmd).await;
        if out.status.success() {
            let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let found = list["messages"].as_array().into_iter().flatten().find(|m| {
                m["body"]
                    .as_str()
                    .is_some_and(|b| b.contains(&video_id.to_string()))
            });
            if let Some(m) = found {
                break m["id"].as_str().unwrap().to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the poison video never reached the DLQ; worker log:\n{}",
            worker_log(logs.path())
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let instance = fleet
        .state()
        .instances
        .iter()
        .find(|i| i.role == Role::Worker)
        .map(|i| i.instance_id.clone())
        .expect("a worker instance");

    // Its lines, from the dead letter's id alone.
    let deadline = Instant::now() + Duration::from_secs(60);
    let line = loop {
        let mut cmd = flightdeck(cloud.endpoint(), state.path());
        cmd.args([
            "logs",
            "--dlq-message",
            &dead_id,
            "--json",
            "--since",
            "10m",
        ]);
        let out = run(cmd).await;
        assert!(
            out.status.success(),
            "flightdeck logs failed: {}",
            text(&out.stderr)
        );
        let found = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| {
                l["stream"] == instance.as_str()
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("dead-lettering"))
            });
        if let Some(l) = found {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "no dead-lettering line of {instance} found; shipper {:?}; output:\n{}\n{}\nworker log:\n{}",
            shipper.stats(),
            text(&out.stdout),
            text(&out.stderr),
            worker_log(logs.path())
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(line["group"], "/flightdeck/worker");
    let message: serde_json::Value =
        serde_json::from_str(line["message"].as_str().unwrap()).unwrap();
    assert_eq!(message["video_id"], video_id.to_string());
    assert_eq!(message["correlation_id"], correlation_id.as_str());
    assert_eq!(message["level"], "WARN");

    // The human form of the same search names the instance and the ids.
    let mut cmd = flightdeck(cloud.endpoint(), state.path());
    cmd.args([
        "logs",
        "worker",
        "--video-id",
        &video_id.to_string(),
        "--since",
        "10m",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let human = text(&out.stdout);
    assert!(
        human.lines().any(|l| l.contains(&instance)
            && l.contains("dead-lettering")
            && l.contains(&correlation_id)),
        "{human}"
    );

    let pids: Vec<u32> = fleet
        .state()
        .instances
        .iter()
        .filter_map(|i| i.pid)
        .collect();
    fleet.stop().await;
    shipper.stop().await;
    for pid in pids {
        assert!(
            !local_cloud::registry::alive(pid),
            "worker {pid} outlived the fleet"
        );
    }
}

fn worker_log(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    out
}
