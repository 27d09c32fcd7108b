//! The assets the transform adds: the project's own title card and logo (drawn here, encoded
//! with FFmpeg) and WORKLOAD.md's plain baseline ones; generated reproducibly and cached by a
//! hash of their parameters, so no binary media lives in the repository.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ffmpeg::{format, frame, software, Dictionary, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;
use crate::ff::{self, MediaWriter, SourceGraph, VideoEncoderSpec};

/// Where the transform finds its intro, outro and watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    pub intro: PathBuf,
    pub outro: PathBuf,
    /// A picture with alpha (PNG), overlaid top-right.
    pub watermark: PathBuf,
}

/// Bump when the drawing changes, so cached files are rebuilt.
const DESIGN_VERSION: u32 = 1;
const TITLE_W: usize = 1280;
const TITLE_H: usize = 720;
const TITLE_FPS: i32 = 30;
const TITLE_FRAMES: usize = 60;
const LOGO_W: usize = 160;
const LOGO_H: usize = 60;

// The palette of 0x1d3557, the workload's title colour.
const NAVY: Rgba = Rgba(0x1d, 0x35, 0x57, 255);
const STEEL: Rgba = Rgba(0x45, 0x7b, 0x9d, 255);
const SKY: Rgba = Rgba(0xa8, 0xda, 0xdc, 255);
const CREAM: Rgba = Rgba(0xf1, 0xfa, 0xee, 255);
const RED: Rgba = Rgba(0xe6, 0x39, 0x46, 255);

impl Assets {
    pub fn new(
        intro: impl Into<PathBuf>,
        outro: impl Into<PathBuf>,
        watermark: impl Into<PathBuf>,
    ) -> Self {
        Self {
            intro: intro.into(),
            outro: outro.into(),
            watermark: watermark.into(),
        }
    }

    /// The project's own assets in `dir`: a 2 s 1280x720 30 fps title card (`title.mp4`, used
    /// as intro and outro) and a 160x60 logo with alpha (`logo.png`). Reused when present
    /// and built from the same parameters.
    pub fn build(dir: &Path) -> Result<Self, TransformError> {
        ff::init()?;
        fs::create_dir_all(dir).map_err(|e| TransformError::io("creating", dir, e))?;
        let title = dir.join("title.mp4");
        let params = format!(
            "title v{DESIGN_VERSION} {TITLE_W}x{TITLE_H} {TITLE_FPS}fps {TITLE_FRAMES}f libx264 veryfast crf20 yuv420p t1"
        );
        cached(&title, &params, write_title)?;
        let logo = dir.join("logo.png");
        let params = format!("logo v{DESIGN_VERSION} {LOGO_W}x{LOGO_H} rgba png");
        cached(&logo, &params, |p| {
            ff::write_png(p, &draw_logo().to_frame(format::Pixel::RGBA))
        })?;
        Ok(Self::new(title.clone(), title, logo))
    }

    /// WORKLOAD.md's baseline assets, for benchmarks that compare with the published numbers:
    /// `color=c=0x1d3557:s=1280x720:r=30:d=2` (libx264 veryfast) and a `white@0.8` 160x60 RGBA
    /// PNG, made with the same filters as the CLI recipes.
    pub fn baseline(dir: &Path) -> Result<Self, TransformError> {
        ff::init()?;
        fs::create_dir_all(dir).map_err(|e| TransformError::io("creating", dir, e))?;
        let intro = dir.join("baseline-intro.mp4");
        let spec = "color=c=0x1d3557:s=1280x720:r=30:d=2";
        cached(
            &intro,
            &format!("baseline intro {spec} libx264 veryfast t1"),
            |p| write_graph_video(p, spec),
        )?;
        let watermark = dir.join("baseline-watermark.png");
        let spec = "color=c=white@0.8:s=160x60,format=rgba";
        cached(&watermark, &format!("baseline watermark {spec} png"), |p| {
            let mut g = SourceGraph::video(spec, format::Pixel::RGBA)
                .map_err(|e| TransformError::ffmpeg("building the watermark", e))?;
            let mut f = frame::Video::empty();
            if !g
                .pull(&mut f)
                .map_err(|e| TransformError::ffmpeg("building the watermark", e))?
            {
                return Err(TransformError::Internal(
                    "color source gave no frame".into(),
                ));
            }
            ff::write_png(p, &f)
        })?;
        Ok(Self::new(intro.clone(), intro, watermark))
    }
}

