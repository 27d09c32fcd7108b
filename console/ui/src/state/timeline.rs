//! The events marked on every chart's time axis: scaling decisions and activities, load runs
//! starting and ending, redrives, and a dead-letter queue receiving its first message.
//! Built from the reports as they arrive; bounded.

use std::collections::VecDeque;

use crate::model::Timestamp;

/// Events kept; older ones fall off.
const MAX_EVENTS: usize = 500;
/// Scaling marks for one group closer than this in the same direction and to the same capacity
/// (when known) are one event: the autoscaler's decision, AWS's activities and the console's
/// own observation of the change.
const SAME_SCALING_S: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mark {
    ScaleOut,
    ScaleIn,
    LoadStart,
    LoadEnd,
    Redrive,
    DlqArrival,
}

impl Mark {
    /// The one-cell glyph drawn on the time axis.
    pub fn glyph(self) -> char {
        match self {
            Mark::ScaleOut => '▲',
            Mark::ScaleIn => '▼',
            Mark::LoadStart => '▶',
            Mark::LoadEnd => '■',
            Mark::Redrive => 'R',
            Mark::DlqArrival => '×',
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Mark::ScaleOut => "scale out",
            Mark::ScaleIn => "scale in",
            Mark::LoadStart => "load start",
            Mark::LoadEnd => "load end",
            Mark::Redrive => "redrive",
            Mark::DlqArrival => "dead letter",
        }
    }

    fn is_scaling(self) -> bool {
        matches!(self, Mark::ScaleOut | Mark::ScaleIn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    pub at: Timestamp,
    pub mark: Mark,
    /// The group, queue or load scenario it is about.
    pub subject: String,
    /// For scaling: the capacity it went to, when known (AWS's activities do not say).
    pub to: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Oldest first.
    events: VecDeque<TimelineEvent>,
}

impl Timeline {
    /// Records `e` in time order unless it repeats one already kept. Returns whether it was new.
    pub fn push(&mut self, e: TimelineEvent) -> bool {
        let repeat = self.events.iter().any(|o| {
            o.mark == e.mark
                && o.subject == e.subject
                && (o.at == e.at
                    || (e.mark.is_scaling()
                        && (o.at - e.at).num_seconds().abs() < SAME_SCALING_S
                        && (o.to == e.to || o.to.is_none() || e.to.is_none())))
        });
        if repeat {
            return false;
        }
        let at = self.events.partition_point(|o| o.at <= e.at);
        self.events.insert(at, e);
        if self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
        true
    }

    /// Events with `from <= at <= to`, oldest first.
    pub fn within(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> impl DoubleEndedIterator<Item = &TimelineEvent> {
        self.events
            .iter()
            .filter(move |e| e.at >= from && e.at <= to)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(s: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn ev(s: i64, mark: Mark, subject: &str) -> TimelineEvent {
        TimelineEvent {
            at: at(s),
            mark,
            subject: subject.to_owned(),
            to: None,
            text: String::new(),
        }
    }

    #[test]
    fn events_stay_in_time_order_and_one_scaling_is_marked_once() {
        let mut t = Timeline::default();
        assert!(t.push(ev(100, Mark::ScaleOut, "w")));
        assert!(
            !t.push(ev(130, Mark::ScaleOut, "w")),
            "the same scale-out, seen again"
        );
        assert!(t.push(ev(130, Mark::ScaleOut, "api")));
        assert!(t.push(ev(40, Mark::LoadStart, "steady")));
        assert!(!t.push(ev(40, Mark::LoadStart, "steady")));
        assert!(
            t.push(ev(300, Mark::ScaleOut, "w")),
            "a later step is another event"
        );
        let to = |s, n| TimelineEvent {
            to: Some(n),
            ..ev(s, Mark::ScaleOut, "x")
        };
        assert!(t.push(to(500, 2)));
        assert!(
            t.push(to(540, 3)),
            "1→2 then 2→3 within a minute: two steps"
        );
        assert!(!t.push(to(545, 3)), "2→3 seen again");
        assert!(
            !t.push(ev(550, Mark::ScaleOut, "x")),
            "an activity of either"
        );
        let order: Vec<i64> = t
            .within(at(0), at(1000))
            .map(|e| (e.at - at(0)).num_seconds())
            .collect();
        assert_eq!(order, [40, 100, 130, 300, 500, 540]);
        assert_eq!(t.within(at(101), at(299)).count(), 1);
    }

    #[test]
    fn the_timeline_is_bounded() {
        let mut t = Timeline::default();
        for i in 0..(MAX_EVENTS as i64 + 20) {
            t.push(ev(i * 1000, Mark::Redrive, "q"));
        }
        assert_eq!(t.len(), MAX_EVENTS);
        assert_eq!(
            t.within(at(0), at(19_000)).count(),
            0,
            "the oldest went first"
        );
    }
}
