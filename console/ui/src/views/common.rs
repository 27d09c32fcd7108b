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

/// `prefix`, then `text` in `style`, word-wrapped to `width`: its first row beside the prefix
/// (padded to `indent` columns when narrower), the others indented by `indent` (a hanging
/// indent, so a wrapped value stays in its column).
pub fn hanging<'a>(
    mut prefix: Vec<Span<'a>>,
    indent: usize,
    text: &str,
    style: Style,
    width: usize,
) -> Vec<Line<'a>> {
    let used: usize = prefix.iter().map(Span::width).sum();
    prefix.push(Span::raw(" ".repeat(indent.saturating_sub(used))));
    let first_w = width.saturating_sub(used.max(indent)).max(16);
    let rest_w = width.saturating_sub(indent).max(16);
    let mut rows = fmt::wrap_hanging(text, first_w, rest_w).into_iter();
    let mut first = prefix;
    first.push(Span::styled(rows.next().unwrap_or_default(), style));
    let mut lines = vec![Line::from(first)];
    lines.extend(rows.map(|row| {
        Line::from(vec![
            Span::raw(" ".repeat(indent)),
            Span::styled(row, style),
        ])
    }));
    lines
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

/// `▁▂▅█`: `values` (oldest first) squeezed into at most `width` cells, each cell the largest
/// value of its share, scaled so `top` is a full block.
pub fn sparkline(values: &[f64], width: usize, top: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let n = values.len();
    let cells = n.min(width);
    let top = if top > 0.0 { top } else { 1.0 };
    (0..cells)
        .map(|i| {
            let share = &values[i * n / cells..((i + 1) * n / cells).max(i * n / cells + 1)];
            let v = share.iter().copied().fold(0.0, f64::max);
            let level = (v / top * 7.0).round().clamp(0.0, 7.0) as usize;
            BARS[level]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparklines_keep_peaks_when_squeezed() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 3.0], 10, 3.0), "▁▃▆█");
        assert_eq!(sparkline(&[0.0, 0.0, 7.0, 0.0, 0.0, 0.0], 3, 7.0), "▁█▁");
        assert_eq!(sparkline(&[], 5, 1.0), "");
        assert_eq!(sparkline(&[5.0], 5, 0.0), "█", "no top: anything is full");
    }
}
