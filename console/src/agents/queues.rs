//! The queues agent: finds the watched queues (`ops::watch::QueueFinder`: GetQueueUrl for
//! named ones, ListQueues by prefix, tags cached), then GetQueueAttributes (the attributes it
//! shows) for each, [`READS_AT_ONCE`] at a time (one), and for the dead-letter queues their
//! redrive policies name. Talks to SQS.
//!
//! SQS has no batch read, so a reading costs one call per queue. The rows on screen (the UI
//! says which, [`QueuesPoller::with_on_screen`]) and the queues watched by name are read every
//! pass; the others once per `offscreen_every`, a share of them each pass, and again at once
//! when they come on screen. Each report carries every queue with its last reading
//! (`read_at`). With many queues the wait between passes also grows to keep the average at
//! [`CALLS_PER_S`], and the first pass reports what it has read every [`FIRST_PASS_STEP`], so
//! the table fills while the rest is read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use stack::Clients;
use ui::{Agent, MetricKey, QueueSnapshot, Report};

use super::{CallLog, Failure, Poller};
use ops::queues::{mark_dlqs, queue_snapshot, SNAPSHOT_ATTRIBUTES};
use ops::watch::{queue_name, QueueFinder};

/// GetQueueAttributes calls per second, on average, that the refresh may cost.
pub const CALLS_PER_S: f64 = 20.0;
/// How often the first pass reports the queues it has read so far.
pub const FIRST_PASS_STEP: Duration = Duration::from_millis(250);
/// GetQueueAttributes calls a pass has in flight at once. One: with eight, against the
/// local cloud (one emulator process serving every API), the groups agent's first calls
/// waited behind the queue reads and the first full frame came about twice as late
/// (bench/console.sh with 202 queues, six starts each: median 1248 ms against 736 ms,
/// results `console-2026-12-06-1953-reads8` and `-1954-reads1`). On AWS, where each API is
/// served apart and every call is a network round trip, more in flight would shorten a pass;
/// not measured here.
pub const READS_AT_ONCE: usize = 1;

pub struct QueuesPoller {
    clients: Clients,
    calls: CallLog,
    interval: Duration,
    finder: QueueFinder,
    /// Each queue's last reading, by URL, and when it was taken.
    readings: BTreeMap<String, (Instant, QueueSnapshot)>,
    /// The names of the rows on screen, from the UI; `None`: every queue is read every pass.
    on_screen: Option<tokio::sync::watch::Receiver<Vec<String>>>,
    offscreen_every: Duration,
    /// Calls in the last pass (sets the wait before the next).
    last_calls: usize,
    passes: u64,
    /// Where the first pass sends what it has so far (the agents' channel), and how often.
    progress: Option<tokio::sync::mpsc::Sender<Report>>,
    step: Duration,
    /// Where the queues' CloudWatch series go (the metrics agent), when it is told.
    series: Option<tokio::sync::watch::Sender<Vec<MetricKey>>>,
}

impl QueuesPoller {
    pub fn new(clients: Clients, calls: CallLog, interval: Duration, finder: QueueFinder) -> Self {
        QueuesPoller {
            clients,
            calls,
            interval,
            finder,
            readings: BTreeMap::new(),
            on_screen: None,
            offscreen_every: interval,
            last_calls: 0,
            passes: 0,
            progress: None,
            step: FIRST_PASS_STEP,
            series: None,
        }
    }

    /// Tell the metrics agent each queue's depth series (`AWS/SQS`, the history before the
    /// console's own samples).
    pub fn with_series(mut self, tx: tokio::sync::watch::Sender<Vec<MetricKey>>) -> Self {
        self.series = Some(tx);
        self
    }

    /// Report the first pass's queues as they are read, on `tx`, every `step`.
    pub fn with_progress(mut self, tx: tokio::sync::mpsc::Sender<Report>, step: Duration) -> Self {
        self.progress = Some(tx);
        self.step = step;
        self
    }

