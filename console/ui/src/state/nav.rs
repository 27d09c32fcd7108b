//! Where the operator is: the view stack, the focused pane, per-table selection, scroll and filter.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Dashboard,
    Groups,
    Queues,
    Group(String),
    Queue(String),
    /// One dead-letter message: queue, message id.
    Message(String, String),
    Audit,
    /// The load run (or the scenario picker when none ran yet).
    Load,
    /// The stack's alarms.
    Alarms,
    /// Log lines (what they are is `State::logs`).
    Logs,
}

impl View {
    pub fn title(&self) -> String {
        match self {
            View::Dashboard => "dashboard".to_owned(),
            View::Groups => "groups".to_owned(),
            View::Queues => "queues".to_owned(),
            View::Group(n) => format!("group {n}"),
            View::Queue(n) => format!("queue {n}"),
            View::Message(q, id) => format!("message {} in {q}", short_id(id)),
            View::Audit => "audit log".to_owned(),
            View::Load => "load".to_owned(),
            View::Alarms => "alarms".to_owned(),
            View::Logs => "logs".to_owned(),
        }
    }
}

/// The first 8 characters of a message id, enough to tell messages apart on screen.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The dashboard's two tables; `tab` moves between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Groups,
    Queues,
}

/// Tables that keep a selection, a scroll offset and a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableId {
    Groups,
    Queues,
    Instances,
    Messages,
    Audit,
    Scenarios,
    Alarms,
    Logs,
}

impl TableId {
    pub fn noun(self) -> &'static str {
        match self {
            TableId::Groups => "groups",
            TableId::Queues => "queues",
            TableId::Instances => "instances",
            TableId::Messages => "messages",
            TableId::Audit => "audit entries",
            TableId::Scenarios => "scenarios",
            TableId::Alarms => "alarms",
            TableId::Logs => "log lines",
        }
    }
}

/// The selected row is remembered by key so it survives reordering, and by index for when the
/// key disappears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowCursor {
    pub key: Option<String>,
    pub index: usize,
    pub offset: usize,
}

impl RowCursor {
    pub fn resolve(&self, keys: &[String]) -> Option<usize> {
        self.resolve_in(keys.len(), keys.iter().map(String::as_str))
    }

    /// [`RowCursor::resolve`] over `len` keys that need not be collected first.
    pub fn resolve_in<'a>(
        &self,
        len: usize,
        mut keys: impl Iterator<Item = &'a str>,
    ) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let by_key = self.key.as_deref().and_then(|k| keys.position(|x| x == k));
        Some(by_key.unwrap_or(self.index.min(len - 1)))
    }
}

/// First visible row so that `selected` is inside a viewport of `height` rows.
pub fn scroll_offset(len: usize, selected: Option<usize>, offset: usize, height: usize) -> usize {
    if height == 0 {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(height));
    if let Some(s) = selected {
        if s < off {
            off = s;
        } else if s >= off + height {
            off = s + 1 - height;
        }
    }
    off
}

#[derive(Debug, Clone)]
pub struct Nav {
    stack: Vec<View>,
    pub focus: Pane,
    selections: BTreeMap<TableId, RowCursor>,
    filters: BTreeMap<TableId, String>,
}

impl Default for Nav {
    fn default() -> Self {
        Nav {
            stack: vec![View::Dashboard],
            focus: Pane::Groups,
            selections: BTreeMap::new(),
            filters: BTreeMap::new(),
        }
    }
}

impl Nav {
    pub fn view(&self) -> &View {
        self.stack.last().unwrap_or(&View::Dashboard)
    }

    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Drills in; opening a group starts its instance table at the top.
    pub fn push(&mut self, view: View) {
        if self.view() == &view {
            return;
        }
        if matches!(view, View::Group(_)) {
            self.selections.remove(&TableId::Instances);
            self.filters.remove(&TableId::Instances);
        }
        if matches!(view, View::Queue(_)) {
            self.selections.remove(&TableId::Messages);
            self.filters.remove(&TableId::Messages);
        }
        self.stack.push(view);
    }

    /// Goes back one view; the dashboard is the bottom and is never popped.
    pub fn pop(&mut self) -> bool {
        if self.stack.len() > 1 {
            self.stack.pop();
            true
        } else {
            false
        }
    }

    /// Jumps to a top-level view, as `:groups` does (k9s-style: esc returns to the dashboard).
    pub fn jump(&mut self, view: View) {
        self.stack.truncate(1);
        self.push(view);
    }

    /// The table keys act on in the current view.
    pub fn table(&self) -> Option<TableId> {
        match self.view() {
            View::Dashboard => Some(match self.focus {
                Pane::Groups => TableId::Groups,
                Pane::Queues => TableId::Queues,
            }),
            View::Groups => Some(TableId::Groups),
            View::Queues => Some(TableId::Queues),
            View::Group(_) => Some(TableId::Instances),
            View::Queue(_) => Some(TableId::Messages),
            View::Message(..) => None,
            View::Audit => Some(TableId::Audit),
            View::Load => Some(TableId::Scenarios),
            View::Alarms => Some(TableId::Alarms),
            View::Logs => Some(TableId::Logs),
        }
    }

    pub fn selection(&self, table: TableId) -> RowCursor {
        self.selections.get(&table).cloned().unwrap_or_default()
    }

    pub fn set_selection(&mut self, table: TableId, selection: RowCursor) {
        self.selections.insert(table, selection);
    }

    pub fn filter(&self, table: TableId) -> &str {
        self.filters.get(&table).map(String::as_str).unwrap_or("")
    }

    pub fn set_filter(&mut self, table: TableId, text: String) {
        if text.is_empty() {
            self.filters.remove(&table);
        } else {
            self.filters.insert(table, text);
        }
    }
}
