//! Keys and commands that change the target: they open a dialog or the confirm path; nothing is
//! sent to an agent before the operator confirms. Under `--read-only` they are refused here too.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::event::{Command, MessageSelection, RedriveRequest, RefreshAction};
use crate::fmt;
use crate::model::{Disk, JobState, LocalMemory, PolicyKind, Pressure};
use crate::state::actions::{check_desired, CapacityDialog, Confirm, ConfirmDialog, Pending};
use crate::state::nav::{TableId, View};
use crate::state::prompt::Input;
use crate::state::{Level, State};

/// Under `--read-only`: says so, and audits the refusal (`action` as the audit log names it,
/// on what is in view); nothing is sent to AWS.
fn refuse_read_only(state: &mut State, what: &str, action: &str) -> bool {
    if state.read_only {
        state.flash(
            Level::Warn,
            format!("read-only: {what} is disabled (restart without --read-only to act)"),
        );
        let target = dlq_in_view(state)
            .map(|(q, _)| q)
            .or_else(|| group_in_view(state))
            .unwrap_or_default();
        state.outbox.push(Command::Audited {
            action: action.to_owned(),
            target,
            result: "refused".to_owned(),
            detail: format!("{what} refused by --read-only"),
        });
    }
    state.read_only
}

/// The DLQ the operator is looking at (its table or one of its messages).
fn dlq_in_view(state: &State) -> Option<(String, Option<String>)> {
    match state.nav.view() {
        View::Queue(name) => state
            .queues
            .get(name)
            .filter(|q| q.is_dlq)
            .map(|q| (q.name.clone(), None)),
        View::Message(q, id) => Some((q.clone(), Some(id.clone()))),
        _ => None,
    }
}

/// space: marks the selected message (grouped: every message of the selected group, or unmarks
/// them when all are marked) and moves to the next row.
pub(super) fn mark(state: &mut State) {
    if state.nav.table() != Some(TableId::Messages) {
        return;
    }
    let Some(key) = state.selected_key(TableId::Messages) else {
        return;
    };
    if state.dlq.grouped {
        let ids = state
            .signature_groups()
            .into_iter()
            .find(|g| g.signature.id == key)
            .map(|g| g.ids)
            .unwrap_or_default();
        state.dlq.toggle_all(&ids);
    } else {
        state.dlq.toggle(&key);
    }
    super::cursor::step(state, TableId::Messages, 1);
}

/// S: one row per failure signature in the DLQ table, or one per message again.
pub(super) fn toggle_grouping(state: &mut State) {
    if state.dlq_view_queue().is_none() {
        return;
    }
    state.dlq.grouped = !state.dlq.grouped;
}

/// a: marks every message shown; when all are marked already, clears the marks.
pub(super) fn mark_all(state: &mut State) {
    if state.nav.table() != Some(TableId::Messages) {
        return;
    }
    // Messages, not rows: grouped, the rows are signatures.
    let shown: Vec<String> = state.message_rows().iter().map(|m| m.id.clone()).collect();
    if !shown.is_empty() && shown.iter().all(|id| state.dlq.marked.contains(id)) {
        state.dlq.marked.clear();
    } else {
        state.dlq.marked.extend(shown);
    }
}

/// The queue a DLQ's messages go back to: its source queue, if exactly one is known.
fn source_of(state: &State, dlq: &str) -> Option<String> {
    let q = state.queues.get(dlq)?;
    let sources: Vec<&str> = state
        .queues
        .sources_of(q)
        .map(|s| s.name.as_str())
        .collect();
    match sources.as_slice() {
        [one] => Some((*one).to_owned()),
        _ => None,
    }
}

