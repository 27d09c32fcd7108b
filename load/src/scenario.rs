//! Load scenarios in TOML: a closed model (virtual users with k6-style stages) or an open
//! model (Artillery-style arrival-rate phases), the steps each iteration runs, and the
//! thresholds that decide pass or fail. Parsing is strict: unknown keys, wrong types and
//! impossible settings fail with the file, the key and the reason.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::threshold::Threshold;
use crate::video::VideoPreset;

/// The scenarios shipped with the project (WORKLOAD.md), embedded so the binary works from
/// anywhere. Order is the order `flightdeck load list` shows.
pub const BUILTIN: &[(&str, &str)] = &[
    ("smoke", include_str!("../scenarios/smoke.toml")),
    ("ramp", include_str!("../scenarios/ramp.toml")),
    ("plateau", include_str!("../scenarios/plateau.toml")),
    ("sustained", include_str!("../scenarios/sustained.toml")),
    ("low", include_str!("../scenarios/low.toml")),
    ("medium", include_str!("../scenarios/medium.toml")),
    ("high", include_str!("../scenarios/high.toml")),
    ("stress", include_str!("../scenarios/stress.toml")),
    ("health", include_str!("../scenarios/health.toml")),
];

/// A parsed, validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Defaults to the file's stem (or the built-in name).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Per-request timeout (connect, send, and the whole response).
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    /// Pass/fail rules such as `"p95 < 1s"`, `"errors < 1%"`, `"upload.p99 < 2s"`.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    /// Virtual users, each running the steps in a loop (k6 `ramping-vus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
    /// New iterations at a given arrival rate, whatever the latency (Artillery phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Open>,
    pub steps: Vec<Step>,
}

fn default_timeout() -> Dur {
    Dur(Duration::from_secs(60))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closed {
    /// Shorthand for a constant load: `vus = 5` with `duration = "5m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    /// VUs at time 0 when `stages` are given.
    #[serde(default)]
    pub start_vus: u32,
    /// Each stage moves the VU count linearly from the previous target to its own.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Stop after this many iterations in total (all VUs together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// At the end (or when VUs are removed), how long running iterations may finish.
    #[serde(default = "default_graceful_stop")]
    pub graceful_stop: Dur,
}

impl Closed {
    /// The most VUs at once: the highest stage target, `start_vus` or `vus`.
    pub fn peak_vus(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.target)
            .chain([self.start_vus, self.vus.unwrap_or(0)])
            .max()
            .unwrap_or(0)
    }
}

fn default_graceful_stop() -> Dur {
    Dur(Duration::from_secs(30))
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub duration: Dur,
    pub target: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open {
    pub phases: Vec<Phase>,
    /// Most iterations running at once; later arrivals wait (their latency counts from
    /// their intended start, so waiting shows in the percentiles).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// Accounts signed up before the clock starts, shared round-robin by arrivals.
    #[serde(default = "default_accounts")]
    pub accounts: u32,
    /// After the last arrival, how long running iterations may finish.
    #[serde(default = "default_graceful_stop")]
    pub graceful_stop: Dur,
}

fn default_max_in_flight() -> u32 {
    1000
}

fn default_accounts() -> u32 {
    10
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub duration: Dur,
    /// Arrivals per second at the start of the phase.
    pub rate: f64,
    /// Arrivals per second at the end of the phase (linear ramp); default: `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<f64>,
}

impl Phase {
    pub fn end_rate(&self) -> f64 {
        self.ramp_to.unwrap_or(self.rate)
    }
}

/// One thing an iteration does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `GET` a path (e.g. `"/api/health"`); any 2xx is a success.
    Get(String),
    /// Upload a video (multipart `video_file` + `title`) as the VU's user.
    Upload(Upload),
    /// Pause, like k6's `sleep` or Artillery's `think`.
    Think(Dur),
}

