//! The logs view: opening it on what the operator is looking at (`l`, `:logs`), following,
//! and the time jumps. The logs agent reads what `State::logs_in_view` asks for.

use crate::logs::{ids_of_dead_letter, LogsRequest, SINCE_DEAD_LETTER, SINCE_DEFAULT};
use crate::model::DlqMessage;
use crate::state::nav::{short_id, Pane, RowCursor, TableId, View};
use crate::state::{Level, State};

/// Dead letters of a failure signature whose lines one `l` reads (each adds a search).
const LETTERS_PER_SIGNATURE: usize = 5;

/// `:logs [GROUP|INSTANCE] [id=ID...]`.
pub(super) fn open(state: &mut State, target: Option<String>, ids: Vec<String>) {
    // Lines about a video or request may be hours old; a group's recent ones are not.
    let since_s = if ids.is_empty() {
        SINCE_DEFAULT
    } else {
        SINCE_DEAD_LETTER
    };
    let request = LogsRequest {
        target,
        ids,
        terms: Vec::new(),
        since_s,
    };
    show(state, request, None);
}

/// `l`: the lines about what is selected: a dead letter's video and request, an instance, a
/// group (or the group an alarm watches); elsewhere every group's.
pub(super) fn open_here(state: &mut State) {
    if let Some((letters, about)) = dead_letters_here(state) {
        let ids: Vec<String> = letters
            .iter()
            .flat_map(|m| ids_of_dead_letter(&m.body))
            .fold(Vec::new(), |mut acc, id| {
                if !acc.contains(&id) {
                    acc.push(id);
                }
                acc
            });
        if ids.is_empty() {
            state.flash(
                Level::Warn,
                "this dead letter names no video_id or correlation_id (its body is not a task message)",
            );
            return;
        }
        let oldest = letters.iter().filter_map(|m| m.sent_at).min();
        let age = oldest.map_or(0, |t| {
            u64::try_from((state.now - t).num_seconds()).unwrap_or(0)
        });
        // From before the letter was first sent (its attempts come after), at most SQS's
        // longest retention.
        let since_s = (age + 3_600).clamp(SINCE_DEAD_LETTER, 14 * 86_400);
        let request = LogsRequest {
            target: None,
            ids,
            terms: Vec::new(),
            since_s,
        };
        show(state, request, Some(about));
        return;
    }
    let target = match state.nav.view() {
        View::Group(name) => Some(
            state
                .selected_key(TableId::Instances)
                .unwrap_or_else(|| name.clone()),
        ),
        View::Groups => state.selected_key(TableId::Groups),
        View::Dashboard if state.nav.focus == Pane::Groups => state.selected_key(TableId::Groups),
        View::Alarms => state
            .selected_key(TableId::Alarms)
            .and_then(|k| state.alarms.get(&k).and_then(|a| a.group.clone())),
        View::Logs => return,
        _ => None,
    };
    let request = LogsRequest {
        target,
        ids: Vec::new(),
        terms: Vec::new(),
        since_s: SINCE_DEFAULT,
    };
    show(state, request, None);
}

/// The dead letters `l` is about, with how the view names them.
fn dead_letters_here(state: &State) -> Option<(Vec<DlqMessage>, String)> {
    match state.nav.view() {
        View::Message(queue, id) => {
            let m = state.dlq.get(queue, id)?;
            Some((vec![m.clone()], format!("dead letter {}", short_id(id))))
        }
        View::Queue(queue) if state.dlq_in_view().is_some() => {
            let key = state.selected_key(TableId::Messages)?;
            if state.dlq.grouped {
                let group = state
                    .signature_groups()
                    .into_iter()
                    .find(|g| g.signature.id == key)?;
                let letters: Vec<DlqMessage> = group
                    .ids
                    .iter()
                    .filter_map(|id| state.dlq.get(queue, id).cloned())
                    .take(LETTERS_PER_SIGNATURE)
                    .collect();
                let about = if group.ids.len() > letters.len() {
                    format!(
                        "signature {key}: {} of its {} dead letters",
                        letters.len(),
                        group.ids.len()
                    )
                } else {
                    format!("signature {key}")
                };
                Some((letters, about))
            } else {
                let m = state.dlq.get(queue, &key)?;
                Some((vec![m.clone()], format!("dead letter {}", short_id(&key))))
            }
        }
        _ => None,
    }
}

/// Opens the view on `request`, at the newest line, following.
pub(super) fn show(state: &mut State, request: LogsRequest, about: Option<String>) {
    state.logs.open(request, about);
    state.nav.set_filter(TableId::Logs, String::new());
    state.nav.set_selection(TableId::Logs, RowCursor::default());
    state.nav.push(View::Logs);
}

/// `f` in the logs view: stop reading new lines, or read them again.
pub(super) fn toggle_follow(state: &mut State) {
    state.logs.follow = !state.logs.follow;
    let text = if state.logs.follow {
        "following: new lines every 2 s"
    } else {
        "paused: f follows again, r reads once"
    };
    state.flash(Level::Info, text);
}

/// `+` and `-` in the logs view: read further back, or less far.
pub(super) fn step_since(state: &mut State, longer: bool) {
    match state.logs.request.step_since(longer) {
        Some(s) => state.logs.request.since_s = s,
        None => state.flash(
            Level::Info,
            if longer {
                "already the longest: 7d"
            } else {
                "already the shortest: 5m"
            },
        ),
    }
}
