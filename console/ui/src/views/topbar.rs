//! The top bar: where you are (view, profile and region), alarms in ALARM, the chart window,
//! FROZEN, a DLQ alarm, and either a flash message or key hints taken from the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use crate::fmt;
use crate::keymap::Action;
use crate::model::ALARM_NOTIFICATION;
use crate::state::{Level, State};

fn hint(state: &State, action: Action, what: &str) -> Option<String> {
    state
        .config
        .keymap
        .keys(action)
        .first()
        .map(|k| format!("{k} {what}"))
}

/// The columns `spans` take.
fn used(spans: &[Span]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// The bar's head, which nothing displaces (`State::bar_head`), in the bar's styles.
fn head(state: &State) -> Vec<Span<'static>> {
    let s = &state.theme.s;
    let [name, view] = state.bar_head();
    vec![Span::styled(name, s.bar), Span::styled(view, s.title)]
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let s = &state.theme.s;
    buf.set_style(area, s.bar);
    // Most important first: narrow terminals cut from the right.
    let mut left = head(state);
    let head_len = left.len();
    // The data on screen is about this target; during a switch there is none yet.
    match (&state.target.pending, &state.target.current) {
        (Some((_, to)), _) => left.push(Span::styled(format!(" → {} … ", to.label()), s.warn)),
        (None, Some(t)) => {
            left.push(Span::styled(
                format!(" {} ", t.label()),
                s.bar.add_modifier(Modifier::BOLD),
            ));
        }
        (None, None) => {}
    }
    // Alarms firing: loud; nothing at all while every alarm is OK.
    let firing = state.alarms.firing();
    if firing > 0 {
        left.push(Span::styled(
            format!(" ALARM {firing} "),
            s.error.add_modifier(Modifier::BOLD),
        ));
        left.push(Span::raw(" "));
    }
    for q in state
        .queues
        .list
        .iter()
        .filter(|q| q.is_dlq && q.visible > 0)
    {
        left.push(Span::styled(
            format!(" DLQ {} {} ", q.name, q.visible),
            s.warn,
        ));
        left.push(Span::raw(" "));
    }
    if state.chart.frozen_at.is_some() {
        left.push(Span::styled(" FROZEN ", s.warn));
    }
    // A group whose policies do not run is worth a badge, on AWS as on the local cloud.
    let off: Vec<&str> = state
        .groups
        .list
        .iter()
        .filter(|g| g.suspended.iter().any(|p| p == ALARM_NOTIFICATION))
        .map(|g| g.name.as_str())
        .collect();
    match off.as_slice() {
        [] if state.local.autoscaler => left.push(Span::styled(" autoscaler on ", s.muted)),
        [] => {}
        [one] => left.push(Span::styled(format!(" AUTOSCALER OFF {one} "), s.warn)),
        many => left.push(Span::styled(
            format!(" AUTOSCALER OFF {} groups ", many.len()),
            s.warn,
        )),
    }
    left.push(Span::styled(format!(" {} ", window_label(state)), s.muted));
    // Who the console acts as: last, so a narrow bar drops it before the alarms.
    // Whole or not at all: a cut account number would name the wrong account.
    if let Some(who) = state.target.current.as_ref().and_then(|t| t.who()) {
        let who = format!(" {who} ");
        if used(&left) + who.chars().count() <= usize::from(area.width) {
            left.push(Span::styled(who, s.muted));
        }
    }
    let width = usize::from(area.width);
    let right = match state.current_flash() {
        Some(f) => {
            let style = match f.level {
                Level::Info => s.ok,
                Level::Warn => s.warn,
                Level::Error => s.error,
            };
            // A flash is what the operator just did or must know now: it takes the room of
            // the bar's least important items (from the right), down to the head, and is cut
            // only past that (`State::flash_room`, which `State::flash` asks too: news the bar
            // cuts is kept with the notes), with the key that shows its note whole.
            let text = format!(" {} ", f.text);
            while left.len() > head_len && used(&left) + text.chars().count() + 1 > width {
                left.pop();
            }
            let text = if f.text.chars().count() > state.flash_room(area.width) {
                let room = width.saturating_sub(used(&left) + 1);
                let more = hint(state, Action::Help, "for all")
                    .map_or_else(String::new, |h| format!(" {h}"));
                let cut = room.saturating_sub(1 + more.chars().count());
                format!("{}{more} ", fmt::truncate(&text, cut))
            } else {
                text
            };
            Line::from(Span::styled(text, style))
        }
        None => {
            let mut hints: Vec<String> = [
                hint(state, Action::Help, "help"),
                hint(state, Action::Command, "cmd"),
                hint(state, Action::Filter, "filter"),
                hint(state, Action::Quit, "quit"),
            ]
            .into_iter()
            .flatten()
            .collect();
            // As many hints as fit, most useful first.
            let room = width.saturating_sub(used(&left) + 1);
            while !hints.is_empty() && hints.join("  ").chars().count() + 1 > room {
                hints.pop();
            }
            Line::from(Span::styled(format!("{} ", hints.join("  ")), s.bar))
        }
    };
    // Paint the base behind the text so the bar colour frames it.
    let left = Line::from(left);
    let lw = u16::try_from(left.width())
        .unwrap_or(u16::MAX)
        .min(area.width);
    buf.set_style(Rect { width: lw, ..area }, s.base);
    buf.set_line(area.x, area.y, &left, area.width);
    let rw = u16::try_from(right.width()).unwrap_or(u16::MAX);
    if lw + rw < area.width {
        buf.set_line(area.x + area.width - rw, area.y, &right, rw);
    }
}

/// `window 1h`, or `since start 7m` / `last 1h` while the window fits the data.
pub fn window_label(state: &State) -> String {
    let shown = fmt::window(state.shown_window());
    if !state.chart.fit {
        return format!("window {shown}");
    }
    let covers_all = state
        .data_span()
        .is_some_and(|span| span <= crate::state::chart::FIT_MAX);
    if covers_all || state.data_span().is_none() {
        format!("since start {shown}")
    } else {
        format!("last {shown}")
    }
}
