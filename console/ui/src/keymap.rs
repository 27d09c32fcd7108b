//! Typed key bindings: actions with their default keys, a user patch from `[keys]`, help rows.
//!
//! Text entry in `:` and `/` mode (typing, backspace, tab, enter, esc) is fixed, not remappable.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Navigation,
    Charts,
    Actions,
    General,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Navigation => "Navigation",
            Section::Charts => "Charts",
            Section::Actions => "Actions (hidden with --read-only)",
            Section::General => "General",
        }
    }
}

macro_rules! actions {
    ($($variant:ident, $field:ident, $section:ident, $desc:literal, [$($key:literal),*];)*) => {
        /// Everything a key can do outside text entry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The name used in the `[keys]` table of the config file.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => stringify!($field)),* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Action::$variant => $desc),* }
            }

            pub fn section(self) -> Section {
                match self { $(Action::$variant => Section::$section),* }
            }

            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*]),* }
            }
        }

        /// The `[keys]` table: each action present replaces that action's whole key list.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct KeysPatch {
            $(#[serde(default)] pub $field: Option<KeyList>,)*
        }

        impl KeysPatch {
            fn get(&self, action: Action) -> Option<&KeyList> {
                match action { $(Action::$variant => self.$field.as_ref()),* }
            }
        }
    };
}

actions! {
    Up, up, Navigation, "move up", ["k", "up"];
    Down, down, Navigation, "move down", ["j", "down"];
    PageUp, page_up, Navigation, "page up", ["pageup", "ctrl-b"];
    PageDown, page_down, Navigation, "page down", ["pagedown", "ctrl-f"];
    Top, top, Navigation, "first row", ["g", "home"];
    Bottom, bottom, Navigation, "last row", ["G", "end"];
    NextPane, next_pane, Navigation, "next table", ["tab"];
    PrevPane, prev_pane, Navigation, "previous table", ["backtab"];
    Open, open, Navigation, "open the selected row", ["enter"];
    Back, back, Navigation, "back / clear filter / close", ["esc"];
    Filter, filter, Navigation, "filter the current table", ["/"];
    Alarms, alarms, Navigation, "the alarms view (enter on an alarm opens what it watches)", ["A"];
    Logs, logs, Navigation, "log lines: of the selected group or instance, or about the selected dead letter", ["l"];
    GroupBySignature, group_by_signature, Navigation, "DLQ: one row per failure signature (again: off)", ["S"];
    Command, command, General, "command mode (tab completes)", [":"];
    Help, help, General, "this help", ["?"];
    Refresh, refresh, General, "ask every agent to poll now", ["r", "ctrl-r"];
    Quit, quit, General, "quit", ["q", "ctrl-c"];
    LongerWindow, longer_window, Charts, "longer chart window", ["+", "="];
    ShorterWindow, shorter_window, Charts, "shorter chart window (below 15m: fit the data)", ["-"];
    Freeze, freeze, Charts, "freeze / unfreeze the charts", ["f"];
    ToggleMarker, toggle_marker, Charts, "braille / dot chart markers", ["m"];
    Mark, mark, Actions, "select / unselect the message", ["space"];
    MarkAll, mark_all, Actions, "select every message shown (again: none)", ["a"];
    Redrive, redrive, Actions, "redrive the selected messages (none selected: those shown)", ["R"];
    DeleteMessages, delete_messages, Actions, "delete the selected messages", ["ctrl-d"];
    EditMessage, edit_message, Actions, "edit the open message's body, then redrive it", ["e"];
    Scale, scale, Actions, "set the group's desired capacity", ["s"];
    CancelJob, cancel_job, Actions, "cancel the running redrive", ["x"];
}

/// One key with modifiers, compared after normalising shift on characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("space", KeyCode::Char(' ')),
];

