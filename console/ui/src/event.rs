//! What the UI task receives (`Event`) and what it asks of the agents (`Command`).

use std::time::Duration;

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};

use crate::model::{Report, Timestamp};

// Events are moved one at a time from the terminal or a channel into `update`, never stored in
// bulk, so the size of the largest (a report) costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// New terminal size in columns and rows.
    Resize(u16, u16),
    /// The UI's clock: ages on screen are measured against the latest tick.
    Tick(Timestamp),
    Report(Report),
    /// The operator's editor closed on a message body ([`Command::EditMessage`]): the new
    /// body, or why there is none.
    Edited {
        queue: String,
        id: String,
        body: Result<String, String>,
    },
}

impl Event {
    /// Converts a terminal event; key releases and focus/paste events are dropped.
    pub fn from_terminal(event: crossterm::event::Event) -> Option<Event> {
        match event {
            crossterm::event::Event::Key(k) if k.kind != KeyEventKind::Release => {
                Some(Event::Key(k))
            }
            crossterm::event::Event::Mouse(m) => Some(Event::Mouse(m)),
            crossterm::event::Event::Resize(w, h) => Some(Event::Resize(w, h)),
            _ => None,
        }
    }
}

/// What the UI asks the agents to do; the console routes each to the agent concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The charts now span this much history: fetch it (incrementally) at a fitting period.
    SetMetricWindow(Duration),
    /// Poll every agent now instead of waiting for the next interval.
    RefreshNow,
    /// The queues whose rows are on screen now: the queues agent reads them at the full
    /// refresh and the others less often.
    QueuesOnScreen(Vec<String>),
    /// The groups on screen now (rows, the open group, the charted one, the consumers of the
    /// queues on screen): the groups agent reads them at the full refresh, the others less often.
    GroupsOnScreen(Vec<String>),
    /// Peek this dead-letter queue while its view is open; `None` stops peeking.
    PeekDlq(Option<String>),
    /// Read these log lines while the logs view is open (`None` stops reading); `follow`
    /// reads new lines every couple of seconds.
    TailLogs {
        request: Option<crate::logs::LogsRequest>,
        follow: bool,
    },
    /// Move messages from a dead-letter queue back (to its source queue unless `to` is set).
    Redrive(RedriveRequest),
    /// Stop the running redrive; messages already moved stay moved.
    CancelRedrive,
    DeleteMessages {
        queue: String,
        ids: Vec<String>,
    },
    Purge {
        queue: String,
    },
    SetDesiredCapacity {
        group: String,
        desired: u32,
        honor_cooldown: bool,
    },
    /// Start a load run of this scenario against the configured API.
    StartLoad {
        scenario: String,
    },
    CancelLoad,
    /// Record in the audit log an action the operator started that the console refused or
    /// the operator cancelled: nothing was sent to AWS.
    Audited {
        action: String,
        target: String,
        /// `refused` or `cancelled`.
        result: String,
        detail: String,
    },
    /// Start, cancel or read a group's instance refresh.
    InstanceRefresh {
        group: String,
        action: RefreshAction,
    },
    /// SuspendProcesses (`suspend`) or ResumeProcesses on a group.
    SetProcesses {
        group: String,
        processes: Vec<String>,
        suspend: bool,
    },
    /// Open this message body in the operator's editor (the console suspends the screen and
    /// answers with [`Event::Edited`]).
    EditMessage {
        queue: String,
        id: String,
        body: String,
    },
    /// Rebuild the clients for this profile and region (the endpoint and `--read-only` stay),
    /// stop the agents and start new ones; answered by `Report::Target` with the same `seq`.
    SwitchTarget {
        seq: u64,
        profile: Option<String>,
        region: String,
    },
    Quit,
}

/// Which dead-letter messages to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSelection {
    /// These message ids.
    Ids(Vec<String>),
    /// Every message matching this filter (the DLQ filter syntax).
    Filter(String),
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveRequest {
    pub dlq: String,
    /// The target queue; `None` means the DLQ's source queue.
    pub to: Option<String>,
    pub selection: MessageSelection,
    pub dry_run: bool,
    /// Edit before redrive: the body to send instead of the one message's own (JSON, as the
    /// operator wrote it).
    pub edited_body: Option<String>,
}

/// What `:instance-refresh` does to the open group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshAction {
    Start,
    Cancel,
    Status,
}
