//! `POST /api/videos/upload`: the multipart `video_file` is streamed straight into S3 (5 MiB
//! parts; one PutObject when it fits in one), its first bytes sniffed for an MP4/MOV or AVI
//! container, then the row is recorded and one v1 message sent to `video_tasks`. 201 means
//! all three happened; on any failure what was stored so far is removed (`Cleanup`).
//!
//! Object bodies are sent with an unsigned payload: the SDK's CRC32 of the body goes in a
//! signed header and S3 checks the body against it, so a changed byte is still refused (the
//! local emulator checks neither), and the SHA-256 of every byte that SigV4 would add (about
//! 3 ms of CPU per 4 MB, the largest cost of the API's own) is not computed; the AWS SDKs do
//! the same over HTTPS.
//!
//! A slow client cannot hold the shared part buffers: the body is read under a minimum rate
//! (`BodyClock`, 408 `client_too_slow`), and an upload takes a shared buffer only once its
//! first `STAGE_LEN` bytes have arrived in a small buffer of its own.
//!
//! An overload is refused rather than queued without end: when the part buffers' queue is
//! full, or a buffer does not come free in time, the upload gets 503 `server_busy` with
//! `Retry-After` (`parts::Queue`), and what it stored so far is removed.

use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Extension, Multipart, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use stack::message::{dated_key, S3Uri, VideoTask};
use tokio::time::Instant;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{aws_error, ApiError};
use crate::observe::CorrelationId;
use crate::parts::PartBuffer;
use crate::AppState;

/// Bytes needed to recognise the containers (`RIFF....AVI `).
const SNIFF_LEN: usize = 12;
const MAX_TITLE_BYTES: usize = 200;
/// What an upload reads into a buffer of its own before it may take a shared part buffer: a
/// client must send this much within the body's minimum rate first, so clients too slow for
/// it are cut off (408) without ever holding a shared buffer. Files up to this size never
/// take one at all.
pub const STAGE_LEN: usize = 64 * 1024;

/// The request body's clock: a minimum rate over a window, like a load balancer's client
/// body timeout. Reading starts with `grace` of allowance; every byte received earns
/// `1 / min_rate` seconds more, but the allowance never runs more than `grace` ahead of now,
/// so an early burst buys no long stall later. A read that outlasts the allowance is cut
/// off with 408 `client_too_slow`. Time the server spends not reading (waiting for a part
/// buffer, storing a part) is not charged to the client (`resumed`).
pub struct BodyClock {
    deadline: Instant,
    grace: Duration,
    min_rate: u64,
}

impl BodyClock {
    pub fn new(min_rate: u64, grace: Duration) -> BodyClock {
        BodyClock::starting(min_rate, grace, Instant::now())
    }

    fn starting(min_rate: u64, grace: Duration, now: Instant) -> BodyClock {
        BodyClock {
            deadline: now + grace,
            grace,
            min_rate,
        }
    }

    /// `n` bytes arrived.
    pub fn received(&mut self, n: usize) {
        self.received_at(n, Instant::now());
    }

    fn received_at(&mut self, n: usize, now: Instant) {
        let cap = now + self.grace;
        self.deadline = if self.min_rate == 0 {
            cap
        } else {
            let earned = Duration::from_secs_f64(n as f64 / self.min_rate as f64);
            self.deadline.checked_add(earned).unwrap_or(cap).min(cap)
        };
    }

    /// The server paused reading and now reads again: the client has at least `grace`.
    pub fn resumed(&mut self) {
        self.resumed_at(Instant::now());
    }

    fn resumed_at(&mut self, now: Instant) {
        self.deadline = self.deadline.max(now + self.grace);
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `read`, unless the allowance runs out first.
    pub async fn read<T>(&self, read: impl Future<Output = T>) -> Result<T, ApiError> {
        tokio::time::timeout_at(self.deadline, read)
            .await
            .map_err(|_| ApiError::TooSlow {
                message: format!(
                    "the request body arrived slower than {} bytes/s for {} s; nothing was stored",
                    self.min_rate,
                    self.grace.as_secs_f64()
                ),
            })
    }
}

/// A container the API accepts, from the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Mp4,
    Mov,
    Avi,
}

