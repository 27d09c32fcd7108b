//! The user's UI config file (`theme`, `chart_marker`, `[keys]`, `[pairing]`): typed defaults,
//! a partial TOML patch on top, and errors that name the file, the key and the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::keymap::{Keymap, KeysPatch};
use crate::state::Pairing;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}", at(file, *line))]
    Syntax {
        file: PathBuf,
        line: Option<usize>,
        reason: String,
    },
    #[error("{}: key `{key}`: {reason}", at(file, *line))]
    Invalid {
        file: PathBuf,
        line: Option<usize>,
        key: String,
        reason: String,
    },
}

fn at(file: &Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{}:{l}", file.display()),
        None => file.display().to_string(),
    }
}

impl ConfigError {
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Read { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Invalid { file, .. } => file,
        }
    }

    /// The dotted key at fault, when the fault is in one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// A key that parsed but is not acceptable; its line is looked up in `text`.
    pub(crate) fn invalid(
        file: &Path,
        text: &str,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> ConfigError {
        let key = key.into();
        let last = key.rsplit('.').next().unwrap_or(&key).to_owned();
        let line = text.lines().position(|l| {
            let l = l.trim_start();
            l.strip_prefix(last.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        ConfigError::Invalid {
            file: file.to_owned(),
            line: line.map(|l| l + 1),
            key,
            reason: reason.into(),
        }
    }
}

/// Deserialises TOML into `T`, keeping the dotted path of a failing key.
pub(crate) fn parse_toml<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    let line_of = |err: &toml::de::Error| {
        err.span()
            .map(|s| text.get(..s.start).unwrap_or(text).matches('\n').count() + 1)
    };
    let de = toml::de::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
        file: file.to_owned(),
        line: line_of(&e),
        reason: e.message().to_owned(),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        // The path includes an unknown key itself (`keys.quitt`); `.` is the root.
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.inner();
        let reason = inner.message().to_owned();
        let line = line_of(inner);
        ConfigError::Invalid {
            file: file.to_owned(),
            line,
            key: path,
            reason,
        }
    })
}

pub(crate) fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_owned(),
        source,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartMarker {
    Braille,
    /// For terminals or fonts without braille glyphs.
    Dot,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    theme: Option<String>,
    chart_marker: Option<ChartMarker>,
    stale_after_s: Option<u64>,
    rate_window_s: Option<u64>,
    keys: Option<KeysPatch>,
    /// group name -> queue name the group consumes.
    pairing: Option<BTreeMap<String, String>>,
}

/// Everything the UI is configured with; `UiConfig::default()` is the typed default.
#[derive(Debug, Clone)]
pub struct UiConfig {
    pub keymap: Keymap,
    pub theme: String,
    pub chart_marker: ChartMarker,
    /// Data older than this is shown as stale even without an agent error.
    pub stale_after: Duration,
    /// In/out rates are derived from the queue samples of this last stretch.
    pub rate_window: Duration,
    pub pairing: Pairing,
    /// Draw without colours (bold/reverse/underline only), as `NO_COLOR` asks.
    pub no_color: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            keymap: Keymap::default(),
            theme: "default".to_owned(),
            chart_marker: ChartMarker::Braille,
            stale_after: Duration::from_secs(30),
            rate_window: Duration::from_secs(60),
            pairing: Pairing::default(),
            no_color: false,
        }
    }
}

impl UiConfig {
    /// Reads a config file; keys it leaves out keep their defaults.
    pub fn load(file: &Path) -> Result<UiConfig, ConfigError> {
        UiConfig::from_toml(&read(file)?, file)
    }

    /// Parses config text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &Path) -> Result<UiConfig, ConfigError> {
        let patch: ConfigFile = parse_toml(text, file)?;
        let mut config = UiConfig::default();
        if let Some(theme) = patch.theme {
            config.theme = theme;
        }
        if let Some(marker) = patch.chart_marker {
            config.chart_marker = marker;
        }
        if let Some(s) = patch.stale_after_s {
            if s == 0 {
                return Err(ConfigError::invalid(
                    file,
                    text,
                    "stale_after_s",
                    "must be at least 1 second",
                ));
            }
            config.stale_after = Duration::from_secs(s);
        }
        if let Some(s) = patch.rate_window_s {
            if !(5..=3600).contains(&s) {
                return Err(ConfigError::invalid(
                    file,
                    text,
                    "rate_window_s",
                    "must be between 5 and 3600 seconds",
                ));
            }
            config.rate_window = Duration::from_secs(s);
        }
        if let Some(keys) = patch.keys {
            config.keymap = Keymap::patched(&keys).map_err(|(action, conflict)| {
                ConfigError::invalid(
                    file,
                    text,
                    format!("keys.{}", action.name()),
                    conflict.to_string(),
                )
            })?;
        }
        if let Some(pairs) = patch.pairing {
            config.pairing = Pairing::new(pairs);
        }
        Ok(config)
    }

    /// Honours `NO_COLOR` (any non-empty value), per no-color.org.
    pub fn with_env(mut self) -> UiConfig {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            self.no_color = true;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UiConfig, ConfigError> {
        UiConfig::from_toml(text, Path::new("ui.toml"))
    }

    #[test]
    fn an_empty_file_is_the_default() {
        let c = parse("").unwrap();
        assert_eq!(c.theme, "default");
        assert_eq!(c.keymap, Keymap::default());
        assert_eq!(c.stale_after, Duration::from_secs(30));
    }

    #[test]
    fn a_partial_file_patches_only_its_keys() {
        let c = parse("theme = \"light\"\nchart_marker = \"dot\"\n[keys]\nfreeze = \"p\"\n[pairing]\nbatch = \"jobs\"\n").unwrap();
        assert_eq!(c.theme, "light");
        assert_eq!(c.chart_marker, ChartMarker::Dot);
        assert_eq!(
            c.keymap.keys(crate::keymap::Action::Freeze)[0].to_string(),
            "p"
        );
        assert_eq!(c.keymap.keys(crate::keymap::Action::Quit).len(), 2);
        assert_eq!(c.pairing.explicit("batch"), Some("jobs"));
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        let e = parse("[keys]\nquitt = \"q\"\n").unwrap_err();
        assert_eq!(e.key(), Some("keys.quitt"));
        let msg = e.to_string();
        assert!(
            msg.starts_with("ui.toml:2: key `keys.quitt`: unknown field `quitt`"),
            "{msg}"
        );

        let e = parse("[keys]\nquit = [\"q\", \"ctrl-zz\"]\n").unwrap_err();
        assert!(e.key().is_some_and(|k| k.starts_with("keys.quit")), "{e}");
        assert!(e.to_string().contains("`ctrl-zz` is not a key"), "{e}");

        let e = parse("stale_after_s = 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ui.toml:1: key `stale_after_s`: must be at least 1 second"
        );

        let e = parse("theme = \n").unwrap_err();
        assert!(
            matches!(e, ConfigError::Syntax { line: Some(1), .. }),
            "{e}"
        );
    }
}
