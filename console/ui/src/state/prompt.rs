//! The `:` command line and `/` filter line: text entry, the command table, parsing and tab
//! completion.

use std::time::Duration;

use crate::config::ChartMarker;
use crate::fmt;
use crate::state::chart::{MAX_WINDOW, MIN_WINDOW, WINDOWS};
use crate::state::nav::TableId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    Theme,
    Group,
    Queue,
    Window,
    Marker,
    /// An optional queue name.
    MaybeQueue,
    /// `[GROUP] [N]`, both optional.
    Scale,
    /// Scaling process names (optional): the open group's.
    Processes,
    /// `status`, `start` or `cancel` (optional).
    RefreshVerb,
    /// `[GROUP|INSTANCE] [id=ID...]`, all optional.
    Logs,
    OnOff,
    MaybeScenario,
    Profile,
    Region,
}

pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub arg: Arg,
    pub usage: &'static str,
    pub help: &'static str,
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "dashboard",
        aliases: &["dash", "home"],
        arg: Arg::None,
        usage: "dashboard",
        help: "groups, queues and CPU at a glance",
    },
    CommandSpec {
        name: "groups",
        aliases: &["asg"],
        arg: Arg::None,
        usage: "groups",
        help: "all Auto Scaling groups",
    },
    CommandSpec {
        name: "queues",
        aliases: &["sqs"],
        arg: Arg::None,
        usage: "queues",
        help: "all queues",
    },
    CommandSpec {
        name: "dlq",
        aliases: &[],
        arg: Arg::None,
        usage: "dlq",
        help: "the dead-letter queue",
    },
    CommandSpec {
        name: "group",
        aliases: &[],
        arg: Arg::Group,
        usage: "group NAME",
        help: "one group in detail",
    },
    CommandSpec {
        name: "queue",
        aliases: &[],
        arg: Arg::Queue,
        usage: "queue NAME",
        help: "one queue in detail",
    },
    CommandSpec {
        name: "redrive",
        aliases: &[],
        arg: Arg::MaybeQueue,
        usage: "redrive [QUEUE]",
        help: "send DLQ messages back (marked, shown or all) to the source or QUEUE",
    },
    CommandSpec {
        name: "purge",
        aliases: &[],
        arg: Arg::MaybeQueue,
        usage: "purge [QUEUE]",
        help: "delete every message of the open queue or QUEUE (typed confirm)",
    },
    CommandSpec {
        name: "scale",
        aliases: &["desired"],
        arg: Arg::Scale,
        usage: "scale [GROUP] [N]",
        help: "set a group's desired capacity",
    },
    CommandSpec {
        name: "load",
        aliases: &[],
        arg: Arg::MaybeScenario,
        usage: "load [SCENARIO]",
        help: "the load run view; with a scenario, start one",
    },
    CommandSpec {
        name: "autoscaler",
        aliases: &[],
        arg: Arg::OnOff,
        usage: "autoscaler on|off [GROUP]",
        help: "let the open group's policies act, or stand them aside (AlarmNotification)",
    },
    CommandSpec {
        name: "suspend",
        aliases: &[],
        arg: Arg::Processes,
        usage: "suspend [PROCESS...|all]",
        help: "suspend the open group's scaling processes (AlarmNotification if none named)",
    },
    CommandSpec {
        name: "resume",
        aliases: &[],
        arg: Arg::Processes,
        usage: "resume [PROCESS...|all]",
        help: "resume the open group's suspended processes (AlarmNotification if none named)",
    },
    CommandSpec {
        name: "instance-refresh",
        aliases: &[],
        arg: Arg::RefreshVerb,
        usage: "instance-refresh [status|start|cancel]",
        help: "the open group's instance refresh: read it, start one (typed confirm), cancel it",
    },
    CommandSpec {
        name: "cancel",
        aliases: &[],
        arg: Arg::None,
        usage: "cancel",
        help: "cancel the running redrive",
    },
    CommandSpec {
        name: "alarms",
        aliases: &["alarm"],
        arg: Arg::None,
        usage: "alarms",
        help: "the stack's alarms: state, threshold vs now, reason, history; enter opens what one watches",
    },
    CommandSpec {
        name: "logs",
        aliases: &["log"],
        arg: Arg::Logs,
        usage: "logs [GROUP|INSTANCE] [id=ID...]",
        help: "log lines, followed: of a role, group or instance; with id=, about a video or request",
    },
    CommandSpec {
        name: "audit",
        aliases: &[],
        arg: Arg::None,
        usage: "audit",
        help: "every change made from this console",
    },
    CommandSpec {
        name: "profile",
        aliases: &[],
        arg: Arg::Profile,
        usage: "profile NAME",
        help: "watch with another AWS profile (same region)",
    },
    CommandSpec {
        name: "region",
        aliases: &[],
        arg: Arg::Region,
        usage: "region NAME",
        help: "watch another region (same profile)",
    },
    CommandSpec {
        name: "theme",
        aliases: &[],
        arg: Arg::Theme,
        usage: "theme NAME",
        help: "switch colour theme",
    },
    CommandSpec {
        name: "window",
        aliases: &[],
        arg: Arg::Window,
        usage: "window 15m|1h|3h|24h",
        help: "chart time window",
    },
    CommandSpec {
        name: "freeze",
        aliases: &[],
        arg: Arg::None,
        usage: "freeze",
        help: "freeze / unfreeze charts",
    },
    CommandSpec {
        name: "marker",
        aliases: &[],
        arg: Arg::Marker,
        usage: "marker braille|dot",
        help: "chart marker",
    },
    CommandSpec {
        name: "refresh",
        aliases: &[],
        arg: Arg::None,
        usage: "refresh",
        help: "poll every agent now",
    },
    CommandSpec {
        name: "help",
        aliases: &["h"],
        arg: Arg::None,
        usage: "help",
        help: "keys and commands",
    },
    CommandSpec {
        name: "quit",
        aliases: &["q", "q!", "exit"],
        arg: Arg::None,
        usage: "quit",
        help: "leave flightdeck",
    },
];

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Dashboard,
    Groups,
    Queues,
    Dlq,
    Group(String),
    Queue(String),
    Theme(String),
    Window(Duration),
    Freeze,
    Marker(ChartMarker),
    Redrive(Option<String>),
    Purge(Option<String>),
    Scale {
        group: Option<String>,
        value: Option<String>,
    },
    Cancel,
    Audit,
    Alarms,
    /// `:logs [GROUP|INSTANCE] [id=ID...]`.
    Logs {
        target: Option<String>,
        ids: Vec<String>,
    },
    /// `:autoscaler on|off [GROUP]`: resume or suspend AlarmNotification.
    Autoscaler {
        on: bool,
        group: Option<String>,
    },
    /// Suspend (`true`) or resume these scaling processes of the open group.
    Processes {
        suspend: bool,
        processes: Vec<String>,
    },
    InstanceRefresh(crate::event::RefreshAction),
    Load(Option<String>),
    Profile(String),
    Region(String),
    Refresh,
    Help,
    Quit,
}