impl Container {
    pub fn from_filename(name: &str) -> Option<Container> {
        let (_, ext) = name.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "mp4" => Some(Container::Mp4),
            "mov" => Some(Container::Mov),
            "avi" => Some(Container::Avi),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mov => "mov",
            Container::Avi => "avi",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Container::Mp4 => "video/mp4",
            Container::Mov => "video/quicktime",
            Container::Avi => "video/x-msvideo",
        }
    }

    /// Whether `head` (the first bytes) starts such a container: an ISO-BMFF `ftyp` box for
    /// MP4/MOV (either name is accepted for either brand), a `RIFF....AVI ` header for AVI.
    pub fn matches(self, head: &[u8]) -> bool {
        match self {
            Container::Mp4 | Container::Mov => head.len() >= 8 && &head[4..8] == b"ftyp",
            Container::Avi => head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"AVI ",
        }
    }
}

/// Invisible characters that change how text around them is shown: Unicode's format
/// characters (general category Cf: bidi overrides and isolates such as U+202E, zero-width
/// joiners and spaces, soft hyphens, tags). A file name with one can display as another.
pub fn is_format_char(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// The bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): they
/// reorder the text after them, so a title with one could display as something else.
/// Other format characters (zero-width joiners in emoji and scripts) stay allowed in titles.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A client-supplied file name is only recorded, never used in a key; still, names with
/// path parts, control characters or format characters (bidi overrides) are refused rather
/// than stored.
pub fn check_filename(name: &str) -> Result<Container, ApiError> {
    if name.is_empty()
        || name.len() > 255
        || name.chars().any(|c| c.is_control() || is_format_char(c))
        || name.contains('/')
        || name.contains('\\')
        || name.starts_with('.')
    {
        return Err(ApiError::bad_request(
            "invalid_filename",
            "the file name must be a plain name without path parts, control or format (bidi) characters",
        ));
    }
    Container::from_filename(name).ok_or_else(|| {
        ApiError::bad_request(
            "unsupported_extension",
            "only .mp4, .mov and .avi files are accepted",
        )
    })
}

#[derive(Debug, Serialize)]
pub struct UploadResponse {
    pub video_id: Uuid,
    pub task_id: String,
}

/// The upload's object, as far as this request knows.
#[derive(Debug, Clone, PartialEq)]
enum Stored {
    Nothing,
    /// Sent, but no answer seen (a timeout, the client gone), or stored by a PutObject (whose
    /// retried attempts may each have stored a version): any version of the key may exist.
    Unknown,
    /// Stored as this version (`None`: the bucket is not versioned).
    Version(Option<String>),
}

/// What was stored so far for one upload, removed again unless `disarm`ed. Error paths call
/// `run` and wait for it; if the request is dropped mid-way (client gone, shutdown), `Drop`
/// starts the same removal on the runtime.
struct Cleanup {
    state: AppState,
    key: String,
    upload_id: Option<String>,
    object: Stored,
    row: Option<Uuid>,
}

impl Cleanup {
    fn new(state: AppState, key: String) -> Cleanup {
        Cleanup {
            state,
            key,
            upload_id: None,
            object: Stored::Nothing,
            row: None,
        }
    }

    fn pending(&self) -> bool {
        self.upload_id.is_some() || self.object != Stored::Nothing || self.row.is_some()
    }

    async fn run(&mut self) {
        let (upload_id, object, row) = (
            self.upload_id.take(),
            std::mem::replace(&mut self.object, Stored::Nothing),
            self.row.take(),
        );
        undo(&self.state, &self.key, upload_id, object, row).await;
    }

    fn disarm(&mut self) {
        self.upload_id = None;
        self.object = Stored::Nothing;
        self.row = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.pending() {
            return;
        }
        let (state, key) = (self.state.clone(), self.key.clone());
        let (upload_id, object, row) = (
            self.upload_id.take(),
            std::mem::replace(&mut self.object, Stored::Nothing),
            self.row.take(),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { undo(&state, &key, upload_id, object, row).await });
        } else {
            tracing::error!(key, "upload cancelled outside a runtime; cannot clean up");
        }
    }
}

