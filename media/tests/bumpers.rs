//! The intro and outro are encoded once and joined to each job's encoded upload at the
//! bitstream level: the joined file is one valid stream (checked with the FFmpeg CLI), the
//! segment cache is used, rebuilt when damaged, keyed by the settings, and leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{baseline_assets, cli, picture_md5s as pictures, scratch, synth, within};
use media::{transform, SynthSpec, TransformOptions, TransformStats};

fn input(dir: &Path, name: &str, secs: f64) -> PathBuf {
    synth(
        dir,
        name,
        SynthSpec {
            width: 320,
            height: 240,
            fps: 30,
            duration_s: secs,
            ..SynthSpec::default()
        },
    )
}

fn run(input: &Path, output: &Path, opts: TransformOptions) -> TransformStats {
    let (input, output, assets) = (input.to_owned(), output.to_owned(), baseline_assets());
    within(120, move || transform(&input, &output, &assets, &opts)).unwrap()
}

fn cached(dir: &Path) -> TransformOptions {
    TransformOptions {
        segment_cache: Some(dir.to_owned()),
        ..TransformOptions::default()
    }
}

/// Each video packet's (pts in frames at 30 fps, dts in frames, keyframe), in file order.
fn packets(path: &Path) -> Vec<(i64, i64, bool)> {
    let (out, _) = cli(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time,dts_time,flags",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    );
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let frames = |s: &str| (s.parse::<f64>().unwrap() * 30.0).round() as i64;
            (frames(f[0]), frames(f[1]), f[2].starts_with('K'))
        })
        .collect()
}

/// Decodes every frame, stopping at the first decoding error of any kind; the error text.
fn decode_errors(path: &Path) -> String {
    let (_, stderr) = cli(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-xerror",
            "-err_detect",
            "explode",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ],
    );
    stderr
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_joined_output_is_one_valid_stream_with_a_keyframe_at_each_join() {
    let dir = scratch();
    let cache = dir.path().join("segments");
    let upload = input(dir.path(), "in.mp4", 3.0);
    let output = dir.path().join("out.mp4");
    let stats = run(&upload, &output, cached(&cache));
    assert_eq!(stats.frames_out, 60 + 90 + 60);
    // The baseline's intro and outro are one file: encoded once, used twice.
    assert_eq!(stats.bumpers_encoded, 1);

    let p = packets(&output);
    assert_eq!(p.len(), 210);
    let mut pts: Vec<i64> = p.iter().map(|x| x.0).collect();
    pts.sort_unstable();
    assert_eq!(pts, (0..210).collect::<Vec<_>>(), "one continuous timeline");
    assert!(
        p.windows(2).all(|w| w[0].1 < w[1].1),
        "decoding timestamps rise across the joins"
    );
    let keys: Vec<i64> = p.iter().filter(|x| x.2).map(|x| x.0).collect();
    assert_eq!(keys, [0, 60, 150], "a keyframe starts each segment");
    assert_eq!(decode_errors(&output), "", "decodes without error");

    let (duration, _) = cli(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames,duration",
            "-of",
            "csv=p=0",
            output.to_str().unwrap(),
        ],
    );
    let fields: Vec<&str> = duration.trim().split(',').collect();
    assert!(
        (fields[0].parse::<f64>().unwrap() - 7.0).abs() < 0.05,
        "{duration}"
    );
    assert_eq!(fields[1], "210");

    // The intro and outro are the cached segment's pictures, exactly.
    let segment = cache.join(&segment_files(&cache)[0]);
    let (bumper, all) = (pictures(&segment), pictures(&output));
    assert_eq!(bumper.len(), 60);
    assert_eq!(all[..60], bumper[..]);
    assert_eq!(all[150..], bumper[..]);
}

#[test]
fn the_next_job_takes_the_segments_from_the_cache_and_gets_the_same_file() {
    let dir = scratch();
    let cache = dir.path().join("segments");
    let upload = input(dir.path(), "in.mp4", 1.0);
    let (first, second, uncached) = (
        dir.path().join("first.mp4"),
        dir.path().join("second.mp4"),
        dir.path().join("uncached.mp4"),
    );
    assert_eq!(run(&upload, &first, cached(&cache)).bumpers_encoded, 1);
    let files = segment_files(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(run(&upload, &second, cached(&cache)).bumpers_encoded, 0);
    assert_eq!(segment_files(&cache), files);
    assert_eq!(fs::read(&first).unwrap(), fs::read(&second).unwrap());

    // Without a cache the job encodes them itself, beside the output, and removes them.
    let stats = run(&upload, &uncached, TransformOptions::default());
    assert_eq!(stats.bumpers_encoded, 1);
    assert_eq!(pictures(&uncached), pictures(&first));
    let mut left = segment_files(dir.path());
    left.retain(|n| n.starts_with('.'));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_damaged_cached_segment_is_made_again() {
    let dir = scratch();
    let cache = dir.path().join("segments");
    let upload = input(dir.path(), "in.mp4", 1.0);
    let good = dir.path().join("good.mp4");
    run(&upload, &good, cached(&cache));
    let segment = cache.join(&segment_files(&cache)[0]);
    fs::write(&segment, b"not a video").unwrap();

    let again = dir.path().join("again.mp4");
    assert_eq!(run(&upload, &again, cached(&cache)).bumpers_encoded, 1);
    assert_eq!(decode_errors(&again), "");
    assert_eq!(pictures(&again), pictures(&good));
    assert!(fs::metadata(&segment).unwrap().len() > 1000, "replaced");
}

#[test]
fn other_settings_get_their_own_segments() {
    let dir = scratch();
    let cache = dir.path().join("segments");
    let upload = input(dir.path(), "in.mp4", 1.0);
    run(&upload, &dir.path().join("a.mp4"), cached(&cache));
    let stats = run(
        &upload,
        &dir.path().join("b.mp4"),
        TransformOptions {
            crf: 30,
            ..cached(&cache)
        },
    );
    assert_eq!(stats.bumpers_encoded, 1, "a new CRF is a new encoding");
    assert_eq!(segment_files(&cache).len(), 2);
    assert_eq!(decode_errors(&dir.path().join("b.mp4")), "");
}

#[test]
fn a_cache_that_cannot_be_written_does_not_fail_the_job() {
    let dir = scratch();
    let upload = input(dir.path(), "in.mp4", 1.0);
    // A directory cannot be made under a file.
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let output = dir.path().join("out.mp4");
    let stats = run(&upload, &output, cached(&file.join("segments")));
    assert_eq!(stats.bumpers_encoded, 1);
    assert_eq!(stats.frames_out, 60 + 30 + 60);
    assert_eq!(decode_errors(&output), "");
    let mut left = segment_files(dir.path());
    left.retain(|n| n.starts_with('.'));
    assert!(left.is_empty(), "left behind: {left:?}");
}
