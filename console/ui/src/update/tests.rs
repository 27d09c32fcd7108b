//! Unit tests of `update`: keys, commands, mouse, reports, staleness, derived data.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::fixtures::*;
use crate::model::*;
use crate::state::groups::ChangeKind;
use crate::state::nav::{Pane, TableId, View};
use crate::state::prompt::Input;
use crate::state::queues::Rates;
use crate::state::Level;
use crate::{update, Command, Event, State, ThemeSet, UiConfig};

fn selected(s: &State, table: TableId) -> Option<String> {
    s.selected_key(table)
}

fn click(s: &mut State, x: u16, y: u16) -> Vec<Command> {
    update(
        s,
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

fn wheel(s: &mut State, down: bool, x: u16, y: u16) -> Vec<Command> {
    let kind = if down {
        MouseEventKind::ScrollDown
    } else {
        MouseEventKind::ScrollUp
    };
    update(
        s,
        Event::Mouse(MouseEvent {
            kind,
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

#[test]
fn j_k_and_arrows_move_the_selection_within_bounds() {
    let mut s = loaded_state();
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("api-asg"));
    update(&mut s, key('j'));
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("worker-asg"));
    update(&mut s, code(KeyCode::Down));
    assert_eq!(
        selected(&s, TableId::Groups).as_deref(),
        Some("worker-asg"),
        "stops at the last row"
    );
    update(&mut s, key('k'));
    update(&mut s, code(KeyCode::Up));
    assert_eq!(
        selected(&s, TableId::Groups).as_deref(),
        Some("api-asg"),
        "stops at the first row"
    );
    update(&mut s, key('G'));
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("worker-asg"));
}

#[test]
fn the_selection_follows_its_row_when_rows_reorder() {
    let mut s = loaded_state();
    update(&mut s, key('j'));
    // A new group sorting first shifts worker-asg down; the selection stays on it.
    let mut batch = api(2);
    batch.name = "batch-asg".to_owned();
    feed(
        &mut s,
        [Report::Groups {
            at: t(1),
            groups: vec![batch, api(2), worker(2, 2)],
        }],
    );
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("worker-asg"));
}

#[test]
fn tab_switches_pane_and_enter_drills_in_and_esc_comes_back() {
    let mut s = loaded_state();
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.nav.focus, Pane::Queues);
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view(), &View::Queue("video_tasks".to_owned()));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.view(), &View::Dashboard);
    update(&mut s, code(KeyCode::BackTab));
    assert_eq!(s.nav.focus, Pane::Groups);
    update(&mut s, key('j'));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view(), &View::Group("worker-asg".to_owned()));
    update(&mut s, key('j'));
    assert_eq!(
        selected(&s, TableId::Instances).as_deref(),
        Some("i-0f9e8d7c6b5a40002")
    );
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(
        s.view(),
        &View::Dashboard,
        "esc at the dashboard stays there"
    );
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut s = loaded_state();
    assert_eq!(update(&mut s, key('q')), [Command::Quit]);
    assert!(s.should_quit());
    let mut s = loaded_state();
    let ctrl_c = Event::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    ));
    assert_eq!(update(&mut s, ctrl_c), [Command::Quit]);
}

#[test]
fn plus_and_minus_cycle_windows_and_tell_the_metrics_agent() {
    let mut s = loaded_state();
    assert_eq!(
        s.initial_commands(),
        [Command::SetMetricWindow(Duration::from_secs(3600))]
    );
    assert_eq!(
        update(&mut s, key('+')),
        [Command::SetMetricWindow(Duration::from_secs(3 * 3600))]
    );
    assert_eq!(
        update(&mut s, key('+')),
        [Command::SetMetricWindow(Duration::from_secs(24 * 3600))]
    );
    assert_eq!(update(&mut s, key('+')), [], "no window past 24h");
    for _ in 0..3 {
        update(&mut s, key('-'));
    }
    assert_eq!(s.chart.window, Duration::from_secs(15 * 60));
    assert_eq!(
        update(&mut s, key('-')),
        [Command::SetMetricWindow(Duration::from_secs(3600))],
        "below 15m: back to fitting the data, which fetches the last hour"
    );
    assert!(s.chart.fit);
    assert_eq!(update(&mut s, key('-')), []);
}

#[test]
fn f_freezes_the_charts_at_the_current_tick() {
    let mut s = loaded_state();
    update(&mut s, key('f'));
    update(&mut s, Event::Tick(t(30)));
    assert_eq!(s.chart.frozen_at, Some(t0()));
    assert_eq!(s.chart.end(s.now), t0());
    update(&mut s, key('f'));
    assert_eq!(s.chart.end(s.now), t(30));
}

#[test]
fn help_opens_scrolls_and_closes() {
    let mut s = loaded_state();
    update(&mut s, key('?'));
    assert_eq!(s.help, Some(0));
    update(&mut s, key('j'));
    assert_eq!(s.help, Some(1));
    assert_eq!(
        selected(&s, TableId::Groups).as_deref(),
        Some("api-asg"),
        "keys go to the help, not the table"
    );
    for _ in 0..100 {
        update(&mut s, key('j'));
    }
    let bottom = s.help.unwrap();
    let body =
        crate::views::layout::screen(&s, ratatui::layout::Rect::new(0, 0, s.size.0, s.size.1)).body;
    assert_eq!(
        bottom,
        crate::views::help::max_scroll(&s, body),
        "scrolling stops at the end of the help"
    );
    assert!(bottom > 1);
    update(&mut s, key('k'));
    assert_eq!(s.help, Some(bottom - 1));
    update(&mut s, key('g'));
    assert_eq!(s.help, Some(0), "g: the top of the help");
    update(&mut s, key('G'));
    assert_eq!(s.help, Some(bottom), "G: the end of the help");
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.help, None);
}

#[test]
fn queue_rates_come_from_successive_samples() {
    let s = loaded_state();
    // Totals 62 -> 98 -> 88 over 60 s: 36 in, 10 out.
    let r = s
        .queues
        .rates("video_tasks", Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        r,
        Rates {
            in_per_s: 36.0 / 60.0,
            out_per_s: 10.0 / 60.0
        }
    );
    // Only the last 30 s: 98 -> 88.
    let r = s
        .queues
        .rates("video_tasks", Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        r,
        Rates {
            in_per_s: 0.0,
            out_per_s: 10.0 / 30.0
        }
    );
    let mut fresh = empty_state();
    feed(
        &mut fresh,
        [Report::Queues {
            at: t0(),
            queues: vec![tasks(5, 0)],
        }],
    );
    assert_eq!(
        fresh.queues.rates("video_tasks", Duration::from_secs(60)),
        None,
        "one sample gives no rate"
    );
}

#[test]
fn observed_capacity_changes_are_derived_from_successive_reports() {
    let s = loaded_state();
    let changes: Vec<_> = s
        .groups
        .changes("worker-asg")
        .map(|c| (c.at, c.kind))
        .collect();
    assert_eq!(
        changes,
        [
            (t(-120), ChangeKind::Desired { from: 1, to: 2 }),
            (t(-5), ChangeKind::InService { from: 1, to: 2 })
        ]
    );
    assert_eq!(
        s.groups.changes("api-asg").count(),
        0,
        "the first report is a baseline, not a change"
    );
    assert_eq!(
        s.groups
            .last_change("worker-asg")
            .map(|c| c.kind.to_string())
            .as_deref(),
        Some("in service 1→2")
    );

    let mut s = s;
    let mut bigger = api(2);
    bigger.max = 6;
    feed(
        &mut s,
        [Report::Groups {
            at: t(10),
            groups: vec![bigger, worker(2, 2)],
        }],
    );
    assert_eq!(
        s.groups.last_change("api-asg").map(|c| c.kind),
        Some(ChangeKind::Bounds {
            min: (2, 2),
            max: (4, 6)
        })
    );
}

