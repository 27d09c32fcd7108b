//! The console's frame log, for `bench/console.sh`; off unless `FLIGHTDECK_FRAME_LOG=<path>` is
//! set. The UI loop appends one JSON line per drawn frame: when (ms since `main` started), what
//! triggered it, how long from that event's arrival in the loop to the end of `terminal.draw`
//! (which flushes), and, once, that groups, queues and CPU data are all on screen ("first
//! full frame"). On exit it appends a summary with the key-to-frame percentiles. Writes only
//! that file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::json;
use ui::{Agent, State};

pub const ENV: &str = "FLIGHTDECK_FRAME_LOG";

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Called first thing in `main`: frame times are measured from this instant.
pub fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

fn started() -> Instant {
    *STARTED.get_or_init(Instant::now)
}

/// What woke the loop before a frame was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Start,
    Key,
    Mouse,
    Resize,
    Report,
    Tick,
    /// A tick that draws the reports that arrived since the last frame (an idle console holds
    /// them for the tick: `tui::draw_report_at_once`).
    Held,
}

impl Trigger {
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Key => "key",
            Trigger::Mouse => "mouse",
            Trigger::Resize => "resize",
            Trigger::Report => "report",
            Trigger::Tick => "tick",
            Trigger::Held => "held",
        }
    }

    /// The trigger for a terminal event.
    pub fn of(event: &crossterm::event::Event) -> Trigger {
        match event {
            crossterm::event::Event::Mouse(_) => Trigger::Mouse,
            crossterm::event::Event::Resize(..) => Trigger::Resize,
            _ => Trigger::Key,
        }
    }
}

/// The `p`th percentile (0..=100) by nearest rank: the smallest value with at least p % of the
/// values at or below it. `None` for no values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Latencies per trigger, in ms, kept for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    frames: u64,
    draw_ms_sum: f64,
    key_ms: Vec<f64>,
    report_ms: Vec<f64>,
    tick_ms: Vec<f64>,
}

impl Stats {
    pub fn add(&mut self, trigger: Trigger, latency_ms: f64, draw_ms: f64) {
        self.frames += 1;
        self.draw_ms_sum += draw_ms;
        match trigger {
            Trigger::Key => self.key_ms.push(latency_ms),
            Trigger::Report => self.report_ms.push(latency_ms),
            Trigger::Tick => self.tick_ms.push(latency_ms),
            Trigger::Start | Trigger::Mouse | Trigger::Resize | Trigger::Held => {}
        }
    }

    /// The summary line: frame count, mean draw time, and p50/p99/max of each trigger's
    /// event-to-frame latency (ms).
    pub fn summary(&self) -> serde_json::Value {
        fn spread(values: &[f64]) -> serde_json::Value {
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            json!({
                "n": sorted.len(),
                "p50": percentile(&sorted, 50.0).map(round3),
                "p99": percentile(&sorted, 99.0).map(round3),
                "max": sorted.last().copied().map(round3),
            })
        }
        let draw_mean = if self.frames == 0 {
            None
        } else {
            Some(round3(self.draw_ms_sum / self.frames as f64))
        };
        json!({
            "event": "summary",
            "frames": self.frames,
            "draw_ms_mean": draw_mean,
            "key": spread(&self.key_ms),
            "report": spread(&self.report_ms),
            "tick": spread(&self.tick_ms),
        })
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1000.0)
}

/// The time from exec to `main`, from `/proc/self/stat`'s start time and `/proc/uptime`, both
/// in 10 ms units (USER_HZ is 100 on Linux), so this is good to about ±10 ms.
fn exec_to_main_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.rsplit_once(')')?.1;
    let start_ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let since_main = started().elapsed().as_secs_f64();
    Some(round3(
        ((uptime - since_main - start_ticks / 100.0) * 1000.0).max(0.0),
    ))
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(ms)
        .unwrap_or(0.0)
}

/// The log, or nothing when the variable is unset (every method is then a no-op).
pub struct FrameLog {
    out: Option<BufWriter<File>>,
    trigger: Trigger,
    event_at: Instant,
    full_seen: bool,
    stats: Stats,
}

impl FrameLog {
    /// Opens (appends to) `$FLIGHTDECK_FRAME_LOG` if set.
    pub fn from_env() -> anyhow::Result<FrameLog> {
        let path = std::env::var_os(ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        let out = match path {
            None => None,
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| {
                        format!(
                            "{ENV}={}: cannot open the frame log; point it at a writable file or unset it",
                            path.display()
                        )
                    })?;
                Some(BufWriter::new(file))
            }
        };
        let mut log = FrameLog {
            out,
            trigger: Trigger::Start,
            event_at: started(),
            full_seen: false,
            stats: Stats::default(),
        };
        if log.on() {
            log.write(&json!({
                "event": "start",
                "pid": std::process::id(),
                "exec_to_main_ms": exec_to_main_ms(),
                "unix_ms": unix_ms(),
            }));
        }
        Ok(log)
    }

    fn on(&self) -> bool {
        self.out.is_some()
    }

    fn write(&mut self, line: &serde_json::Value) {
        if let Some(out) = &mut self.out {
            // Best effort: a full disk must not take the console down.
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        }
    }

    /// An event arrived in the loop; the next frame is its frame.
    pub fn event(&mut self, trigger: Trigger) {
        if self.on() {
            self.trigger = trigger;
            self.event_at = Instant::now();
        }
    }

    /// Runs `draw` (`terminal.draw`, which renders `state` and flushes) and logs the frame.
    pub fn draw<T, E>(
        &mut self,
        state: &State,
        draw: impl FnOnce() -> Result<T, E>,
    ) -> Result<(), E> {
        if !self.on() {
            return draw().map(|_| ());
        }
        let begin = Instant::now();
        draw()?;
        let end = Instant::now();
        let latency = end.duration_since(self.event_at);
        let draw = end.duration_since(begin);
        self.stats.add(self.trigger, ms(latency), ms(draw));
        let mut line = json!({
            "ms": ms(end.duration_since(started())),
            "unix_ms": unix_ms(),
            "trigger": self.trigger.label(),
            "latency_ms": ms(latency),
            "draw_ms": ms(draw),
            "calls_per_min": state.calls().map(|c| c.total()),
            "calls_by_api": state.calls().map(|c| &c.per_api),
        });
        if !self.full_seen {
            // Which of the three have arrived so far, to see what the first full frame waits for.
            let ready: Vec<&str> = [Agent::Groups, Agent::Queues, Agent::Metrics]
                .into_iter()
                .filter(|a| state.health().get(*a).is_some_and(|h| h.last_ok.is_some()))
                .map(Agent::label)
                .collect();
            line["ready"] = json!(ready);
            if state.populated() {
                self.full_seen = true;
                line["first_full"] = json!(true);
            }
        }
        self.write(&line);
        Ok(())
    }
}

