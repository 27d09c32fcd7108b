//! Time charts on one shared axis (the chart window, ending now or at the freeze): capacity
//! (desired and in service as steps, pending/terminating) and CPU with its target per group,
//! depth and dead letters per queue, and one combined chart for small screens. Every chart
//! marks the timeline's events on its time axis and draws its own background from the theme.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Widget};

use super::common;
use crate::config::ChartMarker;
use crate::fmt;
use crate::model::{Agent, GroupSnapshot, MetricKey, QueueSnapshot, Timestamp};
use crate::state::State;

fn marker(state: &State) -> Marker {
    match state.chart.marker {
        ChartMarker::Braille => Marker::Braille,
        ChartMarker::Dot => Marker::Dot,
    }
}

/// The time frame every chart shares.
#[derive(Clone, Copy)]
struct Frame {
    start: Timestamp,
    end: Timestamp,
    window: std::time::Duration,
}

fn frame(state: &State) -> Frame {
    Frame {
        start: state.chart_start(),
        end: state.chart.end(state.now),
        window: state.shown_window(),
    }
}

impl Frame {
    fn secs(&self) -> f64 {
        self.window.as_secs_f64()
    }

    /// Seconds relative to the right edge (negative = past).
    fn x(&self, t: Timestamp) -> f64 {
        (t - self.end).num_milliseconds() as f64 / 1000.0
    }
}

fn x_axis<'a>(state: &State, f: Frame) -> Axis<'a> {
    let end = match state.chart.frozen_at {
        Some(t) => t.format("%H:%M:%S").to_string(),
        None => "now".to_owned(),
    };
    Axis::default()
        .bounds([-f.secs(), 0.0])
        .style(state.theme.s.chart_axis)
        .labels(vec![
            Span::raw(format!("-{}", fmt::window(f.window))),
            Span::raw(format!("-{}", half(f.window))),
            Span::raw(end),
        ])
}

/// Half a window, as a label: `30m`, `2m30s`.
fn half(window: std::time::Duration) -> String {
    let s = window.as_secs() / 2;
    if s > 60 && !s.is_multiple_of(60) {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        fmt::window(std::time::Duration::from_secs(s))
    }
}

fn y_axis<'a>(state: &State, top: f64, labels: [String; 3]) -> Axis<'a> {
    Axis::default()
        .bounds([0.0, top])
        .style(state.theme.s.chart_axis)
        .labels(labels.into_iter().map(Span::raw).collect::<Vec<_>>())
}

/// `1h @60s` plus FROZEN / STALE, on the bottom border.
fn bottom_title<'a>(
    state: &State,
    f: Frame,
    period: Option<u32>,
    agent: Agent,
) -> (Line<'a>, Line<'a>) {
    let s = &state.theme.s;
    let mut text = format!(" {}", fmt::window(f.window));
    if let Some(p) = period {
        text.push_str(&format!(" @{p}s"));
    }
    text.push(' ');
    let right = Line::from(Span::styled(text, s.muted)).right_aligned();
    let mut left = Vec::new();
    if state.chart.frozen_at.is_some() {
        left.push(Span::styled(" FROZEN ", s.warn));
    }
    let fresh = state.freshness(agent);
    if fresh.stale {
        let age = fresh.age_s.map_or_else(|| "no data".to_owned(), fmt::secs);
        left.push(Span::styled(format!(" STALE {age} "), s.stale));
    }
    (Line::from(left), right)
}

/// The first title that fits on the top border of `area` (they go from most to least said),
/// else the last.
fn fit<'a>(area: Rect, titles: Vec<Vec<Span<'a>>>) -> Vec<Span<'a>> {
    let room = usize::from(area.width.saturating_sub(2));
    let n = titles.len();
    titles
        .into_iter()
        .enumerate()
        .find(|(i, t)| *i + 1 == n || t.iter().map(Span::width).sum::<usize>() <= room)
        .map(|(_, t)| t)
        .unwrap_or_default()
}

