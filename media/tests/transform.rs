//! End-to-end tests of `transform()` with real FFmpeg on small synthetic inputs: output format,
//! the 30 s cut, frame-rate normalisation, letterboxing, the watermark, and error classes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{baseline_assets, cli, picture_md5s, pictures, scratch, synth, within};
use media::{probe, transform, FailureClass, SynthSpec, TransformOptions};

/// Intro and outro are 2 s at 30 fps.
const BOOKENDS: u64 = 120;

fn spec(width: u32, height: u32, fps: u32, secs: f64) -> SynthSpec {
    SynthSpec {
        width,
        height,
        fps,
        duration_s: secs,
        ..SynthSpec::default()
    }
}

#[test]
fn output_is_720p30_h264_yuv420p_sar1_without_audio() {
    let dir = scratch();
    let input = synth(
        dir.path(),
        "in.mp4",
        SynthSpec {
            audio: true,
            ..spec(320, 240, 30, 3.0)
        },
    );
    assert_eq!(
        probe(&input).unwrap().audio_streams,
        1,
        "the input has audio"
    );
    let output = dir.path().join("out.mp4");
    let stats = within(120, {
        let (input, output) = (input.clone(), output.clone());
        move || {
            transform(
                &input,
                &output,
                &baseline_assets(),
                &TransformOptions::default(),
            )
        }
    })
    .unwrap();

    let info = probe(&output).unwrap();
    let v = info.video.as_ref().unwrap();
    assert!(info.container.contains("mp4"));
    assert_eq!((info.streams, info.audio_streams), (1, 0), "video only");
    assert_eq!((v.width, v.height), (1280, 720));
    assert_eq!(v.sample_aspect, (1, 1));
    assert_eq!(v.frame_rate, (30, 1));
    assert_eq!(v.codec, "h264");
    assert_eq!(v.pixel_format, "yuv420p");
    assert_eq!(v.frames, BOOKENDS + 90);
    assert!(
        (v.duration.as_secs_f64() - 7.0).abs() < 0.05,
        "{:?}",
        v.duration
    );

    assert_eq!(stats.frames_out, v.frames);
    assert_eq!(stats.frames_in, 90);
    assert_eq!(stats.input_duration_used, Duration::from_secs(3));
    assert_eq!(stats.output_duration, Duration::from_secs(7));
    assert_eq!(stats.output_bytes, fs::metadata(&output).unwrap().len());
}

#[test]
fn input_longer_than_30s_is_cut_and_not_read_to_the_end() {
    let dir = scratch();
    let input = synth(dir.path(), "long.mp4", spec(160, 120, 10, 40.0));
    let output = dir.path().join("out.mp4");
    let stats = within(180, {
        let (input, output) = (input.clone(), output.clone());
        move || {
            transform(
                &input,
                &output,
                &baseline_assets(),
                &TransformOptions::default(),
            )
        }
    })
    .unwrap();
    let v = probe(&output).unwrap().video.unwrap();
    assert_eq!(v.frames, BOOKENDS + 900);
    assert!((v.duration.as_secs_f64() - 34.0).abs() < 0.05);
    assert_eq!(stats.input_duration_used, Duration::from_secs(30));
    assert_eq!(stats.input_duration, Some(Duration::from_secs(40)));
    // 300 frames make 30 s; the decoder stops right after, not at 400.
    assert!(
        (300..310).contains(&stats.frames_in),
        "decoded {} frames",
        stats.frames_in
    );
}