#[test]
fn superseded_reports_are_dropped() {
    let mut s = loaded_state();
    feed(
        &mut s,
        [Report::Groups {
            at: t(-200),
            groups: vec![api(3)],
        }],
    );
    assert_eq!(s.groups.list.len(), 2);
    assert_eq!(s.groups.get("api-asg").map(|g| g.desired), Some(2));
    assert_eq!(s.groups.at, Some(t(-5)));
}

#[test]
fn an_agent_error_keeps_the_data_and_marks_it_stale_with_a_reason() {
    let mut s = loaded_state();
    assert!(!s.freshness(Agent::Groups).stale);
    feed(
        &mut s,
        [Report::AgentError {
            at: t(1),
            agent: Agent::Groups,
            class: ErrorClass::Throttled,
            message: "Rate exceeded".to_owned(),
            next_retry_in: Some(Duration::from_secs(8)),
        }],
    );
    update(&mut s, Event::Tick(t(3)));
    let f = s.freshness(Agent::Groups);
    assert!(f.stale);
    assert_eq!(f.age_s, Some(8));
    assert_eq!(
        f.reason(s.now).as_deref(),
        Some("throttled: Rate exceeded, retry in 6s")
    );
    assert_eq!(s.groups.list.len(), 2, "the last data stays on screen");

    feed(
        &mut s,
        [Report::Groups {
            at: t(4),
            groups: vec![api(2), worker(2, 2)],
        }],
    );
    assert!(
        !s.freshness(Agent::Groups).stale,
        "a good report clears the error"
    );
}

#[test]
fn data_past_stale_after_is_stale_without_an_error() {
    let mut s = loaded_state();
    update(&mut s, Event::Tick(t(25)));
    assert!(!s.freshness(Agent::Queues).stale, "30 s old is still fresh");
    update(&mut s, Event::Tick(t(26)));
    assert!(s.freshness(Agent::Queues).stale);
    assert_eq!(s.freshness(Agent::Queues).failure, None);
    assert!(
        !empty_state().freshness(Agent::Queues).stale,
        "no data yet is waiting, not stale"
    );
}

#[test]
fn filter_narrows_live_esc_restores_enter_keeps() {
    let mut s = loaded_state();
    update(&mut s, key('/'));
    type_text(&mut s, "WORK");
    assert_eq!(
        s.row_keys(TableId::Groups),
        ["worker-asg"],
        "case-insensitive, applied while typing"
    );
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(
        s.row_keys(TableId::Groups).len(),
        2,
        "esc restores the previous filter"
    );

    update(&mut s, key('/'));
    type_text(&mut s, "api");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.input, Input::Normal);
    assert_eq!(s.row_keys(TableId::Groups), ["api-asg"]);
    update(&mut s, key('j'));
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("api-asg"));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(
        s.row_keys(TableId::Groups).len(),
        2,
        "esc clears an applied filter before going back"
    );
}

#[test]
fn filter_applies_to_the_focused_table_only() {
    let mut s = loaded_state();
    update(&mut s, code(KeyCode::Tab));
    update(&mut s, key('/'));
    type_text(&mut s, "dlq");
    assert_eq!(s.row_keys(TableId::Queues), ["video_dlq"]);
    assert_eq!(s.row_keys(TableId::Groups).len(), 2);
}

#[test]
fn command_mode_completes_and_runs() {
    let mut s = loaded_state();
    update(&mut s, key(':'));
    type_text(&mut s, "th");
    update(&mut s, code(KeyCode::Tab));
    type_text(&mut s, "li");
    update(&mut s, code(KeyCode::Tab));
    assert!(
        matches!(&s.input, Input::Command(line) if line.text == "theme light"),
        "{:?}",
        s.input
    );
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.theme().name, "light");
    assert_eq!(
        s.current_flash().map(|f| f.text.as_str()),
        Some("theme light")
    );
}

#[test]
fn commands_navigate_and_report_mistakes() {
    let mut s = loaded_state();
    update(&mut s, key(':'));
    type_text(&mut s, "queues");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view(), &View::Queues);
    update(&mut s, key(':'));
    type_text(&mut s, "group work");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        s.view(),
        &View::Group("worker-asg".to_owned()),
        "a unique prefix is enough"
    );
    update(&mut s, key(':'));
    type_text(&mut s, "bogus");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        s.current_flash().map(|f| f.text.as_str()),
        Some("unknown command `bogus` (:help lists them)")
    );
    update(&mut s, key(':'));
    type_text(&mut s, "theme neon");
    update(&mut s, code(KeyCode::Enter));
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.starts_with("no theme named `neon`")));
    assert_eq!(s.theme().name, "default");
    update(&mut s, Event::Tick(t(6)));
    assert_eq!(s.current_flash(), None, "flashes fade");
    update(&mut s, key(':'));
    update(&mut s, code(KeyCode::Backspace));
    assert_eq!(
        s.input,
        Input::Normal,
        "backspace on an empty line leaves command mode"
    );
}

#[test]
fn dlq_command_opens_the_dlq_and_peeking_follows_the_view() {
    let mut s = loaded_state();
    update(&mut s, key(':'));
    type_text(&mut s, "dlq");
    let out = but_rows(update(&mut s, code(KeyCode::Enter)));
    assert_eq!(s.view(), &View::Queue("video_dlq".to_owned()));
    assert_eq!(out, [Command::PeekDlq(Some("video_dlq".to_owned()))]);
    assert_eq!(
        but_rows(update(&mut s, code(KeyCode::Esc))),
        [Command::PeekDlq(None)]
    );
    assert_eq!(
        update(&mut s, key(':')),
        [],
        "no peek command without a change"
    );
}

#[test]
fn window_and_refresh_commands_reach_the_agents() {
    let mut s = loaded_state();
    update(&mut s, key(':'));
    type_text(&mut s, "window 15m");
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        [Command::SetMetricWindow(Duration::from_secs(900))]
    );
    assert_eq!(update(&mut s, key('r')), [Command::RefreshNow]);
}

#[test]
fn clicks_select_rows_and_focus_tables_and_the_wheel_scrolls() {
    let mut s = loaded_state();
    update(&mut s, Event::Resize(80, 24));
    // Top bar at y=0, groups block y=1..=5: border, header, rows at y=3 and y=4.
    click(&mut s, 10, 4);
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("worker-asg"));
    // Queues block starts at y=6: rows at y=8 and y=9.
    click(&mut s, 10, 9);
    assert_eq!(s.nav.focus, Pane::Queues);
    assert_eq!(selected(&s, TableId::Queues).as_deref(), Some("video_dlq"));
    wheel(&mut s, false, 10, 8);
    assert_eq!(
        selected(&s, TableId::Queues).as_deref(),
        Some("video_tasks")
    );
    wheel(&mut s, true, 10, 3);
    assert_eq!(
        s.nav.focus,
        Pane::Groups,
        "the wheel acts on the table under the pointer"
    );
    click(&mut s, 10, 20);
    assert_eq!(
        s.nav.focus,
        Pane::Groups,
        "a click on a chart changes nothing"
    );
}

