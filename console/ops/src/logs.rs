//! Reading the instances' log lines from CloudWatch Logs (FilterLogEvents): one engine for
//! `flightdeck logs` and the console's `:logs` view.
//!
//! Every call has a time limit; a search pages through at most [`MAX_PAGES`] answers and keeps
//! at most its `limit` of lines. Text terms are sent as a quoted-term filter pattern (the one
//! form both CloudWatch Logs and the local emulator understand: one term per call) and every
//! term is checked again here, so several terms and "any of" searches mean the same at both.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use serde::Serialize;
use stack::errors::{describe, AwsFailure};
use stack::Stack;

/// The time limit of one FilterLogEvents call (on top of the client's own limits).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Answers read per log group and term in one search.
pub const MAX_PAGES: usize = 20;
/// Event ids remembered by a follower to leave out lines it has printed.
pub const SEEN_IDS: usize = 20_000;
/// How late a line may reach CloudWatch Logs and still be found by a follower's next read.
pub const LATE_MS: i64 = 30_000;

/// What to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Log group names.
    pub groups: Vec<String>,
    /// Log stream names (instance ids); empty: every stream.
    pub streams: Vec<String>,
    /// A line must contain every one of these.
    pub all: Vec<String>,
    /// And, unless empty, at least one of these (a video id or a correlation id).
    pub any: Vec<String>,
    /// Lines from this time (ms since the epoch).
    pub start_ms: i64,
    /// At most this many lines: the oldest ones when there are more, or with `newest` (a
    /// tail) the newest ones.
    pub limit: usize,
    pub newest: bool,
}

impl LogQuery {
    pub fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
    }

    /// The filter patterns to send: one search per "any" term, else one with the first
    /// "all" term, else one with none. A term with a double quote is not sent (it is still
    /// checked here).
    fn patterns(&self) -> Vec<Option<String>> {
        let quoted = |t: &String| (!t.contains('"') && !t.is_empty()).then(|| format!("\"{t}\""));
        if !self.any.is_empty() {
            return self.any.iter().map(quoted).collect();
        }
        vec![self.all.first().and_then(quoted)]
    }
}

/// One log line as CloudWatch Logs has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub event_id: String,
    pub group: String,
    /// The log stream: the instance id.
    pub stream: String,
    /// When it was written (ms since the epoch).
    pub timestamp: i64,
    pub message: String,
}

/// The lines a search found, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub lines: Vec<LogLine>,
    /// Whether more lines matched than were read (the limit or the page bound).
    pub more: bool,
    /// Log groups that do not exist at the target.
    pub missing_groups: Vec<String>,
    /// FilterLogEvents calls made.
    pub calls: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("FilterLogEvents on {group}: {failure}")]
    Aws { group: String, failure: AwsFailure },
    #[error("FilterLogEvents on {group} took longer than {limit:?}")]
    Timeout { group: String, limit: Duration },
}

impl LogsError {
    pub fn failure(&self) -> Option<&AwsFailure> {
        match self {
            LogsError::Aws { failure, .. } => Some(failure),
            LogsError::Timeout { .. } => None,
        }
    }
}

/// Which log groups and streams `target` names: a role (`api`, `worker`), an Auto Scaling
/// group name, a log group name, or an instance id (its stream, in every group). `None`:
/// every group of the stack.
pub fn resolve_target(
    stack: &Stack,
    target: Option<&str>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let all: Vec<String> = stack
        .groups()
        .iter()
        .map(|g| g.logs.group.clone())
        .collect();
    let Some(t) = target.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok((all, Vec::new()));
    };
    for g in stack.groups() {
        if t == role_name(g.role) || t == g.name || t == g.logs.group {
            return Ok((vec![g.logs.group.clone()], Vec::new()));
        }
    }
    if t.starts_with("i-")
        && t.len() > 2
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Ok((all, vec![t.to_owned()]));
    }
    let names: Vec<String> = stack
        .groups()
        .iter()
        .flat_map(|g| {
            [
                role_name(g.role).to_owned(),
                g.name.clone(),
                g.logs.group.clone(),
            ]
        })
        .collect();
    Err(format!(
        "`{t}` is neither a group nor an instance id: use one of {} or an instance id (i-...)",
        names.join(", ")
    ))
}

fn role_name(role: stack::config::Role) -> &'static str {
    match role {
        stack::config::Role::Api => "api",
        stack::config::Role::Worker => "worker",
    }
}

/// Search every group of the query; the lines of all groups, by time.
pub async fn search(
    client: &aws_sdk_cloudwatchlogs::Client,
    q: &LogQuery,
) -> Result<Found, LogsError> {
    let mut found = Found::default();
    let mut by_id = Lines::default();
    for group in &q.groups {
        for pattern in q.patterns() {
            match search_group(
                client,
                q,
                group,
                pattern.as_deref(),
                &mut by_id,
                &mut found.calls,
            )
            .await?
            {
                Ok(more) => found.more |= more,
                Err(Missing) => {
                    if !found.missing_groups.contains(group) {
                        found.missing_groups.push(group.clone());
                    }
                }
            }
        }
    }
    let limit = q.limit.max(1);
    if by_id.lines.len() > limit {
        found.more = true;
    }
    trim(&mut by_id.lines, limit, q.newest);
    found.lines = by_id.lines.into_values().collect();
    Ok(found)
}

