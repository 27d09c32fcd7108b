//! A dead-letter queue's messages: a table with multi-select under the queue's attributes (or,
//! grouped with `S`, one row per failure signature), and one message in full (pretty JSON body,
//! every attribute, where it came from).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::table::{self, col, Col, TableView};
use super::{common, geometry};
use crate::dlqfilter;
use crate::dlqsig::Group;
use crate::fmt;
use crate::model::{Agent, DlqMessage};
use crate::state::nav::{short_id, TableId};
use crate::state::State;

const COLS: [Col; 7] = [
    col(" ", 1, 0, false),
    col("ID", 8, 0, false),
    col("AGE", 5, 0, true),
    col("RECV", 4, 1, true),
    col("SIZE", 6, 2, true),
    col("REASON", 24, 1, false),
    col("BODY", 20, 3, false),
];

/// The signature id comes first: it is what `--filter signature=ID` takes.
const GROUP_COLS: [Col; 7] = [
    col(" ", 1, 0, false),
    col("ID", 8, 0, false),
    col("COUNT", 5, 0, true),
    col("OLDEST", 6, 1, true),
    col("NEWEST", 6, 1, true),
    col("RECV", 4, 2, true),
    col("SIGNATURE", 24, 0, false),
];

/// The body on one line, whitespace squeezed, for the table.
fn preview(body: &str) -> String {
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn size(bytes: usize) -> String {
    if bytes < 10_000 {
        format!("{bytes} B")
    } else {
        format!("{} kB", bytes / 1000)
    }
}

fn row<'a>(state: &State, m: &DlqMessage) -> (Vec<Line<'a>>, Style) {
    let s = &state.theme.s;
    let marked = state.dlq.marked.contains(&m.id);
    let age = dlqfilter::age_s(m, state.now).map_or_else(|| "–".to_owned(), fmt::secs);
    let reason = m
        .failure_reason()
        .map(str::to_owned)
        .or_else(|| m.failure_class().map(str::to_owned))
        .unwrap_or_else(|| "–".to_owned());
    let cells = vec![
        Line::from(if marked { "●" } else { " " }),
        Line::from(short_id(&m.id).to_owned()),
        Line::from(age),
        Line::from(m.receive_count.to_string()),
        Line::from(size(m.size)),
        Line::from(reason),
        Line::from(Span::styled(preview(&m.body), s.muted)),
    ];
    (cells, if marked { s.warn } else { Style::new() })
}

fn group_row<'a>(state: &State, g: &Group) -> (Vec<Line<'a>>, Style) {
    let s = &state.theme.s;
    let marked = g
        .ids
        .iter()
        .filter(|id| state.dlq.marked.contains(*id))
        .count();
    let age = |t: Option<crate::model::Timestamp>| {
        t.map_or_else(
            || "–".to_owned(),
            |t| fmt::secs(u64::try_from((state.now - t).num_seconds()).unwrap_or(0)),
        )
    };
    let receives = if g.min_receives == g.max_receives {
        g.min_receives.to_string()
    } else {
        format!("{}-{}", g.min_receives, g.max_receives)
    };
    let cells = vec![
        Line::from(match marked {
            0 => " ",
            n if n == g.count => "●",
            _ => "◐",
        }),
        Line::from(g.signature.id.clone()),
        Line::from(g.count.to_string()),
        Line::from(age(g.oldest)),
        Line::from(age(g.newest)),
        Line::from(receives),
        Line::from(g.signature.text.clone()),
    ];
    (cells, if marked > 0 { s.warn } else { Style::new() })
}

