//! The `?` overlay, generated from the keymap in force and the command table, with where the
//! logs are and the latest warnings.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::common;
use crate::fmt;
use crate::model::LogLevel;
use crate::state::prompt::COMMANDS;
use crate::state::State;

/// Key lines (by section) and command lines.
pub fn lines<'a>(state: &State) -> (Vec<Line<'a>>, Vec<Line<'a>>) {
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
        keys.push(Line::from(vec![
            Span::styled(format!("  {:<key_w$}  ", r.keys), s.help_key),
            Span::raw(r.description),
        ]));
    }
    if state.read_only {
        keys.push(Line::default());
        keys.push(Line::from(Span::styled(
            "Read-only: redrive, delete, purge and scaling are off",
            s.warn,
        )));
    }
    keys.push(Line::default());
    keys.push(Line::from(Span::styled("Mouse", s.header)));
    keys.push(Line::from(Span::raw(
        "  click selects a row, the wheel moves through a table",
    )));

    let usage_w = COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0) + 1;
    let mut cmds = vec![Line::from(Span::styled(
        "Commands (: then tab completes)",
        s.header,
    ))];
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
        cmds.push(Line::from(vec![
            Span::styled(format!("  :{:<usage_w$} ", c.usage), s.help_key),
            Span::raw(c.help),
        ]));
    }
    (keys, cmds)
}

/// Where the logs are and the latest warnings (nothing is printed over the screen), under
/// both columns: paths are long.
pub fn logs<'a>(state: &State) -> Vec<Line<'a>> {
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
        lines.push(Line::from(vec![
            Span::styled(format!("  {what:<what_w$}  "), s.help_key),
            Span::raw(path.clone()),
        ]));
    }
    let kept = notes.recent().len();
    if kept > 0 {
        lines.push(Line::from(Span::styled(
            format!("  latest warnings, newest first ({kept} kept):"),
            s.muted,
        )));
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
            lines.push(Line::from(vec![
                Span::styled(format!("  {:>4} ago  ", fmt::age(state.now, n.at)), s.muted),
                Span::styled(format!("{}{times}", n.text), style),
            ]));
        }
    }
    lines
}

fn content_height(keys: usize, cmds: usize, logs: usize, two_cols: bool) -> usize {
    logs + if two_cols {
        keys.max(cmds)
    } else {
        keys + 1 + cmds
    }
}

/// How far the help can scroll in `area` (the body); update clamps with it too.
pub fn max_scroll(state: &State, area: Rect) -> u16 {
    let (keys, cmds) = lines(state);
    let logs = logs(state).len();
    let content_h = content_height(keys.len(), cmds.len(), logs, area.width >= 100);
    let inner_h = usize::from(area.height.saturating_sub(2));
    u16::try_from(content_h.saturating_sub(inner_h)).unwrap_or(u16::MAX)
}

/// The key lines on the left and the command lines beside them, as one list of rows.
fn side_by_side<'a>(keys: Vec<Line<'a>>, cmds: Vec<Line<'a>>) -> Vec<Line<'a>> {
    let key_w = keys.iter().map(Line::width).max().unwrap_or(0) + 2;
    let rows = keys.len().max(cmds.len());
    let (mut keys, mut cmds) = (keys.into_iter(), cmds.into_iter());
    (0..rows)
        .map(|_| {
            let mut row = keys.next().unwrap_or_default();
            if let Some(cmd) = cmds.next() {
                let pad = key_w.saturating_sub(row.width());
                row.spans.push(Span::raw(" ".repeat(pad)));
                row.spans.extend(cmd.spans);
            }
            row
        })
        .collect()
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let (keys, cmds) = lines(state);
    let logs = logs(state);
    let two_cols = area.width >= 100;
    let content_h = content_height(keys.len(), cmds.len(), logs.len(), two_cols);
    let w = area
        .width
        .saturating_sub(4)
        .min(if two_cols { 120 } else { 72 })
        .max(area.width.min(20));
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
                "· j/k scroll · esc closes "
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
    let mut all = if two_cols {
        side_by_side(keys, cmds)
    } else {
        let mut all = keys;
        all.push(Line::default());
        all.extend(cmds);
        all
    };
    all.extend(logs);
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
