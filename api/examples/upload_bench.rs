//! Upload throughput, latency and memory of `flightdeck-api`, for `bench/api.sh`. Starts a
//! private local cloud (moto) and the given API binary against it, signs up one user, then
//! runs each phase in three modes: through the API (`POST /api/videos/upload`, multipart, one
//! connection per request), and straight to the emulator's S3 PutObject with the same file
//! and concurrency, once with the SDK's defaults and once with the payload unsigned as the
//! API sends it. The modes take turns (`--rounds`, 3 by default, each turn a share of the
//! requests and at least the concurrency), their order turning round by round, so the mode run first after a reset (the
//! emulator's memory and the page cache just freed) is not always the same; each mode's
//! figures pool its turns. Before them, `--warm-up` rounds (1 by default) run every mode once
//! without counting it: the first turn after the API's start and the idle wait costs the
//! emulator a third more CPU (its memory and page cache coming back), and without the warm-up
//! that turn always fell to the same mode. Each process's CPU time per request is read from /proc. Each
//! phase gets a freshly started API (so memory one phase leaves in the allocator does not
//! count against the next): one warm-up upload, then its idle RSS; during every turn the
//! API's and the emulator's RSS are sampled from /proc every 10 ms. Prints one JSON object per phase and mode on
//! stdout.
//!
//!   upload_bench --api-bin target/release/flightdeck-api \
//!     --phase in4.mp4:1:30 --phase in4.mp4:5:60 --phase in100.mp4:10:10 [--rounds 3]
//!
//! A phase is FILE:CONCURRENCY:REQUESTS. Objects and messages are removed after every turn,
//! so the emulator stays small and fast.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use local_cloud::testing::TestCloud;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Phase {
    file: PathBuf,
    concurrency: usize,
    requests: usize,
}

