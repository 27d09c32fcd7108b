//! The output end: libx264 with the workload's settings, muxed into an MP4 file (encode thread),
//! with already encoded segments (the intro and outro, `bumper.rs`) copied in before and after.

use std::path::Path;

use ffmpeg::{format, frame, media, picture, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;
use crate::ff::{self, MediaWriter, VideoEncoderSpec};

pub(crate) struct EncodeSettings<'a> {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub preset: &'a str,
    pub crf: u8,
    pub threads: usize,
    pub faststart: bool,
}

impl EncodeSettings<'_> {
    /// libx264 with these settings: the CLI's `-c:v libx264 -preset P -crf N -pix_fmt yuv420p
    /// -threads T` at `fps`. `global_header`: SPS/PPS in the stream's extradata, as MP4 wants.
    pub fn encoder(
        &self,
        global_header: bool,
    ) -> Result<VideoEncoderSpec<'static>, TransformError> {
        let fps = i32::try_from(self.fps)
            .map_err(|_| TransformError::Internal("fps out of range".into()))?;
        Ok(VideoEncoderSpec {
            codec: "libx264",
            width: self.width,
            height: self.height,
            pixel: format::Pixel::YUV420P,
            time_base: Rational(1, fps),
            frame_rate: Some(Rational(fps, 1)),
            threads: Some(self.threads),
            options: vec![
                ("preset", self.preset.to_owned()),
                ("crf", self.crf.to_string()),
            ],
            global_header,
        })
    }
}

pub(crate) struct Mp4Writer {
    out: MediaWriter,
    /// Frames this writer's encoder has been given.
    next_pts: i64,
    /// Frames copied in from encoded segments.
    copied: i64,
    encoder: EncoderState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EncoderState {
    Unused,
    Running,
    Ended,
}

fn mux_err(e: ffmpeg::Error) -> TransformError {
    TransformError::ffmpeg("writing the output", e)
}

impl Mp4Writer {
    pub fn create(path: &Path, s: &EncodeSettings<'_>) -> Result<Self, TransformError> {
        let mut header = Dictionary::new();
        if s.faststart {
            // moov before mdat, so a player can start before the whole file arrives.
            header.set("movflags", "+faststart");
        }
        let out = MediaWriter::create(path, Some("mp4"), &s.encoder(true)?, None, header)
            .map_err(|e| TransformError::ffmpeg("creating the output", e))?;
        Ok(Self {
            out,
            next_pts: 0,
            copied: 0,
            encoder: EncoderState::Unused,
        })
    }

    /// Frames in the output so far, encoded and copied.
    pub fn frames(&self) -> i64 {
        self.next_pts + self.copied
    }

    /// Copies every video packet of `segment` (an MP4 that `bumper.rs` encoded with this
    /// writer's settings, so the same SPS/PPS; it starts with an IDR frame) to the end of the
    /// output, after the frames already there: one continuous timeline. Only before the first
    /// `write` or after `end_encoding`. Returns the frames copied.
    pub fn append(&mut self, segment: &Path) -> Result<u64, TransformError> {
        if self.encoder == EncoderState::Running {
            return Err(TransformError::Internal(
                "a segment was appended while the encoder was running".into(),
            ));
        }
        let seg_err = |e| TransformError::ffmpeg("copying an encoded intro or outro", e);
        let mut input = format::input(&segment).map_err(seg_err)?;
        let (index, tb) = {
            let stream = input
                .streams()
                .best(media::Type::Video)
                .ok_or_else(|| seg_err(ffmpeg::Error::StreamNotFound))?;
            (stream.index(), stream.time_base())
        };
        let offset = self.frames();
        let mut packet = Packet::empty();
        let mut n = 0i64;
        loop {
            match ff::read_packet(&mut input, &mut packet) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => break,
                Err(e) => return Err(seg_err(e)),
            }
            if packet.stream() != index {
                continue;
            }
            // MP4 stores each NAL unit after its length; libx264 (whose packets the muxer
            // expects) writes a start code before each.
            let data = annex_b(packet.data().unwrap_or_default()).ok_or_else(|| {
                TransformError::Internal(format!(
                    "{} is damaged (a NAL unit overruns its packet); delete it",
                    segment.display()
                ))
            })?;
            let mut copy = Packet::copy(&data);
            copy.set_pts(packet.pts());
            copy.set_dts(packet.dts());
            copy.set_duration(packet.duration());
            copy.set_flags(packet.flags());
            self.out
                .copy_video(&mut copy, tb, offset)
                .map_err(mux_err)?;
            n += 1;
        }
        self.copied += n;
        if self.encoder == EncoderState::Unused {
            // The encoder's frames go after what is here now.
            self.out.set_video_offset(self.frames());
        }
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Flushes the encoder: every frame written so far is in the output. No `write` may follow.
    pub fn end_encoding(&mut self) -> Result<(), TransformError> {
        if self.encoder == EncoderState::Running {
            self.out.end_video().map_err(mux_err)?;
        }
        self.encoder = EncoderState::Ended;
        Ok(())
    }

    /// Encodes `frame` for `count` consecutive output ticks (count > 1 duplicates it, as
    /// `fps` would; libx264 copies each input picture, so re-sending the same one is safe).
    pub fn write(&mut self, frame: &mut frame::Video, count: u32) -> Result<(), TransformError> {
        match self.encoder {
            EncoderState::Unused => self.encoder = EncoderState::Running,
            EncoderState::Running => {}
            EncoderState::Ended => {
                return Err(TransformError::Internal(
                    "a frame was written after the encoder ended".into(),
                ))
            }
        }
        // Input picture types would force keyframes; let x264 decide, as the CLI does.
        frame.set_kind(picture::Type::None);
        for _ in 0..count {
            frame.set_pts(Some(self.next_pts));
            self.next_pts += 1;
            self.out.video(frame).map_err(mux_err)?;
        }
        Ok(())
    }

    /// Flushes the encoder and finalises the file; returns the number of frames in it.
    pub fn finish(self) -> Result<u64, TransformError> {
        let frames = u64::try_from(self.frames())
            .map_err(|_| TransformError::Internal("negative pts".into()))?;
        self.out.finish().map_err(mux_err)?;
        Ok(frames)
    }
}

/// An MP4 sample's NAL units (each after a 4-byte big-endian length, as FFmpeg's MP4 muxer
/// writes libx264's output) with a 4-byte start code before each instead: the same size.
/// `None` if a length runs past the end.
fn annex_b(sample: &[u8]) -> Option<Vec<u8>> {
    let mut out = sample.to_vec();
    let mut at = 0usize;
    while at < out.len() {
        let len = u32::from_be_bytes(out.get(at..at + 4)?.try_into().ok()?) as usize;
        out.get_mut(at..at + 4)?.copy_from_slice(&[0, 0, 0, 1]);
        at = at.checked_add(4 + len)?;
        if at > out.len() {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::annex_b;

    #[test]
    fn length_prefixed_nal_units_get_start_codes() {
        let sample = [0, 0, 0, 2, 0x67, 0xaa, 0, 0, 0, 1, 0x65];
        assert_eq!(
            annex_b(&sample),
            Some(vec![0, 0, 0, 1, 0x67, 0xaa, 0, 0, 0, 1, 0x65])
        );
        assert_eq!(annex_b(&[]), Some(vec![]));
        assert_eq!(annex_b(&[0, 0, 0, 9, 0x65]), None, "overruns");
        assert_eq!(annex_b(&[0, 0, 1]), None, "a cut length");
    }
}