#[test]
fn other_frame_rates_are_normalised_to_30_and_finish() {
    let dir = scratch();
    let cases = [
        (
            "25.mp4",
            SynthSpec {
                audio: true,
                ..spec(320, 240, 25, 3.0)
            },
            90,
        ),
        (
            "60.mp4",
            SynthSpec {
                audio: true,
                ..spec(320, 240, 60, 2.0)
            },
            60,
        ),
        (
            "ntsc.mp4",
            SynthSpec {
                fps: 30000,
                fps_den: 1001,
                ..spec(320, 240, 30, 2.0)
            },
            60,
        ),
        ("24.mov", spec(320, 240, 24, 2.5), 75),
    ];
    for (name, s, upload_frames) in cases {
        let input = synth(dir.path(), name, s);
        let output = dir.path().join(format!("{name}.out.mp4"));
        // The original graph never finished on FFmpeg 5.1 here; ours must, promptly.
        let stats = within(120, {
            let (input, output) = (input.clone(), output.clone());
            move || {
                transform(
                    &input,
                    &output,
                    &baseline_assets(),
                    &TransformOptions::default(),
                )
            }
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let v = probe(&output).unwrap().video.unwrap();
        assert_eq!(v.frame_rate, (30, 1), "{name}");
        assert_eq!(v.frames, BOOKENDS + upload_frames, "{name}");
        assert_eq!(stats.frames_out, v.frames, "{name}");
    }
}

#[test]
fn avi_uploads_are_accepted() {
    let dir = scratch();
    let input = synth(dir.path(), "in.avi", spec(320, 240, 30, 1.0));
    let output = dir.path().join("out.mp4");
    let stats = transform(
        &input,
        &output,
        &baseline_assets(),
        &TransformOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.frames_out, BOOKENDS + 30);
}

/// Luma of letterbox bars (black, Y=16) stays dark; picture columns are brighter.
fn assert_letterboxed(path: &std::path::Path, content_x: (usize, usize)) {
    // Frame 75: inside the upload segment (the intro is frames 0..60).
    let pic = &pictures(path, &[75])[0];
    assert_eq!((pic.width, pic.height), (1280, 720));
    let (left, right) = content_x;
    let margin = 8;
    // Below the watermark, which sits over the right bar.
    let (_, max_left) = pic.luma_stats(0, left - margin, 0, 720);
    let (_, max_right) = pic.luma_stats(right + margin, 1280, 80, 720);
    assert!(max_left <= 24, "left bar not black: max Y {max_left}");
    assert!(max_right <= 24, "right bar not black: max Y {max_right}");
    let (_, u, v) = pic.yuv(20, 360);
    assert!(
        u.abs_diff(128) <= 3 && v.abs_diff(128) <= 3,
        "bar is grey, not colour"
    );
    for x in (left + margin..right - margin).step_by(16) {
        let (mean, _) = pic.luma_stats(x, x + 1, 0, 720);
        assert!(mean > 26.0, "column {x} looks like a bar: mean Y {mean}");
    }
}

#[test]
fn four_by_three_input_is_pillarboxed() {
    let dir = scratch();
    let input = synth(dir.path(), "4x3.mp4", spec(320, 240, 30, 2.0));
    let output = dir.path().join("out.mp4");
    transform(
        &input,
        &output,
        &baseline_assets(),
        &TransformOptions::default(),
    )
    .unwrap();
    // 320x240 -> 960x720, centred: x 160..1120.
    assert_letterboxed(&output, (160, 1120));
}

#[test]
fn portrait_input_is_pillarboxed() {
    let dir = scratch();
    let input = synth(dir.path(), "portrait.mp4", spec(240, 320, 30, 2.0));
    let output = dir.path().join("out.mp4");
    transform(
        &input,
        &output,
        &baseline_assets(),
        &TransformOptions::default(),
    )
    .unwrap();
    // 240x320 -> 540x720, centred: x 370..910.
    assert_letterboxed(&output, (370, 910));
}

#[test]
fn wide_input_is_letterboxed_top_and_bottom() {
    let dir = scratch();
    // 2.4:1 -> 1280x534, centred: y 93..627.
    let input = synth(dir.path(), "wide.mp4", spec(480, 200, 30, 2.0));
    let output = dir.path().join("out.mp4");
    transform(
        &input,
        &output,
        &baseline_assets(),
        &TransformOptions::default(),
    )
    .unwrap();
    let pic = &pictures(&output, &[75])[0];
    let (_, max_top) = pic.luma_stats(0, 1000, 0, 85);
    let (_, max_bottom) = pic.luma_stats(0, 1280, 635, 720);
    assert!(
        max_top <= 24 && max_bottom <= 24,
        "bars: {max_top} {max_bottom}"
    );
    let (mean, _) = pic.luma_stats(0, 1280, 101, 619);
    assert!(mean > 60.0, "picture area too dark: {mean}");
}

#[test]
fn watermark_sits_top_right_10px_from_the_edges() {
    let dir = scratch();
    let input = synth(dir.path(), "in.mp4", spec(320, 240, 30, 1.0));
    let output = dir.path().join("out.mp4");
    transform(
        &input,
        &output,
        &baseline_assets(),
        &TransformOptions::default(),
    )
    .unwrap();
    let pics = pictures(&output, &[0, 75]);
    let intro = &pics[0];
    // The baseline watermark: 160x60 white@0.8 at x 1110..1270, y 10..70, over navy (Y 59).
    let (inside_mean, _) = intro.luma_stats(1112, 1268, 12, 68);
    assert!(
        inside_mean > 180.0,
        "watermark missing: mean Y {inside_mean}"
    );
    let background = f64::from(intro.y(640, 360));
    assert!(
        (50.0..70.0).contains(&background),
        "intro colour: Y {background}"
    );
    for (x, y, what) in [
        (1106, 40, "left of it"),
        (1274, 40, "in the right margin"),
        (1190, 6, "in the top margin"),
        (1190, 74, "below it"),
        (12, 40, "top-left corner"),
    ] {
        let l = f64::from(intro.y(x, y));
        assert!((l - background).abs() < 12.0, "{what} ({x},{y}) has Y {l}");
    }
    // Edges land on the exact pixel: strong step across x=1110 and y=70.
    assert!(intro.y(1111, 40) > 150 && intro.y(1108, 40) < 100);
    assert!(intro.y(1190, 68) > 150 && intro.y(1190, 72) < 100);
    // And it stays over the upload's frames.
    let (upload_mean, _) = pics[1].luma_stats(1112, 1268, 12, 68);
    assert!(
        upload_mean > 150.0,
        "watermark missing over upload: {upload_mean}"
    );
}

#[test]
fn project_assets_are_used_and_logo_shows() {
    let dir = scratch();
    let assets = media::Assets::build(&dir.path().join("assets")).unwrap();
    let input = synth(dir.path(), "in.mp4", spec(320, 240, 30, 1.0));
    let output = dir.path().join("out.mp4");
    let stats = transform(&input, &output, &assets, &TransformOptions::default()).unwrap();
    assert_eq!(stats.frames_out, BOOKENDS + 30);
    let pic = &pictures(&output, &[0])[0];
    // The logo's red emblem at logo (20, 30) -> frame (1130, 40): red has V >> 128.
    let (_, _, v) = pic.yuv(1130, 40);
    assert!(v > 170, "logo emblem not red: V {v}");
    // Its cream bar at logo (100, 18) -> frame (1210, 28) is bright.
    assert!(pic.y(1210, 28) > 200);
}

#[test]
fn cancel_stops_a_running_transform_and_cleans_up() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = scratch();
    let input = synth(dir.path(), "long.mp4", spec(160, 120, 10, 40.0));
    let output = dir.path().join("out.mp4");
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = TransformOptions {
        cancel: Some(cancel.clone()),
        ..TransformOptions::default()
    };
    let started = std::time::Instant::now();
    let job = std::thread::spawn({
        let (input, output) = (input.clone(), output.clone());
        move || transform(&input, &output, &baseline_assets(), &opts)
    });
    std::thread::sleep(Duration::from_millis(300));
    cancel.store(true, Ordering::Relaxed);
    let e = job.join().unwrap().unwrap_err();
    assert_eq!(
        (e.class(), e.reason()),
        (FailureClass::Retryable, "cancelled"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!output.exists(), "partial output removed");
}

mod errors {
    use super::*;

    fn fails(input: &std::path::Path) -> media::TransformError {
        let output = input.with_extension("out.mp4");
        let err = transform(
            input,
            &output,
            &baseline_assets(),
            &TransformOptions::default(),
        )
        .expect_err("transform should fail");
        assert!(!output.exists(), "no partial output left behind");
        err
    }

    #[test]
    fn text_file_is_not_a_video() {
        let dir = scratch();
        for name in ["notes.mp4", "notes.txt", "notes.mov"] {
            let path = dir.path().join(name);
            fs::write(
                &path,
                "hello, this is a shopping list\nmilk\neggs\n".repeat(50),
            )
            .unwrap();
            let e = fails(&path);
            assert_eq!(e.class(), FailureClass::Permanent, "{name}: {e}");
            assert_eq!(e.reason(), "not_a_video", "{name}: {e}");
        }
    }

    #[test]
    fn picture_is_not_a_video() {
        let e = fails(&baseline_assets().watermark);
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Permanent, "not_a_video"),
            "{e}"
        );
    }

    #[test]
    fn empty_file_is_permanent() {
        let dir = scratch();
        let path = dir.path().join("empty.mp4");
        fs::write(&path, b"").unwrap();
        let e = fails(&path);
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Permanent, "empty_input")
        );
    }

    #[test]
    fn truncated_mp4_is_corrupt() {
        let dir = scratch();
        let input = synth(dir.path(), "full.mp4", spec(320, 240, 30, 2.0));
        let bytes = fs::read(&input).unwrap();
        let path = dir.path().join("truncated.mp4");
        // The index (moov) is at the end, so half a file cannot be read at all.
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = fails(&path);
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Permanent, "corrupt_input"),
            "{e}"
        );
    }

    #[test]
    fn truncated_faststart_mp4_is_corrupt_not_shortened() {
        let dir = scratch();
        let spec = SynthSpec {
            faststart: true,
            ..spec(320, 240, 30, 4.0)
        };
        let input = synth(dir.path(), "full.mp4", spec);
        let bytes = fs::read(&input).unwrap();
        let path = dir.path().join("truncated.mp4");
        // The index is intact at the front; half the pictures are missing.
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = fails(&path);
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Permanent, "corrupt_input"),
            "{e}"
        );
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn mp4_header_followed_by_garbage_is_corrupt() {
        let dir = scratch();
        let path = dir.path().join("garbage.mp4");
        let mut bytes = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec();
        bytes.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        fs::write(&path, bytes).unwrap();
        let e = fails(&path);
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Permanent, "corrupt_input"),
            "{e}"
        );
    }

    /// An AVI header with garbage after it: FFmpeg opens it as `avi` with no streams at
    /// all; a damaged file, not a valid one without video.
    #[test]
    fn riff_header_followed_by_garbage_is_corrupt() {
        let dir = scratch();
        for (name, head) in [
            ("riff.avi", b"RIFF\x10\x00\x00\x00AVI ".to_vec()),
            ("riff-list.avi", b"RIFF\x10\x00\x00\x00AVI LIST".to_vec()),
        ] {
            let path = dir.path().join(name);
            let mut bytes = head;
            bytes.extend((0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
            fs::write(&path, bytes).unwrap();
            let e = fails(&path);
            assert_eq!(
                (e.class(), e.reason()),
                (FailureClass::Permanent, "corrupt_input"),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn audio_only_file_has_no_video_stream() {
        let dir = scratch();
        let with_audio = synth(
            dir.path(),
            "av.mp4",
            SynthSpec {
                audio: true,
                ..spec(160, 120, 30, 1.0)
            },
        );
        let path = dir.path().join("audio.m4a");
        remux_audio_only(&with_audio, &path);
        let e = fails(&path);
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Permanent, "no_video_stream"),
            "{e}"
        );
    }

    #[test]
    fn missing_input_or_asset_is_retryable() {
        let dir = scratch();
        let e = fails(&dir.path().join("gone.mp4"));
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Retryable, "io_error"),
            "{e}"
        );

        let input = synth(dir.path(), "in.mp4", spec(160, 120, 30, 1.0));
        let mut assets = baseline_assets();
        assets.outro = dir.path().join("no-outro.mp4");
        let e = transform(
            &input,
            &dir.path().join("out.mp4"),
            &assets,
            &TransformOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Retryable, "asset_error"),
            "{e}"
        );
    }

    #[test]
    fn unwritable_output_is_retryable_and_input_is_checked_first() {
        let dir = scratch();
        let input = synth(dir.path(), "in.mp4", spec(160, 120, 30, 1.0));
        let output = dir.path().join("no-such-dir").join("out.mp4");
        let e = transform(
            &input,
            &output,
            &baseline_assets(),
            &TransformOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.class(), FailureClass::Retryable, "{e}");
    }

    #[test]
    fn full_disk_is_retryable_disk_full() {
        let dir = scratch();
        let input = synth(dir.path(), "in.mp4", spec(160, 120, 30, 1.0));
        // A symlink to /dev/full: every write fails with ENOSPC.
        let output = dir.path().join("full.mp4");
        std::os::unix::fs::symlink("/dev/full", &output).unwrap();
        let e = transform(
            &input,
            &output,
            &baseline_assets(),
            &TransformOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.class(), e.reason()),
            (FailureClass::Retryable, "disk_full"),
            "{e}"
        );
        assert!(Path::new("/dev/full").exists(), "the device is untouched");
    }

    /// Copies only the audio stream of `src` into a new MP4 (an upload with no picture).
    fn remux_audio_only(src: &std::path::Path, dst: &std::path::Path) {
        use ffmpeg_next as ffmpeg;
        let mut ictx = ffmpeg::format::input(src).unwrap();
        let mut octx = ffmpeg::format::output_as(dst, "mp4").unwrap();
        let ist = ictx.streams().best(ffmpeg::media::Type::Audio).unwrap();
        let (index, itb) = (ist.index(), ist.time_base());
        let mut ost = octx
            .add_stream(ffmpeg::encoder::find(ffmpeg::codec::Id::None))
            .unwrap();
        ost.set_parameters(ist.parameters());
        octx.write_header().unwrap();
        let otb = octx.stream(0).unwrap().time_base();
        for (s, mut p) in ictx.packets() {
            if s.index() == index {
                p.rescale_ts(itb, otb);
                p.set_stream(0);
                p.set_position(-1);
                p.write_interleaved(&mut octx).unwrap();
            }
        }
        octx.write_trailer().unwrap();
    }
}

