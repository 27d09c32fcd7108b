//! The load run view: the scenario picker on the left; on the right the run as it goes
//! (where every request went, req/s, error rate and percentiles over the recent window and
//! over the whole run), req/s and latency over time, the latency histogram and the status and
//! error breakdown. Like oha, inside the console.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::table::{self, col, Col, TableView};
use super::{common, geometry};
use crate::fmt;
use crate::model::{LoadRecent, LoadStatus};
use crate::state::nav::TableId;
use crate::state::State;

const COLS: [Col; 2] = [col("SCENARIO", 10, 0, false), col("WHAT", 20, 1, false)];

/// Columns the run's pane keeps before the picker grows: its summary lines' width.
const RUN_WIDTH: u16 = 90;

/// Left: the picker; right: the run. On a wide screen the picker grows to show whole
/// descriptions, as far as the run's pane keeps `RUN_WIDTH`; below 90 columns the picker is
/// above the run, and gives its rows to a running run on a short screen.
pub fn split(state: &State, body: Rect) -> (Rect, Rect) {
    if body.width < 90 {
        // While a run goes on a short screen its charts need the rows more than the picker,
        // which cannot start another run until this one ends; then it comes back.
        let running = state.load.status.as_ref().is_some_and(|st| !st.finished);
        let picker_h = if running && body.height < 30 {
            0
        } else {
            body.height.min(8)
        };
        let [picker, run] =
            Layout::vertical([Constraint::Length(picker_h), Constraint::Fill(1)]).areas(body);
        return (picker, run);
    }
    // A row: the name column, the two-cell gap, the description; the block's two borders.
    let widest = state
        .scenario_rows()
        .iter()
        .map(|s| cells(&s.name).max(usize::from(COLS[0].width)) + 2 + cells(&s.description) + 2)
        .max()
        .unwrap_or(0);
    let width = u16::try_from(widest)
        .unwrap_or(u16::MAX)
        .clamp(40, body.width.saturating_sub(RUN_WIDTH).max(40));
    let [picker, run] =
        Layout::horizontal([Constraint::Length(width), Constraint::Fill(1)]).areas(body);
    (picker, run)
}

/// How many terminal cells `text` takes.
fn cells(text: &str) -> usize {
    Span::raw(text).width()
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let (picker, run) = split(state, area);
    draw_picker(state, picker, buf);
    draw_run(state, run, buf);
}

