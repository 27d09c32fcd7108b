//! Mouse: a click selects the row under it (and focuses its table); the wheel moves the selection
//! of the table under the pointer. Hit-testing uses the same layout the views draw with.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::cursor;
use crate::event::Command;
use crate::state::nav::RowCursor;
use crate::state::prompt::Input;
use crate::state::State;
use crate::views::layout;

pub(super) fn on_mouse(state: &mut State, mouse: MouseEvent) -> Vec<Command> {
    if let Some(scroll) = state.help {
        state.help = match mouse.kind {
            MouseEventKind::ScrollDown => Some(scroll.saturating_add(1)),
            MouseEventKind::ScrollUp => Some(scroll.saturating_sub(1)),
            MouseEventKind::Down(_) => None,
            _ => Some(scroll),
        };
        return Vec::new();
    }
    if state.input != Input::Normal {
        return Vec::new();
    }
    let pos = Position {
        x: mouse.column,
        y: mouse.row,
    };
    let areas = layout::table_areas(state);
    let hit = areas.iter().find(|a| a.block.contains(pos));
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            let Some(area) = hit else { return Vec::new() };
            cursor::focus(state, area.table);
            if area.rows.contains(pos) {
                let offset = state.scroll(area.table, usize::from(area.rows.height));
                let index = offset + usize::from(pos.y - area.rows.y);
                let keys = state.row_keys(area.table);
                if let Some(key) = keys.get(index) {
                    state.nav.set_selection(
                        area.table,
                        RowCursor {
                            key: Some(key.clone()),
                            index,
                            offset,
                        },
                    );
                }
            }
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let Some(table) = hit.map(|a| a.table).or(state.nav.table()) else {
                return Vec::new();
            };
            cursor::focus(state, table);
            let delta = if mouse.kind == MouseEventKind::ScrollDown {
                1
            } else {
                -1
            };
            cursor::step(state, table, delta);
        }
        _ => {}
    }
    Vec::new()
}
