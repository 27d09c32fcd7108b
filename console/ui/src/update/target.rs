//! `:profile` and `:region`: ask the agents to switch, forget the old target's data at once,
//! drop its late reports until the switch is confirmed, then show the new target.

use crate::event::Command;
use crate::model::{JobState, Report, TargetInfo};
use crate::state::nav::View;
use crate::state::{Level, State};

/// Reports about what is at the target, which a switch makes stale. Audit entries, load runs,
/// redrive progress, outcomes and captions are not about one region's data and always pass.
pub(super) fn from_old_target(report: &Report) -> bool {
    matches!(
        report,
        Report::Groups { .. }
            | Report::Queues { .. }
            | Report::Metrics { .. }
            | Report::Calls { .. }
            | Report::AgentError { .. }
            | Report::Dlq { .. }
            | Report::Autoscaler { .. }
            | Report::Fleet { .. }
    )
}

pub(super) fn switch(
    state: &mut State,
    profile: Option<String>,
    region: Option<String>,
) -> Vec<Command> {
    let Some(from) = state.target.heading().cloned() else {
        state.flash(Level::Warn, "not connected yet: try again in a moment");
        return Vec::new();
    };
    let redriving = state
        .jobs
        .redrive
        .as_ref()
        .is_some_and(|r| r.state == JobState::Running);
    if redriving || state.load.running() {
        let what = if redriving { "a redrive" } else { "a load run" };
        state.flash(
            Level::Warn,
            format!("{what} is running: let it finish or :cancel it, then switch"),
        );
        return Vec::new();
    }
    if let Some(p) = &profile {
        if !state.target.profiles.contains(p) {
            state.flash(
                Level::Error,
                format!("no profile `{p}` in ~/.aws/config or ~/.aws/credentials"),
            );
            return Vec::new();
        }
    }
    let to = TargetInfo {
        profile: profile.or(from.profile.clone()),
        region: region.unwrap_or(from.region.clone()),
        endpoint: from.endpoint.clone(),
        identity: None,
    };
    if to == from {
        state.flash(Level::Info, format!("already on {}", to.label()));
        return Vec::new();
    }
    state.target.last_seq += 1;
    let seq = state.target.last_seq;
    state.target.pending = Some((seq, to.clone()));
    state.clear_target_data();
    // Detail views name a group or queue of the old target.
    if matches!(
        state.nav.view(),
        View::Group(_) | View::Queue(_) | View::Message(..)
    ) {
        while state.nav.pop() {}
    }
    state.flash(Level::Info, format!("switching to {}…", to.label()));
    vec![Command::SwitchTarget {
        seq,
        profile: to.profile,
        region: to.region,
    }]
}

