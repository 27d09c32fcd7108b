//! What a redrive is asked to do and how it stands: the selection, the destination, the mover
//! (SQS's move task or the batch mover), the origin tags and the progress. Shared by the
//! batch mover's state machine ([`super::mover`]) and the engine that drives it
//! ([`super::redrive`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_sqs::types::MessageAttributeValue;
use chrono::Utc;
use serde::Serialize;

use super::filter::Filter;
use super::peek::DlqMessage;

/// Which messages.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageSet {
    /// These message ids.
    Ids(BTreeSet<String>),
    /// Every message the filter matches.
    Filter(Filter),
    /// Every message in the queue.
    Everything,
}

impl MessageSet {
    pub(super) fn matches(&self, m: &DlqMessage, now: chrono::DateTime<Utc>) -> bool {
        match self {
            MessageSet::Ids(ids) => ids.contains(&m.id),
            MessageSet::Filter(f) => f.matches(&m.candidate(), now),
            MessageSet::Everything => true,
        }
    }

    /// Bulk actions (a filter, everything) need a typed confirmation.
    pub fn is_bulk(&self) -> bool {
        !matches!(self, MessageSet::Ids(_))
    }

    pub fn describe(&self) -> String {
        match self {
            MessageSet::Ids(ids) => format!("{} selected message(s)", ids.len()),
            MessageSet::Filter(f) => format!("messages matching `{f}`"),
            MessageSet::Everything => "every message".into(),
        }
    }
}

/// Where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The queue whose redrive policy names this DLQ (ListDeadLetterSourceQueues), else the
    /// stack's mapping (`video_dlq` -> `video_tasks`).
    Source,
    /// A queue the operator names.
    Queue(String),
}

/// Which mover ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mover {
    /// flightdeck's own: receive, send, delete, ten at a time, journalled.
    Batch,
    /// SQS's StartMessageMoveTask.
    MoveTask,
}

/// A redrive to run.
#[derive(Debug, Clone)]
pub struct RedriveRequest {
    /// The DLQ's name (or URL).
    pub dlq: String,
    pub selection: MessageSet,
    pub destination: Destination,
    /// Scan and report what would move; change nothing.
    pub dry_run: bool,
    /// At most this many messages per second.
    pub rate_per_s: Option<f64>,
    /// Seconds a received message stays hidden while it is being moved (and how long a killed
    /// run's messages take to come back).
    pub visibility_s: i32,
    /// Empty receives in a row before concluding the DLQ has no more.
    pub empty_receives: u32,
    /// Where the journal lives (the state directory), and the record of flightdeck's own
    /// receives that receive counts leave out (see [`super::receives`]), dry runs included.
    pub journal_dir: PathBuf,
    /// For [`MessageSet::Everything`]: try StartMessageMoveTask first.
    pub use_move_task: bool,
    /// Message id -> the body to send instead of the one in the DLQ (edit before redrive).
    /// Checked before anything moves: JSON, and a v1 video task when the destination is the
    /// stack's task queue. The attributes go as they were.
    pub edits: BTreeMap<String, String>,
    /// Add [`ORIGIN_ATTRIBUTE`] and [`RUN_ATTRIBUTE`] to each message sent, for consumers that
    /// dedupe. A message that would then have more than [`MAX_MESSAGE_ATTRIBUTES`] is not
    /// sent: it stays in the DLQ and is counted `untaggable`.
    pub tag_origin: bool,
}

