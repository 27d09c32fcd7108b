//! The rows each table shows after its filter, shared by key handling, mouse hit-testing and views.

use crate::dlqfilter::{Fields, Filter, FilterError};
use crate::dlqsig::{self, Group};
use crate::model::{
    AuditEntry, DlqMessage, GroupSnapshot, InstanceInfo, QueueSnapshot, ScenarioInfo,
};
use crate::state::nav::{scroll_offset, TableId, View};
use crate::state::State;

fn matches(filter: &str, fields: &[&str]) -> bool {
    if filter.is_empty() {
        return true;
    }
    let f = filter.to_lowercase();
    fields.iter().any(|x| x.to_lowercase().contains(&f))
}

impl State {
    pub fn group_rows(&self) -> Vec<&GroupSnapshot> {
        let f = self.nav.filter(TableId::Groups);
        self.groups
            .list
            .iter()
            .filter(|g| matches(f, &[&g.name]))
            .collect()
    }

    pub fn queue_rows(&self) -> Vec<&QueueSnapshot> {
        let f = self.nav.filter(TableId::Queues);
        self.queues
            .list
            .iter()
            .filter(|q| matches(f, &[&q.name]))
            .collect()
    }

    /// The open group's instances, by id.
    pub fn instance_rows(&self) -> Vec<&InstanceInfo> {
        let View::Group(name) = self.nav.view() else {
            return Vec::new();
        };
        let Some(group) = self.groups.get(name) else {
            return Vec::new();
        };
        let f = self.nav.filter(TableId::Instances);
        let mut rows: Vec<&InstanceInfo> = group
            .instances
            .iter()
            .filter(|i| {
                matches(
                    f,
                    &[
                        &i.id,
                        &i.lifecycle_state,
                        &i.health,
                        &i.az,
                        &i.instance_type,
                    ],
                )
            })
            .collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    }

    /// The dead-letter queue whose messages the current view shows.
    pub fn dlq_view_queue(&self) -> Option<&QueueSnapshot> {
        match self.nav.view() {
            View::Queue(name) => self.queues.get(name).filter(|q| q.is_dlq),
            _ => None,
        }
    }

    /// The DLQ filter in force, parsed; an error while it is being typed wrong.
    pub fn message_filter(&self) -> Result<Filter, FilterError> {
        Filter::parse(self.nav.filter(TableId::Messages))
    }

    /// The open DLQ's messages that pass the filter, oldest first (none while it is invalid).
    pub fn message_rows(&self) -> Vec<&DlqMessage> {
        let Some(q) = self.dlq_view_queue() else {
            return Vec::new();
        };
        let Ok(filter) = self.message_filter() else {
            return Vec::new();
        };
        self.dlq
            .messages_of(&q.name)
            .iter()
            .filter(|m| filter.matches(m, self.now))
            .collect()
    }

    /// The shown messages by failure signature, largest group first: the rows of the DLQ
    /// table while it is grouped (`S`).
    pub fn signature_groups(&self) -> Vec<Group> {
        dlqsig::group(self.message_rows().into_iter().map(Fields::of))
    }

    /// Audit entries, newest first, through the `/` filter.
    pub fn audit_rows(&self) -> Vec<&AuditEntry> {
        let f = self.nav.filter(TableId::Audit);
        self.audit
            .entries
            .iter()
            .rev()
            .filter(|e| matches(f, &[&e.who, &e.action, &e.target, &e.detail, &e.result]))
            .collect()
    }

    /// The alarms in reading order (ALARM first), through the `/` filter.
    pub fn alarm_rows(&self) -> Vec<&crate::alarms::AlarmRow> {
        let f = self.nav.filter(TableId::Alarms);
        self.alarms
            .rows
            .iter()
            .filter(|a| {
                matches(
                    f,
                    &[
                        &a.name,
                        a.state.as_str(),
                        &a.watches(),
                        &a.reason,
                        &a.description,
                    ],
                )
            })
            .collect()
    }

