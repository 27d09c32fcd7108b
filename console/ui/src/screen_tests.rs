//! Whole-screen snapshots on a `TestBackend` with a fixed clock and fixed data (`src/snapshots/`),
//! widget checks against `Buffer`s, and a sweep of sizes that must never panic.

use crossterm::event::KeyCode;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use crate::fixtures::*;
use crate::model::*;
use crate::{render, update, Command, Event, State, ThemeSet, UiConfig};
use std::time::Duration;

pub(crate) fn screen(state: &State, w: u16, h: u16) -> String {
    buffer(state, w, h)
        .content
        .chunks(usize::from(w.max(1)))
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn buffer(state: &State, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(state, f)).unwrap();
    term.backend().buffer().clone()
}

pub(crate) fn sized(mut s: State, w: u16, h: u16) -> State {
    update(&mut s, Event::Resize(w, h));
    s
}

fn keys(s: &mut State, events: Vec<Event>) {
    for e in events {
        update(s, e);
    }
}

#[test]
fn dashboard_80x24() {
    insta::assert_snapshot!(screen(&sized(loaded_state(), 80, 24), 80, 24));
}

#[test]
fn dashboard_160x48() {
    insta::assert_snapshot!(screen(&sized(loaded_state(), 160, 48), 160, 48));
}

#[test]
fn dashboard_120x40_dot_markers_3h_frozen() {
    let mut s = sized(loaded_state(), 120, 40);
    keys(&mut s, vec![key('m'), key('+'), key('f')]);
    insta::assert_snapshot!(screen(&s, 120, 40));
}

#[test]
fn dashboard_before_any_report() {
    insta::assert_snapshot!(screen(&sized(empty_state(), 80, 24), 80, 24));
}

#[test]
fn dashboard_stale_after_throttling_80x24() {
    let mut s = loaded_state();
    feed(
        &mut s,
        [Report::AgentError {
            at: t(20),
            agent: Agent::Metrics,
            class: ErrorClass::Throttled,
            message: "GetMetricData: Rate exceeded".to_owned(),
            next_retry_in: Some(std::time::Duration::from_secs(10)),
        }],
    );
    update(&mut s, Event::Tick(t(45)));
    insta::assert_snapshot!(screen(&sized(s, 80, 24), 80, 24));
}

#[test]
fn group_detail_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    keys(&mut s, vec![key('j'), code(KeyCode::Enter)]);
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn group_detail_160x48() {
    let mut s = sized(loaded_state(), 160, 48);
    keys(&mut s, vec![key('j'), code(KeyCode::Enter)]);
    insta::assert_snapshot!(screen(&s, 160, 48));
}

/// A group whose desired capacity has reached its max (and could scale: min < max) is marked
/// in the groups table (its MIN/DES/MAX in the warning style) and said in its own view; below
/// its max, neither.
#[test]
fn a_group_at_its_max_is_marked_in_the_table_and_said_in_its_view() {
    let (w, h) = (100, 30);
    let capacity_style = |s: &State, text: &str| {
        let buf = buffer(s, w, h);
        let lines: Vec<String> = buf
            .content
            .chunks(usize::from(w))
            .map(|row| row.iter().map(|c| c.symbol()).collect())
            .collect();
        let (y, line) = lines
            .iter()
            .enumerate()
            .find(|(_, l)| l.contains("worker-asg"))
            .expect("the worker row");
        let x = line[..line.find(text).expect(text)].chars().count();
        buf[(u16::try_from(x).unwrap(), u16::try_from(y).unwrap())].style()
    };
    let below = sized(loaded_state(), w, h);
    let warn = below.theme().s.warn;
    assert_ne!(
        capacity_style(&below, "1/2/3").fg,
        warn.fg,
        "2 of 3: not marked"
    );

    let mut at_max = sized(loaded_state(), w, h);
    feed(
        &mut at_max,
        [Report::Groups {
            at: t(-1),
            groups: vec![api(2), worker(3, 2)],
        }],
    );
    assert_eq!(
        capacity_style(&at_max, "1/3/3").fg,
        warn.fg,
        "3 of 3: marked"
    );
    keys(&mut at_max, vec![key('j'), code(KeyCode::Enter)]);
    let text = screen(&at_max, w, h);
    assert!(
        text.contains("at max: no policy can add an instance"),
        "{text}"
    );
    let mut open_below = below;
    keys(&mut open_below, vec![key('j'), code(KeyCode::Enter)]);
    assert!(!screen(&open_below, w, h).contains("at max"));
}

/// A queue whose reading has no oldest age (SQS's never does) shows SQS's metric: `~` in the
/// table, and in the queue's view how old the point is.
#[test]
fn the_oldest_age_from_sqs_metric_is_marked_in_the_table_and_dated_in_the_view() {
    let mut s = sized(loaded_state(), 80, 24);
    let tasks = QueueSnapshot {
        oldest_age_s: None,
        ..tasks(84, 2)
    };
    let series = |value: f64| Report::Metrics {
        at: t(0),
        period_s: 60,
        series: vec![SeriesUpdate {
            key: MetricKey::of("video_tasks", QUEUE_OLDEST_AGE_METRIC),
            points: vec![MetricPoint { t: t(-120), value }],
        }],
    };
    feed(
        &mut s,
        [
            Report::Queues {
                at: t(0),
                queues: vec![tasks, dlq(3)],
            },
            series(312.0),
        ],
    );
    let table = screen(&s, 80, 24);
    let row = table.lines().find(|l| l.contains("video_tasks")).unwrap();
    assert!(row.contains(" ~5m "), "{row}");
    keys(&mut s, vec![code(KeyCode::Tab), code(KeyCode::Enter)]);
    let view = screen(&s, 80, 24);
    assert!(view.contains("5m  (SQS's metric, 2m ago)"), "{view}");
}

