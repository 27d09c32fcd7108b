//! The live console: sets up the terminal, starts the agents, and runs the one loop that feeds
//! keys, ticks and agents' reports to `ui::update`, routes the commands back, and draws with
//! `ui::render`. Nothing here awaits the network.

use std::io::{self, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::EventStream;
use crossterm::{cursor, event, execute, terminal};
use futures_util::StreamExt as _;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use stack::Clients;
use tokio::sync::{mpsc, watch};
use ui::{render, update, Event, State, ThemeSet, UiConfig};

use crate::agents::{Agents, Extras, Intervals};
use crate::cli::args::UiArgs;
use crate::framelog::{FrameLog, Trigger};
use ops::watch::Watch;

const TICK: Duration = Duration::from_secs(1);

/// Everything the UI needs, loaded and checked before the terminal is touched.
pub struct Setup {
    pub config: UiConfig,
    pub themes: ThemeSet,
    /// `--read-only`: the UI hides and refuses actions (the clients refuse them too).
    pub read_only: bool,
    /// The stack (for DLQ source queues), the profile, and a local fleet to watch.
    pub extras: Extras,
    /// Told each caption once it is on screen (the tour waits for it).
    pub captions: Option<watch::Sender<Option<String>>>,
}

/// `~/.config/flightdeck` (or `$XDG_CONFIG_HOME/flightdeck`).
fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .map(|d| d.join("flightdeck"))
}

/// The config file (`--config`, `FLIGHTDECK_CONFIG`, else the default path if it exists); a
/// bad file fails with its name, key and reason.
pub fn load_config(args: &UiArgs) -> anyhow::Result<UiConfig> {
    let file = args.config.clone().or_else(|| {
        config_dir()
            .map(|d| d.join("config.toml"))
            .filter(|p| p.exists())
    });
    Ok(match &file {
        Some(path) => UiConfig::load(path)?,
        None => UiConfig::default(),
    }
    .with_env())
}

