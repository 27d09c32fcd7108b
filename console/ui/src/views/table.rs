//! A scrolling table that drops low-priority columns when narrow and draws only the visible rows,
//! so its scroll offset is the state's and mouse clicks map to rows exactly.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, StatefulWidget, Table, TableState, Widget};

use super::common;
use super::geometry;
use crate::theme::Theme;

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub header: &'static str,
    /// The first column fills the spare width with this as its minimum; the others are fixed.
    pub width: u16,
    /// 0 is always shown; higher numbers are dropped first when the table is narrow.
    pub prio: u8,
    pub right: bool,
}

pub const fn col(header: &'static str, width: u16, prio: u8, right: bool) -> Col {
    Col {
        header,
        width,
        prio,
        right,
    }
}

/// Which columns to show and how wide, from the content: each column as wide as its widest cell,
/// header or declared width. When that does not fit, optional columns (prio >= 2) go first, then
/// text columns shrink (rightmost first, then the first column), then prio 1 columns go.
/// Returns kept column indices, their widths and the column spacing.
pub fn plan(cols: &[Col], content: &[usize], avail: u16) -> (Vec<usize>, Vec<u16>, u16) {
    let avail = usize::from(avail);
    let want: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            content
                .get(i)
                .copied()
                .unwrap_or(0)
                .max(c.header.len())
                .max(usize::from(c.width))
                .min(80)
        })
        .collect();
    let floor: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.right {
                want[i]
            } else {
                c.header.len().max(6).min(want[i])
            }
        })
        .collect();
    let need = |keep: &[usize], w: &[usize]| {
        keep.iter().map(|&i| w[i]).sum::<usize>() + keep.len().saturating_sub(1)
    };
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let drop_one = |keep: &mut Vec<usize>, min_prio: u8| {
        let victim = keep
            .iter()
            .enumerate()
            .filter(|(_, &i)| cols[i].prio >= min_prio)
            .max_by_key(|(p, &i)| (cols[i].prio, *p))
            .map(|(p, _)| p);
        victim.map(|p| keep.remove(p)).is_some()
    };
    while need(&keep, &want) > avail && drop_one(&mut keep, 2) {}
    while need(&keep, &floor) > avail && drop_one(&mut keep, 1) {}
    let total = need(&keep, &want);
    if total + keep.len().saturating_sub(1) <= avail {
        let widths = keep.iter().map(|&i| want[i] as u16).collect();
        return (keep, widths, 2);
    }
    let mut w: Vec<usize> = keep.iter().map(|&i| want[i]).collect();
    let mut over = total.saturating_sub(avail);
    let text_cols = (1..keep.len()).filter(|&k| !cols[keep[k]].right).rev();
    for k in text_cols.chain(std::iter::once(0)) {
        let cut = (w[k] - floor[keep[k]].min(w[k])).min(over);
        w[k] -= cut;
        over -= cut;
    }
    let widths = w.iter().map(|&x| x as u16).collect();
    (keep, widths, 1)
}

/// Cuts a line to `width` cells, ending with `…` when cut, so a clipped number never looks whole.
pub fn clip<'a>(line: Line<'a>, width: usize) -> Line<'a> {
    if line.width() <= width {
        return line;
    }
    let mut left = width.saturating_sub(1);
    let mut spans = Vec::new();
    for span in line.spans {
        if left == 0 {
            break;
        }
        let text: String = span.content.chars().take(left).collect();
        left -= text.chars().count();
        spans.push(Span::styled(text, span.style));
    }
    if width > 0 {
        spans.push(Span::raw("…"));
    }
    Line { spans, ..line }
}

fn align<'a>(line: Line<'a>, c: &Col) -> Line<'a> {
    if c.right {
        line.right_aligned()
    } else {
        line
    }
}

pub struct TableView<'a> {
    pub title: Line<'a>,
    pub cols: &'a [Col],
    /// One line per column per row, with the row's own style.
    pub rows: Vec<(Vec<Line<'a>>, Style)>,
    pub selected: Option<usize>,
    pub offset: usize,
    pub focused: bool,
    pub empty: &'a str,
    /// Whether the selected row's cut cells are shown whole on the bottom border: false where
    /// the view shows the selected row in full beside the table (the alarms' detail pane).
    pub show_cut: bool,
    /// Per column, the widest cell of the rows given without cells (a long table builds only
    /// the rows on screen): the columns are sized as if those rows were there.
    pub floor: Vec<usize>,
}

