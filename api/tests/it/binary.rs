//! The `flightdeck-api` binary itself, against a private emulator: it starts itself again with
//! two malloc arenas (same PID) and serves.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use local_cloud::testing::TestCloud;

/// The status line of `GET /api/health`, or `None` while nothing answers.
fn health(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /api/health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn the_binary_restarts_itself_with_two_malloc_arenas_and_serves() {
    let cloud = TestCloud::provisioned().await;
    let dir = tempfile::tempdir().unwrap();
    let port = local_cloud::emulator::free_port().unwrap();
    let (key, secret) = local_cloud::LOCAL_CREDENTIALS;
    let mut child = Command::new(env!("CARGO_BIN_EXE_flightdeck-api"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .env("AWS_ENDPOINT_URL", cloud.endpoint())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", &cloud.stack.region)
        .env(
            "FLIGHTDECK_JWT_SECRET",
            "binary-test-secret-binary-test-secret-0123",
        )
        .env("RUST_LOG", "warn")
        // Set by the API itself when unset (checked below).
        .env_remove("MALLOC_ARENA_MAX")
        .env_remove("MALLOC_MMAP_THRESHOLD_")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = health(port) {
            break status;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the API exited during start-up"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no answer in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains(" 200 "), "{status}");
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
    assert!(
        vars.contains(&&b"MALLOC_ARENA_MAX=2"[..]),
        "MALLOC_ARENA_MAX=2 not in the API's environment"
    );
    // glibc's own sliding mmap threshold: a fixed one costs the API CPU (main.rs).
    assert!(
        !vars
            .iter()
            .any(|v| v.starts_with(b"MALLOC_MMAP_THRESHOLD_")),
        "the API fixed its mmap threshold"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
