//! Opening a video input (the upload or an asset), saying precisely what is wrong with a bad
//! one, and decoding its frames with the cut and frame-rate decisions applied (decode thread).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg::{codec, decoder, format, frame, media, Packet};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;
use crate::ff;
use crate::fps::{Emit, FrameRateNormaliser, Push, Ratio};

/// Whose file this is decides whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Upload,
    Asset,
}

/// Demuxers whose files are videos; anything else FFmpeg can open (images, audio, ANSI text
/// via the `tty` demuxer) is "not a video" even if it yields a picture.
const VIDEO_DEMUXERS: &[&str] = &[
    "mov",
    "mp4",
    "avi",
    "matroska",
    "webm",
    "mpegts",
    "mpeg",
    "flv",
    "asf",
    "ogg",
    "h264",
    "hevc",
    "m4v",
    "mpegvideo",
    "3gp",
    "mxf",
    "nut",
    "ivf",
];

/// Demuxers whose declared stream duration comes from an index, so a shortfall means truncation.
const INDEXED_DEMUXERS: &[&str] = &["mov", "mp4", "matroska", "webm", "avi"];

/// Give up after this many unreadable packets in a row: the demuxer is not resyncing.
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 1000;

pub(crate) struct VideoInput {
    path: PathBuf,
    role: Role,
    ictx: format::context::Input,
    stream_index: usize,
    time_base: Ratio,
    nominal_rate: Option<Ratio>,
    /// The video stream's duration from the container's index, in `time_base` units.
    indexed_duration: Option<i64>,
    decoder: decoder::Video,
    /// As the container declares it.
    pub duration: Option<Duration>,
    /// The video stream's display matrix (or its `rotate` tag's): how to turn it upright.
    pub orientation: Option<[i32; 9]>,
    /// What `decode` may take: past it, `FrameRateTooHigh` or `PixelRateTooHigh`. `None`: no
    /// bound (the assets).
    pub budget: Option<DecodeBudget>,
}

/// The most an upload's kept part may cost to decode: frames, and pixels over all of them,
/// each from a rate a second over the part kept (with a second of slack: decoding reads a
/// frame or two past the cut).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeBudget {
    seconds: f64,
    fps: u32,
    frames: u64,
    pixel_rate: u64,
    pixels: u64,
}

impl DecodeBudget {
    pub fn new(kept: Duration, fps: u32, pixel_rate: u64) -> Self {
        let seconds = kept.as_secs_f64() + 1.0;
        Self {
            seconds,
            fps,
            frames: (seconds * f64::from(fps)).ceil() as u64,
            pixel_rate,
            pixels: (seconds * pixel_rate as f64).ceil() as u64,
        }
    }

