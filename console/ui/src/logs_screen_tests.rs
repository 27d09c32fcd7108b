//! The logs view: `l` from a dead letter, a group or an instance, `:logs`, following, the time
//! jumps and the filter, and what the agents are asked for; snapshots at 80x24 and 200x60 in
//! every built-in theme, on the fixtures' fixed clock.

use crossterm::event::KeyCode;

use crate::fixtures::*;
use crate::logs::{LogEntry, LogsRequest, LINES_KEPT};
use crate::model::*;
use crate::screen_tests::{screen, sized, styled_screen};
use crate::state::nav::{TableId, View};
use crate::{update, Command, Event, State, ThemeSet};

/// What a dead letter's video left in the worker's and the API's log groups.
fn lines_about_v101() -> Vec<LogEntry> {
    let line = |id: &str, s: i64, group: &str, stream: &str, raw: &str| {
        LogEntry::new(
            id.to_owned(),
            format!("/flightdeck/{group}"),
            stream.to_owned(),
            t(s),
            raw.to_owned(),
        )
    };
    vec![
        line(
            "e1",
            -1805,
            "api",
            "i-0a1b2c3d4e5f60001",
            r#"{"timestamp":"t","level":"INFO","target":"api","message":"upload stored","correlation_id":"c-v-101","video_id":"v-101","bytes":1048576}"#,
        ),
        line(
            "e2",
            -1803,
            "worker",
            "i-0f9e8d7c6b5a40001",
            r#"{"timestamp":"t","level":"INFO","target":"worker","message":"job started","correlation_id":"c-v-101","video_id":"v-101","attempt":1}"#,
        ),
        line(
            "e3",
            -1802,
            "worker",
            "i-0f9e8d7c6b5a40001",
            r#"{"timestamp":"t","level":"ERROR","target":"worker","message":"transform failed","correlation_id":"c-v-101","video_id":"v-101","class":"permanent","error":"not a video: no MP4, MOV or AVI container"}"#,
        ),
        line(
            "e4",
            -1801,
            "worker",
            "i-0f9e8d7c6b5a40001",
            r#"{"timestamp":"t","level":"WARN","target":"worker","message":"dead-lettering","correlation_id":"c-v-101","video_id":"v-101","reason":"not a video: no MP4, MOV or AVI container"}"#,
        ),
        line(
            "e5",
            -1800,
            "worker",
            "i-0f9e8d7c6b5a40001",
            "plain text from ffmpeg: moov atom not found",
        ),
    ]
}

fn tail_of(out: &[Command]) -> Option<(Option<LogsRequest>, bool)> {
    out.iter().find_map(|c| match c {
        Command::TailLogs { request, follow } => Some((request.clone(), *follow)),
        _ => None,
    })
}

fn answer(s: &mut State, reset: bool, lines: Vec<LogEntry>) {
    let request = s.logs.request.clone();
    update(
        s,
        Event::Report(Report::Logs {
            at: t(-1),
            request,
            reset,
            lines,
            more: false,
            note: None,
        }),
    );
}

/// `l` on the first dead letter of `:dlq`, answered.
fn from_dead_letter(w: u16, h: u16, theme: &str) -> State {
    let mut s = loaded_state();
    s.set_theme(theme).unwrap();
    let mut s = sized(s, w, h);
    update(&mut s, key(':'));
    type_text(&mut s, "dlq");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key('l'));
    answer(&mut s, true, lines_about_v101());
    s
}

#[test]
fn logs_view_in_every_theme() {
    for theme in ThemeSet::builtin().names() {
        for (w, h) in [(80, 24), (200, 60)] {
            let s = from_dead_letter(w, h, theme);
            insta::assert_snapshot!(
                format!("logs_view_{theme}_{w}x{h}"),
                styled_screen(&s, w, h)
            );
        }
    }
}

