//! The console's agents: tokio tasks that poll AWS and send owned `ui::Report`s on one channel.
//! Each holds its own clients, has one request in flight, backs off on errors and stops on its
//! `CancellationToken`. The UI task never awaits them: it routes `ui::Command`s here, through a
//! supervisor task that also switches profile or region: it builds the new clients, stops the
//! running agents, reports the new target, then starts agents on it.

pub mod actions;
pub mod alarms;
pub mod context;
pub mod dlq;
pub mod fleet;
pub mod groups;
pub mod load;
pub mod logs;
pub mod metrics;
pub mod queues;
mod supervisor;
pub mod tour;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod live_tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use chrono::Utc;
use stack::errors::{describe, AwsFailure, HttpStatus};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use ui::{Agent, ErrorClass, Report};

use ops::watch::{CallError, Watch};

pub use ops::calls::CallLog;
pub use ops::sdk::to_chrono;
pub use supervisor::Agents;

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
        Failure::from_aws(api, &describe(err))
    }

    /// A failed listing call of [`ops::watch`].
    pub fn from_call(e: &CallError) -> Failure {
        Failure::from_aws(e.api, &e.failure)
    }

    fn from_aws(api: &str, failure: &AwsFailure) -> Failure {
        let message = if failure.unreachable {
            format!(
                "{api}: endpoint unreachable ({})",
                ops::short_reason(&failure.message)
            )
        } else {
            format!("{api}: {failure}")
        };
        Failure {
            class: failure.class,
            message,
        }
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

/// Resolves when the names the UI shows (`rx`) change; never without a receiver, or once the
/// UI is gone. What the groups and queues agents wait on between polls.
pub async fn screen_changed(rx: Option<&mut tokio::sync::watch::Receiver<Vec<String>>>) {
    match rx {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
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
        let overdue = overdue_after(poller.interval());
        let result = {
            let poll = poller.poll();
            tokio::pin!(poll);
            tokio::select! {
                _ = token.cancelled() => return,
                r = &mut poll => r,
                () = tokio::time::sleep(overdue) => {
                    // A hung endpoint accepts the connection and never answers; the SDK's own
                    // limits end the call later (stack::CallLimits), but the operator learns
                    // now. The poll goes on: a slow answer still arrives and clears this.
                    if tx.send(no_answer(P::AGENT, overdue)).await.is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = token.cancelled() => return,
                        r = &mut poll => r,
                    }
                }
            }
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

/// A poll still unanswered after two refresh periods (at least 4 s) is reported: the
/// banner then shows within two refresh periods even while the call itself is still waiting.
pub fn overdue_after(interval: Duration) -> Duration {
    (interval * 2).max(Duration::from_secs(4))
}

/// The report for a poll that has had no answer for `waited`.
fn no_answer(agent: Agent, waited: Duration) -> Report {
    Report::AgentError {
        at: Utc::now(),
        agent,
        class: ErrorClass::Retryable,
        message: format!(
            "no answer in {} s: endpoint unreachable or hung (it may accept connections and never answer); still waiting",
            waited.as_secs()
        ),
        next_retry_in: None,
    }
}

/// How often each agent polls.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub groups: Duration,
    pub queues: Duration,
    /// Below the UI's staleness threshold (30 s), whatever the CloudWatch period.
    pub metrics: Duration,
    /// The queues whose rows are off the screen.
    pub offscreen_queues: Duration,
    /// The groups off the screen.
    pub offscreen_groups: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals::from(ui::config::RefreshConfig::default())
    }
}

/// The config's `[refresh]`.
impl From<ui::config::RefreshConfig> for Intervals {
    fn from(r: ui::config::RefreshConfig) -> Self {
        Intervals {
            groups: r.groups,
            queues: r.queues,
            metrics: r.metrics,
            offscreen_queues: r.offscreen_queues,
            offscreen_groups: r.offscreen_groups,
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
/// profile (for the audit log and the top bar), what to watch, on a local cloud run by this
/// process its fleet, and any extra feeds.
pub struct Extras {
    pub stack: stack::Stack,
    pub profile: Option<String>,
    pub watch: Watch,
    pub local: Option<fleet::LocalHooks>,
    pub feeds: Vec<Feed>,
}

/// The state directory of this test process (made once, kept until it exits): tests that
/// act record their audit entries there, not in the operator's log.
#[cfg(test)]
pub(crate) fn test_state_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap().keep());
    ops::audit::use_state_dir(dir.clone())
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
}
