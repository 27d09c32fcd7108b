//! The `?` overlay, generated from the keymap in force and the command table, with where the
//! logs are and the latest warnings.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
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
    const MUTATING: [&str; 5] = ["redrive", "purge", "scale", "cancel", "autoscaler"];
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
    cmds.extend(logs(state));
    (keys, cmds)
}

/// Where the logs are and the latest warnings (nothing is printed over the screen).
fn logs<'a>(state: &State) -> Vec<Line<'a>> {
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

fn content_height(keys: usize, cmds: usize, two_cols: bool) -> usize {
    if two_cols {
        keys.max(cmds)
    } else {
        keys + 1 + cmds
    }
}

/// How far the help can scroll in `area` (the body); update clamps with it too.
pub fn max_scroll(state: &State, area: Rect) -> u16 {
    let (keys, cmds) = lines(state);
    let content_h = content_height(keys.len(), cmds.len(), area.width >= 100);
    let inner_h = usize::from(area.height.saturating_sub(2));
    u16::try_from(content_h.saturating_sub(inner_h)).unwrap_or(u16::MAX)
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let (keys, cmds) = lines(state);
    let two_cols = area.width >= 100;
    let content_h = content_height(keys.len(), cmds.len(), two_cols);
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
    if two_cols {
        let key_w = keys.iter().map(Line::width).max().unwrap_or(0) + 2;
        let [left, right] = Layout::horizontal([
            Constraint::Length(u16::try_from(key_w).unwrap_or(u16::MAX)),
            Constraint::Fill(1),
        ])
        .areas(inner);
        Paragraph::new(keys).scroll((scroll, 0)).render(left, buf);
        Paragraph::new(cmds).scroll((scroll, 0)).render(right, buf);
    } else {
        let mut all = keys;
        all.push(Line::default());
        all.extend(cmds);
        Paragraph::new(all).scroll((scroll, 0)).render(inner, buf);
    }
}