/// R or `:redrive [QUEUE]`: marked messages, else the open message, else what the filter shows,
/// else everything; to the source queue unless `to` names one.
pub(super) fn redrive(state: &mut State, to: Option<String>) -> Vec<Command> {
    if refuse_read_only(state, "redrive", "dlq.redrive") {
        return Vec::new();
    }
    let Some((dlq, open)) = dlq_in_view(state) else {
        state.flash(Level::Warn, "open a dead-letter queue first (:dlq)");
        return Vec::new();
    };
    let target = match to.or_else(|| source_of(state, &dlq)) {
        Some(t) => t,
        None => {
            state.flash(
                Level::Error,
                format!("{dlq} has no single source queue: name one with :redrive QUEUE"),
            );
            return Vec::new();
        }
    };
    if state.queues.get(&target).is_none() {
        state.flash(Level::Error, format!("no queue named `{target}`"));
        return Vec::new();
    }
    let filter = state.nav.filter(TableId::Messages).to_owned();
    let marked: Vec<String> = state.dlq.marked.iter().cloned().collect();
    let (selection, count) = if !marked.is_empty() {
        let n = marked.len();
        (MessageSelection::Ids(marked), n)
    } else if let Some(id) = open {
        (MessageSelection::Ids(vec![id]), 1)
    } else if !filter.trim().is_empty() {
        if let Err(e) = state.message_filter() {
            state.flash(Level::Error, e.to_string());
            return Vec::new();
        }
        let n = state.message_rows().len();
        (MessageSelection::Filter(filter), n)
    } else {
        let n = state
            .queues
            .get(&dlq)
            .map_or(0, |q| usize::try_from(q.visible).unwrap_or(usize::MAX));
        (MessageSelection::All, n)
    };
    if state
        .jobs
        .redrive
        .as_ref()
        .is_some_and(|r| r.state == JobState::Running)
    {
        state.flash(
            Level::Warn,
            "a redrive is running: wait, or cancel it with x",
        );
        return Vec::new();
    }
    let request = RedriveRequest {
        dlq,
        to: Some(target.clone()),
        selection,
        dry_run: false,
        edited_body: None,
    };
    state.input = Input::Confirm(ConfirmDialog::new(Pending::Redrive {
        request,
        count,
        to: target,
    }));
    Vec::new()
}

/// e: opens the open message's body (pretty JSON) in the operator's editor.
pub(super) fn edit(state: &mut State) -> Vec<Command> {
    if refuse_read_only(state, "edit and redrive", "dlq.redrive") {
        return Vec::new();
    }
    let View::Message(queue, id) = state.nav.view().clone() else {
        state.flash(Level::Warn, "open a message first (enter on a DLQ row)");
        return Vec::new();
    };
    let Some(m) = state.dlq.messages.iter().find(|m| m.id == id) else {
        state.flash(Level::Error, "the message is gone from the latest peek");
        return Vec::new();
    };
    let body = serde_json::from_str::<serde_json::Value>(&m.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| m.body.clone());
    vec![Command::EditMessage { queue, id, body }]
}

/// The editor closed: an unchanged or non-JSON body goes nowhere; otherwise the plain
/// redrive confirm, for this one message with its new body.
pub(super) fn edited(
    state: &mut State,
    queue: String,
    id: String,
    body: Result<String, String>,
) -> Vec<Command> {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            state.flash(Level::Error, format!("edit: {e}"));
            return Vec::new();
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            state.flash(
                Level::Error,
                format!("the edited body is not JSON ({e}): nothing sent; press e to edit again"),
            );
            return Vec::new();
        }
    };
    // Sent as written (key order and all), without the editor's surrounding whitespace.
    let text = body.trim().to_owned();
    let original = state.dlq.messages.iter().find(|m| m.id == id);
    let unchanged = original.is_some_and(|m| {
        serde_json::from_str::<serde_json::Value>(&m.body).is_ok_and(|v| v == value)
            || m.body == body
    });
    if unchanged {
        state.flash(Level::Info, "the body is unchanged: nothing to redrive");
        return Vec::new();
    }
    let Some(target) = source_of(state, &queue) else {
        state.flash(
            Level::Error,
            format!("{queue} has no single source queue: redrive the edit with the CLI's --to"),
        );
        return Vec::new();
    };
    let request = RedriveRequest {
        dlq: queue,
        to: Some(target.clone()),
        selection: MessageSelection::Ids(vec![id]),
        dry_run: false,
        edited_body: Some(text),
    };
    state.input = Input::Confirm(ConfirmDialog::new(Pending::Redrive {
        request,
        count: 1,
        to: target,
    }));
    Vec::new()
}

/// ctrl-d: deletes the marked messages (or the open one).
pub(super) fn delete(state: &mut State) {
    if refuse_read_only(state, "delete", "dlq.delete") {
        return;
    }
    let Some((queue, open)) = dlq_in_view(state) else {
        return;
    };
    let mut ids: Vec<String> = state.dlq.marked.iter().cloned().collect();
    if ids.is_empty() {
        ids.extend(open);
    }
    if ids.is_empty() {
        state.flash(
            Level::Warn,
            "mark messages with space first (a marks all shown)",
        );
        return;
    }
    state.input = Input::Confirm(ConfirmDialog::new(Pending::Delete { queue, ids }));
}

