//! Running a scenario: prepares the videos (and, for the open model, the accounts), then
//! drives virtual users (closed model) or timed arrivals (open model) against the targets,
//! records every request, publishes `Progress` on a watch channel and ends with a `Report`.
//! Cancelling the token stops the run early; the report then says so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{api_error_code, ApiTarget, Failure, FailureKind, Http, Payload, Response};
use crate::report::Report;
use crate::scenario::{Closed, Open, Scenario, Step};
use crate::schedule::{rate_at, vus_at, Arrivals};
use crate::stats::{Outcome, Progress, Recorder, RunState};
use crate::video::{self, VideoError, VideoPreset};

/// How to run a scenario (the scenario says what to run).
#[derive(Clone)]
pub struct RunOptions {
    /// API base URLs; requests are spread over them round-robin.
    pub targets: Vec<ApiTarget>,
    /// How often a `Progress` is published.
    pub progress_every: Duration,
    /// Where synthetic videos are cached.
    pub video_dir: PathBuf,
    /// How a missing video is made ([`video::in_process`] or [`video::by_command`]).
    pub make_video: video::VideoMaker,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("targets", &self.targets)
            .field("progress_every", &self.progress_every)
            .field("video_dir", &self.video_dir)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    pub fn new(targets: Vec<ApiTarget>, make_video: video::VideoMaker) -> RunOptions {
        RunOptions {
            targets,
            progress_every: Duration::from_millis(250),
            video_dir: video::videos_dir(),
            make_video,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no target: give the API's base URL (e.g. --target http://127.0.0.1:8000)")]
    NoTargets,
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error("a preparation task stopped unexpectedly: {0}")]
    Join(String),
    #[error(
        "signing up the run's accounts at {target} failed ({failure}); is the API running there?"
    )]
    Setup { target: String, failure: Failure },
    #[error("cancelled before the load started")]
    Cancelled,
}

/// A test video loaded into memory, shared by every upload.
struct Video {
    bytes: Bytes,
    filename: String,
    content_type: &'static str,
}

enum Prepared {
    Get {
        path: String,
        label: String,
    },
    Upload {
        video: Arc<Video>,
        until_processed: bool,
        poll_interval: Duration,
        processed_timeout: Duration,
    },
    Think(Duration),
}

/// What the controller is doing, for progress snapshots.
struct Live {
    state: RunState,
    detail: String,
    target: f64,
}

struct Ctx {
    http: Http,
    rec: Recorder,
    steps: Vec<Prepared>,
    needs_auth: bool,
    /// Time zero of the load (after preparation).
    clock0: Mutex<Instant>,
    live: Mutex<Live>,
}

impl Ctx {
    fn set_live(&self, state: RunState, detail: String, target: f64) {
        let mut l = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        l.state = state;
        l.detail = detail;
        l.target = target;
    }

