//! The log lines view's model: what to read (a [`LogsRequest`]) and what was read (bounded
//! [`LogEntry`]s, oldest first). No I/O: the logs agent reads CloudWatch Logs
//! (FilterLogEvents) and `flightdeck logs` shares [`human_message`].

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Lines the view keeps; older ones leave from the top (and are counted).
pub const LINES_KEPT: usize = 2_000;
/// The time jumps of `+` and `-`: how far back the view reads.
pub const SINCE_STEPS: [u64; 6] = [300, 900, 3_600, 10_800, 86_400, 604_800];
/// Where a view opened with `:logs` starts: the last 15 minutes.
pub const SINCE_DEFAULT: u64 = 900;
/// Where a view opened from a dead letter starts: a day, or the letter's age and an hour.
pub const SINCE_DEAD_LETTER: u64 = 86_400;

/// What the view reads. A new request starts a new read; following or not is separate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogsRequest {
    /// A role (`api`, `worker`), an Auto Scaling group, a log group or an instance id;
    /// `None`: every log group of the stack.
    pub target: Option<String>,
    /// Lines about any of these (a video id, a correlation id); empty: every line.
    pub ids: Vec<String>,
    /// Lines with every one of these words (the view's `/` filter).
    pub terms: Vec<String>,
    /// Lines of the last this many seconds.
    pub since_s: u64,
}

impl LogsRequest {
    /// What the title says the view shows.
    pub fn describe(&self) -> String {
        let mut out = self
            .target
            .clone()
            .unwrap_or_else(|| "every group".to_owned());
        if !self.ids.is_empty() {
            out.push_str(&format!(" · about {}", self.ids.join(" or ")));
        }
        out
    }

    /// One step longer (`true`) or shorter back in time; `None` at the end of the steps.
    pub fn step_since(&self, longer: bool) -> Option<u64> {
        let i = SINCE_STEPS
            .iter()
            .position(|&s| s >= self.since_s)
            .unwrap_or(SINCE_STEPS.len() - 1);
        let exact = SINCE_STEPS[i] == self.since_s;
        let next = if longer {
            if exact {
                i + 1
            } else {
                i
            }
        } else {
            i.checked_sub(1)?
        };
        SINCE_STEPS.get(next).copied()
    }
}

/// One log line as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// CloudWatch Logs' event id: the row's key.
    pub event_id: String,
    /// The log group (`/flightdeck/worker`).
    pub group: String,
    /// The log stream: the instance id.
    pub stream: String,
    pub at: Timestamp,
    /// `INFO`, `WARN`, `ERROR`... when the line is a JSON object with a level.
    pub level: Option<String>,
    /// The message and its fields, ids first ([`human_message`] without the level).
    pub text: String,
    /// The line as it was written.
    pub raw: String,
}

impl LogEntry {
    /// Builds the entry from CloudWatch Logs' fields.
    pub fn new(
        event_id: String,
        group: String,
        stream: String,
        at: Timestamp,
        raw: String,
    ) -> Self {
        let (level, text) = split_message(&raw);
        LogEntry {
            event_id,
            group,
            stream,
            at,
            level,
            text,
            raw,
        }
    }

    /// The role part of the log group: `worker` for `/flightdeck/worker`.
    pub fn source(&self) -> &str {
        self.group.rsplit('/').next().unwrap_or(&self.group)
    }

    /// Whether the line has every word of `filter` (case as typed, as CloudWatch Logs does).
    pub fn matches(&self, filter: &str) -> bool {
        filter
            .split_whitespace()
            .all(|w| self.raw.contains(w) || self.stream.contains(w))
    }
}

/// A line for a person: `LEVEL message correlation_id=.. video_id=.. key=value ...`; a line
/// that is not a JSON object is shown as it is.
pub fn human_message(message: &str) -> String {
    match split_message(message) {
        (Some(level), text) => format!("{level:<5} {text}"),
        (None, text) => text,
    }
}

/// The level of a JSON line, and the rest as [`human_message`] shows it.
fn split_message(message: &str) -> (Option<String>, String) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(message)
    else {
        return (None, message.to_owned());
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = map.get("message").map(text).unwrap_or_default();
    // The ids first: they are what a person follows from line to line.
    for key in ["correlation_id", "video_id"] {
        if let Some(v) = map.get(key) {
            out.push_str(&format!(" {key}={}", text(v)));
        }
    }
    for (k, v) in &map {
        if matches!(
            k.as_str(),
            "level" | "message" | "timestamp" | "target" | "correlation_id" | "video_id"
        ) {
            continue;
        }
        out.push_str(&format!(" {k}={}", text(v)));
    }
    (map.get("level").map(text), out)
}

/// The ids a dead letter is about: its body's `video_id` and `correlation_id` (a body that
/// is not a task message may have neither).
pub fn ids_of_dead_letter(body: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return Vec::new();
    };
    ["video_id", "correlation_id"]
        .iter()
        .filter_map(|k| v.get(k).and_then(|x| x.as_str()))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The view's lines and what it asks for.
#[derive(Debug, Clone, Default)]
pub struct Logs {
    /// What the view reads; set when the view opens and by its keys.
    pub request: LogsRequest,
    /// Whether new lines are read every couple of seconds (`f` pauses).
    pub follow: bool,
    /// What the view is about, when opened from something (`dead letter 5f1c…`).
    pub about: Option<String>,
    /// Oldest first, at most [`LINES_KEPT`].
    pub lines: VecDeque<LogEntry>,
    /// The request the lines answer; `None` before the first answer.
    pub answered: Option<LogsRequest>,
    pub at: Option<Timestamp>,
    /// More lines matched the first read than it kept (the newest were kept).
    pub more: bool,
    /// Lines that left the top to keep the bound.
    pub dropped: usize,
    /// Something the reader wants said: a log group missing, a target it does not know.
    pub note: Option<String>,
}

