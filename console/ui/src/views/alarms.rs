//! The alarms view: the stack's CloudWatch alarms (ALARM first) with what each watches, its
//! threshold against the current value, since when and why; below, the selected alarm's rule,
//! what to do, and its state changes. `enter` opens the group (else the queue) it watches.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::table::{self, col, Col, TableView};
use super::{common, geometry};
use crate::alarms::{AlarmRow, AlarmState};
use crate::fmt;
use crate::model::Agent;
use crate::state::nav::TableId;
use crate::state::State;
use crate::theme::Theme;

const COLS: [Col; 6] = [
    col("NAME", 16, 0, false),
    col("STATE", 7, 0, false),
    col("WATCHES", 14, 2, false),
    col("NOW / THRESHOLD", 15, 0, true),
    col("SINCE", 5, 1, true),
    col("REASON", 20, 3, false),
];

/// The table on top (its rows and frame), the selected alarm below.
pub fn split(body: Rect, rows: usize) -> (Rect, Rect) {
    let want = u16::try_from(rows.max(1))
        .unwrap_or(u16::MAX)
        .saturating_add(3);
    let table_h = want.min(body.height / 2).max(body.height.min(4));
    let [table, detail] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Fill(1)]).areas(body);
    (table, detail)
}

pub fn state_style(theme: &Theme, state: AlarmState) -> Style {
    match state {
        AlarmState::Alarm => theme.s.error,
        AlarmState::InsufficientData | AlarmState::Missing => theme.s.warn,
        AlarmState::Ok => theme.s.ok,
    }
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let rows = state.alarm_rows();
    let (top, bottom) = split(area, rows.len());
    draw_table(state, &rows, top, buf);
    let selected = state
        .selected_key(TableId::Alarms)
        .and_then(|k| state.alarms.get(&k));
    draw_detail(state, selected, bottom, buf);
}

fn draw_table(state: &State, rows: &[&AlarmRow], area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let since = |r: &AlarmRow| {
        r.since
            .map_or_else(|| "-".to_owned(), |t| fmt::age(state.now, t))
    };
    let cells = rows
        .iter()
        .map(|r| {
            let cells = vec![
                Line::from(r.name.clone()),
                Line::from(Span::styled(
                    r.state.short(),
                    state_style(&state.theme, r.state),
                )),
                Line::from(Span::styled(r.watches(), s.muted)),
                Line::from(format!("{} {}", r.current_text(), r.threshold_text())),
                Line::from(since(r)),
                Line::from(Span::styled(r.reason.clone(), s.muted)),
            ];
            (cells, Style::new())
        })
        .collect();
    let firing = state.alarms.firing();
    let count = if firing > 0 {
        format!("{} · {firing} in ALARM", state.alarms.rows.len())
    } else {
        state.alarms.rows.len().to_string()
    };
    let fresh = state.freshness(Agent::Alarms);
    let filter = state.nav.filter(TableId::Alarms);
    let empty = if state.alarms.at.is_none() {
        "reading the alarms…"
    } else if !filter.is_empty() {
        "no alarm matches the filter"
    } else {
        "the stack defines no alarms"
    };
    let mut title = common::title(&state.theme, "Alarms", count, Some(&fresh), filter);
    title
        .spans
        .push(Span::styled("enter opens what it watches ", s.muted));
    let height = usize::from(geometry::rows_of(area).height);
    table::draw(
        TableView {
            title,
            cols: &COLS,
            rows: cells,
            selected: state.selected_index(TableId::Alarms),
            offset: state.scroll(TableId::Alarms, height),
            focused: true,
            empty,
            show_cut: false,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

fn draw_detail(state: &State, alarm: Option<&AlarmRow>, area: Rect, buf: &mut Buffer) {
    if area.height < 3 {
        return;
    }
    let s = &state.theme.s;
    let Some(a) = alarm else {
        let block = common::block(&state.theme, Line::from(" Alarm "), false);
        let inner = block.inner(area);
        block.render(area, buf);
        common::placeholder(buf, inner, "select an alarm", s.muted);
        return;
    };
    let title = Line::from(vec![
        Span::styled(format!(" {} ", a.name), s.title),
        Span::styled(
            format!(" {} ", a.state.as_str()),
            state_style(&state.theme, a.state),
        ),
        Span::styled(
            a.since
                .map(|t| format!(" since {} ago ", fmt::age(state.now, t)))
                .unwrap_or_default(),
            s.muted,
        ),
    ]);
    let block = common::block(&state.theme, title, false);
    let inner = block.inner(area);
    block.render(area, buf);
    let width = usize::from(inner.width);
    let field = |l: &str, value: &str| {
        common::hanging(
            vec![Span::styled(l.to_owned(), s.muted)],
            10,
            value,
            Style::new(),
            width,
        )
    };
    let rule = format!(
        "{} of {} per {} {} {}",
        a.statistic,
        a.metric,
        fmt::secs(u64::from(a.period_s)),
        a.comparison,
        crate::alarms::number(a.threshold)
    );
    let now = match a.current {
        Some(v) => format!(
            "{} (newest complete period), threshold {}",
            crate::alarms::number(v),
            a.threshold_text()
        ),
        None => format!("no datapoint yet, threshold {}", a.threshold_text()),
    };
    let mut lines = Vec::new();
    for (l, value) in [
        ("watches", a.watches()),
        ("rule", rule),
        ("now", now),
        ("reason", a.reason.clone()),
        ("to do", a.description.clone()),
    ] {
        lines.extend(field(l, &value));
    }
    lines.push(Line::from(""));
    let history = state.alarms.history.by_alarm.get(&a.name);
    match &state.alarms.history.note {
        Some(note) => lines.extend(common::hanging(
            vec![Span::styled("State changes", s.title)],
            15,
            note,
            s.muted,
            width,
        )),
        None => lines.push(Line::from(Span::styled("State changes", s.title))),
    }
    match history {
        Some(h) if !h.is_empty() => {
            for t in h {
                let from = t.from.map_or("?", |f| f.short());
                let prefix = vec![
                    Span::styled(format!("{:>8} ago  ", fmt::age(state.now, t.at)), s.muted),
                    Span::raw(format!("{from} → ")),
                    Span::styled(t.to.short(), state_style(&state.theme, t.to)),
                    Span::raw("  "),
                ];
                // The reason after the change, its further rows under the change.
                lines.extend(common::hanging(prefix, 14, &t.reason, s.muted, width));
            }
        }
        _ => lines.push(Line::from(Span::styled("none recorded yet", s.muted))),
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}
