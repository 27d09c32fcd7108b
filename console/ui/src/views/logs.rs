//! The logs view: the API's and workers' log lines, oldest at the top and the newest at the
//! bottom (followed, as `tail -f` does), one line each; below, the selected line in full.
//! Drawn by hand rather than with `table::draw` because the message, the last column, is the
//! one that takes the spare width.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{common, geometry};
use crate::fmt;
use crate::logs::LogEntry;
use crate::model::Agent;
use crate::state::nav::TableId;
use crate::state::State;
use crate::theme::Theme;

/// Rows the selected line's detail takes below the lines (with its border).
const DETAIL_ROWS: u16 = 7;

/// The lines on top, the selected line below (none when the screen is short).
pub fn split(body: Rect) -> (Rect, Rect) {
    let detail = if body.height >= 16 { DETAIL_ROWS } else { 0 };
    let [lines, detail] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(detail)]).areas(body);
    (lines, detail)
}

pub fn level_style(theme: &Theme, level: Option<&str>) -> Style {
    match level {
        Some("ERROR") => theme.s.error,
        Some("WARN") => theme.s.warn,
        Some("DEBUG" | "TRACE") => theme.s.muted,
        _ => theme.s.base,
    }
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let rows = state.log_rows();
    let (top, bottom) = split(area);
    draw_lines(state, &rows, top, buf);
    let selected = state
        .selected_key(TableId::Logs)
        .and_then(|k| state.logs.get(&k));
    if bottom.height > 0 {
        draw_detail(state, selected, bottom, buf);
    }
}

fn title(state: &State, shown: usize) -> Line<'static> {
    let s = &state.theme.s;
    let logs = &state.logs;
    let mut count = format!("{shown} lines");
    if logs.dropped > 0 {
        count.push_str(&format!(", {} older dropped", logs.dropped));
    }
    let fresh = state.freshness(Agent::Logs);
    let filter = state.nav.filter(TableId::Logs);
    let what = logs
        .about
        .clone()
        .unwrap_or_else(|| logs.request.describe());
    let name = format!("Logs · {what} · last {}", fmt::secs(logs.request.since_s));
    // Paused, nothing is read: the lines' age is not news (the title says PAUSED).
    let fresh = logs.follow.then_some(&fresh);
    let mut title = common::title(&state.theme, &name, count, fresh, filter);
    if logs.follow {
        title.spans.push(Span::styled("FOLLOWING ", s.ok));
    } else {
        title
            .spans
            .push(Span::styled("PAUSED (f follows) ", s.warn));
    }
    title
}

fn draw_lines(state: &State, rows: &[&LogEntry], area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let block = common::block(&state.theme, title(state, rows.len()), true);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let wide = inner.width >= 100;
    let header = if wide {
        "TIME      SOURCE  INSTANCE             LEVEL MESSAGE"
    } else {
        "TIME      INSTANCE     LEVEL MESSAGE"
    };
    Paragraph::new(Line::from(Span::styled(header, s.header)))
        .render(Rect { height: 1, ..inner }, buf);
    let list = geometry::rows_of(area);
    if rows.is_empty() {
        let text = empty_text(state);
        common::placeholder(buf, list, &text, s.muted);
        return;
    }
    let height = usize::from(list.height);
    let offset = state.scroll(TableId::Logs, height);
    let selected = state.selected_index(TableId::Logs);
    for (i, line) in rows.iter().enumerate().skip(offset).take(height) {
        let y = list.y + u16::try_from(i - offset).unwrap_or(0);
        let time = line.at.format("%H:%M:%S").to_string();
        let level = line.level.clone().unwrap_or_default();
        let mut spans = vec![Span::styled(format!("{time}  "), s.muted)];
        if wide {
            spans.push(Span::styled(format!("{:<7} ", line.source()), s.muted));
            spans.push(Span::raw(format!("{:<20} ", line.stream)));
        } else {
            spans.push(Span::raw(format!("{:<12} ", short_stream(&line.stream))));
        }
        spans.push(Span::styled(
            format!("{level:<5} "),
            level_style(&state.theme, line.level.as_deref()),
        ));
        spans.push(Span::raw(line.text.clone()));
        let row = Rect {
            y,
            height: 1,
            ..list
        };
        // The whole row, not only its text, shows the selection.
        if selected == Some(i) {
            buf.set_style(row, s.selected);
        }
        Paragraph::new(Line::from(spans)).render(row, buf);
    }
}

/// The end of an instance id, enough to tell instances apart on a narrow screen.
fn short_stream(stream: &str) -> &str {
    let start = stream.len().saturating_sub(12);
    stream.get(start..).unwrap_or(stream)
}

fn empty_text(state: &State) -> String {
    let logs = &state.logs;
    if let Some(note) = &logs.note {
        return note.clone();
    }
    if logs.answered.as_ref() != Some(&logs.request) {
        return "reading the log lines…".to_owned();
    }
    if !state.nav.filter(TableId::Logs).is_empty() {
        return "no line matches the filter (esc clears it)".to_owned();
    }
    format!(
        "no lines in the last {}: + reads further back",
        fmt::secs(logs.request.since_s)
    )
}

fn draw_detail(state: &State, line: Option<&LogEntry>, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let mut notes = Vec::new();
    if state.logs.more {
        notes.push("more lines matched than one read keeps: the newest are shown; - or / narrows");
    }
    let Some(l) = line else {
        let block = common::block(&state.theme, Line::from(" Line "), false);
        let inner = block.inner(area);
        block.render(area, buf);
        let text = notes.first().copied().unwrap_or("select a line");
        common::placeholder(buf, inner, text, s.muted);
        return;
    };
    let title = Line::from(vec![
        Span::styled(
            format!(" {} ", l.at.format("%Y-%m-%d %H:%M:%S%.3f UTC")),
            s.title,
        ),
        Span::styled(format!(" {} {} ", l.group, l.stream), s.muted),
    ]);
    let block = common::block(&state.theme, title, false);
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines: Vec<Line> = notes
        .iter()
        .map(|n| Line::from(Span::styled(*n, s.warn)))
        .collect();
    lines.push(Line::from(vec![
        Span::styled(
            format!("{} ", l.level.as_deref().unwrap_or("")),
            level_style(&state.theme, l.level.as_deref()),
        ),
        Span::raw(l.text.clone()),
    ]));
    if l.level.is_none() && l.text != l.raw {
        lines.push(Line::from(Span::styled(l.raw.clone(), s.muted)));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}