impl Drop for FrameLog {
    fn drop(&mut self) {
        if self.on() {
            let summary = self.stats.summary();
            self.write(&summary);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Utc;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use ui::{Event, Report, ThemeSet, UiConfig};

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(100.0));
        assert_eq!(percentile(&v, 99.0), Some(198.0));
        assert_eq!(percentile(&v, 100.0), Some(200.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        // The p99 of 200 frames ignores the two slowest; a third slow one shows.
        let mut v = vec![1.0; 198];
        v.extend([40.0, 50.0]);
        assert_eq!(percentile(&v, 99.0), Some(1.0));
        let mut v = vec![1.0; 197];
        v.extend([30.0, 40.0, 50.0]);
        assert_eq!(percentile(&v, 99.0), Some(30.0));
    }

    #[test]
    fn the_summary_splits_latencies_by_trigger() {
        let mut s = Stats::default();
        for i in 1..=10 {
            s.add(Trigger::Key, f64::from(i), 0.5);
        }
        s.add(Trigger::Report, 30.0, 2.0);
        s.add(Trigger::Start, 100.0, 1.5);
        let sum = s.summary();
        assert_eq!(sum["frames"], 12);
        assert_eq!(sum["key"]["n"], 10);
        assert_eq!(sum["key"]["p50"], 5.0);
        assert_eq!(sum["key"]["p99"], 10.0);
        assert_eq!(sum["key"]["max"], 10.0);
        assert_eq!(sum["report"]["max"], 30.0);
        assert_eq!(sum["tick"]["n"], 0);
        assert!(sum["tick"]["p99"].is_null());
        // (10 * 0.5 + 2 + 1.5) / 12, to 3 decimals.
        assert_eq!(sum["draw_ms_mean"], 0.708);
    }

    #[test]
    fn frames_are_logged_and_the_first_full_one_is_marked_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frames.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut log = FrameLog {
            out: Some(BufWriter::new(file)),
            trigger: Trigger::Start,
            event_at: Instant::now(),
            full_seen: false,
            stats: Stats::default(),
        };
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let now = Utc::now();
        let mut state = State::new(UiConfig::default(), ThemeSet::builtin(), now).unwrap();
        log.draw(&state, || terminal.draw(|f| ui::render(&state, f)))
            .unwrap();
        for report in [
            Report::Groups {
                at: now,
                groups: vec![],
            },
            Report::Queues {
                at: now,
                queues: vec![],
            },
        ] {
            ui::update(&mut state, Event::Report(report));
            log.event(Trigger::Report);
            log.draw(&state, || terminal.draw(|f| ui::render(&state, f)))
                .unwrap();
        }
        assert!(!state.populated());
        ui::update(
            &mut state,
            Event::Report(Report::Metrics {
                at: now,
                period_s: 60,
                series: vec![],
            }),
        );
        assert!(state.populated());
        log.event(Trigger::Report);
        log.draw(&state, || terminal.draw(|f| ui::render(&state, f)))
            .unwrap();
        log.event(Trigger::Key);
        log.draw(&state, || terminal.draw(|f| ui::render(&state, f)))
            .unwrap();
        drop(log);

        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let triggers: Vec<&str> = lines.iter().filter_map(|l| l["trigger"].as_str()).collect();
        assert_eq!(triggers, ["start", "report", "report", "report", "key"]);
        let full: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l["first_full"] == true)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            full,
            [3],
            "only the frame after the CPU report is the first full one"
        );
        assert_eq!(lines[1]["ready"], json!(["groups"]));
        assert_eq!(lines[3]["ready"], json!(["groups", "queues", "cpu"]));
        assert!(
            lines[4].get("ready").is_none(),
            "not logged after the first full frame"
        );
        let summary = lines.last().unwrap();
        assert_eq!(summary["event"], "summary");
        assert_eq!(summary["frames"], 5);
        assert_eq!(summary["key"]["n"], 1);
        assert!(lines[1]["latency_ms"].as_f64().unwrap() >= lines[1]["draw_ms"].as_f64().unwrap());
    }

    #[test]
    fn an_unset_variable_logs_nothing() {
        let mut log = FrameLog {
            out: None,
            trigger: Trigger::Start,
            event_at: Instant::now(),
            full_seen: false,
            stats: Stats::default(),
        };
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let state = State::new(UiConfig::default(), ThemeSet::builtin(), Utc::now()).unwrap();
        log.event(Trigger::Key);
        log.draw(&state, || terminal.draw(|f| ui::render(&state, f)))
            .unwrap();
        assert_eq!(log.stats.frames, 0);
    }
}