/// `:purge [QUEUE]`: the open queue unless one is named.
pub(super) fn purge(state: &mut State, queue: Option<String>) {
    if refuse_read_only(state, "purge", "dlq.purge") {
        return;
    }
    let queue = queue.or_else(|| match state.nav.view() {
        View::Queue(q) | View::Message(q, _) => Some(q.clone()),
        _ => None,
    });
    let Some(q) = queue.and_then(|name| state.queues.get(&name)) else {
        state.flash(Level::Warn, "open a queue first, or name one: :purge QUEUE");
        return;
    };
    let pending = Pending::Purge {
        queue: q.name.clone(),
        visible: q.visible + q.in_flight + q.delayed,
    };
    state.input = Input::Confirm(ConfirmDialog::new(pending));
}

/// The group an `s` applies to: the open group or the selected row of the groups table.
fn group_in_view(state: &State) -> Option<String> {
    match state.nav.view() {
        View::Group(name) => Some(name.clone()),
        _ if state.nav.table() == Some(TableId::Groups) => state.selected_key(TableId::Groups),
        _ => None,
    }
}

/// s or `:scale [GROUP] [N]`: opens the capacity dialog pre-filled with the current desired.
pub(super) fn scale(state: &mut State, group: Option<String>, value: Option<String>) {
    if refuse_read_only(state, "scaling", "scale") {
        return;
    }
    let Some(name) = group.or_else(|| group_in_view(state)) else {
        state.flash(
            Level::Warn,
            "select a group first, or name one: :scale GROUP N",
        );
        return;
    };
    let Some(g) = state.groups.get(&name) else {
        state.flash(Level::Error, format!("no group named `{name}`"));
        return;
    };
    let mut dialog = CapacityDialog {
        group: g.name.clone(),
        value: value.unwrap_or_else(|| g.desired.to_string()),
        honor_cooldown: false,
        error: None,
    };
    dialog.error = check_desired(&dialog.value, g.min, g.max).err();
    state.input = Input::Capacity(dialog);
}

/// `:suspend [PROCESS...]` / `:resume [PROCESS...]` (and `:autoscaler off|on [GROUP]`) on the
/// named, open or selected group: a confirm (typed for a suspend) that shows what is
/// suspended now.
pub(super) fn processes(
    state: &mut State,
    suspend: bool,
    processes: Vec<String>,
    group: Option<String>,
) {
    let action = if suspend {
        "scale.suspend"
    } else {
        "scale.resume"
    };
    if refuse_read_only(state, "suspending and resuming processes", action) {
        return;
    }
    let Some(name) = group.or_else(|| group_in_view(state)) else {
        state.flash(
            Level::Warn,
            "open or select a group first (:group NAME), or name one: :autoscaler off GROUP",
        );
        return;
    };
    let Some(g) = state.groups.get(&name) else {
        state.flash(Level::Error, format!("no group named `{name}`"));
        return;
    };
    // The emulator adds and removes instances on SetDesiredCapacity whatever is suspended;
    // the local autoscaler honours AlarmNotification, as AWS does.
    let local_gap = state.local.autoscaler
        && processes
            .iter()
            .any(|p| p != crate::model::ALARM_NOTIFICATION);
    let note = local_gap.then(|| {
        "Local cloud: only AlarmNotification takes effect here (its emulator launches and \
         terminates regardless)."
            .to_owned()
    });
    let pending = Pending::Processes {
        group: g.name.clone(),
        processes,
        suspend,
        suspended_now: g.suspended.clone(),
        note,
    };
    state.input = Input::Confirm(ConfirmDialog::new(pending));
}

/// `:instance-refresh [status|start|cancel]` on the open or selected group: status reads it
/// at once; start (typed confirm) and cancel go through the confirm.
pub(super) fn instance_refresh(state: &mut State, action: RefreshAction) -> Vec<Command> {
    let Some(group) = group_in_view(state) else {
        state.flash(
            Level::Warn,
            "open or select a group first (:group NAME), then :instance-refresh",
        );
        return Vec::new();
    };
    let cancel = match action {
        RefreshAction::Status => {
            state.flash(
                Level::Info,
                format!("reading {group}'s instance refreshes…"),
            );
            return vec![Command::InstanceRefresh { group, action }];
        }
        RefreshAction::Start => false,
        RefreshAction::Cancel => true,
    };
    let (what, audit) = if cancel {
        (
            "cancelling an instance refresh",
            "scale.instance_refresh_cancel",
        )
    } else {
        ("an instance refresh", "scale.instance_refresh")
    };
    if refuse_read_only(state, what, audit) {
        return Vec::new();
    }
    let latest = state.groups.refreshes.get(&group).map(|r| r.line.clone());
    state.input = Input::Confirm(ConfirmDialog::new(Pending::InstanceRefresh {
        group,
        cancel,
        latest,
    }));
    Vec::new()
}