/// Column widths from the content: each column as wide as its widest cell, header or declared
/// width; when that does not fit, text columns shrink first, then the first column.
pub fn widths(cols: &[Col], keep: &[usize], content: &[usize], avail: u16) -> (Vec<u16>, u16) {
    let avail = u32::from(avail);
    let want: Vec<u32> = keep
        .iter()
        .map(|&i| {
            content
                .get(i)
                .copied()
                .unwrap_or(0)
                .max(cols[i].header.len())
                .min(80) as u32
        })
        .zip(keep.iter())
        // The declared width is a floor too, so columns do not jitter as values change.
        .map(|(w, &i)| w.max(u32::from(cols[i].width)))
        .collect();
    let gaps = keep.len().saturating_sub(1) as u32;
    let total: u32 = want.iter().sum::<u32>() + gaps;
    if total + gaps <= avail {
        return (want.iter().map(|&w| w as u16).collect(), 2);
    }
    let mut w = want.clone();
    let mut over = total.saturating_sub(avail);
    let order = (1..keep.len())
        .filter(|&k| !cols[keep[k]].right)
        .rev()
        .chain(std::iter::once(0))
        .chain((1..keep.len()).filter(|&k| cols[keep[k]].right));
    for k in order {
        if over == 0 {
            break;
        }
        let min = (cols[keep[k]].header.len().max(6) as u32).min(w[k]);
        let cut = (w[k] - min).min(over);
        w[k] -= cut;
        over -= cut;
    }
    (w.iter().map(|&x| x as u16).collect(), 1)
}

/// The selected row's cells that its columns cut, whole, for the table's bottom border (the
/// text alone when one is cut; each after its column's name when several are). None when
/// nothing is cut.
fn cut_cells<'a>(
    cols: &[Col],
    keep: &[usize],
    widths: &[u16],
    cells: &[Line<'a>],
    theme: &Theme,
    width: u16,
) -> Option<Line<'a>> {
    let cut: Vec<(usize, &Line<'a>)> = keep
        .iter()
        .zip(widths)
        .filter_map(|(&i, &w)| Some(i).zip(cells.get(i).filter(|c| c.width() > usize::from(w))))
        .collect();
    if cut.is_empty() {
        return None;
    }
    let mut spans = Vec::new();
    for (n, (i, cell)) in cut.iter().enumerate() {
        spans.push(Span::styled(
            if n == 0 { " " } else { " · " },
            theme.s.muted,
        ));
        if cut.len() > 1 {
            spans.push(Span::styled(format!("{} ", cols[*i].header), theme.s.muted));
        }
        spans.extend(cell.spans.iter().cloned());
    }
    let mut line = clip(Line::from(spans), usize::from(width.saturating_sub(3)));
    line.spans.push(Span::raw(" "));
    Some(line)
}

