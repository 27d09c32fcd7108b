//! One group in detail: summary and policies, instances (with CPU when known), AWS scaling
//! activities, and the capacity changes the console observed itself between reports.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::table::{self, col, Col, TableView};
use super::{charts, common, geometry};
use crate::fmt;
use crate::model::{
    Agent, Disk, GroupSnapshot, InstanceInfo, LocalMemory, MetricKey, Phase, PolicyKind, Pressure,
    ALARM_NOTIFICATION,
};
use crate::state::nav::TableId;
use crate::state::queues::backlog;
use crate::state::State;

const INSTANCE_COLS: [Col; 7] = [
    col("ID", 19, 0, false),
    col("STATE", 11, 0, false),
    col("HEALTH", 9, 1, false),
    col("AZ", 10, 2, false),
    col("TYPE", 9, 3, false),
    col("LAUNCHED", 8, 2, true),
    col("CPU", 4, 1, true),
];

/// On a local cloud each instance is a process: its resident set shows beside its CPU.
const LOCAL_INSTANCE_COLS: [Col; 8] = [
    INSTANCE_COLS[0],
    INSTANCE_COLS[1],
    INSTANCE_COLS[2],
    INSTANCE_COLS[3],
    INSTANCE_COLS[4],
    INSTANCE_COLS[5],
    INSTANCE_COLS[6],
    col("MEM", 6, 1, true),
];

const ACTIVITY_COLS: [Col; 3] = [
    col("AGE", 4, 0, true),
    col("STATUS", 10, 1, false),
    col("DESCRIPTION", 16, 0, false),
];
const CHANGE_COLS: [Col; 3] = [
    col("AGE", 4, 0, true),
    col("AT", 8, 1, false),
    col("CHANGE", 16, 0, false),
];

pub fn draw(state: &State, name: &str, area: Rect, buf: &mut Buffer) {
    let Some(group) = state.groups.get(name) else {
        let block = common::block(&state.theme, Line::from(format!(" {name} ")), true);
        let inner = block.inner(area);
        block.render(area, buf);
        common::placeholder(
            buf,
            inner,
            "this group is not in the latest report",
            state.theme.s.muted,
        );
        return;
    };
    let instances = state.instance_rows();
    let l = geometry::group_detail(
        area,
        instances.len(),
        summary_height(state, name, area.width),
    );
    summary(state, group, l.summary, buf);
    instance_table(state, group, &instances, l.instances, buf);
    if l.chart.height > 0 {
        charts::cpu(state, group, l.chart, buf);
        activities(state, group, l.activities, buf);
        changes(state, group, l.changes, buf);
    }
}

