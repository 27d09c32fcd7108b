//! Keeps an emulator this process owns running (the demo's): when it exits, starts it again
//! on the same port and provisions the stack on it, so every client and fleet process pointed
//! at the endpoint carries on. Restarts are bounded ([`KeeperConfig`]); past the bound the
//! emulator stays down and the health says so. Publishes its [`EmulatorHealth`] on a watch.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use stack::{Clients, Stack};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{provision, Emulator, Installation};

#[derive(Debug, Clone, Copy)]
pub struct KeeperConfig {
    /// At most this many restarts within `window`.
    pub max_restarts: u32,
    pub window: Duration,
    /// How often to check that the process is still there.
    pub check_every: Duration,
}

impl Default for KeeperConfig {
    fn default() -> KeeperConfig {
        KeeperConfig {
            max_restarts: 3,
            window: Duration::from_secs(5 * 60),
            check_every: Duration::from_millis(500),
        }
    }
}

/// The kept emulator, as the operator should hear about it.
#[derive(Debug, Clone, PartialEq)]
pub enum EmulatorHealth {
    Running {
        pid: Option<u32>,
        /// Restarts so far and when the last one finished.
        restarts: u32,
        last_restart: Option<DateTime<Utc>>,
    },
    /// It exited (`why`: its exit status); restart `attempt` of at most `max` is under way.
    Restarting { why: String, attempt: u32, max: u32 },
    /// Down for good: why, and the emulator's log.
    Down { why: String, log: Option<PathBuf> },
}

/// At most `max` restarts within any `window`.
#[derive(Debug)]
pub struct RestartBudget {
    max: u32,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl RestartBudget {
    pub fn new(max: u32, window: Duration) -> RestartBudget {
        RestartBudget {
            max,
            window,
            recent: VecDeque::new(),
        }
    }

    /// Takes one restart at `now`: its number within the window, or `None` when spent.
    pub fn take(&mut self, now: Instant) -> Option<u32> {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.max as usize {
            return None;
        }
        self.recent.push_back(now);
        u32::try_from(self.recent.len()).ok()
    }
}

/// The task that keeps the emulator; dropping it (or [`Keeper::stop`]) stops the emulator.
pub struct Keeper {
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
    health: watch::Receiver<EmulatorHealth>,
}

impl Keeper {
    /// Takes over `emulator` (owned, running) with the clients and stack to provision it again.
    pub fn start(
        emulator: Emulator,
        install: Installation,
        clients: Clients,
        stack: Stack,
        config: KeeperConfig,
    ) -> Keeper {
        let (tx, health) = watch::channel(EmulatorHealth::Running {
            pid: emulator.pid(),
            restarts: 0,
            last_restart: None,
        });
        let token = CancellationToken::new();
        let task = tokio::spawn(
            Kept {
                emulator,
                install,
                clients,
                stack,
                config,
                tx,
            }
            .run(token.clone()),
        );
        Keeper {
            token,
            task: Some(task),
            health,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<EmulatorHealth> {
        self.health.clone()
    }

    /// Stop keeping it and stop the emulator (waiting for its process).
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            // Dropping the task's future drops the emulator, which stops it.
            task.abort();
        }
    }
}

struct Kept {
    emulator: Emulator,
    install: Installation,
    clients: Clients,
    stack: Stack,
    config: KeeperConfig,
    tx: watch::Sender<EmulatorHealth>,
}

impl Kept {
    async fn run(mut self, token: CancellationToken) {
        let mut budget = RestartBudget::new(self.config.max_restarts, self.config.window);
        let mut restarts = 0;
        // Why the next restart is due: the process exited, or the last restart failed.
        let mut due: Option<String> = None;
        let mut down = false;
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                () = tokio::time::sleep(self.config.check_every) => {}
            }
            if down {
                continue;
            }
            if due.is_none() {
                due = self.emulator.exited().map(|status| {
                    tracing::warn!(endpoint = %self.emulator.endpoint(), "the emulator exited ({status})");
                    format!("it exited ({status})")
                });
            }
            let Some(why) = due.take() else {
                continue;
            };
            let Some(attempt) = budget.take(Instant::now()) else {
                self.gave_up(format!(
                    "{why}, after {} restarts within {} min",
                    self.config.max_restarts,
                    self.config.window.as_secs().div_ceil(60)
                ));
                down = true;
                continue;
            };
            self.tx.send_replace(EmulatorHealth::Restarting {
                why: why.clone(),
                attempt,
                max: self.config.max_restarts,
            });
            let restarted = tokio::select! {
                () = token.cancelled() => break,
                r = self.restart(&why) => r,
            };
            match restarted {
                Ok(()) => {
                    restarts += 1;
                    tracing::info!(
                        pid = self.emulator.pid(),
                        "emulator restarted and provisioned"
                    );
                    self.tx.send_replace(EmulatorHealth::Running {
                        pid: self.emulator.pid(),
                        restarts,
                        last_restart: Some(Utc::now()),
                    });
                }
                Err(e) => {
                    tracing::warn!("restarting the emulator failed: {e}");
                    self.emulator.stop();
                    due = Some(format!("restarting it failed: {e}"));
                }
            }
        }
        // Stopping waits up to a few seconds for the process: off the async threads.
        let emulator = self.emulator;
        let _ = tokio::task::spawn_blocking(move || drop(emulator)).await;
    }

    async fn restart(&mut self, why: &str) -> Result<(), String> {
        self.emulator
            .restart(&self.install, why)
            .await
            .map_err(|e| e.to_string())?;
        provision(&self.clients, &self.stack)
            .await
            .map(|_| ())
            .map_err(|e| format!("provisioning the stack again: {e}"))
    }

    fn gave_up(&mut self, why: String) {
        tracing::error!("the emulator stays down: {why}");
        self.emulator.stop();
        self.tx.send_replace(EmulatorHealth::Down {
            why,
            log: self.emulator.log_path().cloned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_max_restarts_per_window_and_refills_as_they_age() {
        let mut budget = RestartBudget::new(3, Duration::from_secs(300));
        let t0 = Instant::now();
        assert_eq!(budget.take(t0), Some(1));
        assert_eq!(budget.take(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(budget.take(t0 + Duration::from_secs(20)), Some(3));
        assert_eq!(budget.take(t0 + Duration::from_secs(30)), None);
        // The first restart leaves the window: one more is allowed, not two.
        assert_eq!(budget.take(t0 + Duration::from_secs(300)), Some(3));
        assert_eq!(budget.take(t0 + Duration::from_secs(301)), None);
    }
}
