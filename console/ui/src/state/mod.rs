//! All UI state, owned by the UI task: the data from reports, where the operator is, settings.
//! Split by concern; `update` changes it, `views` read it.

pub mod actions;
pub mod chart;
pub mod dlq;
pub mod groups;
pub mod health;
mod history;
pub mod metrics;
pub mod nav;
pub mod notes;
pub mod prompt;
pub mod queues;
mod rows;
pub mod target;
pub mod timeline;

use crate::config::UiConfig;
use crate::event::Command;
use crate::model::{CallStats, Timestamp};
use crate::theme::{Theme, ThemeSet};

pub use actions::{CapacityDialog, Confirm, ConfirmDialog, Pending};
pub use chart::ChartSettings;
pub use dlq::{Audit, Dlq, Jobs, Load, Local};
pub use groups::{CapacityChange, ChangeKind, Groups};
pub use health::{Freshness, Health};
pub use history::OldestAge;
pub use metrics::Metrics;
pub use nav::{Nav, Pane, RowCursor, TableId, View};
pub use notes::Notes;
pub use prompt::Input;
pub use queues::{Pairing, Queues, Rates};
pub use target::TargetState;
pub use timeline::{Mark, Timeline, TimelineEvent};

/// How long a flash message stays in the top bar.
pub const FLASH_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// A short-lived message in the top bar (unknown command, theme switched, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub at: Timestamp,
    /// Kept with the notes too, where the help screen shows it whole.
    pub kept: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("no theme named `{name}` (known: {known})")]
pub struct UnknownTheme {
    pub name: String,
    pub known: String,
}

#[derive(Debug, Clone)]
pub struct State {
    pub(crate) now: Timestamp,
    pub(crate) size: (u16, u16),
    pub(crate) groups: Groups,
    pub(crate) queues: Queues,
    pub(crate) metrics: Metrics,
    /// Events marked on the charts' time axis.
    pub(crate) timeline: Timeline,
    pub(crate) calls: Option<(Timestamp, CallStats)>,
    pub(crate) dlq: Dlq,
    pub(crate) jobs: Jobs,
    pub(crate) audit: Audit,
    pub(crate) alarms: crate::alarms::Alarms,
    pub(crate) logs: crate::logs::Logs,
    pub(crate) local: Local,
    pub(crate) load: Load,
    /// The profile and region the data belongs to.
    pub(crate) target: TargetState,
    /// `--read-only`: actions are hidden from help and refused with a message.
    pub(crate) read_only: bool,
    pub(crate) health: Health,
    pub(crate) nav: Nav,
    pub(crate) input: Input,
    pub(crate) chart: ChartSettings,
    /// Scroll position of the help overlay while it is open.
    pub(crate) help: Option<u16>,
    /// Lines scrolled in the open message (long bodies and many attributes).
    pub(crate) message_scroll: u16,
    pub(crate) flash: Option<Flash>,
    /// Commands decided deep in an update (an audited refusal), sent with the update's own.
    pub(crate) outbox: Vec<Command>,
    /// Warnings and notices from the console's log, and where the log files are.
    pub(crate) notes: Notes,
    pub(crate) config: UiConfig,
    pub(crate) themes: ThemeSet,
    /// The theme in force (monochrome under `NO_COLOR`).
    pub(crate) theme: Theme,
    pub(crate) quit: bool,
}

impl State {
    /// A UI with no data yet, at the clock `now`; send `Event::Resize` with the real size next.
    pub fn new(config: UiConfig, themes: ThemeSet, now: Timestamp) -> Result<State, UnknownTheme> {
        let theme = themes
            .get(&config.theme)
            .cloned()
            .ok_or_else(|| UnknownTheme {
                name: config.theme.clone(),
                known: themes.names().collect::<Vec<_>>().join(", "),
            })?;
        let theme = if config.no_color {
            theme.monochrome()
        } else {
            theme
        };
        Ok(State {
            now,
            size: (80, 24),
            groups: Groups::default(),
            queues: Queues::default(),
            metrics: Metrics::default(),
            timeline: Timeline::default(),
            calls: None,
            dlq: Dlq::default(),
            jobs: Jobs::default(),
            audit: Audit::default(),
            alarms: crate::alarms::Alarms::default(),
            logs: crate::logs::Logs::default(),
            local: Local::default(),
            load: Load::default(),
            target: TargetState::default(),
            read_only: false,
            health: Health::default(),
            nav: Nav::default(),
            input: Input::Normal,
            chart: ChartSettings::new(config.chart_marker),
            help: None,
            message_scroll: 0,
            flash: None,
            outbox: Vec::new(),
            notes: Notes::default(),
            config,
            themes,
            theme,
            quit: false,
        })
    }

