//! The bottom line while typing: `:command` with completion candidates, or `/filter`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};

use crate::state::prompt::{Input, Names};
use crate::state::State;

/// Draws the line and returns where the cursor goes.
pub fn draw(state: &State, area: Rect, buf: &mut Buffer) -> Option<Position> {
    if area.height == 0 || area.width == 0 {
        return None;
    }
    let s = &state.theme.s;
    buf.set_style(area, s.status);
    let (prefix, text, hints) = match &state.input {
        Input::Normal | Input::Confirm(_) | Input::Capacity(_) => return None,
        Input::Command(line) => {
            let themes: Vec<&str> = state.themes.names().collect();
            let mut queues: Vec<&str> = state.queues.list.iter().map(|q| q.name.as_str()).collect();
            queues.sort_unstable();
            let names = Names {
                themes,
                groups: state.groups.list.iter().map(|g| g.name.as_str()).collect(),
                queues,
                scenarios: state
                    .load
                    .scenarios
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect(),
                profiles: state.target.profiles.iter().map(String::as_str).collect(),
                regions: state.target.regions(),
            };
            (":", line.text.clone(), line.hints(&names))
        }
        Input::Filter { table, text, .. } => (
            "/",
            text.clone(),
            vec![format!(
                "filter {} · enter keeps · esc cancels",
                table.noun()
            )],
        ),
    };
    let typed = Line::from(vec![
        Span::styled(prefix, s.prompt),
        Span::styled(text.clone(), s.prompt),
    ]);
    buf.set_line(area.x, area.y, &typed, area.width);
    let cursor_x = area.x
        + u16::try_from(typed.width())
            .unwrap_or(u16::MAX)
            .min(area.width.saturating_sub(1));
    let hint_x = cursor_x.saturating_add(2);
    if !hints.is_empty() && hint_x < area.x + area.width {
        // The candidate the line currently ends with stands out while tab cycles.
        let spans: Vec<Span<'_>> = hints
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                let style = if text.ends_with(h.as_str()) && prefix == ":" {
                    s.prompt
                } else {
                    s.muted
                };
                [
                    Span::raw(if i > 0 { "  " } else { "" }),
                    Span::styled(h.clone(), style),
                ]
            })
            .collect();
        buf.set_line(
            hint_x,
            area.y,
            &Line::from(spans),
            area.x + area.width - hint_x,
        );
    }
    Some(Position {
        x: cursor_x,
        y: area.y,
    })
}