/// The DLQ `queue` grouped by failure signature: one row per group, largest first.
fn draw_groups(state: &State, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let groups = state.signature_groups();
    let messages: usize = groups.iter().map(|g| g.count).sum();
    let mut count = format!("{} of {messages} messages", groups.len());
    if !state.dlq.marked.is_empty() {
        count.push_str(&format!(", {} marked", state.dlq.marked.len()));
    }
    let fresh = state.freshness(Agent::Dlq);
    let filter = state.nav.filter(TableId::Messages);
    let bad_filter = state.message_filter().err().map(|e| e.to_string());
    let empty = if let Some(e) = &bad_filter {
        e.as_str()
    } else if !filter.is_empty() {
        "no message matches the filter"
    } else {
        "no messages to group"
    };
    let mut title = common::title(&state.theme, "Failure groups", count, Some(&fresh), filter);
    let hint = if state.read_only {
        "enter its messages · S ungroup "
    } else {
        "space mark group · R redrive marked · enter its messages · S ungroup "
    };
    title.spans.push(Span::styled(hint, s.muted));
    let rows = groups.iter().map(|g| group_row(state, g)).collect();
    let height = usize::from(geometry::rows_of(area).height);
    table::draw(
        TableView {
            title,
            cols: &GROUP_COLS,
            rows,
            selected: state.selected_index(TableId::Messages),
            offset: state.scroll(TableId::Messages, height),
            focused: true,
            empty,
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

/// The messages table of the DLQ `queue` (grouped: [`draw_groups`]).
pub fn draw_table(state: &State, queue: &str, area: Rect, buf: &mut Buffer) {
    if state.dlq.grouped && state.dlq.queue.as_deref() == Some(queue) {
        draw_groups(state, area, buf);
        return;
    }
    let s = &state.theme.s;
    let rows: Vec<_> = state
        .message_rows()
        .into_iter()
        .map(|m| row(state, m))
        .collect();
    let all = state.dlq.messages_of(queue).len();
    let filter = state.nav.filter(TableId::Messages);
    let mut count = if filter.is_empty() {
        rows.len().to_string()
    } else {
        format!("{}/{all}", rows.len())
    };
    if !state.dlq.marked.is_empty() {
        count.push_str(&format!(", {} marked", state.dlq.marked.len()));
    }
    let fresh = state.freshness(Agent::Dlq);
    let bad_filter = state.message_filter().err().map(|e| e.to_string());
    let empty = if let Some(e) = &bad_filter {
        e.as_str()
    } else if !filter.is_empty() {
        "no message matches the filter"
    } else if state.dlq.at.is_none() || state.dlq.queue.as_deref() != Some(queue) {
        "peeking…"
    } else {
        "no messages: the dead-letter queue is empty"
    };
    let mut title = common::title(&state.theme, "Messages", count, Some(&fresh), filter);
    let hint = if state.read_only {
        "receives: peeks not counted · read-only "
    } else {
        "receives: peeks not counted · space mark · R redrive · enter open · S groups "
    };
    title.spans.push(Span::styled(hint, s.muted));
    let height = usize::from(geometry::rows_of(area).height);
    table::draw(
        TableView {
            title,
            cols: &COLS,
            rows,
            selected: state.selected_index(TableId::Messages),
            offset: state.scroll(TableId::Messages, height),
            focused: true,
            empty,
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

/// One message: what it is, why it failed, where it came from, its body in full.
pub fn draw_message(state: &State, queue: &str, id: &str, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let inner = common::block(&state.theme, Line::from(""), true).inner(area);
    let lines = state
        .dlq
        .get(queue, id)
        .map(|m| message_lines(state, queue, m));
    let total = lines.as_ref().map_or(0, |l| wrapped_height(l, inner.width));
    let scroll = state.message_scroll.min(max_scroll(total, inner.height));
    let mut title = vec![
        Span::styled(format!(" message {id}"), s.title),
        Span::styled(format!(" in {queue} "), s.muted),
    ];
    if total > usize::from(inner.height) {
        let last = (usize::from(scroll) + usize::from(inner.height)).min(total);
        title.push(Span::styled(
            format!("lines {}-{last} of {total} (j/k, PgUp/PgDn) ", scroll + 1),
            s.muted,
        ));
    }
    let block = common::block(&state.theme, Line::from(title), true);
    block.render(area, buf);
    let Some(lines) = lines else {
        common::placeholder(
            buf,
            inner,
            "this message is no longer in the queue (redriven, deleted or expired)",
            s.muted,
        );
        return;
    };
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .render(inner, buf);
}

/// How far the open message can scroll in the body `area`.
pub fn message_max_scroll(state: &State, queue: &str, id: &str, area: Rect) -> u16 {
    let inner = common::block(&state.theme, Line::from(""), true).inner(area);
    state.dlq.get(queue, id).map_or(0, |m| {
        let total = wrapped_height(&message_lines(state, queue, m), inner.width);
        max_scroll(total, inner.height)
    })
}

fn max_scroll(total: usize, height: u16) -> u16 {
    u16::try_from(total.saturating_sub(usize::from(height))).unwrap_or(u16::MAX)
}

/// Rows the lines take when wrapped at `width`. Wrapping at word boundaries can take more rows
/// than the characters need, so a wrapped line counts one row extra: the end is always
/// reachable, at worst with a blank row under it.
fn wrapped_height(lines: &[Line<'_>], width: u16) -> usize {
    let width = usize::from(width.max(1));
    lines
        .iter()
        .map(|l| match l.width() {
            w if w > width => w.div_ceil(width) + 1,
            _ => 1,
        })
        .sum()
}

fn message_lines<'a>(state: &State, queue: &str, m: &crate::model::DlqMessage) -> Vec<Line<'a>> {
    let s = &state.theme.s;
    let key_w = m
        .attributes
        .keys()
        .map(|k| k.chars().count() + 5)
        .max()
        .unwrap_or(0)
        .max(12)
        + 1;
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<key_w$}"), s.muted),
            Span::raw(v),
        ])
    };
    let retention = state.queues.get(queue).map(|q| u64::from(q.retention_s));
    let age = dlqfilter::age_s(m, state.now);
    let age_text = match (age, retention) {
        (Some(a), Some(r)) => format!(
            "{} of {} retention (expires in {})",
            fmt::secs(a),
            fmt::secs(r),
            fmt::secs(r.saturating_sub(a))
        ),
        (Some(a), None) => fmt::secs(a),
        _ => "–".to_owned(),
    };
    let sources: Vec<String> = state
        .queues
        .get(queue)
        .map(|q| state.queues.sources_of(q).map(|x| x.name.clone()).collect())
        .unwrap_or_default();
    let mut lines = vec![
        kv("age", age_text),
        kv(
            "receives",
            format!("{} (peeks not counted)", m.receive_count),
        ),
        kv("size", size(m.size)),
        kv(
            "source queue",
            if sources.is_empty() {
                "–".to_owned()
            } else {
                sources.join(", ")
            },
        ),
    ];
    for (k, v) in &m.attributes {
        lines.push(kv(&format!("attr {k}"), v.clone()));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("body", s.header)));
    let body = serde_json::from_str::<serde_json::Value>(&m.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| m.body.clone());
    lines.extend(body.lines().map(|l| Line::from(l.to_owned())));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "R redrive this message · e edit the body, then redrive · ctrl-d delete · esc back",
        s.muted,
    )));
    lines
}
