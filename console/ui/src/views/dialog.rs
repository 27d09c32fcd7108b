//! Dialogs drawn over the body: the confirm path and the desired-capacity dialog.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::common;
use crate::state::actions::{CapacityDialog, Confirm, ConfirmDialog};
use crate::state::State;

/// A centred box `w` x `h` inside `area`, clipped to it.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// Rows `line` takes wrapped at `width`.
fn rows(line: &Line<'_>, width: u16) -> u16 {
    let w = line.width().max(1);
    u16::try_from(w.div_ceil(usize::from(width.max(1)))).unwrap_or(u16::MAX)
}

/// A bordered box sized to its text: `info` wraps above, `keys` (the value being typed and the
/// key line) sit at the bottom and are never cut: when the box cannot grow, `info` shrinks.
/// Returns the area of `keys`.
fn frame<'a>(
    state: &State,
    title: &str,
    info: Vec<Line<'a>>,
    keys: Vec<Line<'a>>,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let widest = info
        .iter()
        .chain(&keys)
        .map(Line::width)
        .max()
        .unwrap_or(0)
        .max(title.chars().count() + 4);
    let w = u16::try_from(widest + 2)
        .unwrap_or(u16::MAX)
        .clamp(MIN_W, MAX_W)
        .min(area.width);
    let inner_w = w.saturating_sub(2);
    let info_h: u16 = info.iter().map(|l| rows(l, inner_w)).sum();
    let keys_h: u16 = keys.iter().map(|l| rows(l, inner_w)).sum();
    let h = (info_h + keys_h + 2).min(area.height);
    let r = centred(area, w, h);
    Clear.render(r, buf);
    buf.set_style(r, state.theme.s.base);
    let title = crate::fmt::truncate(title, usize::from(inner_w.saturating_sub(2)));
    let block = common::block(
        &state.theme,
        Line::from(Span::styled(format!(" {title} "), state.theme.s.title)),
        true,
    );
    let inner = block.inner(r);
    block.render(r, buf);
    let keys_h = keys_h.min(inner.height);
    let [info_area, keys_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(keys_h)]).areas(inner);
    Paragraph::new(info)
        .wrap(Wrap { trim: false })
        .render(info_area, buf);
    Paragraph::new(keys)
        .wrap(Wrap { trim: false })
        .render(keys_area, buf);
    keys_area
}

/// Dialogs are at least this wide, so short ones do not look like errors, and at most this wide.
const MIN_W: u16 = 40;
const MAX_W: u16 = 96;

/// Returns where the cursor goes for a typed confirm.
pub fn draw_confirm(
    state: &State,
    d: &ConfirmDialog,
    area: Rect,
    buf: &mut Buffer,
) -> Option<Position> {
    let s = &state.theme.s;
    let mut info: Vec<Line<'_>> = d
        .pending
        .describe()
        .into_iter()
        .map(|line| {
            if line.starts_with('⚠') {
                Line::from(Span::styled(line, s.warn))
            } else {
                Line::from(line)
            }
        })
        .collect();
    info.push(Line::from(""));
    let mut lines: Vec<Line<'_>> = Vec::new();
    let can_dry_run = matches!(d.pending, crate::state::Pending::Redrive { .. });
    let typed_row;
    match d.pending.confirm() {
        Confirm::Plain => {
            typed_row = None;
            lines.push(Line::from(Span::styled(
                "y / enter: do it · n / esc: cancel",
                s.prompt,
            )));
        }
        Confirm::Typed(name) => {
            lines.push(Line::from(vec![
                Span::raw("Type "),
                Span::styled(name.clone(), s.warn),
                Span::raw(" to confirm, then enter (esc cancels):"),
            ]));
            typed_row = Some(lines.len());
            let style = if d.ready() { s.prompt } else { s.warn };
            lines.push(Line::from(Span::styled(format!("> {}", d.typed), style)));
        }
    }
    if can_dry_run {
        lines.push(Line::from(Span::styled("tab: dry run on/off", s.muted)));
    }
    let above: Vec<Line<'_>> = typed_row
        .map(|row| lines[..row].to_vec())
        .unwrap_or_default();
    let inner = frame(state, &d.pending.title(), info, lines, area, buf);
    let y = above.iter().map(|l| rows(l, inner.width)).sum::<u16>();
    typed_row.map(|_| Position {
        x: (inner.x + 2 + u16::try_from(d.typed.chars().count()).unwrap_or(0))
            .min(inner.right().saturating_sub(1)),
        y: (inner.y + y).min(inner.bottom().saturating_sub(1)),
    })
}

pub fn draw_capacity(
    state: &State,
    d: &CapacityDialog,
    area: Rect,
    buf: &mut Buffer,
) -> Option<Position> {
    let s = &state.theme.s;
    let g = state.groups.get(&d.group);
    let mut info = vec![];
    if let Some(g) = g {
        info.push(Line::from(format!(
            "min {} · desired {} · max {} · {} in service",
            g.min,
            g.desired,
            g.max,
            g.in_service()
        )));
        info.push(Line::from(format!("cooldown {} s", g.default_cooldown_s)));
        if !g.policies.is_empty() {
            let names: Vec<&str> = g.policies.iter().map(|p| p.name.as_str()).collect();
            info.push(Line::from(Span::styled(
                format!("policies that may override: {}", names.join(", ")),
                s.muted,
            )));
        }
    }
    info.push(Line::from(""));
    let mut lines = Vec::new();
    let value_row = lines.len();
    lines.push(Line::from(vec![
        Span::raw("desired: "),
        Span::styled(
            d.value.clone(),
            if d.error.is_some() { s.warn } else { s.prompt },
        ),
    ]));
    lines.push(match &d.error {
        Some(e) => Line::from(Span::styled(e.clone(), s.error)),
        None => Line::from(""),
    });
    lines.push(Line::from(format!(
        "[{}] honour cooldown (tab)",
        if d.honor_cooldown { "x" } else { " " }
    )));
    lines.push(Line::from(Span::styled(
        "digits / ↑↓ change · enter next · esc cancel",
        s.muted,
    )));
    let inner = frame(
        state,
        &format!("Desired capacity of {}", d.group),
        info,
        lines,
        area,
        buf,
    );
    Some(Position {
        x: (inner.x + 9 + u16::try_from(d.value.len()).unwrap_or(0))
            .min(inner.right().saturating_sub(1)),
        y: inner.y + u16::try_from(value_row).unwrap_or(0),
    })
}