#[test]
fn queue_detail_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    keys(&mut s, vec![code(KeyCode::Tab), code(KeyCode::Enter)]);
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn dlq_detail_160x48() {
    let mut s = sized(loaded_state(), 160, 48);
    update(&mut s, key(':'));
    type_text(&mut s, "dlq");
    update(&mut s, code(KeyCode::Enter));
    insta::assert_snapshot!(screen(&s, 160, 48));
}

#[test]
fn help_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    update(&mut s, key('?'));
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn help_160x48() {
    let mut s = sized(loaded_state(), 160, 48);
    update(&mut s, key('?'));
    insta::assert_snapshot!(screen(&s, 160, 48));
}

#[test]
fn command_line_with_candidates_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    update(&mut s, key(':'));
    type_text(&mut s, "theme ");
    update(&mut s, code(KeyCode::Tab));
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn filtered_groups_list_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    update(&mut s, key(':'));
    type_text(&mut s, "groups");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key('/'));
    type_text(&mut s, "work");
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn dashboard_60x16_drops_charts_before_rows() {
    insta::assert_snapshot!(screen(&sized(loaded_state(), 60, 16), 60, 16));
}

#[test]
fn dashboard_40x10_still_shows_the_data() {
    insta::assert_snapshot!(screen(&sized(loaded_state(), 40, 10), 40, 10));
}

/// Every view, overlay and input mode at sizes from nothing to large: drawing must not panic.
#[test]
fn no_size_panics() {
    let base = loaded_state();
    let mut variants: Vec<State> = Vec::new();
    let steps: Vec<Vec<Event>> = vec![
        vec![],
        vec![key('?')],
        vec![key(':'), key('t'), key('h')],
        vec![key('/'), key('w')],
        vec![key('j'), code(KeyCode::Enter)],
        vec![code(KeyCode::Tab), code(KeyCode::Enter)],
        vec![code(KeyCode::Tab), key('j'), code(KeyCode::Enter)],
        vec![
            key(':'),
            key('g'),
            key('r'),
            key('o'),
            key('u'),
            key('p'),
            key('s'),
            code(KeyCode::Enter),
        ],
    ];
    let dlq = || vec![key(':'), key('d'), key('l'), key('q'), code(KeyCode::Enter)];
    let steps: Vec<Vec<Event>> = steps
        .into_iter()
        .chain([
            dlq(),
            [dlq(), vec![code(KeyCode::Enter)]].concat(),
            [dlq(), vec![key(' '), key('R')]].concat(),
            vec![key('s')],
            vec![
                key(':'),
                key('a'),
                key('u'),
                key('d'),
                key('i'),
                key('t'),
                code(KeyCode::Enter),
            ],
        ])
        .collect();
    for events in steps {
        let mut s = base.clone();
        keys(&mut s, events);
        variants.push(s);
    }
    variants.push(empty_state());
    // Dense where layouts degrade, sparse where drawing is slow (charts in a debug build).
    let widths = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144];
    let heights = [0, 1, 2, 3, 4, 5, 7, 10, 14, 20, 30, 50];
    for mut s in variants {
        for w in widths {
            for h in heights {
                update(&mut s, Event::Resize(w, h));
                let _ = buffer(&s, w, h);
            }
        }
    }
}

#[test]
fn dlq_depth_is_drawn_in_the_warning_style() {
    let s = sized(loaded_state(), 80, 24);
    let buf = buffer(&s, 80, 24);
    let warn = s.theme().s.warn;
    // The dlq row is the second queue row (y = 9); its visible count is right-aligned under VISIBLE.
    let row: String = (0..80).map(|x| buf[(x, 9)].symbol().to_owned()).collect();
    let x = u16::try_from(row.chars().position(|c| c == '3').unwrap()).unwrap();
    assert_eq!(buf[(x, 9)].fg, warn.fg.unwrap(), "{row}");
    assert!(buf[(x, 9)].modifier.contains(Modifier::BOLD));
    // The source queue's count is not.
    let row8: String = (0..80).map(|x| buf[(x, 8)].symbol().to_owned()).collect();
    let x8 = u16::try_from(
        row8.chars()
            .collect::<Vec<_>>()
            .windows(2)
            .position(|w| w == ['8', '4'])
            .unwrap(),
    )
    .unwrap();
    assert_ne!(buf[(x8, 8)].fg, Color::Yellow);
}

