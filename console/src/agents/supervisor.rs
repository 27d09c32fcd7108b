//! The supervisor: starts every agent on a target (a generation), routes the UI's commands to
//! them, and on a profile or region switch builds the new clients, stops the old generation
//! and starts the next, so no report of the old target arrives after the new one is named.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use stack::Clients;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use ui::{Command, Report, TargetInfo};

use super::{
    actions, alarms, context, dlq, fleet, groups, logs, metrics, queues, run, CallLog, Extras,
    Intervals,
};
use ops::watch::Watch;

/// The running agents; the UI task routes its commands through [`Agents::command`].
pub struct Agents {
    token: CancellationToken,
    tasks: JoinSet<()>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Agents {
    /// Reports the target (`Report::Target`, seq 0), then starts the groups, queues, metrics,
    /// DLQ, actions and call-count agents (and the local fleet's bridge when there is one),
    /// each with its own clients, under a supervisor that routes commands and switches target.
    pub fn spawn(
        clients: &Clients,
        tx: mpsc::Sender<Report>,
        intervals: Intervals,
        extras: Extras,
    ) -> Agents {
        let token = CancellationToken::new();
        let mut tasks = JoinSet::new();
        // The channel is new and empty: this is the first report the UI sees.
        let _ = tx.try_send(Report::Target {
            at: Utc::now(),
            seq: 0,
            result: Ok(ops::target::target_info(clients, extras.profile.as_deref())),
        });
        for feed in extras.feeds {
            tasks.spawn(feed(tx.clone(), token.child_token()));
        }
        let setup = Setup {
            stack: extras.stack,
            profile: extras.profile,
            watch: extras.watch,
            intervals,
            local: extras.local.map(|hooks| {
                let home = (
                    clients.endpoint().map(str::to_owned),
                    clients.region().to_owned(),
                );
                (home, hooks)
            }),
        };
        let routing = Routing::default();
        let current = Generation::spawn(clients, &tx, &setup, &routing, &token);
        let (commands, rx) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            current,
            setup,
            routing,
            clients: clients.clone(),
            tx,
            token: token.clone(),
        };
        tasks.spawn(supervisor.run(rx));
        Agents {
            token,
            tasks,
            commands,
        }
    }

    /// Routes one of the UI's commands; never blocks.
    pub fn command(&self, command: &Command) {
        if *command == Command::Quit {
            self.token.cancel();
            return;
        }
        // The supervisor lives as long as the token; a send fails only after quit.
        let _ = self.commands.send(command.clone());
    }

    /// Cancels every agent and waits (briefly) for them to finish.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(3), all)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}

/// What every generation of agents is started with; `profile` follows the switches.
struct Setup {
    stack: stack::Stack,
    profile: Option<String>,
    watch: Watch,
    intervals: Intervals,
    /// The local fleet, with the endpoint and region it lives at: only agents on that target
    /// get its bridge.
    local: Option<((Option<String>, String), fleet::LocalHooks)>,
}

/// What the UI last asked of the agents, handed to the next generation after a switch.
struct Routing {
    window: Duration,
    peek: Option<String>,
    logs: logs::Wanted,
    queues_on_screen: Vec<String>,
    groups_on_screen: Vec<String>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            window: ui::state::chart::WINDOWS[1],
            peek: None,
            logs: None,
            queues_on_screen: Vec::new(),
            groups_on_screen: Vec::new(),
        }
    }
}

/// The agents on one target.
struct Generation {
    token: CancellationToken,
    tasks: JoinSet<()>,
    refresh: Arc<Notify>,
    window: watch::Sender<Duration>,
    peek: watch::Sender<Option<String>>,
    logs: watch::Sender<logs::Wanted>,
    queues_on_screen: watch::Sender<Vec<String>>,
    groups_on_screen: watch::Sender<Vec<String>>,
    actions: mpsc::UnboundedSender<Command>,
}

