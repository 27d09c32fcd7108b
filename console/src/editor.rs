//! Edit before redrive: the console hands the terminal to the operator's editor (`$VISUAL`,
//! `$EDITOR`, else `vi`) on a temporary file holding a message body, then takes it back.

use std::io;
use std::path::PathBuf;

use crossterm::{cursor, event, execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

type Term = Terminal<CrosstermBackend<io::Stdout>>;

/// The editor to run, as the shell would: `$VISUAL`, `$EDITOR`, else `vi`.
pub fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// Runs the editor on `text` with the screen handed over; the edited text, or why there is
/// none. The caller must have stopped reading keys, so the editor gets every one.
pub async fn edit(terminal: &mut Term, text: &str) -> Result<String, String> {
    let path = temp_path();
    write_private(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let editor = editor();
    suspend().map_err(|e| format!("cannot hand the terminal over: {e}"))?;
    // `$EDITOR` may carry arguments (`code --wait`), so the shell splits it.
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .await;
    let resumed = resume(terminal);
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path)
            .map(|t| t.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| format!("cannot read {} back: {e}", path.display())),
        Ok(s) => Err(format!("{editor} exited with {s}: nothing sent")),
        Err(e) => Err(format!("cannot run {editor}: {e} (set $EDITOR)")),
    };
    let _ = std::fs::remove_file(&path);
    resumed.map_err(|e| format!("cannot take the terminal back: {e}"))?;
    result
}

fn temp_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "flightdeck-message-{}-{nanos}.json",
        std::process::id()
    ))
}

/// Message bodies can hold customer data: the file is readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

fn suspend() -> io::Result<()> {
    execute!(
        io::stdout(),
        event::DisableMouseCapture,
        terminal::LeaveAlternateScreen,
        cursor::Show
    )?;
    terminal::disable_raw_mode()
}

/// Back to the console's screen. A new `Terminal` has empty buffers, so the next draw paints
/// every cell (`Terminal::clear` would ask the terminal for the cursor position, whose answer
/// nobody reads while the key stream is being replaced).
fn resume(terminal: &mut Term) -> io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(
        io::stdout(),
        terminal::EnterAlternateScreen,
        terminal::Clear(terminal::ClearType::All),
        event::EnableMouseCapture
    )?;
    *terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok(())
}
