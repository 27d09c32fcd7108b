//! Tests of the generated assets (shape, cache behaviour) and the synthetic video generator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::fs;
use std::time::Duration;

use common::{pictures, scratch};
use media::{probe, synth_video, Assets, SynthSpec};

#[test]
fn project_assets_have_the_workload_sizes_and_are_cached() {
    let dir = scratch();
    let assets = Assets::build(dir.path()).unwrap();
    assert_eq!(assets.intro, assets.outro);

    let title = probe(&assets.intro).unwrap();
    let v = title.video.unwrap();
    assert_eq!(
        (v.width, v.height, v.frame_rate, v.frames),
        (1280, 720, (30, 1), 60)
    );
    assert_eq!(title.audio_streams, 0);
    // Background is the workload's 0x1d3557 (Y ~59 in BT.601 limited range).
    let pic = &pictures(&assets.intro, &[0])[0];
    assert!(pic.y(20, 20).abs_diff(59) <= 3, "Y {}", pic.y(20, 20));

    let logo = probe(&assets.watermark).unwrap().video.unwrap();
    assert_eq!((logo.width, logo.height), (160, 60));
    assert_eq!(logo.pixel_format, "rgba");

    // A second build reuses the files; a stale stamp makes it rebuild.
    let modified = |p: &std::path::Path| fs::metadata(p).unwrap().modified().unwrap();
    let before = modified(&assets.intro);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(Assets::build(dir.path()).unwrap(), assets);
    assert_eq!(
        modified(&assets.intro),
        before,
        "cached title was rewritten"
    );
    fs::write(dir.path().join("title.mp4.params"), "stale\n").unwrap();
    Assets::build(dir.path()).unwrap();
    assert_ne!(
        modified(&assets.intro),
        before,
        "stale title was not rebuilt"
    );
}

#[test]
fn project_assets_are_reproducible() {
    let (a, b) = (scratch(), scratch());
    let (x, y) = (
        Assets::build(a.path()).unwrap(),
        Assets::build(b.path()).unwrap(),
    );
    assert_eq!(
        fs::read(&x.watermark).unwrap(),
        fs::read(&y.watermark).unwrap()
    );
    let (px, py) = (pictures(&x.intro, &[30]), pictures(&y.intro, &[30]));
    assert_eq!(
        px[0].luma_stats(0, 1280, 0, 720),
        py[0].luma_stats(0, 1280, 0, 720)
    );
}

#[test]
fn baseline_assets_match_the_workload_recipes() {
    let dir = scratch();
    let assets = Assets::baseline(dir.path()).unwrap();
    let v = probe(&assets.intro).unwrap().video.unwrap();
    assert_eq!(
        (v.width, v.height, v.frame_rate, v.frames),
        (1280, 720, (30, 1), 60)
    );
    assert!((v.duration.as_secs_f64() - 2.0).abs() < 0.01);
    let pic = &pictures(&assets.intro, &[59])[0];
    let (mean, max) = pic.luma_stats(0, 1280, 0, 720);
    assert!(
        (58.0..60.5).contains(&mean) && max <= 61,
        "solid 0x1d3557: {mean} {max}"
    );
    let w = probe(&assets.watermark).unwrap().video.unwrap();
    assert_eq!(
        (w.width, w.height, w.pixel_format.as_str()),
        (160, 60, "rgba")
    );
}

#[test]
fn synth_video_follows_the_spec() {
    let dir = scratch();
    let path = dir.path().join("s.mp4");
    let spec = SynthSpec {
        width: 256,
        height: 144,
        fps: 25,
        duration_s: 2.0,
        noise: 12,
        audio: true,
        bitrate: Some(400_000),
        faststart: true,
        ..SynthSpec::default()
    };
    synth_video(&path, &spec).unwrap();
    let info = probe(&path).unwrap();
    let v = info.video.unwrap();
    assert_eq!(
        (v.width, v.height, v.frame_rate, v.frames),
        (256, 144, (25, 1), 50)
    );
    assert_eq!(v.codec, "h264");
    assert_eq!(info.audio_streams, 1);
    assert!((info.duration.unwrap().as_secs_f64() - 2.0).abs() < 0.1);
    // Noise makes consecutive frames differ even where the pattern is still.
    let pics = pictures(&path, &[10, 11]);
    assert_ne!(
        pics[0].luma_stats(200, 256, 100, 144),
        pics[1].luma_stats(200, 256, 100, 144)
    );
    // faststart puts the index (moov) before the media data.
    let bytes = fs::read(&path).unwrap();
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(find(b"moov") < find(b"mdat"));
}

#[test]
fn workload_specs_match_the_cli_recipes() {
    let s = SynthSpec::workload_50mb();
    assert_eq!(
        (s.width, s.height, s.fps, s.duration_s),
        (1920, 1080, 30, 60.0)
    );
    assert_eq!(
        (s.bitrate, s.maxrate, s.bufsize),
        (Some(6_500_000), Some(8_000_000), Some(12_000_000))
    );
    assert!(s.audio && s.noise == 12 && s.preset == "veryfast");
    let s = SynthSpec::workload_4mb();
    assert_eq!(
        (s.width, s.height, s.duration_s, s.audio),
        (1280, 720, 20.0, false)
    );
}