/// The lines a search has read, by time and then in the order CloudWatch Logs gave them
/// (lines written in the same millisecond keep their order), each event once.
#[derive(Default)]
struct Lines {
    lines: BTreeMap<(i64, u64), LogLine>,
    ids: HashSet<String>,
    seq: u64,
}

impl Lines {
    fn add(&mut self, line: LogLine) {
        if self.ids.insert(line.event_id.clone()) {
            self.seq += 1;
            self.lines.insert((line.timestamp, self.seq), line);
        }
    }
}

/// Keeps at most `limit` lines: the oldest, or the newest for a tail.
fn trim(lines: &mut BTreeMap<(i64, u64), LogLine>, limit: usize, newest: bool) {
    while lines.len() > limit {
        if newest {
            lines.pop_first();
        } else {
            lines.pop_last();
        }
    }
}

/// The log group does not exist.
struct Missing;

async fn search_group(
    client: &aws_sdk_cloudwatchlogs::Client,
    q: &LogQuery,
    group: &str,
    pattern: Option<&str>,
    out: &mut Lines,
    calls: &mut usize,
) -> Result<Result<bool, Missing>, LogsError> {
    let mut token: Option<String> = None;
    let limit = q.limit.max(1);
    let mut more = false;
    for _ in 0..MAX_PAGES {
        let mut req = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(q.start_ms)
            .limit(i32::try_from(limit.min(10_000)).unwrap_or(10_000))
            .set_filter_pattern(pattern.map(str::to_owned))
            .set_next_token(token.clone());
        if !q.streams.is_empty() {
            req = req.set_log_stream_names(Some(q.streams.clone()));
        }
        *calls += 1;
        let answer = match tokio::time::timeout(CALL_TIMEOUT, req.send()).await {
            Err(_) => {
                return Err(LogsError::Timeout {
                    group: group.to_owned(),
                    limit: CALL_TIMEOUT,
                })
            }
            Ok(Err(e))
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(Err(Missing));
            }
            Ok(Err(e)) => {
                return Err(LogsError::Aws {
                    group: group.to_owned(),
                    failure: describe(&e),
                })
            }
            Ok(Ok(a)) => a,
        };
        for e in answer.events() {
            let message = e.message().unwrap_or_default();
            if !q.matches(message) {
                continue;
            }
            let line = LogLine {
                event_id: e.event_id().unwrap_or_default().to_owned(),
                group: group.to_owned(),
                stream: e.log_stream_name().unwrap_or_default().to_owned(),
                timestamp: e.timestamp().unwrap_or_default(),
                message: message.to_owned(),
            };
            out.add(line);
        }
        if out.lines.len() > limit {
            if !q.newest {
                return Ok(Ok(true));
            }
            // A tail reads on to the newest lines, holding no more than it keeps.
            trim(&mut out.lines, limit, true);
            more = true;
        }
        match answer.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
            _ => return Ok(Ok(more)),
        }
    }
    Ok(Ok(true))
}

/// A search read again and again (`flightdeck logs --follow`, the console's logs view): each
/// read starts at the newest line seen less [`LATE_MS`], never before the window, and only the
/// lines not seen before are new.
#[derive(Debug, Default)]
pub struct Tail {
    seen: Seen,
    newest: Option<i64>,
}

impl Tail {
    /// Where the next read starts, for a window that starts at `window_start` (ms).
    pub fn start(&self, window_start: i64) -> i64 {
        self.newest
            .map_or(window_start, |n| window_start.max(n - LATE_MS))
    }

    /// The lines of a read not seen before, in their order.
    pub fn fresh(&mut self, lines: Vec<LogLine>) -> Vec<LogLine> {
        let mut out = Vec::new();
        for line in lines {
            if self.seen.first_time(&line.event_id) {
                self.newest = Some(
                    self.newest
                        .map_or(line.timestamp, |n| n.max(line.timestamp)),
                );
                out.push(line);
            }
        }
        out
    }
}

/// The note for log groups the target lacks, with what to do.
pub fn missing_note(groups: &[String], target: &str) -> String {
    format!(
        "log group {} does not exist at {target} (provision the stack: Terraform, or `flightdeck local provision`)",
        groups.join(", ")
    )
}

/// Event ids already seen by a follower, bounded: the oldest are forgotten first.
#[derive(Debug, Default)]
pub struct Seen {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    /// Whether `id` is new (and remember it).
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() >= SEEN_IDS {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
        true
    }
}

/// A line for a person: `time instance LEVEL message key=value ...`; a line that is not a
/// JSON object is shown as it is.
pub fn human(line: &LogLine) -> String {
    let time = chrono::DateTime::from_timestamp_millis(line.timestamp)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| line.timestamp.to_string());
    format!("{time} {} {}", line.stream, human_message(&line.message))
}

