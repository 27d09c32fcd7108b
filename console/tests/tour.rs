//! `flightdeck demo --tour` end to end in a real terminal (tmux): every caption comes, and
//! with it its effect on the console's screen — uploads wait in `video_tasks`, the worker
//! group's desired capacity grows in the groups table, the poison upload shows as
//! `DLQ video_dlq 1` in the top bar, the redrive empties it, the group scales back to its
//! minimum — then `q` exits 0 and no process of the demo is left. Without a terminal
//! (`--no-tui`) the same story prints its captions as lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

mod common;
use common::{tmux, Session};

/// One caption as first seen, with what the same screen showed beside it.
#[derive(Debug)]
struct Sighting {
    caption: String,
    /// `video_tasks`' visible messages in the queues table.
    waiting: Option<u64>,
    /// The worker group's desired capacity in the groups table.
    desired: Option<u32>,
    /// The top bar's `DLQ video_dlq N`.
    dlq: Option<u64>,
    /// The whole screen, printed when an assertion fails.
    pane: String,
}

/// What the screen has shown so far (the tour moves on while the test looks).
#[derive(Debug, Default)]
struct Screen {
    pane: String,
    captions: Vec<String>,
    sightings: Vec<Sighting>,
    /// The most uploads `video_tasks` showed waiting.
    most_waiting: u64,
    /// The worker group's desired capacities, in the order they were shown.
    desired: Vec<u32>,
    dlq_alarm: bool,
}

impl Screen {
    fn caption(&self, prefix: &str) -> Option<&String> {
        self.captions.iter().find(|c| c.starts_with(prefix))
    }

    fn sighting(&self, prefix: &str) -> &Sighting {
        self.sightings
            .iter()
            .find(|s| s.caption.starts_with(prefix))
            .unwrap_or_else(|| panic!("no caption {prefix:?} in {:#?}", self.captions))
    }

    fn look(&mut self, pane: String) {
        let mut new_caption = None;
        let (mut waiting, mut desired) = (None, None);
        for line in pane.lines() {
            // The status line starts `▶ caption ` then the redrive and the sources (a chart's
            // load-start mark is a `▶` too, inside its box).
            if let Some(rest) = line.trim_start().strip_prefix('▶') {
                // The caption ends where the redrive, a source's age or the padding starts.
                let end = [" · ", " redrive ", "  "]
                    .iter()
                    .filter_map(|sep| rest.find(sep))
                    .min()
                    .unwrap_or(rest.len());
                let text = rest[..end].trim().to_owned();
                if !text.is_empty() && self.captions.last() != Some(&text) {
                    self.captions.push(text.clone());
                    new_caption = Some(text);
                }
            }
            // Panels sit side by side on wide screens: look at each box's part of the line.
            for part in line.split('│') {
                let cells: Vec<&str> = part.split_whitespace().collect();
                if cells.first() == Some(&"video_tasks") {
                    if let Some(n) = cells.get(1).and_then(|v| v.parse::<u64>().ok()) {
                        self.most_waiting = self.most_waiting.max(n);
                        waiting = Some(n);
                    }
                }
                if cells.first() == Some(&"flightdeck-worker") {
                    let des = cells
                        .get(1)
                        .and_then(|mdm| mdm.split('/').nth(1))
                        .and_then(|d| d.parse::<u32>().ok());
                    if let Some(d) = des {
                        desired = Some(d);
                        if self.desired.last() != Some(&d) {
                            self.desired.push(d);
                        }
                    }
                }
            }
        }
        if pane.contains("DLQ video_dlq 1") {
            self.dlq_alarm = true;
        }
        if let Some(caption) = new_caption {
            let dlq = pane
                .split("DLQ video_dlq ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok());
            self.sightings.push(Sighting {
                caption,
                waiting,
                desired,
                dlq,
                pane: pane.clone(),
            });
        }
        self.pane = pane;
    }
}

/// Looks at the pane until `done` holds; a `tour stopped` caption fails the test at once.
fn wait(
    (session, home): (&str, &Path),
    screen: &mut Screen,
    what: &str,
    limit: Duration,
    done: impl Fn(&Screen) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        screen.look(tmux(&["capture-pane", "-p", "-t", session]));
        assert!(
            !screen
                .captions
                .iter()
                .any(|c| c.starts_with("tour stopped")),
            "the tour stopped; captions {:#?}\n{}\n{}",
            screen.captions,
            screen.pane,
            evidence(home)
        );
        if done(screen) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not show within {} s; captions {:#?}; the pane:\n{}\n{}",
            limit.as_secs(),
            screen.captions,
            screen.pane,
            evidence(home)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The last lines of every log under the demo's home (the console's, the emulator's, each
/// instance's), printed when the story stalls: what the screen cannot say.
fn evidence(home: &Path) -> String {
    let mut logs = Vec::new();
    let mut dirs = vec![home.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "log") {
                logs.push(path);
            }
        }
    }
    logs.sort();
    let mut out = String::new();
    for path in logs {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        out.push_str(&format!("--- the last lines of {}\n", path.display()));
        for line in &lines[lines.len().saturating_sub(15)..] {
            out.push_str(&line.chars().take(300).collect::<String>());
            out.push('\n');
        }
    }
    out
}

/// Processes whose environment mentions `dir` (flightdeck, the emulator, every fleet child).
fn processes_mentioning(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| String::from_utf8_lossy(&env).contains(&needle))
                .unwrap_or(false)
        })
        .filter(|pid| local_cloud::registry::alive(*pid))
        .collect()
}

