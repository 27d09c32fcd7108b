//! The user's config file (`theme`, `chart_marker`, `[keys]`, `[pairing]`, and for the console
//! `[aws]`, `[watch]`, `[refresh]`): typed defaults, a partial TOML patch on top, and errors
//! that name the file, the key and the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::keymap::{Keymap, KeysPatch};
use crate::model::{GroupSnapshot, QueueSnapshot};
use crate::target::{self, Selection};

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
        ConfigError::Invalid {
            file: file.to_owned(),
            line: line_of_key(text, &key),
            key,
            reason: reason.into(),
        }
    }
}

/// The 1-based line that sets `key` (`watch.group_tags.team`): the first line after the key's
/// `[section]` header (if the file has one) that assigns the last part of the key, else its
/// parent (an inline table), else the section header itself.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let parts: Vec<&str> = key.split('.').collect();
    let lines: Vec<&str> = text.lines().collect();
    let section = parts.first().filter(|_| parts.len() > 1);
    let start = section
        .and_then(|s| {
            let header = format!("[{s}]");
            lines.iter().position(|l| l.trim() == header)
        })
        .map_or(0, |i| i + 1);
    let assigns = |name: &str| {
        let name = name.split('[').next().unwrap_or(name);
        lines[start..]
            .iter()
            .take_while(|l| start == 0 || !l.trim_start().starts_with('['))
            .position(|l| {
                l.trim_start()
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map(|i| start + i + 1)
    };
    parts
        .iter()
        .rev()
        .take(
            parts
                .len()
                .saturating_sub(usize::from(section.is_some()))
                .max(1),
        )
        .find_map(|p| assigns(p))
        .or_else(|| (start > 0).then_some(start))
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
    aws: Option<AwsFile>,
    watch: Option<WatchFile>,
    refresh: Option<RefreshFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsFile {
    profile: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchFile {
    groups: Option<Vec<String>>,
    group_prefixes: Option<Vec<String>>,
    group_tags: Option<BTreeMap<String, String>>,
    queues: Option<Vec<String>>,
    queue_prefixes: Option<Vec<String>>,
    queue_tags: Option<BTreeMap<String, String>>,
    dead_letter_queues: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshFile {
    groups_s: Option<u64>,
    queues_s: Option<u64>,
    metrics_s: Option<u64>,
    offscreen_queues_s: Option<u64>,
    offscreen_groups_s: Option<u64>,
}

/// `[aws]`: where to connect when neither the command line nor the environment says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsConfig {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// `[watch]`: which groups and queues the agents report. `None`: the stack's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    pub groups: Option<Selection>,
    pub queues: Option<Selection>,
    /// Also watch the dead-letter queues that watched queues' redrive policies name.
    pub dead_letter_queues: bool,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            groups: None,
            queues: None,
            dead_letter_queues: true,
        }
    }
}

/// `[refresh]`: how often the agents poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshConfig {
    pub groups: Duration,
    /// The queues whose rows are on screen (and the stack's own).
    pub queues: Duration,
    pub metrics: Duration,
    /// The watched queues off the screen: with hundreds of queues, most of the calls.
    pub offscreen_queues: Duration,
    /// The watched groups off the screen (the others are read every `groups`): with dozens
    /// of groups, most of what each DescribeAutoScalingGroups answer holds.
    pub offscreen_groups: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            groups: Duration::from_secs(3),
            queues: Duration::from_secs(3),
            metrics: Duration::from_secs(15),
            offscreen_queues: Duration::from_secs(60),
            offscreen_groups: Duration::from_secs(60),
        }
    }
}

/// The accepted range of `refresh.offscreen_queues_s` and `refresh.offscreen_groups_s`, in
/// seconds. Rows off the screen are
/// not judged stale by `stale_after_s`: a row read again as it comes on screen.
pub const OFFSCREEN_QUEUES_RANGE: (u64, u64) = (1, 3600);

