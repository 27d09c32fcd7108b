//! The audit log: every change made from this console (and other consoles writing the same
//! log), newest first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::table::{self, col, Col, TableView};
use super::{common, geometry};
use crate::fmt;
use crate::state::nav::TableId;
use crate::state::State;

const COLS: [Col; 6] = [
    col("WHEN", 8, 0, true),
    col("WHO", 8, 2, false),
    col("ACTION", 10, 0, false),
    col("TARGET", 14, 0, false),
    col("DETAIL", 20, 2, false),
    col("RESULT", 20, 1, false),
];

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let rows: Vec<_> = state
        .audit_rows()
        .into_iter()
        .map(|e| {
            let cells = vec![
                Line::from(fmt::age(state.now, e.at)),
                Line::from(e.who.clone()),
                Line::from(e.action.clone()),
                Line::from(e.target.clone()),
                Line::from(Span::styled(e.detail.clone(), s.muted)),
                Line::from(Span::styled(
                    e.result.clone(),
                    if e.ok { Style::new() } else { s.error },
                )),
            ];
            (cells, Style::new())
        })
        .collect();
    let filter = state.nav.filter(TableId::Audit);
    let empty = if state.audit.at.is_none() {
        "reading the audit log…"
    } else {
        "no changes recorded yet"
    };
    let height = usize::from(geometry::rows_of(area).height);
    table::draw(
        TableView {
            title: common::title(
                &state.theme,
                "Audit log",
                rows.len().to_string(),
                None,
                filter,
            ),
            cols: &COLS,
            rows,
            selected: state.selected_index(TableId::Audit),
            offset: state.scroll(TableId::Audit, height),
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