pub fn parse(line: &str) -> Result<Parsed, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Err(String::new());
    };
    let arg = words.collect::<Vec<_>>().join(" ");
    let spec = COMMANDS
        .iter()
        .find(|c| c.name == word || c.aliases.contains(&word))
        .ok_or_else(|| format!("unknown command `{word}` (:help lists them)"))?;
    if spec.arg == Arg::None && !arg.is_empty() {
        return Err(format!("`{}` takes no argument", spec.name));
    }
    let optional = matches!(
        spec.arg,
        Arg::MaybeQueue
            | Arg::Scale
            | Arg::MaybeScenario
            | Arg::Processes
            | Arg::RefreshVerb
            | Arg::Logs
    );
    if spec.arg != Arg::None && !optional && arg.is_empty() {
        return Err(format!("usage: :{}", spec.usage));
    }
    Ok(match spec.name {
        "dashboard" => Parsed::Dashboard,
        "groups" => Parsed::Groups,
        "queues" => Parsed::Queues,
        "dlq" => Parsed::Dlq,
        "group" => Parsed::Group(arg),
        "queue" => Parsed::Queue(arg),
        "theme" => Parsed::Theme(arg),
        "window" => {
            let w = fmt::parse_window(&arg)
                .ok_or_else(|| format!("`{arg}` is not a window: try 15m, 1h, 3h, 24h"))?;
            if !(MIN_WINDOW..=MAX_WINDOW).contains(&w) {
                return Err("a window is between 1m and 24h".to_owned());
            }
            Parsed::Window(w)
        }
        "freeze" => Parsed::Freeze,
        "marker" => match arg.as_str() {
            "braille" => Parsed::Marker(ChartMarker::Braille),
            "dot" => Parsed::Marker(ChartMarker::Dot),
            _ => return Err(format!("`{arg}`: the markers are braille and dot")),
        },
        "redrive" => Parsed::Redrive(Some(arg).filter(|a| !a.is_empty())),
        "purge" => Parsed::Purge(Some(arg).filter(|a| !a.is_empty())),
        "scale" => {
            let words: Vec<&str> = arg.split_whitespace().collect();
            let is_num = |w: &str| w.chars().all(|c| c.is_ascii_digit());
            match words.as_slice() {
                [] => Parsed::Scale {
                    group: None,
                    value: None,
                },
                [n] if is_num(n) => Parsed::Scale {
                    group: None,
                    value: Some((*n).to_owned()),
                },
                [g] => Parsed::Scale {
                    group: Some((*g).to_owned()),
                    value: None,
                },
                [g, n] if is_num(n) => Parsed::Scale {
                    group: Some((*g).to_owned()),
                    value: Some((*n).to_owned()),
                },
                _ => return Err(format!("usage: :{}", spec.usage)),
            }
        }
        "load" => Parsed::Load(Some(arg).filter(|a| !a.is_empty())),
        "suspend" | "resume" => {
            let words: Vec<&str> = arg.split_whitespace().collect();
            Parsed::Processes {
                suspend: spec.name == "suspend",
                processes: crate::model::parse_processes(&words)?,
            }
        }
        "autoscaler" => {
            let words: Vec<&str> = arg.split_whitespace().collect();
            let (on, group) = match words.as_slice() {
                [word] => (*word, None),
                [word, group] => (*word, Some((*group).to_owned())),
                _ => return Err(format!("usage: :{}", spec.usage)),
            };
            match on {
                "on" => Parsed::Autoscaler { on: true, group },
                "off" => Parsed::Autoscaler { on: false, group },
                _ => return Err(format!("`{on}`: say on or off")),
            }
        }
        "instance-refresh" => match arg.as_str() {
            "" | "status" => Parsed::InstanceRefresh(crate::event::RefreshAction::Status),
            "start" => Parsed::InstanceRefresh(crate::event::RefreshAction::Start),
            "cancel" => Parsed::InstanceRefresh(crate::event::RefreshAction::Cancel),
            _ => return Err(format!("usage: :{}", spec.usage)),
        },
        "profile" => {
            crate::target::check_profile(&arg)?;
            Parsed::Profile(arg)
        }
        "region" => {
            crate::target::check_region(&arg)?;
            Parsed::Region(arg)
        }
        "cancel" => Parsed::Cancel,
        "audit" => Parsed::Audit,
        "alarms" => Parsed::Alarms,
        "logs" => {
            let mut target = None;
            let mut ids = Vec::new();
            for word in arg.split_whitespace() {
                match word.strip_prefix("id=") {
                    Some("") => return Err("`id=` needs a video id or correlation id".to_owned()),
                    Some(id) => ids.push(id.to_owned()),
                    None if target.is_none() => target = Some(word.to_owned()),
                    None => return Err(format!("usage: :{}", spec.usage)),
                }
            }
            Parsed::Logs { target, ids }
        }
        "refresh" => Parsed::Refresh,
        "help" => Parsed::Help,
        _ => Parsed::Quit,
    })
}