/// Kills the demo however the test ends (its fleet and emulator die with it).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One tour at a time: two fleets on two cores would slow each other's story.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn the_tour_tells_the_story_on_screen_and_q_leaves_nothing_running() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let session = format!("flightdeck-tour-test-{}", std::process::id());
    // Short warm-up and cooldown keep the story (and the test) to a few minutes.
    let script = format!(
        "env -u AWS_ENDPOINT_URL -u AWS_PROFILE -u NO_COLOR FLIGHTDECK_RUNTIME_DIR={home} \
         FLIGHTDECK_LOG_DIR={logs} XDG_CONFIG_HOME={home} FLIGHTDECK_STATE_DIR={home}/state \
         {bin} demo --tour --warmup 5 --cooldown 15; echo \"exited=$?\"; sleep 60",
        home = home.path().display(),
        logs = local_cloud::paths::test_logs_dir().display(),
        bin = assert_cmd::cargo::cargo_bin("flightdeck").display(),
    );
    let _session = Session::start(&session, 180, 45, &script);
    let s = (session.as_str(), home.path());
    let screen = &mut Screen::default();
    let minutes = |m: u64| Duration::from_secs(60 * m);

    wait(s, screen, "the first caption", minutes(2), |sc| {
        sc.caption("1/7 load: a ramp of small uploads").is_some()
    });
    wait(
        s,
        screen,
        "uploads waiting in video_tasks",
        minutes(2),
        |sc| sc.caption("2/7 the queue builds").is_some() && sc.most_waiting > 0,
    );
    wait(
        s,
        screen,
        "the worker group's desired capacity growing",
        minutes(2),
        |sc| {
            sc.caption("3/7 the worker group scales out: desired 1 → ")
                .is_some()
                && sc.desired.iter().any(|d| *d > 1)
        },
    );
    wait(s, screen, "the CPU caption", minutes(2), |sc| {
        sc.caption("4/7 CPU rises: flightdeck-worker instances at")
            .is_some()
    });
    let cpu: f64 = screen
        .caption("4/7 CPU rises: flightdeck-worker instances at")
        .and_then(|c| c.rsplit(" at ").next())
        .and_then(|p| p.trim_end_matches('%').parse().ok())
        .unwrap();
    assert!(cpu >= 40.0, "{:?}", screen.captions);
    wait(
        s,
        screen,
        "the poison message in the DLQ",
        minutes(3),
        |sc| {
            sc.caption("5/7 a poison upload lands in the DLQ: failure_reason")
                .is_some()
                && sc.dlq_alarm
        },
    );
    let reason = screen
        .caption("5/7 a poison upload lands in the DLQ: failure_reason")
        .unwrap()
        .clone();
    assert!(
        reason.contains("not_a_video") || reason.contains("corrupt"),
        "the poison should fail as not a video: {reason}"
    );
    wait(
        s,
        screen,
        "the dead letter's log lines in the logs view",
        minutes(2),
        |sc| {
            sc.caption("6/7 the dead letter's log lines say why: ")
                .is_some()
                && sc.pane.contains("Logs · dead letter")
        },
    );
    wait(
        s,
        screen,
        "the redrive emptying the DLQ",
        minutes(2),
        |sc| {
            sc.caption("7/7 the operator fixes it and redrives: moved 1")
                .is_some()
                && !sc.pane.contains("DLQ video_dlq")
        },
    );
    wait(
        s,
        screen,
        "the scale-in and the end of the tour",
        minutes(3),
        |sc| {
            sc.caption("the group scales back in: desired").is_some()
                && sc.caption("tour done: q quits").is_some()
        },
    );
    assert_eq!(screen.desired.last(), Some(&1), "{:?}", screen.desired);

    // Each caption's claim was on the screen the moment the caption was: the number in the
    // caption is the number in the table beside it.
    let number_after = |caption: &str, marker: &str| -> u64 {
        caption
            .rsplit(marker)
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.trim_end_matches('%').parse().ok())
            .unwrap_or_else(|| panic!("no number after {marker:?} in {caption:?}"))
    };
    let sent = screen.sighting("1/7 load: a ramp of small uploads: ");
    assert!(
        number_after(&sent.caption, "30 s, ") >= 1,
        "{}",
        sent.caption
    );
    let queue = screen.sighting("2/7 the queue builds: ");
    assert_eq!(
        queue.waiting,
        Some(number_after(&queue.caption, "builds: ")),
        "{queue:#?}"
    );
    let out = screen.sighting("3/7 the worker group scales out: ");
    assert_eq!(
        out.desired.map(u64::from),
        Some(number_after(&out.caption, "→ ")),
        "{out:#?}"
    );
    let dead = screen.sighting("5/7 a poison upload lands in the DLQ: ");
    assert_eq!(dead.dlq, Some(1), "{dead:#?}");
    // The log lines caption came with the lines on screen: the worker's dead-lettering line
    // among them, and at least as many lines as it says.
    let lines = screen.sighting("6/7 the dead letter's log lines say why: ");
    assert!(lines.pane.contains("dead-lettering"), "{lines:#?}");
    assert!(
        number_after(&lines.caption, "say why: ") >= 1,
        "{}",
        lines.caption
    );
    let fixed = screen.sighting("7/7 the operator fixes it and redrives: ");
    assert_eq!(fixed.dlq, None, "{fixed:#?}");
    let back = screen.sighting("the group scales back in: ");
    assert_eq!(
        back.desired.map(u64::from),
        Some(number_after(&back.caption, "→ ")),
        "{back:#?}"
    );
    assert!(screen.pane.contains("1/1/3"), "{}", screen.pane);

    // The redrive and the fix are in the audit log, like any change the console makes.
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"dlq.redrive\"") && audit.contains("\"tour.fix\""),
        "{audit}"
    );

    tmux(&["send-keys", "-t", &session, "q"]);
    wait(s, screen, "the exit status", minutes(1), |sc| {
        sc.pane.contains("exited=")
    });
    assert!(screen.pane.contains("exited=0"), "{}", screen.pane);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = processes_mentioning(home.path());
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        left = processes_mentioning(home.path());
    }
    assert!(left.is_empty(), "left running after q: {left:?}");
}