fn draw_picker(state: &State, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let rows: Vec<_> = state
        .scenario_rows()
        .into_iter()
        .map(|sc| {
            (
                vec![
                    Line::from(sc.name.clone()),
                    Line::from(Span::styled(sc.description.clone(), s.muted)),
                ],
                Style::new(),
            )
        })
        .collect();
    let height = usize::from(geometry::rows_of(area).height);
    let mut title = common::title(
        &state.theme,
        "Scenarios",
        rows.len().to_string(),
        None,
        state.nav.filter(TableId::Scenarios),
    );
    title.spans.push(Span::styled("enter runs ", s.muted));
    table::draw(
        TableView {
            title,
            cols: &COLS,
            rows,
            selected: state.selected_index(TableId::Scenarios),
            offset: state.scroll(TableId::Scenarios, height),
            focused: true,
            empty: "no scenarios reported",
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

/// A latency: `170 ms` under a second, `1.25 s`, `11.3 s` past ten (the digits people read).
fn ms(s: Option<f64>) -> String {
    match s {
        None => "–".to_owned(),
        Some(v) if v < 1.0 => format!("{:.0} ms", v * 1000.0),
        Some(v) if v < 10.0 => format!("{v:.2} s"),
        Some(v) => format!("{v:.1} s"),
    }
}

/// What the recent numbers cover: `last 10 s`, or `first 3 s` early in a run.
pub fn window_label(r: &LoadRecent) -> String {
    if r.window_s <= 0.0 {
        "recent".to_owned()
    } else if r.covered_s + 1.0 >= r.window_s {
        format!("last {:.0} s", r.window_s)
    } else {
        format!("first {:.0} s", r.covered_s.ceil())
    }
}

/// `sent = ok + failed + cancelled + in flight`, and the arrivals that were not sent.
fn accounting(st: &LoadStatus) -> (String, Option<String>) {
    let sum = st.ok + st.failed + st.cancelled + st.in_flight;
    let line = format!(
        "{} sent {} {} ok + {} failed + {} cancelled + {} in flight",
        st.sent,
        if st.sent == sum { "=" } else { "≠" },
        st.ok,
        st.failed,
        st.cancelled,
        st.in_flight
    );
    let unsent = (st.waiting > 0 || st.not_sent > 0).then(|| {
        format!(
            "not sent: {} waiting for a send slot · {} never got one",
            st.waiting, st.not_sent
        )
    });
    (line, unsent)
}

/// The most lines the error classes take in the summary.
const ERROR_LINES: usize = 3;

/// The error classes (`http_503/server_busy: 946`), most frequent first, packed into lines of
/// at most `width` columns (an item longer than a line is cut); at most [`ERROR_LINES`]
/// lines, the classes left out summed at the end (`+2 more: 5`), so a run with many classes
/// keeps its charts in view.
fn error_lines(errors: &BTreeMap<String, u64>, width: usize) -> Vec<String> {
    let mut by_count: Vec<(&String, &u64)> = errors.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let items: Vec<String> = by_count
        .iter()
        .map(|(c, n)| fmt::truncate(&format!("{c}: {n}"), width))
        .collect();
    let pack = |items: &[String]| {
        let mut lines: Vec<String> = Vec::new();
        for item in items {
            match lines.last_mut() {
                Some(last) if last.chars().count() + 3 + item.chars().count() <= width => {
                    last.push_str(" · ");
                    last.push_str(item);
                }
                _ => lines.push(item.clone()),
            }
        }
        lines
    };
    // As many of the most frequent as fit with the sum of the rest.
    for shown in (0..=items.len()).rev() {
        let mut some = items[..shown].to_vec();
        let left = &by_count[shown..];
        if !left.is_empty() {
            let count: u64 = left.iter().map(|(_, n)| **n).sum();
            some.push(fmt::truncate(
                &format!("+{} more: {count}", left.len()),
                width,
            ));
        }
        let lines = pack(&some);
        if lines.len() <= ERROR_LINES {
            return lines;
        }
    }
    Vec::new()
}

fn summary<'a>(state: &State, st: &LoadStatus, width: usize) -> Vec<Line<'a>> {
    let s = &state.theme.s;
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<12}"), s.muted),
            Span::raw(v),
        ])
    };
    let frac = if st.planned_s > 0.0 {
        (st.elapsed_s / st.planned_s).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = (frac * 24.0).round() as usize;
    let bar = format!("[{}{}]", "█".repeat(filled), "░".repeat(24 - filled));
    let phase_style = match st.phase.as_str() {
        "finished" => s.ok,
        "cancelled" | "failed" => s.warn,
        _ => s.title,
    };
    let mut out = vec![
        Line::from(vec![
            Span::styled(format!("{} ", st.scenario), s.title),
            Span::styled(st.phase.clone(), phase_style),
            Span::styled(format!("  {}", st.detail), s.muted),
        ]),
        kv(
            "progress",
            format!(
                "{bar} {} / {}",
                fmt::secs(st.elapsed_s as u64),
                fmt::secs(st.planned_s as u64)
            ),
        ),
    ];
    let (requests, unsent) = accounting(st);
    out.push(kv("requests", requests));
    if let Some(unsent) = unsent {
        out.push(kv("", unsent));
    }
    let r = &st.recent;
    out.push(kv(
        &window_label(r),
        format!(
            "{} req/s · errors {} · p50 {} · p95 {} · p99 {}",
            r.rps.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}")),
            r.error_pct
                .map_or_else(|| "–".to_owned(), |v| format!("{v:.1} %")),
            ms(r.p50_s),
            ms(r.p95_s),
            ms(r.p99_s)
        ),
    ));
    out.push(kv(
        "whole run",
        format!(
            "{:.1} req/s mean · p50 {} · p95 {} · p99 {}",
            st.rps_mean,
            ms(st.p50_s),
            ms(st.p95_s),
            ms(st.p99_s)
        ),
    ));
    if st.processed > 0 || st.mb_per_min.is_some() {
        out.push(kv(
            "processed",
            format!(
                "{} videos{}",
                st.processed,
                st.mb_per_min
                    .map_or_else(String::new, |m| format!(" · {m:.1} MB/min end to end"))
            ),
        ));
    }
    // Beside the requests' latency: how long an upload took to come out processed.
    if st.e2e_p50_s.is_some() {
        out.push(kv(
            "end to end",
            format!(
                "upload to processed · p50 {} · p95 {} · p99 {}",
                ms(st.e2e_p50_s),
                ms(st.e2e_p95_s),
                ms(st.e2e_p99_s)
            ),
        ));
    }
    let statuses: Vec<String> = st
        .statuses
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    if !statuses.is_empty() {
        out.push(kv("status", statuses.join(" · ")));
    }
    for (i, line) in error_lines(&st.errors, width.saturating_sub(12))
        .into_iter()
        .enumerate()
    {
        let label = if i == 0 { "errors" } else { "" };
        out.push(Line::from(vec![
            Span::styled(format!("{label:<12}"), s.muted),
            Span::styled(line, s.error),
        ]));
    }
    if let Some(v) = &st.verdict {
        let style = if v.contains("FAIL") { s.error } else { s.ok };
        out.push(Line::from(vec![
            Span::styled(format!("{:<12}", "thresholds"), s.muted),
            Span::styled(v.clone(), style),
        ]));
    }
    if !st.finished {
        out.push(Line::from(Span::styled("x cancels the run", s.muted)));
    }
    out
}

