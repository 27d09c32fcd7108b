//! The banner: one line under the top bar while a data source (groups, queues, CPU) is failing
//! or the demo's emulator is down. It says what failed, how old the data on screen is, what to
//! do and where the log is; the panels keep their last data, marked STALE. It goes away by
//! itself with the next successful poll.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget as _;

use crate::fmt;
use crate::model::{Agent, EmulatorStatus, ErrorClass};
use crate::state::State;

/// The banner's text, or `None` while every source is reporting.
pub fn text(state: &State) -> Option<String> {
    parts(state).map(|(head, tail)| format!("{head} · {tail}"))
}

/// Rows the banner takes at `width`: none, one, or up to [`MAX_ROWS`] when one line would cut
/// it.
pub fn rows(state: &State, width: u16) -> u16 {
    u16::try_from(lines(state, width).len()).unwrap_or(0)
}

/// In an outage what to do, the error and the log's path matter more than a chart's rows:
/// the banner takes up to four rows (of 24) rather than cut them.
const MAX_ROWS: usize = 4;

/// The banner's rows at `width`: all on one line when it fits; else what failed on the first
/// and the rest word-wrapped under it, indented, the last row cut when even four are not
/// enough.
fn lines(state: &State, width: u16) -> Vec<String> {
    let Some((head, tail)) = parts(state) else {
        return Vec::new();
    };
    let width = usize::from(width);
    let one = format!(" {head} · {tail}");
    if one.chars().count() <= width {
        return vec![one];
    }
    let mut rows = vec![format!(" {head}")];
    let mut rest = fmt::wrap(&tail, width.saturating_sub(3));
    if rest.len() > MAX_ROWS - 1 {
        let cut = rest[MAX_ROWS - 2..].join(" ");
        rest.truncate(MAX_ROWS - 2);
        rest.push(fmt::truncate(&cut, width.saturating_sub(3)));
    }
    rows.extend(rest.into_iter().map(|row| format!("   {row}")));
    rows
}

/// What failed, how old the data is, when the next try is; then what to do and the error,
/// and where the log is. The demo's emulator, while it is down, comes first.
fn parts(state: &State) -> Option<(String, String)> {
    let (head, mut tail) = match emulator_parts(state) {
        Some(parts) => parts,
        None => source_parts(state)?,
    };
    if let Some(log) = state.notes.log_file() {
        tail.push_str(&format!(" · log: {log}"));
    }
    Some((head, tail))
}

/// How old the failing sources' data is: `data 12s old`, `no data yet`; `None` if none fail.
fn data_age(state: &State) -> Option<String> {
    let failing: Vec<_> = Agent::SOURCES
        .iter()
        .map(|&a| state.freshness(a))
        .filter(|f| f.failure.is_some())
        .collect();
    if failing.is_empty() {
        return None;
    }
    Some(match failing.iter().filter_map(|f| f.age_s).max() {
        Some(age) => format!("data {} old", fmt::secs(age)),
        None => "no data yet".to_owned(),
    })
}

/// The demo's emulator being restarted, or down for good.
fn emulator_parts(state: &State) -> Option<(String, String)> {
    let age = data_age(state).map_or_else(String::new, |a| format!(" · {a}"));
    match state.local.emulator.as_ref()? {
        EmulatorStatus::Running { .. } => None,
        EmulatorStatus::Restarting {
            endpoint,
            why,
            attempt,
            max,
        } => Some((
            format!("⚠ emulator died ({why}){age}"),
            format!(
                "the demo is restarting it on {endpoint} (attempt {attempt} of {max}); the panels recover by themselves"
            ),
        )),
        EmulatorStatus::Down { why, todo } => Some((
            format!("⚠ emulator down: {why}{age}"),
            todo.clone(),
        )),
    }
}