pub fn draw(view: TableView<'_>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let block = common::block(theme, view.title, view.focused);
    let inner = block.inner(area);
    let content: Vec<usize> = (0..view.cols.len())
        .map(|i| {
            view.rows
                .iter()
                .map(|(cells, _)| cells.get(i).map_or(0, Line::width))
                .max()
                .unwrap_or(0)
                .max(view.floor.get(i).copied().unwrap_or(0))
        })
        .collect();
    let (keep, col_widths, spacing) = plan(view.cols, &content, inner.width);
    let height = usize::from(geometry::rows_of(area).height);
    let end = (view.offset + height).min(view.rows.len());
    let start = view.offset.min(end);
    // What the columns cut of the selected row is shown whole on the bottom border, so a long
    // signature or reason can be read without opening the row.
    let whole = view
        .selected
        .filter(|s| view.show_cut && view.focused && (start..end).contains(s))
        .and_then(|s| view.rows.get(s))
        .and_then(|(cells, _)| cut_cells(view.cols, &keep, &col_widths, cells, theme, area.width));
    match whole {
        Some(line) => block.title_bottom(line).render(area, buf),
        None => block.render(area, buf),
    }
    let constraints: Vec<Constraint> = col_widths.iter().map(|&w| Constraint::Length(w)).collect();
    let header = Row::new(
        keep.iter()
            .map(|&i| align(Line::from(view.cols[i].header), &view.cols[i])),
    )
    .style(theme.s.header);
    let rows: Vec<Row<'_>> = view.rows[start..end]
        .iter()
        .map(|(cells, style)| {
            let cells = keep.iter().zip(&col_widths).map(|(&i, &w)| {
                align(
                    clip(cells.get(i).cloned().unwrap_or_default(), usize::from(w)),
                    &view.cols[i],
                )
            });
            Row::new(cells).style(*style)
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(rows, constraints)
        .header(header)
        .column_spacing(spacing)
        .flex(Flex::Start)
        .row_highlight_style(if view.focused {
            theme.s.selected
        } else {
            Style::new()
        });
    let mut state = TableState::new().with_selected(
        view.selected
            .filter(|s| (start..end).contains(s))
            .map(|s| s - start),
    );
    StatefulWidget::render(table, inner, buf, &mut state);
    if empty {
        common::placeholder(buf, geometry::rows_of(area), view.empty, theme.s.muted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Col; 4] = [
        col("NAME", 10, 0, false),
        col("A", 5, 1, true),
        col("B", 5, 2, true),
        col("C", 5, 2, true),
    ];

    #[test]
    fn narrow_tables_drop_the_least_important_columns_first() {
        let keep = |w| plan(&COLS, &[], w).0;
        assert_eq!(keep(40), [0, 1, 2, 3]);
        assert_eq!(keep(28), [0, 1, 2, 3]);
        assert_eq!(keep(27), [0, 1, 2]);
        assert_eq!(keep(21), [0, 1]);
        assert_eq!(keep(3), [0]);
    }

    /// The table drawn `width` columns wide and six rows high, row by row.
    fn drawn(view: TableView<'_>, width: u16) -> Vec<String> {
        let area = Rect::new(0, 0, width, 6);
        let mut buf = Buffer::empty(area);
        draw(view, area, &mut buf, &Theme::default());
        (area.top()..area.bottom())
            .map(|y| (0..width).map(|x| buf[(x, y)].symbol()).collect())
            .collect()
    }

    fn bottom_border(view: TableView<'_>, width: u16) -> String {
        drawn(view, width).pop().unwrap_or_default()
    }

    #[test]
    fn the_selected_rows_cut_cells_are_whole_on_the_bottom_border() {
        let cols = [
            col("ID", 8, 0, false),
            col("SIGNATURE", 10, 0, false),
            col("BODY", 10, 0, false),
        ];
        let text = "not a video: no mp4, mov or avi container (permanent) at 0x1f";
        let view = |selected: Option<usize>, body: &'static str, show_cut: bool| TableView {
            title: Line::from("t"),
            cols: &cols,
            rows: vec![
                (
                    vec![Line::from("0ce524be"), Line::from(text), Line::from(body)],
                    Style::new(),
                ),
                (
                    vec![Line::from("acecefe9"), Line::from("short"), Line::from("")],
                    Style::new(),
                ),
            ],
            selected,
            offset: 0,
            focused: true,
            empty: "",
            show_cut,
            floor: Vec::new(),
        };
        // 70 columns: the signature is cut in its row and whole on the border below.
        let lines = drawn(view(Some(0), "", true), 70);
        let (row, border) = (&lines[2], &lines[5]);
        assert!(row.contains('…') && !row.contains(text), "{row}");
        assert!(border.starts_with(&format!("╰ {text} ─")), "{border}");
        // Several cut: each after its column's name, as far as the border goes.
        let both = bottom_border(view(Some(0), "{\"video_id\":\"v-101\"}", true), 64);
        assert!(both.starts_with("╰ SIGNATURE not a video"), "{both}");
        assert!(both.ends_with("… ╯"), "{both}");
        // Narrower than the text: cut on the border too.
        let narrow = bottom_border(view(Some(0), "", true), 30);
        assert!(
            narrow.starts_with("╰ not a video: no mp4, mov …"),
            "{narrow}"
        );
        // Nothing cut in the selected row, no selection, or a table that shows its selected
        // row whole elsewhere: a plain border.
        for v in [
            view(Some(1), "", true),
            view(None, "", true),
            view(Some(0), "", false),
        ] {
            let plain = bottom_border(v, 64);
            assert!(!plain.contains("not a video"), "{plain}");
        }
    }

    #[test]
    fn clipped_cells_end_with_an_ellipsis() {
        let line = Line::from(vec![Span::raw("backlog "), Span::raw("10")]);
        assert_eq!(clip(line.clone(), 10).to_string(), "backlog 10");
        assert_eq!(clip(line.clone(), 9).to_string(), "backlog …");
        assert_eq!(clip(line, 0).to_string(), "");
    }

    #[test]
    fn widths_follow_content_and_shrink_text_before_names() {
        let cols = [
            col("NAME", 6, 0, false),
            col("N", 3, 0, true),
            col("TEXT", 6, 1, false),
            col("X", 4, 2, true),
        ];
        let content = [10, 2, 20, 4];
        // Room to spare: content widths with two-space gaps.
        assert_eq!(
            plan(&cols, &content, 80),
            (vec![0, 1, 2, 3], vec![10, 3, 20, 4], 2)
        );
        // A little tight: the optional column goes before any text is cut.
        assert_eq!(
            plan(&cols, &content, 35),
            (vec![0, 1, 2], vec![10, 3, 20], 1)
        );
        // Tighter: the text column gives way first, then the name.
        assert_eq!(
            plan(&cols, &content, 30),
            (vec![0, 1, 2], vec![10, 3, 15], 1)
        );
        assert_eq!(plan(&cols, &content, 18), (vec![0, 1, 2], vec![7, 3, 6], 1));
        // Below the floors the prio 1 column goes too.
        assert_eq!(plan(&cols, &content, 12), (vec![0, 1], vec![8, 3], 1));
    }
}