#[test]
fn l_on_a_dead_letter_reads_every_line_about_its_video_and_request() {
    let mut s = sized(loaded_state(), 120, 40);
    update(&mut s, key(':'));
    type_text(&mut s, "dlq");
    update(&mut s, code(KeyCode::Enter));
    let out = update(&mut s, key('l'));
    assert_eq!(s.nav.view(), &View::Logs);
    let (request, follow) = tail_of(&out).expect("the agent is asked");
    let request = request.expect("a request");
    assert!(follow);
    assert_eq!(
        request.target, None,
        "every group: the API's lines and the workers'"
    );
    assert_eq!(request.ids, ["v-101", "c-v-101"]);
    assert_eq!(
        request.since_s, 86_400,
        "a day: the letter is 30 minutes old"
    );
    answer(&mut s, true, lines_about_v101());
    let text = screen(&s, 120, 40);
    for part in [
        "dead letter 3f2a9c1e",
        "last 1d",
        "FOLLOWING",
        "5 lines",
        "upload stored correlation_id=c-v-101 video_id=v-101 bytes=1048576",
        "ERROR transform failed",
        "plain text from ffmpeg",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    // The newest line is selected and shown in full below.
    assert_eq!(s.selected_key(TableId::Logs).as_deref(), Some("e5"));
    // Leaving the view stops the reading.
    let out = update(&mut s, code(KeyCode::Esc));
    assert_eq!(tail_of(&out), Some((None, false)));
    assert_eq!(s.nav.view(), &View::Queue("video_dlq".to_owned()));
}

#[test]
fn l_reads_the_selected_instance_or_group_and_logs_takes_a_target_and_ids() {
    let mut s = sized(loaded_state(), 120, 40);
    // Dashboard, groups focused: the selected group.
    let out = update(&mut s, key('l'));
    assert_eq!(
        tail_of(&out).and_then(|(r, _)| r).and_then(|r| r.target),
        Some("api-asg".to_owned())
    );
    update(&mut s, code(KeyCode::Esc));
    // A group's view: its selected instance.
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.nav.view(), &View::Group("api-asg".to_owned()));
    let out = update(&mut s, key('l'));
    let request = tail_of(&out).and_then(|(r, _)| r).unwrap();
    assert_eq!(request.target.as_deref(), Some("i-0a1b2c3d4e5f60001"));
    assert_eq!(request.since_s, 900);

    update(&mut s, key(':'));
    type_text(&mut s, "logs worker id=v-7");
    let out = update(&mut s, code(KeyCode::Enter));
    let request = tail_of(&out).and_then(|(r, _)| r).unwrap();
    assert_eq!(request.target.as_deref(), Some("worker"));
    assert_eq!(request.ids, ["v-7"]);
    assert_eq!(request.since_s, 86_400);
    for (line, error) in [
        ("logs id=", "`id=` needs"),
        ("logs api worker", "usage: :logs"),
    ] {
        update(&mut s, key(':'));
        type_text(&mut s, line);
        update(&mut s, code(KeyCode::Enter));
        assert!(
            s.current_flash().is_some_and(|f| f.text.contains(error)),
            "{line}: {:?}",
            s.current_flash()
        );
    }
}

#[test]
fn f_pauses_plus_minus_jump_in_time_and_the_filter_is_sent_once_committed() {
    let mut s = sized(loaded_state(), 120, 40);
    update(&mut s, key(':'));
    type_text(&mut s, "logs worker");
    update(&mut s, code(KeyCode::Enter));
    let out = update(&mut s, key('f'));
    let (request, follow) = tail_of(&out).unwrap();
    assert!(!follow);
    assert_eq!(request.unwrap().since_s, 900, "pausing keeps the request");
    assert!(screen(&s, 120, 40).contains("PAUSED (f follows)"));
    assert_eq!(s.chart.frozen_at, None, "f is not the charts' freeze here");
    let out = update(&mut s, key('f'));
    assert!(tail_of(&out).unwrap().1);

    let out = update(&mut s, key('+'));
    assert_eq!(tail_of(&out).unwrap().0.unwrap().since_s, 3_600);
    let out = update(&mut s, key('-'));
    assert_eq!(tail_of(&out).unwrap().0.unwrap().since_s, 900);
    update(&mut s, key('-'));
    let out = update(&mut s, key('-'));
    assert_eq!(tail_of(&out), None, "5m is the shortest");
    assert!(s
        .current_flash()
        .is_some_and(|f| f.text.contains("shortest")));

    update(&mut s, key('/'));
    let typing: Vec<Command> = "WARN"
        .chars()
        .flat_map(|c| update(&mut s, key(c)))
        .collect();
    assert_eq!(tail_of(&typing), None, "no read per keystroke");
    let out = update(&mut s, code(KeyCode::Enter));
    assert_eq!(tail_of(&out).unwrap().0.unwrap().terms, ["WARN"]);
    let out = update(&mut s, code(KeyCode::Esc));
    assert!(tail_of(&out).unwrap().0.unwrap().terms.is_empty());
    assert_eq!(s.nav.view(), &View::Logs, "esc clears the filter first");
}

