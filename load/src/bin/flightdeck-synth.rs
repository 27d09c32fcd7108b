//! `flightdeck-synth --dir DIR --preset NAME`: makes (or finds) the cached synthetic test video
//! of a preset and prints its path. The console runs it for load runs, so that FFmpeg's
//! libraries are loaded only here, not in the long-running console.

use std::path::PathBuf;
use std::process::ExitCode;

use load::video::{ensure_synth, VideoPreset, PRESET_NAMES};

fn main() -> ExitCode {
    let mut dir = None;
    let mut preset = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next().map(PathBuf::from),
            "--preset" => preset = args.next(),
            _ => return usage(&format!("unknown argument `{arg}`")),
        }
    }
    let (Some(dir), Some(preset)) = (dir, preset) else {
        return usage("both --dir and --preset are needed");
    };
    let Ok(preset) = preset.parse::<VideoPreset>() else {
        return usage(&format!("no preset `{preset}` (known: {PRESET_NAMES})"));
    };
    match ensure_synth(&dir, &preset.spec(), preset.name()) {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flightdeck-synth: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("flightdeck-synth: {problem}\nusage: flightdeck-synth --dir DIR --preset NAME");
    ExitCode::from(2)
}