    fn clock0(&self) -> Instant {
        *self.clock0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a step did not complete.
enum Stop {
    /// Cut off by a cancel or the end of the graceful stop: a scenario step's request is
    /// counted as `cancelled` (no latency, no error class: the target did nothing wrong).
    Interrupted,
    Failed(Failure),
}

/// A signed-in user: the `Authorization` header value.
#[derive(Clone)]
struct Account(HeaderValue);

/// Run `scenario` to the end (or until `cancel`), publishing progress on `progress`.
pub async fn run(
    scenario: Scenario,
    options: RunOptions,
    progress: watch::Sender<Progress>,
    cancel: CancellationToken,
) -> Result<Report, RunError> {
    if options.targets.is_empty() {
        return Err(RunError::NoTargets);
    }
    let planned = scenario.planned_duration();
    let started_at = chrono::Utc::now();
    let steps = prepare_steps(&scenario, &options, &progress).await?;
    let ctx = Arc::new(Ctx {
        http: Http::new(options.targets.clone(), scenario.timeout.0),
        rec: Recorder::default(),
        steps,
        needs_auth: scenario.needs_auth(),
        clock0: Mutex::new(Instant::now()),
        live: Mutex::new(Live {
            state: RunState::Preparing,
            detail: String::new(),
            target: 0.0,
        }),
    });

    let accounts = match &scenario.open {
        Some(open) if ctx.needs_auth => {
            sign_up_accounts(&ctx, open.accounts, &cancel, |done| {
                progress.send_replace(Progress::preparing(
                    &scenario.name,
                    &format!("signing up {} accounts ({done} done)", open.accounts),
                    planned.as_secs_f64(),
                ));
            })
            .await?
        }
        _ => Vec::new(),
    };

    // The clock starts now.
    let clock0 = Instant::now();
    *ctx.clock0.lock().unwrap_or_else(PoisonError::into_inner) = clock0;
    ctx.set_live(RunState::Running, "starting".into(), 0.0);
    let publisher = tokio::spawn(publish(
        ctx.clone(),
        scenario.name.clone(),
        planned.as_secs_f64(),
        progress.clone(),
        options.progress_every,
    ));

    match (&scenario.closed, &scenario.open) {
        (_, Some(open)) => run_open(&ctx, open, accounts, &cancel).await,
        (Some(closed), None) => run_closed(&ctx, closed, &cancel).await,
        (None, None) => {}
    }
    let elapsed = clock0.elapsed();
    // Wait until the publisher is really gone, so its last tick cannot land after the final
    // snapshot (abort only takes effect at its next await).
    publisher.abort();
    let _ = publisher.await;
    let cancelled = cancel.is_cancelled();
    let state = if cancelled {
        RunState::Cancelled
    } else {
        RunState::Finished
    };
    ctx.set_live(state, "done".into(), 0.0);
    let base = base_progress(&ctx, &scenario.name, planned.as_secs_f64());
    progress.send_replace(ctx.rec.snapshot(&base, elapsed.as_secs_f64()));

    let stats = ctx.rec.lock();
    Ok(Report::build(
        &scenario,
        &stats,
        &options.targets,
        started_at,
        elapsed,
        cancelled,
    ))
}

fn base_progress(ctx: &Ctx, scenario: &str, planned_s: f64) -> Progress {
    let live = ctx.live.lock().unwrap_or_else(PoisonError::into_inner);
    let mut p = Progress::preparing(scenario, &live.detail, planned_s);
    p.state = live.state;
    p.target = live.target;
    p
}

async fn publish(
    ctx: Arc<Ctx>,
    scenario: String,
    planned_s: f64,
    progress: watch::Sender<Progress>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let clock0 = ctx.clock0();
    loop {
        tick.tick().await;
        let base = base_progress(&ctx, &scenario, planned_s);
        let snap = ctx.rec.snapshot(&base, clock0.elapsed().as_secs_f64());
        progress.send_replace(snap);
    }
}

async fn prepare_steps(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &watch::Sender<Progress>,
) -> Result<Vec<Prepared>, RunError> {
    let mut videos: HashMap<String, Arc<Video>> = HashMap::new();
    let mut out = Vec::new();
    for step in &scenario.steps {
        out.push(match step {
            Step::Get(path) => Prepared::Get {
                path: path.clone(),
                label: step.label(),
            },
            Step::Think(d) => Prepared::Think(d.0),
            Step::Upload(u) => {
                let (key, path) = match (&u.file, u.video) {
                    (Some(file), _) => (file.display().to_string(), file.clone()),
                    (None, preset) => {
                        let preset = preset.unwrap_or(VideoPreset::Mb4);
                        let key = preset.name().to_string();
                        if videos.contains_key(&key) {
                            (key, PathBuf::new())
                        } else {
                            progress.send_replace(Progress::preparing(
                                &scenario.name,
                                &format!(
                                    "preparing the {preset} test video (made once, then cached)"
                                ),
                                scenario.planned_duration().as_secs_f64(),
                            ));
                            let dir = options.video_dir.clone();
                            let make = options.make_video.clone();
                            let path = tokio::task::spawn_blocking(move || make(&dir, preset))
                                .await
                                .map_err(|e| {
                                    RunError::Join(format!("the video generator: {e}"))
                                })??;
                            (key, path)
                        }
                    }
                };
                let video = match videos.get(&key) {
                    Some(v) => v.clone(),
                    None => {
                        let bytes =
                            tokio::fs::read(&path)
                                .await
                                .map_err(|source| VideoError::Read {
                                    file: path.display().to_string(),
                                    source,
                                })?;
                        let ext = path
                            .extension()
                            .map(|e| e.to_string_lossy().to_ascii_lowercase())
                            .unwrap_or_else(|| "mp4".into());
                        let content_type = match ext.as_str() {
                            "mov" => "video/quicktime",
                            "avi" => "video/x-msvideo",
                            _ => "video/mp4",
                        };
                        let v = Arc::new(Video {
                            bytes: Bytes::from(bytes),
                            filename: format!("load-test.{ext}"),
                            content_type,
                        });
                        videos.insert(key, v.clone());
                        v
                    }
                };
                Prepared::Upload {
                    video,
                    until_processed: u.until_processed,
                    poll_interval: u.poll_interval.0,
                    processed_timeout: u.processed_timeout.0,
                }
            }
        });
    }
    Ok(out)
}

/// Send one request, record it, and check its status.
#[allow(clippy::too_many_arguments)]
async fn request(
    ctx: &Ctx,
    stop: &CancellationToken,
    label: &str,
    counted: bool,
    intended: Instant,
    method: Method,
    path: &str,
    headers: &[(header::HeaderName, HeaderValue)],
    body: Payload,
    expect: fn(u16) -> bool,
) -> Result<Response, Stop> {
    if counted {
        ctx.rec.start();
    }
    let bytes = body.len();
    let sent = Instant::now();
    let result = tokio::select! {
        r = ctx.http.send(method, path, headers, body) => r,
        _ = stop.cancelled() => {
            ctx.rec.cancelled(label, counted);
            return Err(Stop::Interrupted);
        }
    };
    let now = Instant::now();
    // An answer with another status is a failure; the API's `error_code` says which.
    let mut error_code = None;
    let result = match result {
        Ok(r) if !expect(r.status) => {
            error_code = api_error_code(&r.body);
            let detail = match &error_code {
                Some(code) => format!("{label} answered {} ({code})", r.status),
                None => format!("{label} answered {}", r.status),
            };
            Err(Failure {
                class: FailureKind::Http(r.status),
                detail,
            })
        }
        other => other,
    };
    let (status, error) = match &result {
        Ok(r) => (Some(r.status), None),
        Err(f) => {
            tracing::debug!("{label}: {f}");
            let status = match f.class {
                FailureKind::Http(code) => Some(code),
                _ => None,
            };
            (status, Some(f.class))
        }
    };
    ctx.rec.finish(
        label,
        counted,
        Outcome {
            latency: now.saturating_duration_since(intended),
            service: now.saturating_duration_since(sent),
            status,
            error,
            error_code,
            bytes_sent: bytes,
            at_s: now.saturating_duration_since(ctx.clock0()).as_secs_f64(),
        },
    );
    result.map_err(Stop::Failed)
}

fn is_2xx(s: u16) -> bool {
    (200..300).contains(&s)
}

/// Sign up a new user and log in; the signup and login are recorded under their own labels.
async fn sign_in(ctx: &Ctx, stop: &CancellationToken) -> Result<Account, Stop> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("load-{id}@example.com");
    let password = format!("pw-{id}");
    let signup = serde_json::json!({
        "first_name": "Load",
        "last_name": "Runner",
        "email": email,
        "password1": password,
        "password2": password,
    });
    request(
        ctx,
        stop,
        "signup",
        false,
        Instant::now(),
        Method::POST,
        "/auth/signup",
        &[(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Payload::from_chunks([Bytes::from(signup.to_string())]),
        |s| s == 201,
    )
    .await?;
    // The email is [a-z0-9-@.]; only '@' needs escaping in a form body.
    let form = format!("username={}&password={password}", email.replace('@', "%40"));
    let resp = request(
        ctx,
        stop,
        "login",
        false,
        Instant::now(),
        Method::POST,
        "/auth/login",
        &[(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )],
        Payload::from_chunks([Bytes::from(form)]),
        |s| s == 200,
    )
    .await?;
    let token = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_owned));
    token
        .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        .map(Account)
        .ok_or_else(|| {
            Stop::Failed(Failure {
                class: FailureKind::BadResponse,
                detail: "the login answer has no access_token".into(),
            })
        })
}

/// Sign-ups in flight at once, per target. Each sign-up and login costs the API an argon2id
/// hash on a blocking thread: one at a time leaves the other instances (and cores) idle; more
/// than an instance's 2 vCPUs only queue there.
const SIGN_UPS_PER_TARGET: usize = 2;

/// Sign up and log in `n` users before the clock starts, a few at a time; `done(k)` after
/// each. The first failure ends it (the run cannot go on without its accounts).
async fn sign_up_accounts(
    ctx: &Arc<Ctx>,
    n: u32,
    cancel: &CancellationToken,
    mut done: impl FnMut(usize),
) -> Result<Vec<Account>, RunError> {
    let n = n as usize;
    let at_once = SIGN_UPS_PER_TARGET * ctx.http.targets().len().max(1);
    let mut accounts = Vec::with_capacity(n);
    let mut running = JoinSet::new();
    let mut started = 0;
    done(0);
    while accounts.len() < n {
        while started < n && running.len() < at_once {
            let (ctx, cancel) = (ctx.clone(), cancel.clone());
            running.spawn(async move { sign_in(&ctx, &cancel).await });
            started += 1;
        }
        // Dropping `running` on an early return aborts the other sign-ups.
        let result = match running.join_next().await {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(RunError::Join(format!("a sign-up: {e}"))),
            None => break,
        };
        match result {
            Ok(a) => {
                accounts.push(a);
                done(accounts.len());
            }
            Err(Stop::Interrupted) => return Err(RunError::Cancelled),
            Err(Stop::Failed(failure)) => {
                let target = ctx
                    .http
                    .targets()
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(RunError::Setup { target, failure });
            }
        }
    }
    Ok(accounts)
}

/// One pass over the scenario's steps. The first request is measured from `intended`.
async fn iteration(
    ctx: &Ctx,
    stop: &CancellationToken,
    account: Option<&Account>,
    intended: Instant,
) {
    let mut intended = intended;
    for step in &ctx.steps {
        match step {
            Prepared::Think(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(*d) => {}
                    _ = stop.cancelled() => return,
                }
            }
            Prepared::Get { path, label } => {
                let r = request(
                    ctx,
                    stop,
                    label,
                    true,
                    intended,
                    Method::GET,
                    path,
                    &[],
                    Payload::empty(),
                    is_2xx,
                )
                .await;
                if r.is_err() {
                    return;
                }
            }
            Prepared::Upload {
                video,
                until_processed,
                poll_interval,
                processed_timeout,
            } => {
                let Some(account) = account else { return };
                let boundary = format!("flightdeck-load-{}", uuid::Uuid::new_v4().simple());
                let head = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nload run\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"video_file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                    video.filename, video.content_type
                );
                let tail = format!("\r\n--{boundary}--\r\n");
                let mut chunks = vec![Bytes::from(head)];
                let chunk = 256 * 1024;
                let mut at = 0;
                while at < video.bytes.len() {
                    let end = (at + chunk).min(video.bytes.len());
                    chunks.push(video.bytes.slice(at..end));
                    at = end;
                }
                chunks.push(Bytes::from(tail));
                let content_type =
                    HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
                        .unwrap_or_else(|_| HeaderValue::from_static("multipart/form-data"));
                let upload_intended = intended;
                let r = request(
                    ctx,
                    stop,
                    "upload",
                    true,
                    intended,
                    Method::POST,
                    "/api/videos/upload",
                    &[
                        (header::AUTHORIZATION, account.0.clone()),
                        (header::CONTENT_TYPE, content_type),
                    ],
                    Payload::from_chunks(chunks),
                    |s| s == 201,
                )
                .await;
                let Ok(resp) = r else { return };
                if *until_processed {
                    let id = serde_json::from_slice::<serde_json::Value>(&resp.body)
                        .ok()
                        .and_then(|v| v.get("video_id")?.as_str().map(str::to_owned));
                    let result = match id {
                        None => Err(FailureKind::BadResponse),
                        Some(id) => {
                            match wait_processed(
                                ctx,
                                stop,
                                account,
                                &id,
                                *poll_interval,
                                *processed_timeout,
                            )
                            .await
                            {
                                None => {
                                    ctx.rec.processing_cut_off();
                                    return;
                                }
                                Some(r) => r,
                            }
                        }
                    };
                    let now = Instant::now();
                    ctx.rec.processed(
                        now.saturating_duration_since(upload_intended),
                        result.map(|()| video.bytes.len() as u64),
                        now.saturating_duration_since(ctx.clock0()).as_secs_f64(),
                    );
                }
            }
        }
        intended = Instant::now();
    }
    ctx.rec.iteration();
}

