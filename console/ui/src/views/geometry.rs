//! Where everything goes, as pure functions of an area and row counts: the chrome, the
//! dashboard's tiers and panes, a group's and a queue's parts, the rows of a table. The views
//! draw with these and [`super::layout`] hit-tests with the same ones, so a click lands on the
//! row that was drawn.

use ratatui::layout::{Constraint, Layout, Margin, Rect};

/// A chart needs this many rows to be worth drawing.
pub const CHART_MIN_H: u16 = 8;
/// Charts get at least this many columns each before another column is added.
pub const CHART_MIN_W: u16 = 40;
/// Tables sit side by side from this width on.
pub const WIDE: u16 = 150;

/// Width the queues table wants when tables sit side by side.
pub const QUEUES_W: u16 = 74;

/// Top bar, banner (one line while a data source fails, else empty), body, bottom (status or
/// prompt) line.
pub struct Chrome {
    pub top: Rect,
    pub banner: Rect,
    pub body: Rect,
    pub bottom: Rect,
}

pub fn chrome(area: Rect) -> Chrome {
    let line = |y: u16, h: u16| Rect {
        x: area.x,
        y,
        width: area.width,
        height: h,
    };
    let banner = line(area.y, 0);
    match area.height {
        0 => Chrome {
            top: line(area.y, 0),
            banner,
            body: line(area.y, 0),
            bottom: line(area.y, 0),
        },
        1 => Chrome {
            top: line(area.y, 0),
            banner,
            body: line(area.y, 0),
            bottom: area,
        },
        2 => Chrome {
            top: line(area.y, 0),
            banner,
            body: line(area.y, 1),
            bottom: line(area.y + 1, 1),
        },
        h => Chrome {
            top: line(area.y, 1),
            banner,
            body: line(area.y + 1, h - 2),
            bottom: line(area.y + h - 1, 1),
        },
    }
}

pub fn rows_of(block: Rect) -> Rect {
    let inner = block.inner(Margin {
        horizontal: 1,
        vertical: 1,
    });
    Rect {
        y: inner.y.saturating_add(1),
        height: inner.height.saturating_sub(1),
        ..inner
    }
}

fn table_height(rows: usize) -> u16 {
    3 + u16::try_from(rows.max(1)).unwrap_or(u16::MAX - 3).min(200)
}

/// How much the dashboard shows, by the body's size: at 80x24 the tables and one combined
/// chart; from 120x40 a row of charts per queue and per group; from 200x60 also the event log
/// and sparklines in the table rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Small,
    Medium,
    Full,
}

impl Tier {
    /// The tier of a dashboard body (the screen less its top and bottom lines).
    pub fn of(body: Rect) -> Tier {
        if body.width >= 200 && body.height >= 56 {
            Tier::Full
        } else if body.width >= 120 && body.height >= 36 {
            Tier::Medium
        } else {
            Tier::Small
        }
    }
}

/// Width of the event log beside the charts in the full tier.
pub const EVENTS_W: u16 = 48;

pub struct Dashboard {
    pub tier: Tier,
    pub groups: Rect,
    pub queues: Rect,
    /// Small tier: the one combined chart, when there is room for it.
    pub story: Option<Rect>,
    /// Medium and full tiers: rows of charts, as many as fit (each row is split by the view).
    pub chart_rows: Vec<Rect>,
    /// Full tier: the event log.
    pub events: Option<Rect>,
}