async fn undo(
    state: &AppState,
    key: &str,
    upload_id: Option<String>,
    object: Stored,
    row: Option<Uuid>,
) {
    if let Some(id) = row {
        if let Err(e) = state.store().delete_video(id).await {
            tracing::error!(video_id = %id, "removing the row of a failed upload: {e}");
        }
    }
    if let Some(upload_id) = upload_id {
        let aborted = state
            .s3()
            .abort_multipart_upload()
            .bucket(state.bucket())
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::error!(
                key,
                "aborting a multipart upload: {}",
                stack::errors::describe(&e)
            );
        }
    }
    let removed = match object {
        Stored::Nothing => Ok(()),
        // Exactly the version this request stored: no listing, and nothing else touched.
        Stored::Version(version) => crate::videos::delete_version(state, key, version).await,
        Stored::Unknown => match crate::videos::object_absent(state, key).await {
            // The key is this upload's own and was never deleted (no delete marker), so
            // nothing is stored under it: no listing, which costs the local cloud's
            // emulator a pass over every version in the bucket, refusal after refusal.
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => crate::videos::delete_object_versions(state, key).await,
        },
    };
    if let Err(e) = removed {
        tracing::error!(key, "removing the object of a failed upload: {e}");
    }
}

/// The largest upload body: the file's bound plus room for the multipart framing and the
/// title (the file itself is counted exactly while it streams).
pub fn body_limit(config: &crate::Config) -> u64 {
    config.max_upload_bytes.saturating_add(1024 * 1024)
}

/// A body that says it is longer than [`body_limit`] is refused before a byte of it is read,
/// as a proxy in front would: the client learns at once rather than after sending 100 MiB.
fn declared_too_long(config: &crate::Config, headers: &HeaderMap) -> bool {
    crate::body_end::declared_length(headers).is_some_and(|length| length > body_limit(config))
}

pub async fn upload(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Extension(CorrelationId(correlation_id)): Extension<CorrelationId>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    if declared_too_long(state.config(), &headers) {
        let e = ApiError::TooLarge {
            limit: state.config().max_upload_bytes,
        };
        state.metrics().record_upload(e.code());
        return Err(e);
    }
    let video_id = Uuid::new_v4();
    tracing::Span::current().record("video_id", tracing::field::display(video_id));
    let mut cleanup = Cleanup::new(state.clone(), String::new());
    let result = receive(
        &state,
        owner,
        video_id,
        &correlation_id,
        multipart,
        &mut cleanup,
    )
    .await;
    match result {
        Ok(task_id) => {
            cleanup.disarm();
            state.metrics().record_upload("stored");
            tracing::info!(%video_id, task_id, "upload stored and queued");
            let location = format!("/api/videos/{video_id}");
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(UploadResponse { video_id, task_id }),
            )
                .into_response())
        }
        Err(e) => {
            cleanup.run().await;
            state.metrics().record_upload(e.code());
            Err(e)
        }
    }
}

struct Received {
    filename: String,
    container: Container,
    size: u64,
}

