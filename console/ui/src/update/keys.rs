//! Keys in normal mode, mapped through the keymap to actions; text entry is in `prompt`.

use crossterm::event::KeyEvent;

use super::{actions, cursor, prompt, select};
use crate::event::Command;
use crate::keymap::Action;
use crate::state::nav::{Pane, TableId, View};
use crate::state::prompt::{CommandLine, Input};
use crate::state::{Level, State};

pub(super) fn on_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    match state.input {
        Input::Command(_) => return prompt::command_key(state, key),
        Input::Filter { .. } => return prompt::filter_key(state, key),
        Input::Confirm(_) => return actions::confirm_key(state, key),
        Input::Capacity(_) => return actions::capacity_key(state, key),
        Input::Normal => {}
    }
    let Some(action) = state.config.keymap.action_for(&key) else {
        return Vec::new();
    };
    if state.help.is_some() {
        return help_key(state, action);
    }
    act(state, action)
}

/// While help is open, keys scroll it or close it; quit still quits.
fn help_key(state: &mut State, action: Action) -> Vec<Command> {
    let scroll = state.help.unwrap_or(0);
    state.help = match action {
        Action::Help | Action::Back => None,
        Action::Up => Some(scroll.saturating_sub(1)),
        Action::Down => Some(scroll.saturating_add(1)),
        Action::PageUp => Some(scroll.saturating_sub(10)),
        Action::PageDown => Some(scroll.saturating_add(10)),
        Action::Top => Some(0),
        // Clamped to the end of the help after the update.
        Action::Bottom => Some(u16::MAX),
        Action::Quit => return quit(state),
        _ => Some(scroll),
    };
    Vec::new()
}

/// Up/down, pages, top and bottom scroll the open message, up to its last line.
fn scroll_message(state: &mut State, action: Action) {
    let View::Message(queue, id) = state.nav.view().clone() else {
        return;
    };
    let area = ratatui::layout::Rect::new(0, 0, state.size.0, state.size.1);
    let body = crate::views::layout::screen(state, area).body;
    let max = crate::views::dlq::message_max_scroll(state, &queue, &id, body);
    let page = body.height.saturating_sub(3).max(1);
    let cur = state.message_scroll.min(max);
    state.message_scroll = match action {
        Action::Up => cur.saturating_sub(1),
        Action::Down => cur.saturating_add(1),
        Action::PageUp => cur.saturating_sub(page),
        Action::PageDown => cur.saturating_add(page),
        Action::Top => 0,
        _ => max,
    }
    .min(max);
}

fn quit(state: &mut State) -> Vec<Command> {
    state.quit = true;
    vec![Command::Quit]
}

pub(super) fn act(state: &mut State, action: Action) -> Vec<Command> {
    let table = state.nav.table();
    match action {
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => {
            if matches!(state.nav.view(), View::Message(..)) {
                scroll_message(state, action);
                return Vec::new();
            }
            let Some(table) = table else {
                return Vec::new();
            };
            let page = cursor::page_height(state, table);
            cursor::move_to(state, table, |cur, len| match action {
                Action::Up => cur.saturating_sub(1),
                Action::Down => cur + 1,
                Action::PageUp => cur.saturating_sub(page),
                Action::PageDown => cur + page,
                Action::Top => 0,
                _ => len,
            });
        }
        Action::NextPane | Action::PrevPane => {
            if state.nav.view() == &View::Dashboard {
                state.nav.focus = match state.nav.focus {
                    Pane::Groups => Pane::Queues,
                    Pane::Queues => Pane::Groups,
                };
            }
        }
        Action::Open => select::open(state),
        Action::Alarms => state.nav.jump(View::Alarms),
        Action::Logs => super::logs::open_here(state),
        Action::Back => {
            if let Some(t) = table.filter(|t| !state.nav.filter(*t).is_empty()) {
                state.nav.set_filter(t, String::new());
            } else {
                state.nav.pop();
            }
        }
        Action::Filter => {
            if let Some(t) =
                table.filter(|t| *t != TableId::Messages || state.dlq_view_queue().is_some())
            {
                let before = state.nav.filter(t).to_owned();
                state.input = Input::Filter {
                    table: t,
                    text: before.clone(),
                    before,
                };
            }
        }
        Action::Command => state.input = Input::Command(CommandLine::default()),
        Action::Help => state.help = Some(0),
        Action::Refresh => {
            state.flash(Level::Info, "refresh requested");
            return vec![Command::RefreshNow];
        }
        Action::Quit => return quit(state),
        Action::LongerWindow | Action::ShorterWindow if state.nav.view() == &View::Logs => {
            super::logs::step_since(state, action == Action::LongerWindow);
        }
        Action::Freeze if state.nav.view() == &View::Logs => super::logs::toggle_follow(state),
        Action::LongerWindow => {
            let shown = state.shown_window();
            return state
                .chart
                .longer(shown)
                .map(Command::SetMetricWindow)
                .into_iter()
                .collect();
        }
        Action::ShorterWindow => {
            return state
                .chart
                .shorter()
                .map(Command::SetMetricWindow)
                .into_iter()
                .collect()
        }
        Action::Freeze => state.chart.toggle_freeze(state.now),
        Action::Mark => actions::mark(state),
        Action::MarkAll => actions::mark_all(state),
        Action::GroupBySignature => actions::toggle_grouping(state),
        Action::Redrive => return actions::redrive(state, None),
        Action::DeleteMessages => actions::delete(state),
        Action::EditMessage => return actions::edit(state),
        Action::Scale => actions::scale(state, None, None),
        Action::CancelJob => return actions::cancel(state),
        Action::ToggleMarker => {
            state.chart.marker = match state.chart.marker {
                crate::config::ChartMarker::Braille => crate::config::ChartMarker::Dot,
                crate::config::ChartMarker::Dot => crate::config::ChartMarker::Braille,
            };
        }
    }
    Vec::new()
}