/// FNV-1a: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_more(FNV1A_START, bytes)
}

/// FNV-1a's starting state, for hashing in several parts with [`fnv1a_more`].
pub(crate) const FNV1A_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a hash `h` over `bytes`.
pub(crate) fn fnv1a_more(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Builds `path` with `make` unless it exists with a stamp of the same parameters.
fn cached<F>(path: &Path, params: &str, make: F) -> Result<(), TransformError>
where
    F: FnOnce(&Path) -> Result<(), TransformError>,
{
    let stamp_path = PathBuf::from(format!("{}.params", path.display()));
    let stamp = format!("{:016x}\n", fnv1a(params.as_bytes()));
    if path.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(());
    }
    make_into(&temp_beside(path), path, make)?;
    fs::write(&stamp_path, stamp).map_err(|e| TransformError::io("writing", &stamp_path, e))
}

/// A temporary name beside `path`, unique to this process and call:
/// `.<name>.<pid>-<n>.tmp.<ext>`.
pub(crate) fn temp_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}-{}.tmp.{ext}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Makes `path` by writing `tmp` with `make` and renaming it into place, so a concurrent
/// reader never sees half a file (two makers of the same file each rename their own complete
/// copy); `tmp` is removed if anything fails.
pub(crate) fn make_into<F>(tmp: &Path, path: &Path, make: F) -> Result<(), TransformError>
where
    F: FnOnce(&Path) -> Result<(), TransformError>,
{
    let made = make(tmp)
        .and_then(|()| fs::rename(tmp, path).map_err(|e| TransformError::io("renaming", tmp, e)));
    if made.is_err() {
        let _ = fs::remove_file(tmp);
    }
    made
}

/// Encodes every frame of a source-only filter graph to H.264 like the CLI recipes do.
fn write_graph_video(path: &Path, spec: &str) -> Result<(), TransformError> {
    let err = |e| TransformError::ffmpeg("building the baseline intro", e);
    let mut g = SourceGraph::video(spec, format::Pixel::YUV420P).map_err(err)?;
    let tb = g.time_base();
    let mut f = frame::Video::empty();
    if !g.pull(&mut f).map_err(err)? {
        return Err(TransformError::Internal(
            "color source gave no frame".into(),
        ));
    }
    let mut out = MediaWriter::create(
        path,
        Some("mp4"),
        &VideoEncoderSpec {
            codec: "libx264",
            width: f.width(),
            height: f.height(),
            pixel: format::Pixel::YUV420P,
            time_base: tb,
            frame_rate: Some(Rational(tb.denominator(), tb.numerator())),
            threads: Some(1),
            options: vec![("preset", "veryfast".into())],
            global_header: true,
        },
        None,
        Dictionary::new(),
    )
    .map_err(err)?;
    loop {
        out.video(&f).map_err(err)?;
        if !g.pull(&mut f).map_err(err)? {
            break;
        }
    }
    out.finish().map_err(err)
}

fn write_title(path: &Path) -> Result<(), TransformError> {
    let err = |e| TransformError::ffmpeg("building the title card", e);
    let mut out = MediaWriter::create(
        path,
        Some("mp4"),
        &VideoEncoderSpec {
            codec: "libx264",
            width: TITLE_W as u32,
            height: TITLE_H as u32,
            pixel: format::Pixel::YUV420P,
            time_base: Rational(1, TITLE_FPS),
            frame_rate: Some(Rational(TITLE_FPS, 1)),
            threads: Some(1),
            options: vec![("preset", "veryfast".into()), ("crf", "20".into())],
            global_header: true,
        },
        None,
        Dictionary::new(),
    )
    .map_err(err)?;
    let mut to_yuv = software::scaling::Context::get(
        format::Pixel::RGB24,
        TITLE_W as u32,
        TITLE_H as u32,
        format::Pixel::YUV420P,
        TITLE_W as u32,
        TITLE_H as u32,
        software::scaling::Flags::BICUBIC,
    )
    .map_err(err)?;
    let base = title_base();
    for i in 0..TITLE_FRAMES {
        let rgb = draw_title(&base, i).to_frame(format::Pixel::RGB24);
        let mut yuv = frame::Video::empty();
        to_yuv.run(&rgb, &mut yuv).map_err(err)?;
        yuv.set_pts(Some(i as i64));
        out.video(&yuv).map_err(err)?;
    }
    out.finish().map_err(err)
}