fn histogram<'a>(state: &State, st: &LoadStatus, width: usize) -> Vec<Line<'a>> {
    let s = &state.theme.s;
    let max = st.histogram.iter().map(|(_, n)| *n).max().unwrap_or(0);
    // Only the buckets that hold something, from the first to the last.
    let first = st.histogram.iter().position(|(_, n)| *n > 0);
    let last = st.histogram.iter().rposition(|(_, n)| *n > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return vec![Line::from(Span::styled("no responses yet", s.muted))];
    };
    let bar_w = width.saturating_sub(20).max(4);
    st.histogram[first..=last]
        .iter()
        .map(|(le, n)| {
            let label = match le {
                Some(ms) if *ms >= 1000.0 => format!("≤{:.0}s", ms / 1000.0),
                Some(ms) => format!("≤{ms:.0}ms"),
                None => "more".to_owned(),
            };
            let len = if max == 0 {
                0
            } else {
                ((*n as f64 / max as f64) * bar_w as f64).ceil() as usize
            };
            Line::from(vec![
                Span::styled(format!("{label:>8} "), s.muted),
                Span::styled("█".repeat(len), s.chart_cpu),
                Span::raw(format!(" {n}")),
            ])
        })
        .collect()
}

fn draw_run(state: &State, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let Some(st) = &state.load.status else {
        let block = common::block(&state.theme, Line::from(" Load run "), false);
        let inner = block.inner(area);
        block.render(area, buf);
        match &state.load.target {
            Some(t) => draw_pick(state, t, inner, buf),
            None => common::placeholder(
                buf,
                inner,
                "no API endpoint known: run the demo, or set FLIGHTDECK_API_URL",
                s.muted,
            ),
        }
        return;
    };
    let lines = summary(state, st, usize::from(area.width.saturating_sub(2)));
    let top_h = (u16::try_from(lines.len()).unwrap_or(u16::MAX) + 2).min(area.height);
    let [top, rest] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1)]).areas(area);
    let title = match &state.load.target {
        Some(t) => format!(" Load run → {t} "),
        None => " Load run ".to_owned(),
    };
    Paragraph::new(lines)
        .block(common::block(
            &state.theme,
            Line::from(Span::styled(title, s.title)),
            false,
        ))
        .render(top, buf);
    if rest.height < 6 {
        return;
    }
    let [charts, hist] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(rest);
    let window = format!("{:.0} s", st.recent.window_s);
    // Two charts need a few rows of plot each; below that, latency alone (what thresholds
    // judge; the req/s is in the summary above).
    let lat = if charts.height >= 12 {
        let [rps, lat] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(charts);
        draw_series(
            state,
            &format!("req/s over the last {window}"),
            rps,
            buf,
            |p| vec![p.rps],
        );
        lat
    } else {
        charts
    };
    draw_series(
        state,
        &format!("latency ms p50/p95/p99 over the last {window}"),
        lat,
        buf,
        |p| {
            vec![
                p.p50_s.map(|v| v * 1000.0),
                p.p95_s.map(|v| v * 1000.0),
                p.p99_s.map(|v| v * 1000.0),
            ]
        },
    );
    let block = common::block(&state.theme, Line::from(" Latency histogram "), false);
    let inner = block.inner(hist);
    Paragraph::new(histogram(state, st, usize::from(inner.width)))
        .block(block)
        .render(hist, buf);
}