/// The summary as groups of items; each group starts a line, items pack onto lines by width.
fn summary_items<'a>(state: &State, g: &GroupSnapshot) -> Vec<Vec<Vec<Span<'a>>>> {
    let s = &state.theme.s;
    let label = |t: &str| Span::styled(t.to_owned(), s.muted);
    let (pend, term) = (g.count(Phase::Pending), g.count(Phase::Terminating));
    let capacity = vec![
        vec![
            label("min "),
            Span::raw(g.min.to_string()),
            label(" desired "),
            Span::raw(g.desired.to_string()),
            label(" max "),
            Span::raw(g.max.to_string()),
        ],
        vec![
            label("in service "),
            Span::raw(g.in_service().to_string()),
            label(" pending "),
            Span::styled(
                pend.to_string(),
                if pend > 0 { s.warn } else { Style::new() },
            ),
            label(" terminating "),
            Span::styled(
                term.to_string(),
                if term > 0 { s.warn } else { Style::new() },
            ),
        ],
        vec![
            label("health check "),
            Span::raw(g.health_check_type.clone()),
            label(" cooldown "),
            Span::raw(fmt::secs(u64::from(g.default_cooldown_s))),
        ],
    ];
    let mut capacity = capacity;
    // At the ceiling, said beside the capacity (the groups table only colours it).
    if g.at_max() {
        capacity.insert(
            1,
            vec![Span::styled(
                "at max: no policy can add an instance".to_owned(),
                s.warn,
            )],
        );
    }
    if let Some(r) = state.groups.refreshes.get(&g.name) {
        capacity.push(vec![
            label("instance refresh "),
            Span::styled(r.line.clone(), if r.active { s.warn } else { s.muted }),
        ]);
    }
    let mut policies: Vec<Vec<Span<'a>>> = g
        .policies
        .iter()
        .map(|p| {
            let what = match &p.kind {
                PolicyKind::TargetTrackingCpu { target } => format!("cpu target {target:.0}%"),
                PolicyKind::TargetTrackingCustom { metric, target } => {
                    format!("{metric} target {target:.0}")
                }
                PolicyKind::Other { policy_type } => policy_type.clone(),
            };
            let mut item = vec![label(&format!("{}: ", p.name)), Span::raw(what)];
            if let Some(w) = p.warmup_s {
                item.push(label(&format!(" (warm-up {})", fmt::secs(u64::from(w)))));
            }
            item
        })
        .collect();
    if policies.is_empty() {
        policies.push(vec![label("no scaling policies")]);
    }
    if !g.suspended.is_empty() {
        // Suspended processes lead the policies: with AlarmNotification among them, none runs.
        policies.insert(
            0,
            vec![
                Span::styled("suspended ", s.warn),
                Span::styled(g.suspended.join(", "), s.warn),
                label(" (:resume)"),
            ],
        );
    }
    let queue = match state.config.pairing.queue_for(&g.name, &state.queues.list) {
        Some(q) => {
            let b = backlog(q, g);
            let mut item = vec![
                label("consumes "),
                Span::raw(q.name.clone()),
                label(&format!(" {} visible, ", q.visible)),
            ];
            item.push(Span::raw(
                b.per_instance
                    .map_or_else(|| "∞".to_owned(), |v| format!("{v:.1}")),
            ));
            item.push(label(" per in-service instance"));
            if let Some(t) = b.target {
                item.push(label(&format!(" (target {t:.0})")));
            }
            vec![item]
        }
        None => vec![vec![label(
            "consumes no queue (see [pairing] in the config)",
        )]],
    };
    let mut items = vec![capacity, policies, queue];
    if let Some((_, m)) = &state.local.memory {
        let ids = g.instances.iter().map(|i| i.id.as_str());
        let (held, n) = m.fleet_of(ids);
        let pressure = match m.pressure() {
            Pressure::Ok => Style::new(),
            Pressure::Low => s.warn,
            Pressure::Critical => s.error,
        };
        let mut memory = vec![vec![
            label("local memory: this group "),
            Span::raw(fmt::bytes(held)),
            label(&format!(
                " in {n} process{}",
                if n == 1 { "" } else { "es" }
            )),
        ]];
        if let Some(e) = m.emulator {
            let style = if e > LocalMemory::EMULATOR_LIMIT {
                s.warn
            } else {
                Style::new()
            };
            memory.push(vec![label("emulator "), Span::styled(fmt::bytes(e), style)]);
        }
        if let Some(d) = m.s3_data {
            let style = if d.held > d.evicts_above {
                s.warn
            } else {
                Style::new()
            };
            memory.push(vec![
                label("S3 data "),
                Span::styled(fmt::bytes(d.held), style),
                label(&format!(" of {}", fmt::bytes(d.cap))),
            ]);
        }
        if let Some(free) = m.disk_free {
            let style = match m.disk() {
                Disk::Ok => Style::new(),
                Disk::Low => s.warn,
                Disk::Full => s.error,
            };
            memory.push(vec![
                label("disk "),
                Span::styled(format!("{} free", fmt::bytes(free)), style),
            ]);
        }
        memory.push(vec![
            label("machine "),
            Span::styled(format!("{} free", fmt::bytes(m.available)), pressure),
            label(&format!(" of {}", fmt::bytes(m.total))),
        ]);
        items.push(memory);
    }
    items
}

