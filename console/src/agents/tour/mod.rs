//! `flightdeck demo --tour`: the local cloud's story told in captions. A feed (like an agent,
//! it sends `ui::Report`s and stops on its token) that does real work through the fleet — a
//! load run against the API instances, a poison upload, the operator's fix and a redrive with
//! the console's own engine — and waits for each effect the audience should see: the queue
//! builds, the worker group scales out, CPU rises, the DLQ fills and empties, the group
//! scales back in. A step whose effect does not come in time ends the tour with a caption
//! saying what did not happen.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use load::{ApiTarget, Progress, RunOptions, Scenario, VideoPreset};
use local_cloud::{CpuSnapshot, FleetState};
use stack::errors::describe;
use stack::message::VideoTask;
use stack::{Clients, Stack};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ui::{Claim, Report};

use crate::agents::context::redrive_reported;
use crate::agents::Feed;
use crate::cli::args::FleetArgs;
use crate::local::LocalFleet;
use ops::audit;
use ops::dlq::peek::{peek, resolve_queue, DlqMessage, PeekOptions, QueueRef};
use ops::dlq::{Destination, MessageSet, RedriveRequest};
use ops::jobs::StartedBy;

mod acts;
mod plan;
mod printed;
mod wait;

pub use plan::plan;
use printed::Printed;
use wait::{caption, not_yet, Poll, Waited};

/// The tour's load: WORKLOAD.md's `ramp`, shortened and with the smallest synthetic video,
/// so that a 2-core machine runs it smoothly. It still outpaces one worker about threefold
/// (one worker takes some 0.4 s a tiny video there; 6 users send about 10 a second), so a
/// backlog builds and stays for the length of the story's steps 2 and 3: with 3 users and 1 s
/// of thinking the worker nearly kept up, and the queue showed 1 for a moment or not at all.
const RAMP: &str = r#"
description = "The tour's load: the ramp scenario in 30 s, up to 6 users uploading tiny videos"

[closed]
stages = [{ duration = "15s", target = 6 }, { duration = "15s", target = 6 }]
graceful_stop = "10s"

[[steps]]
upload = { video = "tiny" }

[[steps]]
think = "500ms"
"#;

/// Waiting uploads that make a backlog (not one caught between two receives).
const BACKLOG: u64 = 3;

/// One upload by one user; its file is replaced by the poison before the run.
const ONE_UPLOAD: &str = r#"
description = "The tour's poison upload: one user, one file"

[closed]
vus = 1
duration = "1m"
iterations = 1

[[steps]]
upload = { video = "tiny" }
"#;

/// The longest the tour waits for the console to show what it saw (agents refresh at once
/// when asked; CloudWatch's CPU comes at its period).
const SHOWN_WITHIN: Duration = Duration::from_secs(90);

/// The least chart window while the tour runs: its story (from the demo's start) fills it.
const TOUR_WINDOW: Duration = Duration::from_secs(120);

/// Worker CPU (% of an instance) that counts as risen.
const CPU_RISEN: f64 = 40.0;

/// How long the tour waits and shows things.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The longest wait for one step's effect.
    pub step_timeout: Duration,
    /// Extra wait for the scale-in, per instance to remove (the cooldown runs between each).
    pub cooldown: Duration,
    /// The least time a caption with a result stays up, so the audience can read it.
    pub dwell: Duration,
    /// How often effects are checked.
    pub poll: Duration,
}

impl Timing {
    pub fn new(cooldown: Duration) -> Timing {
        Timing {
            step_timeout: Duration::from_secs(300),
            cooldown,
            dwell: Duration::from_secs(3),
            poll: Duration::from_secs(1),
        }
    }
}

/// What the tour works with: the local cloud's clients and the running fleet.
pub struct Tour {
    pub clients: Clients,
    pub stack: Stack,
    pub fleet: watch::Receiver<FleetState>,
    pub cpu: watch::Receiver<CpuSnapshot>,
    pub profile: Option<String>,
    pub timing: Timing,
    /// The last caption's advice, e.g. "q quits".
    pub ending: &'static str,
    /// The caption on screen, from the console (`None` without one: captions are printed).
    pub shown: Option<watch::Receiver<Option<String>>>,
}

/// Why the story stopped early.
enum Stop {
    /// The operator quit: nothing more to say.
    Cancelled,
    /// An effect did not come (or an action failed): the caption says which.
    Failed(String),
}

type Told<T> = Result<T, Stop>;

/// The queues the story watches.
struct Queues {
    tasks: QueueRef,
    dlq: QueueRef,
}