#[test]
fn long_tables_scroll_to_keep_the_selection_visible() {
    let mut s = empty_state();
    let groups: Vec<_> = (0..40)
        .map(|i| {
            let mut g = api(2);
            g.name = format!("group-{i:02}");
            g
        })
        .collect();
    feed(&mut s, [Report::Groups { at: t0(), groups }]);
    update(&mut s, Event::Resize(80, 24));
    update(&mut s, key(':'));
    type_text(&mut s, "groups");
    update(&mut s, code(KeyCode::Enter));
    // Body is 22 rows: the table shows 22 - 3 = 19 rows.
    update(&mut s, code(KeyCode::PageDown));
    assert_eq!(selected(&s, TableId::Groups).as_deref(), Some("group-19"));
    assert_eq!(s.nav.selection(TableId::Groups).offset, 1);
    click(&mut s, 5, 3);
    assert_eq!(
        selected(&s, TableId::Groups).as_deref(),
        Some("group-01"),
        "clicks account for the scroll"
    );
    update(&mut s, key('G'));
    assert_eq!(s.nav.selection(TableId::Groups).offset, 21);
}

#[test]
fn pairing_defaults_to_the_worker_group_and_can_be_configured() {
    let s = loaded_state();
    let pairing = &s.config.pairing;
    assert_eq!(
        pairing
            .queue_for("worker-asg", &s.queues.list)
            .map(|q| q.name.as_str()),
        Some("video_tasks")
    );
    assert_eq!(pairing.queue_for("api-asg", &s.queues.list), None);
    let g = s.groups.get("worker-asg").unwrap();
    let q = s.queues.get("video_tasks").unwrap();
    let b = crate::state::queues::backlog(q, g);
    assert_eq!((b.per_instance, b.target), (Some(42.0), Some(10.0)));

    let config = UiConfig::from_toml(
        "[pairing]\napi-asg = \"video_dlq\"\n",
        std::path::Path::new("c.toml"),
    )
    .unwrap();
    let s2 = State::new(config, ThemeSet::builtin(), t0()).unwrap();
    assert_eq!(
        s2.config
            .pairing
            .queue_for("api-asg", &s.queues.list)
            .map(|q| q.name.as_str()),
        Some("video_dlq")
    );
}

#[test]
fn no_color_survives_theme_switches() {
    let config = UiConfig {
        no_color: true,
        ..UiConfig::default()
    };
    let mut s = State::new(config, ThemeSet::builtin(), t0()).unwrap();
    assert_eq!(s.theme().s.warn.fg, None);
    update(&mut s, key(':'));
    type_text(&mut s, "theme presentation");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.theme().name, "presentation");
    assert_eq!(
        (s.theme().s.selected.fg, s.theme().s.selected.bg),
        (None, None)
    );
}

#[test]
fn an_unknown_configured_theme_is_an_error() {
    let config = UiConfig {
        theme: "neon".to_owned(),
        ..UiConfig::default()
    };
    let err = State::new(config, ThemeSet::builtin(), t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no theme named `neon` (known: default, high-contrast, light, presentation)"
    );
}

#[test]
fn metrics_merge_incrementally_and_replace_revised_points() {
    let mut s = loaded_state();
    let key = MetricKey::group_cpu("api-asg");
    let before = s.metrics.range(&key, t(-7200), t0()).len();
    feed(
        &mut s,
        [Report::Metrics {
            at: t(60),
            period_s: 60,
            series: vec![SeriesUpdate {
                key: key.clone(),
                points: vec![
                    MetricPoint {
                        t: t0(),
                        value: 77.0,
                    },
                    MetricPoint {
                        t: t(60),
                        value: 80.0,
                    },
                ],
            }],
        }],
    );
    assert_eq!(s.metrics.range(&key, t(-7200), t(60)).len(), before + 1);
    assert_eq!(s.metrics.range(&key, t0(), t0())[0].value, 77.0);
}

fn open_dlq(s: &mut State) {
    update(s, key(':'));
    type_text(s, "dlq");
    update(s, code(KeyCode::Enter));
}

fn ctrl(c: char) -> Event {
    Event::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    ))
}

#[test]
fn the_dlq_view_lists_messages_and_filters_them_with_the_dlq_language() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    assert_eq!(s.nav.table(), Some(TableId::Messages));
    assert_eq!(s.message_rows().len(), 3);
    update(&mut s, key('/'));
    type_text(&mut s, "age>10m attr.failure_reason~video");
    update(&mut s, code(KeyCode::Enter));
    let ids: Vec<&str> = s.message_rows().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["3f2a9c1e-0000-4000-8000-000000000001"]);
    // A filter being typed wrong shows nothing rather than everything.
    update(&mut s, key('/'));
    type_text(&mut s, " age>soon");
    assert!(s.message_rows().is_empty());
    assert!(s.message_filter().is_err());
}

#[test]
fn space_marks_messages_and_r_redrives_exactly_those_after_a_plain_confirm() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, key(' '));
    update(&mut s, key(' '));
    assert_eq!(s.dlq.marked.len(), 2);
    assert!(
        update(&mut s, key('R')).is_empty(),
        "nothing is sent before the confirm"
    );
    assert!(matches!(s.input, Input::Confirm(_)));
    let out = update(&mut s, key('y'));
    assert_eq!(
        out,
        [Command::Redrive(crate::event::RedriveRequest {
            dlq: "video_dlq".to_owned(),
            to: Some("video_tasks".to_owned()),
            selection: crate::event::MessageSelection::Ids(vec![
                "3f2a9c1e-0000-4000-8000-000000000001".to_owned(),
                "7b41d0aa-0000-4000-8000-000000000002".to_owned(),
            ]),
            dry_run: false,
            edited_body: None,
        })]
    );
    assert!(s.dlq.marked.is_empty(), "sent messages leave the selection");
}

#[test]
fn s_groups_the_dlq_by_signature_and_a_marked_group_is_what_r_and_ctrl_d_act_on() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, key('S'));
    assert!(s.dlq.grouped);
    let groups = s.signature_groups();
    let texts: Vec<(usize, &str)> = groups
        .iter()
        .map(|g| (g.count, g.signature.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (2, "not a video: no mp4, mov or avi container (permanent)"),
            (1, "corrupt: invalid nal unit size (permanent)"),
        ]
    );
    assert_eq!(
        s.row_keys(TableId::Messages),
        [
            groups[0].signature.id.clone(),
            groups[1].signature.id.clone()
        ]
    );
    // space on the first group marks both of its messages, and only them.
    update(&mut s, key(' '));
    let first: Vec<String> = groups[0].ids.clone();
    assert_eq!(s.dlq.marked.iter().cloned().collect::<Vec<_>>(), first);
    update(&mut s, key('R'));
    assert!(matches!(s.input, Input::Confirm(_)));
    let out = update(&mut s, key('y'));
    let [Command::Redrive(req)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(req.selection, crate::event::MessageSelection::Ids(first));

    // The cursor moved on to the second group: space marks it, again unmarks it; ctrl-d
    // deletes exactly the marked group.
    assert!(s.dlq.marked.is_empty(), "sent messages leave the selection");
    update(&mut s, key(' '));
    let second: Vec<String> = groups[1].ids.clone();
    assert_eq!(s.dlq.marked.iter().cloned().collect::<Vec<_>>(), second);
    update(&mut s, key(' '));
    assert!(
        s.dlq.marked.is_empty(),
        "space on a marked group unmarks it"
    );
    update(&mut s, key(' '));
    update(&mut s, ctrl('d'));
    let Input::Confirm(dialog) = &s.input else {
        panic!("ctrl-d asks first");
    };
    assert!(
        matches!(&dialog.pending, crate::state::actions::Pending::Delete { ids, .. } if *ids == second),
        "{:?}",
        dialog.pending
    );

    // enter on a group shows its messages: the filter that selects exactly it.
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, key('S'));
    update(&mut s, code(KeyCode::Enter));
    assert!(!s.dlq.grouped);
    assert_eq!(
        s.nav.filter(TableId::Messages),
        format!("signature={}", groups[0].signature.id)
    );
    let ids: Vec<String> = s.message_rows().iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, groups[0].ids);
    // S again outside the DLQ view does nothing.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('S'));
    assert!(!s.dlq.grouped);
}

