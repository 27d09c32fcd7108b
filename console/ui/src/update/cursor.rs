//! Moving the selection of a table: by rows, by pages, to an end, and which table has the focus.

use crate::state::nav::{Pane, RowCursor, TableId, View};
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
        RowCursor {
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
