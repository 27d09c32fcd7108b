//! The local fleet's log shipper: what the CloudWatch agent does on an instance, for the local
//! processes. It tails each instance's log file (`<logs_dir>/<instance-id>.log`, where the
//! fleet writes the process's stdout and stderr) and sends its lines to CloudWatch Logs: the
//! log group of the instance's role (`groups.*.logs.group` in stack.json, created with its
//! retention by provisioning), one log stream per instance id, batched PutLogEvents calls.
//!
//! Everything is bounded: each call has a time limit, each stream buffers at most
//! [`ShipConfig::max_buffered`] lines (when CloudWatch Logs cannot keep up the oldest are
//! dropped, counted, and a note saying how many goes out in their place), a line is cut at
//! [`ShipConfig::max_line_bytes`] (also while its end is still to come), each poll reads at
//! most [`ShipConfig::read_chunk`] bytes of a file, and each instance's file on disk is kept
//! under [`ShipConfig::max_file_bytes`]: once everything in it has been read, it is emptied
//! and the process writes on from its start (see [`keep_file_under`]).

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde::Serialize;
use stack::{Clients, Stack};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::fleet::FleetState;

/// How the shipper works; [`ShipConfig::default`] is what the local cloud uses.
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// How often the files are read and the buffers sent.
    pub poll: Duration,
    /// The time limit of each CloudWatch Logs call.
    pub call_timeout: Duration,
    /// Lines buffered per stream; beyond it the oldest are dropped (and counted).
    pub max_buffered: usize,
    /// Lines longer than this many bytes are cut (CloudWatch Logs takes up to 256 KiB).
    pub max_line_bytes: usize,
    /// Events per PutLogEvents call (CloudWatch Logs takes up to 10,000).
    pub batch_events: usize,
    /// Bytes per PutLogEvents call, counted as CloudWatch Logs does: each message's bytes
    /// plus 26 (it takes up to 1,048,576).
    pub batch_bytes: usize,
    /// Bytes read from one file per poll.
    pub read_chunk: usize,
    /// How long a file is still read after its instance left the fleet (its last lines).
    pub linger: Duration,
    /// An instance's log file is emptied once it is larger than this and wholly read.
    pub max_file_bytes: u64,
}