/// Packs items into lines no wider than `width`, separated by ` │ `; each group starts a line.
fn pack<'a>(groups: Vec<Vec<Vec<Span<'a>>>>, width: usize, sep: Span<'a>) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for group in groups {
        let mut line: Vec<Span<'a>> = Vec::new();
        let mut used = 0;
        for item in group {
            let w: usize = item.iter().map(Span::width).sum();
            if used > 0 && used + sep.width() + w > width {
                lines.push(Line::from(std::mem::take(&mut line)));
                used = 0;
            }
            if used > 0 {
                line.push(sep.clone());
                used += sep.width();
            }
            used += w;
            line.extend(item);
        }
        lines.push(Line::from(line));
    }
    lines
}

fn summary_lines<'a>(state: &State, g: &GroupSnapshot, width: u16) -> Vec<Line<'a>> {
    let sep = Span::styled(" │ ", state.theme.s.muted);
    pack(
        summary_items(state, g),
        usize::from(width.saturating_sub(2)),
        sep,
    )
}

/// Lines the summary of group `name` takes in a body `width` wide (layout and hit-testing use it).
pub fn summary_height(state: &State, name: &str, width: u16) -> u16 {
    state.groups.get(name).map_or(1, |g| {
        u16::try_from(summary_lines(state, g, width).len()).unwrap_or(u16::MAX)
    })
}

fn summary(state: &State, g: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let fresh = state.freshness(Agent::Groups);
    let mut title = vec![Span::styled(format!(" {}", g.name), s.title)];
    title.extend(common::freshness(&state.theme, &fresh));
    title.push(Span::raw(" "));
    let block = common::block(&state.theme, Line::from(title), false);
    Paragraph::new(summary_lines(state, g, area.width))
        .block(block)
        .render(area, buf);
}

