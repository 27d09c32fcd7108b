//! The latest `Queues` report, the depth samples kept from successive reports, the in/out rates
//! derived from them, and which group consumes which queue.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

pub use crate::config::Pairing;
use crate::model::{GroupSnapshot, QueueSnapshot, Timestamp};

/// Samples kept per queue: a day at a 5 s poll.
const MAX_SAMPLES: usize = 17_280;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    pub t: Timestamp,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl QueueSample {
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

/// Messages per second over the rate window. Depth alone cannot separate arrivals from
/// departures that overlap, so these are lower bounds: rises count as in, falls as out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub in_per_s: f64,
    pub out_per_s: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Queues {
    /// Source queues first, then dead-letter queues; each by name.
    pub list: Vec<QueueSnapshot>,
    pub at: Option<Timestamp>,
    samples: BTreeMap<String, VecDeque<QueueSample>>,
    /// The rows last told to the queues agent as on screen.
    pub(crate) on_screen: Vec<String>,
}

impl Queues {
    pub fn apply(&mut self, at: Timestamp, mut queues: Vec<QueueSnapshot>) -> bool {
        if self.at.is_some_and(|prev| at <= prev) {
            return false;
        }
        queues.sort_by(|a, b| (a.is_dlq, &a.name).cmp(&(b.is_dlq, &b.name)));
        for q in &queues {
            let log = self.samples.entry(q.name.clone()).or_default();
            // A row kept from an earlier reading is not a new sample (rates would read a
            // steady queue into it).
            let t = q.read_at.unwrap_or(at);
            if log.back().is_some_and(|last| last.t >= t) {
                continue;
            }
            log.push_back(QueueSample {
                t,
                visible: q.visible,
                in_flight: q.in_flight,
                delayed: q.delayed,
            });
            if log.len() > MAX_SAMPLES {
                log.pop_front();
            }
        }
        self.list = queues;
        self.at = Some(at);
        true
    }

    /// The oldest sample of any queue.
    pub fn oldest(&self) -> Option<Timestamp> {
        self.samples
            .values()
            .filter_map(|s| s.front().map(|p| p.t))
            .min()
    }

    /// The dead-letter queue `q` redrives into, when it is watched.
    pub fn dlq_of(&self, q: &QueueSnapshot) -> Option<&QueueSnapshot> {
        let arn = &q.redrive.as_ref()?.dlq_arn;
        self.list.iter().find(|d| &d.arn == arn)
    }

    pub fn get(&self, name: &str) -> Option<&QueueSnapshot> {
        self.list.iter().find(|q| q.name == name)
    }

    pub fn samples(&self, name: &str) -> impl DoubleEndedIterator<Item = &QueueSample> + Clone {
        self.samples.get(name).into_iter().flatten()
    }

    /// Rates over the samples within `window` before the newest one; `None` until two samples exist.
    pub fn rates(&self, name: &str, window: Duration) -> Option<Rates> {
        let newest = self.samples(name).next_back()?;
        let from = newest.t - chrono::Duration::from_std(window).ok()?;
        let mut recent: Vec<&QueueSample> = self
            .samples(name)
            .rev()
            .take_while(|s| s.t >= from)
            .collect();
        recent.reverse();
        let (first, last) = (recent.first()?, recent.last()?);
        let span = (last.t - first.t).num_milliseconds() as f64 / 1000.0;
        if recent.len() < 2 || span <= 0.0 {
            return None;
        }
        let (mut up, mut down) = (0u64, 0u64);
        for pair in recent.windows(2) {
            let (a, b) = (pair[0].total(), pair[1].total());
            if b > a {
                up += b - a;
            } else {
                down += a - b;
            }
        }
        Some(Rates {
            in_per_s: up as f64 / span,
            out_per_s: down as f64 / span,
        })
    }

    /// Source queues redriving into `dlq`.
    pub fn sources_of<'a>(
        &'a self,
        dlq: &'a QueueSnapshot,
    ) -> impl Iterator<Item = &'a QueueSnapshot> {
        self.list
            .iter()
            .filter(move |q| q.redrive.as_ref().is_some_and(|r| r.dlq_arn == dlq.arn))
    }
}

/// Backlog per in-service instance of the consuming group: visible messages / in service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    pub per_instance: Option<f64>,
    pub in_service: usize,
    pub target: Option<f64>,
}

pub fn backlog(queue: &QueueSnapshot, group: &GroupSnapshot) -> Backlog {
    let in_service = group.in_service();
    Backlog {
        per_instance: (in_service > 0).then(|| queue.visible as f64 / in_service as f64),
        in_service,
        target: group.backlog_target(),
    }
}
