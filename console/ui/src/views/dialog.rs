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

fn frame<'a>(
    state: &State,
    title: &str,
    lines: Vec<Line<'a>>,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let h = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let w = 64.min(area.width);
    let r = centred(area, w, h);
    Clear.render(r, buf);
    buf.set_style(r, state.theme.s.base);
    let block = common::block(
        &state.theme,
        Line::from(Span::styled(format!(" {title} "), state.theme.s.title)),
        true,
    );
    let inner = block.inner(r);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block)
        .render(r, buf);
    inner
}

/// Returns where the cursor goes for a typed confirm.
pub fn draw_confirm(
    state: &State,
    d: &ConfirmDialog,
    area: Rect,
    buf: &mut Buffer,
) -> Option<Position> {
    let s = &state.theme.s;
    let mut lines: Vec<Line<'_>> = d.pending.describe().into_iter().map(Line::from).collect();
    lines.push(Line::from(""));
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
    let inner = frame(state, &d.pending.title(), lines, area, buf);
    typed_row.map(|row| Position {
        x: (inner.x + 2 + u16::try_from(d.typed.chars().count()).unwrap_or(0))
            .min(inner.right().saturating_sub(1)),
        y: inner.y + u16::try_from(row).unwrap_or(0),
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
    let mut lines = vec![];
    if let Some(g) = g {
        lines.push(Line::from(format!(
            "min {} · desired {} · max {} · {} in service",
            g.min,
            g.desired,
            g.max,
            g.in_service()
        )));
        lines.push(Line::from(format!("cooldown {} s", g.default_cooldown_s)));
        if !g.policies.is_empty() {
            let names: Vec<&str> = g.policies.iter().map(|p| p.name.as_str()).collect();
            lines.push(Line::from(Span::styled(
                format!("policies that may override: {}", names.join(", ")),
                s.muted,
            )));
        }
    }
    lines.push(Line::from(""));
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
