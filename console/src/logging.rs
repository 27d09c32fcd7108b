//! Where the console's own log goes. Headless commands log to stderr. While a TUI owns the
//! terminal (`flightdeck`, `flightdeck ui`, the demo's console) nothing may write over it:
//! the log goes to a size-capped file in the state directory, without ANSI escapes, and its
//! warnings and errors are also handed to the UI ([`warnings_feed`]), rate-limited and
//! dropped rather than waited for.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::agents::Feed;

/// The log file grows to this size, then becomes `flightdeck.log.1` (replacing the previous
/// one) and a new file starts: at most twice this on disk.
pub const LOG_CAP: u64 = 5 * 1024 * 1024;

/// At most this many warnings a second reach the UI; the rest are counted, and in the file.
const UI_PER_SECOND: u32 = 5;

/// The console's log file: `$STATE/flightdeck.log` beside the audit log.
pub fn log_path() -> PathBuf {
    ops::audit::state_dir().join("flightdeck.log")
}

/// Where the log went, for the help screen and the outage banner.
#[derive(Debug, Clone)]
pub enum Destination {
    Stderr,
    File(PathBuf),
    /// The file could not be opened: nothing is logged (stderr would scramble the screen).
    Nowhere(String),
}

static DESTINATION: OnceLock<Destination> = OnceLock::new();

/// Where [`init`] sent the log (stderr before it ran).
pub fn destination() -> &'static Destination {
    DESTINATION.get().unwrap_or(&Destination::Stderr)
}

impl Destination {
    /// One line for the operator: the file, or why there is none.
    pub fn describe(&self) -> String {
        match self {
            Destination::Stderr => "stderr".to_owned(),
            Destination::File(path) => path.display().to_string(),
            Destination::Nowhere(why) => format!("none ({why})"),
        }
    }
}

/// The log filter: `RUST_LOG`, else warnings only.
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"))
}

/// Colours only for a terminal, and not under `NO_COLOR`.
pub fn ansi_for_stderr() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up logging once, before anything logs: to the file when `tui`, else to stderr.
pub fn init(tui: bool) {
    let destination = if tui {
        let path = log_path();
        match CappedFile::open(&path, LOG_CAP) {
            Ok(file) => {
                let _ = tracing_subscriber::registry()
                    .with(filter())
                    .with(file_layer(file))
                    .with(UiTap)
                    .try_init();
                Destination::File(path)
            }
            Err(e) => {
                let _ = tracing_subscriber::registry()
                    .with(filter())
                    .with(UiTap)
                    .try_init();
                Destination::Nowhere(format!("cannot open {}: {e}", path.display()))
            }
        }
    } else {
        let _ = tracing_subscriber::registry()
            .with(filter())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(io::stderr)
                    .with_ansi(ansi_for_stderr()),
            )
            .try_init();
        Destination::Stderr
    };
    let _ = DESTINATION.set(destination);
}

/// The file's layer: plain text, no ANSI escapes whatever the environment says.
fn file_layer<S>(file: CappedFile) -> impl Layer<S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(file)
        .with_ansi(false)
        // Escapes inside messages (an error echoing a terminal's output) are written escaped.
        .with_ansi_sanitization(true)
}

/// An append-only file that starts over (keeping one previous file, `<name>.1`) once it
/// reaches its cap. Each event is one `write_all`, under a lock.
pub struct CappedFile {
    path: PathBuf,
    cap: u64,
    open: Mutex<(File, u64)>,
}

impl CappedFile {
    pub fn open(path: &Path, cap: u64) -> io::Result<CappedFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let (file, size) = open_append(path)?;
        let capped = CappedFile {
            path: path.to_owned(),
            cap,
            open: Mutex::new((file, size)),
        };
        if size >= cap {
            let mut open = capped.open.lock().unwrap_or_else(PoisonError::into_inner);
            capped.rotate(&mut open)?;
        }
        Ok(capped)
    }

    fn previous(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    fn rotate(&self, open: &mut (File, u64)) -> io::Result<()> {
        std::fs::rename(&self.path, self.previous())?;
        *open = open_append(&self.path)?;
        Ok(())
    }

    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.1 > 0 && open.1 + buf.len() as u64 > self.cap {
            self.rotate(&mut open)?;
        }
        open.0.write_all(buf)?;
        open.1 += buf.len() as u64;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// The writer tracing gets per event.
pub struct CappedWriter<'a>(&'a CappedFile);

impl io::Write for CappedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CappedFile {
    type Writer = CappedWriter<'a>;

    fn make_writer(&'a self) -> CappedWriter<'a> {
        CappedWriter(self)
    }
}

/// A warning or error on its way to the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: ui::LogLevel,
    pub text: String,
}

/// The UI's end of the tap, while a console runs; and the tap's rate limit.
struct Tap {
    tx: Option<mpsc::Sender<Note>>,
    window: Option<Instant>,
    in_window: u32,
    /// Notes not handed over (rate limit, full channel) since the last one that was.
    missed: u64,
}

static TAP: Mutex<Tap> = Mutex::new(Tap {
    tx: None,
    window: None,
    in_window: 0,
    missed: 0,
});