/// The still part of the title card: a runway band with rails and an arrow emblem.
fn title_base() -> Canvas {
    let mut c = Canvas::new(TITLE_W, TITLE_H, NAVY);
    c.rect(0, 404, TITLE_W, 408, SKY);
    c.rect(0, 552, TITLE_W, 556, SKY);
    c.rect(0, 420, TITLE_W, 540, STEEL);
    c.triangle((560.0, 170.0), (560.0, 350.0), (760.0, 260.0), CREAM);
    c.triangle((560.0, 230.0), (560.0, 290.0), (620.0, 260.0), RED);
    c
}

/// Frame `i` of the title card: the runway's centre line scrolls, speed lines grow behind the
/// emblem, and a red progress bar fills over the two seconds.
fn draw_title(base: &Canvas, i: usize) -> Canvas {
    let mut c = base.clone();
    let period = 140;
    let shift = (i * 10) % period;
    for k in 0..=TITLE_W / period + 1 {
        let x = (k * period) as i64 - shift as i64;
        c.rect_i(x, 474, x + 80, 486, CREAM);
    }
    let grow = (i + 1) as f32 / TITLE_FRAMES as f32;
    for (y, len) in [(200, 100.0), (254, 70.0), (308, 100.0)] {
        let l = (len * grow) as usize;
        c.rect(540 - l, y, 540, y + 12, SKY);
    }
    c.rect(0, 700, TITLE_W * (i + 1) / TITLE_FRAMES, 708, RED);
    c
}

/// The logo: a translucent navy plate with the arrow emblem and three bars.
fn draw_logo() -> Canvas {
    let mut c = Canvas::new(LOGO_W, LOGO_H, Rgba(0, 0, 0, 0));
    c.rounded_rect(
        0.0,
        0.0,
        LOGO_W as f32,
        LOGO_H as f32,
        14.0,
        Rgba(NAVY.0, NAVY.1, NAVY.2, 170),
    );
    c.triangle((14.0, 12.0), (14.0, 48.0), (48.0, 30.0), CREAM);
    c.triangle((14.0, 22.0), (14.0, 38.0), (28.0, 30.0), RED);
    c.rect(60, 15, 146, 21, CREAM);
    c.rect(60, 27, 128, 33, SKY);
    c.rect(60, 39, 138, 45, RED);
    c
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgba(u8, u8, u8, u8);

/// A tiny RGBA raster with anti-aliased shapes (4x4 supersampling), enough for flat designs.
#[derive(Clone)]
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgba>,
}

impl Canvas {
    fn new(w: usize, h: usize, bg: Rgba) -> Self {
        Self {
            w,
            h,
            px: vec![bg; w * h],
        }
    }

    /// Composites `c` over the pixel with coverage `cov` (Porter-Duff "over").
    fn blend(&mut self, x: usize, y: usize, c: Rgba, cov: f32) {
        let Some(d) = self.px.get_mut(y * self.w + x) else {
            return;
        };
        let a = f32::from(c.3) / 255.0 * cov;
        let da = f32::from(d.3) / 255.0;
        let oa = a + da * (1.0 - a);
        if oa <= 0.0 {
            return;
        }
        let mix =
            |s: u8, t: u8| ((f32::from(s) * a + f32::from(t) * da * (1.0 - a)) / oa).round() as u8;
        *d = Rgba(
            mix(c.0, d.0),
            mix(c.1, d.1),
            mix(c.2, d.2),
            (oa * 255.0).round() as u8,
        );
    }

    fn rect(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: Rgba) {
        self.rect_i(x0 as i64, y0 as i64, x1 as i64, y1 as i64, c);
    }

