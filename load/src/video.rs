//! The videos a load run uploads: WORKLOAD.md's synthetic inputs (made with `media`'s
//! in-process FFmpeg, [`synth`], or by running `flightdeck-synth`, [`by_command`]), cached
//! under the project cache by their parameters so every run and every machine uploads the
//! same kind of file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

#[cfg(feature = "synth")]
mod synth;
#[cfg(feature = "synth")]
pub use synth::{cache_name, ensure_synth, in_process};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VideoPreset {
    /// 320x240, 2 s, a few tens of KB: for tests and request-rate runs.
    Tiny,
    /// WORKLOAD.md's "4 MB": 720p30, 20 s, noise, 1550 kb/s.
    Mb4,
    /// WORKLOAD.md's "50 MB": 1080p30, 60 s, noise, 6500 kb/s, AAC audio.
    Mb50,
    /// WORKLOAD.md's "100 MB": the 50 MB recipe for 120 s.
    Mb100,
}

pub const PRESET_NAMES: &str = "tiny, 4mb, 50mb, 100mb";

impl VideoPreset {
    pub const ALL: [VideoPreset; 4] = [
        VideoPreset::Tiny,
        VideoPreset::Mb4,
        VideoPreset::Mb50,
        VideoPreset::Mb100,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VideoPreset::Tiny => "tiny",
            VideoPreset::Mb4 => "4mb",
            VideoPreset::Mb50 => "50mb",
            VideoPreset::Mb100 => "100mb",
        }
    }
}

impl fmt::Display for VideoPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for VideoPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        VideoPreset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown video preset {s:?}; expected one of {PRESET_NAMES}"))
    }
}

impl<'de> Deserialize<'de> for VideoPreset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for VideoPreset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `FLIGHTDECK_CACHE_DIR`, else `$XDG_CACHE_HOME/flightdeck`, else `~/.cache/flightdeck`,
/// else `.cache/flightdeck`: the same rules as the local cloud's cache (a test checks).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLIGHTDECK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("flightdeck");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("flightdeck");
    }
    PathBuf::from(".cache").join("flightdeck")
}

pub fn videos_dir() -> PathBuf {
    cache_dir().join("load").join("videos")
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("cannot write the test video cache {dir}: {source}")]
    Cache {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("generating the {preset} test video failed: {reason}")]
    Synth { preset: String, reason: String },
    #[error("cannot read the video {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// Makes (or finds) the cached video of a preset in a directory; blocking.
pub type VideoMaker =
    std::sync::Arc<dyn Fn(&Path, VideoPreset) -> Result<PathBuf, VideoError> + Send + Sync>;

/// Videos made by `program --dir DIR --preset NAME` (the `flightdeck-synth` binary), which
/// prints the file's path: a program that does not otherwise need FFmpeg (the console) then
/// does not load its libraries at all.
pub fn by_command(program: PathBuf) -> VideoMaker {
    std::sync::Arc::new(move |dir: &Path, preset: VideoPreset| {
        let fail = |reason: String| VideoError::Synth {
            preset: preset.name().to_owned(),
            reason,
        };
        let out = std::process::Command::new(&program)
            .arg("--dir")
            .arg(dir)
            .args(["--preset", preset.name()])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                fail(format!(
                    "cannot run {}: {e}; it is built beside flightdeck by `cargo build --workspace --bins`, or installed with `cargo install --locked --path load` (it needs FFmpeg's headers and clang); a scenario whose uploads name a `file` needs no test videos",
                    program.display()
                ))
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(fail(format!(
                "{} {}: {}",
                program.display(),
                out.status,
                err.trim()
            )));
        }
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        match path.metadata() {
            Ok(m) if m.len() > 0 => Ok(path),
            _ => Err(fail(format!(
                "{} printed `{}`, which is not a video file",
                program.display(),
                path.display()
            ))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_by_name() {
        assert_eq!("4MB".parse::<VideoPreset>().unwrap(), VideoPreset::Mb4);
        assert_eq!("100mb".parse::<VideoPreset>().unwrap(), VideoPreset::Mb100);
        let e = "3mb".parse::<VideoPreset>().unwrap_err();
        assert!(e.contains(PRESET_NAMES), "{e}");
    }
}
