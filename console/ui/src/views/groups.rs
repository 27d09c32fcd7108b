//! The groups table (dashboard pane and the full `:groups` view).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::table::{self, col, Col, TableView};
use super::{common, geometry};
use crate::fmt;
use crate::model::{Agent, GroupSnapshot, MetricKey, Phase, PolicyKind};
use crate::state::nav::TableId;
use crate::state::State;

const COLS: [Col; 8] = [
    col("NAME", 12, 0, false),
    col("MIN/DES/MAX", 11, 0, true),
    col("INSVC", 5, 1, true),
    col("PEND", 4, 2, true),
    col("TERM", 4, 2, true),
    col("CPU", 4, 3, true),
    col("TARGET", 12, 2, false),
    col("LAST CHANGE", 15, 1, false),
];

/// The same with the in-service sparkline over the chart window (the full-size dashboard).
const COLS_SPARK: [Col; 9] = [
    COLS[0],
    COLS[1],
    COLS[2],
    COLS[3],
    COLS[4],
    COLS[5],
    COLS[6],
    COLS[7],
    col("IN SERVICE", SPARK_W, 2, false),
];
const SPARK_W: u16 = 16;

fn spark<'a>(state: &State, g: &GroupSnapshot) -> Line<'a> {
    let (from, to) = (state.chart_start(), state.chart.end(state.now));
    let values: Vec<f64> = state
        .capacity_history(g, from, to)
        .iter()
        .map(|p| f64::from(p.in_service))
        .collect();
    Line::from(Span::styled(
        common::sparkline(&values, usize::from(SPARK_W), f64::from(g.max)),
        state.theme.s.chart_in_service,
    ))
}

/// `cpu 60% · backlog 10`: what each policy tracks.
pub fn targets(g: &GroupSnapshot) -> String {
    let parts: Vec<String> = g
        .policies
        .iter()
        .map(|p| match &p.kind {
            PolicyKind::TargetTrackingCpu { target } => format!("cpu {target:.0}%"),
            PolicyKind::TargetTrackingCustom { metric, target }
                if metric.to_ascii_lowercase().contains("backlog") =>
            {
                format!("backlog {target:.0}")
            }
            PolicyKind::TargetTrackingCustom { metric, target } => format!("{metric} {target:.0}"),
            PolicyKind::Other { policy_type } => policy_type.to_ascii_lowercase(),
        })
        .collect();
    if parts.is_empty() {
        "–".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// The policies' targets, led by `susp` when the group has suspended processes (with
/// AlarmNotification among them, the targets do not act).
fn target_cell<'a>(state: &State, g: &GroupSnapshot) -> Line<'a> {
    if g.suspended.is_empty() {
        return Line::from(targets(g));
    }
    Line::from(vec![
        Span::styled("susp ", state.theme.s.warn),
        Span::raw(targets(g)),
    ])
}

fn row<'a>(state: &State, g: &GroupSnapshot, sparks: bool) -> (Vec<Line<'a>>, Style) {
    let s = &state.theme.s;
    let count = |phase: Phase| g.count(phase);
    let (insvc, pend, term) = (
        count(Phase::InService),
        count(Phase::Pending),
        count(Phase::Terminating),
    );
    let num = |n: usize, warn: bool| {
        Line::from(Span::styled(
            n.to_string(),
            if warn { s.warn } else { Style::new() },
        ))
    };
    let cpu = state
        .metrics
        .latest(&MetricKey::group_cpu(&g.name))
        .map_or_else(
            || Line::from(Span::styled("–", s.muted)),
            |p| Line::from(format!("{:.0}%", p.value)),
        );
    let change = match state.groups.last_change(&g.name) {
        Some(c) => Line::from(vec![
            Span::raw(format!("{} ", c.kind.short())),
            Span::styled(fmt::age(state.now, c.at), s.muted),
        ]),
        None => Line::from(Span::styled("–", s.muted)),
    };
    let mut cells = vec![
        Line::from(g.name.clone()),
        Line::from(Span::styled(
            format!("{}/{}/{}", g.min, g.desired, g.max),
            if g.at_max() { s.warn } else { Style::new() },
        )),
        num(insvc, insvc < g.desired as usize),
        num(pend, pend > 0),
        num(term, term > 0),
        cpu,
        target_cell(state, g),
        change,
    ];
    if sparks {
        cells.push(spark(state, g));
    }
    (cells, Style::new())
}

/// A row off the screen is not built: only the widths of its name, capacity and instance counts
/// are taken (widened into `floor`, per column); the derived cells (CPU, target, last change,
/// sparkline) cost more with every group and almost always fit their declared widths.
fn offscreen_widths(g: &GroupSnapshot, floor: &mut [usize; 5]) {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let count = |phase: Phase| digits(g.count(phase) as u64);
    let widths = [
        g.name.chars().count(),
        digits(g.min.into()) + digits(g.desired.into()) + digits(g.max.into()) + 2,
        count(Phase::InService),
        count(Phase::Pending),
        count(Phase::Terminating),
    ];
    for (f, w) in floor.iter_mut().zip(widths) {
        *f = (*f).max(w);
    }
}

pub fn draw_table(state: &State, area: Rect, buf: &mut Buffer, focused: bool) {
    draw_table_with(state, area, buf, focused, false);
}

/// The table, with a sparkline column when `sparks`.
pub fn draw_table_with(state: &State, area: Rect, buf: &mut Buffer, focused: bool, sparks: bool) {
    let height = usize::from(geometry::rows_of(area).height);
    let offset = state.scroll(TableId::Groups, height);
    let shown = offset..offset + height;
    let mut floor = [0; 5];
    let rows: Vec<_> = state
        .group_rows()
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            if shown.contains(&i) {
                row(state, g, sparks)
            } else {
                offscreen_widths(g, &mut floor);
                (Vec::new(), Style::new())
            }
        })
        .collect();
    let fresh = state.freshness(Agent::Groups);
    let filter = state.nav.filter(TableId::Groups);
    let count = if filter.is_empty() {
        rows.len().to_string()
    } else {
        format!("{}/{}", rows.len(), state.groups.list.len())
    };
    let empty = if !filter.is_empty() {
        "no group matches the filter"
    } else if state.groups.at.is_none() {
        "waiting for the first groups report…"
    } else {
        "no Auto Scaling groups"
    };
    table::draw(
        TableView {
            title: common::title(&state.theme, "Groups", count, Some(&fresh), filter),
            cols: if sparks { &COLS_SPARK[..] } else { &COLS[..] },
            rows,
            selected: state.selected_index(TableId::Groups),
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

/// The `:groups` view: the table over the whole body.
pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    draw_table(state, area, buf, true);
}