fn instance_table(
    state: &State,
    g: &GroupSnapshot,
    rows: &[&InstanceInfo],
    area: Rect,
    buf: &mut Buffer,
) {
    let s = &state.theme.s;
    let memory = state.local.memory.as_ref().map(|(_, m)| m);
    let local = memory.is_some() && !state.local.processes.is_empty();
    let cells = rows
        .iter()
        .map(|i| {
            let state_style = match i.phase() {
                Phase::InService => s.ok,
                Phase::Pending | Phase::Terminating => s.warn,
                Phase::Other => s.muted,
            };
            let health_style = if i.health == "Healthy" { s.ok } else { s.error };
            let cpu = state
                .metrics
                .latest(&MetricKey::instance_cpu(&g.name, &i.id))
                .map_or_else(|| "–".to_owned(), |p| format!("{:.0}%", p.value));
            let lifecycle = match state.local.process(&i.id) {
                Some(p) => format!(
                    "{} · {}{}",
                    i.lifecycle_state,
                    p.phase,
                    p.pid.map_or_else(String::new, |pid| format!(" pid {pid}"))
                ),
                None => i.lifecycle_state.clone(),
            };
            let mut cells = vec![
                Line::from(i.id.clone()),
                Line::from(Span::styled(lifecycle, state_style)),
                Line::from(Span::styled(i.health.clone(), health_style)),
                Line::from(i.az.clone()),
                Line::from(i.instance_type.clone()),
                Line::from(
                    i.launch_time
                        .map_or_else(|| "–".to_owned(), |t| fmt::age(state.now, t)),
                ),
                Line::from(cpu),
            ];
            if local {
                let rss = memory
                    .and_then(|m| m.processes.iter().find(|(id, _)| *id == i.id))
                    .map_or_else(|| "–".to_owned(), |(_, rss)| fmt::bytes(*rss));
                cells.push(Line::from(rss));
            }
            (cells, Style::new())
        })
        .collect();
    let filter = state.nav.filter(TableId::Instances);
    let count = if filter.is_empty() {
        rows.len().to_string()
    } else {
        format!("{}/{}", rows.len(), g.instances.len())
    };
    let height = usize::from(geometry::rows_of(area).height);
    table::draw(
        TableView {
            title: common::title(&state.theme, "Instances", count, None, filter),
            cols: if local {
                &LOCAL_INSTANCE_COLS
            } else {
                &INSTANCE_COLS
            },
            rows: cells,
            selected: state.selected_index(TableId::Instances),
            offset: state.scroll(TableId::Instances, height),
            focused: true,
            empty: if filter.is_empty() {
                "no instances"
            } else {
                "no instance matches the filter"
            },
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

/// On the local cloud the emulator records no activities; the local autoscaler's decisions
/// say why capacity changed instead.
fn decisions(state: &State, g: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let list: Vec<_> = state.local.decisions_of(&g.name).rev().collect();
    let rows = list
        .iter()
        .map(|d| {
            let change = if d.from == d.to {
                Span::styled(format!("stays {}", d.to), s.muted)
            } else {
                Span::styled(format!("{} → {}", d.from, d.to), s.warn)
            };
            let cells = vec![
                Line::from(Span::styled(fmt::age(state.now, d.at), s.muted)),
                Line::from(change),
                Line::from(d.reason.clone()),
            ];
            (cells, Style::new())
        })
        .collect();
    let state_text = if g.suspended.iter().any(|p| p == ALARM_NOTIFICATION) {
        "Autoscaler (OFF: AlarmNotification suspended)"
    } else {
        "Autoscaler decisions"
    };
    table::draw(
        TableView {
            title: common::title(&state.theme, state_text, list.len().to_string(), None, ""),
            cols: &ACTIVITY_COLS,
            rows,
            selected: None,
            offset: 0,
            focused: false,
            empty: "no decision yet",
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

fn activities(state: &State, g: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    if g.activities.is_empty() && state.local.autoscaler {
        return decisions(state, g, area, buf);
    }
    let s = &state.theme.s;
    let mut list: Vec<_> = g.activities.iter().collect();
    list.sort_by_key(|a| std::cmp::Reverse(a.start));
    let rows = list
        .iter()
        .map(|a| {
            let status_style = match a.status.as_str() {
                "Successful" => s.ok,
                "Failed" | "Cancelled" => s.error,
                _ => s.warn,
            };
            let cells = vec![
                Line::from(Span::styled(fmt::age(state.now, a.start), s.muted)),
                Line::from(Span::styled(a.status.clone(), status_style)),
                Line::from(a.description.clone()),
            ];
            (cells, Style::new())
        })
        .collect();
    table::draw(
        TableView {
            title: common::title(
                &state.theme,
                "Scaling activities",
                list.len().to_string(),
                None,
                "",
            ),
            cols: &ACTIVITY_COLS,
            rows,
            selected: None,
            offset: 0,
            focused: false,
            empty: "none reported yet (they can lag)",
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}

fn changes(state: &State, g: &GroupSnapshot, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let list: Vec<_> = state.groups.changes(&g.name).rev().collect();
    let rows = list
        .iter()
        .map(|c| {
            let cells = vec![
                Line::from(Span::styled(fmt::age(state.now, c.at), s.muted)),
                Line::from(Span::styled(c.at.format("%H:%M:%S").to_string(), s.muted)),
                Line::from(c.kind.to_string()),
            ];
            (cells, Style::new())
        })
        .collect();
    table::draw(
        TableView {
            title: common::title(
                &state.theme,
                "Observed by the console",
                list.len().to_string(),
                None,
                "",
            ),
            cols: &CHANGE_COLS,
            rows,
            selected: None,
            offset: 0,
            focused: false,
            empty: "no change seen since the console started",
            show_cut: true,
            floor: Vec::new(),
        },
        area,
        buf,
        &state.theme,
    );
}
