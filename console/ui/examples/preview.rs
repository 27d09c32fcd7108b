//! Runs the UI in a real terminal on synthetic, changing data, to eyeball layouts (e.g. in tmux):
//! `cargo run --example preview -- [--theme NAME] [--config FILE] [--themes DIR] [--speed N]`.
//! Every two minutes the metrics "agent" is throttled for 25 s, to show stale data.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::{cursor, event, execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use ui::synthetic::Synthetic;
use ui::{
    render, update, Agent, Command, ErrorClass, Event, Report, State, ThemeSet, Timestamp, UiConfig,
};

const PERIOD_S: u32 = 10;

/// Raw mode, alternate screen and mouse capture for as long as it lives; restored on drop,
/// including when `main` returns an error or panics.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        terminal::enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(
            io::stdout(),
            terminal::EnterAlternateScreen,
            event::EnableMouseCapture
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Best effort: nothing useful can be done if restoring fails.
        let _ = execute!(
            io::stdout(),
            event::DisableMouseCapture,
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

struct Args {
    theme: Option<String>,
    config: Option<PathBuf>,
    themes: Option<PathBuf>,
    speed: f64,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        theme: None,
        config: None,
        themes: None,
        speed: 1.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--theme" => out.theme = Some(value()?),
            "--config" => out.config = Some(value()?.into()),
            "--themes" => out.themes = Some(value()?.into()),
            "--speed" => out.speed = value()?.parse().map_err(|e| format!("--speed: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(out)
}

struct Feed {
    synth: Synthetic,
    started: Instant,
    last_metrics: Timestamp,
}

impl Feed {
    /// One poll of every synthetic agent at `now`.
    fn poll(&mut self, now: Timestamp) -> Vec<Report> {
        let mut reports = self.synth.reports(now, self.last_metrics, PERIOD_S);
        let throttled = (60..85).contains(&(self.started.elapsed().as_secs() % 120));
        if throttled {
            reports.retain(|r| !matches!(r, Report::Metrics { .. }));
            reports.push(Report::AgentError {
                at: now,
                agent: Agent::Metrics,
                class: ErrorClass::Throttled,
                message: "GetMetricData: Rate exceeded".to_owned(),
                next_retry_in: Some(Duration::from_secs(5)),
            });
        } else {
            self.last_metrics = now;
        }
        reports
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let mut config = match &args.config {
        Some(path) => UiConfig::load(path)?,
        None => UiConfig::default(),
    }
    .with_env();
    if let Some(theme) = args.theme {
        config.theme = theme;
    }
    let mut themes = ThemeSet::builtin();
    if let Some(dir) = &args.themes {
        themes.load_dir(dir)?;
    }
    let now = Utc::now();
    let mut state = State::new(config, themes, now)?;
    let synth = Synthetic::new(now - chrono::Duration::minutes(10), args.speed);

    // History so the charts and the observed changes have something to show.
    let backfill = |state: &mut State, report| {
        update(state, Event::Report(report));
    };
    backfill(
        &mut state,
        Report::Metrics {
            at: now,
            period_s: PERIOD_S,
            series: synth.metrics(now - chrono::Duration::hours(3), now, PERIOD_S),
        },
    );
    for k in (1..=60).rev() {
        let t = now - chrono::Duration::seconds(5 * k);
        backfill(
            &mut state,
            Report::Groups {
                at: t,
                groups: synth.groups(t),
            },
        );
        backfill(
            &mut state,
            Report::Queues {
                at: t,
                queues: synth.queues(t),
            },
        );
    }
    let mut feed = Feed {
        synth,
        started: Instant::now(),
        last_metrics: now,
    };

    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let size = terminal.size()?;
    update(&mut state, Event::Resize(size.width, size.height));
    let mut last_tick = Instant::now();
    let mut last_poll = Instant::now() - Duration::from_secs(10);
    while !state.should_quit() {
        terminal.draw(|frame| render(&state, frame))?;
        let mut commands = Vec::new();
        if event::poll(Duration::from_millis(200))? {
            if let Some(ev) = Event::from_terminal(event::read()?) {
                commands.extend(update(&mut state, ev));
            }
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            update(&mut state, Event::Tick(Utc::now()));
        }
        let refresh = commands.contains(&Command::RefreshNow);
        if refresh || last_poll.elapsed() >= Duration::from_secs(5) {
            last_poll = Instant::now();
            for report in feed.poll(Utc::now()) {
                update(&mut state, Event::Report(report));
            }
        }
    }
    Ok(())
}