#[test]
fn a_bulk_redrive_needs_the_queue_name_typed_and_can_be_a_dry_run() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, key('R'));
    // `y` is just a letter of the name here.
    assert!(update(&mut s, key('y')).is_empty());
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert!(
        matches!(s.input, Input::Confirm(_)),
        "a wrong name keeps the dialog open"
    );
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Tab));
    type_text(&mut s, "video_dlq");
    let out = update(&mut s, code(KeyCode::Enter));
    let [Command::Redrive(req)] = out.as_slice() else {
        panic!("expected a redrive, got {out:?}");
    };
    assert_eq!(req.selection, crate::event::MessageSelection::All);
    assert!(req.dry_run);
}

#[test]
fn a_filtered_redrive_sends_the_filter_and_esc_cancels_without_sending() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, key('/'));
    type_text(&mut s, "receives>2");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key('R'));
    // Nothing is sent to AWS; the cancel is audited.
    let out = update(&mut s, code(KeyCode::Esc));
    let [Command::Audited {
        action,
        target,
        result,
        detail,
    }] = out.as_slice()
    else {
        panic!("expected only an audit of the cancel, got {out:?}");
    };
    assert_eq!(
        (action.as_str(), target.as_str(), result.as_str()),
        ("dlq.redrive", "video_dlq", "cancelled")
    );
    assert!(detail.contains("cancelled at the confirmation"), "{detail}");
    assert_eq!(s.input, Input::Normal);
    update(&mut s, key('R'));
    type_text(&mut s, "video_dlq");
    let out = update(&mut s, code(KeyCode::Enter));
    let [Command::Redrive(req)] = out.as_slice() else {
        panic!("expected a redrive, got {out:?}");
    };
    assert_eq!(
        req.selection,
        crate::event::MessageSelection::Filter("receives>2".to_owned())
    );
}

#[test]
fn enter_opens_a_message_and_ctrl_d_deletes_it_after_typing_the_queue() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        s.view(),
        &View::Message(
            "video_dlq".to_owned(),
            "3f2a9c1e-0000-4000-8000-000000000001".to_owned()
        )
    );
    update(&mut s, ctrl('d'));
    type_text(&mut s, "video_dlq");
    let out = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        out,
        [Command::DeleteMessages {
            queue: "video_dlq".to_owned(),
            ids: vec!["3f2a9c1e-0000-4000-8000-000000000001".to_owned()],
        }]
    );
}

#[test]
fn the_capacity_dialog_refuses_values_outside_min_max() {
    let mut s = loaded_state();
    update(&mut s, key('j'));
    update(&mut s, key('s'));
    let Input::Capacity(d) = &s.input else {
        panic!("expected the capacity dialog");
    };
    assert_eq!((d.group.as_str(), d.value.as_str()), ("worker-asg", "2"));
    update(&mut s, code(KeyCode::Backspace));
    type_text(&mut s, "9");
    // Refused before anything is sent, and audited with the reason.
    let out = update(&mut s, code(KeyCode::Enter));
    let [Command::Audited {
        action,
        target,
        result,
        detail,
    }] = out.as_slice()
    else {
        panic!("expected only an audit of the refusal, got {out:?}");
    };
    assert_eq!(
        (action.as_str(), target.as_str(), result.as_str()),
        ("scale", "worker-asg", "refused")
    );
    assert!(
        detail.contains("`9` refused") && detail.contains("1..3"),
        "{detail}"
    );
    let Input::Capacity(d) = &s.input else {
        panic!("the dialog stays open on a bad value");
    };
    assert!(
        d.error.as_deref().unwrap_or("").contains("1..3"),
        "{:?}",
        d.error
    );
    update(&mut s, code(KeyCode::Backspace));
    type_text(&mut s, "3");
    update(&mut s, code(KeyCode::Enter));
    assert!(matches!(s.input, Input::Confirm(_)));
    let out = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        out,
        [Command::SetDesiredCapacity {
            group: "worker-asg".to_owned(),
            desired: 3,
            honor_cooldown: false,
        }]
    );
}

#[test]
fn scaling_to_zero_needs_the_group_name() {
    let mut s = loaded_state();
    update(&mut s, key(':'));
    type_text(&mut s, "scale api-asg");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, code(KeyCode::Backspace));
    // api-asg is 2/2/4 in the fixtures: 0 is below min, so the dialog refuses it.
    type_text(&mut s, "0");
    update(&mut s, code(KeyCode::Enter));
    assert!(matches!(s.input, Input::Capacity(_)));
}

#[test]
fn read_only_refuses_every_action_in_the_ui() {
    let mut s = loaded_state();
    s.set_read_only(true);
    // Each refusal sends nothing to AWS and is audited with its reason.
    let refused = |out: Vec<Command>, action: &str| {
        let [Command::Audited {
            action: a,
            result,
            detail,
            ..
        }] = out.as_slice()
        else {
            panic!("expected only an audited refusal, got {out:?}");
        };
        assert_eq!((a.as_str(), result.as_str()), (action, "refused"));
        assert!(detail.contains("--read-only"), "{detail}");
    };
    update(&mut s, key('j'));
    refused(update(&mut s, key('s')), "scale");
    assert_eq!(s.input, Input::Normal);
    open_dlq(&mut s);
    update(&mut s, key(' '));
    refused(update(&mut s, key('R')), "dlq.redrive");
    refused(update(&mut s, ctrl('d')), "dlq.delete");
    assert_eq!(s.input, Input::Normal);
    update(&mut s, key(':'));
    type_text(&mut s, "purge");
    refused(update(&mut s, code(KeyCode::Enter)), "dlq.purge");
    assert_eq!(s.input, Input::Normal);
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("read-only")));
}

/// A batch-mover redrive from video_dlq to video_tasks, running, 40 moved at 20 a second.
fn running_redrive(remaining: Option<u64>, duplicates: u64) -> RedriveStatus {
    RedriveStatus {
        from: "video_dlq".to_owned(),
        to: "video_tasks".to_owned(),
        mode: "batch mover".to_owned(),
        note: None,
        dry_run: false,
        moved: 40,
        remaining,
        duplicates,
        per_s: 20.0,
        started: t(-2),
        state: JobState::Running,
    }
}

