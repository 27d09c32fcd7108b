//! Chart settings: the time window (cycled with +/-), freeze, and the marker style.

use std::time::Duration;

use crate::config::ChartMarker;
use crate::model::Timestamp;

/// The windows `+` and `-` step through.
pub const WINDOWS: [Duration; 4] = [
    Duration::from_secs(15 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(3 * 3600),
    Duration::from_secs(24 * 3600),
];

pub const MIN_WINDOW: Duration = Duration::from_secs(60);
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSettings {
    pub window: Duration,
    /// Charts end here instead of now while frozen.
    pub frozen_at: Option<Timestamp>,
    pub marker: ChartMarker,
}

impl ChartSettings {
    pub fn new(marker: ChartMarker) -> Self {
        ChartSettings {
            window: WINDOWS[1],
            frozen_at: None,
            marker,
        }
    }

    /// Steps to the next longer standard window; `None` at the longest.
    pub fn longer(&mut self) -> Option<Duration> {
        let next = WINDOWS.iter().copied().find(|w| *w > self.window)?;
        self.window = next;
        Some(next)
    }

    pub fn shorter(&mut self) -> Option<Duration> {
        let next = WINDOWS.iter().rev().copied().find(|w| *w < self.window)?;
        self.window = next;
        Some(next)
    }

    /// The right edge of every chart.
    pub fn end(&self, now: Timestamp) -> Timestamp {
        self.frozen_at.unwrap_or(now)
    }

    pub fn start(&self, now: Timestamp) -> Timestamp {
        self.end(now)
            - chrono::Duration::from_std(self.window).unwrap_or_else(|_| chrono::Duration::hours(1))
    }
}
