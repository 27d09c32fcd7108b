//! Making the test videos in this process, with `media`'s FFmpeg (the `synth` feature, on by
//! default): `flightdeck-synth` and the tests use it. Without the feature this crate builds
//! with no FFmpeg headers or clang, and a load run's missing videos come from
//! [`super::by_command`] (a `flightdeck-synth` installed beside the caller).

use std::path::{Path, PathBuf};

use media::SynthSpec;

use super::{VideoError, VideoMaker, VideoPreset};

impl VideoPreset {
    pub fn spec(self) -> SynthSpec {
        match self {
            VideoPreset::Tiny => SynthSpec::default(),
            VideoPreset::Mb4 => SynthSpec::workload_4mb(),
            VideoPreset::Mb50 => SynthSpec::workload_50mb(),
            VideoPreset::Mb100 => SynthSpec {
                duration_s: 120.0,
                ..SynthSpec::workload_50mb()
            },
        }
    }
}

/// The cache file name for a spec: every parameter that changes the bytes is in it.
pub fn cache_name(spec: &SynthSpec) -> String {
    let rate = |v: Option<u64>| v.map(|b| format!("{b}")).unwrap_or_else(|| "crf".into());
    format!(
        "synth-{}x{}-{}_{}fps-{}s-noise{}-{}-b{}-max{}-buf{}-{}{}.mp4",
        spec.width,
        spec.height,
        spec.fps,
        spec.fps_den,
        spec.duration_s,
        spec.noise,
        if spec.audio { "aac" } else { "noaudio" },
        rate(spec.bitrate),
        rate(spec.maxrate),
        rate(spec.bufsize),
        spec.preset,
        if spec.faststart { "-faststart" } else { "" },
    )
}

/// Videos made in this process with `media` (FFmpeg linked in).
pub fn in_process() -> VideoMaker {
    std::sync::Arc::new(|dir: &Path, preset: VideoPreset| {
        ensure_synth(dir, &preset.spec(), preset.name())
    })
}

/// The cached synthetic video for `spec` in `dir`, made on first use (blocking: FFmpeg).
pub fn ensure_synth(dir: &Path, spec: &SynthSpec, label: &str) -> Result<PathBuf, VideoError> {
    let path = dir.join(cache_name(spec));
    if path.metadata().map(|m| m.len() > 0).unwrap_or(false) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|source| VideoError::Cache {
        dir: dir.display().to_string(),
        source,
    })?;
    // Made under a unique name and renamed, so a concurrent run never reads half a file.
    let tmp = dir.join(format!(
        "{}.tmp-{}.mp4",
        cache_name(spec),
        std::process::id()
    ));
    let made = media::synth_video(&tmp, spec).map_err(|e| VideoError::Synth {
        preset: label.to_string(),
        reason: e.to_string(),
    });
    if let Err(e) = made {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &path).map_err(|source| VideoError::Cache {
        dir: dir.display().to_string(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_differ_by_parameters() {
        let names: std::collections::BTreeSet<_> = VideoPreset::ALL
            .iter()
            .map(|p| cache_name(&p.spec()))
            .collect();
        assert_eq!(names.len(), 4);
        assert!(cache_name(&VideoPreset::Mb100.spec()).contains("-120s-"));
    }

    #[test]
    fn synth_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SynthSpec {
            duration_s: 0.5,
            ..SynthSpec::default()
        };
        let a = ensure_synth(dir.path(), &spec, "tiny").unwrap();
        let meta = a.metadata().unwrap();
        assert!(meta.len() > 1000, "{} bytes", meta.len());
        let modified = meta.modified().unwrap();
        let b = ensure_synth(dir.path(), &spec, "tiny").unwrap();
        assert_eq!(a, b);
        assert_eq!(b.metadata().unwrap().modified().unwrap(), modified);
        let info = media::probe(&a).unwrap();
        assert!(info.video.is_some());
    }
}