#[test]
fn redrive_progress_survives_view_switches_and_x_cancels() {
    let mut s = loaded_state();
    let status = running_redrive(Some(60), 0);
    assert_eq!(status.eta_s(), Some(3));
    feed(
        &mut s,
        [Report::Redrive {
            at: t(-1),
            status: status.clone(),
        }],
    );
    update(&mut s, key(':'));
    type_text(&mut s, "groups");
    update(&mut s, code(KeyCode::Enter));
    let line = crate::views::status::left(&s).to_string();
    assert!(line.contains("40/100"), "{line}");
    assert_eq!(update(&mut s, key('x')), [Command::CancelRedrive]);
    feed(
        &mut s,
        [Report::Redrive {
            at: t(0),
            status: RedriveStatus {
                state: JobState::Cancelled,
                ..status
            },
        }],
    );
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("stay moved")));
}

/// A redrive that ends with possible duplicates says so as a warning, kept whole with the
/// notes (a narrow bar cuts the count); a clean one is plain news.
#[test]
fn a_redrive_done_with_possible_duplicates_is_a_warning_kept_whole() {
    let finish = |duplicates: u64| {
        let mut s = loaded_state();
        let running = running_redrive(Some(0), duplicates);
        let done = RedriveStatus {
            state: JobState::Done,
            ..running.clone()
        };
        feed(
            &mut s,
            [
                Report::Redrive {
                    at: t(-1),
                    status: running,
                },
                Report::Redrive {
                    at: t(0),
                    status: done,
                },
            ],
        );
        s
    };
    let clean = finish(0);
    let flash = clean.current_flash().unwrap();
    assert_eq!(flash.level, Level::Info, "{flash:?}");
    assert!(!clean
        .notes()
        .recent()
        .any(|n| n.text.contains("redrive done")));

    let doubted = finish(3);
    let flash = doubted.current_flash().unwrap();
    assert_eq!(flash.level, Level::Warn, "{flash:?}");
    assert!(
        doubted
            .notes()
            .recent()
            .any(|n| n.text.contains("3 possible duplicate(s)")),
        "kept whole with the notes"
    );
}

fn load_status(phase: &str, elapsed: f64, finished: bool) -> LoadStatus {
    LoadStatus {
        scenario: "ramp".to_owned(),
        phase: phase.to_owned(),
        finished,
        detail: "stage 1/2: 3 of 5 VUs".to_owned(),
        elapsed_s: elapsed,
        planned_s: 60.0,
        sent: 40,
        done: 38,
        ok: 37,
        failed: 1,
        // A finished run has nothing in flight: a cancel cut those requests off.
        cancelled: if finished { 2 } else { 0 },
        in_flight: if finished { 0 } else { 2 },
        waiting: 0,
        not_sent: 0,
        recent: LoadRecent {
            window_s: 10.0,
            covered_s: 10.0,
            rps: Some(4.0),
            error_pct: Some(2.5),
            p50_s: Some(0.110),
            p95_s: Some(0.300),
            p99_s: Some(0.400),
        },
        rps_mean: 3.5,
        p50_s: Some(0.120),
        p95_s: Some(0.310),
        p99_s: Some(0.420),
        statuses: [(201, 37)].into_iter().collect(),
        errors: [("timeout".to_owned(), 1)].into_iter().collect(),
        histogram: vec![
            (Some(100.0), 10),
            (Some(250.0), 20),
            (Some(500.0), 8),
            (None, 0),
        ],
        processed: 12,
        e2e_p50_s: None,
        e2e_p95_s: None,
        e2e_p99_s: None,
        mb_per_min: Some(48.0),
        verdict: finished.then(|| "p95 < 1s: pass · errors < 1%: FAIL".to_owned()),
        started: Some(t(-30)),
    }
}

#[test]
fn a_load_run_is_picked_confirmed_followed_and_cancelled() {
    let mut s = loaded_state();
    feed(
        &mut s,
        [Report::LoadScenarios {
            at: t(-1),
            scenarios: vec![
                ScenarioInfo::new("ramp", "0 to 5 VUs"),
                ScenarioInfo::new("smoke", "1 VU"),
            ],
            target: Some("the local fleet's API".to_owned()),
            remote_host: None,
        }],
    );
    update(&mut s, key(':'));
    type_text(&mut s, "load");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view(), &View::Load);
    assert_eq!(selected(&s, TableId::Scenarios).as_deref(), Some("ramp"));
    assert!(
        update(&mut s, code(KeyCode::Enter)).is_empty(),
        "enter asks first"
    );
    assert_eq!(
        update(&mut s, key('y')),
        [Command::StartLoad {
            scenario: "ramp".to_owned()
        }]
    );
    feed(
        &mut s,
        [Report::Load {
            at: t(0),
            status: Box::new(load_status("running", 30.0, false)),
        }],
    );
    assert!(s.load().running());
    assert_eq!(s.load().runs.len(), 1);
    // Another run cannot start while one goes; x cancels it.
    update(&mut s, key(':'));
    type_text(&mut s, "load smoke");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.input, Input::Normal);
    assert_eq!(update(&mut s, key('x')), [Command::CancelLoad]);
    feed(
        &mut s,
        [Report::Load {
            at: t(1),
            status: Box::new(load_status("cancelled", 31.0, true)),
        }],
    );
    assert!(!s.load().running());
    assert!(s.load().runs[0].1.is_some(), "the run's end is marked");
    let flash = s
        .current_flash()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(flash.contains("FAIL"), "{flash}");
    assert!(
        flash.contains("40 sent = 37 ok + 1 failed + 2 cancelled"),
        "{flash}"
    );
}

fn with_scenarios(s: &mut State) {
    feed(
        s,
        [Report::LoadScenarios {
            at: t(-1),
            scenarios: vec![
                ScenarioInfo::new("ramp", "0 to 5 VUs"),
                ScenarioInfo::new("smoke", "1 VU"),
            ],
            target: Some("the local fleet's API".to_owned()),
            remote_host: None,
        }],
    );
}

fn command(s: &mut State, text: &str) -> Vec<Command> {
    update(s, key(':'));
    type_text(s, text);
    update(s, code(KeyCode::Enter))
}

#[test]
fn load_name_from_any_view_shows_the_load_view() {
    // (how to get there, the view it is)
    let from = [
        (None, View::Dashboard),
        (Some("groups"), View::Groups),
        (Some("queues"), View::Queues),
        (Some("group api-asg"), View::Group("api-asg".to_owned())),
        (Some("audit"), View::Audit),
    ];
    for (go, view) in from {
        let mut s = loaded_state();
        with_scenarios(&mut s);
        if let Some(go) = go {
            command(&mut s, go);
        }
        assert_eq!(s.view(), &view, "set-up: {go:?}");
        assert!(
            but_rows(command(&mut s, "load smoke")).is_empty(),
            "it asks first"
        );
        assert_eq!(s.view(), &View::Load, "from {view:?}");
        assert!(matches!(s.input, Input::Confirm(_)), "from {view:?}");
        assert_eq!(
            update(&mut s, key('y')),
            [Command::StartLoad {
                scenario: "smoke".to_owned()
            }]
        );
        assert_eq!(s.view(), &View::Load);
        // Back leaves the load view for where it came from, as after `:load`.
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(s.view(), &View::Dashboard, "from {view:?}");
    }
    // An unknown scenario also shows the load view (with the known ones), and says why.
    let mut s = loaded_state();
    with_scenarios(&mut s);
    command(&mut s, "audit");
    command(&mut s, "load nope");
    assert_eq!(s.view(), &View::Load);
    assert_eq!(s.input, Input::Normal);
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("no scenario `nope`")));
}