/// The message attribute `tag_origin` adds: the message's id in the DLQ. A possible duplicate
/// carries the same value in both copies.
pub const ORIGIN_ATTRIBUTE: &str = "flightdeck.origin_message_id";
/// The message attribute `tag_origin` adds: the redrive run that sent it
/// ([`RedriveProgress::run_id`]).
pub const RUN_ATTRIBUTE: &str = "flightdeck.redrive_run";
/// SQS's limit on message attributes per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Adds the origin attributes to `m` (replacing those of an earlier redrive); `false`, and `m`
/// unchanged, when it would then have more than [`MAX_MESSAGE_ATTRIBUTES`].
pub fn tag_origin(m: &mut DlqMessage, run_id: &str) -> bool {
    let tags = [
        (ORIGIN_ATTRIBUTE, m.id.clone()),
        (RUN_ATTRIBUTE, run_id.to_owned()),
    ];
    let after = m.raw_attributes.len()
        + tags
            .iter()
            .filter(|(k, _)| !m.raw_attributes.contains_key(*k))
            .count();
    if after > MAX_MESSAGE_ATTRIBUTES {
        return false;
    }
    for (name, value) in tags {
        let Ok(attr) = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&value)
            .build()
        else {
            return false;
        };
        if let Some(old) = m.attributes.get(name) {
            m.size = m
                .size
                .saturating_sub(name.len() + "String".len() + old.len());
        }
        m.size += name.len() + "String".len() + value.len();
        m.raw_attributes.insert(name.to_owned(), attr);
        m.attributes.insert(name.to_owned(), value);
    }
    true
}

/// A run's id: when it started (UTC, to the millisecond) and the process.
pub(super) fn new_run_id() -> String {
    format!(
        "{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

impl RedriveRequest {
    pub fn new(
        dlq: &str,
        selection: MessageSet,
        destination: Destination,
        journal_dir: PathBuf,
    ) -> RedriveRequest {
        RedriveRequest {
            dlq: dlq.to_string(),
            selection,
            destination,
            dry_run: false,
            rate_per_s: None,
            visibility_s: 30,
            empty_receives: 5,
            journal_dir,
            use_move_task: true,
            edits: BTreeMap::new(),
            tag_origin: false,
        }
    }
}

/// A snapshot of a running (or finished) redrive.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RedriveProgress {
    pub mover: Option<Mover>,
    /// This run's id (the value of [`RUN_ATTRIBUTE`] when tagging).
    pub run_id: String,
    pub dlq: String,
    pub destination: String,
    /// Moved to the destination and deleted from the DLQ (or, dry-run: would move).
    pub moved: u64,
    /// Messages looked at in the DLQ.
    pub scanned: u64,
    /// Left to move, when known (everything: the DLQ's depth; ids: those not yet found).
    pub remaining: Option<u64>,
    /// Messages per second since the start.
    pub rate_per_s: f64,
    #[serde(serialize_with = "ser_secs")]
    pub eta: Option<Duration>,
    /// Each may now be in the destination twice: sent again because a killed earlier run had
    /// started sending them and could not record whether it had, or sent by a call with an
    /// attempt SQS may have carried out without saying so (no answer, a server error) before
    /// the attempt or the retry that went through.
    pub possible_duplicates: u64,
    /// Possible duplicates on record for this DLQ: this run's and every earlier run's since
    /// the record was last cleared (`flightdeck dlq duplicates --clear`).
    pub possible_duplicates_total: u64,
    /// Found already sent by an earlier run; deleted from the DLQ without sending again.
    pub resumed: u64,
    /// Messages that could not be sent after retries (they stay in the DLQ).
    pub failed: u64,
    /// Messages another consumer held (in flight elsewhere) when the run ended: the pass could
    /// not look at them, so they stay in the DLQ whether or not they match. For `--id`s, at
    /// most the ids not found.
    pub left: u64,
    /// Selected but not sent because tagging them would exceed SQS's 10 message attributes
    /// (`tag_origin`): they stay in the DLQ.
    pub untaggable: u64,
    /// Something the operator should know (fallback to the batch mover, a resumed run).
    pub notes: Vec<String>,
    pub dry_run: bool,
    pub cancelled: bool,
    pub finished: bool,
}

fn ser_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// The result of a redrive.
#[derive(Debug, Clone, Serialize)]
pub struct RedriveOutcome {
    #[serde(flatten)]
    pub progress: RedriveProgress,
    /// Dry-run: the messages that would move.
    pub would_move: Vec<DlqMessage>,
    /// The journal, when something is still outstanding (delete failures); rerun to finish.
    pub journal: Option<PathBuf>,
    /// The DLQ message ids of every possible duplicate on record (see
    /// `possible_duplicates_total`).
    pub possible_duplicate_ids: Vec<String>,
    /// The DLQ message ids counted `untaggable`.
    pub untaggable_ids: Vec<String>,
}
