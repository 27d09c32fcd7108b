//! Small drawing helpers shared by the views: blocks, freshness spans, placeholders.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::fmt;
use crate::state::health::Freshness;
use crate::theme::Theme;

pub fn block<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    Block::bordered()
        .border_type(theme.border_type)
        .border_style(if focused {
            theme.s.border_focused
        } else {
            theme.s.border
        })
        .title(title)
}

/// ` · 3s` for fresh data, ` · 47s STALE` past its freshness, ` · waiting` before the first report.
pub fn freshness<'a>(theme: &Theme, f: &Freshness<'_>) -> Vec<Span<'a>> {
    match f.age_s {
        None if f.failure.is_some() => vec![Span::styled(" · no data", theme.s.stale)],
        None => vec![Span::styled(" · waiting", theme.s.muted)],
        Some(age) if f.stale => vec![
            Span::styled(" · ", theme.s.muted),
            Span::styled(format!("{} STALE", fmt::secs(age)), theme.s.stale),
        ],
        Some(age) => vec![Span::styled(
            format!(" · {}", fmt::secs(age)),
            theme.s.muted,
        )],
    }
}

/// A pane title: ` Name (count)` + freshness + an active filter.
pub fn title<'a>(
    theme: &Theme,
    name: &str,
    count: String,
    fresh: Option<&Freshness<'_>>,
    filter: &str,
) -> Line<'a> {
    let mut spans = vec![
        Span::styled(format!(" {name}"), theme.s.title),
        Span::styled(format!(" ({count})"), theme.s.muted),
    ];
    if let Some(f) = fresh {
        spans.extend(freshness(theme, f));
    }
    if !filter.is_empty() {
        spans.push(Span::styled(format!(" /{filter}"), theme.s.prompt));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// A muted line in the middle of `area`, for empty tables and charts.
pub fn placeholder(buf: &mut Buffer, area: Rect, text: &str, style: Style) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let y = area.y + area.height.saturating_sub(1) / 2;
    let line = Rect {
        y,
        height: 1,
        ..area
    };
    Paragraph::new(fmt::truncate(text, usize::from(area.width)))
        .style(style)
        .alignment(Alignment::Center)
        .render(line, buf);
}