/// `:autoscaler off|on [GROUP]` is AlarmNotification suspended or resumed: on AWS as on the
/// local cloud, typed confirm to turn it off, and the top bar says which group has it off.
#[test]
fn autoscaler_off_suspends_alarm_notification_on_the_named_group() {
    let mut s = loaded_state();
    update(&mut s, key(':'));
    enter_text(&mut s, "autoscaler off nope");
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("no group named `nope`")));

    update(&mut s, key(':'));
    enter_text(&mut s, "autoscaler off worker-asg");
    let Input::Confirm(dialog) = &s.input else {
        panic!("a confirm: {:?}", s.input);
    };
    assert_eq!(
        dialog.pending.confirm(),
        crate::state::actions::Confirm::Typed("worker-asg".into())
    );
    let text = dialog.pending.describe().join("\n");
    assert!(
        text.contains("Suspend on worker-asg: AlarmNotification."),
        "{text}"
    );
    assert_eq!(
        enter_text(&mut s, "worker-asg"),
        [Command::SetProcesses {
            group: "worker-asg".into(),
            processes: vec!["AlarmNotification".into()],
            suspend: true,
        }]
    );

    let bar = |s: &State| {
        let area = ratatui::layout::Rect::new(0, 0, 120, 24);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        crate::views::draw(s, area, &mut buf);
        buf.content[..120]
            .iter()
            .map(|c| c.symbol())
            .collect::<String>()
    };
    assert!(!bar(&s).contains("AUTOSCALER OFF"), "{}", bar(&s));
    let mut w = worker(2, 2);
    w.suspended = vec!["AlarmNotification".into()];
    feed(
        &mut s,
        [Report::Groups {
            at: t(1),
            groups: vec![api(2), w],
        }],
    );
    assert!(bar(&s).contains("AUTOSCALER OFF worker-asg"), "{}", bar(&s));

    update(&mut s, key(':'));
    enter_text(&mut s, "autoscaler on worker-asg");
    assert_eq!(
        update(&mut s, key('y')),
        [Command::SetProcesses {
            group: "worker-asg".into(),
            processes: vec!["AlarmNotification".into()],
            suspend: false,
        }]
    );
}

#[test]
fn e_edits_the_open_message_and_a_changed_json_body_goes_through_the_plain_confirm() {
    let mut s = loaded_state();
    open_dlq(&mut s);
    update(&mut s, code(KeyCode::Enter));
    let out = update(&mut s, key('e'));
    let [Command::EditMessage { queue, id, body }] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(queue, "video_dlq");
    assert!(body.contains("\n  \""), "pretty JSON to edit: {body}");
    let (queue, id) = (queue.clone(), id.clone());
    let original = body.clone();

    // Not JSON, or no change: nothing to confirm, and the flash says why.
    let edited = |body: &str| Event::Edited {
        queue: queue.clone(),
        id: id.clone(),
        body: Ok(body.to_owned()),
    };
    assert!(update(&mut s, edited("{oops")).is_empty());
    assert!(matches!(s.input, Input::Normal));
    assert!(s.current_flash().unwrap().text.contains("not JSON"));
    assert!(update(&mut s, edited(&original)).is_empty());
    assert!(matches!(s.input, Input::Normal));
    assert!(s.current_flash().unwrap().text.contains("unchanged"));
    update(
        &mut s,
        Event::Edited {
            queue: queue.clone(),
            id: id.clone(),
            body: Err("vi exited with 1".into()),
        },
    );
    assert!(s.current_flash().unwrap().text.contains("vi exited"));

    // A real change: the plain confirm, then a redrive of that one message with the body.
    update(&mut s, edited(r#"{ "v": 1, "video_id": "fixed" }"#));
    assert!(matches!(s.input, Input::Confirm(_)));
    let out = update(&mut s, key('y'));
    let [Command::Redrive(req)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(req.selection, crate::event::MessageSelection::Ids(vec![id]));
    assert_eq!(req.to.as_deref(), Some("video_tasks"));
    assert_eq!(
        req.edited_body.as_deref(),
        Some(r#"{ "v": 1, "video_id": "fixed" }"#)
    );
}

#[test]
fn read_only_refuses_to_edit() {
    let mut s = loaded_state();
    s.set_read_only(true);
    open_dlq(&mut s);
    update(&mut s, code(KeyCode::Enter));
    let out = update(&mut s, key('e'));
    assert!(
        matches!(out.as_slice(), [Command::Audited { result, .. }] if result == "refused"),
        "{out:?}"
    );
}

#[test]
fn a_long_message_scrolls_to_its_end_and_back() {
    let mut s = loaded_state();
    update(&mut s, Event::Resize(80, 24));
    open_dlq(&mut s);
    // A body longer than the screen.
    let mut report = dead_letters();
    if let Report::Dlq { messages, at, .. } = &mut report {
        *at = t(1);
        let items: Vec<String> = (0..60).map(|i| format!("\"item-{i}\"")).collect();
        for m in messages.iter_mut() {
            m.body = format!("{{\"v\":1,\"items\":[{}]}}", items.join(","));
        }
    }
    update(&mut s, Event::Report(report));
    update(&mut s, code(KeyCode::Enter));
    assert!(matches!(s.nav.view(), View::Message(..)));
    update(&mut s, key('j'));
    assert_eq!(s.message_scroll, 1);
    update(&mut s, key('G'));
    let end = s.message_scroll;
    assert!(end > 40, "the end of a 60-item body: {end}");
    update(&mut s, key('j'));
    assert_eq!(s.message_scroll, end, "no scrolling past the end");
    update(&mut s, key('g'));
    assert_eq!(s.message_scroll, 0);
}

/// A tour caption with a claim waits for the console's own data, asks the agents to look
/// now, and shows the value the screen shows; a caption without one shows at once.
#[test]
fn a_claimed_caption_waits_until_the_screen_shows_it() {
    let mut s = empty_state();
    feed(
        &mut s,
        [Report::Queues {
            at: t(0),
            queues: vec![tasks(0, 0), dlq(0)],
        }],
    );
    let announce = Report::Caption {
        at: t(1),
        text: Some("2/6 the queue builds".to_owned()),
        claim: None,
    };
    assert!(update(&mut s, Event::Report(announce)).is_empty());
    assert_eq!(s.caption(), Some("2/6 the queue builds"));
    let claimed = Report::Caption {
        at: t(2),
        text: Some("2/6 the queue builds: {} waiting in video_tasks".to_owned()),
        claim: Some(Claim::Visible {
            queue: "video_tasks".to_owned(),
            min: 1,
            max: u64::MAX,
        }),
    };
    assert_eq!(
        update(&mut s, Event::Report(claimed)),
        [Command::RefreshNow]
    );
    // The screen shows an empty queue: the announcement stays.
    assert_eq!(s.caption(), Some("2/6 the queue builds"));
    update(&mut s, Event::Tick(t(3)));
    assert_eq!(s.caption(), Some("2/6 the queue builds"));
    feed(
        &mut s,
        [Report::Queues {
            at: t(4),
            queues: vec![tasks(7, 1), dlq(0)],
        }],
    );
    assert_eq!(
        s.caption(),
        Some("2/6 the queue builds: 7 waiting in video_tasks")
    );
    // While it holds, the number follows the table beside it; once it does not, it stays.
    for (at, visible, caption) in [(5, 12, 12), (6, 0, 12)] {
        feed(
            &mut s,
            [Report::Queues {
                at: t(at),
                queues: vec![tasks(visible, 1), dlq(0)],
            }],
        );
        let want = format!("2/6 the queue builds: {caption} waiting in video_tasks");
        assert_eq!(s.caption(), Some(want.as_str()));
    }
    // Desired capacity and an empty DLQ are claims too.
    let desired = Report::Caption {
        at: t(7),
        text: Some("scaled out: desired 1 → {}".to_owned()),
        claim: Some(Claim::Desired {
            group: "worker-asg".to_owned(),
            min: 2,
            max: u32::MAX,
        }),
    };
    feed(&mut s, [desired]);
    assert_eq!(
        s.caption(),
        Some("2/6 the queue builds: 12 waiting in video_tasks")
    );
    feed(
        &mut s,
        [Report::Groups {
            at: t(6),
            groups: vec![api(2), worker(3, 2)],
        }],
    );
    assert_eq!(s.caption(), Some("scaled out: desired 1 → 3"));
    let empty = Report::Caption {
        at: t(7),
        text: Some("the DLQ is empty".to_owned()),
        claim: Some(Claim::Visible {
            queue: "video_dlq".to_owned(),
            min: 0,
            max: 0,
        }),
    };
    feed(&mut s, [empty]);
    assert_eq!(s.caption(), Some("the DLQ is empty"));
}

/// Types `text`, then enter.
fn enter_text(s: &mut State, text: &str) -> Vec<Command> {
    let mut out = type_text(s, text);
    out.extend(update(s, code(KeyCode::Enter)));
    out
}

#[test]
fn process_names_are_spelled_as_aws_spells_them() {
    assert_eq!(parse_processes::<&str>(&[]).unwrap(), ["AlarmNotification"]);
    assert_eq!(
        parse_processes(&["launch", "TERMINATE", "Launch"]).unwrap(),
        ["Launch", "Terminate"]
    );
    assert_eq!(parse_processes(&["all"]).unwrap().len(), 9);
    let err = parse_processes(&["alarms"]).unwrap_err();
    assert!(err.contains("no scaling process named `alarms`"), "{err}");
}

#[test]
fn suspend_on_the_open_group_asks_for_its_name_and_resume_only_for_a_yes() {
    let mut s = loaded_state();
    // No group in view: says what to do, sends nothing.
    update(&mut s, key(':'));
    enter_text(&mut s, "queues");
    update(&mut s, key(':'));
    assert!(enter_text(&mut s, "suspend").is_empty());
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("open or select a group first")));

    update(&mut s, key(':'));
    enter_text(&mut s, "group worker-asg");
    update(&mut s, key(':'));
    enter_text(&mut s, "suspend launch terminate");
    let Input::Confirm(dialog) = &s.input else {
        panic!("a confirm: {:?}", s.input);
    };
    assert_eq!(
        dialog.pending.confirm(),
        crate::state::actions::Confirm::Typed("worker-asg".into())
    );
    let text = dialog.pending.describe().join("\n");
    assert!(
        text.contains("Suspend on worker-asg: Launch, Terminate."),
        "{text}"
    );
    assert!(text.contains("no instance is launched"), "{text}");
    assert!(text.contains("Nothing is suspended now."), "{text}");
    assert!(!text.contains("Local cloud"), "{text}");
    assert!(
        enter_text(&mut s, "worker-as").is_empty(),
        "a wrong name sends nothing"
    );
    s.input = Input::Normal;
    update(&mut s, key(':'));
    enter_text(&mut s, "suspend launch terminate");
    assert_eq!(
        enter_text(&mut s, "worker-asg"),
        [Command::SetProcesses {
            group: "worker-asg".into(),
            processes: vec!["Launch".into(), "Terminate".into()],
            suspend: true,
        }]
    );

    // The refresh shows them suspended; resume needs only a yes.
    let mut w = worker(2, 2);
    w.suspended = vec!["Launch".into(), "Terminate".into()];
    feed(
        &mut s,
        [Report::Groups {
            at: t(1),
            groups: vec![api(2), w],
        }],
    );
    update(&mut s, key(':'));
    enter_text(&mut s, "resume");
    let Input::Confirm(dialog) = &s.input else {
        panic!("a confirm: {:?}", s.input);
    };
    assert_eq!(
        dialog.pending.confirm(),
        crate::state::actions::Confirm::Plain
    );
    assert!(dialog
        .pending
        .describe()
        .join("\n")
        .contains("Suspended now: Launch, Terminate."));
    assert_eq!(
        update(&mut s, key('y')),
        [Command::SetProcesses {
            group: "worker-asg".into(),
            processes: vec!["AlarmNotification".into()],
            suspend: false,
        }]
    );

    // An unknown process is an error at the prompt.
    update(&mut s, key(':'));
    enter_text(&mut s, "suspend alarms");
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("no scaling process named `alarms`")));
}