/// The ramp running in the background.
struct LoadRun {
    scenario: String,
    /// The most users at once, and how long the run is planned to take.
    users: u64,
    planned: Duration,
    progress: watch::Receiver<Progress>,
    /// `Some(Err(..))` when the run could not start or failed.
    done: watch::Receiver<Option<Result<(), String>>>,
}

impl LoadRun {
    fn summary(&self) -> String {
        let p = self.progress.borrow();
        let mut s = format!("load: {} upload(s) ok, {} failed", p.ok, p.failed);
        if let Some((class, n)) = p.errors.iter().max_by_key(|(_, n)| **n) {
            s.push_str(&format!(", mostly {class} ×{n}"));
        }
        if let Some(Err(e)) = &*self.done.borrow() {
            s.push_str(&format!("; the run failed: {e}"));
        }
        s
    }
}

impl Tour {
    /// The tour of the demo's local cloud and fleet (`args` as [`plan::fleet_args`] made them).
    pub fn for_fleet(
        clients: &Clients,
        stack: &Stack,
        fleet: &LocalFleet,
        args: &FleetArgs,
        target: &crate::cli::args::Target,
        ending: &'static str,
    ) -> Tour {
        let cooldown = args
            .cooldown
            .unwrap_or(u64::from(stack.groups.worker.default_cooldown_s));
        Tour {
            clients: clients.clone(),
            stack: stack.clone(),
            fleet: fleet.fleet.subscribe(),
            cpu: fleet.cpu.subscribe(),
            profile: target.profile.clone(),
            timing: Timing::new(Duration::from_secs(cooldown)),
            ending,
            shown: None,
        }
    }

    /// The tour as a console feed.
    pub fn feed(self) -> Feed {
        Box::new(move |tx, token| Box::pin(self.run(tx, token)))
    }

