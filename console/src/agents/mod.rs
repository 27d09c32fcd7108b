//! The console's agents: tokio tasks that poll AWS and send owned `ui::Report`s on one channel.
//! Each holds its own clients, has one request in flight, backs off on errors and stops on its
//! `CancellationToken`. The UI task never awaits them: it routes `ui::Command`s here.

pub mod actions;
pub mod calls;
pub mod dlq;
pub mod fleet;
pub mod groups;
pub mod load;
pub mod metrics;
pub mod queues;

#[cfg(test)]
mod live_tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use chrono::Utc;
use stack::errors::{describe, HttpStatus};
use stack::Clients;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use ui::{Agent, Command, ErrorClass, Report};

pub use calls::CallLog;

/// A failed poll, reduced to what the UI shows: the class and one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: ErrorClass,
    pub message: String,
}

impl Failure {
    /// Classifies an SDK error with `stack::errors::describe`.
    pub fn from_sdk<E, R>(api: &str, err: &SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug + 'static,
    {
        let failure = describe(err);
        let message = if failure.unreachable {
            format!(
                "{api}: endpoint unreachable ({})",
                crate::short_reason(&failure.message)
            )
        } else {
            format!("{api}: {failure}")
        };
        Failure {
            class: ui_class(failure.class),
            message,
        }
    }
}

pub fn ui_class(class: stack::ErrorClass) -> ErrorClass {
    match class {
        stack::ErrorClass::Retryable => ErrorClass::Retryable,
        stack::ErrorClass::Throttled => ErrorClass::Throttled,
        stack::ErrorClass::Auth => ErrorClass::Auth,
        stack::ErrorClass::Permanent => ErrorClass::Permanent,
        stack::ErrorClass::NotImplemented => ErrorClass::NotImplemented,
    }
}

/// The wait before retry number `attempt` (1-based) after a failure of `class`: exponential,
/// harder when throttled, slow for failures a retry cannot fix (the operator may fix them).
pub fn backoff(class: ErrorClass, attempt: u32) -> Duration {
    let (base, cap) = match class {
        ErrorClass::Retryable => (1, 30),
        ErrorClass::Throttled => (4, 120),
        ErrorClass::Auth | ErrorClass::Permanent | ErrorClass::NotImplemented => (15, 120),
    };
    let exp = attempt.saturating_sub(1).min(16);
    Duration::from_secs((base * (1u64 << exp)).min(cap))
}

/// One concern's polling; [`run`] wraps it in the loop, backoff and cancellation.
pub trait Poller: Send {
    const AGENT: Agent;

    /// The wait between successful polls.
    fn interval(&self) -> Duration;

    /// One poll: the reports to send, or why it failed.
    fn poll(&mut self) -> impl Future<Output = Result<Vec<Report>, Failure>> + Send;