#[test]
fn the_local_cloud_says_which_processes_it_honours() {
    let mut s = loaded_state();
    feed(
        &mut s,
        [Report::Autoscaler {
            at: t(0),
            decisions: vec![],
        }],
    );
    update(&mut s, key(':'));
    enter_text(&mut s, "group worker-asg");
    for (line, noted) in [("suspend", false), ("suspend launch", true)] {
        update(&mut s, key(':'));
        enter_text(&mut s, line);
        let Input::Confirm(dialog) = &s.input else {
            panic!("a confirm: {:?}", s.input);
        };
        let text = dialog.pending.describe().join("\n");
        assert_eq!(
            text.contains("Local cloud: only AlarmNotification takes effect here"),
            noted,
            "{line}: {text}"
        );
        s.input = Input::Normal;
    }
}

#[test]
fn read_only_refuses_suspend_and_audits_it() {
    let mut s = loaded_state();
    s.read_only = true;
    update(&mut s, key(':'));
    enter_text(&mut s, "group worker-asg");
    update(&mut s, key(':'));
    let out = enter_text(&mut s, "suspend");
    assert_eq!(s.input, Input::Normal);
    assert!(out.iter().any(|c| matches!(
        c,
        Command::Audited { action, result, .. } if action == "scale.suspend" && result == "refused"
    )));
}

/// `:instance-refresh`: status reads at once (also read-only), start needs the group's name
/// typed, cancel a yes; the latest refresh read shows in the dialog and the group view.
#[test]
fn instance_refresh_reads_at_once_and_confirms_changes() {
    use crate::event::RefreshAction;
    let mut s = loaded_state();
    update(&mut s, key(':'));
    enter_text(&mut s, "queues");
    update(&mut s, key(':'));
    enter_text(&mut s, "instance-refresh");
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("open or select a group first")));

    update(&mut s, key(':'));
    enter_text(&mut s, "group worker-asg");
    update(&mut s, key(':'));
    assert_eq!(
        enter_text(&mut s, "instance-refresh"),
        [Command::InstanceRefresh {
            group: "worker-asg".into(),
            action: RefreshAction::Status,
        }]
    );
    feed(
        &mut s,
        [Report::InstanceRefresh {
            at: t(1),
            group: "worker-asg".into(),
            latest: Some(crate::model::RefreshView {
                id: "r-1".into(),
                status: "Successful".into(),
                active: false,
                line: "Successful 100% · ended yesterday".into(),
            }),
        }],
    );

    update(&mut s, key(':'));
    enter_text(&mut s, "instance-refresh start");
    let Input::Confirm(dialog) = &s.input else {
        panic!("a confirm: {:?}", s.input);
    };
    assert_eq!(
        dialog.pending.confirm(),
        crate::state::actions::Confirm::Typed("worker-asg".into())
    );
    let text = dialog.pending.describe().join("\n");
    assert!(
        text.contains("Latest refresh: Successful 100% · ended yesterday."),
        "{text}"
    );
    assert_eq!(
        enter_text(&mut s, "worker-asg"),
        [Command::InstanceRefresh {
            group: "worker-asg".into(),
            action: RefreshAction::Start,
        }]
    );

    update(&mut s, key(':'));
    enter_text(&mut s, "instance-refresh cancel");
    assert_eq!(
        update(&mut s, key('y')),
        [Command::InstanceRefresh {
            group: "worker-asg".into(),
            action: RefreshAction::Cancel,
        }]
    );

    update(&mut s, key(':'));
    enter_text(&mut s, "instance-refresh later");
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("usage: :instance-refresh")));
}

