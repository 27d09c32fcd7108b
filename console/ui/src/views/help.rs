//! The `?` overlay, generated from the keymap in force and the command table, with where the
//! logs are and the latest warnings.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::common;
use crate::fmt;
use crate::model::LogLevel;
use crate::state::prompt::COMMANDS;
use crate::state::State;

/// Key lines (by section), laid out `keys_w` columns wide, and command lines, `cmds_w` wide.
pub fn lines<'a>(state: &State, keys_w: usize, cmds_w: usize) -> (Vec<Line<'a>>, Vec<Line<'a>>) {
    let s = &state.theme.s;
    let rows = state.config.keymap.help_rows();
    let key_w = rows
        .iter()
        .map(|r| r.keys.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let mut keys = Vec::new();
    let mut section = None;
    for r in rows {
        if state.read_only && r.section == crate::keymap::Section::Actions {
            continue;
        }
        if section != Some(r.section) {
            if section.is_some() {
                keys.push(Line::default());
            }
            keys.push(Line::from(Span::styled(r.section.title(), s.header)));
            section = Some(r.section);
        }
        keys.extend(entry(
            Span::styled(r.keys, s.help_key),
            key_w,
            r.description,
            Style::new(),
            keys_w,
        ));
    }
    if state.read_only {
        keys.push(Line::default());
        keys.extend(text_rows(
            "Read-only: redrive, delete, purge and scaling are off",
            s.warn,
            0,
            keys_w,
        ));
    }
    keys.push(Line::default());
    keys.push(Line::from(Span::styled("Mouse", s.header)));
    keys.extend(text_rows(
        "click selects a row, the wheel moves through a table",
        Style::new(),
        2,
        keys_w,
    ));

    // The longest usages (`:instance-refresh [status|start|cancel]`) would leave their
    // neighbours' descriptions no room: they have theirs on the rows below.
    let usage_w = COMMANDS
        .iter()
        .map(|c| c.usage.len() + 1)
        .filter(|&w| w <= USAGE_W)
        .max()
        .unwrap_or(USAGE_W);
    let mut cmds = text_rows("Commands (: then tab completes)", s.header, 0, cmds_w);
    const MUTATING: [&str; 7] = [
        "redrive",
        "purge",
        "scale",
        "cancel",
        "autoscaler",
        "suspend",
        "resume",
    ];
    // `:load` stays: without a scenario it only opens the view (a run is refused).
    for c in COMMANDS {
        if state.read_only && MUTATING.contains(&c.name) {
            continue;
        }
        cmds.extend(entry(
            Span::styled(format!(":{}", c.usage), s.help_key),
            usage_w,
            c.help,
            Style::new(),
            cmds_w,
        ));
    }
    (keys, cmds)
}

/// A command's usage wider than this has its description below it.
const USAGE_W: usize = 27;

/// A description narrower than this goes below its term instead of beside it.
const MIN_TEXT_W: usize = 24;

/// A term (keys, a command, a log's name) and its description in rows `width` wide: the term
/// in a column `term_w` wide after two spaces, the description beside it, word-wrapped, each
/// further row indented to it; a term wider than its column, or a column leaving the
/// description too little room, has the description on the rows below, indented by four.
fn entry<'a>(
    term: Span<'a>,
    term_w: usize,
    text: &str,
    style: Style,
    width: usize,
) -> Vec<Line<'a>> {
    let indent = 2 + term_w + 2;
    let term_len = term.content.chars().count();
    if term_len > term_w || width < indent + MIN_TEXT_W {
        let mut out = vec![Line::from(vec![Span::raw("  "), term])];
        out.extend(text_rows(text, style, 6, width));
        return out;
    }
    common::hanging(vec![Span::raw("  "), term], indent, text, style, width)
}

/// `text` word-wrapped to `width`, every row indented by `indent`.
fn text_rows<'a>(text: &str, style: Style, indent: usize, width: usize) -> Vec<Line<'a>> {
    fmt::wrap(text, width.saturating_sub(indent))
        .into_iter()
        .map(|row| {
            Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(row, style),
            ])
        })
        .collect()
}

/// Where the logs are and the latest warnings (nothing is printed over the screen), under
/// both columns: paths are long.
pub fn logs<'a>(state: &State, width: usize) -> Vec<Line<'a>> {
    let s = &state.theme.s;
    let notes = state.notes();
    let mut lines = Vec::new();
    if notes.log_files().is_empty() && notes.recent().len() == 0 {
        return lines;
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("Logs", s.header)));
    let what_w = notes
        .log_files()
        .iter()
        .map(|(what, _)| what.chars().count())
        .max()
        .unwrap_or(0);
    for (what, path) in notes.log_files() {
        lines.extend(entry(
            Span::styled(what.clone(), s.help_key),
            what_w,
            path,
            Style::new(),
            width,
        ));
    }
    let kept = notes.recent().len();
    if kept > 0 {
        lines.extend(text_rows(
            &format!("latest warnings, newest first ({kept} kept):"),
            s.muted,
            2,
            width,
        ));
        for n in notes.recent().rev().take(5) {
            let style = match n.level {
                LogLevel::Info => s.ok,
                LogLevel::Warn => s.warn,
                LogLevel::Error => s.error,
            };
            let times = if n.count > 1 {
                format!(" (×{})", n.count)
            } else {
                String::new()
            };
            lines.extend(entry(
                Span::styled(format!("{:>4} ago", fmt::age(state.now, n.at)), s.muted),
                8,
                &format!("{}{times}", n.text),
                style,
                width,
            ));
        }
    }
    lines
}

