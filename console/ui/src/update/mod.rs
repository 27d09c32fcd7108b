//! `update(state, event) -> commands`: the only place state changes. Split by event source.

mod actions;
mod cursor;
mod keys;
mod logs;
mod mouse;
mod prompt;
mod reports;
mod select;
mod target;
#[cfg(test)]
mod tests;

use crate::event::{Command, Event};
use crate::model::Report;
use crate::state::nav::View;
use crate::state::State;
use crate::views::layout;

/// Applies one event and returns what the agents should do. Never blocks, never fails.
pub fn update(state: &mut State, event: Event) -> Vec<Command> {
    let peeking = state.dlq_in_view();
    let tailing = state.logs_in_view();
    let mut commands = match event {
        Event::Key(key) => keys::on_key(state, key),
        Event::Mouse(mouse) => mouse::on_mouse(state, mouse),
        Event::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Event::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Event::Report(report) => {
            // A caption held back for its claim: the agents look again now rather than at
            // their next refresh.
            let look = matches!(report, Report::Caption { claim: Some(_), .. });
            reports::apply(state, report);
            if look {
                vec![Command::RefreshNow]
            } else {
                Vec::new()
            }
        }
        Event::Edited { queue, id, body } => actions::edited(state, queue, id, body),
    };
    reports::settle_caption(state);
    state.keep_flash_if_cut();
    commands.append(&mut state.outbox);
    // The tables' places depend on the view and the data, not on the scroll offsets.
    let areas = layout::table_areas(state);
    remember_scroll(state, &areas);
    if let Some(scroll) = state.help {
        let body = layout::screen(
            state,
            ratatui::layout::Rect::new(0, 0, state.size.0, state.size.1),
        )
        .body;
        state.help = Some(scroll.min(crate::views::help::max_scroll(state, body)));
    }
    let now_peeking = state.dlq_in_view();
    if now_peeking != peeking {
        commands.push(Command::PeekDlq(now_peeking));
    }
    if state.nav.view() == &View::Logs {
        state.logs.request.terms = state.committed_log_filter();
    }
    let shown = layout::on_screen(state, &areas);
    if shown.queues != state.queues.on_screen {
        state.queues.on_screen.clone_from(&shown.queues);
        commands.push(Command::QueuesOnScreen(shown.queues));
    }
    if shown.groups != state.groups.on_screen {
        state.groups.on_screen.clone_from(&shown.groups);
        commands.push(Command::GroupsOnScreen(shown.groups));
    }
    let now_tailing = state.logs_in_view();
    if now_tailing != tailing {
        let follow = now_tailing.as_ref().is_some_and(|(_, f)| *f);
        if now_tailing.is_none() {
            state.health.forget_failure(crate::model::Agent::Logs);
        }
        commands.push(Command::TailLogs {
            request: now_tailing.map(|(r, _)| r),
            follow,
        });
    }
    commands
}

/// Stores each visible table's scroll offset so scrolling stays put between frames.
fn remember_scroll(state: &mut State, areas: &[layout::TableArea]) {
    for area in areas {
        let offset = state.scroll(area.table, usize::from(area.rows.height));
        let mut sel = state.nav.selection(area.table);
        if sel.offset != offset {
            sel.offset = offset;
            state.nav.set_selection(area.table, sel);
        }
    }
}
