//! The one confirm path for mutating actions: a plain yes/no for reversible changes, a typed
//! confirmation (type the queue or group name) for purge, delete, scale to zero and bulk
//! redrive. Headless commands ask on a terminal; `--yes` skips the question; with no terminal
//! and no `--yes` they refuse.

use std::io::{BufRead, IsTerminal, Write};

/// How an action must be confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// `y` to go on.
    Plain,
    /// The operator types this name exactly.
    Typed(String),
}

/// The mutating actions the console offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    Redrive {
        dlq: &'a str,
        bulk: bool,
    },
    Delete {
        queue: &'a str,
    },
    Purge {
        queue: &'a str,
    },
    Scale {
        group: &'a str,
        to: u32,
    },
    /// Suspend a group's scaling processes.
    Suspend {
        group: &'a str,
    },
    /// Replace every instance of a group (instance refresh).
    InstanceRefresh {
        group: &'a str,
    },
}

impl Confirm {
    /// The confirmation an action needs.
    pub fn for_action(action: &Action<'_>) -> Confirm {
        match action {
            Action::Redrive { bulk: false, .. } => Confirm::Plain,
            Action::Scale { to, group } if *to == 0 => Confirm::Typed(group.to_string()),
            Action::Scale { .. } => Confirm::Plain,
            Action::Suspend { group } | Action::InstanceRefresh { group } => {
                Confirm::Typed(group.to_string())
            }
            Action::Redrive {
                dlq: name,
                bulk: true,
            }
            | Action::Delete { queue: name }
            | Action::Purge { queue: name } => Confirm::Typed(name.to_string()),
        }
    }

    /// Whether `answer` (one line, as typed) confirms.
    pub fn accepts(&self, answer: &str) -> bool {
        let answer = answer.trim();
        match self {
            Confirm::Plain => matches!(answer, "y" | "Y" | "yes" | "YES" | "Yes"),
            Confirm::Typed(name) => answer == name,
        }
    }

    fn question(&self, what: &str) -> String {
        match self {
            Confirm::Plain => format!("{what}\nContinue? [y/N] "),
            Confirm::Typed(name) => format!("{what}\nType `{name}` to confirm: "),
        }
    }
}

/// Why an action did not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not confirmed: nothing was changed")]
    Declined,
    #[error("{what} needs confirmation and there is no terminal to ask on: pass --yes to confirm from a script")]
    NoTerminal { what: String },
}

/// Ask on `input`/`output` (the headless path, and testable with buffers).
pub fn ask(
    confirm: &Confirm,
    what: &str,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), Refusal> {
    let _ = output.write_all(confirm.question(what).as_bytes());
    let _ = output.flush();
    let mut line = String::new();
    if input.read_line(&mut line).is_err() || !confirm.accepts(&line) {
        return Err(Refusal::Declined);
    }
    Ok(())
}

/// The headless confirm: `--yes` goes ahead; a terminal is asked (on stderr, so JSON on
/// stdout stays clean); no terminal refuses.
pub fn headless(confirm: &Confirm, what: &str, yes: bool) -> Result<(), Refusal> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Refusal::NoTerminal {
            what: what.to_string(),
        });
    }
    ask(confirm, what, &mut stdin.lock(), &mut std::io::stderr())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_action_gets_its_confirmation() {
        assert_eq!(
            Confirm::for_action(&Action::Purge { queue: "video_dlq" }),
            Confirm::Typed("video_dlq".into())
        );
        assert_eq!(
            Confirm::for_action(&Action::Delete { queue: "q" }),
            Confirm::Typed("q".into())
        );
        assert_eq!(
            Confirm::for_action(&Action::Redrive {
                dlq: "d",
                bulk: true
            }),
            Confirm::Typed("d".into())
        );
        assert_eq!(
            Confirm::for_action(&Action::Redrive {
                dlq: "d",
                bulk: false
            }),
            Confirm::Plain
        );
        assert_eq!(
            Confirm::for_action(&Action::Scale { group: "g", to: 0 }),
            Confirm::Typed("g".into())
        );
        assert_eq!(
            Confirm::for_action(&Action::Scale { group: "g", to: 2 }),
            Confirm::Plain
        );
    }

    #[test]
    fn typed_confirm_needs_the_exact_name() {
        let c = Confirm::Typed("video_dlq".into());
        for (typed, ok) in [
            ("video_dlq\n", true),
            ("  video_dlq  \n", true),
            ("y\n", false),
            ("yes\n", false),
            ("video_dl\n", false),
            ("VIDEO_DLQ\n", false),
            ("", false),
        ] {
            let mut out = Vec::new();
            let got = ask(&c, "Purge video_dlq", &mut typed.as_bytes(), &mut out);
            assert_eq!(got.is_ok(), ok, "{typed:?}");
            assert!(String::from_utf8(out)
                .unwrap()
                .contains("Type `video_dlq` to confirm"));
        }
        let plain = Confirm::Plain;
        assert!(ask(&plain, "x", &mut "y\n".as_bytes(), &mut Vec::new()).is_ok());
        assert_eq!(
            ask(&plain, "x", &mut "\n".as_bytes(), &mut Vec::new()),
            Err(Refusal::Declined)
        );
    }

    #[test]
    fn yes_skips_the_question() {
        assert!(headless(&Confirm::Typed("g".into()), "scale g to 0", true).is_ok());
    }
}
