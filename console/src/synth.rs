//! Test videos for load runs come from `flightdeck-synth` (the `load` crate's binary, built
//! beside `flightdeck`), so the console never loads FFmpeg's libraries itself: they would add
//! about 40 MB to its resident memory for a feature used now and then.

use std::path::PathBuf;

use load::video::VideoMaker;

pub const SYNTH_BIN: &str = "flightdeck-synth";

/// `flightdeck-synth` beside this binary, else whatever `PATH` finds.
pub fn program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(SYNTH_BIN)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(SYNTH_BIN))
}

/// How the console's load runs make a missing test video.
pub fn maker() -> VideoMaker {
    load::video::by_command(program())
}