/// A phone-style video, stored landscape with a rotation in its display matrix, comes out
/// upright, fitted and padded: frame for frame what the FFmpeg CLI's reference command
/// (WORKLOAD.md, with the fps fix; the CLI turns its inputs upright first) makes of the upload
/// when it encodes the upload's part alone.
#[test]
fn rotated_phone_videos_come_out_as_the_cli_makes_them() {
    let dir = scratch();
    let assets = baseline_assets();
    let stored = synth(dir.path(), "stored.mp4", spec(320, 180, 30, 1.5));
    let f = "fps=30,scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1";
    // The upload's part of the reference command, encoded alone as the transform encodes it
    // (the intro and outro are encoded once and joined: tests/bumpers.rs).
    let graph = format!(
        "[0:v]trim=0:30,setpts=PTS-STARTPTS,{f}[b];[b][1:v]overlay=main_w-overlay_w-10:10[v]"
    );
    for degrees in ["90", "180", "270"] {
        // The same pictures, with only the container's display matrix changed.
        let rotated = dir.path().join(format!("phone-{degrees}.mp4"));
        let tag = format!("rotate={degrees}");
        cli(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-i",
                stored.to_str().unwrap(),
                "-c",
                "copy",
                "-metadata:s:v:0",
                &tag,
                rotated.to_str().unwrap(),
            ],
        );
        let (probe, _) = cli(
            "ffprobe",
            &["-v", "error", "-show_streams", rotated.to_str().unwrap()],
        );
        assert!(
            probe.contains("Display Matrix"),
            "the test video has no display matrix"
        );
        let reference = dir.path().join(format!("cli-{degrees}.mp4"));
        cli(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-i",
                rotated.to_str().unwrap(),
                "-i",
                assets.watermark.to_str().unwrap(),
                "-filter_complex",
                &graph,
                "-map",
                "[v]",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "25",
                "-pix_fmt",
                "yuv420p",
                "-an",
                "-threads",
                "2",
                reference.to_str().unwrap(),
            ],
        );
        let ours = dir.path().join(format!("ours-{degrees}.mp4"));
        let (input, output, a) = (rotated.clone(), ours.clone(), assets.clone());
        within(120, move || {
            transform(&input, &output, &a, &TransformOptions::default()).unwrap()
        });
        let want = picture_md5s(&reference);
        let all = picture_md5s(&ours);
        assert_eq!(
            want.len() + BOOKENDS as usize,
            all.len(),
            "rotate={degrees}: frame counts differ"
        );
        // The upload's frames follow the 60 of the intro.
        let got = &all[60..60 + want.len()];
        let differing = want.iter().zip(got).filter(|(w, g)| w != g).count();
        assert_eq!(
            differing,
            0,
            "rotate={degrees}: {differing} of {} frames differ from the CLI's",
            want.len()
        );
    }
    // And upright means the picture is turned: a quarter turn puts the 16:9 picture on its
    // side, so it is pillarboxed (bars left and right), not letterboxed as stored.
    let upright = dir.path().join("ours-90.mp4");
    assert_letterboxed(&upright, (1280 / 2 - 203, 1280 / 2 + 203));
}