/// A chart's panel: its border and background in the theme's chart style.
fn panel<'a>(state: &State, title: Vec<Span<'a>>, bottom: (Line<'a>, Line<'a>)) -> Block<'a> {
    common::block(&state.theme, Line::from(title), false)
        .style(state.theme.s.chart_bg)
        .title_bottom(bottom.0)
        .title_bottom(bottom.1)
}

fn line<'a>(state: &State, style: Style, data: &'a [(f64, f64)]) -> Dataset<'a> {
    Dataset::default()
        .marker(marker(state))
        .graph_type(GraphType::Line)
        .style(style)
        .data(data)
}

/// Draws the chart, then the timeline's events on its time axis.
fn render(state: &State, chart: Chart<'_>, f: Frame, area: Rect, buf: &mut Buffer) {
    chart.style(state.theme.s.chart_bg).render(area, buf);
    mark_events(state, f, area, buf);
}

/// The x axis as the chart drew it: the row of its `└───` line and the columns it spans.
fn axis_row(area: Rect, buf: &Buffer) -> Option<(u16, u16, u16)> {
    let inner = area.inner(ratatui::layout::Margin::new(1, 1));
    for y in (inner.top()..inner.bottom()).rev() {
        for x in inner.left()..inner.right() {
            if buf
                .cell(Position::new(x, y))
                .is_some_and(|c| c.symbol() == "└")
            {
                return Some((y, x + 1, inner.right()));
            }
        }
    }
    None
}

/// Each event in the window as its glyph on the time axis (see [`place_marks`]).
fn mark_events(state: &State, f: Frame, area: Rect, buf: &mut Buffer) {
    let Some((y, left, right)) = axis_row(area, buf) else {
        return;
    };
    let cols = right.saturating_sub(left);
    if cols == 0 {
        return;
    }
    let style = state.theme.s.chart_event;
    let wanted: Vec<(u16, char)> = state
        .timeline
        .within(f.start, f.end)
        .map(|e| {
            let share = (e.at - f.start).num_milliseconds() as f64 / (f.secs() * 1000.0);
            let col = (share * f64::from(cols - 1))
                .round()
                .clamp(0.0, f64::from(cols - 1));
            (col as u16, e.mark.glyph())
        })
        .collect();
    for (col, glyph) in place_marks(cols, &wanted) {
        if let Some(cell) = buf.cell_mut(Position::new(left + col, y)) {
            cell.set_char(glyph).set_style(style);
        }
    }
}

/// The glyph of a cell that holds several events which could not be spread apart.
pub const MANY_EVENTS: char = '✱';

/// Where each event's glyph goes on an axis `cols` cells wide, given the column each wants
/// (oldest first). Events never hide each other: one whose cell is taken moves to the nearest
/// free cell at most [`SPREAD`] away (later first, so order reads left to right); when none
/// is free it joins its cell, which then shows [`MANY_EVENTS`].
pub fn place_marks(cols: u16, wanted: &[(u16, char)]) -> Vec<(u16, char)> {
    /// How far an event may be drawn from its time, in cells.
    const SPREAD: u16 = 2;
    let mut cells: Vec<Option<char>> = vec![None; usize::from(cols)];
    for &(col, glyph) in wanted {
        let col = col.min(cols.saturating_sub(1));
        let nearest = (0..=SPREAD)
            .flat_map(|d| [col.checked_add(d), col.checked_sub(d)])
            .flatten()
            .filter(|c| *c < cols)
            .find(|c| cells[usize::from(*c)].is_none());
        match nearest {
            Some(c) => cells[usize::from(c)] = Some(glyph),
            None => {
                if let Some(cell) = cells.get_mut(usize::from(col)) {
                    *cell = Some(MANY_EVENTS);
                }
            }
        }
    }
    cells
        .into_iter()
        .enumerate()
        .filter_map(|(c, g)| Some((u16::try_from(c).ok()?, g?)))
        .collect()
}

/// A value held until the next sample: `(t, v)` pairs as horizontal and vertical segments.
fn steps(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (x, v) in points {
        if let Some(&(_, prev)) = out.last() {
            if prev != v {
                out.push((x, prev));
            }
        }
        out.push((x, v));
    }
    out
}

