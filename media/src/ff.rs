//! Shared helpers at the FFmpeg boundary: one-time init, opening encoders, muxing packets,
//! and pulling frames from source-only filter graphs (the lavfi recipes, without the CLI).

use std::path::Path;
use std::sync::OnceLock;

use ffmpeg::{codec, encoder, filter, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::TransformError;

/// Initialises FFmpeg once per process and quiets its logging: libx264 and others log at info
/// level on every run, and every failure reaches callers as a value anyway.
pub(crate) fn init() -> Result<(), TransformError> {
    static INIT: OnceLock<Result<(), ffmpeg::Error>> = OnceLock::new();
    let result = *INIT.get_or_init(|| {
        ffmpeg::init()?;
        ffmpeg::log::set_level(ffmpeg::log::Level::Error);
        Ok(())
    });
    result.map_err(|e| TransformError::ffmpeg("initialising FFmpeg", e))
}

/// Reads the next packet of `input` into `packet`, releasing the one it held first.
/// `av_read_frame` overwrites its packet without releasing it (FFmpeg: it "must not contain
/// data that needs to be freed"), and ffmpeg-next's `Packet::read` passes it as it is, so a
/// packet reused across reads kept every packet read: a job kept its whole upload in memory.
pub(crate) fn read_packet(
    input: &mut format::context::Input,
    packet: &mut Packet,
) -> Result<(), ffmpeg::Error> {
    *packet = Packet::empty();
    packet.read(input)
}

pub(crate) struct VideoEncoderSpec<'a> {
    pub codec: &'a str,
    pub width: u32,
    pub height: u32,
    pub pixel: format::Pixel,
    pub time_base: Rational,
    pub frame_rate: Option<Rational>,
    /// `None` lets FFmpeg pick; assets pin 1 so their bytes do not depend on the machine.
    pub threads: Option<usize>,
    pub options: Vec<(&'a str, String)>,
    pub global_header: bool,
}

pub(crate) fn open_video_encoder(
    spec: &VideoEncoderSpec<'_>,
) -> Result<encoder::video::Encoder, ffmpeg::Error> {
    let codec = encoder::find_by_name(spec.codec).ok_or(ffmpeg::Error::EncoderNotFound)?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    if let Some(count) = spec.threads {
        // Frame threads, as `-threads N` gives libx264 (FFmpeg maps anything but
        // "slice only" to x264 frame threading).
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count,
            ..Default::default()
        });
    }
    let mut enc = ctx.encoder().video()?;
    enc.set_width(spec.width);
    enc.set_height(spec.height);
    enc.set_format(spec.pixel);
    enc.set_time_base(spec.time_base);
    enc.set_frame_rate(spec.frame_rate);
    enc.set_aspect_ratio(Rational(1, 1));
    if spec.global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut dict = Dictionary::new();
    for (k, v) in &spec.options {
        dict.set(k, v);
    }
    enc.open_with(dict)
}

/// Receives every packet the encoder has ready and muxes it into `stream`, `offset` ticks of
/// `enc_tb` later than the encoder stamped it.
pub(crate) fn drain_encoder(
    enc: &mut encoder::Encoder,
    octx: &mut format::context::Output,
    stream: usize,
    (enc_tb, ost_tb): (Rational, Rational),
    offset: i64,
    packet: &mut Packet,
) -> Result<u64, ffmpeg::Error> {
    let mut n = 0;
    loop {
        match enc.receive_packet(packet) {
            Ok(()) => {
                packet.set_stream(stream);
                if offset != 0 {
                    packet.set_pts(packet.pts().map(|t| t + offset));
                    packet.set_dts(packet.dts().map(|t| t + offset));
                }
                packet.rescale_ts(enc_tb, ost_tb);
                packet.write_interleaved(octx)?;
                n += 1;
            }
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => return Ok(n),
            Err(ffmpeg::Error::Eof) => return Ok(n),
            Err(e) => return Err(e),
        }
    }
}

/// A filter graph made only of source filters (`testsrc2`, `color`, `sine`) ending in a sink.
pub(crate) struct SourceGraph {
    graph: filter::Graph,
}

impl SourceGraph {
    pub fn video(spec: &str, pixel: format::Pixel) -> Result<Self, ffmpeg::Error> {
        let mut graph = filter::Graph::new();
        let sink = filter::find("buffersink").ok_or(ffmpeg::Error::FilterNotFound)?;
        let mut out = graph.add(&sink, "out", "")?;
        out.set_pixel_format(pixel);
        graph.input("out", 0)?.parse(spec)?;
        graph.validate()?;
        Ok(Self { graph })
    }