/// Before the first run: the selected scenario whole (the picker cuts long descriptions) and
/// how to start it, in the middle of the run's pane.
fn draw_pick(state: &State, target: &str, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let picked = state
        .selected_key(TableId::Scenarios)
        .and_then(|name| state.load.scenarios.iter().find(|s| s.name == name));
    let Some(picked) = picked else {
        let text = format!("no run yet: pick a scenario (enter) to load {target}");
        common::placeholder(buf, area, &text, s.muted);
        return;
    };
    let inner = Rect {
        x: area.x + 2,
        width: area.width.saturating_sub(4),
        ..area
    };
    let width = usize::from(inner.width);
    let mut lines = vec![Line::from(Span::styled(picked.name.clone(), s.title))];
    lines.extend(
        fmt::wrap(&picked.description, width)
            .into_iter()
            .map(Line::from),
    );
    let plan = picked.plan();
    if !plan.is_empty() {
        lines.extend(fmt::wrap(&plan, width).into_iter().map(Line::from));
    }
    lines.push(Line::default());
    let how =
        format!("enter runs it against {target}; x cancels a run, which goes on in other views");
    lines.extend(
        fmt::wrap(&how, width)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, s.muted))),
    );
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .min(inner.height);
    let top = inner.y + (inner.height - height) / 2;
    Paragraph::new(lines).render(
        Rect {
            y: top,
            height,
            ..inner
        },
        buf,
    );
}

/// A line chart of the run's samples; `values` gives one value per series for a sample.
fn draw_series(
    state: &State,
    title: &str,
    area: Rect,
    buf: &mut Buffer,
    values: impl Fn(&crate::state::dlq::LoadSample) -> Vec<Option<f64>>,
) {
    let s = &state.theme.s;
    let samples = &state.load.samples;
    let Some(first) = samples.first() else {
        let block = common::block(&state.theme, Line::from(format!(" {title} ")), false);
        let inner = block.inner(area);
        block.render(area, buf);
        common::placeholder(buf, inner, "waiting for the first samples", s.muted);
        return;
    };
    let styles = [s.chart_cpu, s.chart_visible, s.chart_in_flight];
    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 3];
    let mut top: f64 = 0.0;
    let mut right: f64 = 1.0;
    for p in samples {
        let x = (p.t - first.t).num_milliseconds() as f64 / 1000.0;
        right = right.max(x);
        for (i, v) in values(p).into_iter().enumerate().take(3) {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                top = top.max(v);
                series[i].push((x, v));
            }
        }
    }
    let top = if top <= 0.0 { 1.0 } else { top * 1.1 };
    let datasets: Vec<Dataset<'_>> = series
        .iter()
        .zip(styles)
        .filter(|(d, _)| !d.is_empty())
        .map(|(d, style)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(style)
                .data(d)
        })
        .collect();
    Chart::new(datasets)
        .block(common::block(
            &state.theme,
            Line::from(format!(" {title} ")),
            false,
        ))
        .x_axis(
            Axis::default()
                .bounds([0.0, right])
                .style(s.chart_axis)
                .labels(vec![Span::raw("0s"), Span::raw(format!("{right:.0}s"))]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(s.chart_axis)
                .labels(vec![Span::raw("0"), Span::raw(format!("{top:.0}"))]),
        )
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    }

    #[test]
    fn error_classes_go_most_frequent_first_in_lines_that_fit() {
        let e = errors(&[
            ("timeout", 3),
            ("http_503/server_busy", 946),
            ("http_503/storage_unavailable", 12),
        ]);
        assert_eq!(
            error_lines(&e, 80),
            ["http_503/server_busy: 946 · http_503/storage_unavailable: 12 · timeout: 3"]
        );
        assert_eq!(
            error_lines(&e, 40),
            [
                "http_503/server_busy: 946",
                "http_503/storage_unavailable: 12",
                "timeout: 3"
            ]
        );
        assert!(error_lines(&BTreeMap::new(), 40).is_empty());
    }

    #[test]
    fn classes_past_three_lines_are_summed_and_nothing_is_wider_than_asked() {
        let e = errors(&[
            ("http_500/a", 1),
            ("http_500/b", 2),
            ("http_500/c", 3),
            ("http_500/d", 4),
            ("http_500/e", 5),
            ("http_500/f", 6),
        ]);
        let lines = error_lines(&e, 20);
        assert_eq!(
            lines,
            ["http_500/f: 6", "http_500/e: 5", "+4 more: 10"],
            "two shown, the four least frequent summed"
        );
        let narrow = error_lines(&errors(&[("http_503/storage_unavailable", 12)]), 10);
        assert_eq!(narrow, ["http_503/…"]);
        for width in 1..60 {
            let lines = error_lines(&e, width);
            assert!(lines.len() <= ERROR_LINES, "{width}: {lines:?}");
            assert!(
                lines.iter().all(|l| l.chars().count() <= width),
                "{width}: {lines:?}"
            );
        }
    }
}
