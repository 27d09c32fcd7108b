//! The output end: libx264 with the workload's settings, muxed into an MP4 file (encode thread).

use std::path::Path;

use ffmpeg::{format, frame, picture, Dictionary, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;
use crate::ff::{MediaWriter, VideoEncoderSpec};

pub(crate) struct EncodeSettings<'a> {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub preset: &'a str,
    pub crf: u8,
    pub threads: usize,
    pub faststart: bool,
}

pub(crate) struct Mp4Writer {
    out: MediaWriter,
    next_pts: i64,
}

fn mux_err(e: ffmpeg::Error) -> TransformError {
    TransformError::ffmpeg("writing the output", e)
}

impl Mp4Writer {
    pub fn create(path: &Path, s: &EncodeSettings<'_>) -> Result<Self, TransformError> {
        let fps = i32::try_from(s.fps)
            .map_err(|_| TransformError::Internal("fps out of range".into()))?;
        let mut header = Dictionary::new();
        if s.faststart {
            // moov before mdat, so a player can start before the whole file arrives.
            header.set("movflags", "+faststart");
        }
        let out = MediaWriter::create(
            path,
            Some("mp4"),
            &VideoEncoderSpec {
                codec: "libx264",
                width: s.width,
                height: s.height,
                pixel: format::Pixel::YUV420P,
                time_base: Rational(1, fps),
                frame_rate: Some(Rational(fps, 1)),
                threads: Some(s.threads),
                options: vec![("preset", s.preset.to_owned()), ("crf", s.crf.to_string())],
                global_header: true,
            },
            None,
            header,
        )
        .map_err(|e| TransformError::ffmpeg("creating the output", e))?;
        Ok(Self { out, next_pts: 0 })
    }

    /// Encodes `frame` for `count` consecutive output ticks (count > 1 duplicates it, as
    /// `fps` would; libx264 copies each input picture, so re-sending the same one is safe).
    pub fn write(&mut self, frame: &mut frame::Video, count: u32) -> Result<(), TransformError> {
        // Input picture types would force keyframes; let x264 decide, as the CLI does.
        frame.set_kind(picture::Type::None);
        for _ in 0..count {
            frame.set_pts(Some(self.next_pts));
            self.next_pts += 1;
            self.out.video(frame).map_err(mux_err)?;
        }
        Ok(())
    }

    /// Flushes the encoder and finalises the file; returns the number of frames encoded.
    pub fn finish(self) -> Result<u64, TransformError> {
        let frames = u64::try_from(self.next_pts)
            .map_err(|_| TransformError::Internal("negative pts".into()))?;
        self.out.finish().map_err(mux_err)?;
        Ok(frames)
    }
}