/// The commands but the rows (and groups) on screen, which follow every change of view.
fn but_rows(commands: Vec<Command>) -> Vec<Command> {
    commands
        .into_iter()
        .filter(|c| !matches!(c, Command::QueuesOnScreen(_) | Command::GroupsOnScreen(_)))
        .collect()
}

/// The last rows-on-screen command of `commands`, if any.
fn rows_told(commands: &[Command]) -> Option<Vec<String>> {
    commands.iter().rev().find_map(|c| match c {
        Command::QueuesOnScreen(names) => Some(names.clone()),
        _ => None,
    })
}

#[test]
fn the_queues_agent_is_told_which_rows_are_on_screen_as_they_scroll_and_views_change() {
    let mut s = loaded_state();
    update(&mut s, Event::Resize(100, 30));
    let names: Vec<String> = (0..60).map(|i| format!("q{i:02}")).collect();
    let queues = names
        .iter()
        .map(|n| QueueSnapshot {
            name: n.clone(),
            ..crate::fixtures::tasks(0, 0)
        })
        .chain([crate::fixtures::dlq(0)])
        .collect();
    let at = s.now + chrono::Duration::seconds(1);
    let out = update(&mut s, Event::Report(Report::Queues { at, queues }));
    // The dashboard shows the first rows only.
    let first = rows_told(&out).expect("told once the rows arrive");
    assert!(!first.is_empty() && first.len() < 20, "{first:?}");
    assert_eq!(first, names[..first.len()]);
    // The queues view shows more; nothing is told again while the rows stay.
    command(&mut s, "queues");
    let shown = s.queues.on_screen.clone();
    assert!(shown.len() > first.len(), "{shown:?}");
    assert_eq!(rows_told(&update(&mut s, key('j'))), None);
    // Scrolling past the bottom brings new rows on screen and drops the first.
    let mut told = None;
    for _ in 0..shown.len() + 5 {
        told = rows_told(&update(&mut s, key('j'))).or(told);
    }
    let told = told.expect("told as the table scrolls");
    assert!(!told.contains(&names[0]), "{told:?}");
    assert!(told.contains(&names[shown.len() + 4]), "{told:?}");
    // A taller terminal shows more rows.
    let more = rows_told(&update(&mut s, Event::Resize(100, 60))).expect("told on resize");
    assert!(more.len() > told.len(), "{more:?}");
    // An open queue is on screen, with its dead-letter queue.
    command(&mut s, "queues");
    let out = command(&mut s, "dlq");
    assert!(
        rows_told(&out).is_some_and(|r| r.contains(&"video_dlq".to_owned())),
        "{out:?}"
    );
}

/// The last groups-on-screen command of `commands`, if any.
fn groups_told(commands: &[Command]) -> Option<Vec<String>> {
    commands.iter().rev().find_map(|c| match c {
        Command::GroupsOnScreen(names) => Some(names.clone()),
        _ => None,
    })
}

#[test]
fn the_groups_agent_is_told_which_groups_are_on_screen() {
    let mut s = loaded_state();
    update(&mut s, Event::Resize(100, 30));
    let mut groups: Vec<GroupSnapshot> = (0..40)
        .map(|i| GroupSnapshot {
            name: format!("g{i:02}"),
            ..crate::fixtures::api(1)
        })
        .collect();
    groups.push(crate::fixtures::worker(1, 1));
    let at = s.now + chrono::Duration::seconds(1);
    let out = update(&mut s, Event::Report(Report::Groups { at, groups }));
    // The dashboard: its first group rows, and the worker group its chart follows (it
    // consumes the first queue) though its row is far down.
    let first = groups_told(&out).expect("told once the groups arrive");
    assert!(first.contains(&"g00".to_owned()), "{first:?}");
    assert!(first.contains(&"worker-asg".to_owned()), "{first:?}");
    assert!(!first.contains(&"g39".to_owned()), "{first:?}");
    assert!(first.len() < 20, "{first:?}");
    // The groups view: more rows; scrolling down brings the last ones on screen.
    command(&mut s, "groups");
    let mut told = None;
    for _ in 0..45 {
        told = groups_told(&update(&mut s, key('j'))).or(told);
    }
    let told = told.expect("told as the table scrolls");
    assert!(told.contains(&"g39".to_owned()), "{told:?}");
    assert!(!told.contains(&"g00".to_owned()), "{told:?}");
    // An open group is on screen.
    command(&mut s, "groups");
    let out = update(&mut s, code(KeyCode::Enter));
    assert!(groups_told(&out).is_some_and(|g| g.len() == 1), "{out:?}");
}

#[test]
fn a_group_kept_from_an_earlier_reading_is_not_a_new_sample_and_its_change_has_its_read_time() {
    let mut s = empty_state();
    let report = |at: i64, desired: u32, read_at: i64| Report::Groups {
        at: t(at),
        groups: vec![GroupSnapshot {
            read_at: Some(t(read_at)),
            ..api(desired)
        }],
    };
    update(&mut s, Event::Report(report(-30, 2, -30)));
    // Two reports carrying the same reading (the group is off the screen): one sample.
    update(&mut s, Event::Report(report(-27, 2, -30)));
    assert_eq!(s.groups.samples("api-asg").count(), 1);
    // Read again, changed: a sample and a change, both at the reading's time.
    update(&mut s, Event::Report(report(-20, 3, -21)));
    let times: Vec<_> = s.groups.samples("api-asg").map(|p| p.t).collect();
    assert_eq!(times, [t(-30), t(-21)]);
    assert_eq!(s.groups.last_change("api-asg").map(|c| c.at), Some(t(-21)));
}

#[test]
fn a_flashed_mistake_is_kept_whole_in_the_notes_and_flashes_every_time() {
    let mut s = loaded_state();
    let notes_before = s.notes.recent().len();
    command(&mut s, "theme neon");
    let flashed = s.current_flash().map(|f| f.text.clone()).unwrap();
    assert!(
        flashed.starts_with("no theme named `neon` (known: "),
        "{flashed}"
    );
    let kept = s.notes.recent().last().unwrap();
    assert_eq!((kept.text.as_str(), kept.count), (flashed.as_str(), 1));
    assert_eq!(kept.level, LogLevel::Error);
    // Past the flash, the same mistake again: it flashes again, and the note counts it.
    update(&mut s, Event::Tick(t(6)));
    assert_eq!(s.current_flash(), None);
    command(&mut s, "theme neon");
    assert!(
        s.current_flash().is_some(),
        "a repeat of what the operator did flashes"
    );
    assert_eq!(s.notes.recent().len(), notes_before + 1);
    assert_eq!(s.notes.recent().last().unwrap().count, 2);
    // What went well only flashes.
    command(&mut s, "theme light");
    assert_eq!(s.notes.recent().len(), notes_before + 1);
}
