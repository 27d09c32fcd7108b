//! The dashboard: the groups and queues tables, then charts on one time axis, as many as the
//! size allows: one combined chart when small; a row per queue (depth | dead letters) and per
//! group (capacity | CPU) from 120x40; the event log beside them from 200x60.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};

use super::geometry::{self, Tier};
use super::{charts, groups, queues};
use crate::model::{GroupSnapshot, QueueSnapshot};
use crate::state::nav::Pane;
use crate::state::State;

/// A chart row per source queue and per group.
pub fn chart_rows_wanted(state: &State) -> usize {
    state.source_queue_rows().len() + state.group_rows().len()
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let rows = state.group_rows();
    let sources = state.source_queue_rows();
    let d = geometry::dashboard(
        area,
        rows.len(),
        state.queue_rows().len(),
        sources.len() + rows.len(),
    );
    let sparks = d.tier == Tier::Full;
    groups::draw_table_with(
        state,
        d.groups,
        buf,
        state.nav.focus == Pane::Groups,
        sparks,
    );
    queues::draw_table_with(
        state,
        d.queues,
        buf,
        state.nav.focus == Pane::Queues,
        sparks,
    );
    if let Some(story) = d.story {
        charts::story(state, story, buf);
    }
    let subjects = sources
        .iter()
        .map(|q| Row::Queue(q))
        .chain(rows.iter().map(|g| Row::Group(g)));
    for (row, area) in subjects.zip(d.chart_rows) {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area);
        match row {
            Row::Queue(q) => match state.queues.dlq_of(q) {
                Some(dlq) => {
                    charts::queue(state, q, left, buf);
                    charts::dlq(state, dlq, right, buf);
                }
                None => charts::queue(state, q, area, buf),
            },
            Row::Group(g) => {
                charts::capacity(state, g, left, buf);
                charts::cpu(state, g, right, buf);
            }
        }
    }
    if let Some(events) = d.events {
        charts::events(state, events, buf);
    }
}

enum Row<'a> {
    Queue(&'a QueueSnapshot),
    Group(&'a GroupSnapshot),
}