/// The accepted range of each `[refresh]` key, in seconds.
pub const REFRESH_RANGES: [(&str, u64, u64); 3] = [
    ("groups_s", 1, 300),
    ("queues_s", 1, 300),
    ("metrics_s", 5, 300),
];

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
    pub aws: AwsConfig,
    pub watch: WatchConfig,
    pub refresh: RefreshConfig,
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
            aws: AwsConfig::default(),
            watch: WatchConfig::default(),
            refresh: RefreshConfig::default(),
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
        let check = |key: &str, result: Result<(), String>| {
            result.map_err(|reason| ConfigError::invalid(file, text, key, reason))
        };
        if let Some(aws) = patch.aws {
            if let Some(p) = &aws.profile {
                check("aws.profile", target::check_profile(p))?;
            }
            if let Some(r) = &aws.region {
                check("aws.region", target::check_region(r))?;
            }
            if let Some(e) = &aws.endpoint {
                check("aws.endpoint", target::check_endpoint(e))?;
            }
            config.aws = AwsConfig {
                profile: aws.profile,
                region: aws.region,
                endpoint: aws.endpoint,
            };
        }
        if let Some(w) = patch.watch {
            let groups = selection(
                &check,
                "groups",
                w.groups,
                w.group_prefixes,
                w.group_tags,
                target::check_group_name,
                target::check_group_prefix,
            )?;
            let queues = selection(
                &check,
                "queues",
                w.queues,
                w.queue_prefixes,
                w.queue_tags,
                target::check_queue_name,
                target::check_queue_prefix,
            )?;
            config.watch = WatchConfig {
                groups,
                queues,
                dead_letter_queues: w.dead_letter_queues.unwrap_or(true),
            };
        }
        if let Some(r) = patch.refresh {
            let given = [r.groups_s, r.queues_s, r.metrics_s];
            for ((key, min, max), value) in REFRESH_RANGES.into_iter().zip(given) {
                let Some(v) = value else { continue };
                let key = format!("refresh.{key}");
                if !(min..=max).contains(&v) {
                    check(
                        &key,
                        Err(format!("must be between {min} and {max} seconds")),
                    )?;
                }
                if Duration::from_secs(v) >= config.stale_after {
                    check(
                        &key,
                        Err(format!(
                            "must be below stale_after_s ({} s), or the data would always show as stale",
                            config.stale_after.as_secs()
                        )),
                    )?;
                }
            }
            let (min, max) = OFFSCREEN_QUEUES_RANGE;
            for (key, v) in [
                ("refresh.offscreen_queues_s", r.offscreen_queues_s),
                ("refresh.offscreen_groups_s", r.offscreen_groups_s),
            ] {
                if let Some(v) = v.filter(|v| !(min..=max).contains(v)) {
                    check(
                        key,
                        Err(format!("must be between {min} and {max} seconds, not {v}")),
                    )?;
                }
            }
            let or = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_secs);
            let d = RefreshConfig::default();
            config.refresh = RefreshConfig {
                groups: or(r.groups_s, d.groups),
                queues: or(r.queues_s, d.queues),
                metrics: or(r.metrics_s, d.metrics),
                offscreen_queues: or(r.offscreen_queues_s, d.offscreen_queues),
                offscreen_groups: or(r.offscreen_groups_s, d.offscreen_groups),
            };
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

/// Turns a failed check of one key into the file's error for that key.
type Check<'a> = &'a dyn Fn(&str, Result<(), String>) -> Result<(), ConfigError>;