/// Poll the video until `processed` or `failed`; `None` when interrupted.
async fn wait_processed(
    ctx: &Ctx,
    stop: &CancellationToken,
    account: &Account,
    id: &str,
    every: Duration,
    limit: Duration,
) -> Option<Result<(), FailureKind>> {
    let deadline = Instant::now() + limit;
    let path = format!("/api/videos/{id}");
    let auth = [(header::AUTHORIZATION, account.0.clone())];
    loop {
        let r = tokio::select! {
            r = ctx.http.send(Method::GET, &path, &auth, Payload::empty()) => r,
            _ = stop.cancelled() => return None,
        };
        match r {
            Ok(resp) if resp.status == 200 => {
                let status = serde_json::from_slice::<serde_json::Value>(&resp.body)
                    .ok()
                    .and_then(|v| v.get("status")?.as_str().map(str::to_owned));
                match status.as_deref() {
                    Some("processed") => return Some(Ok(())),
                    Some("failed") => return Some(Err(FailureKind::ProcessingFailed)),
                    Some(_) => {}
                    None => return Some(Err(FailureKind::BadResponse)),
                }
            }
            // The video is gone or not ours: waiting longer cannot help.
            Ok(resp) if resp.status == 403 || resp.status == 404 => {
                return Some(Err(FailureKind::Http(resp.status)))
            }
            // Overload or a blip: keep polling until the deadline.
            Ok(_) | Err(_) => {}
        }
        if Instant::now() + every > deadline {
            return Some(Err(FailureKind::NotProcessed));
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return None,
        }
    }
}