#[test]
fn new_lines_are_followed_at_the_bottom_unless_the_operator_moved_up() {
    let mut s = sized(loaded_state(), 120, 40);
    update(&mut s, key(':'));
    type_text(&mut s, "logs");
    update(&mut s, code(KeyCode::Enter));
    let all = lines_about_v101();
    answer(&mut s, true, all[..3].to_vec());
    assert_eq!(s.selected_key(TableId::Logs).as_deref(), Some("e3"));
    answer(&mut s, false, vec![all[3].clone()]);
    assert_eq!(s.selected_key(TableId::Logs).as_deref(), Some("e4"));
    update(&mut s, key('k'));
    answer(&mut s, false, vec![all[4].clone()]);
    assert_eq!(
        s.selected_key(TableId::Logs).as_deref(),
        Some("e3"),
        "reading older lines, the selection stays"
    );
    assert_eq!(s.logs.lines.len(), 5);
    // An answer to an earlier request (a read still in flight) is dropped.
    let mut old = s.logs.request.clone();
    old.since_s = 60;
    update(
        &mut s,
        Event::Report(Report::Logs {
            at: t(0),
            request: old,
            reset: true,
            lines: Vec::new(),
            more: false,
            note: None,
        }),
    );
    assert_eq!(s.logs.lines.len(), 5);
}

#[test]
fn the_view_says_what_it_is_doing_and_the_lines_are_bounded() {
    let mut s = sized(loaded_state(), 80, 24);
    update(&mut s, key(':'));
    type_text(&mut s, "logs db");
    update(&mut s, code(KeyCode::Enter));
    assert!(screen(&s, 80, 24).contains("reading the log lines"));
    let request = s.logs.request.clone();
    update(
        &mut s,
        Event::Report(Report::Logs {
            at: t(0),
            request,
            reset: true,
            lines: Vec::new(),
            more: false,
            note: Some("`db` is neither a group nor an instance id".to_owned()),
        }),
    );
    assert!(screen(&s, 80, 24).contains("`db` is neither a group"));

    update(&mut s, key(':'));
    type_text(&mut s, "logs");
    update(&mut s, code(KeyCode::Enter));
    answer(&mut s, true, Vec::new());
    assert!(screen(&s, 80, 24).contains("no lines in the last 15m: + reads further back"));
    let many: Vec<LogEntry> = (0..LINES_KEPT + 10)
        .map(|i| {
            LogEntry::new(
                format!("{i:06}"),
                "/flightdeck/api".to_owned(),
                "i-1".to_owned(),
                t(-100),
                format!("line {i}"),
            )
        })
        .collect();
    answer(&mut s, false, many);
    assert_eq!(s.log_rows().len(), LINES_KEPT);
    assert!(screen(&s, 80, 24).contains("10 older dropped"));
}

#[test]
fn the_tour_opens_the_view_and_its_caption_waits_for_the_lines_on_screen() {
    let mut s = sized(loaded_state(), 120, 40);
    let request = LogsRequest {
        target: None,
        ids: vec!["v-101".to_owned(), "c-v-101".to_owned()],
        terms: Vec::new(),
        since_s: 3_600,
    };
    let out = update(
        &mut s,
        Event::Report(Report::ShowLogs {
            at: t(0),
            request: Some(request.clone()),
            about: Some("dead letter 3f2a9c1e".to_owned()),
        }),
    );
    assert_eq!(s.nav.view(), &View::Logs);
    assert_eq!(tail_of(&out), Some((Some(request), true)));
    update(
        &mut s,
        Event::Report(Report::Caption {
            at: t(0),
            text: Some("6/7 its log lines: {} about it".to_owned()),
            claim: Some(Claim::LogLines {
                ids: vec!["v-101".to_owned()],
                min: 1,
            }),
        }),
    );
    assert_eq!(
        s.local.caption, None,
        "held back until the lines are on screen"
    );
    answer(&mut s, true, lines_about_v101());
    assert_eq!(
        s.local.caption.as_deref(),
        Some("6/7 its log lines: 4 about it")
    );
    let out = update(
        &mut s,
        Event::Report(Report::ShowLogs {
            at: t(1),
            request: None,
            about: None,
        }),
    );
    assert_eq!(s.nav.view(), &View::Dashboard);
    assert_eq!(tail_of(&out), Some((None, false)));
}