/// The whole upload; every step that stores something records it in `cleanup` first.
async fn receive(
    state: &AppState,
    owner: Uuid,
    video_id: Uuid,
    correlation_id: &str,
    multipart: Result<Multipart, MultipartRejection>,
    cleanup: &mut Cleanup,
) -> Result<String, ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(
            "invalid_multipart",
            format!("expected multipart/form-data: {}", e.body_text()),
        )
    })?;
    let received_at = Utc::now();
    let mut clock = BodyClock::new(state.config().body_min_rate, state.config().body_grace);
    let mut title: Option<String> = None;
    let mut file: Option<Received> = None;
    while let Some(mut field) = clock
        .read(multipart.next_field())
        .await?
        .map_err(|e| multipart_error(state, e))?
    {
        let step = match field.name() {
            Some("title") if title.is_none() => read_title(state, &mut field, &mut clock)
                .await
                .map(|t| title = Some(t)),
            Some("video_file") if file.is_none() => receive_file(
                state,
                &mut field,
                received_at,
                video_id,
                cleanup,
                &mut clock,
            )
            .await
            .map(|received| file = Some(received)),
            Some(name @ ("title" | "video_file")) => Err(ApiError::bad_request(
                "duplicate_field",
                format!("the field {name:?} was sent twice"),
            )),
            _ => Err(ApiError::bad_request(
                "unexpected_field",
                "only the fields video_file and title are accepted",
            )),
        };
        if let Err(e) = step {
            // Refused (busy, not a video, a bad name or title, a field too many, storage
            // down): the client is still sending, so read the rest of the body, within
            // bounds, for the answer to reach it.
            if drains(&e) {
                let mut budget = DrainBudget::new();
                drain(&mut field, &mut clock, &mut budget).await;
                drop(field);
                drain_rest(&mut multipart, &mut clock, &mut budget).await;
            }
            return Err(e);
        }
    }
    let file = file
        .ok_or_else(|| ApiError::bad_request("missing_file", "the video_file field is required"))?;
    let title = title
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_title", "the title field is required"))?;

    state
        .store()
        .create_video(store::NewVideo {
            id: video_id,
            owner_id: owner,
            title,
            source_key: cleanup.key.clone(),
            original_filename: file.filename,
            size_bytes: file.size,
            content_type: file.container.content_type().to_owned(),
            correlation_id: correlation_id.to_owned(),
        })
        .await?;
    cleanup.row = Some(video_id);

    let task = VideoTask::new(
        video_id,
        S3Uri::new(state.bucket(), cleanup.key.clone()),
        correlation_id,
    );
    let queue_url = state
        .queue_url()
        .await
        .map_err(|e| aws_error("queue_unavailable", "looking up the task queue", &e))?;
    let sent = state
        .sqs()
        .send_message()
        .queue_url(queue_url)
        .message_body(task.to_json())
        .send()
        .await
        .map_err(|e| aws_error("queue_unavailable", "sending the task message", &e))?;
    sent.message_id
        .ok_or_else(|| ApiError::Internal("SendMessage answered without a message id".into()))
}

/// The `video_file` field: its name checked, then streamed to S3 under a key of its own.
async fn receive_file(
    state: &AppState,
    field: &mut Field<'_>,
    received_at: chrono::DateTime<Utc>,
    video_id: Uuid,
    cleanup: &mut Cleanup,
    clock: &mut BodyClock,
) -> Result<Received, ApiError> {
    let filename = field.file_name().unwrap_or_default().to_owned();
    let container = check_filename(&filename)?;
    // The key's extension is the checked, normalised one, never the client's text.
    cleanup.key = dated_key(
        state.uploads_prefix(),
        received_at,
        video_id,
        container.extension(),
    );
    let size = stream_to_s3(state, field, container, cleanup, clock).await?;
    // Storing the last part was the server's time, not the client's.
    clock.resumed();
    Ok(Received {
        filename,
        container,
        size,
    })
}

/// How much of a refused upload's body is read and dropped, at most, so that its client gets
/// the answer: a connection closed with unread bytes is reset, and the reset can destroy the
/// 503 or 400 before the client reads it. Past these, the connection is closed anyway.
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// What is left of the drain's bounds: one budget for the refused field and the fields after it.
struct DrainBudget {
    until: Instant,
    left: u64,
}

impl DrainBudget {
    fn new() -> Self {
        Self {
            until: Instant::now() + DRAIN_TIME,
            left: DRAIN_BYTES,
        }
    }

    fn spent(&self) -> bool {
        self.left == 0 || Instant::now() >= self.until
    }
}

/// Whether a refusal reads the rest of the body first: not for a client too slow for the
/// body's minimum rate, nor for a body that is not valid multipart (nothing more to read).
fn drains(e: &ApiError) -> bool {
    !matches!(
        e,
        ApiError::TooSlow { .. }
            | ApiError::BadRequest {
                code: "invalid_multipart",
                ..
            }
    )
}