/// Rounds up to 1, 2 or 5 times a power of ten, at least 10.
fn nice_max(v: f64) -> f64 {
    let v = v.max(10.0);
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * mag)
}

fn three(top: f64) -> [String; 3] {
    [
        "0".to_owned(),
        format!("{:.0}", top / 2.0),
        format!("{top:.0}"),
    ]
}

fn cpu_points(state: &State, f: Frame, group: &str) -> Vec<(f64, f64)> {
    state
        .metrics
        .range(&MetricKey::group_cpu(group), f.start, f.end)
        .iter()
        .map(|p| (f.x(p.t), p.value))
        .collect()
}

pub fn cpu(state: &State, group: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let points = cpu_points(state, f, &group.name);
    let mut title = vec![Span::styled(format!(" {}", group.name), s.title)];
    if let Some(last) = points.last() {
        title.push(Span::styled(format!(" cpu {:.0}%", last.1), s.chart_cpu));
    }
    let target = group.cpu_target();
    if let Some(t) = target {
        title.push(Span::styled(format!(" · target {t:.0}%"), s.chart_target));
    }
    title.push(Span::raw(" "));
    let block = panel(
        state,
        title,
        bottom_title(state, f, state.metrics.period_s, Agent::Metrics),
    );
    let inner = block.inner(area);
    let target_line: Vec<(f64, f64)> = target
        .map(|t| vec![(-f.secs(), t), (0.0, t)])
        .unwrap_or_default();
    let mut datasets: Vec<Dataset<'_>> = Vec::new();
    if !target_line.is_empty() {
        datasets.push(line(state, s.chart_target, &target_line));
    }
    datasets.push(line(state, s.chart_cpu, &points));
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state, f))
        .y_axis(y_axis(
            state,
            100.0,
            ["0".into(), "50".into(), "100".into()],
        ));
    render(state, chart, f, area, buf);
    if points.is_empty() {
        common::placeholder(buf, inner, "no CPU data yet", s.muted);
    }
}

/// Desired and in-service instances as steps over time, instances pending or terminating
/// beneath them, up to the group's maximum.
pub fn capacity(state: &State, group: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let samples = state.capacity_history(group, f.start, f.end);
    let series = |v: fn(&crate::state::groups::CapacitySample) -> u32| {
        steps(samples.iter().map(|p| (f.x(p.t), f64::from(v(p)))))
    };
    let desired = series(|p| p.desired);
    let in_service = series(|p| p.in_service);
    let changing = series(|p| p.pending + p.terminating);
    let most = samples
        .iter()
        .map(|p| {
            p.max
                .max(p.desired)
                .max(p.in_service + p.pending + p.terminating)
        })
        .max()
        .unwrap_or(group.max)
        .max(group.max)
        .max(1);
    // One step of headroom so the top line is not drawn on the border.
    let top = f64::from(most + 1);
    let (pend, term) = (
        group.count(crate::model::Phase::Pending),
        group.count(crate::model::Phase::Terminating),
    );
    let name = Span::styled(format!(" {}", group.name), s.title);
    let mut long = vec![
        name.clone(),
        Span::styled(
            format!(" in service {}", group.in_service()),
            s.chart_in_service,
        ),
        Span::styled(format!(" · desired {}", group.desired), s.chart_desired),
        Span::styled(format!(" · max {}", group.max), s.muted),
    ];
    let mut short = vec![
        name,
        Span::styled(format!(" {}", group.in_service()), s.chart_in_service),
        Span::styled(format!("/{}", group.desired), s.chart_desired),
        Span::styled(format!("/{}", group.max), s.muted),
    ];
    if pend + term > 0 {
        long.push(Span::styled(
            format!(" · {pend} pending {term} terminating"),
            s.chart_pending,
        ));
        short.push(Span::styled(format!(" +{pend} -{term}"), s.chart_pending));
    }
    long.push(Span::raw(" "));
    short.push(Span::raw(" "));
    let title = fit(area, vec![long, short]);
    let block = panel(state, title, bottom_title(state, f, None, Agent::Groups));
    let inner = block.inner(area);
    let datasets = vec![
        line(state, s.chart_pending, &changing),
        line(state, s.chart_desired, &desired),
        line(state, s.chart_in_service, &in_service),
    ];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state, f))
        .y_axis(y_axis(
            state,
            top,
            ["0".into(), String::new(), format!("{}", most + 1)],
        ));
    render(state, chart, f, area, buf);
    if samples.is_empty() {
        common::placeholder(buf, inner, "no capacity samples yet", s.muted);
    }
}

