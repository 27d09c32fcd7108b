//! Moving the selection of a table and opening the selected row.

use crate::state::nav::{Pane, Selection, TableId, View};
use crate::state::State;
use crate::views::layout;

/// Rows visible in `table` at the current size, for paging.
pub(super) fn page_height(state: &State, table: TableId) -> usize {
    layout::table_areas(state)
        .iter()
        .find(|a| a.table == table)
        .map_or(1, |a| usize::from(a.rows.height).max(1))
}

/// Selects the row `to(current, len)` returns, clamped to the table.
pub(super) fn move_to(state: &mut State, table: TableId, to: impl FnOnce(usize, usize) -> usize) {
    let keys = state.row_keys(table);
    let sel = state.nav.selection(table);
    let Some(current) = sel.resolve(&keys) else {
        return;
    };
    let index = to(current, keys.len()).min(keys.len() - 1);
    state.nav.set_selection(
        table,
        Selection {
            key: keys.get(index).cloned(),
            index,
            offset: sel.offset,
        },
    );
}

pub(super) fn step(state: &mut State, table: TableId, delta: isize) {
    move_to(state, table, |cur, _| cur.saturating_add_signed(delta));
}

pub(super) fn focus(state: &mut State, table: TableId) {
    if state.nav.view() == &View::Dashboard {
        match table {
            TableId::Groups => state.nav.focus = Pane::Groups,
            TableId::Queues => state.nav.focus = Pane::Queues,
            TableId::Instances
            | TableId::Messages
            | TableId::Audit
            | TableId::Scenarios
            | TableId::Alarms
            | TableId::Logs => {}
        }
    }
}

/// Enter: drills into the selected group or queue.
pub(super) fn open(state: &mut State) {
    let Some(table) = state.nav.table() else {
        return;
    };
    let Some(key) = state.selected_key(table) else {
        return;
    };
    match table {
        TableId::Groups => state.nav.push(View::Group(key)),
        TableId::Queues => state.nav.push(View::Queue(key)),
        TableId::Messages if state.dlq.grouped => {
            // A group opens as its messages: the filter that selects exactly that group.
            state.dlq.grouped = false;
            state
                .nav
                .set_filter(TableId::Messages, format!("signature={key}"));
        }
        TableId::Messages => {
            if let View::Queue(q) = state.nav.view() {
                let q = q.clone();
                state.message_scroll = 0;
                state.nav.push(View::Message(q, key));
            }
        }
        TableId::Scenarios => super::actions::load(state, Some(key)),
        // An alarm opens what it watches: its group, else its queue.
        TableId::Alarms => {
            let Some(alarm) = state.alarms.get(&key) else {
                return;
            };
            match (alarm.group.clone(), alarm.queue.clone()) {
                (Some(g), _) => state.nav.push(View::Group(g)),
                (None, Some(q)) => state.nav.push(View::Queue(q)),
                (None, None) => {}
            }
        }
        TableId::Instances | TableId::Audit | TableId::Logs => {}
    }
}