    /// What the agents should be told before the first event (the initial chart window).
    pub fn initial_commands(&self) -> Vec<crate::Command> {
        vec![crate::Command::SetMetricWindow(self.chart.fetch_window())]
    }

    /// How far back the data goes from the charts' right edge: the oldest queue sample,
    /// capacity sample or CPU point.
    pub fn data_span(&self) -> Option<std::time::Duration> {
        let oldest = [
            self.queues.oldest(),
            self.groups.oldest(),
            self.metrics.oldest(),
        ]
        .into_iter()
        .flatten()
        .min()?;
        (self.chart.end(self.now) - oldest).to_std().ok()
    }

    /// The window the charts show now (fitted to the data unless a fixed one is chosen).
    pub fn shown_window(&self) -> std::time::Duration {
        self.chart.shown(self.data_span())
    }

    /// The left edge of every chart.
    pub fn chart_start(&self) -> Timestamp {
        self.chart.start(self.now, self.shown_window())
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn view(&self) -> &View {
        self.nav.view()
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    pub fn chart(&self) -> &ChartSettings {
        &self.chart
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn dlq(&self) -> &Dlq {
        &self.dlq
    }

    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    pub fn load(&self) -> &Load {
        &self.load
    }

    pub fn local(&self) -> &Local {
        &self.local
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The tour's caption on screen, if any.
    pub fn caption(&self) -> Option<&str> {
        self.local.caption.as_deref()
    }

    pub fn notes(&self) -> &Notes {
        &self.notes
    }

    /// Where the logs are, as (what, where), the console's own first: shown by the help
    /// screen and the outage banner.
    pub fn set_log_files(&mut self, files: Vec<(String, String)>) {
        self.notes.log_files = files;
    }

    pub fn target(&self) -> &TargetState {
        &self.target
    }

    /// The profiles `:profile` offers and accepts (from the AWS config and credentials files).
    pub fn set_profiles(&mut self, profiles: Vec<String>) {
        self.target.profiles = profiles;
    }

    /// Forgets everything observed at the target (groups, queues, CPU, dead letters, call
    /// counts, agents' health, the local fleet), for a switch to another profile or region.
    pub(crate) fn clear_target_data(&mut self) {
        self.groups = Groups::default();
        self.queues = Queues::default();
        self.metrics = Metrics::default();
        self.timeline = Timeline::default();
        self.calls = None;
        self.dlq = Dlq::default();
        self.health = Health::default();
        self.local = Local {
            caption: self.local.caption.take(),
            emulator: self.local.emulator.take(),
            ..Local::default()
        };
    }

    /// Whether groups, queues and CPU data have each arrived at least once: the dashboard
    /// is fully populated (what "first full frame" means in `bench/console.sh`).
    pub fn populated(&self) -> bool {
        use crate::model::Agent;
        [Agent::Groups, Agent::Queues, Agent::Metrics]
            .into_iter()
            .all(|a| self.health.get(a).is_some_and(|h| h.last_ok.is_some()))
    }

    /// The console's own AWS calls over the last minute, once the calls agent has reported.
    pub fn calls(&self) -> Option<&CallStats> {
        self.calls.as_ref().map(|(_, stats)| stats)
    }

    /// `--read-only`: every action is refused in the UI too (the clients refuse them anyway).
    pub fn set_read_only(&mut self, on: bool) {
        self.read_only = on;
    }

    /// Switches theme by name, keeping `NO_COLOR` in force.
    pub fn set_theme(&mut self, name: &str) -> Result<(), UnknownTheme> {
        let theme = self.themes.get(name).cloned().ok_or_else(|| UnknownTheme {
            name: name.to_owned(),
            known: self.themes.names().collect::<Vec<_>>().join(", "),
        })?;
        self.theme = if self.config.no_color {
            theme.monochrome()
        } else {
            theme
        };
        Ok(())
    }

    /// Shows `text` in the top bar for a few seconds. A warning or an error is also kept with
    /// the notes, where the help screen shows it whole (a narrow bar cuts it), and so is
    /// news the bar would cut (a redrive's or a load run's summary at 80 columns).
    pub(crate) fn flash(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        let kept = match level {
            Level::Info if self.flash_cut(&text) => Some(crate::model::LogLevel::Info),
            Level::Info => None,
            Level::Warn => Some(crate::model::LogLevel::Warn),
            Level::Error => Some(crate::model::LogLevel::Error),
        };
        if let Some(kept) = kept {
            // Flashed below every time: the operator acted and needs the answer, even a repeat.
            self.notes.push(self.now, kept, text.clone());
        }
        self.flash = Some(Flash {
            text,
            level,
            at: self.now,
            kept: kept.is_some(),
        });
    }

    /// Shows `text` in the top bar, and nothing more (for what is kept with the notes already).
    pub(crate) fn show_flash(&mut self, level: Level, text: String) {
        self.flash = Some(Flash {
            text,
            level,
            at: self.now,
            kept: true,
        });
    }

    /// Whether the top bar, at the terminal's width and with this view's title, cuts `text`.
    fn flash_cut(&self, text: &str) -> bool {
        self.flash_room(self.size.0) < text.chars().count()
    }

    /// The top bar's head, which nothing displaces: the console's name and the view's title.
    pub fn bar_head(&self) -> [String; 2] {
        [
            " flightdeck ".to_owned(),
            format!(" {} ", self.nav.view().title()),
        ]
    }

    /// The columns a flash's text has in a top bar `width` columns wide: all but the head and
    /// the spaces around the text (and one to spare). A longer text is cut, ending with the
    /// key that shows it whole.
    pub fn flash_room(&self, width: u16) -> usize {
        let head: usize = self
            .bar_head()
            .iter()
            .map(|t| ratatui::text::Span::raw(t.as_str()).width())
            .sum();
        usize::from(width).saturating_sub(head + 3)
    }

    /// A fresh flash the bar has come to cut since it was shown (the terminal narrowed, a view
    /// with a longer title opened) is kept with the notes now, so that the key the cut bar
    /// names shows it whole.
    pub(crate) fn keep_flash_if_cut(&mut self) {
        let cut = self
            .current_flash()
            .is_some_and(|f| !f.kept && self.flash_cut(&f.text));
        if let Some(f) = self.flash.as_mut().filter(|_| cut) {
            f.kept = true;
            self.notes
                .push(self.now, crate::model::LogLevel::Info, f.text.clone());
        }
    }

    /// The flash message, while it is fresh.
    pub fn current_flash(&self) -> Option<&Flash> {
        self.flash
            .as_ref()
            .filter(|f| crate::fmt::age_secs(self.now, f.at) < FLASH_SECS)
    }

    pub(crate) fn freshness(&self, agent: crate::model::Agent) -> Freshness<'_> {
        self.health
            .freshness(agent, self.now, self.config.stale_after)
    }

    /// The DLQ whose view is open, which the DLQ agent should be peeking.
    pub(crate) fn dlq_in_view(&self) -> Option<String> {
        match self.nav.view() {
            View::Queue(name) | View::Message(name, _) => self
                .queues
                .get(name)
                .filter(|q| q.is_dlq)
                .map(|q| q.name.clone()),
            _ => None,
        }
    }

    /// What the logs agent should read: the logs view's request while it is open.
    pub(crate) fn logs_in_view(&self) -> Option<(crate::logs::LogsRequest, bool)> {
        (self.nav.view() == &View::Logs).then(|| (self.logs.request.clone(), self.logs.follow))
    }

    /// The `/` filter of the logs view as the read's words: the filter in force, not the one
    /// still being typed (a read per keystroke would be wasted).
    pub(crate) fn committed_log_filter(&self) -> Vec<String> {
        let text = match &self.input {
            Input::Filter {
                table: TableId::Logs,
                before,
                ..
            } => before.as_str(),
            _ => self.nav.filter(TableId::Logs),
        };
        text.split_whitespace().map(str::to_owned).collect()
    }
}