#[test]
fn no_color_draws_without_colours_but_marks_the_selection() {
    let config = UiConfig {
        no_color: true,
        ..UiConfig::default()
    };
    let mut s = State::new(config, ThemeSet::builtin(), t0()).unwrap();
    let loaded = loaded_state();
    s.groups = loaded.groups.clone();
    s.queues = loaded.queues.clone();
    s.metrics = loaded.metrics.clone();
    s.health = loaded.health.clone();
    let buf = buffer(&sized(s, 80, 24), 80, 24);
    for cell in buf.content.iter() {
        assert!(
            matches!(cell.fg, Color::Reset),
            "fg {:?} on {:?}",
            cell.fg,
            cell.symbol()
        );
        assert!(
            matches!(cell.bg, Color::Reset),
            "bg {:?} on {:?}",
            cell.bg,
            cell.symbol()
        );
    }
    // The selected row (api-asg, y = 3) is reversed.
    assert!(buf[(2, 3)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn status_line_widget() {
    let mut s = loaded_state();
    feed(
        &mut s,
        [Report::AgentError {
            at: t(1),
            agent: Agent::Metrics,
            class: ErrorClass::Auth,
            message: "ExpiredToken".to_owned(),
            next_retry_in: None,
        }],
    );
    let area = Rect::new(0, 0, 100, 1);
    let mut buf = Buffer::empty(area);
    crate::views::status::draw(&s, area, &mut buf);
    let th = &s.theme().s;
    let text = format!(
        "{:<89}{}",
        " cpu 10s STALE auth: ExpiredToken · groups 5s · queues 5s", "AWS 38/min "
    );
    let mut expected = Buffer::with_lines([text.as_str()]);
    expected.set_style(area, th.status);
    // Char columns of each styled stretch.
    let col =
        |needle: &str| u16::try_from(text[..text.find(needle).unwrap()].chars().count()).unwrap();
    let mut style =
        |from: u16, to: u16, st| expected.set_style(Rect::new(from, 0, to - from, 1), st);
    style(col("cpu 10s"), col(" · groups"), th.error);
    style(col(" · groups"), col("groups"), th.muted);
    style(col("5s"), col("queues"), th.muted);
    style(col("queues 5s") + 7, col("queues 5s") + 9, th.muted);
    assert_eq!(buf, expected);
}

fn dlq_open(w: u16, h: u16) -> State {
    let mut s = sized(loaded_state(), w, h);
    update(&mut s, key(':'));
    type_text(&mut s, "dlq");
    update(&mut s, code(KeyCode::Enter));
    s
}

#[test]
fn dlq_marked_messages_and_the_typed_confirm_80x24() {
    let mut s = dlq_open(80, 24);
    keys(&mut s, vec![key(' '), key('j'), key(' '), key('/')]);
    type_text(&mut s, "not");
    keys(&mut s, vec![code(KeyCode::Enter), key(':')]);
    type_text(&mut s, "purge");
    update(&mut s, code(KeyCode::Enter));
    type_text(&mut s, "video_d");
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn dlq_grouped_by_signature_with_a_marked_group_80x24() {
    let mut s = dlq_open(80, 24);
    keys(&mut s, vec![key('S'), key(' ')]);
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn dlq_group_signature_cut_at_80x24_is_whole_below_the_table() {
    let mut s = dlq_open(80, 24);
    keys(&mut s, vec![key('S')]);
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn dlq_grouped_by_signature_160x48() {
    let mut s = dlq_open(160, 48);
    keys(&mut s, vec![key('S'), key('j')]);
    insta::assert_snapshot!(screen(&s, 160, 48));
}

#[test]
fn dlq_message_detail_100x30() {
    let mut s = dlq_open(100, 30);
    keys(&mut s, vec![key('j'), code(KeyCode::Enter)]);
    insta::assert_snapshot!(screen(&s, 100, 30));
}

#[test]
fn capacity_dialog_with_a_refused_value_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    keys(
        &mut s,
        vec![key('j'), key('s'), code(KeyCode::Backspace), key('7')],
    );
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn redrive_progress_on_the_status_line_and_the_audit_view_100x20() {
    let mut s = sized(loaded_state(), 100, 20);
    feed(
        &mut s,
        [
            Report::Redrive {
                at: t(-1),
                status: RedriveStatus {
                    from: "video_dlq".to_owned(),
                    to: "video_tasks".to_owned(),
                    mode: "batch mover".to_owned(),
                    note: None,
                    dry_run: false,
                    moved: 120,
                    remaining: Some(380),
                    duplicates: 0,
                    per_s: 95.0,
                    started: t(-2),
                    state: JobState::Running,
                },
            },
            Report::Audit {
                at: t(-1),
                entries: vec![
                    AuditEntry {
                        at: t(-600),
                        who: "ops".to_owned(),
                        action: "scale".to_owned(),
                        target: "worker-asg".to_owned(),
                        detail: "desired 1 → 2".to_owned(),
                        ok: true,
                        result: "done".to_owned(),
                    },
                    AuditEntry {
                        at: t(-30),
                        who: "ops".to_owned(),
                        action: "redrive".to_owned(),
                        target: "video_dlq".to_owned(),
                        detail: "all → video_tasks".to_owned(),
                        ok: true,
                        result: "started".to_owned(),
                    },
                ],
            },
        ],
    );
    update(&mut s, key(':'));
    type_text(&mut s, "audit");
    update(&mut s, code(KeyCode::Enter));
    insta::assert_snapshot!(screen(&s, 100, 20));
}

#[test]
fn help_in_read_only_mode_lists_no_actions_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    let text = |s: &State| {
        let (keys, cmds) = crate::views::help::lines(s, 76, 76);
        keys.iter()
            .chain(&cmds)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(text(&s).contains(":redrive"));
    s.set_read_only(true);
    let ro = text(&s);
    assert!(
        !ro.contains(":redrive") && !ro.contains(":scale") && !ro.contains("unselect"),
        "{ro}"
    );
    assert!(ro.contains("Read-only"), "{ro}");
}

/// The load view 30 s into a `ramp` run (`finished`: at its end), with these error classes.
fn load_run_state(w: u16, h: u16, errors: &[(&str, u64)], finished: bool) -> State {
    let mut s = sized(loaded_state(), w, h);
    let errors: std::collections::BTreeMap<String, u64> =
        errors.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
    let status = |elapsed: f64, rps: f64, p95: f64| LoadStatus {
        scenario: "ramp".to_owned(),
        phase: if finished { "finished" } else { "running" }.to_owned(),
        finished,
        detail: "stage 2/3: 5 VUs".to_owned(),
        elapsed_s: elapsed,
        planned_s: 60.0,
        sent: 123,
        done: 116,
        ok: 115,
        failed: 1,
        cancelled: 3,
        in_flight: 4,
        waiting: 0,
        not_sent: 0,
        recent: LoadRecent {
            window_s: 10.0,
            covered_s: 10.0,
            rps: Some(rps),
            error_pct: Some(0.8),
            p50_s: Some(0.170),
            p95_s: Some(p95),
            p99_s: Some(0.600),
        },
        rps_mean: 3.9,
        p50_s: Some(0.180),
        p95_s: Some(p95),
        p99_s: Some(0.610),
        statuses: [(201, 115)].into_iter().collect(),
        errors: errors.clone(),
        histogram: vec![
            (Some(50.0), 0),
            (Some(100.0), 12),
            (Some(250.0), 80),
            (Some(500.0), 20),
            (Some(1000.0), 4),
            (None, 0),
        ],
        processed: 40,
        e2e_p50_s: Some(4.2),
        e2e_p95_s: Some(9.8),
        e2e_p99_s: Some(12.5),
        mb_per_min: Some(95.5),
        verdict: None,
        started: Some(t(-30)),
    };
    feed(
        &mut s,
        [Report::LoadScenarios {
            at: t(-40),
            scenarios: vec![
                ScenarioInfo::new("ramp", "0 to 5 VUs over a minute"),
                ScenarioInfo::new("smoke", "1 VU, 3 uploads"),
            ],
            target: Some("the local fleet's API (2)".to_owned()),
            remote_host: None,
        }],
    );
    for i in 0..30 {
        let f = f64::from(i);
        feed(
            &mut s,
            [Report::Load {
                at: t(-30 + i64::from(i)),
                status: Box::new(status(f, 1.0 + f / 6.0, 0.2 + f / 100.0)),
            }],
        );
    }
    update(&mut s, key(':'));
    type_text(&mut s, "load");
    update(&mut s, code(KeyCode::Enter));
    s
}

#[test]
fn load_run_view_120x36() {
    let s = load_run_state(120, 36, &[("timeout", 1)], false);
    insta::assert_snapshot!(screen(&s, 120, 36));
}

/// At 80x24 a running load gets the picker's rows (no second run can start until it ends),
/// so its latency chart and histogram are on screen with the error classes (the req/s chart
/// needs more rows: the summary has the rate); once it ends the picker is back for the next
/// run.
#[test]
fn load_run_view_80x24_shows_the_charts_while_it_runs() {
    let errors = [
        ("http_503/server_busy", 946),
        ("http_503/storage_unavailable", 12),
        ("timeout", 3),
    ];
    let s = load_run_state(80, 24, &errors, false);
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("latency ms p50/p95/p99 over the last 10 s"),
        "{text}"
    );
    assert!(text.contains("Latency histogram"), "{text}");
    assert!(!text.contains("Scenarios ("), "{text}");
    assert!(
        text.contains("http_503/server_busy: 946 · http_503/storage_unavailable: 12"),
        "{text}"
    );
    insta::assert_snapshot!(text);

    let done = screen(&load_run_state(80, 24, &errors, true), 80, 24);
    assert!(done.contains("Scenarios (2)"), "{done}");
    assert!(done.contains("ramp finished"), "{done}");
}

/// Before any run the pane beside the picker is not left empty: it shows the selected
/// scenario whole (the picker cuts long descriptions) and how to start it; on a wide screen
/// the picker itself grows to show whole descriptions.
#[test]
fn before_the_first_run_the_selected_scenario_is_shown_whole() {
    let scenarios = || Report::LoadScenarios {
        at: t(-40),
        scenarios: vec![
            ScenarioInfo::new("smoke", "1 VU, 3 uploads"),
            ScenarioInfo {
                size: "9000 arrivals over 4m".to_owned(),
                thresholds: vec!["p95 < 1s".to_owned(), "errors < 1%".to_owned()],
                ..ScenarioInfo::new(
                    "stress",
                    "Open model: 30 uploads/s for 120 s, then 30 -> 60/s over 120 s (4 MB)",
                )
            },
        ],
        target: Some("the local fleet's API".to_owned()),
        remote_host: None,
    };
    for (w, h) in [(80, 24), (200, 40)] {
        let mut s = sized(loaded_state(), w, h);
        feed(&mut s, [scenarios()]);
        update(&mut s, key(':'));
        type_text(&mut s, "load");
        update(&mut s, code(KeyCode::Enter));
        update(&mut s, key('j'));
        let text = screen(&s, w, h);
        assert!(
            text.contains("30 -> 60/s over 120 s (4 MB)"),
            "the whole description at {w}x{h}:\n{text}"
        );
        assert!(
            text.contains("enter runs it against the local fleet's API"),
            "{text}"
        );
        insta::assert_snapshot!(format!("pick_{w}x{h}"), text);
        // The confirmation says the same before the run starts.
        update(&mut s, code(KeyCode::Enter));
        let text = screen(&s, w, h);
        assert!(
            text.contains("9000 arrivals over 4m · passes if p95 < 1s, errors < 1%."),
            "{text}"
        );
    }
}

#[test]
fn a_cancelled_open_run_shows_where_every_request_went() {
    let mut s = sized(loaded_state(), 120, 36);
    update(&mut s, key(':'));
    type_text(&mut s, "load");
    update(&mut s, code(KeyCode::Enter));
    let status = LoadStatus {
        scenario: "stress".to_owned(),
        phase: "cancelled".to_owned(),
        finished: true,
        detail: "done".to_owned(),
        elapsed_s: 3.4,
        planned_s: 240.0,
        sent: 61,
        done: 41,
        ok: 38,
        failed: 3,
        cancelled: 20,
        in_flight: 0,
        waiting: 0,
        not_sent: 37,
        recent: LoadRecent {
            window_s: 10.0,
            covered_s: 3.4,
            rps: Some(12.1),
            error_pct: Some(7.3),
            p50_s: Some(0.410),
            p95_s: Some(1.900),
            p99_s: Some(2.300),
        },
        rps_mean: 12.1,
        p50_s: Some(0.410),
        p95_s: Some(1.900),
        p99_s: Some(2.300),
        started: Some(t(-4)),
        ..LoadStatus::default()
    };
    feed(
        &mut s,
        [Report::Load {
            at: t(0),
            status: Box::new(status),
        }],
    );
    let text = screen(&s, 120, 36);
    assert!(
        text.contains("requests    61 sent = 38 ok + 3 failed + 20 cancelled + 0 in flight"),
        "{text}"
    );
    assert!(
        text.contains("not sent: 0 waiting for a send slot · 37 never got one"),
        "{text}"
    );
    // Early in a run the window says what it covers.
    assert!(
        text.contains("first 4 s   12.1 req/s · errors 7.3 % · p50 410 ms"),
        "{text}"
    );
    assert!(text.contains("whole run   12.1 req/s mean"), "{text}");
}

fn on_target(mut s: State, profile: Option<&str>, region: &str) -> State {
    update(
        &mut s,
        Event::Report(Report::Target {
            at: t0(),
            seq: 0,
            result: Ok(TargetInfo {
                profile: profile.map(str::to_owned),
                region: region.to_owned(),
                endpoint: None,
                identity: None,
            }),
        }),
    );
    s
}

#[test]
fn header_shows_the_profile_and_region_80x24() {
    let s = on_target(sized(loaded_state(), 80, 24), Some("prod"), "eu-west-1");
    let text = screen(&s, 80, 24);
    assert!(text.lines().next().unwrap().contains("prod · eu-west-1"));
    insta::assert_snapshot!(text);
}

#[test]
fn header_during_a_region_switch_shows_where_it_goes_and_no_old_data_80x24() {
    let mut s = on_target(sized(loaded_state(), 80, 24), None, "us-east-1");
    s.set_profiles(vec!["default".to_owned()]);
    update(&mut s, key(':'));
    type_text(&mut s, "region eu-west-1");
    update(&mut s, code(KeyCode::Enter));
    let text = screen(&s, 80, 24);
    assert!(text.lines().next().unwrap().contains("→ eu-west-1 …"));
    assert!(
        !text.contains("worker-asg"),
        "old-region groups still shown"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn dashboard_with_the_endpoint_down_shows_a_banner_and_stale_data_80x24() {
    let mut s = loaded_state();
    let unreachable = |agent, api: &str| Report::AgentError {
        at: t(10),
        agent,
        class: ErrorClass::Retryable,
        message: format!("{api}: endpoint unreachable (connection refused)"),
        next_retry_in: Some(std::time::Duration::from_secs(8)),
    };
    feed(
        &mut s,
        [
            unreachable(Agent::Groups, "DescribeAutoScalingGroups"),
            unreachable(Agent::Queues, "ListQueues"),
        ],
    );
    update(&mut s, Event::Tick(t(14)));
    insta::assert_snapshot!(screen(&sized(s, 80, 24), 80, 24));
}

/// The demo's fleet on a machine running short: each process's resident set in the instance
/// table, the group's, the emulator's and the machine's memory in the summary, the warning on
/// the status line, said once.
#[test]
fn group_detail_on_a_local_cloud_low_on_memory_100x30() {
    let mut s = sized(loaded_state(), 100, 30);
    let process = |id: &str, pid| FleetProcess {
        instance_id: id.to_owned(),
        group: "worker-asg".to_owned(),
        pid: Some(pid),
        phase: "in service".to_owned(),
        port: None,
    };
    let memory = |available_mib: u64| LocalMemory {
        emulator: Some(2600 << 20),
        console: Some(26 << 20),
        processes: vec![
            ("i-0f9e8d7c6b5a40001".to_owned(), 530 << 20),
            ("i-0f9e8d7c6b5a40002".to_owned(), 610 << 20),
        ],
        total: 24 << 30,
        available: available_mib << 20,
        s3_data: Some(S3Data {
            held: 5_530 << 20,
            cap: 8 << 30,
            evicts_above: (8 << 30) / 10 * 6,
        }),
        disk_free: Some(3 << 30),
        disk_floor: None,
    };
    feed(
        &mut s,
        [
            Report::Fleet {
                at: t(20),
                processes: vec![
                    process("i-0f9e8d7c6b5a40001", 4101),
                    process("i-0f9e8d7c6b5a40002", 4102),
                ],
            },
            Report::LocalMemory {
                at: t(21),
                memory: memory(16 << 10),
            },
        ],
    );
    // The emulator alone is over its limit: low, though the machine has 16 GB free.
    assert_eq!(memory(16 << 10).pressure(), Pressure::Low);
    assert_eq!(memory(2 << 10).pressure(), Pressure::Low);
    assert_eq!(memory(1 << 10).pressure(), Pressure::Critical);
    assert_eq!(
        LocalMemory {
            emulator: Some(400 << 20),
            ..memory(16 << 10)
        }
        .pressure(),
        Pressure::Ok
    );
    keys(&mut s, vec![key('j'), code(KeyCode::Enter)]);
    let text = screen(&s, 100, 30);
    assert!(text.contains("MEM"), "{text}");
    assert!(text.contains("610 MB"), "{text}");
    assert!(text.contains("this group 1.1 GB in 2 processes"), "{text}");
    assert!(text.contains("S3 data 5.4 GB of 8.0 GB"), "{text}");
    assert!(text.contains("disk 3.0 GB free"), "{text}");
    assert!(
        text.contains("⚠ memory low: 16.0 GB free, emulator 2.5 GB"),
        "{text}"
    );
    let warned = |s: &State| {
        s.notes()
            .recent()
            .filter(|n| n.text.starts_with("memory low"))
            .count()
    };
    assert_eq!(warned(&s), 1);
    // The same pressure again is not said again; worse is.
    feed(
        &mut s,
        [Report::LocalMemory {
            at: t(26),
            memory: memory(16 << 10),
        }],
    );
    assert_eq!(warned(&s), 1);
    feed(
        &mut s,
        [Report::LocalMemory {
            at: t(31),
            memory: memory(1 << 10),
        }],
    );
    let text = screen(&s, 100, 30);
    assert!(text.contains("MEMORY CRITICAL: 1.0 GB free"), "{text}");
    insta::assert_snapshot!(text);
}

/// The emulator's data disk running short, with memory to spare: the warning on the status
/// line of the smallest terminal, said once in the notes; at the emulator's floor it says the
/// uploads are refused; each way back is said too.
#[test]
fn disk_low_on_a_local_cloud_is_on_the_status_line_and_said_once_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    let memory = |disk_free_mib: u64| LocalMemory {
        emulator: Some(400 << 20),
        console: Some(26 << 20),
        processes: Vec::new(),
        total: 24 << 30,
        available: 16 << 30,
        s3_data: None,
        disk_free: Some(disk_free_mib << 20),
        disk_floor: Some(2 << 30),
    };
    let said = |s: &State, start: &str| {
        s.notes()
            .recent()
            .filter(|n| n.text.starts_with(start))
            .count()
    };
    let report = |at, free| Report::LocalMemory {
        at: t(at),
        memory: memory(free),
    };
    assert_eq!(memory(4 << 10).disk(), Disk::Ok);
    assert_eq!(memory((4 << 10) - 1).disk(), Disk::Low);
    assert_eq!(memory((2 << 10) + 16).disk(), Disk::Low);
    assert_eq!(memory((2 << 10) + 15).disk(), Disk::Full);
    // Without a known floor: low below 4 GB, never said to be full.
    let unknown = LocalMemory {
        disk_floor: None,
        ..memory(100)
    };
    assert_eq!(unknown.disk(), Disk::Low);
    feed(&mut s, [report(20, 40 << 10)]);
    assert!(!screen(&s, 80, 24).contains("disk low"));
    assert_eq!(said(&s, "disk low"), 0);
    feed(&mut s, [report(21, 3 << 10), report(24, (3 << 10) - 100)]);
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("⚠ disk low: 2.9 GB free (S3 refuses writes below 2.0 GB;"),
        "{text}"
    );
    assert!(!text.contains("memory low"), "{text}");
    assert_eq!(said(&s, "disk low: 3.0 GB free"), 1);
    assert_eq!(said(&s, "disk low"), 1);
    feed(&mut s, [report(26, 2 << 10)]);
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("⚠ DISK FULL: 2.0 GB free, uploads refused"),
        "{text}"
    );
    assert_eq!(said(&s, "disk full: 2.0 GB free"), 1);
    feed(&mut s, [report(28, 3 << 10)]);
    assert!(screen(&s, 80, 24).contains("⚠ disk low: 3.0 GB free"));
    assert_eq!(said(&s, "disk: 3.0 GB free, S3 takes writes again"), 1);
    assert_eq!(said(&s, "disk low"), 1);
    feed(&mut s, [report(31, 10 << 10)]);
    assert!(!screen(&s, 80, 24).contains("disk low"));
    assert_eq!(said(&s, "disk back to normal: 10.0 GB free"), 1);
    feed(&mut s, [report(32, 3 << 10)]);
    insta::assert_snapshot!(screen(&s, 80, 24));
}

/// A load run started on the local cloud while its disk is at the floor: the confirmation
/// says the uploads will be refused before the operator says yes.
#[test]
fn a_load_run_on_a_full_disk_is_warned_of_at_the_confirmation_80x24() {
    let mut s = sized(loaded_state(), 80, 24);
    feed(
        &mut s,
        [
            Report::LoadScenarios {
                at: t(-40),
                scenarios: vec![ScenarioInfo::new("smoke", "1 VU, 3 uploads")],
                target: Some("the local fleet's API (2)".to_owned()),
                remote_host: None,
            },
            Report::LocalMemory {
                at: t(-30),
                memory: LocalMemory {
                    emulator: Some(400 << 20),
                    console: Some(26 << 20),
                    processes: Vec::new(),
                    total: 24 << 30,
                    available: 16 << 30,
                    s3_data: None,
                    disk_free: Some((2 << 30) + (10 << 20)),
                    disk_floor: Some(2 << 30),
                },
            },
        ],
    );
    update(&mut s, key(':'));
    type_text(&mut s, "load smoke");
    update(&mut s, code(KeyCode::Enter));
    let text = screen(&s, 80, 24);
    assert!(text.contains("Start a load run"), "{text}");
    assert!(text.contains("⚠ The local cloud's disk is full"), "{text}");
    assert!(text.contains("the run's uploads will be"), "{text}");
    insta::assert_snapshot!(text);
}

/// The screen's text, then its colours: each cell as a letter naming its style (foreground,
/// background, modifiers), with the key, so a theme's snapshot shows where each colour goes.
pub(crate) fn styled_screen(state: &State, w: u16, h: u16) -> String {
    let buf = buffer(state, w, h);
    let mut styles: Vec<(Color, Color, Modifier)> = Vec::new();
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let grid: Vec<String> = buf
        .content
        .chunks(usize::from(w.max(1)))
        .map(|row| {
            row.iter()
                .map(|c| {
                    let key = (c.fg, c.bg, c.modifier);
                    let i = styles.iter().position(|s| *s == key).unwrap_or_else(|| {
                        styles.push(key);
                        styles.len() - 1
                    });
                    LETTERS.get(i).map_or('?', |l| char::from(*l))
                })
                .collect()
        })
        .collect();
    let legend: Vec<String> = styles
        .iter()
        .enumerate()
        .map(|(i, (fg, bg, m))| {
            let l = LETTERS.get(i).map_or('?', |l| char::from(*l));
            format!("{l}: fg {fg:?} bg {bg:?} {m:?}")
        })
        .collect();
    format!(
        "{}\n\n{}\n\n{}",
        screen(state, w, h),
        legend.join("\n"),
        grid.join("\n")
    )
}

const STORY_SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

/// The demo's story (capacity steps, the queue building, a dead letter, events) at the three
/// sizes the layout steps at, in every built-in theme.
#[test]
fn dashboard_story_in_every_theme() {
    let themes = ThemeSet::builtin();
    for theme in themes.names() {
        for (w, h) in STORY_SIZES {
            let mut s = story_state();
            s.set_theme(theme).unwrap();
            let s = sized(s, w, h);
            insta::assert_snapshot!(
                format!("dashboard_story_{theme}_{w}x{h}"),
                styled_screen(&s, w, h)
            );
        }
    }
}

#[test]
fn the_story_fits_the_window_to_the_data_and_marks_its_events() {
    let small = screen(&sized(story_state(), 80, 24), 80, 24);
    assert!(small.contains("since start 10m"), "{small}");
    assert!(
        small.contains(" story "),
        "one combined chart at 80x24:\n{small}"
    );
    for glyph in ['▲', '▼', '▶', '■', '×', 'R'] {
        assert!(small.contains(glyph), "event {glyph} marked:\n{small}");
    }

    let medium = screen(&sized(story_state(), 120, 40), 120, 40);
    for title in [
        "video_tasks visible 0 · in flight 4 · 14 processed/min",
        "video_dlq dead letters",
        "worker-asg in service",
        "api-asg in service",
        "worker-asg cpu",
    ] {
        assert!(medium.contains(title), "{title} at 120x40:\n{medium}");
    }
    assert!(!medium.contains("Events ("), "no event log at 120x40");

    let full = screen(&sized(story_state(), 200, 60), 200, 60);
    for part in ["Events (7)", "IN SERVICE", "DEPTH", "load steady started"] {
        assert!(full.contains(part), "{part} at 200x60:\n{full}");
    }

    // `+` leaves the fit for the next fixed window, `-` twice comes back to it.
    let mut s = sized(story_state(), 80, 24);
    assert_eq!(
        update(&mut s, key('+')),
        [Command::SetMetricWindow(Duration::from_secs(900))]
    );
    assert!(screen(&s, 80, 24).contains("window 15m"));
    update(&mut s, key('-'));
    assert!(screen(&s, 80, 24).contains("since start 10m"));
}

/// Charts draw their own background: every cell of the chart panel has the theme's chart
/// background, whatever the terminal's is.
#[test]
fn charts_paint_the_theme_background() {
    for theme in ["light", "presentation", "default", "high-contrast"] {
        let mut s = story_state();
        s.set_theme(theme).unwrap();
        let bg = s.theme().s.chart_bg.bg.unwrap();
        let buf = buffer(&sized(s, 120, 40), 120, 40);
        // The middle of the first chart row (below the two tables).
        for (x, y) in [(5, 16), (30, 18), (90, 20), (60, 30)] {
            assert_eq!(buf[(x, y)].bg, bg, "{theme} at ({x}, {y})");
        }
    }
}

fn long_names() -> State {
    let mut s = empty_state();
    let rename = |mut g: GroupSnapshot, name: &str| {
        g.name = name.to_owned();
        g
    };
    feed(
        &mut s,
        [Report::Groups {
            at: t(-5),
            groups: vec![
                rename(
                    api(2),
                    "flightdeck-production-eu-west-1-api-blue-green-canary",
                ),
                rename(
                    worker(2, 2),
                    "flightdeck-production-eu-west-1-video-transcode-workers-gpu",
                ),
            ],
        }],
    );
    update(&mut s, Event::Tick(t0()));
    sized(s, 80, 24)
}

#[test]
fn capacity_dialog_with_long_names_keeps_its_keys_80x24() {
    let mut s = long_names();
    keys(
        &mut s,
        vec![key('j'), key('s'), code(KeyCode::Backspace), key('3')],
    );
    let text = screen(&s, 80, 24);
    assert!(text.contains("enter next · esc cancel"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn confirm_dialog_with_long_names_keeps_its_keys_80x24() {
    let mut s = long_names();
    keys(
        &mut s,
        vec![
            key('j'),
            key('s'),
            code(KeyCode::Backspace),
            key('3'),
            code(KeyCode::Enter),
        ],
    );
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("y / enter: do it · n / esc: cancel"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn dialogs_keep_their_keys_when_the_screen_is_short() {
    for h in [8, 10, 12] {
        let mut s = long_names();
        update(&mut s, Event::Resize(80, h));
        keys(&mut s, vec![key('j'), key('s')]);
        let text = screen(&s, 80, h);
        assert!(text.contains("esc cancel"), "capacity at 80x{h}:\n{text}");
        update(&mut s, code(KeyCode::Enter));
        let text = screen(&s, 80, h);
        assert!(
            text.contains("n / esc: cancel"),
            "confirm at 80x{h}:\n{text}"
        );
    }
}

/// A failed AWS call is counted on the status line, and says which API failed: beside each
/// API's count where the line has room, after the count where it has less.
#[test]
fn failed_calls_name_their_api_on_the_status_line() {
    let mut stats = calls();
    stats.failed.insert("GetMetricData".to_owned(), 1);
    let mut s = sized(loaded_state(), 160, 48);
    feed(&mut s, [Report::Calls { at: t(1), stats }]);
    let last = |text: String| text.lines().last().unwrap_or_default().to_owned();
    let wide = last(screen(&s, 160, 48));
    assert!(wide.contains("GetMetricData 2 (1 failed),"), "{wide}");
    assert!(wide.contains("AWS 38/min"), "{wide}");
    assert!(wide.contains(" 1 err"), "{wide}");
    s = sized(s, 100, 30);
    let narrow = last(screen(&s, 100, 30));
    assert!(
        narrow.contains("AWS 38/min 1 err in GetMetricData"),
        "{narrow}"
    );
}

/// Rows off the screen are not built, but the columns are sized as if they were: a long name
/// far down the queues and groups tables widens its column before it scrolls into view, so the
/// columns do not move as the operator scrolls to it.
#[test]
fn rows_off_the_screen_still_size_the_columns() {
    let mut s = sized(loaded_state(), 120, 30);
    let long = "a-queue-with-a-very-long-name-far-down-the-table";
    let mut queues: Vec<QueueSnapshot> = (0..40)
        .map(|i| QueueSnapshot {
            name: format!("q{i:02}"),
            visible: 7,
            ..tasks(0, 0)
        })
        .collect();
    queues.push(QueueSnapshot {
        name: format!("zz-{long}"),
        visible: 1_234_567,
        ..tasks(0, 0)
    });
    let long_group = "a-group-with-a-very-long-name-far-down";
    let mut groups: Vec<GroupSnapshot> = (0..30)
        .map(|i| GroupSnapshot {
            name: format!("g{i:02}"),
            ..api(1)
        })
        .collect();
    groups.push(GroupSnapshot {
        name: format!("zz-{long_group}"),
        ..api(1)
    });
    let at = s.now + chrono::Duration::seconds(1);
    update(&mut s, Event::Report(Report::Queues { at, queues }));
    update(&mut s, Event::Report(Report::Groups { at, groups }));
    // The header line of each table: where its columns start.
    let header = |s: &State, word: &str| {
        screen(s, 120, 30)
            .lines()
            .find(|l| l.contains(word))
            .unwrap_or_default()
            .to_owned()
    };
    for (view, word, last) in [
        ("queues", "INFLIGHT", long),
        ("groups", "MIN/DES/MAX", long_group),
    ] {
        update(&mut s, Event::Key(KeyCode::Char(':').into()));
        for c in view.chars() {
            update(&mut s, Event::Key(KeyCode::Char(c).into()));
        }
        update(&mut s, Event::Key(KeyCode::Enter.into()));
        let before = header(&s, word);
        assert!(
            !screen(&s, 120, 30).contains(last),
            "{view}: not on screen yet"
        );
        update(&mut s, Event::Key(KeyCode::End.into()));
        assert!(
            screen(&s, 120, 30).contains(last),
            "{view}: scrolled into view"
        );
        assert_eq!(header(&s, word), before, "{view}: the columns stayed put");
    }
}

#[test]
fn a_flash_shows_at_80_columns_in_place_of_the_bars_lesser_items() {
    let mut s = sized(loaded_state(), 80, 24);
    let before = screen(&s, 80, 24);
    let bar = before.lines().next().unwrap().to_owned();
    assert!(bar.contains("? help"), "{bar}");
    s.flash(
        crate::state::Level::Error,
        "unknown theme `nope`: try :theme",
    );
    let bar = screen(&s, 80, 24).lines().next().unwrap().to_owned();
    assert!(bar.starts_with(" flightdeck "), "{bar}");
    assert!(
        bar.trim_end().ends_with("unknown theme `nope`: try :theme"),
        "{bar}"
    );
    // Too long for any room: cut, with the console's name and the view kept.
    let long = "shipping to CloudWatch Logs failed (i-0123456789abcdef0: PutLogEvents took longer than 10s); each stream tries again every 5 s";
    s.flash(crate::state::Level::Warn, long);
    let bar = screen(&s, 80, 24).lines().next().unwrap().to_owned();
    assert!(bar.starts_with(" flightdeck "), "{bar}");
    assert!(
        bar.contains("shipping to CloudWatch Logs failed (i-0123"),
        "{bar}"
    );
    assert!(bar.trim_end().ends_with("… ? for all"), "{bar}");
    assert_eq!(bar.chars().count(), 80);
}

/// News the bar has to cut (a clean redrive's summary at 80 columns) is kept with the notes
/// like a warning, so the key the bar names shows it whole; news that fits is not.
#[test]
fn an_info_flash_the_bar_cuts_is_kept_whole_with_the_notes() {
    let long = "redrive done: moved 1,250 to flightdeck-video-tasks-production-eu-west-1";
    let kept = |s: &State, text: &str| s.notes().recent().any(|n| n.text == text);
    let mut s = sized(loaded_state(), 80, 24);
    assert!(s.flash_room(80) < long.chars().count());
    s.flash(crate::state::Level::Info, long);
    assert!(kept(&s, long), "cut at 80 columns: kept");
    let bar = screen(&s, 80, 24).lines().next().unwrap().to_owned();
    assert!(bar.contains("redrive done: moved 1,250 to"), "{bar}");
    assert!(bar.trim_end().ends_with("… ? for all"), "{bar}");
    s.flash(crate::state::Level::Info, "theme light");
    assert!(!kept(&s, "theme light"), "short news is not kept");

    let mut wide = sized(loaded_state(), 200, 50);
    wide.flash(crate::state::Level::Info, long);
    assert!(!kept(&wide, long), "whole in a wide bar: not kept");
    let bar = screen(&wide, 200, 50).lines().next().unwrap().to_owned();
    assert!(bar.trim_end().ends_with(long), "{bar}");
    // The terminal narrows while it shows: the bar cuts it now, so it is kept now, once.
    update(&mut wide, Event::Resize(80, 24));
    assert!(kept(&wide, long), "cut after a resize: kept");
    update(&mut wide, Event::Resize(70, 24));
    assert_eq!(wide.notes().recent().filter(|n| n.text == long).count(), 1);
    let bar = screen(&wide, 80, 24).lines().next().unwrap().to_owned();
    assert!(bar.trim_end().ends_with("… ? for all"), "{bar}");
}