/// `chart_rows_wanted`: the rows of charts there is data for (a row per queue and per group).
pub fn dashboard(
    body: Rect,
    n_groups: usize,
    n_queues: usize,
    chart_rows_wanted: usize,
) -> Dashboard {
    let tier = Tier::of(body);
    let (gh, qh) = (table_height(n_groups), table_height(n_queues));
    let wide = body.width >= WIDE;
    let tables_full = if wide { gh.max(qh) } else { gh + qh };
    // Charts only once each table can show a few rows.
    let few = |n: usize| table_height(n.min(3));
    let tables_min = if wide {
        few(n_groups).max(few(n_queues))
    } else {
        few(n_groups) + few(n_queues)
    };
    let with_charts = chart_rows_wanted > 0 && body.height >= tables_min + CHART_MIN_H;
    let tables_h = if with_charts {
        tables_full.min(body.height - CHART_MIN_H)
    } else {
        body.height
    };
    let [tables, chart_area] =
        Layout::vertical([Constraint::Length(tables_h), Constraint::Fill(1)]).areas(body);
    let (groups, queues) = if wide {
        // The queues table needs about 72 columns (more with its sparkline); groups take the rest.
        let queues_w = if tier == Tier::Full {
            body.width * 9 / 20
        } else {
            QUEUES_W.min(body.width / 2)
        };
        let [g, q] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(queues_w)]).areas(tables);
        (g, q)
    } else {
        let g_h = if tables.height >= gh + qh {
            gh
        } else {
            let share = u32::from(tables.height) * u32::from(gh) / u32::from(gh + qh);
            u16::try_from(share).unwrap_or(0).max(tables.height.min(3))
        };
        let [g, q] = Layout::vertical([Constraint::Length(g_h), Constraint::Fill(1)]).areas(tables);
        (g, q)
    };
    let mut d = Dashboard {
        tier,
        groups,
        queues,
        story: None,
        chart_rows: Vec::new(),
        events: None,
    };
    if !with_charts {
        return d;
    }
    if tier == Tier::Small {
        d.story = Some(chart_area);
        return d;
    }
    let mut charts = chart_area;
    if tier == Tier::Full {
        let [c, e] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(EVENTS_W)])
            .areas(chart_area);
        charts = c;
        d.events = Some(e);
    }
    let rows = chart_rows_wanted.min(usize::from((charts.height / CHART_MIN_H).max(1)));
    d.chart_rows = Layout::vertical(vec![Constraint::Fill(1); rows])
        .split(charts)
        .to_vec();
    d
}

pub struct GroupDetail {
    pub summary: Rect,
    pub instances: Rect,
    pub chart: Rect,
    pub activities: Rect,
    pub changes: Rect,
}

/// `summary_lines` is the number of lines the summary needs at this width.
pub fn group_detail(body: Rect, n_instances: usize, summary_lines: u16) -> GroupDetail {
    let summary_h = (summary_lines + 2)
        .min(body.height / 3)
        .max(3.min(body.height));
    let rest = body.height - summary_h;
    let inst_h = table_height(n_instances).min((rest / 2).max(4)).min(rest);
    let lower_h = rest - inst_h;
    let [summary, mut instances, lower] = Layout::vertical([
        Constraint::Length(summary_h),
        Constraint::Length(inst_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    let empty = Rect { height: 0, ..lower };
    if lower_h < 5 {
        instances.height += lower.height;
        return GroupDetail {
            summary,
            instances,
            chart: empty,
            activities: empty,
            changes: empty,
        };
    }
    if body.width >= 70 {
        let [chart, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(lower);
        let [activities, changes] =
            Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(right);
        GroupDetail {
            summary,
            instances,
            chart,
            activities,
            changes,
        }
    } else {
        let [chart, activities, changes] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Fill(1),
        ])
        .areas(lower);
        GroupDetail {
            summary,
            instances,
            chart,
            activities,
            changes,
        }
    }
}

pub struct QueueDetail {
    pub attrs: Rect,
    pub chart: Rect,
}

pub fn queue_detail(body: Rect, attr_lines: u16) -> QueueDetail {
    if body.width >= 100 {
        let w = (body.width / 2).min(80);
        let [attrs, chart] =
            Layout::horizontal([Constraint::Length(w), Constraint::Fill(1)]).areas(body);
        return QueueDetail { attrs, chart };
    }
    let want = attr_lines + 2;
    let attrs_h = if body.height >= want + 6 {
        want
    } else if body.height >= 12 {
        body.height - 6
    } else {
        body.height
    };
    let [attrs, chart] =
        Layout::vertical([Constraint::Length(attrs_h), Constraint::Fill(1)]).areas(body);
    QueueDetail { attrs, chart }
}

pub struct DlqDetail {
    pub attrs: Rect,
    pub chart: Rect,
    pub messages: Rect,
}

/// A dead-letter queue: attributes (and the depth chart when wide) on top, messages below.
pub fn dlq_detail(body: Rect, attr_lines: u16) -> DlqDetail {
    let top_h = (attr_lines + 2)
        .min(body.height / 2)
        .max(3.min(body.height));
    let [top, messages] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1)]).areas(body);
    if body.width >= 100 {
        let w = (body.width / 2).min(80);
        let [attrs, chart] =
            Layout::horizontal([Constraint::Length(w), Constraint::Fill(1)]).areas(top);
        return DlqDetail {
            attrs,
            chart,
            messages,
        };
    }
    DlqDetail {
        attrs: top,
        chart: Rect { height: 0, ..top },
        messages,
    }
}