    /// Tells the story until its end, a failed step or the token.
    pub async fn run(self, tx: mpsc::Sender<Report>, token: CancellationToken) {
        // The load run and the CPU watch live here: however the tour ends, they end with it.
        let mut tasks = JoinSet::new();
        let ending = self.ending;
        match self.story(&tx, &token, &mut tasks).await {
            Ok(()) => {
                let _ = caption(&tx, format!("tour done: {ending}")).await;
            }
            Err(Stop::Cancelled) => {}
            Err(Stop::Failed(why)) => {
                tracing::warn!("tour stopped: {why}");
                let _ = caption(&tx, format!("tour stopped: {why} ({ending})")).await;
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    async fn story(
        &self,
        tx: &mpsc::Sender<Report>,
        token: &CancellationToken,
        tasks: &mut JoinSet<()>,
    ) -> Told<()> {
        let worker = &self.stack.groups.worker;
        let queues = &self.queues(token).await?;
        let peak_cpu = self.watch_cpu(&worker.name, tasks);
        let limit = self.timing.step_timeout;

        // The story lasts minutes: the charts fit it rather than the usual 5-minute least.
        tx.send(Report::FitWindow {
            at: Utc::now(),
            least: TOUR_WINDOW,
        })
        .await
        .map_err(|_| Stop::Cancelled)?;

        // 1. The load.
        let text = "1/7 load: a ramp of small uploads";
        caption(tx, text).await?;
        let targets = self.api_targets(token).await?;
        let baseline = self
            .call(token, self.desired(&worker.name))
            .await?
            .map_err(|e| Stop::Failed(format!("cannot read the worker group: {e}")))?;
        let load = &self.start_load(tx, targets.clone(), token, tasks)?;
        self.until(token, limit, || {
            let sent = load.progress.borrow().sent;
            let failed = load.done.borrow().as_ref().and_then(|r| r.clone().err());
            async move {
                match (sent, failed) {
                    (_, Some(e)) => Ok(Poll::Failed(e)),
                    (0, None) => not_yet("nothing sent yet".into()),
                    _ => Ok(Poll::Ready(())),
                }
            }
        })
        .await
        .map_err(|e| e.failed(format!("the load run did not start ({})", load.summary())))?;
        let sent = load.progress.borrow().sent;
        self.show(
            tx,
            token,
            format!(
                "{text}: up to {} users over {} s, {{}} sent to {} API instance(s)",
                load.users,
                load.planned.as_secs(),
                targets.len()
            ),
            Claim::Sent {
                scenario: load.scenario.clone(),
                min: 1,
            },
            sent as f64,
        )
        .await?;
        self.dwell(token).await?;

        // 2. The queue builds.
        let text = "2/7 the queue builds";
        caption(tx, text).await?;
        let waiting = self
            .until(token, limit, || {
                let over = load.done.borrow().is_some();
                async move {
                    match self.visible(&queues.tasks).await? {
                        n if n >= BACKLOG => Ok(Poll::Ready(n)),
                        // Nothing more will come: say what the load did instead.
                        n if over => Ok(Poll::Failed(format!(
                            "the load run ended with {n} waiting ({})",
                            load.summary()
                        ))),
                        n => not_yet(format!("{n} waiting ({})", load.summary())),
                    }
                }
            })
            .await
            .map_err(|e| e.failed(format!("no upload waited in {}", queues.tasks.name)))?;
        self.show(
            tx,
            token,
            format!("{text}: {{}} waiting in {}", queues.tasks.name),
            Claim::Visible {
                queue: queues.tasks.name.clone(),
                min: 1,
                max: u64::MAX,
            },
            waiting as f64,
        )
        .await?;
        self.dwell(token).await?;

        // 3. The worker group scales out.
        let text = "3/7 the worker group scales out";
        caption(tx, text).await?;
        let rose = self
            .until(token, limit, || async move {
                match self.desired(&worker.name).await? {
                    d if d > baseline => Ok(Poll::Ready(d)),
                    d => not_yet(format!("desired still {d}")),
                }
            })
            .await;
        let grown = match rose {
            Ok(d) => d,
            Err(e) => Err(e.failed(format!(
                "the desired capacity of {} did not rise{}",
                worker.name,
                self.autoscaler_hint(&worker.name).await
            )))?,
        };
        self.show(
            tx,
            token,
            format!("{text}: desired {baseline} → {{}}"),
            Claim::Desired {
                group: worker.name.clone(),
                min: baseline + 1,
                max: u32::MAX,
            },
            f64::from(grown),
        )
        .await?;
        self.dwell(token).await?;

        // 4. CPU rises.
        let text = "4/7 CPU rises";
        caption(tx, text).await?;
        let cpu = self
            .until(token, limit, || {
                let peak = *peak_cpu.borrow();
                async move {
                    if peak >= CPU_RISEN {
                        Ok(Poll::Ready(peak))
                    } else {
                        not_yet(format!("peak {peak:.0}%"))
                    }
                }
            })
            .await
            .map_err(|e| {
                e.failed(format!(
                    "the CPU of {} stayed under {CPU_RISEN:.0}%",
                    worker.name
                ))
            })?;
        self.show(
            tx,
            token,
            format!("{text}: {} instances at {{}}%", worker.name),
            Claim::Cpu {
                group: worker.name.clone(),
                min: CPU_RISEN,
            },
            cpu,
        )
        .await?;
        self.dwell(token).await?;

        // 5. A poison upload lands in the DLQ.
        let text = "5/7 a poison upload lands in the DLQ";
        caption(tx, text).await?;
        let since = Utc::now() - chrono::Duration::seconds(5);
        self.upload_poison(targets, token).await?;
        let dead = self
            .until(token, limit, || async move {
                if self.visible(&queues.dlq).await? == 0 {
                    return not_yet("the DLQ empty".into());
                }
                match self.newest_dead_letter(&queues.dlq, since, token).await? {
                    Some(m) => Ok(Poll::Ready(m)),
                    None => not_yet("only older dead letters".into()),
                }
            })
            .await
            .map_err(|e| {
                e.failed(format!(
                    "the poison upload did not reach {} (is the worker still busy with the backlog?)",
                    queues.dlq.name
                ))
            })?;
        let reason = dead
            .failure_reason()
            .unwrap_or("no failure_reason")
            .to_owned();
        let task = VideoTask::parse(&dead.body)
            .map_err(|e| Stop::Failed(format!("the dead letter is not a v1 video task: {e}")))?;
        self.show(
            tx,
            token,
            format!("{text}: failure_reason {reason}"),
            Claim::Visible {
                queue: queues.dlq.name.clone(),
                min: 1,
                max: u64::MAX,
            },
            0.0,
        )
        .await?;
        self.dwell(token).await?;

        // 6. The dead letter's log lines say why: every line about its video, on every
        // instance, as `l` on the message shows them.
        let text = "6/7 the dead letter's log lines say why";
        caption(tx, text).await?;
        let lines = self.lines_about(&dead, since, token).await?;
        tx.send(Report::ShowLogs {
            at: Utc::now(),
            request: Some(lines.request.clone()),
            about: Some(format!(
                "dead letter {}",
                ui::state::nav::short_id(&dead.id)
            )),
        })
        .await
        .map_err(|_| Stop::Cancelled)?;
        self.show(
            tx,
            token,
            format!(
                "{text}: {{}} lines; {} gave it up: {}",
                lines.instance, lines.last
            ),
            Claim::LogLines {
                ids: lines.request.ids.clone(),
                min: lines.count,
            },
            lines.count as f64,
        )
        .await?;
        self.dwell(token).await?;
        tx.send(Report::ShowLogs {
            at: Utc::now(),
            request: None,
            about: None,
        })
        .await
        .map_err(|_| Stop::Cancelled)?;

        // 7. The operator fixes the upload and redrives it.
        let text = "7/7 the operator fixes it and redrives";
        caption(tx, text).await?;
        self.fix(&task, token).await?;
        // The worker's own line says when the video is done (a little before now, for clocks).
        let redriven_at = Utc::now() - chrono::Duration::seconds(5);
        let moved = self.redrive(tx, &queues.dlq, &dead, token).await?;
        let video_id = &task.video_id.to_string();
        self.until(token, limit, || async move {
            let left = self.visible(&queues.dlq).await?;
            let processed = self.processed_since(video_id, redriven_at).await?;
            if left == 0 && processed {
                Ok(Poll::Ready(()))
            } else {
                not_yet(format!(
                    "{left} in the DLQ; {}",
                    if processed {
                        "the video processed"
                    } else {
                        "no worker line yet that the video was processed"
                    }
                ))
            }
        })
        .await
        .map_err(|e| e.failed("the redriven video was not processed".into()))?;
        self.show(
            tx,
            token,
            format!("{text}: moved {moved}, the DLQ is empty, the video is processed"),
            Claim::Visible {
                queue: queues.dlq.name.clone(),
                min: 0,
                max: 0,
            },
            0.0,
        )
        .await?;
        self.dwell(token).await?;

        // 7. Scale-in, one instance per cooldown.
        let text = "the group scales back in";
        caption(tx, text).await?;
        let steps = worker.max.saturating_sub(worker.min);
        let peak = &AtomicU32::new(grown);
        let fell = self
            .until(token, limit + self.timing.cooldown * steps, || async move {
                let d = self.desired(&worker.name).await?;
                peak.fetch_max(d, Ordering::Relaxed);
                if d <= worker.min {
                    Ok(Poll::Ready(()))
                } else {
                    not_yet(format!("desired still {d}"))
                }
            })
            .await;
        if let Err(e) = fell {
            Err(e.failed(format!(
                "{} did not scale back in to {}{}",
                worker.name,
                worker.min,
                self.autoscaler_hint(&worker.name).await
            )))?;
        }
        let from = peak.load(Ordering::Relaxed);
        self.show(
            tx,
            token,
            format!("{text}: desired {from} → {{}}"),
            Claim::Desired {
                group: worker.name.clone(),
                min: 0,
                max: worker.min,
            },
            f64::from(worker.min),
        )
        .await?;
        self.dwell(token).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::plan::{fleet_args, COOLDOWN_S, WARMUP_S};
    use super::*;

    #[test]
    fn the_tour_scenarios_parse() {
        let ramp = Scenario::parse(RAMP, "ramp", "tour-ramp").unwrap();
        // The first caption says "up to 6 users over 30 s".
        assert_eq!(ramp.planned_duration(), Duration::from_secs(30));
        let stages = ramp.closed.map(|c| c.stages).unwrap_or_default();
        assert_eq!(stages.iter().map(|s| s.target).max(), Some(6));
        let one = Scenario::parse(ONE_UPLOAD, "one", "tour-poison").unwrap();
        assert_eq!(one.closed.and_then(|c| c.iterations), Some(1));
    }

    #[test]
    fn the_tour_needs_the_fleet_and_autoscaler_and_shortens_timings() {
        let args = fleet_args(&FleetArgs::default()).unwrap();
        assert_eq!(
            (args.warmup, args.cooldown),
            (Some(WARMUP_S), Some(COOLDOWN_S))
        );
        let given = FleetArgs {
            warmup: Some(2),
            cooldown: Some(5),
            ..FleetArgs::default()
        };
        let args = fleet_args(&given).unwrap();
        assert_eq!((args.warmup, args.cooldown), (Some(2), Some(5)));
        let no_fleet = FleetArgs {
            no_fleet: true,
            ..FleetArgs::default()
        };
        assert!(fleet_args(&no_fleet)
            .unwrap_err()
            .to_string()
            .contains("drop --no-fleet"));
        let manual = FleetArgs {
            no_autoscaler: true,
            ..FleetArgs::default()
        };
        assert!(fleet_args(&manual)
            .unwrap_err()
            .to_string()
            .contains("drop --no-autoscaler"));
    }

    #[test]
    fn a_wait_that_runs_out_says_what_it_last_saw() {
        let stop = Waited::TimedOut {
            limit: Duration::from_secs(90),
            last: "still 1".into(),
        }
        .failed("the desired capacity did not rise".into());
        match stop {
            Stop::Failed(text) => assert_eq!(
                text,
                "the desired capacity did not rise within 90 s; last seen: still 1"
            ),
            Stop::Cancelled => panic!("a timeout is not a cancel"),
        }
    }
}