    /// Resolves when the poller's inputs changed and it should poll now.
    fn changed(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// Polls until cancelled (or the UI is gone): one request in flight, backoff after errors.
pub async fn run<P: Poller>(
    mut poller: P,
    tx: mpsc::Sender<Report>,
    token: CancellationToken,
    refresh: Arc<Notify>,
) {
    let mut failures = 0;
    loop {
        let result = tokio::select! {
            _ = token.cancelled() => return,
            r = poller.poll() => r,
        };
        let wait = match result {
            Ok(reports) => {
                failures = 0;
                for report in reports {
                    if tx.send(report).await.is_err() {
                        return;
                    }
                }
                poller.interval()
            }
            Err(failure) => {
                failures += 1;
                let wait = backoff(failure.class, failures);
                tracing::debug!(agent = P::AGENT.label(), ?failure, ?wait, "poll failed");
                let report = Report::AgentError {
                    at: Utc::now(),
                    agent: P::AGENT,
                    class: failure.class,
                    message: failure.message,
                    next_retry_in: Some(wait),
                };
                if tx.send(report).await.is_err() {
                    return;
                }
                wait
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = refresh.notified() => {}
            _ = poller.changed() => {}
        }
    }
}

/// How often each agent polls.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub groups: Duration,
    pub queues: Duration,
    /// Below the UI's staleness threshold (30 s), whatever the CloudWatch period.
    pub metrics: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            groups: Duration::from_secs(3),
            queues: Duration::from_secs(3),
            metrics: Duration::from_secs(15),
        }
    }
}

/// A task that reports to the UI like an agent and stops on its token (the demo tour).
pub type Feed = Box<
    dyn FnOnce(
            mpsc::Sender<Report>,
            CancellationToken,
        ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
        + Send,
>;

/// What the agents need besides the clients: the stack (for a DLQ's source queue), the
/// profile (for the audit log), on a local cloud run by this process its fleet, and any
/// extra feeds.
pub struct Extras {
    pub stack: stack::Stack,
    pub profile: Option<String>,
    pub local: Option<fleet::LocalHooks>,
    pub feeds: Vec<Feed>,
}

/// The running agents and the handles the UI task routes its commands through.
pub struct Agents {
    token: CancellationToken,
    tasks: JoinSet<()>,
    refresh: Arc<Notify>,
    window: watch::Sender<Duration>,
    peek: watch::Sender<Option<String>>,
    actions: mpsc::UnboundedSender<Command>,
}

impl Agents {
    /// Starts the groups, queues, metrics, DLQ, actions and call-count agents (and the local
    /// fleet's bridge when there is one), each with its own clients.
    pub fn spawn(
        clients: &Clients,
        tx: mpsc::Sender<Report>,
        intervals: Intervals,
        extras: Extras,
    ) -> Agents {
        let token = CancellationToken::new();
        let refresh = Arc::new(Notify::new());
        let calls = CallLog::default();
        let (window, window_rx) = watch::channel(ui::state::chart::WINDOWS[1]);
        let (names_tx, names_rx) = watch::channel(Vec::new());
        let mut tasks = JoinSet::new();

        let groups =
            groups::GroupsPoller::new(clients.clone(), calls.clone(), intervals.groups, names_tx);
        tasks.spawn(run(
            groups,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let queues = queues::QueuesPoller::new(clients.clone(), calls.clone(), intervals.queues);
        tasks.spawn(run(
            queues,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let metrics = metrics::MetricsPoller::new(
            clients.clone(),
            calls.clone(),
            intervals.metrics,
            window_rx,
            names_rx,
        );
        tasks.spawn(run(
            metrics,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let (peek, peek_rx) = watch::channel(None);
        let dlq = dlq::DlqPeeker::new(clients.clone(), calls.clone(), peek_rx, dlq::PEEK_EVERY);
        tasks.spawn(run(dlq, tx.clone(), token.child_token(), refresh.clone()));
        let ctx = actions::Context {
            clients: clients.clone(),
            stack: extras.stack,
            profile: extras.profile,
            autoscaler: extras
                .local
                .as_ref()
                .and_then(|l| l.autoscaler.as_ref().map(|(switch, _)| switch.clone())),
            fleet: extras.local.as_ref().map(|l| l.fleet.clone()),
        };
        let (actions, handle) = actions::spawn(ctx, tx.clone(), token.child_token());
        tasks.spawn(async move {
            let _ = handle.await;
        });
        if let Some(local) = extras.local {
            tasks.spawn(fleet::run(local, tx.clone(), token.child_token()));
        }
        for feed in extras.feeds {
            tasks.spawn(feed(tx.clone(), token.child_token()));
        }
        tasks.spawn(calls::run(calls, tx, token.child_token()));
        Agents {
            token,
            tasks,
            refresh,
            window,
            peek,
            actions,
        }
    }

    /// Routes one of the UI's commands; never blocks.
    pub fn command(&self, command: &Command) {
        match command {
            Command::SetMetricWindow(w) => {
                self.window.send_replace(*w);
            }
            Command::RefreshNow => self.refresh.notify_waiters(),
            Command::PeekDlq(queue) => {
                self.peek.send_replace(queue.clone());
            }
            Command::Redrive(_)
            | Command::CancelRedrive
            | Command::DeleteMessages { .. }
            | Command::Purge { .. }
            | Command::SetDesiredCapacity { .. }
            | Command::SetAutoscaler(_)
            | Command::StartLoad { .. }
            | Command::CancelLoad => {
                // The actions agent lives as long as the token; a send fails only after quit.
                let _ = self.actions.send(command.clone());
            }
            Command::Quit => self.token.cancel(),
        }
    }

    /// Cancels every agent and waits (briefly) for them to finish.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(2), all)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}

/// Converts an SDK timestamp; out-of-range values (never sent by AWS) become `None`.
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<ui::Timestamp> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_is_harder_when_throttled() {
        let r: Vec<u64> = (1..=7)
            .map(|n| backoff(ErrorClass::Retryable, n).as_secs())
            .collect();
        assert_eq!(r, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(ErrorClass::Throttled, 1).as_secs(), 4);
        assert_eq!(backoff(ErrorClass::Throttled, 3).as_secs(), 16);
        assert_eq!(backoff(ErrorClass::Auth, 1).as_secs(), 15);
        assert_eq!(backoff(ErrorClass::Auth, 100).as_secs(), 120);
    }

    #[test]
    fn classes_map_one_to_one() {
        assert_eq!(ui_class(stack::ErrorClass::Auth), ErrorClass::Auth);
        assert_eq!(
            ui_class(stack::ErrorClass::NotImplemented),
            ErrorClass::NotImplemented
        );
        assert_eq!(
            ui_class(stack::ErrorClass::Throttled),
            ErrorClass::Throttled
        );
    }
}