    pub fn audio(
        spec: &str,
        sample: format::Sample,
        rate: u32,
        layout: ffmpeg::ChannelLayout,
        frame_size: u32,
    ) -> Result<Self, ffmpeg::Error> {
        let mut graph = filter::Graph::new();
        let sink = filter::find("abuffersink").ok_or(ffmpeg::Error::FilterNotFound)?;
        let mut out = graph.add(&sink, "out", "")?;
        out.set_sample_format(sample);
        out.set_sample_rate(rate);
        out.set_channel_layout(layout);
        graph.input("out", 0)?.parse(spec)?;
        graph.validate()?;
        if frame_size > 0 {
            // Fixed-size frames, as encoders like AAC require.
            if let Some(mut out) = graph.get("out") {
                out.sink().set_frame_size(frame_size);
            }
        }
        Ok(Self { graph })
    }

    /// The next frame, or `false` once the sources are exhausted.
    pub fn pull(&mut self, frame: &mut frame::Frame) -> Result<bool, ffmpeg::Error> {
        let mut out = self.graph.get("out").ok_or(ffmpeg::Error::FilterNotFound)?;
        match out.sink().frame(frame) {
            Ok(()) => Ok(true),
            Err(ffmpeg::Error::Eof) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn time_base(&mut self) -> Rational {
        match self.graph.get("out") {
            Some(mut out) => out.sink().time_base(),
            None => Rational(0, 1),
        }
    }
}

/// Opens an output container, picking the muxer from `format_name` or else the extension.
pub(crate) fn open_output(
    path: &Path,
    format_name: Option<&str>,
) -> Result<format::context::Output, ffmpeg::Error> {
    match format_name {
        Some(name) => format::output_as(path, name),
        None => format::output(path),
    }
}

pub(crate) struct AudioEncoderSpec {
    pub rate: u32,
    pub bit_rate: usize,
}

struct AudioOut {
    encoder: encoder::audio::Encoder,
    stream: usize,
    enc_tb: Rational,
    ost_tb: Rational,
}

/// One output file: a video stream and optionally a mono AAC stream.
pub(crate) struct MediaWriter {
    octx: format::context::Output,
    video: encoder::video::Encoder,
    v_enc_tb: Rational,
    v_ost_tb: Rational,
    /// Added to every encoded video packet's timestamps (in `v_enc_tb`): the frames that were
    /// copied in ahead of this encoder's (`copy_video`).
    v_offset: i64,
    audio: Option<AudioOut>,
    packet: Packet,
}

impl MediaWriter {
    /// `format_name` picks the muxer (else the file extension does); `header` holds muxer
    /// options such as `movflags`.
    pub fn create(
        path: &Path,
        format_name: Option<&str>,
        video: &VideoEncoderSpec<'_>,
        audio: Option<&AudioEncoderSpec>,
        header: Dictionary,
    ) -> Result<Self, ffmpeg::Error> {
        let mut octx = open_output(path, format_name)?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let venc = open_video_encoder(&VideoEncoderSpec {
            global_header,
            options: video.options.clone(),
            ..*video
        })?;
        let mut ost = octx.add_stream(encoder::find_by_name(video.codec))?;
        ost.set_parameters(&venc);
        ost.set_time_base(video.time_base);
        if let Some(rate) = video.frame_rate {
            ost.set_avg_frame_rate(rate);
        }
        let audio = match audio {
            None => None,
            Some(spec) => {
                let codec = encoder::find(codec::Id::AAC).ok_or(ffmpeg::Error::EncoderNotFound)?;
                let mut enc = codec::context::Context::new_with_codec(codec)
                    .encoder()
                    .audio()?;
                let rate = i32::try_from(spec.rate).map_err(|_| ffmpeg::Error::InvalidData)?;
                enc.set_rate(rate);
                enc.set_channel_layout(ffmpeg::ChannelLayout::MONO);
                enc.set_channels(1);
                enc.set_format(format::Sample::F32(format::sample::Type::Planar));
                enc.set_bit_rate(spec.bit_rate);
                enc.set_time_base(Rational(1, rate));
                if global_header {
                    enc.set_flags(codec::Flags::GLOBAL_HEADER);
                }
                let enc = enc.open_as(codec)?;
                let mut ost = octx.add_stream(codec)?;
                ost.set_parameters(&enc);
                ost.set_time_base(Rational(1, rate));
                Some(AudioOut {
                    encoder: enc,
                    stream: 1,
                    enc_tb: Rational(1, rate),
                    ost_tb: Rational(1, rate),
                })
            }
        };
        octx.write_header_with(header)?;
        let v_ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .ok_or(ffmpeg::Error::StreamNotFound)?;
        let mut audio = audio;
        if let Some(a) = audio.as_mut() {
            a.ost_tb = octx
                .stream(a.stream)
                .map(|s| s.time_base())
                .ok_or(ffmpeg::Error::StreamNotFound)?;
        }
        Ok(Self {
            octx,
            video: venc,
            v_enc_tb: video.time_base,
            v_ost_tb,
            v_offset: 0,
            audio,
            packet: Packet::empty(),
        })
    }

    /// AAC wants frames of exactly this many samples.
    pub fn audio_frame_size(&self) -> u32 {
        self.audio.as_ref().map_or(0, |a| a.encoder.frame_size())
    }

    /// Encodes one picture; its pts is in the video spec's time base.
    pub fn video(&mut self, frame: &frame::Video) -> Result<(), ffmpeg::Error> {
        self.video.send_frame(frame)?;
        self.drain_video()?;
        Ok(())
    }

    fn drain_video(&mut self) -> Result<u64, ffmpeg::Error> {
        drain_encoder(
            &mut self.video,
            &mut self.octx,
            0,
            (self.v_enc_tb, self.v_ost_tb),
            self.v_offset,
            &mut self.packet,
        )
    }

    /// Shifts every video packet encoded from now on by `ticks` of the video time base.
    pub fn set_video_offset(&mut self, ticks: i64) {
        self.v_offset = ticks;
    }

    /// Flushes the video encoder: every picture sent so far is muxed. No picture may follow.
    pub fn end_video(&mut self) -> Result<(), ffmpeg::Error> {
        flush(&mut self.video)?;
        self.drain_video()?;
        Ok(())
    }

    /// Muxes an already encoded video packet (from a stream with time base `from_tb`), `offset`
    /// ticks of the video time base later. The packet must be one this writer's encoder could
    /// have made (same codec and parameters): it is copied, not checked.
    pub fn copy_video(
        &mut self,
        packet: &mut Packet,
        from_tb: Rational,
        offset: i64,
    ) -> Result<(), ffmpeg::Error> {
        packet.rescale_ts(from_tb, self.v_enc_tb);
        packet.set_pts(packet.pts().map(|t| t + offset));
        packet.set_dts(packet.dts().map(|t| t + offset));
        packet.rescale_ts(self.v_enc_tb, self.v_ost_tb);
        packet.set_stream(0);
        packet.set_position(-1);
        packet.write_interleaved(&mut self.octx)
    }

    pub fn audio(&mut self, frame: &frame::Audio) -> Result<(), ffmpeg::Error> {
        let a = self.audio.as_mut().ok_or(ffmpeg::Error::StreamNotFound)?;
        a.encoder.send_frame(frame)?;
        drain_encoder(
            &mut a.encoder,
            &mut self.octx,
            a.stream,
            (a.enc_tb, a.ost_tb),
            0,
            &mut self.packet,
        )?;
        Ok(())
    }

    /// Flushes the encoders and writes the trailer (and, with faststart, moves the index).
    pub fn finish(mut self) -> Result<(), ffmpeg::Error> {
        self.end_video()?;
        if let Some(a) = self.audio.as_mut() {
            flush(&mut a.encoder)?;
            drain_encoder(
                &mut a.encoder,
                &mut self.octx,
                a.stream,
                (a.enc_tb, a.ost_tb),
                0,
                &mut self.packet,
            )?;
        }
        self.octx.write_trailer()
    }
}

fn flush(enc: &mut encoder::Encoder) -> Result<(), ffmpeg::Error> {
    match enc.send_eof() {
        Ok(()) | Err(ffmpeg::Error::Eof) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Encodes one picture as a PNG file (the logo asset).
pub(crate) fn write_png(path: &Path, picture: &frame::Video) -> Result<(), TransformError> {
    let enc_err = |e| TransformError::ffmpeg("encoding a PNG", e);
    let mut enc = open_video_encoder(&VideoEncoderSpec {
        codec: "png",
        width: picture.width(),
        height: picture.height(),
        pixel: picture.format(),
        time_base: Rational(1, 1),
        frame_rate: None,
        threads: Some(1),
        options: Vec::new(),
        global_header: false,
    })
    .map_err(enc_err)?;
    enc.send_frame(picture).map_err(enc_err)?;
    flush(&mut enc).map_err(enc_err)?;
    let mut packet = Packet::empty();
    enc.receive_packet(&mut packet).map_err(enc_err)?;
    let data = packet
        .data()
        .ok_or_else(|| enc_err(ffmpeg::Error::InvalidData))?;
    std::fs::write(path, data).map_err(|e| TransformError::io("writing", path, e))
}
