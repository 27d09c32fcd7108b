//! Synthetic test videos (moving `testsrc2` pattern, optional noise and sine audio) made in
//! process, for the tests here and the load tool; the container follows the file extension.

use std::path::Path;

use ffmpeg::{format, frame, Dictionary, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;
use crate::ff::{self, AudioEncoderSpec, MediaWriter, SourceGraph, VideoEncoderSpec};

/// What to generate. `Default` is a small, fast clip: 320x240, 30 fps, 2 s, no noise, no audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    pub width: u32,
    pub height: u32,
    /// Frame rate `fps / fps_den` (e.g. 30000/1001).
    pub fps: u32,
    pub fps_den: u32,
    pub duration_s: f64,
    /// Temporal noise strength (`noise=alls=N:allf=t`); 0 for none. Noise makes the clip
    /// expensive to encode, like camera footage.
    pub noise: u32,
    /// Add a mono 440 Hz AAC track (128 kb/s).
    pub audio: bool,
    /// Target bit rate in bits/s; `None` uses CRF 23.
    pub bitrate: Option<u64>,
    pub maxrate: Option<u64>,
    pub bufsize: Option<u64>,
    /// libx264 preset.
    pub preset: String,
    /// MP4/MOV only: put the index first.
    pub faststart: bool,
}

impl Default for SynthSpec {
    fn default() -> Self {
        Self {
            width: 320,
            height: 240,
            fps: 30,
            fps_den: 1,
            duration_s: 2.0,
            noise: 0,
            audio: false,
            bitrate: None,
            maxrate: None,
            bufsize: None,
            preset: "ultrafast".into(),
            faststart: false,
        }
    }
}

impl SynthSpec {
    /// WORKLOAD.md's "4 MB" input: 720p30, 20 s, noise 12, 1550 kb/s (maxrate 2M, bufsize 3M).
    pub fn workload_4mb() -> Self {
        Self {
            width: 1280,
            height: 720,
            duration_s: 20.0,
            noise: 12,
            bitrate: Some(1_550_000),
            maxrate: Some(2_000_000),
            bufsize: Some(3_000_000),
            preset: "veryfast".into(),
            ..Self::default()
        }
    }

    /// WORKLOAD.md's "50 MB" input: 1080p30, 60 s, noise 12, 6500 kb/s, with AAC audio.
    pub fn workload_50mb() -> Self {
        Self {
            width: 1920,
            height: 1080,
            duration_s: 60.0,
            noise: 12,
            audio: true,
            bitrate: Some(6_500_000),
            maxrate: Some(8_000_000),
            bufsize: Some(12_000_000),
            preset: "veryfast".into(),
            ..Self::default()
        }
    }
}

/// Writes a synthetic video to `path` (MP4, MOV, MKV or AVI by extension).
pub fn synth_video(path: &Path, spec: &SynthSpec) -> Result<(), TransformError> {
    ff::init()?;
    let err = |e| TransformError::ffmpeg("generating a synthetic video", e);
    if spec.width == 0
        || spec.height == 0
        || spec.fps == 0
        || spec.fps_den == 0
        || spec.duration_s <= 0.0
    {
        return Err(TransformError::Internal(format!(
            "invalid synth spec: {spec:?}"
        )));
    }
    let (fps_num, fps_den) = (
        i32::try_from(spec.fps).map_err(|_| err(ffmpeg::Error::InvalidData))?,
        i32::try_from(spec.fps_den).map_err(|_| err(ffmpeg::Error::InvalidData))?,
    );
    let mut video_spec = format!(
        "testsrc2=size={}x{}:rate={}/{}:duration={}",
        spec.width, spec.height, spec.fps, spec.fps_den, spec.duration_s
    );
    if spec.noise > 0 {
        video_spec.push_str(&format!(",noise=alls={}:allf=t", spec.noise));
    }
    let mut video = SourceGraph::video(&video_spec, format::Pixel::YUV420P).map_err(err)?;
    let mut options = vec![("preset", spec.preset.clone())];
    for (key, value) in [
        ("b", spec.bitrate),
        ("maxrate", spec.maxrate),
        ("bufsize", spec.bufsize),
    ] {
        if let Some(v) = value {
            options.push((key, v.to_string()));
        }
    }
    let mut header = Dictionary::new();
    if spec.faststart {
        header.set("movflags", "+faststart");
    }
    let audio_rate = 44_100;
    let mut out = MediaWriter::create(
        path,
        None,
        &VideoEncoderSpec {
            codec: "libx264",
            width: spec.width,
            height: spec.height,
            pixel: format::Pixel::YUV420P,
            time_base: video.time_base(),
            frame_rate: Some(Rational(fps_num, fps_den)),
            threads: None,
            options,
            global_header: true,
        },
        spec.audio.then_some(&AudioEncoderSpec {
            rate: audio_rate,
            bit_rate: 128_000,
        }),
        header,
    )
    .map_err(err)?;
    let mut audio = if spec.audio {
        let a = format!(
            "sine=frequency=440:sample_rate={audio_rate}:duration={},aformat=sample_fmts=fltp:channel_layouts=mono",
            spec.duration_s
        );
        Some(
            SourceGraph::audio(
                &a,
                format::Sample::F32(format::sample::Type::Planar),
                audio_rate,
                ffmpeg::ChannelLayout::MONO,
                out.audio_frame_size(),
            )
            .map_err(err)?,
        )
    } else {
        None
    };

    // Pull from whichever stream is behind, so the muxer never buffers much.
    let vtb = video.time_base();
    let (mut v_done, mut a_done) = (false, audio.is_none());
    let (mut v_time, mut a_time) = (0.0f64, 0.0f64);
    let mut vf = frame::Video::empty();
    let mut af = frame::Audio::empty();
    while !(v_done && a_done) {
        if !v_done && (a_done || v_time <= a_time) {
            if video.pull(&mut vf).map_err(err)? {
                v_time = vf.pts().unwrap_or(0) as f64 * f64::from(vtb);
                out.video(&vf).map_err(err)?;
            } else {
                v_done = true;
            }
        } else if let Some(a) = audio.as_mut() {
            if a.pull(&mut af).map_err(err)? {
                a_time = af.pts().unwrap_or(0) as f64 / f64::from(audio_rate);
                out.audio(&af).map_err(err)?;
            } else {
                a_done = true;
            }
        }
    }
    out.finish().map_err(err)
}