/// One side of `[watch]` (`groups`/`group_prefixes`/`group_tags`, or the queues'); `None` when
/// the file sets none of its three keys. `["*"]` watches everything and stands alone.
fn selection(
    check: Check<'_>,
    what: &str,
    names: Option<Vec<String>>,
    prefixes: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
    check_name: fn(&str) -> Result<(), String>,
    check_prefix: fn(&str) -> Result<(), String>,
) -> Result<Option<Selection>, ConfigError> {
    if names.is_none() && prefixes.is_none() && tags.is_none() {
        return Ok(None);
    }
    let one = what.trim_end_matches('s');
    let names_key = format!("watch.{what}");
    let mut sel = Selection::default();
    for name in names.unwrap_or_default() {
        if name == "*" {
            sel.all = true;
        } else {
            check(&names_key, check_name(&name))?;
            sel.names.push(name);
        }
    }
    if sel.all && !sel.names.is_empty() {
        check(
            &names_key,
            Err(format!(
                "`*` already watches every {one}: list it alone, or list names without it"
            )),
        )?;
    }
    for prefix in prefixes.unwrap_or_default() {
        check(&format!("watch.{one}_prefixes"), check_prefix(&prefix))?;
        sel.prefixes.push(prefix);
    }
    for (key, value) in tags.unwrap_or_default() {
        check(
            &format!("watch.{one}_tags.{key}"),
            target::check_tag(&key, &value),
        )?;
        sel.tags.insert(key, Some(value).filter(|v| v != "*"));
    }
    Ok(Some(sel))
}

/// Which group consumes which queue, for backlog per in-service worker.
/// Explicit pairs come from `[pairing]`; otherwise a group whose name contains "worker"
/// consumes the source (non-DLQ) queue, preferring one with a redrive policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairing {
    explicit: BTreeMap<String, String>,
}

impl Pairing {
    pub fn new(group_to_queue: BTreeMap<String, String>) -> Pairing {
        Pairing {
            explicit: group_to_queue,
        }
    }

    pub fn explicit(&self, group: &str) -> Option<&str> {
        self.explicit.get(group).map(String::as_str)
    }