    /// Read the rows the UI shows (`rx`, names) every pass, and the rest about every `every`.
    pub fn with_on_screen(
        mut self,
        rx: tokio::sync::watch::Receiver<Vec<String>>,
        every: Duration,
    ) -> Self {
        self.on_screen = Some(rx);
        self.offscreen_every = every;
        self
    }

    /// Reads the queues of `urls` into `readings`, [`READS_AT_ONCE`] at a time; a queue
    /// deleted since it was found is forgotten. The first failure ends the reads. With
    /// `progress`, what has been read so far is reported every `step`. Returns the calls made.
    async fn read_all(&mut self, urls: Vec<String>, progress: bool) -> Result<usize, Failure> {
        let (sqs, calls) = (self.clients.sqs.clone(), self.calls.clone());
        let mut reads = futures_util::stream::iter(urls)
            .map(|url| {
                let (sqs, calls) = (sqs.clone(), calls.clone());
                async move {
                    let read = read_queue(&sqs, &calls, &url).await;
                    (url, read)
                }
            })
            .buffer_unordered(READS_AT_ONCE);
        let mut count = 0;
        let mut sent = Instant::now();
        while let Some((url, read)) = reads.next().await {
            count += 1;
            match read? {
                Some(q) => {
                    self.readings.insert(url, (Instant::now(), q));
                }
                None => {
                    self.finder.forget(&url);
                    self.readings.remove(&url);
                }
            }
            if progress && sent.elapsed() >= self.step {
                if let Some(tx) = &self.progress {
                    // Best effort: a full channel only means the UI sees the whole pass later.
                    let _ = tx.try_send(Report::Queues {
                        at: Utc::now(),
                        queues: self.reported(),
                    });
                }
                sent = Instant::now();
            }
        }
        Ok(count)
    }

    /// The queues of `urls` this pass reads (see [`plan`]).
    fn due(&mut self, urls: &[String]) -> Vec<String> {
        let Some(rx) = &mut self.on_screen else {
            return urls.to_vec();
        };
        let shown: BTreeSet<String> = rx.borrow_and_update().iter().cloned().collect();
        let named: BTreeSet<&str> = self.finder.named().iter().map(String::as_str).collect();
        let now = Instant::now();
        let candidates: Vec<Candidate> = urls
            .iter()
            .map(|url| {
                let name = queue_name(url);
                Candidate {
                    url,
                    on_screen: shown.contains(name) || named.contains(name),
                    age: self.readings.get(url).map(|(t, _)| now - *t),
                }
            })
            .collect();
        plan(
            &candidates,
            pass_interval(self.interval, self.last_calls),
            self.offscreen_every,
        )
    }
}

impl Poller for QueuesPoller {
    const AGENT: Agent = Agent::Queues;

    fn interval(&self) -> Duration {
        pass_interval(self.interval, self.last_calls)
    }

    async fn changed(&mut self) {
        super::screen_changed(self.on_screen.as_mut()).await;
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        let mut urls = self
            .finder
            .urls(&self.clients, &self.calls)
            .await
            .map_err(|e| Failure::from_call(&e))?;
        // The dead-letter queues earlier readings' redrive policies name: watched like the rest.
        if self.finder.dead_letter_queues {
            let dlqs = self.named_dlqs(&urls).await?;
            urls.extend(dlqs);
        }
        self.readings.retain(|url, _| urls.contains(url));
        let first = self.passes == 0;
        let due = self.due(&urls);
        let mut calls = self.read_all(due, first).await?;
        // Dead-letter queues named for the first time by what was just read.
        if self.finder.dead_letter_queues {
            let dlqs = self.named_dlqs(&urls).await?;
            calls += self.read_all(dlqs, false).await?;
        }
        let queues = self.reported();
        self.passes += 1;
        self.last_calls = calls;
        if let Some(tx) = &self.series {
            let keys: Vec<MetricKey> = queues
                .iter()
                .flat_map(|q| {
                    [
                        ui::QUEUE_VISIBLE_METRIC,
                        ui::QUEUE_IN_FLIGHT_METRIC,
                        ui::QUEUE_OLDEST_AGE_METRIC,
                    ]
                    .map(|m| MetricKey::of(&q.name, m))
                })
                .collect();
            tx.send_if_modified(|old| {
                let changed = *old != keys;
                if changed {
                    *old = keys;
                }
                changed
            });
        }
        Ok(vec![Report::Queues {
            at: Utc::now(),
            queues,
        }])
    }
}

