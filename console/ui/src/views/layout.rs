//! Where the current screen's parts and tables are: the chrome with the banner's rows, and
//! each visible table's block and rows, from [`super::geometry`] and the views' own sizes.
//! Mouse hit-testing and paging use these, so they match what was drawn.

use ratatui::layout::Rect;

pub use super::geometry::*;
use crate::state::nav::{TableId, View};
use crate::state::State;

/// The chrome of `state`'s screen: with a banner row while one is up and there is room.
pub fn screen(state: &State, area: Rect) -> Chrome {
    let mut c = chrome(area);
    let rows = crate::views::banner::rows(state, area.width);
    if rows > 0 && c.body.height >= 6 + rows {
        c.banner = Rect {
            height: rows,
            ..c.body
        };
        c.body.y += rows;
        c.body.height -= rows;
    }
    c
}

/// What the screen shows now, for the agents that read it at the full refresh ([`on_screen`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnScreen {
    /// The queues table's visible rows, the open queue and its dead-letter queue, and every
    /// dead-letter queue holding messages (the top bar counts them).
    pub queues: Vec<String>,
    /// The groups table's visible rows, the open group, the group the dashboard's chart
    /// follows, the groups that consume the queues on screen (their backlog per instance is
    /// shown) and the group of the capacity dialog.
    pub groups: Vec<String>,
}

/// The queues and groups `state`'s screen shows, each sorted, without repeats; `areas` are
/// its [`table_areas`].
pub fn on_screen(state: &State, areas: &[TableArea]) -> OnScreen {
    let mut queues: Vec<String> = state
        .queues
        .list
        .iter()
        .filter(|q| q.is_dlq && q.visible + q.in_flight > 0)
        .map(|q| q.name.clone())
        .collect();
    let mut groups: Vec<String> = Vec::new();
    match state.nav.view() {
        View::Group(name) => groups.push(name.clone()),
        View::Dashboard => groups.extend(state.story_subjects().1.map(|g| g.name.clone())),
        View::Queue(name) => {
            queues.push(name.clone());
            if let Some(dlq) = state.queues.get(name).and_then(|q| state.queues.dlq_of(q)) {
                queues.push(dlq.name.clone());
            }
            groups.extend(
                state
                    .config
                    .pairing
                    .group_for(name, &state.groups.list, &state.queues.list)
                    .map(|g| g.name.clone()),
            );
        }
        _ => {}
    }
    if let crate::state::Input::Capacity(d) = &state.input {
        groups.push(d.group.clone());
    }
    for t in areas {
        let height = usize::from(t.rows.height);
        let offset = state.scroll(t.table, height);
        match t.table {
            TableId::Groups => groups.extend(
                state
                    .group_rows()
                    .iter()
                    .skip(offset)
                    .take(height)
                    .map(|g| g.name.clone()),
            ),
            TableId::Queues => {
                let rows = state.queue_rows();
                let shown: Vec<&str> = rows
                    .iter()
                    .skip(offset)
                    .take(height)
                    .map(|q| q.name.as_str())
                    .collect();
                queues.extend(shown.iter().map(|&n| n.to_owned()));
                // As `Pairing::group_for`, the first group consuming each queue, but each
                // group's queue asked once (not a scan of the groups per row).
                let mut paired: Vec<&str> = Vec::new();
                for g in &state.groups.list {
                    let Some(q) = state.config.pairing.queue_for(&g.name, &state.queues.list)
                    else {
                        continue;
                    };
                    if shown.contains(&q.name.as_str()) && !paired.contains(&q.name.as_str()) {
                        paired.push(&q.name);
                        groups.push(g.name.clone());
                    }
                }
            }
            _ => {}
        }
    }
    for names in [&mut queues, &mut groups] {
        names.sort();
        names.dedup();
    }
    OnScreen { queues, groups }
}

/// A table's block and the rows inside it (below the header line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableArea {
    pub table: TableId,
    pub block: Rect,
    pub rows: Rect,
}

/// The tables of the current view, where they are drawn.
pub fn table_areas(state: &State) -> Vec<TableArea> {
    let area = Rect::new(0, 0, state.size.0, state.size.1);
    let body = screen(state, area).body;
    let area_of = |table, block| TableArea {
        table,
        block,
        rows: rows_of(block),
    };
    match state.nav.view() {
        View::Dashboard => {
            let d = dashboard(
                body,
                state.group_rows().len(),
                state.queue_rows().len(),
                crate::views::dashboard::chart_rows_wanted(state),
            );
            vec![
                area_of(TableId::Groups, d.groups),
                area_of(TableId::Queues, d.queues),
            ]
        }
        View::Groups => vec![area_of(TableId::Groups, body)],
        View::Queues => vec![area_of(TableId::Queues, body)],
        View::Group(name) => {
            let lines = crate::views::group::summary_height(state, name, body.width);
            vec![area_of(
                TableId::Instances,
                group_detail(body, state.instance_rows().len(), lines).instances,
            )]
        }
        View::Queue(name) => match state.queues.get(name).filter(|q| q.is_dlq) {
            Some(q) => {
                let lines = crate::views::queue::attr_lines(state, q);
                vec![area_of(TableId::Messages, dlq_detail(body, lines).messages)]
            }
            None => Vec::new(),
        },
        View::Message(..) => Vec::new(),
        View::Audit => vec![area_of(TableId::Audit, body)],
        View::Load => vec![area_of(
            TableId::Scenarios,
            crate::views::load::split(state, body).0,
        )],
        View::Alarms => vec![area_of(
            TableId::Alarms,
            crate::views::alarms::split(body, state.alarm_rows().len()).0,
        )],
        View::Logs => vec![area_of(TableId::Logs, crate::views::logs::split(body).0)],
    }
}
