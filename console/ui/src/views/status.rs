//! The status line: each data source's age (STALE with the agent's reason when it failed) on the
//! left, the console's own AWS calls per minute on the right.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::fmt;
use crate::model::{Agent, Disk, EmulatorStatus, JobState, Pressure};
use crate::state::State;

/// A text progress bar `[████░░░░]` of `width` cells.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = (done.min(total) * width as u64)
        .checked_div(total)
        .map_or(width, |f| usize::try_from(f).unwrap_or(width));
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}

/// The redrive's progress; it stays on the status line whatever view is open.
fn redrive<'a>(state: &State) -> Vec<Span<'a>> {
    let s = &state.theme.s;
    let Some(r) = &state.jobs.redrive else {
        return Vec::new();
    };
    let verb = if r.dry_run { "would move" } else { "moved" };
    let head = format!("redrive {}→{} ", r.from, r.to);
    match &r.state {
        JobState::Running => {
            let total = r.remaining.map(|left| left + r.moved);
            let mut text = match total {
                Some(t) => format!("{} {}/{t}", bar(r.moved, t, 12), r.moved),
                None => format!("{} {verb}", r.moved),
            };
            text.push_str(&format!(" {:.0}/s", r.per_s));
            if let Some(eta) = r.eta_s() {
                text.push_str(&format!(" ETA {}", fmt::secs(eta)));
            }
            vec![
                Span::styled(head, s.title),
                Span::styled(text, s.status),
                Span::styled(" x cancels", s.muted),
            ]
        }
        JobState::Done => vec![Span::styled(
            format!("{head}done: {verb} {} (x dismisses)", r.moved),
            s.status,
        )],
        JobState::Cancelled => vec![Span::styled(
            format!("{head}cancelled after {} (x dismisses)", r.moved),
            s.warn,
        )],
        JobState::Failed(e) => vec![Span::styled(format!("{head}failed: {e}"), s.error)],
    }
}

/// A running load run's progress; like a redrive's, it stays on the status line in every
/// view (the load view has the whole picture).
fn load<'a>(state: &State) -> Vec<Span<'a>> {
    let s = &state.theme.s;
    let Some(l) = state.load.status.as_ref().filter(|l| !l.finished) else {
        return Vec::new();
    };
    let done = l.elapsed_s.max(0.0) as u64;
    let planned = l.planned_s.max(0.0) as u64;
    let mut text = if planned > 0 {
        format!(
            "{} {}/{} ",
            bar(done, planned, 8),
            fmt::secs(done),
            fmt::secs(planned)
        )
    } else {
        String::new()
    };
    text.push_str(&format!("{} sent", l.sent));
    if l.failed > 0 {
        text.push_str(&format!(", {} failed", l.failed));
    }
    vec![
        Span::styled(format!("load {} ", l.scenario), s.title),
        Span::styled(text, s.status),
    ]
}

/// The machine running short of memory, or the emulator's disk of space, under a local
/// cloud, while it lasts.
fn memory<'a>(state: &State) -> Vec<Span<'a>> {
    let s = &state.theme.s;
    let Some((_, m)) = state.local.memory.as_ref() else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    let pressure = match m.pressure() {
        Pressure::Ok => None,
        Pressure::Low => Some(("memory low", s.warn)),
        Pressure::Critical => Some(("MEMORY CRITICAL", s.error)),
    };
    if let Some((what, style)) = pressure {
        let emulator = m
            .emulator
            .map_or_else(String::new, |e| format!(", emulator {}", fmt::bytes(e)));
        spans.push(Span::styled(
            format!(
                "⚠ {what}: {} free{emulator} (stop load runs) ",
                fmt::bytes(m.available)
            ),
            style,
        ));
    }
    if let Some(free) = m.disk_free {
        match m.disk() {
            Disk::Ok => {}
            Disk::Low => spans.push(Span::styled(
                format!(
                    "⚠ disk low: {} free ({}; stop load runs) ",
                    fmt::bytes(free),
                    fmt::disk_refusal(m)
                ),
                s.warn,
            )),
            Disk::Full => spans.push(Span::styled(
                format!(
                    "⚠ DISK FULL: {} free, uploads refused (free disk; the floor is {}) ",
                    fmt::bytes(free),
                    m.disk_floor.map_or_else(|| "–".to_owned(), fmt::bytes)
                ),
                s.error,
            )),
        }
    }
    spans
}