/// A VU: sign in once, then iterate until told to stop.
async fn vu(
    ctx: Arc<Ctx>,
    soft: CancellationToken,
    hard: CancellationToken,
    tickets: Arc<AtomicU64>,
    cap: Option<u64>,
) {
    ctx.rec.active_vus.fetch_add(1, Ordering::Relaxed);
    let mut account: Option<Account> = None;
    while !soft.is_cancelled() && !hard.is_cancelled() {
        if let Some(cap) = cap {
            if tickets.fetch_add(1, Ordering::Relaxed) >= cap {
                break;
            }
        }
        if ctx.needs_auth && account.is_none() {
            match sign_in(&ctx, &hard).await {
                Ok(a) => account = Some(a),
                Err(Stop::Interrupted) => break,
                Err(Stop::Failed(_)) => {
                    // Do not hammer a failing sign-up; try again in a moment.
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = soft.cancelled() => {}
                        _ = hard.cancelled() => {}
                    }
                    continue;
                }
            }
        }
        iteration(&ctx, &hard, account.as_ref(), Instant::now()).await;
    }
    ctx.rec.active_vus.fetch_sub(1, Ordering::Relaxed);
}

struct VuHandle {
    soft: CancellationToken,
    hard: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn run_closed(ctx: &Arc<Ctx>, closed: &Closed, cancel: &CancellationToken) {
    let clock0 = ctx.clock0();
    let total: Duration = closed.stages.iter().map(|s| s.duration.0).sum();
    let grace = closed.graceful_stop.0;
    let tickets = Arc::new(AtomicU64::new(0));
    let mut live: Vec<VuHandle> = Vec::new();
    let mut retiring: Vec<(Instant, VuHandle)> = Vec::new();
    loop {
        let t = clock0.elapsed();
        if t >= total || cancel.is_cancelled() {
            break;
        }
        live.retain(|v| !v.task.is_finished());
        let want = vus_at(closed.start_vus, &closed.stages, t) as usize;
        // With every iteration handed out, the VUs end on their own after their last one;
        // the run ends when they have (or at the end of the stages, as usual).
        let capped = closed
            .iterations
            .is_some_and(|cap| tickets.load(Ordering::Relaxed) >= cap);
        if capped {
            retiring.retain(|(_, v)| !v.task.is_finished());
            if live.is_empty() && retiring.is_empty() {
                break;
            }
        }
        while !capped && live.len() < want {
            let soft = CancellationToken::new();
            let hard = cancel.child_token();
            let task = tokio::spawn(vu(
                ctx.clone(),
                soft.clone(),
                hard.clone(),
                tickets.clone(),
                closed.iterations,
            ));
            live.push(VuHandle { soft, hard, task });
        }
        while !capped && live.len() > want {
            if let Some(v) = live.pop() {
                v.soft.cancel();
                retiring.push((Instant::now(), v));
            }
        }
        retiring.retain(|(since, v)| {
            if since.elapsed() >= grace {
                v.hard.cancel();
            }
            !v.task.is_finished()
        });
        let stage = stage_index(closed, t);
        ctx.set_live(
            RunState::Running,
            format!(
                "stage {}/{}: {} VUs wanted",
                stage + 1,
                closed.stages.len(),
                want
            ),
            want as f64,
        );
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = cancel.cancelled() => {}
        }
    }
    // The end: running iterations may finish within the graceful stop, then are cut off.
    ctx.set_live(
        RunState::Stopping,
        format!(
            "waiting up to {} for running iterations",
            crate::scenario::Dur(grace)
        ),
        0.0,
    );
    let all: Vec<VuHandle> = live
        .into_iter()
        .chain(retiring.into_iter().map(|(_, v)| v))
        .collect();
    for v in &all {
        v.soft.cancel();
    }
    let deadline = Instant::now() + grace;
    for v in all {
        let hard = v.hard.clone();
        let mut task = v.task;
        tokio::select! {
            _ = &mut task => {}
            _ = tokio::time::sleep_until(deadline) => {
                hard.cancel();
                let _ = task.await;
            }
            _ = cancel.cancelled() => {
                let _ = task.await;
            }
        }
    }
}

