//! Test helpers: shared assets, synthetic inputs, decoding output frames to sample pixels,
//! and a timeout so a hanging transform fails instead of blocking the suite.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use media::{synth_video, Assets, SynthSpec};

pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("transform-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// WORKLOAD.md's baseline assets, built once and shared by all tests (the cache is safe
/// under concurrent builders).
pub fn baseline_assets() -> Assets {
    Assets::baseline(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("assets")).unwrap()
}

pub fn synth(dir: &Path, name: &str, spec: SynthSpec) -> PathBuf {
    let path = dir.join(name);
    synth_video(&path, &spec).unwrap();
    path
}

/// Runs `f` on its own thread and fails the test if it takes longer than `secs`.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("did not finish within {secs} s (hang?)"))
}

/// One decoded picture in YUV 4:2:0.
pub struct Picture {
    pub width: usize,
    pub height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Picture {
    pub fn y(&self, x: usize, y: usize) -> u8 {
        self.y[y * self.width + x]
    }

    /// (Y, U, V) at a pixel (chroma from its 2x2 block).
    pub fn yuv(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let cw = self.width.div_ceil(2);
        (
            self.y(x, y),
            self.u[(y / 2) * cw + x / 2],
            self.v[(y / 2) * cw + x / 2],
        )
    }

    /// Mean and max luma over `x0..x1` x `y0..y1`.
    pub fn luma_stats(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> (f64, u8) {
        let (mut sum, mut max, mut n) = (0u64, 0u8, 0u64);
        for y in y0..y1 {
            for x in x0..x1 {
                let v = self.y(x, y);
                sum += u64::from(v);
                max = max.max(v);
                n += 1;
            }
        }
        (sum as f64 / n as f64, max)
    }
}

/// Decodes `path`'s video and returns the pictures at the given frame indices (ascending).
pub fn pictures(path: &Path, wanted: &[usize]) -> Vec<Picture> {
    ffmpeg::init().unwrap();
    let mut ictx = ffmpeg::format::input(path).unwrap();
    let stream = ictx.streams().best(ffmpeg::media::Type::Video).unwrap();
    let index = stream.index();
    let mut dec = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut out = Vec::new();
    let mut n = 0usize;
    let mut frame = ffmpeg::frame::Video::empty();
    let take = |frame: &ffmpeg::frame::Video, n: &mut usize, out: &mut Vec<Picture>| {
        if wanted.contains(n) {
            assert_eq!(frame.format(), ffmpeg::format::Pixel::YUV420P);
            let (w, h) = (frame.width() as usize, frame.height() as usize);
            let plane = |i: usize, pw: usize, ph: usize| {
                let stride = frame.stride(i);
                let data = frame.data(i);
                (0..ph)
                    .flat_map(|r| data[r * stride..r * stride + pw].to_vec())
                    .collect::<Vec<u8>>()
            };
            out.push(Picture {
                width: w,
                height: h,
                y: plane(0, w, h),
                u: plane(1, w.div_ceil(2), h.div_ceil(2)),
                v: plane(2, w.div_ceil(2), h.div_ceil(2)),
            });
        }
        *n += 1;
    };
    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        dec.send_packet(&packet).unwrap();
        while dec.receive_frame(&mut frame).is_ok() {
            take(&frame, &mut n, &mut out);
        }
        if out.len() == wanted.len() {
            return out;
        }
    }
    dec.send_eof().unwrap();
    while dec.receive_frame(&mut frame).is_ok() {
        take(&frame, &mut n, &mut out);
    }
    assert_eq!(out.len(), wanted.len(), "output has only {n} frames");
    out
}

/// Runs a command-line tool (the FFmpeg CLI), which must succeed; its stdout and stderr.
pub fn cli(program: &str, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program} (./dev setup installs it): {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{program} {args:?}: {stderr}");
    (stdout, stderr)
}

/// Per-frame checksums of a file's decoded pictures (`ffmpeg -f framemd5`'s last field).
pub fn picture_md5s(path: &Path) -> Vec<String> {
    let (out, _) = cli(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-map",
            "0:v",
            "-f",
            "framemd5",
            "-",
        ],
    );
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().unwrap_or_default().trim().to_owned())
        .collect()
}
