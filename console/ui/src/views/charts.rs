//! Time charts: CPU per group (with its target line) and queue depth, over the chart window
//! ending now or at the freeze. The CloudWatch period and the window are in the bottom title.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::common;
use crate::config::ChartMarker;
use crate::fmt;
use crate::model::{Agent, GroupSnapshot, MetricKey, Timestamp};
use crate::state::State;

fn marker(state: &State) -> Marker {
    match state.chart.marker {
        ChartMarker::Braille => Marker::Braille,
        ChartMarker::Dot => Marker::Dot,
    }
}

fn window_s(state: &State) -> f64 {
    state.chart.window.as_secs_f64()
}

/// Seconds relative to the chart's right edge (negative = past).
fn x(end: Timestamp, t: Timestamp) -> f64 {
    (t - end).num_milliseconds() as f64 / 1000.0
}

fn x_axis<'a>(state: &State) -> Axis<'a> {
    let w = state.chart.window;
    let end = match state.chart.frozen_at {
        Some(t) => t.format("%H:%M:%S").to_string(),
        None => "now".to_owned(),
    };
    Axis::default()
        .bounds([-window_s(state), 0.0])
        .style(state.theme.s.chart_axis)
        .labels(vec![
            Span::raw(format!("-{}", fmt::window(w))),
            Span::raw(format!("-{}", fmt::window(w / 2))),
            Span::raw(end),
        ])
}

/// `1h @60s` plus FROZEN / STALE, on the bottom border.
fn bottom_title<'a>(state: &State, period: Option<u32>, agent: Agent) -> (Line<'a>, Line<'a>) {
    let s = &state.theme.s;
    let mut text = format!(" {}", fmt::window(state.chart.window));
    if let Some(p) = period {
        text.push_str(&format!(" @{p}s"));
    }
    text.push(' ');
    let right = Line::from(Span::styled(text, s.muted)).right_aligned();
    let mut left = Vec::new();
    if state.chart.frozen_at.is_some() {
        left.push(Span::styled(" FROZEN ", s.warn));
    }
    let f = state.freshness(agent);
    if f.stale {
        let age = f.age_s.map_or_else(|| "no data".to_owned(), fmt::secs);
        left.push(Span::styled(format!(" STALE {age} "), s.stale));
    }
    (Line::from(left), right)
}

pub fn cpu(state: &State, group: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let key = MetricKey::group_cpu(&group.name);
    let (start, end) = (state.chart.start(state.now), state.chart.end(state.now));
    let points: Vec<(f64, f64)> = state
        .metrics
        .range(&key, start, end)
        .iter()
        .map(|p| (x(end, p.t), p.value))
        .collect();
    let mut title = vec![Span::styled(format!(" {}", group.name), s.title)];
    if let Some(last) = points.last() {
        title.push(Span::raw(format!(" cpu {:.0}%", last.1)));
    }
    let target = group.cpu_target();
    if let Some(t) = target {
        title.push(Span::styled(format!(" · target {t:.0}%"), s.muted));
    }
    title.push(Span::raw(" "));
    let (left, right) = bottom_title(state, state.metrics.period_s, Agent::Metrics);
    let block = common::block(&state.theme, Line::from(title), false)
        .title_bottom(left)
        .title_bottom(right);
    let target_line: Vec<(f64, f64)> = target
        .map(|t| vec![(-window_s(state), t), (0.0, t)])
        .unwrap_or_default();
    let marks = run_marks(state, end, 100.0);
    let mut datasets: Vec<Dataset<'_>> = marks
        .iter()
        .map(|m| {
            Dataset::default()
                .marker(marker(state))
                .graph_type(GraphType::Line)
                .style(s.warn)
                .data(m)
        })
        .collect();
    if !target_line.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(marker(state))
                .graph_type(GraphType::Line)
                .style(s.chart_target)
                .data(&target_line),
        );
    }
    datasets.push(
        Dataset::default()
            .marker(marker(state))
            .graph_type(GraphType::Line)
            .style(s.chart_cpu)
            .data(&points),
    );
    let inner = block.inner(area);
    let y_axis = Axis::default()
        .bounds([0.0, 100.0])
        .style(s.chart_axis)
        .labels(vec![Span::raw("0"), Span::raw("50"), Span::raw("100")]);
    Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state))
        .y_axis(y_axis)
        .render(area, buf);
    if points.is_empty() {
        common::placeholder(buf, inner, "no CPU data yet", s.muted);
    }
}

/// Vertical lines where load runs started and ended inside the window, so scaling can be read
/// against the load.
fn run_marks(state: &State, end: Timestamp, top: f64) -> Vec<Vec<(f64, f64)>> {
    let from = -window_s(state);
    state
        .load
        .runs
        .iter()
        .flat_map(|(start, stop)| std::iter::once(*start).chain(*stop))
        .map(|t| x(end, t))
        .filter(|x| (from..=0.0).contains(x))
        .map(|x| vec![(x, 0.0), (x, top)])
        .collect()
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

pub fn depth(state: &State, queue: &str, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let (start, end) = (state.chart.start(state.now), state.chart.end(state.now));
    let samples: Vec<_> = state
        .queues
        .samples(queue)
        .filter(|p| p.t >= start && p.t <= end)
        .collect();
    let visible: Vec<(f64, f64)> = samples
        .iter()
        .map(|p| (x(end, p.t), p.visible as f64))
        .collect();
    let in_flight: Vec<(f64, f64)> = samples
        .iter()
        .map(|p| (x(end, p.t), p.in_flight as f64))
        .collect();
    let top = nice_max(
        samples
            .iter()
            .map(|p| p.visible.max(p.in_flight) as f64)
            .fold(0.0, f64::max),
    );
    let title = Line::from(vec![
        Span::styled(format!(" {queue}"), s.title),
        Span::styled(format!(" depth · {} samples ", samples.len()), s.muted),
    ]);
    let (left, right) = bottom_title(state, None, Agent::Queues);
    let block = common::block(&state.theme, title, false)
        .title_bottom(left)
        .title_bottom(right);
    let inner = block.inner(area);
    let marks = run_marks(state, end, top);
    let mut datasets: Vec<Dataset<'_>> = marks
        .iter()
        .map(|m| {
            Dataset::default()
                .marker(marker(state))
                .graph_type(GraphType::Line)
                .style(s.warn)
                .data(m)
        })
        .collect();
    datasets.extend([
        Dataset::default()
            .name("visible")
            .marker(marker(state))
            .graph_type(GraphType::Line)
            .style(s.chart_visible)
            .data(&visible),
        Dataset::default()
            .name("in flight")
            .marker(marker(state))
            .graph_type(GraphType::Line)
            .style(s.chart_in_flight)
            .data(&in_flight),
    ]);
    let y_axis = Axis::default()
        .bounds([0.0, top])
        .style(s.chart_axis)
        .labels(vec![
            Span::raw("0"),
            Span::raw(format!("{:.0}", top / 2.0)),
            Span::raw(format!("{top:.0}")),
        ]);
    Chart::new(datasets)
        .block(block)
        .x_axis(x_axis(state))
        .y_axis(y_axis)
        .render(area, buf);
    if samples.is_empty() {
        common::placeholder(buf, inner, "no samples in this window", s.muted);
    }
}

#[cfg(test)]
mod tests {
    use super::nice_max;

    #[test]
    fn depth_axis_rounds_to_readable_maxima() {
        assert_eq!(nice_max(0.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(42.0), 50.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(500.0), 500.0);
    }
}