impl Logs {
    /// Opens the view on a new request, following.
    pub fn open(&mut self, request: LogsRequest, about: Option<String>) {
        self.request = request;
        self.about = about;
        self.follow = true;
    }

    /// Applies an answer; one for an older request is dropped. `true` when applied.
    pub fn apply(
        &mut self,
        at: Timestamp,
        request: &LogsRequest,
        reset: bool,
        lines: Vec<LogEntry>,
        more: bool,
        note: Option<String>,
    ) -> bool {
        if *request != self.request {
            return false;
        }
        if reset || self.answered.as_ref() != Some(request) {
            self.lines.clear();
            self.dropped = 0;
            self.more = more;
        }
        self.answered = Some(request.clone());
        self.at = Some(at);
        self.note = note;
        self.lines.extend(lines);
        // Lines can reach CloudWatch Logs late: keep the view in time order (a stable sort:
        // lines of the same millisecond keep the order they came in).
        if !self
            .lines
            .iter()
            .zip(self.lines.iter().skip(1))
            .all(|(a, b)| a.at <= b.at)
        {
            self.lines.make_contiguous().sort_by_key(|l| l.at);
        }
        while self.lines.len() > LINES_KEPT {
            self.lines.pop_front();
            self.dropped += 1;
        }
        true
    }

    pub fn get(&self, event_id: &str) -> Option<&LogEntry> {
        self.lines.iter().find(|l| l.event_id == event_id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn entry(id: &str, s: i64) -> LogEntry {
        LogEntry::new(
            id.into(),
            "/flightdeck/worker".into(),
            "i-1".into(),
            at(s),
            format!(r#"{{"level":"INFO","message":"line {id}"}}"#),
        )
    }

    #[test]
    fn since_steps_walk_both_ways_and_stop_at_the_ends() {
        let r = |since_s| LogsRequest {
            since_s,
            ..LogsRequest::default()
        };
        assert_eq!(r(900).step_since(true), Some(3_600));
        assert_eq!(r(900).step_since(false), Some(300));
        assert_eq!(r(300).step_since(false), None);
        assert_eq!(r(604_800).step_since(true), None);
        // A dead letter's own window (between steps) moves to the neighbouring steps.
        assert_eq!(r(5_000).step_since(true), Some(10_800));
        assert_eq!(r(5_000).step_since(false), Some(3_600));
    }

    #[test]
    fn answers_to_another_request_are_dropped_and_a_reset_starts_over() {
        let mut logs = Logs::default();
        let worker = LogsRequest {
            target: Some("worker".into()),
            since_s: 900,
            ..LogsRequest::default()
        };
        logs.open(worker.clone(), None);
        let api = LogsRequest {
            target: Some("api".into()),
            ..worker.clone()
        };
        assert!(!logs.apply(at(0), &api, true, vec![entry("x", 0)], false, None));
        assert!(logs.lines.is_empty());
        assert!(logs.apply(at(1), &worker, true, vec![entry("a", 1)], true, None));
        assert!(logs.more);
        // A follow-up adds; a line that arrived late is put in its place.
        assert!(logs.apply(
            at(2),
            &worker,
            false,
            vec![entry("c", 3), entry("b", 2)],
            false,
            None
        ));
        let ids: Vec<&str> = logs.lines.iter().map(|l| l.event_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(logs.more, "a follow-up keeps the first read's note");
        assert!(logs.apply(at(3), &worker, true, vec![entry("z", 9)], false, None));
        assert_eq!(logs.lines.len(), 1);
        assert!(!logs.more);
    }

    #[test]
    fn the_lines_are_bounded_and_the_dropped_counted() {
        let mut logs = Logs::default();
        let req = LogsRequest::default();
        logs.open(req.clone(), None);
        let batch: Vec<LogEntry> = (0..LINES_KEPT + 25)
            .map(|i| entry(&format!("{i:05}"), i64::try_from(i).unwrap()))
            .collect();
        logs.apply(at(0), &req, true, batch, false, None);
        assert_eq!(logs.lines.len(), LINES_KEPT);
        assert_eq!(logs.dropped, 25);
        assert_eq!(logs.lines.front().unwrap().event_id, "00025");
    }

    #[test]
    fn json_lines_read_as_level_message_and_fields_ids_first() {
        let raw = r#"{"timestamp":"t","level":"WARN","target":"w","message":"dead-lettering","video_id":"v","correlation_id":"c","reason":"x"}"#;
        assert_eq!(
            human_message(raw),
            "WARN  dead-lettering correlation_id=c video_id=v reason=x"
        );
        let e = LogEntry::new(
            "1".into(),
            "/flightdeck/worker".into(),
            "i-9".into(),
            at(0),
            raw.into(),
        );
        assert_eq!(e.level.as_deref(), Some("WARN"));
        assert_eq!(
            e.text,
            "dead-lettering correlation_id=c video_id=v reason=x"
        );
        assert_eq!(e.source(), "worker");
        assert!(e.matches("dead-lettering v"));
        assert!(e.matches("i-9"));
        assert!(!e.matches("Dead-lettering"));
        assert_eq!(human_message("plain text"), "plain text");
    }

    #[test]
    fn a_dead_letter_names_its_video_and_correlation() {
        assert_eq!(
            ids_of_dead_letter(r#"{"v":1,"video_id":"vid-9","correlation_id":"c-9"}"#),
            ["vid-9", "c-9"]
        );
        assert!(ids_of_dead_letter("not json").is_empty());
        assert!(ids_of_dead_letter(r#"{"video_id":" "}"#).is_empty());
    }
}