pub use ui::logs::human_message;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn targets_name_groups_roles_and_instances() {
        let stack = Stack::embedded().unwrap();
        let (g, s) = resolve_target(&stack, Some("worker")).unwrap();
        assert_eq!(g, vec!["/flightdeck/worker".to_owned()]);
        assert!(s.is_empty());
        assert_eq!(
            resolve_target(&stack, Some("flightdeck-api")).unwrap().0,
            vec!["/flightdeck/api".to_owned()]
        );
        assert_eq!(
            resolve_target(&stack, Some("/flightdeck/api")).unwrap().0,
            vec!["/flightdeck/api".to_owned()]
        );
        let (g, s) = resolve_target(&stack, Some("i-0abc12")).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(s, vec!["i-0abc12".to_owned()]);
        assert_eq!(resolve_target(&stack, None).unwrap().0.len(), 2);
        let err = resolve_target(&stack, Some("db")).unwrap_err();
        assert!(
            err.contains("/flightdeck/worker") && err.contains("i-..."),
            "{err}"
        );
    }

    #[test]
    fn terms_all_and_any() {
        let q = LogQuery {
            all: vec!["WARN".into()],
            any: vec!["vid-1".into(), "corr-1".into()],
            ..LogQuery::default()
        };
        assert!(q.matches("WARN corr-1"));
        assert!(q.matches("WARN vid-1"));
        assert!(!q.matches("INFO vid-1"));
        assert!(!q.matches("WARN vid-2"));
        assert_eq!(
            q.patterns(),
            vec![Some("\"vid-1\"".to_owned()), Some("\"corr-1\"".to_owned())]
        );
        let q = LogQuery {
            all: vec!["say \"hi\"".into()],
            ..LogQuery::default()
        };
        assert_eq!(q.patterns(), vec![None]);
        assert_eq!(LogQuery::default().patterns(), vec![None]);
    }

    #[test]
    fn a_tail_reads_from_the_newest_line_less_the_margin_and_keeps_only_new_lines() {
        let line = |id: &str, t: i64| LogLine {
            event_id: id.into(),
            group: "g".into(),
            stream: "s".into(),
            timestamp: t,
            message: String::new(),
        };
        let mut tail = Tail::default();
        assert_eq!(tail.start(1_000), 1_000);
        let first = tail.fresh(vec![line("a", 100_000), line("b", 90_000)]);
        assert_eq!(first.len(), 2);
        assert_eq!(tail.start(1_000), 100_000 - LATE_MS);
        assert_eq!(tail.start(99_000), 99_000, "never before the window");
        let again = tail.fresh(vec![line("b", 90_000), line("c", 95_000)]);
        assert_eq!(again, vec![line("c", 95_000)]);
        assert_eq!(
            tail.start(0),
            100_000 - LATE_MS,
            "a late line does not move it back"
        );
    }

    #[test]
    fn seen_ids_are_bounded() {
        let mut seen = Seen::default();
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        for i in 0..SEEN_IDS {
            seen.first_time(&i.to_string());
        }
        assert!(seen.order.len() <= SEEN_IDS);
        assert!(seen.first_time("a"), "the oldest id was forgotten");
    }

    #[test]
    fn human_lines_carry_time_instance_and_message() {
        let line = LogLine {
            event_id: "1".into(),
            group: "/flightdeck/worker".into(),
            stream: "i-9".into(),
            timestamp: 1_800_000_000_000,
            message: r#"{"level":"WARN","message":"dead-lettering","video_id":"v"}"#.into(),
        };
        assert_eq!(
            human(&line),
            "2027-01-15 08:00:00.000 i-9 WARN  dead-lettering video_id=v"
        );
    }

    #[test]
    fn lines_of_the_same_millisecond_keep_their_order_and_come_once() {
        let mut lines = Lines::default();
        for (id, t) in [("z", 5), ("a", 5), ("m", 4), ("z", 5)] {
            lines.add(LogLine {
                event_id: id.into(),
                group: "g".into(),
                stream: "s".into(),
                timestamp: t,
                message: String::new(),
            });
        }
        let order: Vec<&str> = lines.lines.values().map(|l| l.event_id.as_str()).collect();
        assert_eq!(order, ["m", "z", "a"]);
    }

    #[test]
    fn a_tail_keeps_the_newest_lines() {
        let mut by_id = BTreeMap::new();
        for t in 0..10 {
            let line = LogLine {
                event_id: t.to_string(),
                group: "g".into(),
                stream: "s".into(),
                timestamp: t,
                message: String::new(),
            };
            by_id.insert((t, t.unsigned_abs()), line);
        }
        let mut tail = by_id.clone();
        trim(&mut tail, 3, true);
        assert_eq!(tail.keys().map(|k| k.0).collect::<Vec<_>>(), [7, 8, 9]);
        trim(&mut by_id, 3, false);
        assert_eq!(by_id.keys().map(|k| k.0).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