/// Names the completion draws from, gathered from the state.
pub struct Names<'a> {
    pub themes: Vec<&'a str>,
    pub groups: Vec<&'a str>,
    pub queues: Vec<&'a str>,
    pub scenarios: Vec<&'a str>,
    pub profiles: Vec<&'a str>,
    pub regions: Vec<&'a str>,
}

/// Where the word being completed starts, and the candidates for it, sorted.
pub fn candidates(line: &str, names: &Names<'_>) -> (usize, Vec<String>) {
    let start = line.rfind(' ').map_or(0, |i| i + 1);
    let word = &line[start..];
    let head = line[..start].split_whitespace().collect::<Vec<_>>();
    let pool: Vec<String> = match head.as_slice() {
        [] => COMMANDS.iter().map(|c| c.name.to_owned()).collect(),
        [cmd] => {
            let arg = COMMANDS
                .iter()
                .find(|c| c.name == *cmd || c.aliases.contains(cmd))
                .map_or(Arg::None, |c| c.arg);
            match arg {
                Arg::None => Vec::new(),
                Arg::Theme => names.themes.iter().map(|s| (*s).to_owned()).collect(),
                Arg::Group => names.groups.iter().map(|s| (*s).to_owned()).collect(),
                Arg::Queue | Arg::MaybeQueue => {
                    names.queues.iter().map(|s| (*s).to_owned()).collect()
                }
                Arg::Scale | Arg::Logs => names.groups.iter().map(|s| (*s).to_owned()).collect(),
                Arg::OnOff => vec!["off".to_owned(), "on".to_owned()],
                Arg::RefreshVerb => ["cancel", "start", "status"].map(str::to_owned).to_vec(),
                Arg::Processes => std::iter::once("all")
                    .chain(crate::model::SCALING_PROCESSES)
                    .map(str::to_owned)
                    .collect(),
                Arg::MaybeScenario => names.scenarios.iter().map(|s| (*s).to_owned()).collect(),
                Arg::Profile => names.profiles.iter().map(|s| (*s).to_owned()).collect(),
                Arg::Region => names.regions.iter().map(|s| (*s).to_owned()).collect(),
                Arg::Window => WINDOWS.iter().map(|w| fmt::window(*w)).collect(),
                Arg::Marker => vec!["braille".to_owned(), "dot".to_owned()],
            }
        }
        ["autoscaler", _] => names.groups.iter().map(|s| (*s).to_owned()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = pool.into_iter().filter(|c| c.starts_with(word)).collect();
    out.sort();
    out.dedup();
    (start, out)
}

fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut len = first.len();
    for w in &words[1..] {
        len = first
            .bytes()
            .zip(w.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    // Stay on a char boundary for non-ASCII names.
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    first[..len].to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Cycle {
    start: usize,
    options: Vec<String>,
    next: usize,
}

/// The `:` line being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    pub text: String,
    cycle: Option<Cycle>,
}

impl CommandLine {
    pub fn push(&mut self, c: char) {
        self.cycle = None;
        self.text.push(c);
    }

    pub fn backspace(&mut self) {
        self.cycle = None;
        self.text.pop();
    }

    /// Tab: completes a unique candidate, else the common prefix, else cycles the candidates.
    pub fn complete(&mut self, names: &Names<'_>) {
        if let Some(cycle) = &mut self.cycle {
            if let Some(option) = cycle.options.get(cycle.next) {
                self.text.truncate(cycle.start);
                self.text.push_str(option);
                cycle.next = (cycle.next + 1) % cycle.options.len();
            }
            return;
        }
        let (start, options) = candidates(&self.text, names);
        match options.as_slice() {
            [] => {}
            [only] => {
                let takes_arg = start == 0
                    && COMMANDS
                        .iter()
                        .any(|c| c.name == only && c.arg != Arg::None);
                self.text.truncate(start);
                self.text.push_str(only);
                if takes_arg {
                    self.text.push(' ');
                }
            }
            many => {
                let prefix = common_prefix(many);
                if prefix.len() > self.text.len() - start {
                    self.text.truncate(start);
                    self.text.push_str(&prefix);
                } else {
                    self.text.truncate(start);
                    self.text.push_str(&many[0]);
                    self.cycle = Some(Cycle {
                        start,
                        options: many.to_vec(),
                        next: 1 % many.len(),
                    });
                }
            }
        }
    }

    /// Candidates to show under the line while typing.
    pub fn hints(&self, names: &Names<'_>) -> Vec<String> {
        if let Some(c) = &self.cycle {
            return c.options.clone();
        }
        let (_, options) = candidates(&self.text, names);
        if options.len() == 1 && self.text.ends_with(&options[0]) {
            return Vec::new();
        }
        options
    }
}

/// What is being typed at the bottom line or in a dialog, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Input {
    #[default]
    Normal,
    Command(CommandLine),
    /// Filters `table` live; esc restores `before`.
    Filter {
        table: TableId,
        text: String,
        before: String,
    },
    /// A change waiting for the operator's confirmation.
    Confirm(crate::state::actions::ConfirmDialog),
    /// The desired-capacity dialog.
    Capacity(crate::state::actions::CapacityDialog),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names<'static> {
        Names {
            themes: vec!["default", "high-contrast", "light", "presentation"],
            groups: vec!["api-asg", "worker-asg"],
            queues: vec!["video_dlq", "video_tasks"],
            scenarios: vec!["ramp", "smoke"],
            profiles: vec!["default", "prod", "prod-admin"],
            regions: vec!["eu-west-1", "eu-west-2", "us-east-1"],
        }
    }

    fn typed(text: &str) -> CommandLine {
        CommandLine {
            text: text.to_owned(),
            cycle: None,
        }
    }

    #[test]
    fn a_unique_command_completes_with_a_space_when_it_takes_an_argument() {
        let mut l = typed("th");
        l.complete(&names());
        assert_eq!(l.text, "theme ");
        let mut l = typed("fr");
        l.complete(&names());
        assert_eq!(l.text, "freeze");
    }

    #[test]
    fn arguments_complete_from_the_state() {
        let mut l = typed("theme hi");
        l.complete(&names());
        assert_eq!(l.text, "theme high-contrast");
        let mut l = typed("queue video_t");
        l.complete(&names());
        assert_eq!(l.text, "queue video_tasks");
        let mut l = typed("window 2");
        l.complete(&names());
        assert_eq!(l.text, "window 24h");
    }

    #[test]
    fn ambiguous_words_extend_to_the_common_prefix_then_cycle() {
        let mut l = typed("queue v");
        l.complete(&names());
        assert_eq!(l.text, "queue video_");
        l.complete(&names());
        assert_eq!(l.text, "queue video_dlq");
        assert_eq!(l.hints(&names()), ["video_dlq", "video_tasks"]);
        l.complete(&names());
        assert_eq!(l.text, "queue video_tasks");
        l.complete(&names());
        assert_eq!(l.text, "queue video_dlq");
        l.push('x');
        assert_eq!(l.hints(&names()), Vec::<String>::new());
    }

    #[test]
    fn group_and_groups_both_reachable() {
        let mut l = typed("gr");
        l.complete(&names());
        assert_eq!(l.text, "group");
        assert_eq!(l.hints(&names()), ["group", "groups"]);
        l.complete(&names());
        assert_eq!(l.text, "group");
        l.complete(&names());
        assert_eq!(l.text, "groups");
    }

    #[test]
    fn parse_checks_names_and_arguments() {
        assert_eq!(parse("q"), Ok(Parsed::Quit));
        assert_eq!(
            parse(" theme  light "),
            Ok(Parsed::Theme("light".to_owned()))
        );
        assert_eq!(
            parse("window 3h"),
            Ok(Parsed::Window(Duration::from_secs(3 * 3600)))
        );
        assert_eq!(parse("marker dot"), Ok(Parsed::Marker(ChartMarker::Dot)));
        assert!(parse("theme").unwrap_err().contains("usage"));
        assert!(parse("groups x").is_err());
        assert!(parse("window 2d").is_err());
        assert!(parse("nope")
            .unwrap_err()
            .contains("unknown command `nope`"));
    }

    #[test]
    fn profile_and_region_parse_check_and_complete() {
        assert_eq!(
            parse("region eu-west-1"),
            Ok(Parsed::Region("eu-west-1".to_owned()))
        );
        assert_eq!(
            parse("profile prod"),
            Ok(Parsed::Profile("prod".to_owned()))
        );
        assert_eq!(parse("region").unwrap_err(), "usage: :region NAME");
        assert_eq!(parse("profile").unwrap_err(), "usage: :profile NAME");
        assert!(parse("region EU-West")
            .unwrap_err()
            .contains("is not an AWS region name"));
        assert!(parse("profile a b")
            .unwrap_err()
            .contains("is not a profile name"));

        let mut l = typed("reg");
        l.complete(&names());
        assert_eq!(l.text, "region ");
        let mut l = typed("region eu");
        l.complete(&names());
        assert_eq!(l.text, "region eu-west-");
        assert_eq!(l.hints(&names()), ["eu-west-1", "eu-west-2"]);
        let mut l = typed("profile prod-");
        l.complete(&names());
        assert_eq!(l.text, "profile prod-admin");
        let mut l = typed("pro");
        l.complete(&names());
        assert_eq!(l.text, "profile ");
    }
}
