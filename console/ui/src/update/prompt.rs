//! Text entry on the bottom line: the `:` command line (with tab completion) and the `/` filter.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::event::Command;
use crate::state::nav::{RowCursor, View};
use crate::state::prompt::{self, Input, Names, Parsed};
use crate::state::{Level, State};

fn typed_char(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}

fn is_cancel(key: &KeyEvent) -> bool {
    key.code == KeyCode::Esc
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
}

pub(super) fn command_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    if is_cancel(&key) {
        state.input = Input::Normal;
        return Vec::new();
    }
    if key.code == KeyCode::Enter {
        let text = match &state.input {
            Input::Command(line) => line.text.clone(),
            _ => String::new(),
        };
        state.input = Input::Normal;
        return run(state, &text);
    }
    let owned = owned_names(state);
    let names = owned.borrowed();
    let Input::Command(line) = &mut state.input else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Tab => line.complete(&names),
        KeyCode::Backspace if line.text.is_empty() => state.input = Input::Normal,
        KeyCode::Backspace => line.backspace(),
        _ => {
            if let Some(c) = typed_char(&key) {
                line.push(c);
            }
        }
    }
    Vec::new()
}

pub(super) fn filter_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let Input::Filter {
        table,
        text,
        before,
    } = &mut state.input
    else {
        return Vec::new();
    };
    let table = *table;
    if is_cancel(&key) {
        let before = std::mem::take(before);
        state.input = Input::Normal;
        state.nav.set_filter(table, before);
        return Vec::new();
    }
    match key.code {
        KeyCode::Enter => {
            state.input = Input::Normal;
            return Vec::new();
        }
        KeyCode::Backspace => {
            text.pop();
        }
        _ => match typed_char(&key) {
            Some(c) => text.push(c),
            None => return Vec::new(),
        },
    }
    let text = text.clone();
    state.nav.set_filter(table, text);
    // A new filter starts at its first match.
    state.nav.set_selection(table, RowCursor::default());
    Vec::new()
}

pub(super) struct OwnedNames {
    themes: Vec<String>,
    groups: Vec<String>,
    queues: Vec<String>,
    scenarios: Vec<String>,
    profiles: Vec<String>,
    regions: Vec<String>,
}

impl OwnedNames {
    pub(super) fn borrowed(&self) -> Names<'_> {
        Names {
            themes: self.themes.iter().map(String::as_str).collect(),
            groups: self.groups.iter().map(String::as_str).collect(),
            queues: self.queues.iter().map(String::as_str).collect(),
            scenarios: self.scenarios.iter().map(String::as_str).collect(),
            profiles: self.profiles.iter().map(String::as_str).collect(),
            regions: self.regions.iter().map(String::as_str).collect(),
        }
    }
}