struct DepthSeries {
    visible: Vec<(f64, f64)>,
    in_flight: Vec<(f64, f64)>,
    total: Vec<(f64, f64)>,
    peak: f64,
    n: usize,
}

fn depth_series(state: &State, f: Frame, queue: &str) -> DepthSeries {
    let samples = state.queue_history(queue, f.start, f.end);
    let map = |v: fn(&crate::state::queues::QueueSample) -> u64| -> Vec<(f64, f64)> {
        samples.iter().map(|p| (f.x(p.t), v(p) as f64)).collect()
    };
    DepthSeries {
        visible: map(|p| p.visible),
        in_flight: map(|p| p.in_flight),
        total: map(|p| p.visible + p.in_flight),
        peak: samples
            .iter()
            .map(|p| (p.visible + p.in_flight) as f64)
            .fold(0.0, f64::max),
        n: samples.len(),
    }
}

/// ` · in 1.2/s · out 0.8/s`: arrivals and departures ([`State::flow`]).
fn flow_spans<'a>(state: &State, queue: &str) -> Vec<Span<'a>> {
    let s = &state.theme.s;
    match state.flow(queue) {
        Some(r) => vec![Span::styled(
            format!(
                " · in {}/s · out {}/s",
                fmt::rate(Some(r.in_per_s)),
                fmt::rate(Some(r.out_per_s))
            ),
            s.muted,
        )],
        None => Vec::new(),
    }
}

/// ` · 48 processed/min`: the jobs the consuming workers say they finished in the last minute.
fn processed_spans<'a>(state: &State, queue: &str) -> Vec<Span<'a>> {
    state
        .processed_per_minute(queue)
        .map(|n| Span::styled(format!(" · {n:.0} processed/min"), state.theme.s.muted))
        .into_iter()
        .collect()
}

/// A queue on the dashboard: visible and in flight over time, its rates in the title.
pub fn queue(state: &State, q: &QueueSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let d = depth_series(state, f, &q.name);
    let top = nice_max(d.peak);
    let name = Span::styled(format!(" {}", q.name), s.title);
    let long = vec![
        name.clone(),
        Span::styled(format!(" visible {}", q.visible), s.chart_visible),
        Span::styled(format!(" · in flight {}", q.in_flight), s.chart_in_flight),
    ];
    let short = vec![
        name.clone(),
        Span::styled(format!(" {}", q.visible), s.chart_visible),
        Span::styled(format!("+{}", q.in_flight), s.chart_in_flight),
    ];
    let flow = flow_spans(state, &q.name);
    let done = processed_spans(state, &q.name);
    let end = || vec![Span::raw(" ")];
    let title = fit(
        area,
        vec![
            [long.clone(), flow.clone(), done.clone(), end()].concat(),
            [short.clone(), flow, done.clone(), end()].concat(),
            [long.clone(), done.clone(), end()].concat(),
            [short.clone(), done, end()].concat(),
            [long, end()].concat(),
            [short, end()].concat(),
        ],
    );
    let block = panel(state, title, bottom_title(state, f, None, Agent::Queues));
    let inner = block.inner(area);
    let datasets = vec![
        line(state, s.chart_in_flight, &d.in_flight),
        line(state, s.chart_visible, &d.visible),
    ];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state, f))
        .y_axis(y_axis(state, top, three(top)));
    render(state, chart, f, area, buf);
    if d.n == 0 {
        common::placeholder(buf, inner, "no samples in this window", s.muted);
    }
}