/// The help's rows for a popup `inner_w` columns wide: keys and commands side by side from
/// 100 columns on, one after the other below that; then the logs under both.
fn content<'a>(state: &State, inner_w: usize, two_cols: bool) -> Vec<Line<'a>> {
    let mut all = if two_cols {
        let keys_w = inner_w.saturating_sub(GAP) / 2;
        let (keys, cmds) = lines(state, keys_w, inner_w.saturating_sub(keys_w + GAP));
        side_by_side(keys, cmds, keys_w + GAP)
    } else {
        let (mut keys, cmds) = lines(state, inner_w, inner_w);
        keys.push(Line::default());
        keys.extend(cmds);
        keys
    };
    all.extend(logs(state, inner_w));
    all
}

/// Columns between the keys and the commands.
const GAP: usize = 3;

/// The popup's width in `area`, and whether it has two columns.
fn width(area: Rect) -> (u16, bool) {
    let two_cols = area.width >= 100;
    let w = area
        .width
        .saturating_sub(4)
        .min(if two_cols { 150 } else { 76 })
        .max(area.width.min(20));
    (w, two_cols)
}

/// How far the help can scroll in `area` (the body); update clamps with it too.
pub fn max_scroll(state: &State, area: Rect) -> u16 {
    let (w, two_cols) = width(area);
    let content_h = content(state, usize::from(w.saturating_sub(2)), two_cols).len();
    let inner_h = usize::from(area.height.saturating_sub(2));
    u16::try_from(content_h.saturating_sub(inner_h)).unwrap_or(u16::MAX)
}

/// The key lines on the left, each padded to `left_w`, and the command lines beside them.
fn side_by_side<'a>(keys: Vec<Line<'a>>, cmds: Vec<Line<'a>>, left_w: usize) -> Vec<Line<'a>> {
    let rows = keys.len().max(cmds.len());
    let (mut keys, mut cmds) = (keys.into_iter(), cmds.into_iter());
    (0..rows)
        .map(|_| {
            let mut row = keys.next().unwrap_or_default();
            if let Some(cmd) = cmds.next() {
                let pad = left_w.saturating_sub(row.width());
                row.spans.push(Span::raw(" ".repeat(pad)));
                row.spans.extend(cmd.spans);
            }
            row
        })
        .collect()
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let (w, two_cols) = width(area);
    let all = content(state, usize::from(w.saturating_sub(2)), two_cols);
    let content_h = all.len();
    let h = u16::try_from(content_h + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w.min(area.width),
        height: h,
    };
    let inner_h = usize::from(h.saturating_sub(2));
    let max_scroll = content_h.saturating_sub(inner_h);
    let scroll = usize::from(state.help.unwrap_or(0)).min(max_scroll);
    let title = Line::from(vec![
        Span::styled(" Help ", state.theme.s.title),
        Span::styled(
            if max_scroll > 0 {
                "· j/k g/G scroll · esc closes "
            } else {
                "· esc closes "
            },
            state.theme.s.muted,
        ),
    ]);
    let block = common::block(&state.theme, title, true).style(state.theme.s.base);
    let inner = block.inner(popup);
    Clear.render(popup, buf);
    block.render(popup, buf);
    let scroll = u16::try_from(scroll).unwrap_or(0);
    Paragraph::new(all).scroll((scroll, 0)).render(inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::loaded_state;
    use crate::model::Report;
    use crate::update::update;
    use crate::Event;

    fn text(buf: &Buffer) -> String {
        let area = buf.area;
        (area.top()..area.bottom())
            .map(|y| {
                (area.left()..area.right())
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every description is there in full in a column of any width the help uses (80 columns:
    /// 74; 100: 45 and 46; 160: 72 and 73), however long its key or usage, and no row is
    /// wider than its column: nothing is cut at the popup's edge or runs into the other column.
    #[test]
    fn every_description_is_shown_whole_in_columns_of_every_width() {
        let state = loaded_state();
        let words = |lines: &[Line<'_>]| {
            lines
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        for w in [45, 46, 72, 73, 74] {
            let (keys, cmds) = lines(&state, w, w);
            for line in keys.iter().chain(&cmds) {
                assert!(line.width() <= w, "{w}: {line}");
            }
            let (keys, cmds) = (words(&keys), words(&cmds));
            for c in COMMANDS {
                assert!(cmds.contains(&format!(":{}", c.usage)), "{w}: {}", c.usage);
                assert!(cmds.contains(c.help), "{w}: {}\n{cmds}", c.help);
            }
            for r in state.config.keymap.help_rows() {
                assert!(keys.contains(r.description), "{w}: {}", r.description);
            }
        }
        for area_w in [80, 100, 160] {
            let (w, two_cols) = width(Rect::new(0, 0, area_w, 50));
            let inner_w = usize::from(w - 2);
            for line in content(&state, inner_w, two_cols) {
                assert!(line.width() <= inner_w, "{area_w}: {line}");
            }
        }
    }

    #[test]
    fn the_help_says_where_the_logs_are_across_both_columns_with_the_latest_warnings() {
        let mut state = loaded_state();
        let log = "/home/operator/.local/state/flightdeck/flightdeck.log";
        state.set_log_files(vec![("console".into(), log.into())]);
        let at = state.now;
        for text in ["cpu: PutMetricData failed", "cpu: PutMetricData failed"] {
            update(
                &mut state,
                Event::Report(Report::Log {
                    at,
                    level: LogLevel::Warn,
                    text: text.into(),
                }),
            );
        }
        let area = Rect::new(0, 0, 120, 80);
        let mut buf = Buffer::empty(area);
        draw(&state, area, &mut buf);
        let shown = text(&buf);
        assert!(shown.contains(&format!("console  {log}")), "{shown}");
        assert!(shown.contains("cpu: PutMetricData failed (×2)"), "{shown}");
    }
}