/// Reads and drops the rest of `field` within `budget` and the body's clock; holds nothing
/// but the chunk in hand.
async fn drain(field: &mut Field<'_>, clock: &mut BodyClock, budget: &mut DrainBudget) {
    clock.resumed();
    while let Ok(Ok(Ok(Some(chunk)))) =
        tokio::time::timeout_at(budget.until, clock.read(field.chunk())).await
    {
        clock.received(chunk.len());
        budget.left = budget.left.saturating_sub(chunk.len() as u64);
        if budget.spent() {
            break;
        }
    }
}

/// Reads and drops every field after the refused one, within what is left of `budget`.
async fn drain_rest(multipart: &mut Multipart, clock: &mut BodyClock, budget: &mut DrainBudget) {
    while !budget.spent() {
        let next = tokio::time::timeout_at(budget.until, clock.read(multipart.next_field())).await;
        let Ok(Ok(Ok(Some(mut field)))) = next else {
            return;
        };
        drain(&mut field, clock, budget).await;
    }
}

fn multipart_error(state: &AppState, e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge {
            limit: state.config().max_upload_bytes,
        }
    } else {
        ApiError::bad_request("invalid_multipart", e.body_text())
    }
}

async fn read_title(
    state: &AppState,
    field: &mut Field<'_>,
    clock: &mut BodyClock,
) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = clock
        .read(field.chunk())
        .await?
        .map_err(|e| multipart_error(state, e))?
    {
        clock.received(chunk.len());
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TITLE_BYTES * 4 {
            break;
        }
    }
    let title = String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("invalid_title", "the title is not UTF-8"))?;
    let title = title.trim();
    if title.chars().count() > MAX_TITLE_BYTES
        || title.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("the title must be at most {MAX_TITLE_BYTES} printable characters, without bidi controls"),
        ));
    }
    Ok(title.to_owned())
}