/// A dead-letter queue's depth over time, in the alarm colour.
pub fn dlq(state: &State, q: &QueueSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let d = depth_series(state, f, &q.name);
    let top = dlq_top(d.peak);
    let title = vec![
        Span::styled(format!(" {}", q.name), s.title),
        Span::styled(
            format!(" dead letters {} ", q.visible + q.in_flight),
            if q.visible > 0 { s.warn } else { s.chart_dlq },
        ),
    ];
    let block = panel(state, title, bottom_title(state, f, None, Agent::Queues));
    let inner = block.inner(area);
    let datasets = vec![line(state, s.chart_dlq, &d.total)];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state, f))
        .y_axis(y_axis(
            state,
            top,
            ["0".into(), String::new(), format!("{top:.0}")],
        ));
    render(state, chart, f, area, buf);
    if d.n == 0 {
        common::placeholder(buf, inner, "no samples in this window", s.muted);
    }
}

/// Dead letters are few: the axis tops at the most seen, so the first one reaches the top.
fn dlq_top(peak: f64) -> f64 {
    peak.max(1.0).ceil()
}

/// The combined chart of a small screen: the first queue's depth, its consuming group's
/// capacity and CPU, and the dead letters, each scaled to its own top (named in the legend).
pub fn story(state: &State, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let (queue, group) = state.story_subjects();
    let scale = |v: &[(f64, f64)], top: f64| -> Vec<(f64, f64)> {
        v.iter().map(|&(x, y)| (x, y / top * 100.0)).collect()
    };
    let mut title = vec![Span::styled(" story", s.title)];
    let mut legend: Vec<Span<'_>> = Vec::new();
    let mut lines: Vec<(Style, Vec<(f64, f64)>)> = Vec::new();
    if let Some(q) = queue {
        let d = depth_series(state, f, &q.name);
        let top = nice_max(d.peak);
        title.push(Span::styled(
            format!(" {} {}+{}", q.name, q.visible, q.in_flight),
            s.chart_visible,
        ));
        legend.push(Span::styled(format!(" ━ depth/{top:.0}"), s.chart_visible));
        lines.push((s.chart_visible, scale(&d.total, top)));
        if let Some(dlq) = state.queues.dlq_of(q) {
            let dd = depth_series(state, f, &dlq.name);
            let dtop = dlq_top(dd.peak);
            let n = dlq.visible + dlq.in_flight;
            title.push(Span::styled(
                format!(" · dlq {n}"),
                if n > 0 { s.warn } else { s.chart_dlq },
            ));
            legend.push(Span::styled(format!(" ━ dlq/{dtop:.0}"), s.chart_dlq));
            lines.push((s.chart_dlq, scale(&dd.total, dtop)));
        }
    }
    if let Some(g) = group {
        let samples = state.capacity_history(g, f.start, f.end);
        let top = f64::from(g.max.max(1));
        let insvc = steps(samples.iter().map(|p| (f.x(p.t), f64::from(p.in_service))));
        title.push(Span::styled(
            format!(" · {} {}/{}", g.name, g.in_service(), g.desired),
            s.chart_in_service,
        ));
        legend.push(Span::styled(
            format!(" ━ in service/{top:.0}"),
            s.chart_in_service,
        ));
        lines.push((s.chart_in_service, scale(&insvc, top)));
        let cpu = cpu_points(state, f, &g.name);
        if let Some(last) = cpu.last() {
            title.push(Span::styled(format!(" cpu {:.0}%", last.1), s.chart_cpu));
        }
        legend.push(Span::styled(" ━ cpu%", s.chart_cpu));
        lines.push((s.chart_cpu, cpu));
    }
    title.push(Span::raw(" "));
    legend.push(Span::raw(" "));
    let (left, right) = bottom_title(state, f, None, Agent::Queues);
    let mut bottom_left = left.spans;
    bottom_left.extend(legend);
    let block = panel(state, title, (Line::from(bottom_left), right));
    let inner = block.inner(area);
    let datasets: Vec<Dataset<'_>> = lines
        .iter()
        .map(|(style, data)| line(state, *style, data))
        .collect();
    let empty = lines.iter().all(|(_, d)| d.is_empty());
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state, f))
        .y_axis(y_axis(
            state,
            100.0,
            ["0".into(), String::new(), "top".into()],
        ));
    render(state, chart, f, area, buf);
    if empty {
        common::placeholder(buf, inner, "no samples in this window", s.muted);
    }
}