/// The running redrive, then failing sources with their reason, then the others' ages.
pub fn left<'a>(state: &State) -> Line<'a> {
    let s = &state.theme.s;
    let mut spans = Vec::new();
    if let Some(c) = &state.local.caption {
        spans.push(Span::styled(format!("▶ {c} "), s.title));
    }
    if let Some(EmulatorStatus::Running { restarts, .. }) = &state.local.emulator {
        if *restarts > 0 {
            spans.push(Span::styled(
                format!("emulator restarted {restarts}× (see ?)"),
                s.warn,
            ));
        }
    }
    spans.extend(memory(state));
    spans.extend(redrive(state));
    let running = load(state);
    if !running.is_empty() {
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", s.muted));
        }
        spans.extend(running);
    }
    let sep = |spans: &mut Vec<Span<'a>>| {
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", s.muted));
        }
    };
    for (agent, _) in state.health.failing() {
        let f = state.freshness(agent);
        let age = f
            .age_s
            .map_or_else(String::new, |a| format!(" {}", fmt::secs(a)));
        let reason = f.reason(state.now).unwrap_or_default();
        sep(&mut spans);
        let stale = if Agent::SOURCES.contains(&agent) {
            " STALE"
        } else {
            ""
        };
        spans.push(Span::styled(
            format!("{}{age}{stale} {reason}", agent.label()),
            s.error,
        ));
    }
    for agent in Agent::SOURCES {
        let f = state.freshness(agent);
        if f.failure.is_some() {
            continue;
        }
        sep(&mut spans);
        let age = f.age_s.map_or_else(|| "–".to_owned(), fmt::secs);
        if f.stale {
            spans.push(Span::styled(
                format!("{} {age} STALE", agent.label()),
                s.stale,
            ));
        } else {
            spans.push(Span::styled(format!("{} ", agent.label()), s.status));
            spans.push(Span::styled(age, s.muted));
        }
    }
    Line::from(spans)
}

pub fn right<'a>(state: &State, room: usize) -> Line<'a> {
    let s = &state.theme.s;
    let Some((at, calls)) = &state.calls else {
        return Line::from(Span::styled("AWS –/min ", s.muted));
    };
    let mut spans = vec![Span::styled(format!("AWS {}/min", calls.total()), s.status)];
    if calls.errors() > 0 {
        spans.push(Span::styled(format!(" {} err", calls.errors()), s.error));
    }
    let age = fmt::age_secs(state.now, *at);
    if age > state.config.stale_after.as_secs() {
        spans.push(Span::styled(format!(" {} old", fmt::secs(age)), s.stale));
    }
    // With room, each API's calls, and which failed; with less, which failed.
    let detail: Vec<String> = calls
        .per_api
        .iter()
        .map(|(api, n)| match calls.failed.get(api) {
            Some(f) => format!("{api} {n} ({f} failed)"),
            None => format!("{api} {n}"),
        })
        .collect();
    let detail = format!(" ({})", detail.join(", "));
    let failed: Vec<&str> = calls.failed.keys().map(String::as_str).collect();
    let failed = format!(" in {}", failed.join(", "));
    let base: usize = spans.iter().map(|sp| sp.width()).sum();
    if !calls.per_api.is_empty() && base + detail.chars().count() < room {
        spans.insert(1, Span::styled(detail, s.muted));
    } else if !calls.failed.is_empty() && base + failed.chars().count() < room {
        spans.insert(2, Span::styled(failed, s.error));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    buf.set_style(area, state.theme.s.status);
    let left = left(state);
    // The calls get at most half the line when the left side has something to say.
    let room =
        usize::from(area.width).saturating_sub(left.width().min(usize::from(area.width) / 2) + 1);
    let right = right(state, room);
    let rw = u16::try_from(right.width())
        .unwrap_or(u16::MAX)
        .min(area.width);
    let left_w = area.width.saturating_sub(rw + 1);
    let left = crate::views::table::clip(left, usize::from(left_w.saturating_sub(1)));
    buf.set_line(area.x + 1, area.y, &left, left_w.saturating_sub(1));
    buf.set_line(area.x + area.width - rw, area.y, &right, rw);
}