pub(super) fn owned_names(state: &State) -> OwnedNames {
    let mut queues: Vec<String> = state.queues.list.iter().map(|q| q.name.clone()).collect();
    queues.sort();
    OwnedNames {
        themes: state.themes.names().map(str::to_owned).collect(),
        groups: state.groups.list.iter().map(|g| g.name.clone()).collect(),
        queues,
        scenarios: state
            .load
            .scenarios
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        profiles: state.target.profiles.clone(),
        regions: state
            .target
            .regions()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// Finds a name exactly, else by unique case-insensitive prefix.
/// A group named at the prompt, spelled as the console knows it; an unknown name is flashed
/// (`Err`). No name is `Ok(None)`: the action falls back to the open or selected group.
fn named_group(state: &mut State, wanted: Option<String>) -> Result<Option<String>, ()> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    match find_name(state.groups.list.iter().map(|g| g.name.as_str()), &wanted) {
        Some(n) => Ok(Some(n.to_owned())),
        None => {
            state.flash(Level::Error, format!("no group named `{wanted}`"));
            Err(())
        }
    }
}

fn find_name<'a>(names: impl Iterator<Item = &'a str> + Clone, wanted: &str) -> Option<&'a str> {
    if let Some(exact) = names.clone().find(|n| *n == wanted) {
        return Some(exact);
    }
    let w = wanted.to_lowercase();
    let mut hits = names.filter(|n| n.to_lowercase().starts_with(&w));
    match (hits.next(), hits.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

pub(super) fn run(state: &mut State, text: &str) -> Vec<Command> {
    let parsed = match prompt::parse(text) {
        Ok(p) => p,
        Err(e) if e.is_empty() => return Vec::new(),
        Err(e) => {
            state.flash(Level::Error, e);
            return Vec::new();
        }
    };
    match parsed {
        Parsed::Dashboard => state.nav.jump(View::Dashboard),
        Parsed::Groups => state.nav.jump(View::Groups),
        Parsed::Queues => state.nav.jump(View::Queues),
        Parsed::Dlq => {
            let dlqs = state.queues.list.iter().filter(|q| q.is_dlq);
            let pick = dlqs
                .clone()
                .find(|q| q.visible > 0)
                .or(dlqs.clone().next())
                .map(|q| q.name.clone());
            match pick {
                Some(name) => state.nav.push(View::Queue(name)),
                None => state.flash(Level::Warn, "no dead-letter queue reported yet"),
            }
        }
        Parsed::Group(wanted) => {
            match find_name(state.groups.list.iter().map(|g| g.name.as_str()), &wanted) {
                Some(name) => {
                    let name = name.to_owned();
                    state.nav.push(View::Group(name));
                }
                None => state.flash(Level::Error, format!("no group named `{wanted}`")),
            }
        }
        Parsed::Queue(wanted) => {
            match find_name(state.queues.list.iter().map(|q| q.name.as_str()), &wanted) {
                Some(name) => {
                    let name = name.to_owned();
                    state.nav.push(View::Queue(name));
                }
                None => state.flash(Level::Error, format!("no queue named `{wanted}`")),
            }
        }
        Parsed::Theme(name) => match state.set_theme(&name) {
            Ok(()) => state.flash(Level::Info, format!("theme {name}")),
            Err(e) => state.flash(Level::Error, e.to_string()),
        },
        Parsed::Window(w) => {
            state.chart.set_fixed(w);
            return vec![Command::SetMetricWindow(w)];
        }
        Parsed::Freeze => state.chart.toggle_freeze(state.now),
        Parsed::Marker(m) => state.chart.marker = m,
        Parsed::Redrive(to) => {
            let to = match to {
                Some(wanted) => {
                    match find_name(state.queues.list.iter().map(|q| q.name.as_str()), &wanted) {
                        Some(n) => Some(n.to_owned()),
                        None => {
                            state.flash(Level::Error, format!("no queue named `{wanted}`"));
                            return Vec::new();
                        }
                    }
                }
                None => None,
            };
            return super::actions::redrive(state, to);
        }
        Parsed::Purge(q) => super::actions::purge(state, q),
        Parsed::Scale { group, value } => {
            let Ok(group) = named_group(state, group) else {
                return Vec::new();
            };
            super::actions::scale(state, group, value);
        }
        Parsed::Processes { suspend, processes } => {
            super::actions::processes(state, suspend, processes, None);
        }
        Parsed::Cancel => return super::actions::cancel(state),
        Parsed::InstanceRefresh(action) => return super::actions::instance_refresh(state, action),
        Parsed::Load(scenario) => super::actions::load(state, scenario),
        Parsed::Audit => state.nav.jump(View::Audit),
        Parsed::Alarms => state.nav.jump(View::Alarms),
        Parsed::Logs { target, ids } => super::logs::open(state, target, ids),
        // The autoscaler of a group is its policies: AWS runs them unless AlarmNotification
        // is suspended, and so does the local autoscaler.
        Parsed::Autoscaler { on, group } => {
            let Ok(group) = named_group(state, group) else {
                return Vec::new();
            };
            let processes = vec![crate::model::ALARM_NOTIFICATION.to_owned()];
            super::actions::processes(state, !on, processes, group);
        }
        Parsed::Profile(profile) => return super::target::switch(state, Some(profile), None),
        Parsed::Region(region) => return super::target::switch(state, None, Some(region)),
        Parsed::Refresh => return vec![Command::RefreshNow],
        Parsed::Help => state.help = Some(0),
        Parsed::Quit => {
            state.quit = true;
            return vec![Command::Quit];
        }
    }
    Vec::new()
}