    fn rect_i(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgba) {
        let (w, h) = (self.w as i64, self.h as i64);
        let (x0, x1) = (x0.clamp(0, w) as usize, x1.clamp(0, w) as usize);
        let (y0, y1) = (y0.clamp(0, h) as usize, y1.clamp(0, h) as usize);
        for y in y0..y1 {
            if c.3 == 255 {
                // Opaque: plain fill (also keeps debug-build tests fast).
                self.px[y * self.w + x0..y * self.w + x1].fill(c);
            } else {
                for x in x0..x1 {
                    self.blend(x, y, c, 1.0);
                }
            }
        }
    }

    /// Fills the pixels of the bounding box by the share of 16 sub-samples `inside` accepts.
    fn shape(&mut self, bbox: (f32, f32, f32, f32), c: Rgba, inside: impl Fn(f32, f32) -> bool) {
        let x0 = bbox.0.floor().max(0.0) as usize;
        let y0 = bbox.1.floor().max(0.0) as usize;
        let x1 = (bbox.2.ceil() as usize).min(self.w);
        let y1 = (bbox.3.ceil() as usize).min(self.h);
        for y in y0..y1 {
            for x in x0..x1 {
                let mut hits = 0u32;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let px = x as f32 + (sx as f32 + 0.5) / 4.0;
                        let py = y as f32 + (sy as f32 + 0.5) / 4.0;
                        hits += u32::from(inside(px, py));
                    }
                }
                if hits > 0 {
                    self.blend(x, y, c, hits as f32 / 16.0);
                }
            }
        }
    }

    fn triangle(&mut self, a: (f32, f32), b: (f32, f32), p: (f32, f32), c: Rgba) {
        let edge = |u: (f32, f32), v: (f32, f32), x: f32, y: f32| {
            (v.0 - u.0) * (y - u.1) - (v.1 - u.1) * (x - u.0)
        };
        let bbox = (
            a.0.min(b.0).min(p.0),
            a.1.min(b.1).min(p.1),
            a.0.max(b.0).max(p.0),
            a.1.max(b.1).max(p.1),
        );
        self.shape(bbox, c, |x, y| {
            let (e0, e1, e2) = (edge(a, b, x, y), edge(b, p, x, y), edge(p, a, x, y));
            (e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0) || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0)
        });
    }

    fn rounded_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, r: f32, c: Rgba) {
        self.shape((x0, y0, x1, y1), c, |x, y| {
            let cx = x.clamp(x0 + r, x1 - r);
            let cy = y.clamp(y0 + r, y1 - r);
            (x - cx).powi(2) + (y - cy).powi(2) <= r * r
        });
    }

    /// Copies the raster into a new frame (RGB24 drops alpha; RGBA keeps it).
    fn to_frame(&self, pixel: format::Pixel) -> frame::Video {
        let mut f = frame::Video::new(pixel, self.w as u32, self.h as u32);
        let bpp = if pixel == format::Pixel::RGBA { 4 } else { 3 };
        let stride = f.stride(0);
        let rows = f.data_mut(0).chunks_mut(stride);
        for (row, src) in rows.zip(self.px.chunks(self.w)) {
            for (dst, p) in row.chunks_exact_mut(bpp).zip(src) {
                dst.copy_from_slice(&[p.0, p.1, p.2, p.3][..bpp]);
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_has_transparent_corners_and_opaque_emblem() {
        let c = draw_logo();
        assert_eq!(c.px[0].3, 0, "corner outside the rounded plate");
        let plate = c.px[30 * LOGO_W + 150];
        assert_eq!(plate.3, 170, "translucent plate");
        let emblem = c.px[30 * LOGO_W + 20];
        assert_eq!(emblem, RED);
        let bar = c.px[18 * LOGO_W + 100];
        assert_eq!(bar, CREAM);
    }

    #[test]
    fn title_animates_and_keeps_the_background() {
        let base = title_base();
        let a = draw_title(&base, 0);
        let b = draw_title(&base, 59);
        assert_eq!(a.px[10 * TITLE_W + 10], NAVY);
        assert_ne!(a.px, b.px, "frames differ over time");
        // The progress bar is full on the last frame only.
        assert_eq!(b.px[704 * TITLE_W + 1270], RED);
        assert_eq!(a.px[704 * TITLE_W + 1270], NAVY);
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
