//! The DLQ agent: peeks the dead-letter queue whose view is open (and only then), every
//! [`PEEK_EVERY`]. Each pass receives with a short visibility and releases at once, so every
//! peek raises the messages' receive counts at SQS; the pass records its receives and the view
//! shows the counts without flightdeck's own (see `ops::dlq::receives`).

use std::time::Duration;

use chrono::Utc;
use stack::Clients;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use ui::{Agent, Report};

use super::{CallLog, Failure, Poller};
use ops::dlq::peek::{peek, resolve_queue, QueueRef};
use ops::dlq::{DlqError, PeekOptions};

/// How often the open DLQ is peeked.
pub const PEEK_EVERY: Duration = Duration::from_secs(10);
/// Messages shown at most (the oldest first).
const MAX_MESSAGES: usize = 500;

pub struct DlqPeeker {
    clients: Clients,
    calls: CallLog,
    queue: watch::Receiver<Option<String>>,
    resolved: Option<QueueRef>,
    interval: Duration,
}

impl DlqPeeker {
    pub fn new(
        clients: Clients,
        calls: CallLog,
        queue: watch::Receiver<Option<String>>,
        interval: Duration,
    ) -> Self {
        DlqPeeker {
            clients,
            calls,
            queue,
            resolved: None,
            interval,
        }
    }
}

/// A DLQ failure as the UI shows it.
pub fn failure(e: &DlqError) -> Failure {
    match e {
        DlqError::Aws { action, failure } => Failure {
            class: failure.class,
            message: if failure.unreachable {
                format!(
                    "{action}: endpoint unreachable ({})",
                    ops::short_reason(&failure.message)
                )
            } else {
                format!("{action}: {failure}")
            },
        },
        other => Failure {
            class: ui::ErrorClass::Permanent,
            message: other.to_string(),
        },
    }
}

/// The engine's message as the UI's.
pub fn to_ui(m: &ops::dlq::DlqMessage) -> ui::DlqMessage {
    ui::DlqMessage {
        id: m.id.clone(),
        sent_at: m.sent_at,
        receive_count: m.receive_count,
        size: m.size,
        attributes: m.attributes.clone(),
        body: m.body.clone(),
    }
}

impl Poller for DlqPeeker {
    const AGENT: Agent = Agent::Dlq;

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        let Some(name) = self.queue.borrow_and_update().clone() else {
            return Ok(Vec::new());
        };
        let queue = match self.resolved.take().filter(|q| q.name == name) {
            Some(q) => q,
            None => {
                let q = resolve_queue(&self.clients.sqs, &name).await;
                self.calls.record("GetQueueUrl", q.is_ok());
                q.map_err(|e| failure(&e))?
            }
        };
        let opts = PeekOptions {
            max: MAX_MESSAGES,
            visibility_s: 5,
            state_dir: Some(ops::audit::state_dir()),
            ..PeekOptions::default()
        };
        let found = peek(
            &self.clients.sqs,
            &queue.url,
            &opts,
            &CancellationToken::new(),
        )
        .await;
        // One pass is several ReceiveMessage calls; the log counts the pass as one.
        self.calls.record("ReceiveMessage", found.is_ok());
        let found = found.map_err(|e| failure(&e))?;
        self.resolved = Some(queue);
        Ok(vec![Report::Dlq {
            at: Utc::now(),
            queue: name,
            messages: found.iter().map(to_ui).collect(),
        }])
    }

    async fn changed(&mut self) {
        if self.queue.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
