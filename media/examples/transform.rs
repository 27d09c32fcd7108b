//! Runs one transform from the command line (used by bench/transform.sh and for trying it out).
//!
//! `transform [--assets DIR | --baseline DIR | --intro F [--outro F] --watermark F]
//!            [--segment-cache DIR] [--no-faststart] [--stage-nice N] INPUT OUTPUT`
//!
//! `--segment-cache DIR` keeps the encoded intro and outro there between runs, as the worker
//! does; without it each run encodes them. `--stage-nice N` sets how many nice steps the
//! filter and encoder threads run below the decoder (`TransformOptions::stage_nice`; 0: all
//! threads alike).

use std::path::PathBuf;
use std::process::ExitCode;

use media::{transform, Assets, TransformError, TransformOptions};

const USAGE: &str = "usage: transform [--assets DIR | --baseline DIR | --intro F [--outro F] --watermark F] [--segment-cache DIR] [--no-faststart] [--stage-nice N] INPUT OUTPUT";

fn main() -> ExitCode {
    let mut opts = TransformOptions::default();
    let (mut assets_dir, mut baseline_dir) = (None, None);
    let (mut intro, mut outro, mut watermark) = (None, None, None);
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().map(PathBuf::from);
        match arg.as_str() {
            "--assets" => assets_dir = value(),
            "--baseline" => baseline_dir = value(),
            "--intro" => intro = value(),
            "--outro" => outro = value(),
            "--watermark" => watermark = value(),
            "--segment-cache" => opts.segment_cache = value(),
            "--no-faststart" => opts.faststart = false,
            "--stage-nice" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => opts.stage_nice = n,
                None => {
                    eprintln!("--stage-nice takes a whole number of nice steps\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let [input, output] = paths.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let assets: Result<Assets, TransformError> = match (assets_dir, baseline_dir, intro, watermark)
    {
        (_, _, Some(intro), Some(watermark)) => {
            let outro = outro.unwrap_or_else(|| intro.clone());
            Ok(Assets::new(intro, outro, watermark))
        }
        (_, Some(dir), _, _) => Assets::baseline(&dir),
        (Some(dir), _, _, _) => Assets::build(&dir),
        _ => Assets::build(&std::env::temp_dir().join("flightdeck-assets")),
    };
    match assets.and_then(|a| transform(input, output, &a, &opts)) {
        Ok(stats) => {
            println!("{stats:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("transform failed ({:?}, {}): {e}", e.class(), e.reason());
            ExitCode::FAILURE
        }
    }
}