/// Stream the field into S3: its first `STAGE_LEN` bytes into a small buffer of the upload's
/// own (sniffed there, before anything is sent to S3), the rest through one of the shared
/// part buffers (taken when the staged bytes are complete, given back after each part is
/// stored, so at most one part of this upload is in memory and at most `part_buffers` parts
/// across all uploads); every read is under `clock`. Returns the size.
async fn stream_to_s3(
    state: &AppState,
    field: &mut Field<'_>,
    container: Container,
    cleanup: &mut Cleanup,
    clock: &mut BodyClock,
) -> Result<u64, ApiError> {
    let limit = state.config().max_upload_bytes;
    let key = cleanup.key.clone();
    let mut staged: Vec<u8> = Vec::new();
    let mut staging = true;
    let mut sniffed = false;
    let mut buf: Option<PartBuffer<'_>> = None;
    let mut total: u64 = 0;
    let mut parts: Vec<CompletedPart> = Vec::new();
    while let Some(chunk) = clock
        .read(field.chunk())
        .await?
        .map_err(|e| multipart_error(state, e))?
    {
        clock.received(chunk.len());
        total += chunk.len() as u64;
        state.metrics().add_upload_bytes(chunk.len() as u64);
        if total > limit {
            return Err(ApiError::TooLarge { limit });
        }
        let mut rest: &[u8] = &chunk;
        if staging {
            let n = rest.len().min(STAGE_LEN - staged.len());
            if staged.capacity() == 0 {
                staged.reserve_exact(STAGE_LEN);
            }
            staged.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if !sniffed && staged.len() >= SNIFF_LEN {
                sniff(container, &staged)?;
                sniffed = true;
            }
            if staged.len() < STAGE_LEN {
                continue;
            }
            // The client has kept up the minimum rate this far: it may take a shared buffer
            // (waiting, without reading, while all are in use; refused with 503 when the
            // queue for them is full, which is short while the server is overloaded, or the wait
            // too long).
            let mut part_buf = state.part_buffers().admit().await.map_err(ApiError::Busy)?;
            clock.resumed();
            let left = part_buf.fill(&staged);
            debug_assert!(left.is_empty(), "STAGE_LEN fits in a part");
            staged = Vec::new();
            staging = false;
            buf = Some(part_buf);
        }
        while !rest.is_empty() {
            let part_buf = match &mut buf {
                Some(b) => b,
                // Waits while every buffer is in use: the client's upload slows down (and is
                // refused, like a new one, when the queue is full or the wait too long).
                None => {
                    let b = state
                        .part_buffers()
                        .acquire()
                        .await
                        .map_err(ApiError::Busy)?;
                    clock.resumed();
                    buf.insert(b)
                }
            };
            rest = part_buf.fill(rest);
            if !part_buf.is_full() {
                continue;
            }
            let part = part_buf.take();
            let upload_id = match &cleanup.upload_id {
                Some(id) => id.clone(),
                None => {
                    let created = state
                        .s3()
                        .create_multipart_upload()
                        .bucket(state.bucket())
                        .key(&key)
                        .content_type(container.content_type())
                        .send()
                        .await
                        .map_err(|e| {
                            aws_error("storage_unavailable", "starting the multipart upload", &e)
                        })?;
                    let id = created.upload_id.ok_or_else(|| {
                        ApiError::Internal(
                            "CreateMultipartUpload answered without an upload id".into(),
                        )
                    })?;
                    cleanup.upload_id = Some(id.clone());
                    id
                }
            };
            parts.push(upload_part(state, &key, &upload_id, parts.len() + 1, part).await?);
            // The part is stored: the buffer goes back for any upload waiting for one.
            buf = None;
            clock.resumed();
        }
    }
    if total == 0 {
        return Err(ApiError::bad_request(
            "empty_file",
            "the video_file is empty",
        ));
    }
    let last = if staging {
        // Small enough to have stayed in the upload's own buffer: no shared buffer taken.
        sniff(container, &staged)?;
        bytes::Bytes::from(staged)
    } else {
        buf.as_mut().map(PartBuffer::take).unwrap_or_default()
    };
    match cleanup.upload_id.clone() {
        // It fit in one part: one PutObject instead of three multipart calls.
        None => {
            // Unknown even once it answers: an attempt whose answer was lost may have stored a
            // version before the SDK's retry stored the one it names, so a cleanup removes
            // every version of the key (this upload's own).
            cleanup.object = Stored::Unknown;
            state
                .s3()
                .put_object()
                .bucket(state.bucket())
                .key(&key)
                .content_type(container.content_type())
                .body(ByteStream::from(last))
                .customize()
                .disable_payload_signing()
                .send()
                .await
                .map_err(|e| aws_error("storage_unavailable", "storing the upload", &e))?;
        }
        Some(upload_id) => {
            if !last.is_empty() {
                parts.push(upload_part(state, &key, &upload_id, parts.len() + 1, last).await?);
            }
            drop(buf);
            // A completion whose answer is lost may still have made the object.
            cleanup.object = Stored::Unknown;
            let completed = state
                .s3()
                .complete_multipart_upload()
                .bucket(state.bucket())
                .key(&key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    aws_error("storage_unavailable", "completing the multipart upload", &e)
                })?;
            cleanup.upload_id = None;
            cleanup.object = Stored::Version(completed.version_id);
        }
    }
    Ok(total)
}

fn sniff(container: Container, head: &[u8]) -> Result<(), ApiError> {
    if container.matches(head) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "not_a_video",
            format!(
                "the file is not an {} container",
                container.extension().to_ascii_uppercase()
            ),
        ))
    }
}

