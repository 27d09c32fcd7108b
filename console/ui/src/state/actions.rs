//! The one confirm path for every change the console makes, and the desired-capacity dialog.
//!
//! A reversible change (scale to a non-zero size, redrive of hand-picked messages) needs a plain
//! `y`; anything that destroys or moves in bulk (purge, delete, scale to zero, redrive by filter
//! or of everything) needs the queue's or group's name typed out.

use crate::event::{Command, MessageSelection, RedriveRequest, RefreshAction};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Redrive {
        request: RedriveRequest,
        /// Messages it will move as far as the last peek knows.
        count: usize,
        /// The queue they go to, as the console resolved it.
        to: String,
    },
    Delete {
        queue: String,
        ids: Vec<String>,
    },
    Purge {
        queue: String,
        visible: u64,
    },
    Load {
        scenario: String,
        description: String,
        /// `9000 arrivals over 4m · passes if p95 < 1s` (`ScenarioInfo::plan`), if known.
        plan: String,
        /// Where the requests go, as the console knows it (e.g. "the local fleet's API").
        target: String,
        /// Another machine's host: typed confirm.
        remote_host: Option<String>,
        /// What stands against a run on the local cloud now (its disk, the machine's memory).
        warnings: Vec<String>,
    },
    Scale {
        group: String,
        from: u32,
        to: u32,
        honor_cooldown: bool,
        /// Policies that may change it back, e.g. "flightdeck-worker-cpu60 (CPU 60%)".
        policies: Vec<String>,
    },
    /// Start (typed: replaces every instance) or cancel a group's instance refresh.
    InstanceRefresh {
        group: String,
        cancel: bool,
        /// The latest refresh, as the console last read it.
        latest: Option<String>,
    },
    /// Suspend or resume a group's scaling processes.
    Processes {
        group: String,
        processes: Vec<String>,
        suspend: bool,
        /// What is suspended now, as the last refresh saw it.
        suspended_now: Vec<String>,
        /// Where the target behaves otherwise than AWS (the local cloud), what differs.
        note: Option<String>,
    },
}

/// How much the operator must do to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// `y` or enter.
    Plain,
    /// Type this name exactly, then enter.
    Typed(String),
}

impl Pending {
    pub fn confirm(&self) -> Confirm {
        match self {
            Pending::Redrive { request, .. } => match request.selection {
                MessageSelection::Ids(_) => Confirm::Plain,
                MessageSelection::Filter(_) | MessageSelection::All => {
                    Confirm::Typed(request.dlq.clone())
                }
            },
            Pending::Delete { queue, .. } | Pending::Purge { queue, .. } => {
                Confirm::Typed(queue.clone())
            }
            Pending::Scale { group, to, .. } if *to == 0 => Confirm::Typed(group.clone()),
            Pending::Load {
                remote_host: Some(host),
                ..
            } => Confirm::Typed(host.clone()),
            Pending::Load { .. } => Confirm::Plain,
            Pending::Scale { .. } => Confirm::Plain,
            // Suspending stops the group's own repair and scaling: typed, like a scale to 0.
            Pending::Processes {
                group,
                suspend: true,
                ..
            } => Confirm::Typed(group.clone()),
            Pending::Processes { .. } => Confirm::Plain,
            Pending::InstanceRefresh {
                group,
                cancel: false,
                ..
            } => Confirm::Typed(group.clone()),
            Pending::InstanceRefresh { .. } => Confirm::Plain,
        }
    }

    pub fn title(&self) -> String {
        match self {
            Pending::Redrive { request, .. } if request.dry_run => "Redrive (dry run)".to_owned(),
            Pending::Redrive { .. } => "Redrive".to_owned(),
            Pending::Delete { .. } => "Delete messages".to_owned(),
            Pending::Purge { .. } => "Purge queue".to_owned(),
            Pending::Scale { .. } => "Set desired capacity".to_owned(),
            Pending::Load { .. } => "Start a load run".to_owned(),
            Pending::Processes { suspend: true, .. } => "Suspend scaling processes".to_owned(),
            Pending::Processes { .. } => "Resume scaling processes".to_owned(),
            Pending::InstanceRefresh { cancel: false, .. } => {
                "Start an instance refresh".to_owned()
            }
            Pending::InstanceRefresh { .. } => "Cancel the instance refresh".to_owned(),
        }
    }