/// Aborts the task when dropped, so aborting its wrapper stops it too.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Generation {
    fn spawn(
        clients: &Clients,
        tx: &mpsc::Sender<Report>,
        setup: &Setup,
        routing: &Routing,
        parent: &CancellationToken,
    ) -> Generation {
        let token = parent.child_token();
        let refresh = Arc::new(Notify::new());
        let calls = CallLog::default();
        let (window, window_rx) = watch::channel(routing.window);
        let (names_tx, names_rx) = watch::channel(Vec::new());
        let (queue_series_tx, queue_series_rx) = watch::channel(Vec::new());
        let (queues_on_screen, on_screen_rx) = watch::channel(routing.queues_on_screen.clone());
        let (groups_on_screen, groups_shown_rx) = watch::channel(routing.groups_on_screen.clone());
        let mut tasks = JoinSet::new();
        let local = setup
            .local
            .as_ref()
            .and_then(|((endpoint, region), hooks)| {
                let home = clients.endpoint() == endpoint.as_deref() && clients.region() == region;
                home.then(|| hooks.clone())
            });

        let groups = groups::GroupsPoller::new(
            clients.clone(),
            calls.clone(),
            setup.intervals.groups,
            setup.watch.groups.clone(),
            names_tx,
        )
        .with_on_screen(groups_shown_rx, setup.intervals.offscreen_groups)
        .with_progress(tx.clone());
        tasks.spawn(run(
            groups,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let queues = queues::QueuesPoller::new(
            clients.clone(),
            calls.clone(),
            setup.intervals.queues,
            ops::watch::QueueFinder::new(
                setup.watch.queues.clone(),
                setup.watch.dead_letter_queues,
            ),
        )
        .with_progress(tx.clone(), queues::FIRST_PASS_STEP)
        .with_series(queue_series_tx)
        .with_on_screen(on_screen_rx, setup.intervals.offscreen_queues);
        tasks.spawn(run(
            queues,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let metrics = metrics::MetricsPoller::new(
            clients.clone(),
            calls.clone(),
            setup.intervals.metrics,
            window_rx,
            names_rx,
        )
        .with_queues(queue_series_rx)
        .with_on_screen(
            groups_on_screen.subscribe(),
            queues_on_screen.subscribe(),
            setup
                .intervals
                .offscreen_groups
                .min(setup.intervals.offscreen_queues),
        );
        tasks.spawn(run(
            metrics,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let (peek, peek_rx) = watch::channel(routing.peek.clone());
        let dlq = dlq::DlqPeeker::new(clients.clone(), calls.clone(), peek_rx, dlq::PEEK_EVERY);
        tasks.spawn(run(dlq, tx.clone(), token.child_token(), refresh.clone()));
        let (logs, logs_rx) = watch::channel(routing.logs.clone());
        let tailer =
            logs::LogsTailer::new(clients.clone(), calls.clone(), setup.stack.clone(), logs_rx);
        tasks.spawn(run(
            tailer,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let alarms = alarms::AlarmsPoller::new(
            clients.clone(),
            calls.clone(),
            setup.stack.clone(),
            alarms::ALARMS_EVERY,
        );
        tasks.spawn(run(
            alarms,
            tx.clone(),
            token.child_token(),
            refresh.clone(),
        ));
        let ctx = context::Context {
            clients: clients.clone(),
            stack: setup.stack.clone(),
            profile: setup.profile.clone(),
            fleet: local.as_ref().map(|l| l.fleet.clone()),
        };
        let (actions, handle) = actions::spawn(ctx, tx.clone(), token.child_token());
        tasks.spawn(async move {
            let mut guard = AbortOnDrop(handle);
            let _ = (&mut guard.0).await;
        });
        if let Some(local) = local {
            tasks.spawn(fleet::run(local, tx.clone(), token.child_token()));
        }
        tasks.spawn(ops::calls::run(calls, tx.clone(), token.child_token()));
        Generation {
            token,
            tasks,
            refresh,
            window,
            peek,
            logs,
            queues_on_screen,
            groups_on_screen,
            actions,
        }
    }

    fn route(&self, command: &Command) {
        match command {
            Command::SetMetricWindow(w) => {
                self.window.send_replace(*w);
            }
            Command::RefreshNow => self.refresh.notify_waiters(),
            Command::PeekDlq(queue) => {
                self.peek.send_replace(queue.clone());
            }
            Command::QueuesOnScreen(names) => {
                self.queues_on_screen.send_replace(names.clone());
            }
            Command::GroupsOnScreen(names) => {
                self.groups_on_screen.send_replace(names.clone());
            }
            Command::TailLogs { request, follow } => {
                self.logs
                    .send_replace(request.clone().map(|r| (r, *follow)));
            }
            Command::Redrive(_)
            | Command::CancelRedrive
            | Command::DeleteMessages { .. }
            | Command::Purge { .. }
            | Command::SetDesiredCapacity { .. }
            | Command::SetProcesses { .. }
            | Command::InstanceRefresh { .. }
            | Command::StartLoad { .. }
            | Command::CancelLoad
            | Command::Audited { .. } => {
                // The actions agent lives as long as the token; a send fails only after quit.
                let _ = self.actions.send(command.clone());
            }
            // The supervisor handles these itself; the UI loop runs the editor.
            Command::SwitchTarget { .. } | Command::Quit | Command::EditMessage { .. } => {}
        }
    }

    /// Cancels the agents and returns once every one of them has stopped, so nothing they
    /// send can arrive after what is sent next.
    async fn stop(&mut self) {
        self.token.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(2), all)
            .await
            .is_err()
        {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

type Built = Result<(Clients, TargetInfo), String>;

/// Routes commands to the current generation and carries out target switches.
struct Supervisor {
    current: Generation,
    setup: Setup,
    routing: Routing,
    clients: Clients,
    tx: mpsc::Sender<Report>,
    token: CancellationToken,
}

/// The switch being built, if any (a newer request replaces it).
async fn built(building: &mut Option<(u64, JoinHandle<Built>)>) -> (u64, Built) {
    match building {
        Some((seq, handle)) => {
            let result = handle
                .await
                .unwrap_or_else(|e| Err(format!("building the clients failed: {e}")));
            (*seq, result)
        }
        None => std::future::pending().await,
    }
}

impl Supervisor {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut building: Option<(u64, JoinHandle<Built>)> = None;
        loop {
            tokio::select! {
                _ = self.token.cancelled() => break,
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    match command {
                        Command::SwitchTarget { seq, profile, region } => {
                            if let Some((_, old)) = building.take() {
                                old.abort();
                            }
                            let build = ops::target::connect_to(
                                self.clients.clone(),
                                self.setup.profile.clone(),
                                profile,
                                region,
                            );
                            building = Some((seq, tokio::spawn(build)));
                        }
                        other => {
                            match &other {
                                Command::SetMetricWindow(w) => self.routing.window = *w,
                                Command::PeekDlq(q) => self.routing.peek = q.clone(),
                                Command::QueuesOnScreen(names) => {
                                    self.routing.queues_on_screen.clone_from(names);
                                }
                                Command::GroupsOnScreen(names) => {
                                    self.routing.groups_on_screen.clone_from(names);
                                }
                                Command::TailLogs { request, follow } => {
                                    self.routing.logs = request.clone().map(|r| (r, *follow));
                                }
                                _ => {}
                            }
                            self.current.route(&other);
                        }
                    }
                }
                (seq, result) = built(&mut building), if building.is_some() => {
                    building = None;
                    if !self.switch(seq, result).await {
                        break;
                    }
                }
            }
        }
        if let Some((_, b)) = building {
            b.abort();
        }
        self.current.stop().await;
    }

    /// Stops the old agents, reports the new target, starts agents on it; on a failure the old
    /// agents stay. `false` when the UI is gone.
    async fn switch(&mut self, seq: u64, result: Built) -> bool {
        let (clients, info) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let report = Report::Target {
                    at: Utc::now(),
                    seq,
                    result: Err(e),
                };
                return self.tx.send(report).await.is_ok();
            }
        };
        tracing::info!(target = %clients.describe_target(), profile = ?info.profile, "switching target");
        self.current.stop().await;
        let report = Report::Target {
            at: Utc::now(),
            seq,
            result: Ok(info.clone()),
        };
        if self.tx.send(report).await.is_err() {
            return false;
        }
        self.setup.profile = info.profile;
        self.current =
            Generation::spawn(&clients, &self.tx, &self.setup, &self.routing, &self.token);
        self.clients = clients;
        true
    }
}