/// `:load [SCENARIO]` or enter on a scenario: the load view, and with a scenario a confirm
/// to start the run. From any view: the run (or why it cannot start) is seen where it goes.
pub(super) fn load(state: &mut State, scenario: Option<String>) {
    if state.nav.view() != &View::Load {
        state.nav.jump(View::Load);
    }
    let Some(wanted) = scenario else {
        return;
    };
    if refuse_read_only(state, "a load run", "load.run") {
        return;
    }
    if state.load.running() {
        state.flash(
            Level::Warn,
            "a load run is going: wait, or cancel it with x",
        );
        return;
    }
    let Some(target) = state.load.target.clone() else {
        state.flash(
            Level::Error,
            "no API endpoint known: run the demo, or set FLIGHTDECK_API_URL",
        );
        return;
    };
    let Some(picked) = state
        .load
        .scenarios
        .iter()
        .find(|s| s.name == wanted)
        .cloned()
    else {
        let known: Vec<&str> = state
            .load
            .scenarios
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        state.flash(
            Level::Error,
            format!("no scenario `{wanted}` (known: {})", known.join(", ")),
        );
        return;
    };
    let remote_host = state.load.remote_host.clone();
    let warnings = match (&remote_host, &state.local.memory) {
        (None, Some((_, memory))) => load_warnings(memory),
        _ => Vec::new(),
    };
    state.input = Input::Confirm(ConfirmDialog::new(Pending::Load {
        plan: picked.plan(),
        scenario: picked.name,
        description: picked.description,
        target,
        remote_host,
        warnings,
    }));
}

/// x: cancels the running redrive, else the running load run (in the load view, the load
/// run first).
pub(super) fn cancel(state: &mut State) -> Vec<Command> {
    let redrive_running = state
        .jobs
        .redrive
        .as_ref()
        .is_some_and(|r| r.state == JobState::Running);
    if state.load.running() && (state.nav.view() == &View::Load || !redrive_running) {
        state.flash(Level::Info, "cancelling the load run");
        return vec![Command::CancelLoad];
    }
    match &state.jobs.redrive {
        Some(r) if r.state == JobState::Running => {
            state.flash(
                Level::Info,
                "cancelling the redrive: messages already moved stay moved",
            );
            vec![Command::CancelRedrive]
        }
        Some(_) => {
            state.jobs.redrive = None;
            Vec::new()
        }
        None => Vec::new(),
    }
}

fn typed_char(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => Some(c),
        _ => None,
    }
}

fn is_cancel(key: &KeyEvent) -> bool {
    key.code == KeyCode::Esc
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
}

pub(super) fn confirm_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let Input::Confirm(dialog) = &mut state.input else {
        return Vec::new();
    };
    if is_cancel(&key) {
        let audited = dialog.pending.cancelled();
        state.input = Input::Normal;
        state.flash(Level::Info, "cancelled: nothing was changed");
        return vec![audited];
    }
    let plain = dialog.pending.confirm() == Confirm::Plain;
    match key.code {
        KeyCode::Tab => {
            dialog.pending.toggle_dry_run();
            return Vec::new();
        }
        KeyCode::Enter => {}
        KeyCode::Char('y') if plain => {}
        KeyCode::Char('n') if plain => {
            let audited = dialog.pending.cancelled();
            state.input = Input::Normal;
            state.flash(Level::Info, "cancelled: nothing was changed");
            return vec![audited];
        }
        KeyCode::Backspace => {
            dialog.typed.pop();
            return Vec::new();
        }
        _ => {
            if let (false, Some(c)) = (plain, typed_char(&key)) {
                dialog.typed.push(c);
            }
            return Vec::new();
        }
    }
    if !dialog.ready() {
        if let Confirm::Typed(name) = dialog.pending.confirm() {
            state.flash(Level::Warn, format!("type `{name}` exactly to confirm"));
        }
        return Vec::new();
    }
    let Input::Confirm(dialog) = std::mem::take(&mut state.input) else {
        return Vec::new();
    };
    if let Pending::Delete { ids, .. } = &dialog.pending {
        for id in ids {
            state.dlq.marked.remove(id);
        }
    }
    if let Pending::Redrive { request, .. } = &dialog.pending {
        if let MessageSelection::Ids(ids) = &request.selection {
            for id in ids {
                state.dlq.marked.remove(id);
            }
        }
    }
    state.flash(Level::Info, format!("{}: sent", dialog.pending.title()));
    vec![dialog.pending.into_command()]
}