impl QueuesPoller {
    /// The URLs of the dead-letter queues that the readings' redrive policies name and that
    /// `urls` lacks (each ARN looked up once, by the finder).
    async fn named_dlqs(&mut self, urls: &[String]) -> Result<Vec<String>, Failure> {
        let arns: BTreeSet<String> = self
            .readings
            .values()
            .filter_map(|(_, q)| q.redrive.as_ref().map(|r| r.dlq_arn.clone()))
            .collect();
        let mut out = Vec::new();
        for arn in arns {
            let url = self
                .finder
                .dlq_url(&self.clients, &self.calls, &arn)
                .await
                .map_err(|e| Failure::from_call(&e))?;
            out.extend(url.filter(|u| !urls.contains(u) && !out.contains(u)));
        }
        Ok(out)
    }

    /// Every queue's last reading, as a report carries them.
    fn reported(&self) -> Vec<QueueSnapshot> {
        as_reported(self.readings.values().map(|(_, q)| q.clone()).collect())
    }
}

/// A watched queue as [`plan`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub url: &'a str,
    /// On screen, or watched by name: read every pass.
    pub on_screen: bool,
    /// Since its last reading; `None`: never read.
    pub age: Option<Duration>,
}

/// Which queues a pass reads, in order: every queue never read; every queue on screen whose
/// reading is about a pass old (a pass the UI started early, for rows that just came on
/// screen, reads only those); and the off-screen queues whose reading is about
/// `offscreen_every` old, oldest first, no more than their share of a pass (so each is read
/// about every `offscreen_every`, steadily rather than all at once).
pub fn plan(candidates: &[Candidate], pass: Duration, offscreen_every: Duration) -> Vec<String> {
    // A pass that starts a little early still reads what the last one read.
    let slack = |d: Duration| d.mul_f64(0.8);
    let mut read: Vec<String> = Vec::new();
    let mut due_off: Vec<(Duration, &str)> = Vec::new();
    let mut off_screen = 0usize;
    for c in candidates {
        match (c.age, c.on_screen) {
            (None, _) => read.push(c.url.to_owned()),
            (Some(age), true) => {
                if age >= slack(pass) {
                    read.push(c.url.to_owned());
                }
            }
            (Some(age), false) => {
                off_screen += 1;
                if age >= slack(offscreen_every) {
                    due_off.push((age, c.url));
                }
            }
        }
    }
    let share = (off_screen as f64 * pass.as_secs_f64() / offscreen_every.as_secs_f64().max(0.001))
        .ceil() as usize;
    let most = share.max(1);
    due_off.sort_by_key(|(age, _)| std::cmp::Reverse(*age));
    read.extend(due_off.into_iter().take(most).map(|(_, u)| u.to_owned()));
    read
}

/// Queues as a report carries them: DLQs marked, by name.
fn as_reported(mut queues: Vec<QueueSnapshot>) -> Vec<QueueSnapshot> {
    mark_dlqs(&mut queues);
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    queues
}

/// The wait between passes over `count` queues: the configured refresh, longer when the
/// calls would average more than [`CALLS_PER_S`].
pub fn pass_interval(refresh: Duration, calls: usize) -> Duration {
    refresh.max(Duration::from_secs_f64(calls as f64 / CALLS_PER_S))
}