async fn upload_part(
    state: &AppState,
    key: &str,
    upload_id: &str,
    number: usize,
    body: bytes::Bytes,
) -> Result<CompletedPart, ApiError> {
    let number = i32::try_from(number).map_err(|_| ApiError::Internal("too many parts".into()))?;
    let out = state
        .s3()
        .upload_part()
        .bucket(state.bucket())
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(body))
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| aws_error("storage_unavailable", "uploading a part", &e))?;
    Ok(CompletedPart::builder()
        .set_e_tag(out.e_tag)
        .part_number(number)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_recognised_by_their_first_bytes() {
        let mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0";
        let avi = b"RIFF\x10\0\0\0AVI LIST";
        assert!(Container::Mp4.matches(mp4));
        assert!(Container::Mov.matches(mp4));
        assert!(!Container::Avi.matches(mp4));
        assert!(Container::Avi.matches(avi));
        assert!(!Container::Mp4.matches(avi));
        assert!(!Container::Mp4.matches(b"hello world, not a video"));
        assert!(!Container::Mp4.matches(b"\0\0\0"));
        assert!(!Container::Avi.matches(b"RIFF\0\0\0\0WAVE"));
    }

    #[test]
    fn titles_refuse_only_bidi_controls_among_format_characters() {
        assert!(is_bidi_control('\u{202E}'));
        assert!(is_bidi_control('\u{2069}'));
        // A zero-width joiner (emoji, many scripts) is a format character, not a bidi control.
        assert!(is_format_char('\u{200D}') && !is_bidi_control('\u{200D}'));
        assert!(!is_format_char('é') && !is_format_char('日'));
    }

    /// The clock: `grace` to start, 1/min_rate s per byte, never more than `grace` ahead,
    /// and a pause of the server's own is not charged.
    #[test]
    fn the_body_clock_enforces_a_minimum_rate_over_its_grace() {
        let grace = Duration::from_secs(5);
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut clock = BodyClock::starting(1000, grace, start);
        assert_eq!(clock.deadline(), at(5));
        // 1 KB/s at a minimum of 1000 B/s keeps up exactly.
        for s in 1..=10 {
            clock.received_at(1000, at(s));
        }
        assert_eq!(clock.deadline(), at(15));
        // A burst earns no more than `grace` ahead of now.
        clock.received_at(1_000_000, at(11));
        assert_eq!(clock.deadline(), at(16));
        // Slower than the minimum: the allowance shrinks (to be cut off at 7 s).
        let mut slow = BodyClock::starting(1000, grace, start);
        for s in 1..=4 {
            slow.received_at(500, at(s));
        }
        assert_eq!(slow.deadline(), at(7));
        // The server's own pause (a part to S3) is not the client's.
        slow.resumed_at(at(60));
        assert_eq!(slow.deadline(), at(65));
        // Rate 0: only stalls of `grace` are cut off.
        let mut idle_only = BodyClock::starting(0, grace, start);
        idle_only.received_at(1, at(4));
        assert_eq!(idle_only.deadline(), at(9));
    }

    #[tokio::test]
    async fn a_read_past_the_deadline_is_408() {
        let clock = BodyClock::new(1000, Duration::from_millis(50));
        let cut = clock.read(std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(
            (cut.status(), cut.code()),
            (StatusCode::REQUEST_TIMEOUT, "client_too_slow")
        );
        assert_eq!(clock.read(async { 7 }).await.unwrap(), 7);
    }

    #[test]
    fn filenames_are_checked() {
        assert_eq!(check_filename("clip.MP4").unwrap(), Container::Mp4);
        assert_eq!(check_filename("a.b.mov").unwrap(), Container::Mov);
        assert_eq!(check_filename("x.avi").unwrap(), Container::Avi);
        assert_eq!(
            check_filename("x.mkv").unwrap_err().code(),
            "unsupported_extension"
        );
        assert_eq!(
            check_filename("mp4").unwrap_err().code(),
            "unsupported_extension"
        );
        for bad in [
            "../x.mp4",
            "a/b.mp4",
            "a\\b.mp4",
            "a\nb.mp4",
            "a\u{7}.mp4",
            "clip\u{202E}4pm.avi",
            "a\u{2066}b.mp4",
            "zero\u{200B}width.mp4",
            "bom\u{FEFF}.mp4",
            "soft\u{AD}hyphen.mp4",
            "tag\u{E0041}.mp4",
            "",
            ".mp4",
        ] {
            assert_eq!(
                check_filename(bad).unwrap_err().code(),
                "invalid_filename",
                "{bad:?}"
            );
        }
    }
}
