//! The dashboard: groups and queues tables, then one CPU chart per (filtered) group.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{charts, groups, layout, queues};
use crate::state::nav::Pane;
use crate::state::State;

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let rows = state.group_rows();
    let d = layout::dashboard(area, rows.len(), state.queue_rows().len());
    groups::draw_table(state, d.groups, buf, state.nav.focus == Pane::Groups);
    queues::draw_table(state, d.queues, buf, state.nav.focus == Pane::Queues);
    for (group, chart) in rows.iter().zip(d.charts) {
        charts::cpu(state, group, chart, buf);
    }
}
