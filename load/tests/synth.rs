//! `flightdeck-synth`, the binary the console runs for test videos so that it does not load
//! FFmpeg itself: same files as the in-process maker, and clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use load::video::{by_command, VideoPreset};

#[test]
fn the_synth_binary_makes_the_cached_video_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let make = by_command(env!("CARGO_BIN_EXE_flightdeck-synth").into());
    let path = make(dir.path(), VideoPreset::Tiny).unwrap();
    assert!(path.starts_with(dir.path()), "{}", path.display());
    let info = media::probe(&path).unwrap();
    assert!(
        info.duration.is_some_and(|d| d.as_secs_f64() > 1.0),
        "{info:?}"
    );
    // Cached: a second call finds the same file.
    assert_eq!(make(dir.path(), VideoPreset::Tiny).unwrap(), path);
}

#[test]
fn a_missing_synth_binary_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let make = by_command("/nonexistent/flightdeck-synth".into());
    let e = make(dir.path(), VideoPreset::Tiny).unwrap_err().to_string();
    assert!(
        e.contains("cannot run /nonexistent/flightdeck-synth"),
        "{e}"
    );
    assert!(e.contains("cargo build --workspace --bins"), "{e}");
}
