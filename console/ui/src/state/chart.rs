//! Chart settings: the time window (fitted to the data, or one of the fixed windows cycled with
//! +/-), freeze, and the marker style.

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
/// A fitted window is never shorter than this, so a fresh demo's first minutes are not stretched.
pub const FIT_MIN: Duration = Duration::from_secs(5 * 60);
/// Nor longer than this: a console watching for days still shows the last hour, as before.
pub const FIT_MAX: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSettings {
    /// The window fits the data ("since start", between `FIT_MIN` and `FIT_MAX`); `+`/`-` and
    /// `:window` switch to a fixed `window`.
    pub fit: bool,
    /// The least fitted window: [`FIT_MIN`] unless a feed asks for less (the demo tour, so
    /// that its few minutes fill the charts).
    pub fit_min: Duration,
    /// The fixed window, when not fitting.
    pub window: Duration,
    /// Charts end here instead of now while frozen.
    pub frozen_at: Option<Timestamp>,
    pub marker: ChartMarker,
}

impl ChartSettings {
    /// Freezes the charts at `now`, or unfreezes them.
    pub fn toggle_freeze(&mut self, now: Timestamp) {
        self.frozen_at = match self.frozen_at {
            Some(_) => None,
            None => Some(now),
        };
    }

    pub fn new(marker: ChartMarker) -> Self {
        ChartSettings {
            fit: true,
            fit_min: FIT_MIN,
            window: WINDOWS[1],
            frozen_at: None,
            marker,
        }
    }

    /// The window the metrics agent should fetch: the fitted window's longest while fitting,
    /// so a console started late still has the last hour to show.
    pub fn fetch_window(&self) -> Duration {
        if self.fit {
            FIT_MAX
        } else {
            self.window
        }
    }

    /// The window drawn, given how far back the data goes (`span`).
    pub fn shown(&self, span: Option<Duration>) -> Duration {
        if !self.fit {
            return self.window;
        }
        let span = span.unwrap_or(self.fit_min);
        // Whole minutes, so the axis labels stay round.
        let minutes = span.as_secs().div_ceil(60) * 60;
        Duration::from_secs(minutes).clamp(self.fit_min, FIT_MAX)
    }

    /// Fit the data again, with at least `least` (between a minute and [`FIT_MIN`]).
    pub fn fit_at_least(&mut self, least: Duration) {
        self.fit = true;
        self.fit_min = least.clamp(MIN_WINDOW, FIT_MIN);
    }

    /// From the fitted window (now `shown`) to the next longer fixed one, or between the fixed
    /// ones; returns the window to fetch, `None` at the longest.
    pub fn longer(&mut self, shown: Duration) -> Option<Duration> {
        let from = if self.fit { shown } else { self.window };
        let next = WINDOWS.iter().copied().find(|w| *w > from)?;
        self.fit = false;
        self.window = next;
        Some(next)
    }

    /// To the next shorter fixed window; below the shortest, back to fitting the data.
    pub fn shorter(&mut self) -> Option<Duration> {
        if self.fit {
            return None;
        }
        match WINDOWS.iter().rev().copied().find(|w| *w < self.window) {
            Some(next) => self.window = next,
            None => self.fit = true,
        }
        Some(self.fetch_window())
    }

    /// A fixed window (`:window 30m`).
    pub fn set_fixed(&mut self, w: Duration) {
        self.fit = false;
        self.window = w;
    }

    /// The right edge of every chart.
    pub fn end(&self, now: Timestamp) -> Timestamp {
        self.frozen_at.unwrap_or(now)
    }

    pub fn start(&self, now: Timestamp, shown: Duration) -> Timestamp {
        self.end(now)
            - chrono::Duration::from_std(shown).unwrap_or_else(|_| chrono::Duration::hours(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60;

    #[test]
    fn the_fitted_window_covers_the_data_within_its_bounds() {
        let c = ChartSettings::new(ChartMarker::Braille);
        let m = |n: u64| Duration::from_secs(n * MIN);
        assert_eq!(c.shown(None), m(5), "no data yet: the shortest");
        assert_eq!(c.shown(Some(m(3))), m(5));
        assert_eq!(c.shown(Some(Duration::from_secs(7 * MIN + 5))), m(8));
        assert_eq!(c.shown(Some(m(300))), m(60), "a day of data: the last hour");
        assert_eq!(c.fetch_window(), m(60));
    }

    #[test]
    fn a_feed_can_fit_the_charts_to_a_few_minutes_of_story() {
        let mut c = ChartSettings::new(ChartMarker::Braille);
        let three = Some(Duration::from_secs(170));
        assert_eq!(
            c.shown(three),
            FIT_MIN,
            "a fresh console shows at least 5 minutes"
        );
        c.set_fixed(WINDOWS[2]);
        c.fit_at_least(Duration::from_secs(120));
        assert!(c.fit);
        assert_eq!(
            c.shown(three),
            Duration::from_secs(180),
            "the story fills the chart"
        );
        assert_eq!(
            c.shown(Some(Duration::from_secs(30))),
            Duration::from_secs(120)
        );
        c.fit_at_least(Duration::from_secs(5));
        assert_eq!(c.fit_min, MIN_WINDOW, "never under a minute");
    }

    #[test]
    fn plus_leaves_the_fit_for_the_next_longer_window_and_minus_returns_to_it() {
        let mut c = ChartSettings::new(ChartMarker::Braille);
        let m = |n: u64| Duration::from_secs(n * MIN);
        assert_eq!(c.shorter(), None, "nothing shorter than the fit");
        assert_eq!(c.longer(m(20)), Some(m(60)));
        assert!(!c.fit);
        assert_eq!(c.shorter(), Some(m(15)));
        assert_eq!(
            c.shorter(),
            Some(m(60)),
            "back to fitting: fetch its longest"
        );
        assert!(c.fit);
        assert_eq!(c.longer(m(5)), Some(m(15)));
    }
}