/// A frame past `max_pixels` is refused before anything is decoded: permanent, with its size
/// in the message, and no output (a tiny upload can declare huge frames; memory grows with
/// them). The default bound lets 8K through.
#[test]
fn frames_past_the_pixel_bound_are_refused_before_decoding() {
    assert_eq!(media::MAX_PIXELS, 8192 * 4320);
    let dir = scratch();
    let input = synth(dir.path(), "wide.mp4", spec(640, 360, 30, 1.0));
    let output = dir.path().join("out.mp4");
    let opts = TransformOptions {
        max_pixels: 320 * 240,
        ..TransformOptions::default()
    };
    let e = transform(&input, &output, &baseline_assets(), &opts).expect_err("too large");
    assert_eq!(
        (e.class(), e.reason()),
        (FailureClass::Permanent, "frame_too_large"),
        "{e}"
    );
    assert!(e.to_string().contains("640x360"), "{e}");
    assert!(!output.exists(), "no output left behind");
    // At the bound itself, it is taken.
    let opts = TransformOptions {
        max_pixels: 640 * 360,
        ..TransformOptions::default()
    };
    transform(&input, &output, &baseline_assets(), &opts).unwrap();
}

/// A stream that grows its frames midway (MPEG-TS allows a new size at any keyframe) is held
/// to the bound by the decoder itself: the larger frames are not decoded.
#[test]
fn a_stream_that_grows_past_the_bound_midway_decodes_none_of_the_larger_frames() {
    let dir = scratch();
    let part = |name: &str, size: &str| {
        let path = dir.path().join(name);
        let source = format!("testsrc2=size={size}:rate=30");
        cli(
            "ffmpeg",
            &[
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                &source,
                "-t",
                "1",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                path.to_str().unwrap(),
            ],
        );
        fs::read(path).unwrap()
    };
    let mut bytes = part("small.ts", "320x240");
    bytes.extend(part("large.ts", "640x360"));
    let input = dir.path().join("grows.ts");
    fs::write(&input, bytes).unwrap();
    let output = dir.path().join("out.mp4");
    let opts = TransformOptions {
        max_pixels: 320 * 240,
        ..TransformOptions::default()
    };
    let (i, o) = (input.clone(), output.clone());
    let result = within(120, move || transform(&i, &o, &baseline_assets(), &opts));
    match result {
        // The small part alone: 30 frames, none of the larger 30.
        Ok(stats) => assert!(stats.frames_in <= 30, "{stats:?}"),
        Err(e) => assert_eq!(e.class(), FailureClass::Permanent, "{e}"),
    }
    // Without the bound, both parts are decoded (the test's input is what it claims).
    let opts = TransformOptions::default();
    let (i, o) = (input.clone(), output.clone());
    let stats = within(120, move || transform(&i, &o, &baseline_assets(), &opts)).unwrap();
    assert!(stats.frames_in > 50, "{stats:?}");
}