impl Default for ShipConfig {
    fn default() -> ShipConfig {
        ShipConfig {
            poll: Duration::from_secs(1),
            call_timeout: Duration::from_secs(10),
            max_buffered: 5_000,
            max_line_bytes: 16 * 1024,
            batch_events: 1_000,
            batch_bytes: 512 * 1024,
            read_chunk: 1024 * 1024,
            linger: Duration::from_secs(15),
            max_file_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What the shipper has done, for status lines and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShipStats {
    /// Lines accepted by CloudWatch Logs.
    pub shipped: u64,
    /// Lines dropped because a stream's buffer was full.
    pub dropped: u64,
    /// Lines cut at the length limit.
    pub truncated: u64,
    /// Times an instance's log file was emptied to keep it under its bound.
    pub files_emptied: u64,
    /// Bytes emptied from a log file before they were read (a process writing faster than
    /// the shipper reads); a note in the stream says so where it happened.
    pub unread_bytes_cut: u64,
    /// Streams being shipped now.
    pub streams: usize,
    /// The last failed call, until one succeeds.
    pub error: Option<String>,
}

/// How long a stream waits after a failed call before the next.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// One thing the operator of the local cloud should read about the shipping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipNote {
    /// Lines are failing to go out or were lost (not: shipping works again).
    pub trouble: bool,
    pub text: String,
}

impl std::fmt::Display for ShipNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// How often at most the lines lost (dropped, cut, emptied unread) are told: a process that
/// keeps writing too fast or too long would otherwise make a note every poll.
pub const LOSS_NOTE_EVERY: Duration = Duration::from_secs(30);

/// What of the shipper's statistics is news for its operator, from one reading to the next
/// (`flightdeck local up`'s output, the console's notes): the shipping failing and working
/// again at once, the lines lost at most every [`LOSS_NOTE_EVERY`], summed since the last
/// note about them.
#[derive(Debug)]
pub struct ShipNews {
    /// The shipper's settings, for the notes' words.
    config: ShipConfig,
    /// The statistics as last told: the error as last read, the losses as last noted.
    told: ShipStats,
    losses_told_at: Option<Instant>,
}

impl ShipNews {
    /// News of a shipper running with `config`.
    pub fn new(config: ShipConfig) -> Self {
        Self {
            config,
            told: ShipStats::default(),
            losses_told_at: None,
        }
    }

    /// The notes `stats` (the shipper's latest) make against what was told before.
    pub fn news(&mut self, stats: &ShipStats, now: Instant) -> Vec<ShipNote> {
        let losses_due = self
            .losses_told_at
            .is_none_or(|at| now.duration_since(at) >= LOSS_NOTE_EVERY);
        let mut against = self.told.clone();
        if !losses_due {
            // Not yet: what was lost stays untold, and is summed into the next note.
            against.take_losses(stats);
        }
        let notes = stats.notes_since(&against, &self.config);
        self.told.error.clone_from(&stats.error);
        if losses_due && stats.losses() != self.told.losses() {
            self.told.take_losses(stats);
            self.losses_told_at = Some(now);
        }
        notes
    }
}

impl ShipStats {
    /// What changed since `before` that the operator of the local cloud should read: the
    /// shipping failing or working again, lines dropped, cut or emptied unread. One note each,
    /// none when nothing of that changed (lines shipped are not news).
    pub fn notes_since(&self, before: &ShipStats, config: &ShipConfig) -> Vec<ShipNote> {
        let mut notes = Vec::new();
        let mut note = |trouble: bool, text: String| notes.push(ShipNote { trouble, text });
        let (retry, buffered) = (RETRY_AFTER.as_secs(), config.max_buffered);
        match (&before.error, &self.error) {
            (None, Some(e)) => note(
                true,
                format!(
                    "shipping to CloudWatch Logs failed ({e}); each stream tries again every \
                     {retry} s, its lines wait in a buffer of at most {buffered} (the oldest \
                     dropped past it)"
                ),
            ),
            (Some(_), None) => note(
                false,
                format!(
                    "shipping to CloudWatch Logs again ({} lines shipped so far)",
                    self.shipped
                ),
            ),
            _ => {}
        }
        let dropped = self.dropped.saturating_sub(before.dropped);
        if dropped > 0 {
            note(
                true,
                format!(
                    "{dropped} line(s) dropped: an instance wrote faster than CloudWatch Logs \
                     took them (at most {buffered} buffered per instance); a note in its \
                     stream says how many"
                ),
            );
        }
        let truncated = self.truncated.saturating_sub(before.truncated);
        if truncated > 0 {
            let max = config.max_line_bytes;
            note(
                true,
                format!(
                    "{truncated} line(s) longer than {max} bytes cut (the rest is counted in \
                     the line)"
                ),
            );
        }
        let cut = self
            .unread_bytes_cut
            .saturating_sub(before.unread_bytes_cut);
        if cut > 0 {
            let (cut, chunk) = (
                crate::storage::human(cut),
                crate::storage::human(config.read_chunk as u64),
            );
            note(
                true,
                format!(
                    "{cut} of an instance's log emptied before it was read: it wrote faster \
                     than the shipper reads ({chunk} a poll); a note in its stream marks the gap"
                ),
            );
        }
        notes
    }

    /// Lines dropped, lines cut, bytes emptied unread.
    fn losses(&self) -> (u64, u64, u64) {
        (self.dropped, self.truncated, self.unread_bytes_cut)
    }

    fn take_losses(&mut self, from: &ShipStats) {
        (self.dropped, self.truncated, self.unread_bytes_cut) = from.losses();
    }

    /// One line for the end of a run: what was shipped and lost.
    pub fn summary(&self) -> String {
        let mut text = format!("{} line(s) shipped to CloudWatch Logs", self.shipped);
        let lost: Vec<String> = [
            (self.dropped, "dropped"),
            (self.truncated, "cut at the length limit"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !lost.is_empty() {
            text.push_str(&format!(" ({})", lost.join(", ")));
        }
        if self.unread_bytes_cut > 0 {
            text.push_str(&format!(
                "; {} emptied unread",
                crate::storage::human(self.unread_bytes_cut)
            ));
        }
        if let Some(e) = &self.error {
            text.push_str(&format!("; the last call failed: {e}"));
        }
        text
    }
}

/// The shipper's handle: its statistics, and `stop` (which sends what is buffered first).
pub struct LogShipper {
    config: ShipConfig,
    cancel: CancellationToken,
    stats: watch::Receiver<ShipStats>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LogShipper {
    /// Start shipping the lines of every instance in `fleet`, into the log group of its role.
    pub fn start(
        clients: &Clients,
        stack: &Stack,
        fleet: watch::Receiver<FleetState>,
        config: ShipConfig,
    ) -> LogShipper {
        let (tx, rx) = watch::channel(ShipStats::default());
        let cancel = CancellationToken::new();
        let groups = stack
            .groups()
            .into_iter()
            .map(|g| (g.name.clone(), g.logs.group.clone()))
            .collect();
        let agent = Shipper {
            client: clients.logs.clone(),
            groups,
            config: config.clone(),
            streams: BTreeMap::new(),
            stats: ShipStats::default(),
            tx,
        };
        let task = tokio::spawn(agent.run(fleet, cancel.clone()));
        LogShipper {
            config,
            cancel,
            stats: rx,
            task: Some(task),
        }
    }

    pub fn stats(&self) -> ShipStats {
        self.stats.borrow().clone()
    }

    pub fn config(&self) -> &ShipConfig {
        &self.config
    }

    /// The statistics as they change (after every poll).
    pub fn subscribe(&self) -> watch::Receiver<ShipStats> {
        self.stats.clone()
    }

    /// Read the files a last time, send what is buffered (each call still time-limited),
    /// then stop.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LogShipper {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// One instance's stream: where its file is read up to, and the lines not yet sent.
struct Stream {
    log_group: String,
    path: PathBuf,
    offset: u64,
    /// The start of a line whose end has not been written yet (at most one byte over the
    /// line bound: enough to know it will be cut).
    partial: Vec<u8>,
    /// Bytes of that line not kept in `partial`.
    partial_skipped: u64,
    /// `(timestamp in ms, message)`, oldest first.
    pending: VecDeque<(i64, String)>,
    /// Lines dropped since the last note about them went out.
    dropped: u64,
    created: bool,
    /// When the instance left the fleet.
    gone_since: Option<Instant>,
    /// No calls for this stream before this instant (after a failure).
    retry_at: Option<Instant>,
    /// The last call's failure, until a call for this stream succeeds.
    failing: Option<String>,
}

struct Shipper {
    client: aws_sdk_cloudwatchlogs::Client,
    /// Auto Scaling group name -> log group name.
    groups: BTreeMap<String, String>,
    config: ShipConfig,
    streams: BTreeMap<String, Stream>,
    stats: ShipStats,
    tx: watch::Sender<ShipStats>,
}

impl Shipper {
    async fn run(mut self, mut fleet: watch::Receiver<FleetState>, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let state = fleet.borrow_and_update().clone();
            self.follow(&state);
            self.read_all();
            self.send_all(false).await;
            self.publish();
        }
        // The last lines of the processes (the fleet stops before the shipper).
        self.read_all();
        self.send_all(true).await;
        self.publish();
    }

    /// Add a stream for each new instance; mark the ones that left.
    fn follow(&mut self, state: &FleetState) {
        let now = Instant::now();
        for view in &state.instances {
            let Some(group) = self.groups.get(&view.group) else {
                continue;
            };
            let stream = self
                .streams
                .entry(view.instance_id.clone())
                .or_insert_with(|| Stream {
                    log_group: group.clone(),
                    path: view.log.clone(),
                    offset: 0,
                    partial: Vec::new(),
                    partial_skipped: 0,
                    pending: VecDeque::new(),
                    dropped: 0,
                    created: false,
                    gone_since: None,
                    retry_at: None,
                    failing: None,
                });
            stream.gone_since = None;
        }
        for (id, stream) in self.streams.iter_mut() {
            if stream.gone_since.is_none() && !state.instances.iter().any(|v| &v.instance_id == id)
            {
                stream.gone_since = Some(now);
            }
        }
        let linger = self.config.linger;
        self.streams.retain(|_, s| {
            !s.gone_since
                .is_some_and(|t| now.duration_since(t) > linger && s.pending.is_empty())
        });
        self.stats.streams = self.streams.len();
    }

    fn read_all(&mut self) {
        let now = chrono::Utc::now().timestamp_millis();
        for stream in self.streams.values_mut() {
            let lines = match read_new(stream, self.config.read_chunk, self.config.max_line_bytes) {
                Ok(lines) => lines,
                // Not written yet (a process that has just started), or gone: try again.
                Err(_) => continue,
            };
            for (line, skipped) in lines {
                let (message, cut) = bounded_line(&line, skipped, self.config.max_line_bytes);
                if cut {
                    self.stats.truncated += 1;
                }
                if message.trim().is_empty() {
                    continue;
                }
                self.stats.dropped += push_bounded(stream, message, now, self.config.max_buffered);
            }
            match keep_file_under(stream, self.config.max_file_bytes) {
                Ok(Emptied::No) | Err(_) => {}
                Ok(Emptied::Read) => self.stats.files_emptied += 1,
                Ok(Emptied::Unread(bytes)) => {
                    self.stats.files_emptied += 1;
                    self.stats.unread_bytes_cut += bytes;
                    let note = format!(
                        "[flightdeck local: {bytes} bytes of this instance's log were cut before \
                         they were shipped: it wrote faster than they could be read]"
                    );
                    self.stats.dropped += push_bounded(stream, note, now, self.config.max_buffered);
                }
            }
        }
    }

    async fn send_all(&mut self, last: bool) {
        let now = Instant::now();
        let ids: Vec<String> = self.streams.keys().cloned().collect();
        for id in ids {
            // Bounded: at most this many calls per stream per poll.
            let mut recreated = false;
            for _ in 0..8 {
                let Some(stream) = self.streams.get_mut(&id) else {
                    break;
                };
                if stream.pending.is_empty() && stream.dropped == 0 {
                    break;
                }
                if !last && stream.retry_at.is_some_and(|t| now < t) {
                    break;
                }
                match send_batch(&self.client, &id, stream, &self.config).await {
                    Ok(n) => {
                        self.stats.shipped += n as u64;
                        stream.failing = None;
                        stream.retry_at = None;
                    }
                    Err(e) if !stream.created && !recreated => {
                        // The stream was gone (an emulator restart, a deleted stream): create
                        // it and send again at once, once, rather than after a pause (or never,
                        // on the last pass).
                        recreated = true;
                        stream.failing = Some(e);
                    }
                    Err(e) => {
                        stream.failing = Some(e);
                        stream.retry_at = Some(Instant::now() + RETRY_AFTER);
                        break;
                    }
                }
            }
        }
        // Until the stream that failed ships again (one stream working does not hide another
        // failing).
        self.stats.error = self
            .streams
            .iter()
            .find_map(|(id, s)| s.failing.as_ref().map(|e| format!("{id}: {e}")));
    }

    fn publish(&mut self) {
        self.tx.send_replace(self.stats.clone());
    }
}

/// What [`keep_file_under`] did.
#[derive(Debug, PartialEq, Eq)]
enum Emptied {
    No,
    /// Emptied after every byte in it had been read.
    Read,
    /// Emptied with this many bytes not read yet.
    Unread(u64),
}

/// Keeps an instance's log file under `max` bytes on disk. Once a file is larger than `max`
/// and every byte of it has been read, it is emptied: the fleet opens it for appending, so the
/// process goes on writing at the new end, from the start, and the next read starts there.
/// What was in it was read first, so it is in CloudWatch Logs or on its way; only what a
/// process writes between the last read and the cut, the same instant, can be lost. A file
/// that grows faster than it is read (more than a read chunk a poll) is emptied anyway at
/// four times `max`, and the bytes cut unread are reported.
fn keep_file_under(stream: &mut Stream, max: u64) -> std::io::Result<Emptied> {
    // Most polls end here, by the file's size alone, without opening it.
    if std::fs::metadata(&stream.path)?.len() <= max {
        return Ok(Emptied::No);
    }
    let file = std::fs::OpenOptions::new().write(true).open(&stream.path)?;
    let len = file.metadata()?.len();
    if len <= max {
        return Ok(Emptied::No);
    }
    let unread = len.saturating_sub(stream.offset);
    if unread > 0 && len <= max.saturating_mul(4) {
        return Ok(Emptied::No);
    }
    file.set_len(0)?;
    stream.offset = 0;
    if unread > 0 {
        // The line in progress ends somewhere in what was cut.
        stream.partial.clear();
        stream.partial_skipped = 0;
        return Ok(Emptied::Unread(unread));
    }
    Ok(Emptied::Read)
}

/// The complete lines written to the stream's file since the last read (at most `chunk`
/// bytes), each with the count of its bytes not kept. A file shorter than what was read
/// (recreated) is read again from its start. Of a line still being written, what is past
/// `max_line` is skipped and counted ([`bounded_line`] notes the cut when its end comes).
fn read_new(
    stream: &mut Stream,
    chunk: usize,
    max_line: usize,
) -> std::io::Result<Vec<(Vec<u8>, u64)>> {
    let mut file = std::fs::File::open(&stream.path)?;
    let len = file.metadata()?.len();
    if len < stream.offset {
        stream.offset = 0;
        stream.partial.clear();
        stream.partial_skipped = 0;
    }
    if len == stream.offset {
        return Ok(Vec::new());
    }
    file.seek(SeekFrom::Start(stream.offset))?;
    let mut buf = Vec::with_capacity(chunk.min(64 * 1024));
    let n = file.take(chunk as u64).read_to_end(&mut buf)?;
    stream.offset += n as u64;
    let mut lines = Vec::new();
    let mut rest: &[u8] = &buf;
    while let Some(at) = rest.iter().position(|b| *b == b'\n') {
        let mut line = std::mem::take(&mut stream.partial);
        line.extend_from_slice(&rest[..at]);
        lines.push((line, std::mem::take(&mut stream.partial_skipped)));
        rest = &rest[at + 1..];
    }
    let keep = rest
        .len()
        .min((max_line + 1).saturating_sub(stream.partial.len()));
    stream.partial.extend_from_slice(&rest[..keep]);
    stream.partial_skipped += (rest.len() - keep) as u64;
    Ok(lines)
}

/// A line as text, cut to `max` bytes (at a character boundary) with a note of what was cut
/// (with the `skipped` bytes already left out of `line`), and without a trailing carriage
/// return.
pub fn bounded_line(line: &[u8], skipped: u64, max: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    if text.len() <= max && skipped == 0 {
        return (text.to_owned(), false);
    }
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (
        format!(
            "{} …[{} bytes cut]",
            &text[..end],
            (text.len() - end) as u64 + skipped
        ),
        true,
    )
}

/// Buffer a line; a full buffer loses its oldest line (counted in the stream's `dropped`).
/// Returns how many lines were dropped.
fn push_bounded(stream: &mut Stream, message: String, timestamp: i64, max: usize) -> u64 {
    let mut dropped = 0;
    while stream.pending.len() >= max.max(1) {
        stream.pending.pop_front();
        dropped += 1;
    }
    stream.dropped += dropped;
    stream.pending.push_back((timestamp, message));
    dropped
}

fn event(timestamp: i64, message: &str) -> Result<InputLogEvent, String> {
    InputLogEvent::builder()
        .message(message)
        .timestamp(timestamp)
        .build()
        .map_err(|e| e.to_string())
}

/// The note that takes the place of dropped lines.
pub fn dropped_note(dropped: u64) -> String {
    format!(
        "[flightdeck log shipper] {dropped} older line(s) of this instance were dropped: \
         CloudWatch Logs did not take them fast enough and the buffer is bounded"
    )
}

/// One PutLogEvents call with the oldest buffered lines (creating the stream first if
/// needed); returns how many lines CloudWatch Logs took. On failure the lines stay buffered.
async fn send_batch(
    client: &aws_sdk_cloudwatchlogs::Client,
    instance_id: &str,
    stream: &mut Stream,
    config: &ShipConfig,
) -> Result<usize, String> {
    let timed =
        |what: &'static str| move |_| format!("{what} took longer than {:?}", config.call_timeout);
    if !stream.created {
        let created = tokio::time::timeout(
            config.call_timeout,
            client
                .create_log_stream()
                .log_group_name(&stream.log_group)
                .log_stream_name(instance_id)
                .send(),
        )
        .await
        .map_err(timed("CreateLogStream"))?;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e) => {
                return Err(format!(
                    "CreateLogStream {}/{instance_id}: {}",
                    stream.log_group,
                    stack::errors::describe(&e)
                ))
            }
        }
        stream.created = true;
    }
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut note = None;
    if stream.dropped > 0 {
        let ts = stream
            .pending
            .front()
            .map(|(t, _)| *t)
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let text = dropped_note(stream.dropped);
        bytes += text.len() + 26;
        note = Some(stream.dropped);
        events.push(event(ts, &text)?);
    }
    for (ts, message) in stream.pending.iter() {
        let size = message.len() + 26;
        if events.len() >= config.batch_events
            || (bytes + size > config.batch_bytes && !events.is_empty())
        {
            break;
        }
        bytes += size;
        events.push(event(*ts, message)?);
    }
    let taken = events.len() - usize::from(note.is_some());
    let sent = tokio::time::timeout(
        config.call_timeout,
        client
            .put_log_events()
            .log_group_name(&stream.log_group)
            .log_stream_name(instance_id)
            .set_log_events(Some(events))
            .send(),
    )
    .await
    .map_err(timed("PutLogEvents"))?;
    match sent {
        Ok(_) => {
            stream.pending.drain(..taken);
            if let Some(n) = note {
                stream.dropped -= n;
            }
            Ok(taken)
        }
        Err(e) => {
            // The stream may have gone with an emulator restart: create it again next time.
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                stream.created = false;
            }
            Err(format!(
                "PutLogEvents {}/{instance_id}: {}",
                stream.log_group,
                stack::errors::describe(&e)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn stream(path: PathBuf) -> Stream {
        Stream {
            log_group: "/flightdeck/worker".into(),
            path,
            offset: 0,
            partial: Vec::new(),
            partial_skipped: 0,
            pending: VecDeque::new(),
            dropped: 0,
            created: false,
            gone_since: None,
            retry_at: None,
            failing: None,
        }
    }

    #[test]
    fn lines_are_read_whole_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i-1.log");
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        let mut s = stream(path.clone());
        let lines = texts(read_new(&mut s, 1024, 100).unwrap());
        assert_eq!(lines, vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(read_new(&mut s, 1024, 100).unwrap().is_empty());
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"ee\nfour\n").unwrap();
        let lines = texts(read_new(&mut s, 1024, 100).unwrap());
        assert_eq!(lines, vec![b"three".to_vec(), b"four".to_vec()]);
        // A recreated (shorter) file is read from its start.
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(
            texts(read_new(&mut s, 1024, 100).unwrap()),
            vec![b"new".to_vec()]
        );
    }

    #[test]
    fn a_read_takes_at_most_a_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i-2.log");
        std::fs::write(&path, "aaaa\nbbbb\ncccc\n").unwrap();
        let mut s = stream(path);
        assert_eq!(
            texts(read_new(&mut s, 7, 100).unwrap()),
            vec![b"aaaa".to_vec()]
        );
        assert_eq!(
            texts(read_new(&mut s, 100, 100).unwrap()),
            vec![b"bbbb".to_vec(), b"cccc".to_vec()]
        );
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let (line, cut) = bounded_line("héllo wörld".as_bytes(), 0, 2);
        assert!(cut);
        assert_eq!(line, "h …[12 bytes cut]");
        assert_eq!(bounded_line(b"short\r", 0, 100), ("short".into(), false));
        assert_eq!(
            bounded_line(b"short", 7, 100),
            ("short …[7 bytes cut]".into(), true)
        );
    }

    fn append(path: &std::path::Path, text: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_line_without_its_end_is_held_up_to_the_line_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i-3.log");
        let mut s = stream(path.clone());
        // 10 MB of one line, written in pieces, holds 9 bytes until its end comes.
        for _ in 0..10 {
            append(&path, &"x".repeat(1_000_000));
            assert!(read_new(&mut s, 2_000_000, 8).unwrap().is_empty());
            assert_eq!(s.partial.len(), 9);
        }
        append(&path, "y\nnext\n");
        let lines = read_new(&mut s, 2_000_000, 8).unwrap();
        assert_eq!(lines.len(), 2);
        let (line, skipped) = &lines[0];
        assert_eq!(
            bounded_line(line, *skipped, 8).0,
            "xxxxxxxx …[9999993 bytes cut]"
        );
        assert_eq!(lines[1], (b"next".to_vec(), 0));
    }

    #[test]
    fn a_log_file_is_emptied_past_its_bound_once_read_and_the_process_writes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i-4.log");
        let mut s = stream(path.clone());
        // The process's own handle, opened for appending as the fleet opens it.
        let mut process = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        use std::io::Write as _;
        for i in 0..10 {
            writeln!(process, "line {i:04}").unwrap();
        }
        // Under the bound: kept.
        assert_eq!(keep_file_under(&mut s, 1000).unwrap(), Emptied::No);
        // Over it but not read yet: kept (up to four times the bound).
        assert_eq!(keep_file_under(&mut s, 50).unwrap(), Emptied::No);
        assert_eq!(read_new(&mut s, 1024, 100).unwrap().len(), 10);
        assert_eq!(keep_file_under(&mut s, 50).unwrap(), Emptied::Read);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        // The process writes on, at the new end, and the next read finds it.
        writeln!(process, "after").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 6);
        assert_eq!(
            texts(read_new(&mut s, 1024, 100).unwrap()),
            vec![b"after".to_vec()]
        );
        // A file past four times the bound is emptied unread, and the bytes are counted.
        for i in 0..30 {
            writeln!(process, "line {i:04}").unwrap();
        }
        assert_eq!(keep_file_under(&mut s, 50).unwrap(), Emptied::Unread(300));
        writeln!(process, "later").unwrap();
        assert_eq!(
            texts(read_new(&mut s, 1024, 100).unwrap()),
            vec![b"later".to_vec()]
        );
    }

    fn texts(lines: Vec<(Vec<u8>, u64)>) -> Vec<Vec<u8>> {
        lines.into_iter().map(|(line, _)| line).collect()
    }

    #[test]
    fn a_full_buffer_drops_its_oldest_lines_and_counts_them() {
        let mut s = stream(PathBuf::from("/nonexistent"));
        for i in 0..7 {
            push_bounded(&mut s, format!("line {i}"), i, 5);
        }
        assert_eq!(s.pending.len(), 5);
        assert_eq!(s.dropped, 2);
        assert_eq!(s.pending.front().unwrap().1, "line 2");
        assert!(dropped_note(2).contains("2 older line(s)"));
    }

    fn texts_of(notes: Vec<ShipNote>) -> Vec<String> {
        notes.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn notes_say_what_went_wrong_once_and_when_it_works_again() {
        let config = ShipConfig::default();
        let quiet = ShipStats::default();
        let shipping = ShipStats {
            shipped: 40,
            ..quiet.clone()
        };
        assert!(
            shipping.notes_since(&quiet, &config).is_empty(),
            "lines shipped are not news"
        );
        let failing = ShipStats {
            error: Some("i-1: PutLogEvents took longer than 10s".into()),
            ..shipping.clone()
        };
        let notes = texts_of(failing.notes_since(&shipping, &config));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("shipping to CloudWatch Logs failed (i-1: PutLogEvents"));
        assert!(notes[0].contains("every 5 s") && notes[0].contains("at most 5000"));
        // Still failing, with another failure's words: no second line.
        let still = ShipStats {
            error: Some("i-1: connection refused".into()),
            ..failing.clone()
        };
        assert!(still.notes_since(&failing, &config).is_empty());
        let lossy = ShipStats {
            shipped: 90,
            dropped: 12,
            truncated: 1,
            unread_bytes_cut: 3 << 20,
            error: None,
            ..still.clone()
        };
        let all = lossy.notes_since(&still, &config);
        let troubles: Vec<bool> = all.iter().map(|n| n.trouble).collect();
        assert_eq!(
            troubles,
            [false, true, true, true],
            "working again is not trouble"
        );
        let notes = texts_of(all);
        assert_eq!(
            notes[0],
            "shipping to CloudWatch Logs again (90 lines shipped so far)"
        );
        assert!(notes[1].starts_with("12 line(s) dropped"));
        assert!(notes[2].starts_with("1 line(s) longer than 16384 bytes cut"));
        assert!(
            notes[3].starts_with("3.0 MB of an instance's log emptied"),
            "{}",
            notes[3]
        );
        assert_eq!(
            lossy.summary(),
            "90 line(s) shipped to CloudWatch Logs (12 dropped, 1 cut at the length limit); \
             3.0 MB emptied unread"
        );
        assert_eq!(shipping.summary(), "40 line(s) shipped to CloudWatch Logs");
    }

    #[test]
    fn losses_are_told_at_most_every_half_minute_summed_and_failures_at_once() {
        let mut news = ShipNews::new(ShipConfig::default());
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let lossy = |dropped: u64, error: Option<&str>| ShipStats {
            dropped,
            error: error.map(str::to_owned),
            ..ShipStats::default()
        };
        let first = news.news(&lossy(5, None), at(0));
        assert_eq!(first.len(), 1);
        assert!(first[0].text.starts_with("5 line(s) dropped"), "{first:?}");
        // More lost within the half minute: not yet. A failure: at once.
        assert!(news.news(&lossy(9, None), at(10)).is_empty());
        let failed = news.news(&lossy(12, Some("i-1: refused")), at(20));
        assert_eq!(failed.len(), 1);
        assert!(failed[0]
            .text
            .starts_with("shipping to CloudWatch Logs failed"));
        // Past the half minute: what was lost since the last note, summed.
        let later = news.news(&lossy(12, Some("i-1: refused")), at(31));
        assert_eq!(later.len(), 1);
        assert!(later[0].text.starts_with("7 line(s) dropped"), "{later:?}");
        // Nothing more lost: nothing to say, and the next loss may be told at once.
        assert!(news
            .news(&lossy(12, None), at(70))
            .iter()
            .all(|n| !n.trouble));
        let again = news.news(&lossy(13, None), at(71));
        assert!(again[0].text.starts_with("1 line(s) dropped"), "{again:?}");
    }
}

#[cfg(test)]
mod live_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Write;

    use chrono::Utc;
    use stack::config::Role;

    use super::*;
    use crate::fleet::{InstanceView, Phase};
    use crate::testing::TestCloud;

    fn instance(id: &str, group: &str, role: Role, log: PathBuf) -> InstanceView {
        InstanceView {
            instance_id: id.into(),
            group: group.into(),
            role,
            pid: None,
            port: None,
            endpoint: None,
            phase: Phase::InService,
            started_at: Utc::now(),
            log,
        }
    }

    async fn until(
        rx: &mut watch::Receiver<ShipStats>,
        what: &str,
        ok: impl Fn(&ShipStats) -> bool,
    ) -> ShipStats {
        let wait = async {
            loop {
                let stats = rx.borrow_and_update().clone();
                if ok(&stats) {
                    return stats;
                }
                rx.changed().await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("{what}: {:?}", rx.borrow()))
    }

    #[tokio::test]
    async fn a_failing_stream_stays_reported_while_another_ships() {
        let cloud = TestCloud::provisioned().await;
        let dir = tempfile::tempdir().unwrap();
        let (api, worker) = (&cloud.stack.groups.api, &cloud.stack.groups.worker);
        // The worker's log group is gone: its stream cannot be created.
        cloud
            .clients
            .logs
            .delete_log_group()
            .log_group_name(&worker.logs.group)
            .send()
            .await
            .unwrap();
        let (api_log, worker_log) = (dir.path().join("i-api.log"), dir.path().join("i-wrk.log"));
        std::fs::write(&api_log, "api line 1\n").unwrap();
        std::fs::write(&worker_log, "worker line 1\n").unwrap();
        let state = FleetState {
            running: true,
            instances: vec![
                instance("i-api", &api.name, Role::Api, api_log.clone()),
                instance("i-wrk", &worker.name, Role::Worker, worker_log),
            ],
            ..FleetState::default()
        };
        let (_fleet_tx, fleet_rx) = watch::channel(state);
        let config = ShipConfig {
            poll: Duration::from_millis(100),
            ..ShipConfig::default()
        };
        let shipper = LogShipper::start(&cloud.clients, &cloud.stack, fleet_rx, config);
        let mut stats = shipper.subscribe();
        let failing = until(
            &mut stats,
            "the API's line ships, the worker's fails",
            |s| s.shipped >= 1 && s.error.is_some(),
        )
        .await;
        assert!(failing.error.as_deref().unwrap().starts_with("i-wrk: "));

        // The API's stream goes on shipping; the worker's failure is still the news.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&api_log)
            .unwrap();
        writeln!(file, "api line 2").unwrap();
        let later = until(&mut stats, "the API's second line", |s| s.shipped >= 2).await;
        assert!(
            later.error.as_deref().unwrap().starts_with("i-wrk: "),
            "{later:?}"
        );
        assert!(later.notes_since(&failing, shipper.config()).is_empty());

        // The log group comes back: the worker's line ships, and the note says so.
        cloud
            .clients
            .logs
            .create_log_group()
            .log_group_name(&worker.logs.group)
            .send()
            .await
            .unwrap();
        let working = until(
            &mut stats,
            "the worker's line after the log group is back",
            |s| s.shipped >= 3 && s.error.is_none(),
        )
        .await;
        let notes = working.notes_since(&later, shipper.config());
        assert_eq!(
            notes,
            [ShipNote {
                trouble: false,
                text: "shipping to CloudWatch Logs again (3 lines shipped so far)".into()
            }]
        );

        // A stream deleted under the shipper (as an emulator restart loses it) is created
        // again in the same poll: the line ships, no failure is reported.
        cloud
            .clients
            .logs
            .delete_log_stream()
            .log_group_name(&api.logs.group)
            .log_stream_name("i-api")
            .send()
            .await
            .unwrap();
        writeln!(file, "api line 3").unwrap();
        let again = until(
            &mut stats,
            "the API's line after its stream was deleted",
            |s| s.shipped >= 4 || s.error.is_some(),
        )
        .await;
        assert_eq!((again.shipped, again.error), (4, None));
        shipper.stop().await;
    }
}
