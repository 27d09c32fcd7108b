//! The alarms view, the top bar's alarm badge and `enter` on an alarm, on the fixtures'
//! fixed clock: snapshots at 80x24 and 200x60 in every built-in theme.

use crossterm::event::KeyCode;

use crate::alarms::{AlarmHistory, AlarmRow, AlarmState, AlarmTransition};
use crate::fixtures::*;
use crate::model::*;
use crate::screen_tests::{screen, sized, styled_screen};
use crate::state::nav::View;
use crate::{update, State, ThemeSet};

fn alarm(name: &str, state: AlarmState, group: Option<&str>, queue: Option<&str>) -> AlarmRow {
    AlarmRow {
        name: name.to_owned(),
        state,
        description: format!("{name}: what to do about it."),
        group: group.map(str::to_owned),
        queue: queue.map(str::to_owned),
        metric: "AWS/SQS ApproximateNumberOfMessagesVisible".to_owned(),
        statistic: "Maximum".to_owned(),
        period_s: 60,
        comparison: ">".to_owned(),
        threshold: 0.0,
        current: None,
        since: Some(t(-600)),
        reason: "Threshold Crossed: 1 datapoint [0.0 (03/12/26 23:30:00)] was not greater than the threshold (0.0).".to_owned(),
    }
}

fn alarms_report(dlq_state: AlarmState) -> Report {
    let mut dlq = alarm(
        "flightdeck-dlq-not-empty",
        dlq_state,
        None,
        Some("video_dlq"),
    );
    if dlq_state == AlarmState::Alarm {
        dlq.current = Some(3.0);
        dlq.since = Some(t(-95));
        dlq.reason = "Threshold Crossed: 1 datapoint [3.0 (03/12/26 23:38:00)] was greater than the threshold (0.0).".to_owned();
    }
    let mut backlog = alarm(
        "flightdeck-worker-backlog-high",
        AlarmState::Ok,
        Some("worker-asg"),
        Some("video_tasks"),
    );
    backlog.metric = "m / in_service".to_owned();
    backlog.statistic = "Average".to_owned();
    backlog.threshold = 40.0;
    backlog.current = Some(12.5);
    let mut api5xx = alarm(
        "flightdeck-api-5xx",
        AlarmState::InsufficientData,
        Some("api-asg"),
        None,
    );
    api5xx.metric = "Flightdeck Api5xxResponses".to_owned();
    api5xx.statistic = "Sum".to_owned();
    api5xx.threshold = 10.0;
    api5xx.reason = "Unchecked: Initial alarm creation".to_owned();
    let mut history = AlarmHistory {
        note: Some("the endpoint keeps no alarm history: changes seen by this console".to_owned()),
        ..AlarmHistory::default()
    };
    history.by_alarm.insert(
        "flightdeck-dlq-not-empty".to_owned(),
        vec![
            AlarmTransition {
                at: t(-95),
                from: Some(AlarmState::Ok),
                to: dlq_state,
                reason: dlq.reason.clone(),
            },
            AlarmTransition {
                at: t(-600),
                from: Some(AlarmState::InsufficientData),
                to: AlarmState::Ok,
                reason: "Threshold Crossed: 1 datapoint [0.0 (03/12/26 23:30:00)] was not greater than the threshold (0.0).".to_owned(),
            },
        ],
    );
    Report::Alarms {
        at: t(-3),
        alarms: vec![backlog, api5xx, dlq],
        history,
    }
}

fn with_alarms(dlq_state: AlarmState) -> State {
    let mut s = loaded_state();
    feed(&mut s, [alarms_report(dlq_state)]);
    s
}

fn alarms_open(w: u16, h: u16, theme: &str) -> State {
    let mut s = with_alarms(AlarmState::Alarm);
    s.set_theme(theme).unwrap();
    let mut s = sized(s, w, h);
    update(&mut s, key(':'));
    type_text(&mut s, "alarms");
    update(&mut s, code(KeyCode::Enter));
    s
}

#[test]
fn alarms_view_in_every_theme() {
    for theme in ThemeSet::builtin().names() {
        for (w, h) in [(80, 24), (200, 60)] {
            let s = alarms_open(w, h, theme);
            insta::assert_snapshot!(
                format!("alarms_view_{theme}_{w}x{h}"),
                styled_screen(&s, w, h)
            );
        }
    }
}

#[test]
fn the_view_puts_alarm_first_and_shows_threshold_now_reason_and_history() {
    let s = alarms_open(200, 60, "default");
    let text = screen(&s, 200, 60);
    let row = |name: &str| {
        text.lines()
            .position(|l| l.contains(name) && !l.contains(" since "))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    assert!(row("flightdeck-dlq-not-empty") < row("flightdeck-api-5xx"));
    assert!(row("flightdeck-api-5xx") < row("flightdeck-worker-backlog-high"));
    for part in [
        "3 > 0",
        "12.5 > 40",
        "queue video_dlq",
        "group worker-asg, queue video_tasks",
        "NO DATA",
        "was greater than the threshold (0.0)",
        "State changes",
        "changes seen by this console",
        "OK → ALARM",
        "flightdeck-dlq-not-empty: what to do about it.",
        "1 in ALARM",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
}

#[test]
fn the_badge_counts_alarms_and_is_absent_when_all_are_ok() {
    let firing = screen(&sized(with_alarms(AlarmState::Alarm), 80, 24), 80, 24);
    let top = firing.lines().next().unwrap_or_default();
    assert!(top.contains("ALARM 1"), "{top}");
    let quiet = screen(&sized(with_alarms(AlarmState::Ok), 80, 24), 80, 24);
    let top = quiet.lines().next().unwrap_or_default();
    assert!(!top.contains("ALARM"), "{top}");
    // Drawn in the error style.
    let s = sized(with_alarms(AlarmState::Alarm), 80, 24);
    let buf = crate::screen_tests::buffer(&s, 80, 24);
    let x = (0..80u16)
        .find(|&x| buf[(x, 0)].symbol() == "A" && buf[(x + 1, 0)].symbol() == "L")
        .unwrap_or_else(|| panic!("no badge"));
    assert_eq!(buf[(x, 0)].fg, s.theme().s.error.fg.unwrap_or_default());
}

#[test]
fn enter_opens_the_group_else_the_queue_and_a_opens_the_view() {
    let mut s = sized(with_alarms(AlarmState::Alarm), 120, 40);
    update(&mut s, key('A'));
    assert_eq!(s.nav.view(), &View::Alarms);
    // First row: the DLQ alarm, which watches a queue only.
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.nav.view(), &View::Queue("video_dlq".to_owned()));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.nav.view(), &View::Alarms);
    // Last row: the backlog alarm watches a group and a queue: the group opens.
    update(&mut s, key('G'));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.nav.view(), &View::Group("worker-asg".to_owned()));
}

#[test]
fn an_older_report_does_not_replace_a_newer_one() {
    let mut s = with_alarms(AlarmState::Alarm);
    let Report::Alarms {
        alarms, history, ..
    } = alarms_report(AlarmState::Ok)
    else {
        unreachable!()
    };
    feed(
        &mut s,
        [Report::Alarms {
            at: t(-60),
            alarms,
            history,
        }],
    );
    assert_eq!(s.alarms.firing(), 1);
}