/// An upload with more frames a second than `max_fps` over the part kept fails as permanent
/// once past the bound (each frame costs decoding time, and still frames cost a few bytes
/// apiece); one at the bound is taken. The default lets 1000 through.
#[test]
fn more_frames_a_second_than_the_bound_fail_the_job() {
    assert_eq!(media::MAX_FPS, 1000);
    let dir = scratch();
    let fast = synth(dir.path(), "fast.mp4", spec(320, 240, 300, 2.0));
    let output = dir.path().join("out.mp4");
    let opts = |max_fps| TransformOptions {
        max_input: Duration::from_secs(1),
        max_fps,
        ..TransformOptions::default()
    };
    let e = transform(&fast, &output, &baseline_assets(), &opts(100)).expect_err("too fast");
    assert_eq!(
        (e.class(), e.reason()),
        (FailureClass::Permanent, "frame_rate_too_high"),
        "{e}"
    );
    assert!(
        e.to_string().contains("more than 100 frames a second"),
        "{e}"
    );
    assert!(!output.exists(), "no output left behind");
    let stats = transform(&fast, &output, &baseline_assets(), &opts(300)).unwrap();
    assert!(stats.frames_in >= 300, "{stats:?}");
}

/// Frames under the size bound at a rate under the frame bound can still be too many pixels
/// a second: past `max_pixel_rate` over the part kept the job fails as permanent, and at the
/// bound it is taken. The default is 8K at 60 frames a second: 1080p at 1000 passes it.
#[test]
fn more_pixels_a_second_than_the_bound_fail_the_job() {
    assert_eq!(media::MAX_PIXEL_RATE, 8192 * 4320 * 60);
    assert!(1920 * 1080 * u64::from(media::MAX_FPS) < media::MAX_PIXEL_RATE);
    assert!(media::MAX_PIXELS * u64::from(media::MAX_FPS) > 10 * media::MAX_PIXEL_RATE);
    let dir = scratch();
    let input = synth(dir.path(), "large.mp4", spec(640, 480, 60, 2.0));
    let output = dir.path().join("out.mp4");
    let opts = |max_pixel_rate| TransformOptions {
        max_input: Duration::from_secs(1),
        max_pixel_rate,
        ..TransformOptions::default()
    };
    // 640x480 at 60 is 18.4 megapixels a second: three times what this bound lets through.
    let e = transform(&input, &output, &baseline_assets(), &opts(640 * 480 * 20))
        .expect_err("too many pixels a second");
    assert_eq!(
        (e.class(), e.reason()),
        (FailureClass::Permanent, "pixel_rate_too_high"),
        "{e}"
    );
    let text = e.to_string();
    assert!(text.contains("more than 6 megapixels a second"), "{e}");
    assert!(
        text.contains("frames of 640x480 within its first 2 s"),
        "{e}"
    );
    assert!(!output.exists(), "no output left behind");
    let stats = transform(&input, &output, &baseline_assets(), &opts(640 * 480 * 60)).unwrap();
    assert!(stats.frames_in >= 60, "{stats:?}");
}
