//! The logs agent: while the logs view is open, the lines it asks for ([`ops::logs::search`],
//! FilterLogEvents), first the newest of the whole window, then every couple of seconds the
//! lines since the newest one seen (less a margin: lines can reach CloudWatch Logs late), each
//! sent once. Paused, it reads only when asked (`r`) or when the request changes. Talks to
//! CloudWatch Logs.

use std::time::Duration;

use chrono::Utc;
use stack::{Clients, Stack};
use tokio::sync::watch;
use ui::logs::{LogEntry, LogsRequest};
use ui::{Agent, ErrorClass, Report};

use super::{CallLog, Failure, Poller};
use ops::logs::{LogQuery, LogsError, Tail};

/// Between reads while following.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// Lines one read keeps (the view keeps [`ui::logs::LINES_KEPT`]).
pub const READ_LIMIT: usize = 1_000;
/// The wait while paused or closed: the request changing (or `r`) wakes the agent sooner.
const IDLE: Duration = Duration::from_secs(3_600);

/// What the view asks for, and whether to follow.
pub type Wanted = Option<(LogsRequest, bool)>;

pub struct LogsTailer {
    clients: Clients,
    calls: CallLog,
    stack: Stack,
    wanted: watch::Receiver<Wanted>,
    /// The request being read, and what of it was read.
    reading: Option<(LogsRequest, Tail)>,
    follow: bool,
}

impl LogsTailer {
    pub fn new(
        clients: Clients,
        calls: CallLog,
        stack: Stack,
        wanted: watch::Receiver<Wanted>,
    ) -> Self {
        LogsTailer {
            clients,
            calls,
            stack,
            wanted,
            reading: None,
            follow: false,
        }
    }

    fn failure(e: &LogsError) -> Failure {
        match e.failure() {
            Some(f) => Failure::from_aws("FilterLogEvents", f),
            None => Failure {
                class: ErrorClass::Retryable,
                message: e.to_string(),
            },
        }
    }
}

impl Poller for LogsTailer {
    const AGENT: Agent = Agent::Logs;

    fn interval(&self) -> Duration {
        if self.follow && self.reading.is_some() {
            FOLLOW_EVERY
        } else {
            IDLE
        }
    }

    async fn changed(&mut self) {
        if self.wanted.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        let wanted = self.wanted.borrow_and_update().clone();
        let Some((request, follow)) = wanted else {
            self.reading = None;
            self.follow = false;
            return Ok(Vec::new());
        };
        self.follow = follow;
        let reset = self.reading.as_ref().map(|(r, _)| r) != Some(&request);
        if reset {
            self.reading = Some((request.clone(), Tail::default()));
        }
        let report = |lines, more, note| Report::Logs {
            at: Utc::now(),
            request: request.clone(),
            reset,
            lines,
            more,
            note,
        };
        let (groups, streams) =
            match ops::logs::resolve_target(&self.stack, request.target.as_deref()) {
                Ok(found) => found,
                Err(why) => return Ok(vec![report(Vec::new(), false, Some(why))]),
            };
        let window_start = Utc::now().timestamp_millis()
            - i64::try_from(request.since_s.saturating_mul(1_000)).unwrap_or(i64::MAX / 2);
        let query = LogQuery {
            groups,
            streams,
            all: request.terms.clone(),
            any: request.ids.clone(),
            start_ms: self
                .reading
                .as_ref()
                .map_or(window_start, |(_, tail)| tail.start(window_start)),
            limit: READ_LIMIT,
            newest: true,
        };
        let result = ops::logs::search(&self.clients.logs, &query).await;
        let found = match result {
            Ok(found) => {
                for _ in 0..found.calls {
                    self.calls.record("FilterLogEvents", true);
                }
                found
            }
            Err(e) => {
                self.calls.record("FilterLogEvents", false);
                // The next read starts over: nothing of this request was sent as read.
                if reset {
                    self.reading = None;
                }
                return Err(Self::failure(&e));
            }
        };
        let fresh = match &mut self.reading {
            Some((_, tail)) => tail.fresh(found.lines),
            None => found.lines,
        };
        let lines = fresh
            .into_iter()
            .filter_map(|l| {
                let at = chrono::DateTime::from_timestamp_millis(l.timestamp)?;
                Some(LogEntry::new(l.event_id, l.group, l.stream, at, l.message))
            })
            .collect();
        let note = (!found.missing_groups.is_empty()).then(|| {
            ops::logs::missing_note(&found.missing_groups, &self.clients.describe_target())
        });
        Ok(vec![report(lines, reset && found.more, note)])
    }
}
