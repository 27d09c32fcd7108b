//! The queues table (dashboard pane and the full `:queues` view), with derived rates, backlog per
//! in-service worker for the paired queue, and DLQ depth in the warning style.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::table::{self, col, Col, TableView};
use super::{common, geometry};
use crate::fmt;
use crate::model::{Agent, QueueSnapshot};
use crate::state::nav::TableId;
use crate::state::queues::backlog;
use crate::state::State;

const COLS: [Col; 8] = [
    col("NAME", 12, 0, false),
    col("VISIBLE", 7, 0, true),
    col("INFLIGHT", 8, 0, true),
    col("DELAYED", 7, 2, true),
    col("OLDEST", 6, 1, true),
    col("IN/S", 5, 2, true),
    col("OUT/S", 5, 2, true),
    col("BACKLOG/WKR", 11, 1, true),
];

/// The same with the depth sparkline over the chart window (the full-size dashboard).
const COLS_SPARK: [Col; 9] = [
    COLS[0],
    COLS[1],
    COLS[2],
    COLS[3],
    COLS[4],
    COLS[5],
    COLS[6],
    COLS[7],
    col("DEPTH", SPARK_W, 2, false),
];
const SPARK_W: u16 = 16;

fn spark<'a>(state: &State, q: &QueueSnapshot) -> Line<'a> {
    let (from, to) = (state.chart_start(), state.chart.end(state.now));
    let values: Vec<f64> = state
        .queue_history(&q.name, from, to)
        .iter()
        .map(|p| (p.visible + p.in_flight) as f64)
        .collect();
    let top = values.iter().copied().fold(0.0, f64::max);
    let s = &state.theme.s;
    Line::from(Span::styled(
        common::sparkline(&values, usize::from(SPARK_W), top),
        if q.is_dlq {
            s.chart_dlq
        } else {
            s.chart_visible
        },
    ))
}

/// `42.0 tgt 10` for the queue a group consumes, `–` otherwise.
pub fn backlog_text(state: &State, q: &QueueSnapshot) -> String {
    let Some(group) =
        state
            .config
            .pairing
            .group_for(&q.name, &state.groups.list, &state.queues.list)
    else {
        return "–".to_owned();
    };
    let b = backlog(q, group);
    let value = b
        .per_instance
        .map_or_else(|| "∞".to_owned(), |v| format!("{v:.1}"));
    match b.target {
        Some(t) => format!("{value} tgt {t:.0}"),
        None => value,
    }
}

fn row<'a>(state: &State, q: &QueueSnapshot, sparks: bool) -> (Vec<Line<'a>>, Style) {
    let s = &state.theme.s;
    let rates = state.flow(&q.name);
    let alarm = q.is_dlq && q.visible > 0;
    let name = if q.is_dlq {
        Line::from(vec![
            Span::styled(q.name.clone(), if alarm { s.warn } else { Style::new() }),
            Span::styled(" dlq", s.muted),
        ])
    } else {
        Line::from(q.name.clone())
    };
    let visible = Span::styled(
        q.visible.to_string(),
        if alarm { s.warn } else { Style::new() },
    );
    let mut cells = vec![name, Line::from(visible)];
    cells.extend(counts(state, q));
    cells.extend([
        Line::from(fmt::rate(rates.map(|r| r.in_per_s))),
        Line::from(fmt::rate(rates.map(|r| r.out_per_s))),
        Line::from(backlog_text(state, q)),
    ]);
    if sparks {
        cells.push(spark(state, q));
    }
    (cells, Style::new())
}

pub fn draw_table(state: &State, area: Rect, buf: &mut Buffer, focused: bool) {
    draw_table_with(state, area, buf, focused, false);
}

/// A row off the screen is not built: only the widths of the cells that set the columns'
/// widths with their text are taken, none of the derived ones (rates, backlog, sparkline, an
/// oldest age from CloudWatch), which cost more with every queue (hundreds, where a dozen are
/// shown) and almost always fit their headers' widths. Widened into `floor` (per column).
fn offscreen_widths(q: &QueueSnapshot, floor: &mut [usize; 5]) {
    let name = q.name.chars().count() + if q.is_dlq { " dlq".len() } else { 0 };
    let oldest = match q.oldest_age_s.filter(|_| q.visible > 0) {
        Some(s) => fmt::secs(s).chars().count(),
        None => 1,
    };
    let widths = [
        name,
        digits(q.visible),
        digits(q.in_flight),
        digits(q.delayed),
        oldest,
    ];
    for (f, w) in floor.iter_mut().zip(widths) {
        *f = (*f).max(w);
    }
}

/// The width of `n` in decimal.
fn digits(n: impl Into<u64>) -> usize {
    n.into().checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// In flight, delayed and the oldest message's age (`~` before an age from CloudWatch, which
/// is a minute or more old).
fn counts<'a>(state: &State, q: &QueueSnapshot) -> [Line<'a>; 3] {
    let oldest = match state.oldest_age(q) {
        Some(a) if a.measured_at.is_some() => format!("~{}", fmt::secs(a.secs)),
        Some(a) => fmt::secs(a.secs),
        None => "–".to_owned(),
    };
    [
        Line::from(q.in_flight.to_string()),
        Line::from(q.delayed.to_string()),
        Line::from(oldest),
    ]
}

/// The table, with a sparkline column when `sparks`.
pub fn draw_table_with(state: &State, area: Rect, buf: &mut Buffer, focused: bool, sparks: bool) {
    let height = usize::from(geometry::rows_of(area).height);
    let offset = state.scroll(TableId::Queues, height);
    let shown = offset..offset + height;
    let mut floor = [0; 5];
    let rows: Vec<_> = state
        .queue_rows()
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            if shown.contains(&i) {
                row(state, q, sparks)
            } else {
                offscreen_widths(q, &mut floor);
                (Vec::new(), Style::new())
            }
        })
        .collect();
    let fresh = state.freshness(Agent::Queues);
    let filter = state.nav.filter(TableId::Queues);
    let count = if filter.is_empty() {
        rows.len().to_string()
    } else {
        format!("{}/{}", rows.len(), state.queues.list.len())
    };
    let empty = if !filter.is_empty() {
        "no queue matches the filter"
    } else if state.queues.at.is_none() {
        "waiting for the first queues report…"
    } else {
        "no queues"
    };
    table::draw(
        TableView {
            title: common::title(&state.theme, "Queues", count, Some(&fresh), filter),
            cols: if sparks { &COLS_SPARK[..] } else { &COLS[..] },
            rows,
            selected: state.selected_index(TableId::Queues),
            offset,
            focused,
            empty,
            show_cut: true,
            floor: floor.to_vec(),
        },
        area,
        buf,
        &state.theme,
    );
}

/// The `:queues` view: the table over the whole body.
pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    draw_table(state, area, buf, true);
}