impl Tap {
    /// Hands `note` over unless the second's quota is spent or the UI is behind; never waits.
    fn offer(&mut self, now: Instant, mut note: Note) {
        let Some(tx) = &self.tx else {
            return;
        };
        if self
            .window
            .is_none_or(|w| now.duration_since(w) >= Duration::from_secs(1))
        {
            self.window = Some(now);
            self.in_window = 0;
        }
        if self.in_window >= UI_PER_SECOND {
            self.missed += 1;
            return;
        }
        if self.missed > 0 {
            note.text = format!("{} (and {} more in the log)", note.text, self.missed);
        }
        match tx.try_send(note) {
            Ok(()) => {
                self.in_window += 1;
                self.missed = 0;
            }
            Err(_) => self.missed += 1,
        }
    }
}

fn tap() -> std::sync::MutexGuard<'static, Tap> {
    TAP.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The layer that offers warnings and errors to the UI.
struct UiTap;

/// Events the UI hears about another way: the emulator keeper reports its own health.
const TAP_SKIPS: [&str; 1] = ["local_cloud::keeper"];

impl<S: Subscriber> Layer<S> for UiTap {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => ui::LogLevel::Error,
            Level::WARN => ui::LogLevel::Warn,
            _ => return,
        };
        if TAP_SKIPS.contains(&meta.target()) || tap().tx.is_none() {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        // The UI draws it: no control characters may reach the terminal.
        let text = text.0.replace(|c: char| c.is_control(), " ");
        let note = Note { level, text };
        tap().offer(Instant::now(), note);
    }
}

/// An event as one line: its message, then its other fields as `name=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// While the console runs, the log's warnings and errors reach the UI as `Report::Log`;
/// `None` when the log goes to stderr (no TUI).
pub fn warnings_feed() -> Option<Feed> {
    if matches!(destination(), Destination::Stderr) {
        return None;
    }
    let (note_tx, mut notes) = mpsc::channel::<Note>(32);
    tap().tx = Some(note_tx);
    Some(Box::new(move |tx, token| {
        Box::pin(async move {
            loop {
                let note = tokio::select! {
                    () = token.cancelled() => break,
                    n = notes.recv() => match n {
                        Some(n) => n,
                        None => break,
                    },
                };
                let report = ui::Report::Log {
                    at: Utc::now(),
                    level: note.level,
                    text: note.text,
                };
                if tx.send(report).await.is_err() {
                    break;
                }
            }
            tap().tx = None;
        })
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn has_escape(text: &str) -> bool {
        text.contains('\u{1b}')
    }

    #[test]
    fn the_file_log_has_no_ansi_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flightdeck.log");
        let subscriber = tracing_subscriber::registry()
            .with(file_layer(CappedFile::open(&path, LOG_CAP).unwrap()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(queue = "video_tasks", "fleet: cannot reach the endpoint");
            tracing::error!("emulator: \u{1b}[31mred\u{1b}[0m in a message");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("cannot reach the endpoint"), "{text}");
        assert!(text.contains("ERROR"), "{text}");
        assert!(!has_escape(&text), "ANSI escapes in the log file: {text:?}");

        // The check sees escapes where a colouring layer writes them.
        let coloured = dir.path().join("coloured.log");
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(CappedFile::open(&coloured, LOG_CAP).unwrap())
                .with_ansi(true),
        );
        tracing::subscriber::with_default(subscriber, || tracing::warn!("coloured"));
        assert!(has_escape(&std::fs::read_to_string(&coloured).unwrap()));
    }

    #[test]
    fn the_file_starts_over_at_its_cap_keeping_one_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flightdeck.log");
        let file = CappedFile::open(&path, 100).unwrap();
        let line = [b'a'; 40];
        for _ in 0..7 {
            file.append(&line).unwrap();
            file.append(b"\n").unwrap();
        }
        let now = std::fs::metadata(&path).unwrap().len();
        let previous = std::fs::metadata(dir.path().join("flightdeck.log.1"))
            .unwrap()
            .len();
        assert!(now <= 100 && previous <= 100, "{now} and {previous} bytes");
        assert_eq!(now + previous, 2 * 41 + 41, "the last three lines stay");

        // A file already over its cap starts over when opened.
        drop(file);
        std::fs::write(&path, [b'b'; 150]).unwrap();
        let _file = CappedFile::open(&path, 100).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(
            std::fs::metadata(dir.path().join("flightdeck.log.1"))
                .unwrap()
                .len(),
            150
        );
    }

    #[test]
    fn the_tap_hands_over_a_few_a_second_and_counts_the_rest() {
        let (tx, mut rx) = mpsc::channel(32);
        let mut tap = Tap {
            tx: Some(tx),
            window: None,
            in_window: 0,
            missed: 0,
        };
        let t0 = Instant::now();
        let note = |i: u32| Note {
            level: ui::LogLevel::Warn,
            text: format!("w{i}"),
        };
        for i in 0..8 {
            tap.offer(t0, note(i));
        }
        tap.offer(t0 + Duration::from_secs(1), note(8));
        let mut got = Vec::new();
        while let Ok(n) = rx.try_recv() {
            got.push(n.text);
        }
        assert_eq!(
            got,
            ["w0", "w1", "w2", "w3", "w4", "w8 (and 3 more in the log)"]
        );
    }

    #[test]
    fn a_full_channel_drops_rather_than_waits() {
        let (tx, _rx) = mpsc::channel(1);
        let mut tap = Tap {
            tx: Some(tx),
            window: None,
            in_window: 0,
            missed: 0,
        };
        let t0 = Instant::now();
        for i in 0..3 {
            tap.offer(
                t0 + Duration::from_secs(i),
                Note {
                    level: ui::LogLevel::Error,
                    text: "e".into(),
                },
            );
        }
        assert_eq!(tap.missed, 2);
    }
}