    /// The error once what `report` counts has passed either bound; `width` x `height` is
    /// the frame just counted, for the message.
    fn exceeded(&self, report: &SegmentReport, width: u32, height: u32) -> Option<TransformError> {
        if report.frames_decoded > self.frames {
            return Some(TransformError::FrameRateTooHigh {
                frames: self.frames,
                fps: self.fps,
            });
        }
        (report.pixels_decoded > self.pixels).then_some(TransformError::PixelRateTooHigh {
            width,
            height,
            frames: report.frames_decoded,
            seconds: self.seconds,
            pixel_rate: self.pixel_rate,
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SegmentReport {
    pub frames_decoded: u64,
    /// Width x height over the frames decoded.
    pub pixels_decoded: u64,
    pub decode_errors: u64,
    /// Output ticks this segment filled.
    pub ticks: i64,
}

/// Why decoding a segment stopped early.
pub(crate) enum DecodeFail {
    Input(TransformError),
    /// The consumer went away (its own error is the one to report).
    Hangup,
}

impl From<TransformError> for DecodeFail {
    fn from(e: TransformError) -> Self {
        Self::Input(e)
    }
}

fn to_ratio(r: ffmpeg::Rational) -> Option<Ratio> {
    let r = Ratio::new(i64::from(r.numerator()), i64::from(r.denominator()));
    r.is_valid().then_some(r)
}

/// Does the file start like a container FFmpeg knows? Tells a damaged video from a non-video.
fn looks_like_container(path: &Path) -> bool {
    let mut head = [0u8; 12];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if n < 4 {
        return false;
    }
    let head = &head[..n];
    let atom = head.get(4..8);
    matches!(
        atom,
        Some(b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot")
    ) || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"AVI "))
        || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        || head.starts_with(b"FLV")
        || head.starts_with(&[0x00, 0x00, 0x01, 0xba])
        || head.starts_with(b"OggS")
        || head.starts_with(&[0x30, 0x26, 0xb2, 0x75])
        || (head[0] == 0x47 && is_ts(path))
}

fn is_ts(path: &Path) -> bool {
    let mut buf = [0u8; 189];
    match fs::File::open(path).and_then(|mut f| f.read_exact(&mut buf)) {
        Ok(()) => buf[0] == 0x47 && buf[188] == 0x47,
        Err(_) => false,
    }
}

impl VideoInput {
    /// Opens `path`'s video stream for decoding with `decoder_threads` frame threads; frames
    /// of more than `max_pixels` pixels are refused (`FrameTooLarge` when the stream declares
    /// them; not decoded when it changes to them midway).
    pub fn open(
        path: &Path,
        role: Role,
        decoder_threads: usize,
        max_pixels: u64,
    ) -> Result<Self, TransformError> {
        let meta = fs::metadata(path)
            .map_err(|e| wrap(role, path, TransformError::io("reading", path, e)))?;
        if meta.len() == 0 {
            return Err(wrap(role, path, TransformError::EmptyInput));
        }
        let ictx = format::input(path).map_err(|e| {
            let err = match e {
                ffmpeg::Error::InvalidData
                | ffmpeg::Error::Eof
                | ffmpeg::Error::DemuxerNotFound
                | ffmpeg::Error::StreamNotFound => {
                    if looks_like_container(path) {
                        TransformError::CorruptInput {
                            detail: format!("cannot read container: {e}"),
                        }
                    } else {
                        TransformError::NotAVideo {
                            detail: format!("no known container signature ({e})"),
                        }
                    }
                }
                e => TransformError::from_input("opening", e),
            };
            wrap(role, path, err)
        })?;
        let demuxer = ictx.format().name().to_owned();
        if role == Role::Upload && !demuxer.split(',').any(|d| VIDEO_DEMUXERS.contains(&d)) {
            return Err(TransformError::NotAVideo {
                detail: format!("recognised as `{demuxer}`"),
            });
        }
        if ictx.nb_streams() == 0 {
            // A container header (e.g. `RIFF....AVI `) followed by nothing it can parse: a
            // damaged file, not a valid one without video.
            return Err(wrap(
                role,
                path,
                TransformError::CorruptInput {
                    detail: format!("the `{demuxer}` container declares no streams"),
                },
            ));
        }
        let stream = ictx
            .streams()
            .filter(|s| s.parameters().medium() == media::Type::Video)
            .find(|s| {
                !s.disposition()
                    .contains(format::stream::Disposition::ATTACHED_PIC)
            })
            .ok_or_else(|| wrap(role, path, TransformError::NoVideoStream))?;
        let orientation = crate::rotation::display_matrix(&stream);
        let stream_index = stream.index();
        let time_base = to_ratio(stream.time_base()).ok_or_else(|| {
            wrap(
                role,
                path,
                TransformError::CorruptInput {
                    detail: "video stream has no time base".into(),
                },
            )
        })?;
        let nominal_rate = to_ratio(stream.avg_frame_rate()).or_else(|| to_ratio(stream.rate()));
        let indexed = demuxer.split(',').any(|d| INDEXED_DEMUXERS.contains(&d));
        let indexed_duration = (indexed && stream.duration() > 0).then(|| stream.duration());
        let params = stream.parameters();
        let codec_id = params.id();
        if decoder::find(codec_id).is_none() {
            return Err(wrap(
                role,
                path,
                TransformError::UnsupportedCodec {
                    codec: codec_id.name().to_owned(),
                },
            ));
        }
        let context = || {
            codec::context::Context::from_parameters(params.clone()).map_err(|e| {
                wrap(
                    role,
                    path,
                    TransformError::from_input("reading codec parameters", e),
                )
            })
        };
        // The declared frame size, from a decoder opened without a bound (opening decodes
        // nothing): a frame past `max_pixels` is refused before any is decoded.
        if let Ok(declared) = context()?.decoder().video() {
            let (width, height) = (declared.width(), declared.height());
            if u64::from(width) * u64::from(height) > max_pixels {
                return Err(wrap(
                    role,
                    path,
                    TransformError::FrameTooLarge {
                        width,
                        height,
                        max_pixels,
                    },
                ));
            }
        }
        let mut ctx = context()?;
        if decoder_threads > 1 {
            ctx.set_threading(codec::threading::Config {
                kind: codec::threading::Type::Frame,
                count: decoder_threads,
                ..Default::default()
            });
        }
        let mut dec = ctx.decoder();
        dec.set_packet_time_base(stream.time_base());
        // The decoder itself refuses larger frames too (a stream may change its size midway):
        // its memory is bounded whatever the stream says later. FFmpeg's own bound (and the
        // option's range) is INT_MAX.
        let mut options = ffmpeg::Dictionary::new();
        options.set("max_pixels", &max_pixels.min(i32::MAX as u64).to_string());
        let codec = decoder::find(codec_id).ok_or(ffmpeg::Error::DecoderNotFound);
        let decoder = codec
            .and_then(|c| dec.open_as_with(c, options))
            .and_then(|opened| opened.video())
            .map_err(|e| {
                let err = match e {
                    ffmpeg::Error::DecoderNotFound => TransformError::UnsupportedCodec {
                        codec: codec_id.name().to_owned(),
                    },
                    e => TransformError::from_input("opening the decoder", e),
                };
                wrap(role, path, err)
            })?;
        if decoder.width() == 0 || decoder.height() == 0 {
            return Err(wrap(
                role,
                path,
                TransformError::CorruptInput {
                    detail: "video stream has no dimensions".into(),
                },
            ));
        }
        let duration = u64::try_from(ictx.duration())
            .ok()
            .map(Duration::from_micros);
        Ok(Self {
            path: path.to_owned(),
            role,
            ictx,
            stream_index,
            time_base,
            nominal_rate,
            indexed_duration,
            decoder,
            duration,
            orientation,
            budget: None,
        })
    }

    fn fail(&self, stage: &'static str, e: ffmpeg::Error) -> TransformError {
        wrap(self.role, &self.path, TransformError::from_input(stage, e))
    }

    /// Decodes the video stream in order, handing each kept frame (with the output ticks it
    /// fills) to `emit`. With a `limit`, reading stops at the first frame past it.
    pub fn decode<F>(
        &mut self,
        rate: Ratio,
        limit: Option<Ratio>,
        mut emit: F,
    ) -> Result<SegmentReport, DecodeFail>
    where
        F: FnMut(Emit<frame::Video>) -> Result<(), DecodeFail>,
    {
        let mut norm = FrameRateNormaliser::new(self.time_base, rate, self.nominal_rate, limit);
        let mut report = SegmentReport::default();
        let mut packet = Packet::empty();
        let mut bad_packets = 0u32;
        let mut past_limit = false;
        loop {
            match ff::read_packet(&mut self.ictx, &mut packet) {
                Ok(()) => bad_packets = 0,
                Err(ffmpeg::Error::Eof) => break,
                Err(ffmpeg::Error::InvalidData) => {
                    // A demuxer can resync past one bad packet, as the CLI does.
                    bad_packets += 1;
                    if bad_packets > MAX_CONSECUTIVE_BAD_PACKETS {
                        return Err(self.fail("demuxing", ffmpeg::Error::InvalidData).into());
                    }
                    continue;
                }
                Err(e) => return Err(self.fail("demuxing", e).into()),
            }
            if packet.stream() != self.stream_index {
                continue;
            }
            match self.decoder.send_packet(&packet) {
                Ok(()) => {}
                Err(e) if is_data_error(e) => {
                    report.decode_errors += 1;
                    continue;
                }
                Err(e) => return Err(self.fail("decoding", e).into()),
            }
            if self.receive(&mut norm, &mut report, &mut emit)? {
                past_limit = true;
                break;
            }
        }
        if !past_limit {
            // Flush the frames the decoder still holds (reordering, frame threads).
            match self.decoder.send_eof() {
                Ok(()) | Err(ffmpeg::Error::Eof) => {}
                // With frame threads, a bad last packet's error surfaces here.
                Err(e) if is_data_error(e) => report.decode_errors += 1,
                Err(e) => return Err(self.fail("decoding", e).into()),
            }
            self.receive(&mut norm, &mut report, &mut emit)?;
            self.check_complete(norm.span(), limit)?;
        }
        if let Some(last) = norm.finish() {
            emit(last)?;
        }
        report.ticks = norm.ticks();
        if report.ticks == 0 {
            let err = TransformError::CorruptInput {
                detail: format!(
                    "no decodable video frames ({} decode errors)",
                    report.decode_errors
                ),
            };
            return Err(wrap(self.role, &self.path, err).into());
        }
        Ok(report)
    }

    /// A file whose index promises more video than could be read was cut short (an upload
    /// that stopped half-way): corrupt, rather than a silently shorter output. Isolated bad
    /// packets are tolerated, as by the CLI.
    fn check_complete(&self, span: i64, limit: Option<Ratio>) -> Result<(), TransformError> {
        let Some(declared) = self.indexed_duration else {
            return Ok(());
        };
        let tb = self.time_base;
        let secs = |v: i64| v as f64 * tb.num as f64 / tb.den as f64;
        let expected = match limit {
            Some(l) => secs(declared).min(l.num as f64 / l.den as f64),
            None => secs(declared),
        };
        let got = secs(span);
        if expected - got > 0.5 && got < expected * 0.9 {
            let err = TransformError::CorruptInput {
                detail: format!("truncated: video ends after {got:.1} s of {expected:.1} s"),
            };
            return Err(wrap(self.role, &self.path, err));
        }
        Ok(())
    }

    /// Drains decoded frames; `Ok(true)` once a frame lies past the limit.
    fn receive<F>(
        &mut self,
        norm: &mut FrameRateNormaliser<frame::Video>,
        report: &mut SegmentReport,
        emit: &mut F,
    ) -> Result<bool, DecodeFail>
    where
        F: FnMut(Emit<frame::Video>) -> Result<(), DecodeFail>,
    {
        let mut errors_here = 0u32;
        loop {
            let mut decoded = frame::Video::empty();
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    let (width, height) = (decoded.width(), decoded.height());
                    report.frames_decoded += 1;
                    report.pixels_decoded += u64::from(width) * u64::from(height);
                    let over = self.budget.and_then(|b| b.exceeded(report, width, height));
                    if let Some(err) = over {
                        return Err(wrap(self.role, &self.path, err).into());
                    }
                    let ts = decoded.timestamp();
                    let duration = decoded.packet().duration;
                    match norm.push(decoded, ts, Some(duration)) {
                        Push::Kept(Some(e)) => emit(e)?,
                        Push::Kept(None) => {}
                        Push::PastLimit => return Ok(true),
                    }
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(false)
                }
                Err(ffmpeg::Error::Eof) => return Ok(false),
                Err(e) if is_data_error(e) && errors_here < MAX_CONSECUTIVE_BAD_PACKETS => {
                    // Frame threads report a bad packet's error here; skip it like the CLI.
                    report.decode_errors += 1;
                    errors_here += 1;
                }
                Err(e) => return Err(self.fail("decoding", e).into()),
            }
        }
    }
}

fn is_data_error(e: ffmpeg::Error) -> bool {
    matches!(e, ffmpeg::Error::InvalidData)
        || matches!(e, ffmpeg::Error::Other { errno } if errno == ffmpeg::error::EINVAL)
}

/// An asset's failure is ours, not the uploader's: report it as an asset problem.
fn wrap(role: Role, path: &Path, err: TransformError) -> TransformError {
    match role {
        Role::Upload => err,
        Role::Asset => TransformError::Asset {
            path: path.to_owned(),
            detail: err.to_string(),
        },
    }
}

/// Decodes the first picture of an image (the watermark PNG).
pub(crate) fn decode_still(path: &Path) -> Result<frame::Video, TransformError> {
    let fail = |detail: String| TransformError::Asset {
        path: path.to_owned(),
        detail,
    };
    let mut ictx = format::input(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let stream = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| fail("no picture in it".into()))?;
    let index = stream.index();
    let mut dec = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|e| fail(format!("cannot decode: {e}")))?;
    let mut packet = Packet::empty();
    let mut picture = frame::Video::empty();
    loop {
        match ff::read_packet(&mut ictx, &mut packet) {
            Ok(()) if packet.stream() == index => {
                dec.send_packet(&packet)
                    .map_err(|e| fail(format!("cannot decode: {e}")))?;
                if dec.receive_frame(&mut picture).is_ok() {
                    return Ok(picture);
                }
            }
            Ok(()) => {}
            Err(_) => break,
        }
    }
    let _ = dec.send_eof();
    dec.receive_frame(&mut picture)
        .map_err(|e| fail(format!("no picture decoded: {e}")))?;
    Ok(picture)
}
