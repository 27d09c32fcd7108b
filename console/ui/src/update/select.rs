//! Opening the selected row (enter).

use crate::state::nav::{TableId, View};
use crate::state::State;

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
