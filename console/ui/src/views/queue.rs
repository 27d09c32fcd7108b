//! One queue in detail: every attribute, the redrive policy (or, for a DLQ, its sources), derived
//! rates and backlog, and a depth-over-time chart from the console's own samples.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{charts, common, geometry};
use crate::fmt;
use crate::model::{name_from_arn, Agent, QueueSnapshot};
use crate::state::queues::backlog;
use crate::state::State;

const LABEL_W: usize = 13;

fn lines<'a>(state: &State, q: &QueueSnapshot) -> Vec<Line<'a>> {
    let s = &state.theme.s;
    let kv = |k: &str, v: Vec<Span<'a>>| {
        let mut spans = vec![Span::styled(format!("{k:<LABEL_W$}"), s.muted)];
        spans.extend(v);
        Line::from(spans)
    };
    let plain = |t: String| vec![Span::raw(t)];
    let alarm = q.is_dlq && q.visible > 0;
    let rates = state.flow(&q.name);
    let processed = state.processed_per_minute(&q.name);
    let mut out = vec![
        kv("url", plain(q.url.clone())),
        kv("arn", plain(q.arn.clone())),
        kv(
            "visible",
            vec![Span::styled(
                q.visible.to_string(),
                if alarm { s.warn } else { Style::new() },
            )],
        ),
        kv("in flight", plain(q.in_flight.to_string())),
        kv("delayed", plain(q.delayed.to_string())),
        kv("oldest", {
            let age = state.oldest_age(q);
            let mut spans = vec![Span::raw(
                age.map_or_else(|| "–".to_owned(), |a| fmt::secs(a.secs)),
            )];
            if q.is_dlq {
                spans.push(Span::styled(
                    format!(" of {} retention", fmt::secs(u64::from(q.retention_s))),
                    s.muted,
                ));
            }
            if let Some(t) = age.and_then(|a| a.measured_at) {
                let ago = (state.now() - t).num_seconds().max(0) as u64;
                spans.push(Span::styled(
                    format!("  (SQS's metric, {} ago)", fmt::secs(ago)),
                    s.muted,
                ));
            }
            spans
        }),
        kv(
            "in / out",
            vec![
                Span::raw(format!(
                    "{}/s / {}/s",
                    fmt::rate(rates.map(|r| r.in_per_s)),
                    fmt::rate(rates.map(|r| r.out_per_s))
                )),
                Span::styled(
                    format!(
                        "  (depth changes{}, last {})",
                        if processed.is_some() {
                            " and jobs done"
                        } else {
                            ""
                        },
                        fmt::duration(state.config.rate_window)
                    ),
                    s.muted,
                ),
            ],
        ),
    ];
    if let Some(n) = processed {
        out.push(kv(
            "processed",
            vec![
                Span::raw(format!("{n:.0}/min")),
                Span::styled("  (the workers' JobsSucceeded, last full period)", s.muted),
            ],
        ));
    }
    if let Some(g) = state
        .config
        .pairing
        .group_for(&q.name, &state.groups.list, &state.queues.list)
    {
        let b = backlog(q, g);
        let mut v = vec![Span::raw(
            b.per_instance
                .map_or_else(|| "∞".to_owned(), |v| format!("{v:.1}")),
        )];
        v.push(Span::styled(
            format!(" per worker ({}: {} in service", g.name, b.in_service),
            s.muted,
        ));
        if let Some(t) = b.target {
            v.push(Span::styled(format!(", target {t:.0}"), s.muted));
        }
        v.push(Span::styled(")", s.muted));
        out.push(kv("backlog", v));
    }
    out.push(kv(
        "visibility",
        plain(fmt::secs(u64::from(q.visibility_timeout_s))),
    ));
    out.push(kv("retention", plain(fmt::secs(u64::from(q.retention_s)))));
    out.push(kv(
        "receive wait",
        plain(fmt::secs(u64::from(q.receive_wait_s))),
    ));
    match &q.redrive {
        Some(r) => out.push(kv(
            "redrive",
            vec![
                Span::raw(format!("→ {}", name_from_arn(&r.dlq_arn))),
                Span::styled(format!(" after {} receives", r.max_receive_count), s.muted),
            ],
        )),
        None if !q.is_dlq => out.push(kv("redrive", vec![Span::styled("none", s.muted)])),
        None => {}
    }
    if q.is_dlq {
        let sources: Vec<&str> = state
            .queues
            .sources_of(q)
            .map(|x| x.name.as_str())
            .collect();
        let text = if sources.is_empty() {
            "–".to_owned()
        } else {
            sources.join(", ")
        };
        out.push(kv("dead letters", plain(format!("from {text}"))));
    }
    out
}

/// Lines the attribute pane needs.
pub fn attr_lines(state: &State, q: &QueueSnapshot) -> u16 {
    u16::try_from(lines(state, q).len()).unwrap_or(u16::MAX)
}

pub fn draw(state: &State, name: &str, area: Rect, buf: &mut Buffer) {
    let s = &state.theme.s;
    let Some(q) = state.queues.get(name) else {
        let block = common::block(&state.theme, Line::from(format!(" {name} ")), true);
        let inner = block.inner(area);
        block.render(area, buf);
        common::placeholder(
            buf,
            inner,
            "this queue is not in the latest report",
            s.muted,
        );
        return;
    };
    let text = lines(state, q);
    let n_lines = u16::try_from(text.len()).unwrap_or(u16::MAX);
    let (attrs, chart) = if q.is_dlq {
        let l = geometry::dlq_detail(area, n_lines);
        super::dlq::draw_table(state, &q.name, l.messages, buf);
        (l.attrs, l.chart)
    } else {
        let l = geometry::queue_detail(area, n_lines);
        (l.attrs, l.chart)
    };
    let mut title = vec![Span::styled(format!(" {}", q.name), s.title)];
    if q.is_dlq {
        title.push(Span::styled(
            " dead-letter queue",
            if q.visible > 0 { s.warn } else { s.muted },
        ));
    }
    title.extend(common::freshness(
        &state.theme,
        &state.freshness(Agent::Queues),
    ));
    title.push(Span::raw(" "));
    Paragraph::new(text)
        .block(common::block(&state.theme, Line::from(title), true))
        .render(attrs, buf);
    if chart.height > 0 {
        charts::depth(state, &q.name, chart, buf);
    }
}