impl Step {
    /// The name a step's latency is reported under.
    pub fn label(&self) -> String {
        match self {
            Step::Get(path) => format!("get {path}"),
            Step::Upload(_) => "upload".into(),
            Step::Think(_) => "think".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// A preset (`tiny`, `4mb`, `50mb`, `100mb`); default `4mb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoPreset>,
    /// An existing file to upload instead of a synthetic video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Then poll `GET /api/videos/{id}` until `processed` (end-to-end latency, MB/min).
    #[serde(default)]
    pub until_processed: bool,
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Dur,
    /// Give up waiting for `processed` after this long (an error of class `not_processed`).
    #[serde(default = "default_processed_timeout")]
    pub processed_timeout: Dur,
}

fn default_poll_interval() -> Dur {
    Dur(Duration::from_secs(1))
}

fn default_processed_timeout() -> Dur {
    Dur(Duration::from_secs(600))
}

impl Default for Upload {
    fn default() -> Self {
        Upload {
            video: None,
            file: None,
            until_processed: false,
            poll_interval: default_poll_interval(),
            processed_timeout: default_processed_timeout(),
        }
    }
}

/// A duration written like `"500ms"`, `"30s"`, `"2m"`, `"1m30s"` or `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn parse(text: &str) -> Result<Dur, String> {
        let bad = || {
            format!(
                "invalid duration {text:?}: expected numbers with units ms, s, m or h (e.g. \"500ms\", \"90s\", \"1m30s\")"
            )
        };
        let t = text.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let mut total = 0f64;
        let mut rest = t;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if num_len == 0 {
                return Err(bad());
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total += value * scale;
        }
        Duration::try_from_secs_f64(total)
            .map(Dur)
            .map_err(|_| bad())
    }

    pub fn secs(&self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a scenario could not be used. The message names the file, the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: String,
        key: String,
        reason: String,
    },
    #[error("no scenario {name:?}: it is neither a built-in scenario ({builtins}) nor a file; `flightdeck load list` shows the built-in ones")]
    Unknown { name: String, builtins: String },
}

impl ScenarioError {
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// How the load is generated, resolved from `closed` / `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Closed,
    Open,
}