    /// The action and its target as the audit log names them (`scale`, `flightdeck-worker`).
    pub fn audit_name(&self) -> (&'static str, String) {
        match self {
            Pending::Redrive { request, .. } => ("dlq.redrive", request.dlq.clone()),
            Pending::Delete { queue, .. } => ("dlq.delete", queue.clone()),
            Pending::Purge { queue, .. } => ("dlq.purge", queue.clone()),
            Pending::Scale { group, .. } => ("scale", group.clone()),
            Pending::Load { scenario, .. } => ("load.run", scenario.clone()),
            Pending::Processes { group, suspend, .. } => (
                if *suspend {
                    "scale.suspend"
                } else {
                    "scale.resume"
                },
                group.clone(),
            ),
            Pending::InstanceRefresh { group, cancel, .. } => (
                if *cancel {
                    "scale.instance_refresh_cancel"
                } else {
                    "scale.instance_refresh"
                },
                group.clone(),
            ),
        }
    }

    /// The operator said no at the confirmation: audited, nothing sent.
    pub fn cancelled(&self) -> Command {
        let (action, target) = self.audit_name();
        let mut detail = format!("cancelled at the confirmation: {}", self.title());
        if let Some(first) = self.describe().first() {
            detail.push_str(&format!(" ({first})"));
        }
        Command::Audited {
            action: action.to_owned(),
            target,
            result: "cancelled".to_owned(),
            detail,
        }
    }

    /// What will happen, one line each.
    pub fn describe(&self) -> Vec<String> {
        match self {
            Pending::Redrive { request, count, to } => {
                let which = match &request.selection {
                    MessageSelection::Ids(ids) => format!("{} selected message(s)", ids.len()),
                    MessageSelection::Filter(f) => {
                        format!("every message matching `{f}` ({count} seen so far)")
                    }
                    MessageSelection::All => format!("every message ({count} seen so far)"),
                };
                let edited = if request.edited_body.is_some() {
                    " with its edited body (attributes unchanged)"
                } else {
                    ""
                };
                let mut out = vec![
                    format!("Move {which}{edited}"),
                    format!("from {} to {to}.", request.dlq),
                    "Each message is sent before it is deleted, with a journal on disk:".to_owned(),
                    "an interrupted redrive resumes without losing any.".to_owned(),
                ];
                if request.dry_run {
                    out.push("Dry run: nothing moves; the result lists what would.".to_owned());
                }
                out
            }
            Pending::Delete { queue, ids } => vec![
                format!("Delete {} message(s) from {queue}.", ids.len()),
                "Deleted messages cannot be recovered.".to_owned(),
            ],
            Pending::Purge { queue, visible } => vec![
                format!("Delete every message in {queue} (about {visible})."),
                "SQS allows one purge per queue per 60 s; it cannot be undone.".to_owned(),
            ],
            Pending::Load {
                scenario,
                description,
                plan,
                target,
                warnings,
                ..
            } => {
                let mut out = vec![
                    format!("Run `{scenario}`: {description}"),
                    format!("against {target}."),
                ];
                if !plan.is_empty() {
                    out.push(format!("{plan}."));
                }
                out.push("x cancels it at any time; it keeps going in other views.".to_owned());
                out.extend(warnings.iter().map(|w| format!("⚠ {w}")));
                out
            }
            Pending::Scale {
                group,
                from,
                to,
                honor_cooldown,
                policies,
            } => {
                let mut out = vec![format!("{group}: desired capacity {from} → {to}.")];
                if *honor_cooldown {
                    out.push("Honours the group's cooldown (refused while it runs).".to_owned());
                }
                if !policies.is_empty() {
                    out.push(format!("May be changed back by: {}.", policies.join(", ")));
                }
                out
            }
            Pending::Processes {
                group,
                processes,
                suspend,
                suspended_now,
                note,
            } => {
                let verb = if *suspend { "Suspend" } else { "Resume" };
                let mut out = vec![format!("{verb} on {group}: {}.", processes.join(", "))];
                if *suspend {
                    out.push(process_effect(processes));
                }
                out.push(if suspended_now.is_empty() {
                    "Nothing is suspended now.".to_owned()
                } else {
                    format!("Suspended now: {}.", suspended_now.join(", "))
                });
                out.extend(note.clone());
                out
            }
            Pending::InstanceRefresh {
                group,
                cancel,
                latest,
            } => {
                let mut out = if *cancel {
                    vec![
                        format!("Cancel the instance refresh of {group}."),
                        "Instances already replaced stay; the rest are left as they are."
                            .to_owned(),
                    ]
                } else {
                    vec![
                        format!("Replace every instance of {group} in rolling batches,"),
                        "keeping 90% of the desired capacity in service.".to_owned(),
                    ]
                };
                out.push(match latest {
                    Some(l) => format!("Latest refresh: {l}."),
                    None => "No refresh read yet (:instance-refresh status).".to_owned(),
                });
                out
            }
        }
    }

    /// Dry run on/off, for the actions that have one.
    pub fn toggle_dry_run(&mut self) -> bool {
        if let Pending::Redrive { request, .. } = self {
            request.dry_run = !request.dry_run;
            true
        } else {
            false
        }
    }