pub(super) fn arrived(state: &mut State, seq: u64, result: Result<TargetInfo, String>) {
    let answers_pending = state
        .target
        .pending
        .as_ref()
        .is_some_and(|(pending, _)| *pending == seq);
    match result {
        Ok(info) => {
            // Everything before this report was about the previous target.
            if state.target.current.is_some() {
                state.clear_target_data();
            }
            if answers_pending {
                state.target.pending = None;
                state.flash(Level::Info, format!("now watching {}", info.label()));
            }
            state.target.current = Some(info);
        }
        Err(e) => {
            if answers_pending {
                state.target.pending = None;
            }
            let still = state
                .target
                .current
                .as_ref()
                .map_or_else(String::new, |t| format!("; still on {}", t.label()));
            state.flash(Level::Error, format!("switch failed: {e}{still}"));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crossterm::event::KeyCode;

    use super::*;
    use crate::fixtures::*;
    use crate::{update, Event};

    fn at(profile: Option<&str>, region: &str) -> TargetInfo {
        TargetInfo {
            profile: profile.map(str::to_owned),
            region: region.to_owned(),
            endpoint: None,
            identity: None,
        }
    }

    fn target(seq: u64, result: Result<TargetInfo, String>) -> Event {
        Event::Report(Report::Target {
            at: t0(),
            seq,
            result,
        })
    }

    fn run(s: &mut State, line: &str) -> Vec<Command> {
        update(s, key(':'));
        type_text(s, line);
        update(s, code(KeyCode::Enter))
    }

    fn connected() -> State {
        let mut s = loaded_state();
        s.set_profiles(vec!["default".into(), "prod".into()]);
        update(&mut s, target(0, Ok(at(Some("default"), "us-east-1"))));
        s
    }

    #[test]
    fn the_first_target_report_keeps_the_data_and_sets_the_header() {
        let s = connected();
        assert_eq!(s.target().current, Some(at(Some("default"), "us-east-1")));
        assert_eq!(s.groups().list.len(), 2, "seq 0 clears nothing");
        assert!(s.target().pending.is_none());
    }

    #[test]
    fn a_region_switch_clears_the_old_data_drops_late_reports_and_shows_the_new_target() {
        let mut s = connected();
        s.nav.push(View::Group("worker-asg".into()));
        let cmds = run(&mut s, "region eu-west-1");
        assert!(cmds.contains(&Command::SwitchTarget {
            seq: 1,
            profile: Some("default".into()),
            region: "eu-west-1".into()
        }));
        assert!(s.groups().list.is_empty() && s.queues().list.is_empty());
        assert_eq!(
            s.view(),
            &View::Dashboard,
            "detail views of old names close"
        );
        assert_eq!(
            s.target().heading(),
            Some(&at(Some("default"), "eu-west-1"))
        );

        // A late report from the old region's agents must not appear as current data.
        update(
            &mut s,
            Event::Report(Report::Groups {
                at: t(5),
                groups: vec![api(2)],
            }),
        );
        update(&mut s, Event::Report(metrics()));
        assert!(
            s.groups().list.is_empty(),
            "old-region data shown during a switch"
        );
        assert!(s.metrics.at.is_none());

        update(&mut s, target(1, Ok(at(Some("default"), "eu-west-1"))));
        assert!(s.target().pending.is_none());
        assert_eq!(s.target().current, Some(at(Some("default"), "eu-west-1")));
        // From here on reports are about the new region.
        update(
            &mut s,
            Event::Report(Report::Groups {
                at: t(6),
                groups: vec![],
            }),
        );
        assert!(s.groups().at.is_some());
        assert!(s.groups().list.is_empty());
    }

    #[test]
    fn a_profile_switch_keeps_the_region_and_must_name_a_known_profile() {
        let mut s = connected();
        assert!(run(&mut s, "profile nope").is_empty());
        assert!(s
            .current_flash()
            .unwrap()
            .text
            .contains("no profile `nope`"));
        assert_eq!(s.groups().list.len(), 2, "a refused switch clears nothing");
        let cmds = run(&mut s, "profile prod");
        assert!(cmds.contains(&Command::SwitchTarget {
            seq: 1,
            profile: Some("prod".into()),
            region: "us-east-1".into()
        }));
        // Switching back before the answer: the second request is the one waited for.
        let cmds = run(&mut s, "profile default");
        assert!(cmds.contains(&Command::SwitchTarget {
            seq: 2,
            profile: Some("default".into()),
            region: "us-east-1".into()
        }));
        update(&mut s, target(1, Ok(at(Some("prod"), "us-east-1"))));
        assert!(s.target().pending.is_some(), "still waiting for seq 2");
        update(
            &mut s,
            Event::Report(Report::Groups {
                at: t(9),
                groups: vec![api(1)],
            }),
        );
        assert!(s.groups().list.is_empty());
        update(&mut s, target(2, Ok(at(Some("default"), "us-east-1"))));
        assert!(s.target().pending.is_none());
    }

    #[test]
    fn a_failed_switch_says_why_and_stays() {
        let mut s = connected();
        run(&mut s, "region eu-west-2");
        update(&mut s, target(1, Err("no credentials".into())));
        assert!(s.target().pending.is_none());
        assert_eq!(s.target().current, Some(at(Some("default"), "us-east-1")));
        let flash = s.current_flash().unwrap().text.clone();
        assert_eq!(
            flash,
            "switch failed: no credentials; still on default · us-east-1"
        );
        // The old agents keep reporting, and their data shows again.
        update(
            &mut s,
            Event::Report(Report::Groups {
                at: t(9),
                groups: vec![api(1)],
            }),
        );
        assert_eq!(s.groups().list.len(), 1);
    }

    #[test]
    fn no_switch_while_a_redrive_runs_or_before_the_first_report_or_to_the_same_place() {
        let mut s = loaded_state();
        assert!(run(&mut s, "region eu-west-1").is_empty());
        assert!(s
            .current_flash()
            .unwrap()
            .text
            .contains("not connected yet"));
        let mut s = connected();
        assert!(run(&mut s, "region us-east-1").is_empty());
        assert!(s.current_flash().unwrap().text.contains("already on"));
        s.jobs.redrive = Some(crate::model::RedriveStatus {
            from: "video_dlq".into(),
            to: "video_tasks".into(),
            mode: "batch".into(),
            note: None,
            dry_run: false,
            moved: 1,
            remaining: Some(3),
            duplicates: 0,
            per_s: 1.0,
            started: t0(),
            state: JobState::Running,
        });
        assert!(run(&mut s, "region eu-west-1").is_empty());
        assert!(s
            .current_flash()
            .unwrap()
            .text
            .contains("a redrive is running"));
        assert_eq!(s.groups().list.len(), 2);
    }
}
