//! What a media file holds (ffprobe's answers the tests and the worker need), by demuxing only.

use std::path::Path;
use std::time::Duration;

use ffmpeg::{codec, format, media, Packet};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;
use crate::ff;

#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// The demuxer's name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// As the container declares it.
    pub duration: Option<Duration>,
    pub streams: usize,
    pub audio_streams: usize,
    pub video_streams: usize,
    /// The first video stream.
    pub video: Option<VideoInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub pixel_format: String,
    /// Sample aspect ratio as (num, den); (0, 1) when unset.
    pub sample_aspect: (i32, i32),
    /// Average frame rate as (num, den).
    pub frame_rate: (i32, i32),
    /// Packets counted while demuxing (one per frame for H.264 in MP4).
    pub frames: u64,
    /// From the first packet's start to the last packet's end.
    pub duration: Duration,
}

/// Reads `path`'s container and counts its video packets (no decoding).
pub fn probe(path: &Path) -> Result<MediaInfo, TransformError> {
    ff::init()?;
    let mut ictx = format::input(path).map_err(|e| TransformError::from_input("probing", e))?;
    let container = ictx.format().name().to_owned();
    let duration = u64::try_from(ictx.duration())
        .ok()
        .map(Duration::from_micros);
    let count = |t: media::Type| {
        ictx.streams()
            .filter(|s| s.parameters().medium() == t)
            .count()
    };
    let (streams, audio_streams, video_streams) = (
        ictx.streams().count(),
        count(media::Type::Audio),
        count(media::Type::Video),
    );
    let stream = ictx
        .streams()
        .find(|s| s.parameters().medium() == media::Type::Video)
        .map(|s| (s.index(), s.time_base(), s.avg_frame_rate(), s.parameters()));
    let video = match stream {
        None => None,
        Some((index, tb, rate, params)) => {
            let codec = params.id().name().to_owned();
            let dec = codec::context::Context::from_parameters(params)
                .and_then(|c| c.decoder().video())
                .map_err(|e| TransformError::from_input("probing the decoder", e))?;
            let (mut frames, mut first, mut end) = (0u64, i64::MAX, i64::MIN);
            let mut packet = Packet::empty();
            loop {
                match ff::read_packet(&mut ictx, &mut packet) {
                    Ok(()) => {}
                    Err(ffmpeg::Error::Eof) => break,
                    Err(e) => return Err(TransformError::from_input("probing", e)),
                }
                if packet.stream() != index {
                    continue;
                }
                frames += 1;
                if let Some(pts) = packet.pts() {
                    first = first.min(pts);
                    end = end.max(pts + packet.duration());
                }
            }
            let secs = if end > first {
                (end - first) as f64 * f64::from(tb)
            } else {
                0.0
            };
            let sar = dec.aspect_ratio();
            Some(VideoInfo {
                codec,
                width: dec.width(),
                height: dec.height(),
                pixel_format: dec
                    .format()
                    .descriptor()
                    .map(|d| d.name().to_owned())
                    .unwrap_or_default(),
                sample_aspect: (sar.numerator(), sar.denominator()),
                frame_rate: (rate.numerator(), rate.denominator()),
                frames,
                duration: Duration::from_secs_f64(secs),
            })
        }
    };
    Ok(MediaInfo {
        container,
        duration,
        streams,
        audio_streams,
        video_streams,
        video,
    })
}