impl Setup {
    /// The config file (see [`load_config`]), the user's themes, and `--theme`.
    pub fn load(
        args: &UiArgs,
        stack: &stack::Stack,
        profile: Option<&str>,
    ) -> anyhow::Result<Setup> {
        let dir = config_dir();
        let mut config = load_config(args)?;
        let mut themes = ThemeSet::builtin();
        let theme_dir = args
            .themes
            .clone()
            .or_else(|| dir.map(|d| d.join("themes")).filter(|p| p.is_dir()));
        if let Some(theme_dir) = theme_dir {
            themes.load_dir(&theme_dir)?;
        }
        if let Some(theme) = &args.theme {
            config.theme = theme.clone();
        }
        if themes.get(&config.theme).is_none() {
            anyhow::bail!(
                "no theme named `{}` (known: {})",
                config.theme,
                themes.names().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(Setup {
            themes,
            read_only: args.read_only,
            extras: Extras {
                stack: stack.clone(),
                profile: profile.map(str::to_owned),
                watch: Watch::from_config(&config.watch, stack),
                local: None,
                feeds: Vec::new(),
            },
            captions: None,
            config,
        })
    }
}

/// Raw mode, alternate screen and mouse capture while it lives; restored on drop and, through
/// a panic hook, before a panic message is printed.
struct TerminalGuard;

fn restore_terminal() {
    // Best effort: nothing useful can be done if restoring fails.
    let _ = execute!(
        io::stdout(),
        event::DisableMouseCapture,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
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
        restore_terminal();
    }
}

/// Runs the console until the operator quits (or SIGTERM/SIGHUP); agents stop on the way out.
pub async fn run(clients: &Clients, setup: Setup) -> anyhow::Result<()> {
    if !io::stdout().is_terminal() {
        anyhow::bail!(
            "the console needs a terminal; use `flightdeck status` (or --json) in scripts"
        );
    }
    let intervals = Intervals::from(setup.config.refresh);
    tracing::debug!(watch = %setup.extras.watch.describe(), ?intervals, "starting the agents");
    let mut state = State::new(setup.config, setup.themes, Utc::now())?;
    state.set_read_only(setup.read_only);
    state.set_profiles(ops::target::profiles());
    let mut extras = setup.extras;
    state.set_log_files(log_files(extras.local.is_some()));
    // The log's warnings reach the screen through the UI, never written over it.
    extras.feeds.extend(crate::logging::warnings_feed());
    let (tx, mut reports) = mpsc::channel(256);
    let agents = Agents::spawn(clients, tx, intervals, extras);
    let result = ui_loop(&mut state, &agents, &mut reports, setup.captions.as_ref()).await;
    agents.shutdown().await;
    result
}

/// The logs the help screen and the banner point at: the console's own, and the local fleet's.
fn log_files(local_fleet: bool) -> Vec<(String, String)> {
    let mut files = vec![(
        "console".to_owned(),
        crate::logging::destination().describe(),
    )];
    if local_fleet {
        files.push((
            "emulator, fleet".to_owned(),
            format!("{}/", local_cloud::paths::logs_dir().display()),
        ));
    }
    files
}

async fn ui_loop(
    state: &mut State,
    agents: &Agents,
    reports: &mut mpsc::Receiver<ui::Report>,
    captions: Option<&watch::Sender<Option<String>>>,
) -> anyhow::Result<()> {
    let _guard = TerminalGuard::enter().context("cannot set up the terminal")?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let size = terminal.size()?;
    let mut commands = state.initial_commands();
    commands.extend(update(state, Event::Resize(size.width, size.height)));
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = stop_signals()?;
    let mut frames = FrameLog::from_env()?;
    let mut draw = true;
    // A report applied but not drawn yet: the next tick draws it.
    let mut held = false;
    let mut last_key: Option<Instant> = None;
    loop {
        let mut edited = Vec::new();
        for command in commands.drain(..) {
            if let ui::Command::EditMessage { queue, id, body } = command {
                // A fresh stream stops the old one's reader, so the editor gets every key.
                keys = EventStream::new();
                let body = crate::editor::edit(&mut terminal, &body).await;
                edited.push(Event::Edited { queue, id, body });
                continue;
            }
            agents.command(&command);
        }
        for ev in edited {
            commands.extend(update(state, ev));
        }
        if state.should_quit() {
            return Ok(());
        }
        if draw {
            frames.draw(state, || terminal.draw(|frame| render(state, frame)))?;
            (draw, held) = (false, false);
            if let Some(captions) = captions {
                // Drawn: the caption is on screen now, with what it claims.
                captions.send_if_modified(|shown| {
                    let now = state.caption();
                    let changed = shown.as_deref() != now;
                    if changed {
                        *shown = now.map(str::to_owned);
                    }
                    changed
                });
            }
        }
        tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(ev)) => {
                    frames.event(Trigger::of(&ev));
                    last_key = Some(Instant::now());
                    if let Some(ev) = Event::from_terminal(ev) {
                        commands.extend(update(state, ev));
                    }
                    draw = true;
                }
                Some(Err(e)) => return Err(e).context("reading the terminal"),
                None => return Ok(()),
            },
            Some(report) = reports.recv() => {
                let now = Instant::now();
                let at_once = draw_report_at_once(state.populated(), last_key, now);
                if at_once {
                    frames.event(Trigger::Report);
                }
                commands.extend(update(state, Event::Report(report)));
                // Apply whatever else arrived meanwhile before drawing once.
                while let Ok(report) = reports.try_recv() {
                    commands.extend(update(state, Event::Report(report)));
                }
                if at_once {
                    // This frame moves the clock on as a tick's would, so the next tick is a
                    // second after it.
                    commands.extend(update(state, Event::Tick(Utc::now())));
                    tick.reset();
                    draw = true;
                } else {
                    held = true;
                }
            }
            _ = tick.tick() => {
                frames.event(if held { Trigger::Held } else { Trigger::Tick });
                commands.extend(update(state, Event::Tick(Utc::now())));
                draw = true;
            }
            _ = stop.recv() => return Ok(()),
        }
    }
}

/// How long after a key the console counts as in use: reports are drawn as they arrive.
const IN_USE: Duration = Duration::from_secs(5);

/// Whether a report that arrives `now` is drawn at once, or applied and drawn with the next
/// tick (at most a second later). At once until the first full frame (groups, queues and CPU
/// on screen) and while the console is in use (a key in the last [`IN_USE`]); idle, every
/// agent's report waits for the tick, so the console draws about once a second however many
/// agents report, instead of once per report plus once per tick.
pub fn draw_report_at_once(populated: bool, last_key: Option<Instant>, now: Instant) -> bool {
    !populated || last_key.is_some_and(|k| now.duration_since(k) < IN_USE)
}

/// SIGTERM and SIGHUP (terminal closed) end the console like `q` does. Ctrl-C arrives as a
/// key in raw mode.
fn stop_signals() -> anyhow::Result<mpsc::Receiver<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = tx.send(()).await;
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_console_holds_reports_for_the_tick_and_draws_them_at_once_in_use() {
        let now = Instant::now();
        let ago = |s: u64| now.checked_sub(Duration::from_secs(s));
        // Before the first full frame every report is drawn as it comes.
        assert!(draw_report_at_once(false, None, now));
        // Idle: nothing pressed, or the last key long ago.
        assert!(!draw_report_at_once(true, None, now));
        assert!(ago(6).is_some_and(|k| !draw_report_at_once(true, Some(k), now)));
        // In use: a key moments ago.
        assert!(ago(1).is_some_and(|k| draw_report_at_once(true, Some(k), now)));
        assert!(draw_report_at_once(true, Some(now), now));
    }
}