struct Args {
    bin: PathBuf,
    phases: Vec<Phase>,
    rounds: usize,
    warm_up: usize,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let mut bin = None;
    let mut rounds = 3;
    let mut warm_up = 1;
    let mut phases = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        match argv[i].as_str() {
            "--api-bin" => bin = argv.get(i + 1).map(PathBuf::from),
            "--phase" => {
                let spec = argv.get(i + 1).expect("--phase FILE:CONCURRENCY:REQUESTS");
                let mut parts = spec.rsplitn(3, ':');
                let requests = parts.next().unwrap().parse().expect("REQUESTS");
                let concurrency = parts.next().unwrap().parse().expect("CONCURRENCY");
                let file = PathBuf::from(parts.next().expect("FILE"));
                phases.push(Phase {
                    file,
                    concurrency,
                    requests,
                });
            }
            "--rounds" => {
                rounds = argv
                    .get(i + 1)
                    .and_then(|r| r.parse().ok())
                    .expect("--rounds N");
            }
            "--warm-up" => {
                warm_up = argv
                    .get(i + 1)
                    .and_then(|r| r.parse().ok())
                    .expect("--warm-up N");
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    assert!(rounds > 0, "--rounds must be at least 1");
    Args {
        bin: bin.expect("--api-bin PATH"),
        phases,
        rounds,
        warm_up,
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`); returns the status and
/// the body. The body is written from its parts without copying them together.
async fn request(addr: SocketAddr, head: &str, body: &[&[u8]]) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    conn.write_all(head.as_bytes()).await?;
    for part in body {
        // The server may answer early (413) and close; its answer is still readable.
        if conn.write_all(part).await.is_err() {
            break;
        }
    }
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (top, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = top
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, rest.to_string()))
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) `pid` has used so far, in seconds; `None` reads this process.
fn cpu_s(pid: Option<u32>) -> f64 {
    let path = pid.map_or("/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    // /proc counts in USER_HZ, which Linux fixes at 100 on every architecture it reports.
    ticks as f64 / 100.0
}

/// Samples the RSS of `pid` every 10 ms while `on` is set; the peak is in `peak`.
fn sample_rss(pid: u32, on: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while on.load(Ordering::Relaxed) {
            peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Api {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_api(bin: &PathBuf, cloud: &TestCloud, dir: &std::path::Path) -> Api {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (key, secret) = local_cloud::LOCAL_CREDENTIALS;
    let aws_config = dir.join("aws-config");
    std::fs::write(&aws_config, "").unwrap();
    let log = std::fs::File::create(dir.join("api.log")).unwrap();
    let child = Command::new(bin)
        .env("FLIGHTDECK_API_LISTEN", addr.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("api.db").display()),
        )
        .env(
            "FLIGHTDECK_JWT_SECRET",
            "bench-secret-bench-secret-bench-secret-0123",
        )
        .env("AWS_ENDPOINT_URL", cloud.endpoint())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", &cloud.stack.region)
        .env("AWS_CONFIG_FILE", &aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &aws_config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let api = Api { child, addr };
    let start = Instant::now();
    loop {
        let ok = request(
            addr,
            "GET /api/health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n",
            &[],
        )
        .await
        .is_ok_and(|(s, _)| s == 200);
        if ok {
            return api;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the API did not become healthy; see {}",
            dir.join("api.log").display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn login(addr: SocketAddr) -> String {
    let signup = r#"{"first_name":"Bench","last_name":"Runner","email":"bench@example.com","password1":"bench-password","password2":"bench-password"}"#;
    let (s, b) = request(
        addr,
        &format!(
            "POST /auth/signup HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            signup.len()
        ),
        &[signup.as_bytes()],
    )
    .await
    .unwrap();
    // The user survives an API restart (same database).
    assert!(s == 201 || b.contains("email_taken"), "signup: {s} {b}");
    let form = "username=bench%40example.com&password=bench-password";
    let (s, b) = request(
        addr,
        &format!(
            "POST /auth/login HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            form.len()
        ),
        &[form.as_bytes()],
    )
    .await
    .unwrap();
    assert_eq!(s, 200, "login: {b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// The multipart upload of `file` as (head, prefix, suffix); the file goes in between.
fn upload_request(token: &str, name: &str, size: usize) -> (String, Vec<u8>, Vec<u8>) {
    let boundary = "flightdeckbenchboundary7MA4YWxkTrZu0gW";
    let prefix = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nbench\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"video_file\"; filename=\"{name}\"\r\nContent-Type: video/mp4\r\n\r\n"
    )
    .into_bytes();
    let suffix = format!("\r\n--{boundary}--\r\n").into_bytes();
    let head = format!(
        "POST /api/videos/upload HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        prefix.len() + size + suffix.len()
    );
    (head, prefix, suffix)
}

/// Runs `requests` calls of `one`, `concurrency` at a time; returns the wall time and the
/// latencies of the calls that succeeded, and the number that failed.
async fn drive<F, Fut>(concurrency: usize, requests: usize, one: F) -> (f64, Vec<f64>, usize)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (one, next) = (one.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0;
            while next.fetch_add(1, Ordering::Relaxed) < requests as u64 {
                let t = Instant::now();
                if one().await {
                    lat.push(t.elapsed().as_secs_f64());
                } else {
                    failed += 1;
                }
            }
            (lat, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (lat, f) = t.await.unwrap();
        all.extend(lat);
        failed += f;
    }
    let wall = start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (wall, all, failed)
}

const MODES: [&str; 3] = ["api", "s3", "s3-unsigned"];

/// One turn of one mode, or a mode's turns in a phase added up.
#[derive(Default)]
struct Turn {
    wall: f64,
    lat: Vec<f64>,
    failed: usize,
    /// CPU seconds of the emulator, the API and this client.
    cpu: (f64, f64, f64),
    peak_kb: u64,
    /// The emulator's resident set, at most, during the turn.
    emulator_peak_kb: u64,
}

impl Turn {
    fn add(&mut self, turn: Turn) {
        self.wall += turn.wall;
        self.lat.extend(turn.lat);
        self.failed += turn.failed;
        self.cpu.0 += turn.cpu.0;
        self.cpu.1 += turn.cpu.1;
        self.cpu.2 += turn.cpu.2;
        self.peak_kb = self.peak_kb.max(turn.peak_kb);
        self.emulator_peak_kb = self.emulator_peak_kb.max(turn.emulator_peak_kb);
    }
}

/// `requests` uploads of `data` at the phase's concurrency, through the API or straight to S3.
#[allow(clippy::too_many_arguments)]
async fn run_mode(
    mode: &str,
    requests: usize,
    phase: &Phase,
    api: &Api,
    token: &str,
    data: &Bytes,
    name: &str,
    cloud: &TestCloud,
) -> Turn {
    let pid = api.child.id();
    let on = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(rss_kb(pid)));
    let sampler = sample_rss(pid, on.clone(), peak.clone());
    let emulator_pid = cloud.emulator.pid();
    let emulator_peak = Arc::new(AtomicU64::new(0));
    let emulator_sampler = emulator_pid.map(|e| sample_rss(e, on.clone(), emulator_peak.clone()));
    let cpu_before = (cpu_s(emulator_pid), cpu_s(Some(pid)), cpu_s(None));
    let (wall, lat, failed) = if mode == "api" {
        let (head, prefix, suffix) = upload_request(token, name, data.len());
        let (head, prefix, suffix) = (Arc::new(head), Bytes::from(prefix), Bytes::from(suffix));
        let (addr, data) = (api.addr, data.clone());
        drive(phase.concurrency, requests, move || {
            let (head, prefix, suffix, data) =
                (head.clone(), prefix.clone(), suffix.clone(), data.clone());
            async move {
                match request(addr, &head, &[&prefix, &data, &suffix]).await {
                    Ok((201, _)) => true,
                    Ok((s, b)) => {
                        eprintln!("upload answered {s}: {b}");
                        false
                    }
                    Err(e) => {
                        eprintln!("upload failed: {e}");
                        false
                    }
                }
            }
        })
        .await
    } else {
        let s3 = cloud.clients.s3.clone();
        let bucket = cloud.stack.bucket.name.clone();
        let data = data.clone();
        // "s3": the SDK's defaults (the payload's SHA-256 signed); "s3-unsigned": as the API
        // sends it (unsigned payload, the CRC32 header only).
        let unsigned = mode == "s3-unsigned";
        drive(phase.concurrency, requests, move || {
            let (s3, bucket, data) = (s3.clone(), bucket.clone(), data.clone());
            async move {
                let key = format!("direct/{}.mp4", uuid::Uuid::new_v4());
                let put = s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type("video/mp4")
                    .body(ByteStream::from(data));
                let sent = if unsigned {
                    put.customize().disable_payload_signing().send().await
                } else {
                    put.send().await
                };
                match sent {
                    Ok(_) => true,
                    Err(e) => {
                        eprintln!("PutObject failed: {}", stack::errors::describe(&e));
                        false
                    }
                }
            }
        })
        .await
    };
    let cpu_after = (cpu_s(emulator_pid), cpu_s(Some(pid)), cpu_s(None));
    on.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    if let Some(s) = emulator_sampler {
        s.join().unwrap();
    }
    Turn {
        wall,
        lat,
        failed,
        cpu: (
            cpu_after.0 - cpu_before.0,
            cpu_after.1 - cpu_before.1,
            cpu_after.2 - cpu_before.2,
        ),
        peak_kb: peak.load(Ordering::Relaxed),
        emulator_peak_kb: emulator_peak.load(Ordering::Relaxed),
    }
}

/// Removes every object version and message, so each phase starts from the same state.
async fn reset(cloud: &TestCloud, queue_url: &str) {
    let s3 = &cloud.clients.s3;
    let bucket = &cloud.stack.bucket.name;
    loop {
        let out = s3
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let mut any = false;
        for v in out.versions.unwrap_or_default() {
            any = true;
            let _ = s3
                .delete_object()
                .bucket(bucket)
                .key(v.key.unwrap_or_default())
                .set_version_id(v.version_id)
                .send()
                .await;
        }
        for m in out.delete_markers.unwrap_or_default() {
            any = true;
            let _ = s3
                .delete_object()
                .bucket(bucket)
                .key(m.key.unwrap_or_default())
                .set_version_id(m.version_id)
                .send()
                .await;
        }
        if !any {
            break;
        }
    }
    let _ = cloud
        .clients
        .sqs
        .purge_queue()
        .queue_url(queue_url)
        .send()
        .await;
}

#[tokio::main]
async fn main() {
    let Args {
        bin,
        phases,
        rounds,
        warm_up,
    } = args();
    let cloud = TestCloud::provisioned().await;
    let dir = tempfile::tempdir().unwrap();
    let queue_url = cloud
        .clients
        .sqs
        .get_queue_url()
        .queue_name(&cloud.stack.queues.tasks.name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let first = phases.first().expect("at least one --phase");
    let warm = Bytes::from(std::fs::read(&first.file).unwrap());

    for phase in &phases {
        let api = start_api(&bin, &cloud, dir.path()).await;
        let pid = api.child.id();
        let token = login(api.addr).await;
        // One warm-up upload (connection pools, the queue URL), then the idle RSS.
        let (head, prefix, suffix) = upload_request(&token, "warm.mp4", warm.len());
        let (s, b) = request(api.addr, &head, &[&prefix, &warm, &suffix])
            .await
            .unwrap();
        assert_eq!(s, 201, "warm-up upload: {b}");
        reset(&cloud, &queue_url).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_kb = (0..10)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(20));
                rss_kb(pid)
            })
            .max()
            .unwrap_or(0);
        eprintln!("API idle RSS {} MB", idle_kb / 1024);

        let data = Bytes::from(std::fs::read(&phase.file).unwrap());
        let name = phase
            .file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // Each mode runs in ROUNDS turns of REQUESTS / ROUNDS, its place in the order turning
        // round by round, so no mode always runs first (on a fresh page cache, after the idle
        // wait) or last; its figures pool every turn.
        // A turn keeps at least the phase's concurrency in flight: fewer rounds when the phase
        // has few requests (the 100 MB phase runs in one).
        let rounds = rounds.min(phase.requests / phase.concurrency.max(1)).max(1);
        // The phase's first turns are not counted (`--warm-up` rounds, 1 by default): whichever
        // mode ran first paid for the emulator's memory and page cache coming back after the
        // API's restart and the idle wait (measured: 34 ms of emulator CPU per 4 MB upload in
        // that turn against 22-26 ms in every later one), and the rotation alone always gave
        // that turn to the same mode.
        let mut totals: Vec<(&str, Turn, Vec<serde_json::Value>)> = MODES
            .iter()
            .map(|&m| (m, Turn::default(), Vec::new()))
            .collect();
        for round in 0..warm_up + rounds {
            let measured = round >= warm_up;
            let share = round.saturating_sub(warm_up);
            for i in 0..MODES.len() {
                let (mode, total, turns) = &mut totals[(i + round) % MODES.len()];
                let requests =
                    phase.requests / rounds + usize::from(share < phase.requests % rounds);
                if requests == 0 {
                    continue;
                }
                let turn =
                    run_mode(mode, requests, phase, &api, &token, &data, &name, &cloud).await;
                // Per request answered, as the phase's pooled figures are.
                let ok = turn.lat.len();
                let per_req = |cpu: f64| cpu * 1e3 / ok.max(1) as f64;
                let rps = ok as f64 / turn.wall.max(1e-9);
                eprintln!(
                    "{} {mode} {name} c={} n={requests}: {rps:.1} req/s, CPU ms/request: emulator {:.1}, API {:.1}, client {:.1}",
                    if measured { format!("turn {share}") } else { "warm-up".to_owned() },
                    phase.concurrency,
                    per_req(turn.cpu.0),
                    per_req(turn.cpu.1),
                    per_req(turn.cpu.2),
                );
                if measured {
                    turns.push(serde_json::json!({
                        "requests": requests,
                        "ok": ok,
                        "rps": rps,
                        "emulator_cpu_ms_per_request": per_req(turn.cpu.0),
                    }));
                    total.add(turn);
                }
                reset(&cloud, &queue_url).await;
            }
        }
        for (mode, total, turns) in &totals {
            let wall = total.wall;
            let mut lat = total.lat.clone();
            lat.sort_by(f64::total_cmp);
            // CPU per request answered, in ms: where each path's cost lands.
            let per_req = |cpu: f64| cpu * 1e3 / lat.len().max(1) as f64;
            println!(
                "{}",
                serde_json::json!({
                    "mode": mode,
                    "file": name,
                    "bytes": data.len(),
                    "concurrency": phase.concurrency,
                    "requests": phase.requests,
                    "rounds": rounds,
                    "ok": lat.len(),
                    "failed": total.failed,
                    "wall_s": wall,
                    "rps": lat.len() as f64 / wall,
                    "p50_ms": percentile(&lat, 50.0) * 1e3,
                    "p95_ms": percentile(&lat, 95.0) * 1e3,
                    "p99_ms": percentile(&lat, 99.0) * 1e3,
                    "api_idle_rss_mb": idle_kb as f64 / 1024.0,
                    "api_peak_rss_mb": total.peak_kb as f64 / 1024.0,
                    "emulator_peak_rss_mb": total.emulator_peak_kb as f64 / 1024.0,
                    "cpu_ms_per_request": {
                        "emulator": per_req(total.cpu.0),
                        "api": per_req(total.cpu.1),
                        "client": per_req(total.cpu.2),
                    },
                    "warm_up_rounds": warm_up,
                    "turns": turns,
                })
            );
            eprintln!(
                "{mode} {name} c={} n={}: {:.1} req/s, p50 {:.0} ms, p95 {:.0} ms, API peak RSS {} MB",
                phase.concurrency,
                phase.requests,
                lat.len() as f64 / wall,
                percentile(&lat, 50.0) * 1e3,
                percentile(&lat, 95.0) * 1e3,
                total.peak_kb / 1024
            );
        }
        drop(api);
    }
}