/// The whole story is checked on screen above; here the printed captions, and Ctrl-C in the
/// middle of the story (the load run, the fleet and the emulator all busy) stopping everything.
#[test]
fn without_a_terminal_the_tour_prints_its_captions_and_ctrl_c_mid_story_stops_everything() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("flightdeck"))
        .args([
            "demo",
            "--tour",
            "--no-tui",
            "--warmup",
            "5",
            "--cooldown",
            "15",
        ])
        .env("FLIGHTDECK_RUNTIME_DIR", home.path())
        .env("FLIGHTDECK_LOG_DIR", local_cloud::paths::test_logs_dir())
        .env("FLIGHTDECK_STATE_DIR", home.path().join("state"))
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut child = Killed(child);
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Each step's caption, in order, with its result, up to the scale-out.
    let steps = [
        "tour: 1/7 load: a ramp of small uploads: up to 6 users over 30 s, ",
        "tour: 2/7 the queue builds: ",
        "tour: 3/7 the worker group scales out: desired 1 → ",
    ];
    let deadline = Instant::now() + Duration::from_secs(4 * 60);
    let mut tour = Vec::new();
    while !tour.iter().any(|l: &String| l.starts_with(steps[2])) {
        assert!(
            Instant::now() < deadline,
            "the tour did not reach the scale-out: {tour:#?}"
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            if line.starts_with("tour: ") {
                tour.push(line);
            }
        }
    }
    let mut at = 0;
    for step in steps {
        let found = tour[at..].iter().position(|l| l.starts_with(step));
        at += found.unwrap_or_else(|| panic!("no {step:?} after line {at}: {tour:#?}"));
    }
    assert!(
        processes_mentioning(home.path()).len() > 1,
        "the emulator and the fleet run beside the demo"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "flightdeck did not exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let left = processes_mentioning(home.path());
    assert!(left.is_empty(), "left running after Ctrl-C: {left:?}");
}