impl KeyBinding {
    /// Parses `q`, `G`, `+`, `ctrl-c`, `alt-x`, `enter`, `shift-tab`, `f5`.
    pub fn parse(text: &str) -> Result<KeyBinding, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix, m) = if lower.starts_with("ctrl-") && rest.len() > 5 {
                (5, KeyModifiers::CONTROL)
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                (4, KeyModifiers::ALT)
            } else if lower.starts_with("shift-") && rest.len() > 6 {
                (6, KeyModifiers::SHIFT)
            } else {
                break;
            };
            modifiers |= m;
            rest = &rest[prefix..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if modifiers.contains(KeyModifiers::SHIFT) {
                    return Err(format!(
                        "`{text}`: write the shifted character itself, e.g. `G`"
                    ));
                }
                KeyCode::Char(c)
            }
            _ => {
                let lower = rest.to_ascii_lowercase();
                if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == lower) {
                    *code
                } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    if !(1..=24).contains(&n) {
                        return Err(format!("`{text}`: function keys are f1 to f24"));
                    }
                    KeyCode::F(n)
                } else {
                    return Err(format!(
                        "`{text}` is not a key: use a character (`q`, `G`, `+`), a name (enter, esc, tab, \
                         backtab, up, down, pageup, home, space, f1..f24) with optional ctrl-/alt-/shift-"
                    ));
                }
            }
        };
        Ok(KeyBinding::normalised(code, modifiers))
    }

    fn normalised(code: KeyCode, mut modifiers: KeyModifiers) -> KeyBinding {
        let code = match code {
            // The character already says whether shift was held.
            KeyCode::Char(c) => {
                modifiers.remove(KeyModifiers::SHIFT);
                if modifiers.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        KeyBinding {
            code,
            modifiers: modifiers
                & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT),
        }
    }

    pub fn from_event(event: &KeyEvent) -> KeyBinding {
        KeyBinding::normalised(event.code, event.modifiers)
    }
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        if let Some((name, _)) = NAMED.iter().find(|(_, c)| *c == self.code) {
            return f.write_str(name);
        }
        match self.code {
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One or more keys: `quit = "q"` or `quit = ["q", "ctrl-c"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<KeyBinding>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyListVisitor;
        impl<'de> Visitor<'de> for KeyListVisitor {
            type Value = KeyList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key such as \"q\" or a list of keys such as [\"q\", \"ctrl-c\"]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyList, E> {
                KeyBinding::parse(v)
                    .map(|k| KeyList(vec![k]))
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyList, A::Error> {
                let mut keys = Vec::new();
                while let Some(text) = seq.next_element::<String>()? {
                    keys.push(KeyBinding::parse(&text).map_err(de::Error::custom)?);
                }
                Ok(KeyList(keys))
            }
        }
        deserializer.deserialize_any(KeyListVisitor)
    }
}

/// A key bound twice after patching; names both actions so the config can be fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConflict {
    pub key: KeyBinding,
    pub first: Action,
    pub second: Action,
}

impl fmt::Display for KeyConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is bound to both `{}` and `{}`; rebind one of them too",
            self.key,
            self.first.name(),
            self.second.name()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    by_action: BTreeMap<Action, Vec<KeyBinding>>,
}

impl Default for Keymap {
    fn default() -> Self {
        let by_action = Action::ALL
            .iter()
            .map(|&a| {
                // Defaults are literals covered by a test; a bad one would be dropped, not panic.
                let keys = a
                    .default_keys()
                    .iter()
                    .filter_map(|k| KeyBinding::parse(k).ok())
                    .collect();
                (a, keys)
            })
            .collect();
        Keymap { by_action }
    }
}

/// One line of the generated help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    pub section: Section,
    pub keys: String,
    pub description: &'static str,
}

impl Keymap {
    /// The defaults with the user's lists on top; a key left bound to two actions is an error.
    pub fn patched(patch: &KeysPatch) -> Result<Keymap, (Action, KeyConflict)> {
        let mut map = Keymap::default();
        for &action in Action::ALL {
            if let Some(list) = patch.get(action) {
                map.by_action.insert(action, list.0.clone());
            }
        }
        let mut seen: BTreeMap<String, Action> = BTreeMap::new();
        for &action in Action::ALL {
            for key in map.keys(action) {
                if let Some(&first) = seen.get(&key.to_string()) {
                    if first != action {
                        // Blame the action the user changed, so the error names their key.
                        let blamed = if patch.get(action).is_some() {
                            action
                        } else {
                            first
                        };
                        return Err((
                            blamed,
                            KeyConflict {
                                key: *key,
                                first,
                                second: action,
                            },
                        ));
                    }
                }
                seen.insert(key.to_string(), action);
            }
        }
        Ok(map)
    }

    pub fn keys(&self, action: Action) -> &[KeyBinding] {
        self.by_action
            .get(&action)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        let key = KeyBinding::from_event(event);
        Action::ALL
            .iter()
            .copied()
            .find(|&a| self.keys(a).contains(&key))
    }

    /// Help rows in section order, generated from the bindings in force.
    pub fn help_rows(&self) -> Vec<HelpRow> {
        let mut rows: Vec<HelpRow> = Action::ALL
            .iter()
            .map(|&a| HelpRow {
                section: a.section(),
                keys: self
                    .keys(a)
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                description: a.description(),
            })
            .collect();
        rows.sort_by_key(|r| r.section);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_default_key_parses_and_none_conflicts() {
        for &a in Action::ALL {
            for k in a.default_keys() {
                assert!(KeyBinding::parse(k).is_ok(), "{k}");
            }
        }
        assert!(Keymap::patched(&KeysPatch::default()).is_ok());
    }

    #[test]
    fn shift_is_read_from_the_character() {
        let map = Keymap::default();
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('+'), KeyModifiers::SHIFT)),
            Some(Action::LongerWindow)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('z'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn parse_and_display_round_trip() {
        for k in [
            "q", "G", "+", "ctrl-c", "alt-x", "enter", "backtab", "f5", "pagedown", "space",
        ] {
            assert_eq!(
                KeyBinding::parse(k).map(|b| b.to_string()).as_deref(),
                Ok(k)
            );
        }
        assert_eq!(
            KeyBinding::parse("shift-tab")
                .map(|b| b.to_string())
                .as_deref(),
            Ok("backtab")
        );
        assert!(KeyBinding::parse("ctrl-zz").is_err());
        assert!(KeyBinding::parse("f99").is_err());
        assert!(KeyBinding::parse("shift-g").is_err());
        assert!(KeyBinding::parse("").is_err());
    }

    #[test]
    fn a_patch_replaces_one_action_and_conflicts_are_named() {
        let patch: KeysPatch = toml::from_str("quit = [\"z\"]").unwrap();
        let map = Keymap::patched(&patch).unwrap();
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('z'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );

        let patch: KeysPatch = toml::from_str("quit = \"j\"").unwrap();
        let (blamed, conflict) = Keymap::patched(&patch).unwrap_err();
        assert_eq!(blamed, Action::Quit);
        assert_eq!(
            conflict.to_string(),
            "`j` is bound to both `down` and `quit`; rebind one of them too"
        );
    }

    #[test]
    fn help_is_generated_from_the_bindings_in_force() {
        let patch: KeysPatch = toml::from_str("freeze = [\"p\", \"f9\"]").unwrap();
        let rows = Keymap::patched(&patch).unwrap().help_rows();
        let freeze = rows
            .iter()
            .find(|r| r.description.starts_with("freeze"))
            .unwrap();
        assert_eq!(freeze.keys, "p f9");
        assert_eq!(rows.len(), Action::ALL.len());
        assert!(rows.windows(2).all(|w| w[0].section <= w[1].section));
    }
}