impl Scenario {
    /// A built-in scenario by name, or a TOML file by path.
    pub fn find(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Scenario::parse(text, &format!("{name} (built in)"), name);
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            return Scenario::load(path);
        }
        Err(ScenarioError::Unknown {
            name: name_or_path.to_string(),
            builtins: BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Scenario::parse(&text, &file, &stem)
    }

    /// Every built-in scenario, parsed.
    pub fn builtins() -> Result<Vec<Scenario>, ScenarioError> {
        BUILTIN
            .iter()
            .map(|(name, text)| Scenario::parse(text, &format!("{name} (built in)"), name))
            .collect()
    }

    /// Parse and validate; `file` names the source in errors, `default_name` is used when
    /// the file has no `name`.
    pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Scenario, ScenarioError> {
        let invalid = |key: String, reason: String| ScenarioError::Invalid {
            file: file.to_string(),
            key,
            reason,
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| invalid("(syntax)".into(), e.message().to_string()))?;
        let mut scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let key = if path == "." {
                "(top level)".to_string()
            } else {
                path
            };
            let inner = err.into_inner();
            invalid(key, inner.message().trim().to_string())
        })?;
        if scenario.name.is_empty() {
            scenario.name = default_name.to_string();
        }
        scenario.validate().map_err(|(k, r)| invalid(k, r))?;
        scenario.normalise();
        Ok(scenario)
    }

    pub fn model(&self) -> Model {
        if self.open.is_some() {
            Model::Open
        } else {
            Model::Closed
        }
    }

    /// Turn the `vus` + `duration` shorthand into a stage.
    fn normalise(&mut self) {
        if let Some(c) = self.closed.as_mut() {
            if let (Some(vus), Some(duration)) = (c.vus, c.duration) {
                c.start_vus = vus;
                c.stages = vec![Stage {
                    duration,
                    target: vus,
                }];
                c.vus = None;
                c.duration = None;
            }
        }
    }

    /// Whether any step needs a signed-in user.
    pub fn needs_auth(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Upload(_)))
    }

    /// The planned length of the load (stages or phases), without the graceful stop.
    pub fn planned_duration(&self) -> Duration {
        if let Some(o) = &self.open {
            o.phases.iter().map(|p| p.duration.0).sum()
        } else if let Some(c) = &self.closed {
            let d: Duration = c.stages.iter().map(|s| s.duration.0).sum();
            d + c.duration.map(|d| d.0).unwrap_or_default()
        } else {
            Duration::ZERO
        }
    }

    /// How much load and for how long, in a few words: `9000 arrivals over 4m`, `up to 5 VUs
    /// over 1m`, `1 iteration by 1 VU (at most 2m)`.
    pub fn size(&self) -> String {
        let over = Dur(self.planned_duration());
        if let Some(o) = &self.open {
            return format!(
                "{} arrivals over {over}",
                crate::schedule::Arrivals::total(&o.phases)
            );
        }
        let Some(c) = &self.closed else {
            return String::new();
        };
        let vus = c.peak_vus();
        let vus_s = if vus == 1 { "VU" } else { "VUs" };
        match c.iterations {
            Some(n) => format!(
                "{n} iteration{} by {vus} {vus_s} (at most {over})",
                if n == 1 { "" } else { "s" }
            ),
            // Constant: the `vus` shorthand (a stage holding `start_vus`).
            None if c.stages.iter().all(|s| s.target == c.start_vus) => {
                format!("{vus} {vus_s} for {over}")
            }
            None => format!("up to {vus} {vus_s} over {over}"),
        }
    }

    /// The step labels latency is reported under (`upload`, `get /api/health`, `processed`).
    pub fn labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        for s in &self.steps {
            if matches!(s, Step::Think(_)) {
                continue;
            }
            labels.push(s.label());
            if let Step::Upload(u) = s {
                if u.until_processed {
                    labels.push("processed".into());
                }
            }
        }
        labels.dedup();
        labels
    }

    /// Replace the video of every upload step (the `--video-size` flag).
    pub fn set_video(&mut self, preset: VideoPreset) {
        for s in &mut self.steps {
            if let Step::Upload(u) = s {
                u.video = Some(preset);
                u.file = None;
            }
        }
    }

    /// Make every upload step wait for `processed` (the `--until-processed` flag).
    pub fn set_until_processed(&mut self) {
        for s in &mut self.steps {
            if let Step::Upload(u) = s {
                u.until_processed = true;
            }
        }
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let fail = |k: &str, r: String| Err((k.to_string(), r));
        if self.timeout.0.is_zero() {
            return fail("timeout", "must be more than 0".into());
        }
        match (&self.closed, &self.open) {
            (Some(_), Some(_)) => {
                return fail(
                    "open",
                    "a scenario has either [closed] (virtual users) or [open] (arrival rates), not both".into(),
                )
            }
            (None, None) => {
                return fail(
                    "(top level)",
                    "missing the load model: add [closed] (virtual users with stages) or [open] (arrival-rate phases)".into(),
                )
            }
            (Some(c), None) => validate_closed(c)?,
            (None, Some(o)) => validate_open(o)?,
        }
        if self.steps.is_empty() {
            return fail("steps", "at least one step is needed".into());
        }
        if self.steps.iter().all(|s| matches!(s, Step::Think(_))) {
            return fail(
                "steps",
                "only think steps: add a get or upload step so the scenario sends requests".into(),
            );
        }
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                Step::Get(path) if !path.starts_with('/') => {
                    return fail(
                        &format!("steps[{i}].get"),
                        format!("{path:?} must be a path starting with '/' (the target URL is given with --target)"),
                    )
                }
                Step::Upload(u) => {
                    if u.video.is_some() && u.file.is_some() {
                        return fail(
                            &format!("steps[{i}].upload.file"),
                            "give either video (a preset) or file, not both".into(),
                        );
                    }
                    if u.poll_interval.0.is_zero() {
                        return fail(
                            &format!("steps[{i}].upload.poll_interval"),
                            "must be more than 0".into(),
                        );
                    }
                    if let Some(f) = &u.file {
                        let ext = f
                            .extension()
                            .map(|e| e.to_string_lossy().to_ascii_lowercase())
                            .unwrap_or_default();
                        if !matches!(ext.as_str(), "mp4" | "mov" | "avi") {
                            return fail(
                                &format!("steps[{i}].upload.file"),
                                format!(
                                    "{}: the API accepts .mp4, .mov and .avi files only",
                                    f.display()
                                ),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        let labels = self.labels();
        for (i, t) in self.thresholds.iter().enumerate() {
            if let Some(step) = t.step() {
                if !labels.iter().any(|l| l == step) {
                    return fail(
                        &format!("thresholds[{i}]"),
                        format!(
                            "{t}: the scenario has no step {step:?} (its steps report as: {})",
                            labels.join(", ")
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

const MAX_VUS: u32 = 10_000;
const MAX_RATE: f64 = 100_000.0;

fn validate_closed(c: &Closed) -> Result<(), (String, String)> {
    let fail = |k: &str, r: String| Err((k.to_string(), r));
    match (c.vus, c.duration, c.stages.is_empty()) {
        (Some(_), Some(_), true) | (None, None, false) => {}
        (Some(_), None, true) => return fail("closed.duration", "vus needs a duration".into()),
        (None, Some(_), true) => return fail("closed.vus", "duration needs vus".into()),
        (None, None, true) => {
            return fail(
                "closed.stages",
                "give stages (e.g. [{ duration = \"1m\", target = 5 }]) or vus with duration"
                    .into(),
            )
        }
        _ => {
            return fail(
                "closed.stages",
                "give either stages or vus with duration, not both".into(),
            )
        }
    }
    if let Some(v) = c.vus {
        if v == 0 || v > MAX_VUS {
            return fail("closed.vus", format!("{v} is outside 1..={MAX_VUS}"));
        }
    }
    if c.start_vus > MAX_VUS {
        return fail(
            "closed.start_vus",
            format!("{} is over {MAX_VUS}", c.start_vus),
        );
    }
    for (i, s) in c.stages.iter().enumerate() {
        if s.target > MAX_VUS {
            return fail(
                &format!("closed.stages[{i}].target"),
                format!("{} is over {MAX_VUS}", s.target),
            );
        }
    }
    let total: Duration = c.stages.iter().map(|s| s.duration.0).sum::<Duration>()
        + c.duration.map(|d| d.0).unwrap_or_default();
    if total.is_zero() {
        return fail("closed", "the stages last 0 s in total".into());
    }
    if c.peak_vus() == 0 {
        return fail("closed", "no stage has a VU; set a target above 0".into());
    }
    if c.iterations == Some(0) {
        return fail("closed.iterations", "must be at least 1".into());
    }
    Ok(())
}

fn validate_open(o: &Open) -> Result<(), (String, String)> {
    let fail = |k: &str, r: String| Err((k.to_string(), r));
    if o.phases.is_empty() {
        return fail(
            "open.phases",
            "at least one phase is needed (e.g. [{ duration = \"60s\", rate = 2, ramp_to = 10 }])"
                .into(),
        );
    }
    for (i, p) in o.phases.iter().enumerate() {
        for (key, r) in [("rate", Some(p.rate)), ("ramp_to", p.ramp_to)] {
            if let Some(r) = r {
                if !(r.is_finite() && (0.0..=MAX_RATE).contains(&r)) {
                    return fail(
                        &format!("open.phases[{i}].{key}"),
                        format!("{r} arrivals/s is outside 0..={MAX_RATE}"),
                    );
                }
            }
        }
        if p.duration.0.is_zero() {
            return fail(
                &format!("open.phases[{i}].duration"),
                "must be more than 0".into(),
            );
        }
    }
    let arrivals: f64 = o
        .phases
        .iter()
        .map(|p| (p.rate + p.end_rate()) / 2.0 * p.duration.secs())
        .sum();
    if arrivals < 1.0 {
        return fail(
            "open.phases",
            format!("the phases make {arrivals:.2} arrivals in total; at least 1 is needed"),
        );
    }
    if o.max_in_flight == 0 {
        return fail("open.max_in_flight", "must be at least 1".into());
    }
    if o.accounts == 0 {
        return fail("open.accounts", "must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_builtin_says_how_much_load_and_for_how_long() {
        let size = |name: &str| Scenario::find(name).unwrap().size();
        assert_eq!(size("smoke"), "1 iteration by 1 VU (at most 2m)");
        assert_eq!(size("ramp"), "up to 5 VUs over 1m");
        assert_eq!(size("sustained"), "5 VUs for 5m");
        // 30/s for 120 s, then 30 -> 60/s over 120 s: 3600 + 5400.
        assert_eq!(size("stress"), "9000 arrivals over 4m");
    }

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, "t.toml", "t")
    }

    fn err(text: &str) -> (String, String) {
        match parse(text) {
            Err(ScenarioError::Invalid { key, reason, .. }) => (key, reason),
            other => panic!("expected an invalid scenario, got {other:?}"),
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(Dur::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(Dur::parse("1m30s").unwrap().0, Duration::from_secs(90));
        assert_eq!(Dur::parse("2h").unwrap().0, Duration::from_secs(7200));
        assert_eq!(Dur::parse("1.5s").unwrap().0, Duration::from_millis(1500));
        for bad in ["", "5", "s", "5x", "1m 30s", "-1s"] {
            assert!(Dur::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(Dur(Duration::from_secs(90)).to_string(), "90s");
        assert_eq!(Dur(Duration::from_secs(120)).to_string(), "2m");
    }

    #[test]
    fn every_builtin_parses() {
        let all = Scenario::builtins().unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for s in &all {
            assert!(!s.description.is_empty(), "{} has no description", s.name);
        }
        let names: Vec<_> = all.iter().map(|s| s.name.as_str()).collect();
        for n in [
            "smoke",
            "ramp",
            "sustained",
            "low",
            "medium",
            "high",
            "stress",
        ] {
            assert!(names.contains(&n), "missing {n}");
        }
    }

    #[test]
    fn workload_numbers_are_in_the_builtins() {
        let high = Scenario::find("high").unwrap();
        let o = high.open.unwrap();
        assert_eq!(o.phases.len(), 2);
        assert_eq!(
            (
                o.phases[0].rate,
                o.phases[0].end_rate(),
                o.phases[0].duration.secs()
            ),
            (10.0, 15.0, 120.0)
        );
        assert_eq!(
            (
                o.phases[1].rate,
                o.phases[1].end_rate(),
                o.phases[1].duration.secs()
            ),
            (15.0, 30.0, 60.0)
        );
        let sustained = Scenario::find("sustained").unwrap();
        let c = sustained.closed.unwrap();
        assert_eq!(c.start_vus, 5);
        assert_eq!(
            c.stages,
            vec![Stage {
                duration: Dur(Duration::from_secs(300)),
                target: 5
            }]
        );
        let smoke = Scenario::find("smoke").unwrap();
        assert_eq!(smoke.closed.unwrap().iterations, Some(1));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let (key, reason) = err(r#"
            [closed]
            vus = 1
            duration = "1s"
            [[steps]]
            upload = { vidoe = "4mb" }
            "#);
        assert_eq!(key, "steps[0].upload.vidoe");
        assert!(reason.contains("unknown field `vidoe`"), "{reason}");

        let (key, reason) = err("colsed = {}\nsteps = []");
        assert_eq!(key, "colsed");
        assert!(reason.contains("unknown field `colsed`"), "{reason}");
    }

    #[test]
    fn bad_values_name_key_and_reason() {
        let (key, reason) = err(r#"
            [open]
            phases = [{ duration = "1x", rate = 1 }]
            [[steps]]
            get = "/api/health"
            "#);
        assert_eq!(key, "open.phases[0].duration");
        assert!(reason.contains("invalid duration \"1x\""), "{reason}");

        let (key, reason) = err(r#"
            [open]
            phases = [{ duration = "10s", rate = -1 }]
            [[steps]]
            get = "/api/health"
            "#);
        assert_eq!(key, "open.phases[0].rate");
        assert!(reason.contains("outside"), "{reason}");

        let (key, reason) = err(r#"
            [closed]
            vus = 2
            [[steps]]
            get = "/x"
            "#);
        assert_eq!(
            (key.as_str(), reason.as_str()),
            ("closed.duration", "vus needs a duration")
        );

        let (key, reason) = err(r#"
            [closed]
            vus = 2
            duration = "1s"
            [[steps]]
            get = "api/health"
            "#);
        assert_eq!(key, "steps[0].get");
        assert!(reason.contains("must be a path"), "{reason}");

        let (key, reason) = err(r#"
            [closed]
            vus = 2
            duration = "1s"
            [[steps]]
            upload = { video = "3mb" }
            "#);
        assert_eq!(key, "steps[0].upload.video");
        assert!(reason.contains("tiny, 4mb, 50mb, 100mb"), "{reason}");
    }

    #[test]
    fn model_and_steps_are_required() {
        let (key, reason) = err("[[steps]]\nget = \"/\"");
        assert_eq!(key, "(top level)");
        assert!(reason.contains("[closed]"), "{reason}");
        let (key, _) = err("steps = []\n[closed]\nvus = 1\nduration = \"1s\"");
        assert_eq!(key, "steps");
        let (key, _) = err(
            "[closed]\nvus = 1\nduration = \"1s\"\n[open]\nphases = [{duration=\"1s\", rate=1}]\n[[steps]]\nget = \"/\"",
        );
        assert_eq!(key, "open");
    }

    #[test]
    fn thresholds_must_name_existing_steps() {
        let (key, reason) = err(r#"
            thresholds = ["upload.p95 < 1s"]
            [closed]
            vus = 1
            duration = "1s"
            [[steps]]
            get = "/api/health"
            "#);
        assert_eq!(key, "thresholds[0]");
        assert!(reason.contains("no step \"upload\""), "{reason}");
        let (key, reason) = err(r#"
            thresholds = ["p95 < fast"]
            [closed]
            vus = 1
            duration = "1s"
            [[steps]]
            get = "/api/health"
            "#);
        assert_eq!(key, "thresholds[0]");
        assert!(reason.contains("p95"), "{reason}");
    }

    #[test]
    fn shorthand_becomes_a_stage() {
        let s = parse(
            "[closed]\nvus = 3\nduration = \"10s\"\n[[steps]]\nget = \"/api/health\"\n[[steps]]\nthink = \"1s\"",
        )
        .unwrap();
        let c = s.closed.unwrap();
        assert_eq!(c.start_vus, 3);
        assert_eq!(c.stages.len(), 1);
        assert_eq!(s.name, "t");
        assert_eq!(s.steps[1], Step::Think(Dur(Duration::from_secs(1))));
    }

    #[test]
    fn find_reports_unknown_names() {
        let e = Scenario::find("no-such-scenario").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("smoke, ramp"), "{msg}");
        assert!(msg.contains("flightdeck load list"), "{msg}");
    }
}