    pub fn into_command(self) -> Command {
        match self {
            Pending::Redrive { request, .. } => Command::Redrive(request),
            Pending::Delete { queue, ids } => Command::DeleteMessages { queue, ids },
            Pending::Purge { queue, .. } => Command::Purge { queue },
            Pending::Load { scenario, .. } => Command::StartLoad { scenario },
            Pending::Scale {
                group,
                to,
                honor_cooldown,
                ..
            } => Command::SetDesiredCapacity {
                group,
                desired: to,
                honor_cooldown,
            },
            Pending::Processes {
                group,
                processes,
                suspend,
                ..
            } => Command::SetProcesses {
                group,
                processes,
                suspend,
            },
            Pending::InstanceRefresh { group, cancel, .. } => Command::InstanceRefresh {
                group,
                action: if cancel {
                    RefreshAction::Cancel
                } else {
                    RefreshAction::Start
                },
            },
        }
    }
}

/// What suspending these processes means for the group, in one line.
fn process_effect(processes: &[String]) -> String {
    let has = |p: &str| processes.iter().any(|x| x == p);
    let mut parts = Vec::new();
    if has(crate::model::ALARM_NOTIFICATION) {
        parts.push("no scaling policy changes the capacity");
    }
    if has("Launch") {
        parts.push("no instance is launched");
    }
    if has("Terminate") {
        parts.push("no instance is terminated");
    }
    if has("ReplaceUnhealthy") || has("HealthCheck") {
        parts.push("unhealthy instances are not replaced");
    }
    if parts.is_empty() {
        "Until resumed, AWS skips these processes for the group.".to_owned()
    } else {
        format!("Until resumed: {}.", parts.join("; "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDialog {
    pub pending: Pending,
    /// What has been typed for a typed confirm.
    pub typed: String,
}

impl ConfirmDialog {
    pub fn new(pending: Pending) -> Self {
        ConfirmDialog {
            pending,
            typed: String::new(),
        }
    }

    /// Whether enter now confirms.
    pub fn ready(&self) -> bool {
        match self.pending.confirm() {
            Confirm::Plain => true,
            Confirm::Typed(name) => self.typed == name,
        }
    }
}

/// The desired-capacity dialog, pre-filled with the current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityDialog {
    pub group: String,
    pub value: String,
    pub honor_cooldown: bool,
    /// Why the value cannot be used, shown under it.
    pub error: Option<String>,
}

/// Checks a desired capacity against the group's bounds; AWS refuses values outside min..max
/// (the local emulator does not, so the console always checks).
pub fn check_desired(text: &str, min: u32, max: u32) -> Result<u32, String> {
    let n: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a whole number", text.trim()))?;
    if n < min || n > max {
        return Err(format!("{n} is outside the group's range {min}..{max}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redrive(selection: MessageSelection) -> Pending {
        Pending::Redrive {
            request: RedriveRequest {
                dlq: "video_dlq".to_owned(),
                to: None,
                selection,
                dry_run: false,
                edited_body: None,
            },
            count: 3,
            to: "video_tasks".to_owned(),
        }
    }

    #[test]
    fn bulk_and_destructive_actions_need_the_name_typed() {
        assert_eq!(
            redrive(MessageSelection::Ids(vec!["a".into()])).confirm(),
            Confirm::Plain
        );
        assert_eq!(
            redrive(MessageSelection::All).confirm(),
            Confirm::Typed("video_dlq".into())
        );
        assert_eq!(
            redrive(MessageSelection::Filter("age>1h".into())).confirm(),
            Confirm::Typed("video_dlq".into())
        );
        let purge = Pending::Purge {
            queue: "video_dlq".into(),
            visible: 4,
        };
        assert_eq!(purge.confirm(), Confirm::Typed("video_dlq".into()));
        let scale = |to| Pending::Scale {
            group: "g".into(),
            from: 2,
            to,
            honor_cooldown: false,
            policies: vec![],
        };
        assert_eq!(scale(3).confirm(), Confirm::Plain);
        assert_eq!(scale(0).confirm(), Confirm::Typed("g".into()));
    }

    #[test]
    fn a_typed_confirm_is_ready_only_on_the_exact_name() {
        let mut d = ConfirmDialog::new(redrive(MessageSelection::All));
        assert!(!d.ready());
        d.typed = "video_dl".into();
        assert!(!d.ready());
        d.typed = "video_dlq".into();
        assert!(d.ready());
    }

    #[test]
    fn desired_capacity_must_be_inside_the_range() {
        assert_eq!(check_desired(" 3 ", 1, 3), Ok(3));
        assert!(check_desired("4", 1, 3).unwrap_err().contains("1..3"));
        assert!(check_desired("0", 1, 3).is_err());
        assert!(check_desired("two", 1, 3)
            .unwrap_err()
            .contains("whole number"));
    }
}