/// The event log of the full-size dashboard: newest first, with the glyphs the charts use.
pub fn events(state: &State, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let shown: Vec<_> = state.timeline.within(f.start, f.end).rev().collect();
    let title = common::title(&state.theme, "Events", shown.len().to_string(), None, "");
    let block = common::block(&state.theme, title, false).style(s.chart_bg);
    let inner = block.inner(area);
    block.render(area, buf);
    if shown.is_empty() {
        common::placeholder(buf, inner, "no events in this window", s.muted);
        return;
    }
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = shown
        .iter()
        .take(usize::from(inner.height))
        .map(|e| {
            let head = format!("{} {:>4} ", e.mark.glyph(), fmt::age(f.end, e.at));
            let rest = fmt::truncate(&e.text, width.saturating_sub(head.chars().count()));
            Line::from(vec![Span::styled(head, s.chart_event), Span::raw(rest)])
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

/// The queue view's chart: visible and in flight over time, with a legend.
pub fn depth(state: &State, queue: &str, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let f = frame(state);
    let d = depth_series(state, f, queue);
    let top = nice_max(
        d.peak.max(
            d.visible
                .iter()
                .chain(&d.in_flight)
                .map(|p| p.1)
                .fold(0.0, f64::max),
        ),
    );
    let title = vec![
        Span::styled(format!(" {queue}"), s.title),
        Span::styled(format!(" depth · {} samples ", d.n), s.muted),
    ];
    let block = panel(state, title, bottom_title(state, f, None, Agent::Queues));
    let inner = block.inner(area);
    let datasets = vec![
        line(state, s.chart_visible, &d.visible).name("visible"),
        line(state, s.chart_in_flight, &d.in_flight).name("in flight"),
    ];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state, f))
        .y_axis(y_axis(state, top, three(top)));
    render(state, chart, f, area, buf);
    if d.n == 0 {
        common::placeholder(buf, inner, "no samples in this window", s.muted);
    }
}

#[cfg(test)]
mod tests {
    use super::{nice_max, place_marks, steps, MANY_EVENTS};

    #[test]
    fn events_in_one_cell_spread_to_free_neighbours() {
        // Scale-out and a load start in the same cell: both stay visible, in time order.
        assert_eq!(place_marks(10, &[(4, '▶'), (4, '▲')]), [(4, '▶'), (5, '▲')]);
        // At the right edge the later one steps left.
        assert_eq!(place_marks(5, &[(4, '▶'), (4, '▲')]), [(3, '▲'), (4, '▶')]);
        // Apart events stay where they are.
        assert_eq!(place_marks(10, &[(1, '×'), (8, 'R')]), [(1, '×'), (8, 'R')]);
    }

    #[test]
    fn a_crowded_cell_says_it_holds_several_events() {
        let wanted = vec![(2, '▲'); 6];
        let placed = place_marks(5, &wanted);
        assert_eq!(
            placed.len(),
            5,
            "every cell within reach is used: {placed:?}"
        );
        assert_eq!(placed[2], (2, MANY_EVENTS));
    }

    #[test]
    fn depth_axis_rounds_to_readable_maxima() {
        assert_eq!(nice_max(0.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(42.0), 50.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(500.0), 500.0);
    }

    #[test]
    fn steps_hold_each_value_until_the_next() {
        let s = steps([(0.0, 1.0), (10.0, 1.0), (20.0, 3.0), (30.0, 2.0)].into_iter());
        assert_eq!(
            s,
            [
                (0.0, 1.0),
                (10.0, 1.0),
                (20.0, 1.0),
                (20.0, 3.0),
                (30.0, 3.0),
                (30.0, 2.0)
            ]
        );
    }
}
