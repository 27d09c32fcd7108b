//! Pure rendering: `render(&State, &mut Frame)` draws only from the state. One file per view.

pub mod alarms;
pub mod audit;
pub mod banner;
pub mod charts;
pub mod common;
pub mod dashboard;
pub mod dialog;
pub mod dlq;
pub mod geometry;
pub mod group;
pub mod groups;
pub mod help;
pub mod layout;
pub mod load;
pub mod logs;
pub mod prompt;
pub mod queue;
pub mod queues;
pub mod status;
pub mod table;
pub mod topbar;

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::Frame;

use crate::state::nav::View;
use crate::state::prompt::Input;
use crate::state::State;

pub fn render(state: &State, frame: &mut Frame) {
    let area = frame.area();
    if let Some(cursor) = draw(state, area, frame.buffer_mut()) {
        frame.set_cursor_position(cursor);
    }
}

/// Draws the whole screen into `buf`; returns the cursor position while typing.
pub fn draw(state: &State, area: Rect, buf: &mut Buffer) -> Option<Position> {
    buf.set_style(area, state.theme.s.base);
    let c = layout::screen(state, area);
    topbar::draw(state, c.top, buf);
    banner::draw(state, c.banner, buf);
    match state.nav.view() {
        View::Dashboard => dashboard::draw(state, c.body, buf),
        View::Groups => groups::draw(state, c.body, buf),
        View::Queues => queues::draw(state, c.body, buf),
        View::Group(name) => group::draw(state, name, c.body, buf),
        View::Queue(name) => queue::draw(state, name, c.body, buf),
        View::Message(queue, id) => dlq::draw_message(state, queue, id, c.body, buf),
        View::Audit => audit::draw(state, c.body, buf),
        View::Load => load::draw(state, c.body, buf),
        View::Alarms => alarms::draw(state, c.body, buf),
        View::Logs => logs::draw(state, c.body, buf),
    }
    if state.help.is_some() {
        help::draw(state, c.body, buf);
    }
    match &state.input {
        Input::Normal => {
            status::draw(state, c.bottom, buf);
            None
        }
        Input::Confirm(d) => {
            status::draw(state, c.bottom, buf);
            dialog::draw_confirm(state, d, c.body, buf)
        }
        Input::Capacity(d) => {
            status::draw(state, c.bottom, buf);
            dialog::draw_capacity(state, d, c.body, buf)
        }
        _ => prompt::draw(state, c.bottom, buf),
    }
}