fn source_parts(state: &State) -> Option<(String, String)> {
    let failing: Vec<_> = Agent::SOURCES
        .iter()
        .map(|&a| state.freshness(a))
        .filter(|f| f.failure.is_some())
        .collect();
    let first = failing.first()?;
    let failure = first.failure?;
    let names: Vec<&str> = failing.iter().map(|f| f.agent.label()).collect();
    let shown = data_age(state).unwrap_or_default();
    let retry = failure.retry_in_s(state.now).map(|left| match left {
        0 => "retrying now".to_owned(),
        left => format!("retry in {}", fmt::secs(left)),
    });
    let unreachable = failure.message.contains("unreachable");
    // The demo keeps its own emulator: `local up` is not the operator's move there.
    let demo = state.local.emulator.is_some();
    let (what, todo) = match failure.class {
        ErrorClass::Retryable if unreachable && demo => (
            "AWS unreachable",
            "the demo restarts its emulator if it died; if this lasts, quit (q) and run `flightdeck demo` again",
        ),
        ErrorClass::Retryable if unreachable => (
            "AWS unreachable",
            "is the endpoint up? (local cloud: flightdeck local up; AWS: the network)",
        ),
        ErrorClass::Retryable => ("AWS server errors", "polls continue"),
        ErrorClass::Throttled => (
            "throttled",
            "polls back off; if it lasts, raise [refresh] in config.toml",
        ),
        ErrorClass::Auth => (
            "credentials rejected",
            "renew them (aws sso login, new keys); polls continue",
        ),
        ErrorClass::Permanent => (
            "calls failing",
            "check the names to watch and the IAM permissions",
        ),
        ErrorClass::NotImplemented => ("call not offered", "this endpoint lacks the call"),
    };
    let mut head = format!("⚠ {}: {what} · {shown}", names.join(", "));
    if let Some(retry) = retry {
        head.push_str(&format!(" · {retry}"));
    }
    Some((head, format!("{todo} · {}", failure.message)))
}

pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let style = state.theme.s.error;
    let lines = lines(state, area.width);
    if lines.is_empty() {
        return;
    }
    buf.set_style(area, style);
    for (row, text) in (area.y..area.bottom()).zip(lines) {
        Line::from(Span::styled(text, style)).render(
            Rect {
                y: row,
                height: 1,
                ..area
            },
            buf,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::loaded_state;
    use crate::model::Report;
    use crate::update::update;
    use crate::Event;

    fn fail(state: &mut State, agent: Agent, class: ErrorClass, message: &str) {
        let at = state.now;
        update(
            state,
            Event::Report(Report::AgentError {
                at,
                agent,
                class,
                message: message.to_owned(),
                next_retry_in: Some(std::time::Duration::from_secs(4)),
            }),
        );
    }

    #[test]
    fn no_banner_while_every_source_reports() {
        let state = loaded_state();
        assert_eq!(text(&state), None);
    }

    #[test]
    fn an_unreachable_endpoint_names_the_sources_the_data_age_and_what_to_do() {
        let mut state = loaded_state();
        let msg = "DescribeAutoScalingGroups: endpoint unreachable (connection refused)";
        fail(&mut state, Agent::Groups, ErrorClass::Retryable, msg);
        fail(&mut state, Agent::Queues, ErrorClass::Retryable, msg);
        let t = text(&state).unwrap();
        assert!(t.starts_with("⚠ groups, queues: AWS unreachable · "), "{t}");
        assert!(t.contains("connection refused"), "{t}");
        assert!(
            t.contains(" old · retry in 4s · is the endpoint up?"),
            "{t}"
        );
        assert!(t.contains("flightdeck local up"), "{t}");
        assert!(t.contains("retry in 4s"), "{t}");
    }

    /// At 80 columns the error and the log's path wrap onto rows of their own instead of
    /// being cut at the edge; at most four rows in all, the last one cut.
    #[test]
    fn at_80_columns_the_error_and_the_log_wrap_under_what_failed() {
        let mut state = loaded_state();
        state.set_log_files(vec![(
            "console".into(),
            "/home/operator/.local/state/flightdeck/flightdeck.log".into(),
        )]);
        let msg = "DescribeAutoScalingGroups: endpoint unreachable (connection refused)";
        fail(&mut state, Agent::Groups, ErrorClass::Retryable, msg);
        let shown = lines(&state, 80);
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(shown.iter().all(|r| r.chars().count() <= 80), "{shown:#?}");
        assert!(
            shown[0].starts_with(" ⚠ groups: AWS unreachable"),
            "{shown:#?}"
        );
        let rest = shown[1..].join(" ");
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(rest.contains("connection refused"), "{shown:#?}");
        assert!(
            rest.contains("log: /home/operator/.local/state/flightdeck/flightdeck.log"),
            "{shown:#?}"
        );
        assert_eq!(rows(&state, 400), 1);
        // Very narrow: still four rows, the last cut.
        let narrow = lines(&state, 40);
        assert_eq!(narrow.len(), MAX_ROWS, "{narrow:#?}");
        assert!(narrow[3].ends_with('…'), "{narrow:#?}");
    }

    #[test]
    fn throttling_and_expired_credentials_say_different_things() {
        let mut state = loaded_state();
        fail(
            &mut state,
            Agent::Metrics,
            ErrorClass::Throttled,
            "Rate exceeded",
        );
        assert!(text(&state).unwrap().contains("raise [refresh]"));
        let mut state = loaded_state();
        fail(&mut state, Agent::Groups, ErrorClass::Auth, "ExpiredToken");
        assert!(text(&state).unwrap().contains("renew them"));
    }

    fn emulator(state: &mut State, status: EmulatorStatus) {
        let at = state.now;
        update(state, Event::Report(Report::Emulator { at, status }));
    }

    #[test]
    fn the_demo_says_it_restarts_its_emulator_and_never_to_run_local_up() {
        let mut state = loaded_state();
        state.set_log_files(vec![("console".into(), "/state/flightdeck.log".into())]);
        let endpoint = "http://127.0.0.1:4566".to_owned();
        emulator(
            &mut state,
            EmulatorStatus::Running {
                endpoint: endpoint.clone(),
                pid: Some(7),
                restarts: 0,
                last_restart: None,
            },
        );
        let msg = "DescribeAutoScalingGroups: endpoint unreachable (connection refused)";
        fail(&mut state, Agent::Groups, ErrorClass::Retryable, msg);
        let t = text(&state).unwrap();
        assert!(t.contains("the demo restarts its emulator"), "{t}");
        assert!(t.ends_with("log: /state/flightdeck.log"), "{t}");

        emulator(
            &mut state,
            EmulatorStatus::Restarting {
                endpoint,
                why: "it exited (signal: 9 (SIGKILL))".into(),
                attempt: 1,
                max: 3,
            },
        );
        let t = text(&state).unwrap();
        assert!(
            t.starts_with("⚠ emulator died (it exited (signal: 9 (SIGKILL)))"),
            "{t}"
        );
        assert!(
            t.contains("restarting it on http://127.0.0.1:4566 (attempt 1 of 3)"),
            "{t}"
        );

        emulator(
            &mut state,
            EmulatorStatus::Down {
                why: "it exited (signal: 9) after 3 restarts within 5 min".into(),
                todo: "quit (q) and run `flightdeck demo` again".into(),
            },
        );
        let t = text(&state).unwrap();
        assert!(t.starts_with("⚠ emulator down: it exited"), "{t}");
        assert!(
            t.contains("quit (q) and run `flightdeck demo` again"),
            "{t}"
        );
        assert!(!t.contains("local up"), "{t}");
    }

    #[test]
    fn errors_of_other_agents_do_not_raise_the_banner() {
        let mut state = loaded_state();
        fail(
            &mut state,
            Agent::Dlq,
            ErrorClass::Retryable,
            "ReceiveMessage: boom",
        );
        assert_eq!(text(&state), None);
    }
}