fn stage_index(closed: &Closed, t: Duration) -> usize {
    let mut end = Duration::ZERO;
    for (i, s) in closed.stages.iter().enumerate() {
        end += s.duration.0;
        if t < end {
            return i;
        }
    }
    closed.stages.len().saturating_sub(1)
}

async fn run_open(ctx: &Arc<Ctx>, open: &Open, accounts: Vec<Account>, cancel: &CancellationToken) {
    let clock0 = ctx.clock0();
    let slots = Arc::new(Semaphore::new(open.max_in_flight as usize));
    let accounts = Arc::new(accounts);
    let stop = cancel.child_token();
    let mut tasks = JoinSet::new();
    let total = Arrivals::total(&open.phases);
    let mut last_detail = Instant::now() - Duration::from_secs(1);
    for (i, offset) in Arrivals::new(&open.phases).enumerate() {
        let at = clock0 + offset;
        if last_detail.elapsed() >= Duration::from_millis(200) {
            last_detail = Instant::now();
            let rate = rate_at(&open.phases, offset);
            ctx.set_live(
                RunState::Running,
                format!("arrival {} of {total} at {rate:.1}/s", i + 1),
                rate,
            );
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = cancel.cancelled() => break,
        }
        while tasks.try_join_next().is_some() {}
        let ctx = ctx.clone();
        let slots = slots.clone();
        let accounts = accounts.clone();
        let stop = stop.clone();
        // Due now: it waits for a send slot until it gets one or the run stops.
        ctx.rec.waiting();
        tasks.spawn(async move {
            // Waiting for a slot counts in the latency: it is measured from `at`.
            let permit = tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    ctx.rec.never_sent();
                    return;
                }
                p = slots.acquire_owned() => p,
            };
            ctx.rec.got_slot();
            let account = (!accounts.is_empty()).then(|| &accounts[i % accounts.len()]);
            iteration(&ctx, &stop, account, at).await;
            drop(permit);
        });
    }
    ctx.set_live(
        RunState::Stopping,
        format!(
            "waiting up to {} for running iterations",
            open.graceful_stop
        ),
        0.0,
    );
    let deadline = Instant::now() + open.graceful_stop.0;
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = tokio::time::sleep_until(deadline) => {
                stop.cancel();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
}