pub(super) fn capacity_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let Input::Capacity(dialog) = &mut state.input else {
        return Vec::new();
    };
    if is_cancel(&key) {
        let detail = format!(
            "cancelled: the capacity dialog was closed at `{}`",
            dialog.value
        );
        let audited = Command::Audited {
            action: "scale".to_owned(),
            target: dialog.group.clone(),
            result: "cancelled".to_owned(),
            detail,
        };
        state.input = Input::Normal;
        return vec![audited];
    }
    let Some(g) = state.groups.get(&dialog.group) else {
        state.input = Input::Normal;
        state.flash(Level::Error, "the group is gone from the latest report");
        return Vec::new();
    };
    let (min, max, current) = (g.min, g.max, g.desired);
    let policies: Vec<String> = g
        .policies
        .iter()
        .map(|p| match &p.kind {
            PolicyKind::TargetTrackingCpu { target } => format!("{} (CPU {target:.0}%)", p.name),
            PolicyKind::TargetTrackingCustom { metric, target } => {
                format!("{} ({metric} {target:.0})", p.name)
            }
            PolicyKind::Other { policy_type } => format!("{} ({policy_type})", p.name),
        })
        .collect();
    match key.code {
        KeyCode::Tab => dialog.honor_cooldown = !dialog.honor_cooldown,
        KeyCode::Up | KeyCode::Char('+') => {
            let n = dialog.value.trim().parse::<u32>().unwrap_or(current);
            dialog.value = n.saturating_add(1).to_string();
        }
        KeyCode::Down | KeyCode::Char('-') => {
            let n = dialog.value.trim().parse::<u32>().unwrap_or(current);
            dialog.value = n.saturating_sub(1).to_string();
        }
        KeyCode::Backspace => {
            dialog.value.pop();
        }
        KeyCode::Char(c) if c.is_ascii_digit() && dialog.value.len() < 6 => dialog.value.push(c),
        KeyCode::Enter => {
            return match check_desired(&dialog.value, min, max) {
                Ok(to) => {
                    let pending = Pending::Scale {
                        group: dialog.group.clone(),
                        from: current,
                        to,
                        honor_cooldown: dialog.honor_cooldown,
                        policies,
                    };
                    state.input = Input::Confirm(ConfirmDialog::new(pending));
                    Vec::new()
                }
                Err(e) => {
                    // Refused here, before anything is sent: audited with the reason.
                    let audited = Command::Audited {
                        action: "scale".to_owned(),
                        target: dialog.group.clone(),
                        result: "refused".to_owned(),
                        detail: format!("desired `{}` refused: {e}", dialog.value),
                    };
                    dialog.error = Some(e);
                    vec![audited]
                }
            };
        }
        _ => {}
    }
    dialog.error = check_desired(&dialog.value, min, max).err();
    Vec::new()
}

/// What a load run on the local cloud would meet now, one line each: a disk near or at the
/// emulator's floor, the machine short of memory.
fn load_warnings(m: &LocalMemory) -> Vec<String> {
    let mut out = Vec::new();
    let free = m.disk_free.map(fmt::bytes).unwrap_or_default();
    match m.disk() {
        Disk::Ok => {}
        Disk::Low => out.push(format!(
            "The local cloud's disk is low ({free} free): {}.",
            fmt::disk_refusal(m)
        )),
        Disk::Full => out.push(format!(
            "The local cloud's disk is full ({free} free): the run's uploads will be refused."
        )),
    }
    let available = fmt::bytes(m.available);
    match m.pressure() {
        Pressure::Ok => {}
        Pressure::Low => out.push(format!(
            "Memory is low ({available} free): a load run takes more."
        )),
        Pressure::Critical => out.push(format!(
            "Memory is critical ({available} free): stop something before adding load."
        )),
    }
    out
}