    /// The log lines, oldest first, through the `/` filter (every word, as the read did).
    pub fn log_rows(&self) -> Vec<&crate::logs::LogEntry> {
        let f = self.nav.filter(TableId::Logs);
        self.logs.lines.iter().filter(|l| l.matches(f)).collect()
    }

    pub fn scenario_rows(&self) -> Vec<&ScenarioInfo> {
        let f = self.nav.filter(TableId::Scenarios);
        self.load
            .scenarios
            .iter()
            .filter(|s| matches(f, &[&s.name, &s.description]))
            .collect()
    }

    /// The source (non-DLQ) queues shown, in table order: each gets a chart row.
    pub fn source_queue_rows(&self) -> Vec<&QueueSnapshot> {
        self.queue_rows()
            .into_iter()
            .filter(|q| !q.is_dlq)
            .collect()
    }

    /// The group and queue the combined chart follows: the first source queue and the group
    /// that consumes it (else the first group).
    pub fn story_subjects(&self) -> (Option<&QueueSnapshot>, Option<&GroupSnapshot>) {
        let queue = self.source_queue_rows().into_iter().next();
        let paired = queue.and_then(|q| {
            self.config
                .pairing
                .group_for(&q.name, &self.groups.list, &self.queues.list)
        });
        let group = paired.or_else(|| self.group_rows().into_iter().next());
        (queue, group)
    }

    pub fn row_keys(&self, table: TableId) -> Vec<String> {
        match table {
            TableId::Groups => self.group_rows().iter().map(|g| g.name.clone()).collect(),
            TableId::Queues => self.queue_rows().iter().map(|q| q.name.clone()).collect(),
            TableId::Instances => self.instance_rows().iter().map(|i| i.id.clone()).collect(),
            TableId::Messages if self.dlq.grouped => self
                .signature_groups()
                .into_iter()
                .map(|g| g.signature.id)
                .collect(),
            TableId::Messages => self.message_rows().iter().map(|m| m.id.clone()).collect(),
            TableId::Scenarios => self
                .scenario_rows()
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            TableId::Alarms => self.alarm_rows().iter().map(|a| a.name.clone()).collect(),
            TableId::Logs => self.log_rows().iter().map(|l| l.event_id.clone()).collect(),
            TableId::Audit => self
                .audit_rows()
                .iter()
                .map(|e| format!("{}|{}|{}", e.at.timestamp_millis(), e.action, e.target))
                .collect(),
        }
    }

    /// The table's row count and the selected row's index. The two tables that can hold
    /// hundreds of rows, drawn every second, find the selection without collecting their keys.
    fn rows_and_selected(&self, table: TableId) -> (usize, Option<usize>) {
        let sel = self.nav.selection(table);
        match table {
            TableId::Groups => {
                let rows = self.group_rows();
                let at = sel.resolve_in(rows.len(), rows.iter().map(|g| g.name.as_str()));
                (rows.len(), at)
            }
            TableId::Queues => {
                let rows = self.queue_rows();
                let at = sel.resolve_in(rows.len(), rows.iter().map(|q| q.name.as_str()));
                (rows.len(), at)
            }
            _ => {
                let keys = self.row_keys(table);
                (keys.len(), sel.resolve(&keys))
            }
        }
    }

    pub fn selected_index(&self, table: TableId) -> Option<usize> {
        self.rows_and_selected(table).1
    }

    pub fn selected_key(&self, table: TableId) -> Option<String> {
        let keys = self.row_keys(table);
        self.nav
            .selection(table)
            .resolve(&keys)
            .and_then(|i| keys.get(i).cloned())
    }

    /// First row shown in a viewport of `height` rows, keeping the selection visible.
    pub fn scroll(&self, table: TableId, height: usize) -> usize {
        let (len, selected) = self.rows_and_selected(table);
        scroll_offset(len, selected, self.nav.selection(table).offset, height)
    }
}