    pub fn queue_for<'a>(
        &self,
        group: &str,
        queues: &'a [QueueSnapshot],
    ) -> Option<&'a QueueSnapshot> {
        if let Some(name) = self.explicit(group) {
            return queues.iter().find(|q| q.name == name);
        }
        let worker = b"worker";
        if !group
            .as_bytes()
            .windows(worker.len())
            .any(|w| w.eq_ignore_ascii_case(worker))
        {
            return None;
        }
        let mut sources = queues.iter().filter(|q| !q.is_dlq);
        let first = sources.clone().next();
        sources.find(|q| q.redrive.is_some()).or(first)
    }

    pub fn group_for<'a>(
        &self,
        queue: &str,
        groups: &'a [GroupSnapshot],
        queues: &[QueueSnapshot],
    ) -> Option<&'a GroupSnapshot> {
        groups.iter().find(|g| {
            self.queue_for(&g.name, queues)
                .is_some_and(|q| q.name == queue)
        })
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

    #[test]
    fn aws_watch_and_refresh_parse_into_typed_settings() {
        let c = parse(
            r#"
[aws]
profile = "prod"
region = "eu-west-1"
endpoint = "http://127.0.0.1:4566"

[watch]
groups = ["flightdeck-api"]
group_prefixes = ["video-"]
group_tags = { team = "video", env = "*" }
queues = ["*"]
dead_letter_queues = false

[refresh]
groups_s = 5
metrics_s = 20
offscreen_queues_s = 120
offscreen_groups_s = 30
"#,
        )
        .unwrap();
        assert_eq!(c.aws.profile.as_deref(), Some("prod"));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.aws.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        let groups = c.watch.groups.unwrap();
        assert_eq!(groups.names, ["flightdeck-api"]);
        assert_eq!(groups.prefixes, ["video-"]);
        assert_eq!(groups.tags["team"].as_deref(), Some("video"));
        assert_eq!(groups.tags["env"], None, "`*` matches any value");
        assert!(!groups.all);
        assert_eq!(c.watch.queues, Some(Selection::everything()));
        assert!(!c.watch.dead_letter_queues);
        assert_eq!(c.refresh.groups, Duration::from_secs(5));
        assert_eq!(c.refresh.queues, Duration::from_secs(3), "default kept");
        assert_eq!(c.refresh.metrics, Duration::from_secs(20));
        assert_eq!(c.refresh.offscreen_queues, Duration::from_secs(120));
        assert_eq!(c.refresh.offscreen_groups, Duration::from_secs(30));
    }

    #[test]
    fn without_watch_keys_the_stack_is_watched() {
        let c = parse("[watch]\ndead_letter_queues = true\n").unwrap();
        assert_eq!(c.watch.groups, None);
        assert_eq!(c.watch.queues, None);
        let c = parse("[watch]\ngroups = []\n").unwrap();
        assert_eq!(
            c.watch.groups,
            Some(Selection::default()),
            "explicitly none"
        );
        assert_eq!(parse("").unwrap().watch, WatchConfig::default());
        assert_eq!(parse("").unwrap().refresh, RefreshConfig::default());
    }

    #[test]
    fn bad_aws_watch_and_refresh_values_name_file_line_key_and_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "[aws]\nregion = \"EU-West\"\n",
                "ui.toml:2: key `aws.region`: `EU-West` is not an AWS region name (like eu-west-1 or us-east-2)",
            ),
            (
                "[aws]\nendpoint = \"localhost:4566\"\n",
                "ui.toml:2: key `aws.endpoint`: `localhost:4566` is not an endpoint URL",
            ),
            (
                "[aws]\nprofile = \"my prod\"\n",
                "ui.toml:2: key `aws.profile`: `my prod` is not a profile name",
            ),
            (
                "theme = \"light\"\n[watch]\nqueues = [\"video tasks\"]\n",
                "ui.toml:3: key `watch.queues`: `video tasks` is not an SQS queue name",
            ),
            (
                "[watch]\ngroups = [\"*\", \"api\"]\n",
                "ui.toml:2: key `watch.groups`: `*` already watches every group",
            ),
            (
                "[watch]\nqueue_prefixes = [\"\"]\n",
                "ui.toml:2: key `watch.queue_prefixes`: an empty prefix matches every queue",
            ),
            (
                "[watch]\ngroups = []\ngroup_tags = { team = \"\" }\n",
                "ui.toml:3: key `watch.group_tags.team`: an empty value matches nothing",
            ),
            (
                "[refresh]\nqueues_s = 0\n",
                "ui.toml:2: key `refresh.queues_s`: must be between 1 and 300 seconds",
            ),
            (
                "[refresh]\nmetrics_s = 2\n",
                "ui.toml:2: key `refresh.metrics_s`: must be between 5 and 300 seconds",
            ),
            (
                "stale_after_s = 10\n[refresh]\ngroups_s = 10\n",
                "ui.toml:3: key `refresh.groups_s`: must be below stale_after_s (10 s)",
            ),
            (
                "[refresh]\ngroups = 5\n",
                "ui.toml:2: key `refresh.groups`: unknown field `groups`, expected one of `groups_s`, `queues_s`, `metrics_s`, `offscreen_queues_s`, `offscreen_groups_s`",
            ),
            (
                "[refresh]\noffscreen_queues_s = 0\n",
                "ui.toml:2: key `refresh.offscreen_queues_s`: must be between 1 and 3600 seconds, not 0",
            ),
            (
                "[refresh]\noffscreen_groups_s = 7200\n",
                "ui.toml:2: key `refresh.offscreen_groups_s`: must be between 1 and 3600 seconds, not 7200",
            ),
            (
                "[watch]\ngroup = [\"api\"]\n",
                "ui.toml:2: key `watch.group`: unknown field `group`",
            ),
            (
                "[aws]\nregion = 1\n",
                "ui.toml:2: key `aws.region`: invalid type: integer `1`, expected a string",
            ),
            (
                "[refresh]\nmetrics_s = -1\n",
                "ui.toml:2: key `refresh.metrics_s`: invalid value: integer `-1`, expected u64",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).expect_err(text);
            let msg = e.to_string();
            assert!(msg.starts_with(want), "{text:?}\n got: {msg}\nwant: {want}");
            assert!(e.key().is_some(), "{msg}");
        }
    }

    #[test]
    fn the_commented_example_file_is_valid() {
        let text = include_str!("../../config.example.toml");
        let c = UiConfig::from_toml(text, Path::new("config.example.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.watch.groups.is_some() || c.watch.queues.is_some());
    }
}