/// One queue's attributes ([`SNAPSHOT_ATTRIBUTES`]) as a snapshot; `None`: the queue is gone
/// (deleted since it was found).
async fn read_queue(
    sqs: &aws_sdk_sqs::Client,
    calls: &CallLog,
    url: &str,
) -> Result<Option<QueueSnapshot>, Failure> {
    const API: &str = "GetQueueAttributes";
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .set_attribute_names(Some(SNAPSHOT_ATTRIBUTES.to_vec()))
        .send()
        .await;
    calls.record(API, out.is_ok());
    match out {
        Ok(out) => {
            let mut q = queue_snapshot(url, out.attributes().unwrap_or(&HashMap::new()));
            q.read_at = Some(Utc::now());
            Ok(Some(q))
        }
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(Failure::from_sdk(API, &e)),
    }
}

fn is_gone<R>(
    e: &aws_sdk_sqs::error::SdkError<
        aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError,
        R,
    >,
) -> bool {
    e.as_service_error()
        .is_some_and(|e| e.is_queue_does_not_exist())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// `n` queues named q000..: the first `shown` on screen, each read `age(i)` ago.
    fn queues(n: usize, shown: usize, age: impl Fn(usize) -> Option<Duration>) -> Vec<String> {
        let urls: Vec<String> = (0..n).map(|i| format!("q{i:03}")).collect();
        let candidates: Vec<Candidate> = urls
            .iter()
            .enumerate()
            .map(|(i, url)| Candidate {
                url,
                on_screen: i < shown,
                age: age(i),
            })
            .collect();
        plan(&candidates, secs(3), secs(60))
    }

    #[test]
    fn the_first_pass_reads_every_queue() {
        assert_eq!(queues(200, 10, |_| None).len(), 200);
    }

    #[test]
    fn rows_on_screen_are_read_every_pass_and_the_rest_a_share_at_a_time_oldest_first() {
        // 10 on screen read a pass ago; 190 off screen read 0..190 s ago.
        let read = queues(200, 10, |i| {
            Some(if i < 10 { secs(3) } else { secs(i as u64 - 10) })
        });
        let (shown, off): (Vec<_>, Vec<_>) = read.iter().partition(|u| u.as_str() < "q010");
        assert_eq!(shown.len(), 10);
        // 190 queues every 60 s in 3 s passes: 10 a pass (190 * 3 / 60 = 9.5), the oldest.
        assert_eq!(
            off,
            ["q199", "q198", "q197", "q196", "q195", "q194", "q193", "q192", "q191", "q190"]
        );
        // Read recently, none of the off-screen ones is due.
        let read = queues(200, 10, |i| Some(if i < 10 { secs(3) } else { secs(10) }));
        assert_eq!(read.len(), 10);
    }

    #[test]
    fn a_pass_the_ui_starts_early_reads_only_the_rows_that_just_came_on_screen() {
        // q000..q009 were read a moment ago; q010..q014 just scrolled on (read long ago).
        let read = queues(100, 15, |i| {
            Some(if i < 10 {
                Duration::from_millis(400)
            } else {
                secs(40)
            })
        });
        assert_eq!(read, ["q010", "q011", "q012", "q013", "q014"]);
    }

    #[test]
    fn overdue_rows_are_read_a_share_at_a_time_and_every_pass_reads_one() {
        // Everything off screen is overdue (a scroll back to the top, say): 200 * 3 / 60.
        let read = queues(200, 0, |_| Some(secs(120)));
        assert_eq!(read.len(), 10);
        // Two queues off screen: each pass may still read one.
        assert_eq!(queues(2, 0, |_| Some(secs(61))).len(), 1);
    }

    #[test]
    fn many_queues_stretch_the_pass_to_the_call_budget() {
        let three = Duration::from_secs(3);
        assert_eq!(pass_interval(three, 2), three);
        assert_eq!(pass_interval(three, 60), three);
        assert_eq!(pass_interval(three, 202), Duration::from_secs_f64(10.1));
        assert_eq!(
            pass_interval(Duration::from_secs(30), 202),
            Duration::from_secs(30)
        );
    }
}
