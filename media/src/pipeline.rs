//! `transform()`: intro + first 30 s of the upload + outro. Each segment is decoded, filtered
//! and encoded by three overlapping stages joined by bounded channels, so memory stays bounded.
//! The intro and outro are the same for every job, so they are encoded once (`bumper.rs`) and
//! copied around the upload's encoding, at the bitstream level.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;

use crate::assets::Assets;
use crate::bumper::{self, Bookend};
use crate::error::TransformError;
use crate::ff;
use crate::filter::{Layout, SegmentFilter};
use crate::fps::{Emit, Ratio};
use crate::input::{decode_still, DecodeBudget, DecodeFail, Role, VideoInput};
use crate::output::{EncodeSettings, Mp4Writer};
use crate::priority;

/// The most pixels an upload's frame may have: 8192x4320 (8K). A job holds a dozen frames
/// or more at once (the decoder's, the queues'), and FFmpeg accepts up to 16000x16000 or
/// so: 384 MB a frame, from an upload of less than a megabyte.
pub const MAX_PIXELS: u64 = 8192 * 4320;

/// The most frames a second an upload may have (over the part kept): high-speed phone
/// video is 240, some cameras 1000. Past it the decoding time grows with the frame count,
/// and still frames cost a few bytes apiece, so a small upload can hold a great many.
pub const MAX_FPS: u32 = 1000;

/// The most pixels a second an upload may have decoded (over the part kept): 8K at 60 frames
/// a second, the largest video cameras record. `MAX_PIXELS` and `MAX_FPS` each allow a lot
/// and together 16 times this (8K frames at 1000 a second): decoding time grows with the
/// pixels, so their product is what is bounded. 1080p at 1000 and 4K at 240 stay under it.
pub const MAX_PIXEL_RATE: u64 = 8192 * 4320 * 60;

/// The workload's settings; `Default` is exactly WORKLOAD.md's transform.
#[derive(Debug, Clone)]
pub struct TransformOptions {
    /// How much of the upload to keep, from its start.
    pub max_input: Duration,
    pub width: u32,
    pub height: u32,
    /// Every segment is normalised to this frame rate.
    pub fps: u32,
    /// Watermark distance from the top and right edges.
    pub watermark_margin: u32,
    pub preset: String,
    pub crf: u8,
    /// libx264 threads and each filter's slice threads; the upload's decoder gets its own
    /// count from it (`upload_decoder_threads`).
    pub threads: usize,
    /// Nice steps the filter and encoder threads run below the decoder's (`priority.rs`): the
    /// decoder is the critical path. 0 runs every thread alike.
    pub stage_nice: i32,
    /// Put the `moov` index first (one extra pass over the output file).
    pub faststart: bool,
    /// Frames each inter-stage queue may hold: bounds memory (a 1080p frame is ~3 MB). Eight
    /// give the stages enough slack to keep both cores of a 2-core machine busy
    /// (`bench/worker.sh`'s idle column: 0.05 cores idle against 0.08 with four).
    pub queue_frames: usize,
    /// The largest upload frame decoded, in pixels (`MAX_PIXELS`): larger ones fail the job
    /// as permanent (`frame_too_large`), since memory grows with the frame.
    pub max_pixels: u64,
    /// The most frames a second the upload's kept part may have on average (`MAX_FPS`):
    /// more fail the job as permanent (`frame_rate_too_high`), since each frame costs
    /// decoding time.
    pub max_fps: u32,
    /// The most pixels a second the upload's kept part may have decoded on average
    /// (`MAX_PIXEL_RATE`): more fail the job as permanent (`pixel_rate_too_high`), since
    /// decoding time grows with the pixels.
    pub max_pixel_rate: u64,
    /// Set it to stop a running transform soon (checked per frame), e.g. on worker shutdown.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Where the encoded intro and outro are kept between jobs (made if missing; at most
    /// `bumper::CACHE_ENTRIES` files, least recently used removed). `None`: each job encodes
    /// them itself, beside the output, once per distinct file.
    pub segment_cache: Option<PathBuf>,
}

impl Default for TransformOptions {
    fn default() -> Self {
        Self {
            max_input: Duration::from_secs(30),
            width: 1280,
            height: 720,
            fps: 30,
            watermark_margin: 10,
            preset: "ultrafast".into(),
            crf: 25,
            threads: 2,
            stage_nice: 10,
            faststart: true,
            queue_frames: 8,
            max_pixels: MAX_PIXELS,
            max_fps: MAX_FPS,
            max_pixel_rate: MAX_PIXEL_RATE,
            cancel: None,
            segment_cache: None,
        }
    }
}

/// What one transform did.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformStats {
    /// The upload's duration as its container declares it, if it does.
    pub input_duration: Option<Duration>,
    /// How much of the upload went into the output (at most `max_input`).
    pub input_duration_used: Duration,
    /// Video frames decoded from the upload (before frame-rate normalisation).
    pub frames_in: u64,
    /// Frames encoded: intro + upload + outro, all at `fps`.
    pub frames_out: u64,
    pub output_bytes: u64,
    pub output_duration: Duration,
    pub wall_time: Duration,
    /// Intro and outro encodings this job made: 0 when both came from the segment cache.
    pub bumpers_encoded: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Intro,
    Upload,
    Outro,
}

enum Decoded {
    /// A segment begins; with its display matrix (how to turn it upright), if any.
    Start(Segment, Option<[i32; 9]>),
    Frame(Emit<frame::Video>),
    /// Sent only after every segment decoded cleanly; a channel closed without it means
    /// the decoder failed.
    End,
}

enum Filtered {
    Frame(frame::Video, u32),
    End,
}

/// A stage stopped: with its own error, or because a neighbour stopped first.
enum StageFail {
    Error(TransformError),
    Hangup,
}

impl From<TransformError> for StageFail {
    fn from(e: TransformError) -> Self {
        Self::Error(e)
    }
}

impl From<DecodeFail> for StageFail {
    fn from(e: DecodeFail) -> Self {
        match e {
            DecodeFail::Input(e) => Self::Error(e),
            DecodeFail::Hangup => Self::Hangup,
        }
    }
}

struct DecodeReport {
    frames_in: u64,
    upload_ticks: i64,
}

fn duration_of_ticks(ticks: u64, fps: u32) -> Duration {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(fps.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Transforms `input` into `output` (MP4). On failure nothing is left at `output`.
pub fn transform(
    input: &Path,
    output: &Path,
    assets: &Assets,
    opts: &TransformOptions,
) -> Result<TransformStats, TransformError> {
    let started = Instant::now();
    ff::init()?;
    // yuv420p needs even dimensions.
    let odd = !opts.width.is_multiple_of(2) || !opts.height.is_multiple_of(2);
    if opts.fps == 0 || opts.width < 2 || opts.height < 2 || odd || opts.queue_frames == 0 {
        return Err(TransformError::Internal(format!(
            "invalid options: {opts:?}"
        )));
    }
    // The upload first: a bad upload fails fast, before any work or any output file.
    let mut upload = VideoInput::open(
        input,
        Role::Upload,
        upload_decoder_threads(opts.threads, opts.stage_nice),
        opts.max_pixels,
    )?;
    upload.budget = Some(DecodeBudget::new(
        opts.max_input,
        opts.max_fps,
        opts.max_pixel_rate,
    ));
    let watermark = decode_still(&assets.watermark)?;
    let input_duration = upload.duration;

    let layout = layout(opts);
    let bumpers = bumper::prepare(
        assets,
        &settings(opts, false),
        &layout_key(layout),
        opts.segment_cache.as_deref(),
        output,
        |asset, which, dest| encode_bookend(asset, which, dest, &watermark, assets, opts),
    )?;
    let result = join(upload, &bumpers, &watermark, assets, output, opts);
    let (report, frames_out) = match result {
        Ok(r) => r,
        Err(e) => {
            remove_partial(output);
            return Err(e);
        }
    };
    let output_bytes = fs::metadata(output)
        .map_err(|e| TransformError::io("reading the size of", output, e))?
        .len();
    Ok(TransformStats {
        input_duration,
        input_duration_used: duration_of_ticks(report.upload_ticks.max(0) as u64, opts.fps),
        frames_in: report.frames_in,
        frames_out,
        output_bytes,
        output_duration: duration_of_ticks(frames_out, opts.fps),
        wall_time: started.elapsed(),
        bumpers_encoded: bumpers.encoded,
    })
}

/// Frame threads for the upload's decoder. With the decoder first in priority
/// (`stage_nice` > 0), half of `threads` (at least one): decoding is about half the work, and
/// a decoder with fewer threads spends less on keeping them in step (FFmpeg decodes 30 s of
/// the 50 MB input in 4.9 CPU seconds on one thread, 5.2 on three). With every thread alike,
/// one more than `threads`, as FFmpeg's own automatic choice is one more than the cores (the
/// CLI's decoder runs so), so that while one frame waits for its reference another is being
/// decoded. The decoded frames are the same for any count.
fn upload_decoder_threads(threads: usize, stage_nice: i32) -> usize {
    match threads {
        0 | 1 => 1,
        _ if stage_nice > 0 => threads / 2,
        _ => threads + 1,
    }
}

fn layout(opts: &TransformOptions) -> Layout {
    Layout {
        width: opts.width,
        height: opts.height,
        margin: opts.watermark_margin,
        fps: opts.fps,
        threads: opts.threads,
    }
}

fn settings(opts: &TransformOptions, faststart: bool) -> EncodeSettings<'_> {
    EncodeSettings {
        width: opts.width,
        height: opts.height,
        fps: opts.fps,
        preset: &opts.preset,
        crf: opts.crf,
        threads: opts.threads,
        faststart,
    }
}

/// What, besides the encoder settings, decides an encoded intro's pictures: the watermark's
/// place and the filter libraries' versions.
fn layout_key(layout: Layout) -> String {
    format!(
        "margin {} threads {} avfilter {} swscale {}",
        layout.margin,
        layout.threads,
        ffmpeg::filter::version(),
        ffmpeg::software::scaling::version()
    )
}

/// Encodes one intro or outro alone into an MP4 at `dest`, with the job's settings.
fn encode_bookend(
    asset: &Path,
    which: Bookend,
    dest: &Path,
    watermark: &frame::Video,
    assets: &Assets,
    opts: &TransformOptions,
) -> Result<(), TransformError> {
    let input = VideoInput::open(asset, Role::Asset, 1, u64::MAX)?;
    let segment = match which {
        Bookend::Intro => Segment::Intro,
        Bookend::Outro => Segment::Outro,
    };
    let output = Output {
        path: dest,
        settings: settings(opts, false),
        before: None,
        after: None,
    };
    run(vec![(segment, input)], watermark, assets, output, opts)?;
    Ok(())
}

/// The output: the encoded intro, the upload encoded now, the encoded outro.
fn join(
    upload: VideoInput,
    bumpers: &bumper::Bumpers,
    watermark: &frame::Video,
    assets: &Assets,
    output: &Path,
    opts: &TransformOptions,
) -> Result<(DecodeReport, u64), TransformError> {
    let output = Output {
        path: output,
        settings: settings(opts, opts.faststart),
        before: Some(&bumpers.intro),
        after: Some(&bumpers.outro),
    };
    run(
        vec![(Segment::Upload, upload)],
        watermark,
        assets,
        output,
        opts,
    )
}

/// What the encode thread writes: the MP4 at `path`, with the encoded segment `before` copied
/// in ahead of the frames encoded now and `after` behind them.
struct Output<'a> {
    path: &'a Path,
    settings: EncodeSettings<'a>,
    before: Option<&'a Path>,
    after: Option<&'a Path>,
}

/// Deletes a half-written output, but only a regular file: never a device or a symlink's
/// target that the caller pointed us at (e.g. `/dev/full`).
fn remove_partial(output: &Path) {
    if fs::symlink_metadata(output).is_ok_and(|m| m.file_type().is_file()) {
        let _ = fs::remove_file(output);
    }
}

/// Decodes, filters and encodes `segments` into `output`, in three threads: the decoder at
/// the caller's priority, the filter and the encoder (which opens the output, so libx264's
/// threads start there) `opts.stage_nice` steps below it. Returns the frames in the output.
fn run(
    segments: Vec<(Segment, VideoInput)>,
    watermark: &frame::Video,
    assets: &Assets,
    output: Output<'_>,
    opts: &TransformOptions,
) -> Result<(DecodeReport, u64), TransformError> {
    let layout = layout(opts);
    let rate = Ratio::new(i64::from(opts.fps), 1);
    let limit = Ratio::new(
        i64::try_from(opts.max_input.as_millis()).unwrap_or(i64::MAX),
        1000,
    );
    let cancel = opts.cancel.as_deref();
    let nice = opts.stage_nice;
    let (dec_tx, dec_rx) = sync_channel::<Decoded>(opts.queue_frames);
    let (fil_tx, fil_rx) = sync_channel::<Filtered>(opts.queue_frames);

    thread::scope(|s| {
        let decoder = thread::Builder::new()
            .name("transform-decode".into())
            .spawn_scoped(s, move || {
                decode_stage(segments, rate, limit, cancel, dec_tx)
            })
            .map_err(|e| TransformError::Internal(format!("spawning the decode thread: {e}")))?;
        let filter = thread::Builder::new()
            .name("transform-filter".into())
            .spawn_scoped(s, move || {
                priority::lower_this_thread(nice);
                filter_stage(dec_rx, fil_tx, watermark, assets, layout)
            })
            .map_err(|e| TransformError::Internal(format!("spawning the filter thread: {e}")))?;
        let encoder = thread::Builder::new()
            .name("transform-encode".into())
            .spawn_scoped(s, move || {
                priority::lower_this_thread(nice);
                encode_stage(fil_rx, &output)
            })
            .map_err(|e| TransformError::Internal(format!("spawning the encode thread: {e}")))?;
        let encoded = encoder.join().unwrap_or_else(|_| {
            Err(StageFail::Error(TransformError::Internal(
                "encode thread panicked".into(),
            )))
        });
        let decoded = decoder.join().unwrap_or_else(|_| {
            Err(StageFail::Error(TransformError::Internal(
                "decode thread panicked".into(),
            )))
        });
        let filtered = filter.join().unwrap_or_else(|_| {
            Err(StageFail::Error(TransformError::Internal(
                "filter thread panicked".into(),
            )))
        });
        // Report the stage that failed by itself; the others only saw it hang up.
        match (decoded, filtered, encoded) {
            (Ok(report), Ok(()), Ok(frames)) => Ok((report, frames)),
            (Err(StageFail::Error(e)), _, _)
            | (_, Err(StageFail::Error(e)), _)
            | (_, _, Err(StageFail::Error(e))) => Err(e),
            _ => Err(TransformError::Internal(
                "pipeline stopped without an error".into(),
            )),
        }
    })
}

fn decode_stage(
    segments: Vec<(Segment, VideoInput)>,
    rate: Ratio,
    limit: Ratio,
    cancel: Option<&AtomicBool>,
    tx: SyncSender<Decoded>,
) -> Result<DecodeReport, StageFail> {
    let mut report = DecodeReport {
        frames_in: 0,
        upload_ticks: 0,
    };
    for (segment, mut input) in segments {
        tx.send(Decoded::Start(segment, input.orientation))
            .map_err(|_| StageFail::Hangup)?;
        let cut = (segment == Segment::Upload).then_some(limit);
        let seg = input.decode(rate, cut, |e| {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(DecodeFail::Input(TransformError::Cancelled));
            }
            tx.send(Decoded::Frame(e)).map_err(|_| DecodeFail::Hangup)
        })?;
        // Close the file now rather than at the end of the job.
        drop(input);
        if segment == Segment::Upload {
            report.frames_in = seg.frames_decoded;
            report.upload_ticks = seg.ticks;
        }
    }
    tx.send(Decoded::End).map_err(|_| StageFail::Hangup)?;
    Ok(report)
}

/// A filter failure on the upload's frames is the upload's format; on an asset's, ours.
fn filter_err(segment: Segment, assets: &Assets, e: ffmpeg::Error) -> TransformError {
    match (segment, e) {
        (
            Segment::Upload,
            ffmpeg::Error::InvalidData
            | ffmpeg::Error::PatchWelcome
            | ffmpeg::Error::Other {
                errno: ffmpeg::error::EINVAL,
            },
        ) => TransformError::UnsupportedFormat {
            detail: format!("cannot scale the video: {e}"),
        },
        (Segment::Upload, e) => TransformError::ffmpeg("filtering", e),
        (Segment::Intro, e) => TransformError::Asset {
            path: assets.intro.clone(),
            detail: format!("filtering: {e}"),
        },
        (Segment::Outro, e) => TransformError::Asset {
            path: assets.outro.clone(),
            detail: format!("filtering: {e}"),
        },
    }
}

struct FilterRun<'a> {
    tx: SyncSender<Filtered>,
    watermark: &'a frame::Video,
    assets: &'a Assets,
    layout: Layout,
    segment: Segment,
    /// The CLI's autorotation filters for this segment (`rotation`), if it needs turning.
    rotate: Option<String>,
    graph: Option<SegmentFilter>,
    /// Ticks and repeat counts of frames inside the graph (it is one frame in, one out).
    in_flight: VecDeque<(i64, u32)>,
}

impl FilterRun<'_> {
    fn forward_ready(&mut self) -> Result<(), StageFail> {
        let segment = self.segment;
        let Some(graph) = self.graph.as_mut() else {
            return Ok(());
        };
        loop {
            let mut out = frame::Video::empty();
            if !graph
                .pull(&mut out)
                .map_err(|e| filter_err(segment, self.assets, e))?
            {
                return Ok(());
            }
            let (tick, count) = self.in_flight.pop_front().ok_or_else(|| {
                TransformError::Internal("filter produced more frames than it was given".into())
            })?;
            if out.pts() != Some(tick) {
                return Err(TransformError::Internal(format!(
                    "filter reordered frames: expected pts {tick}, got {:?}",
                    out.pts()
                ))
                .into());
            }
            self.tx
                .send(Filtered::Frame(out, count))
                .map_err(|_| StageFail::Hangup)?;
        }
    }

    fn close_graph(&mut self) -> Result<(), StageFail> {
        if let Some(graph) = self.graph.as_mut() {
            graph
                .close()
                .map_err(|e| filter_err(self.segment, self.assets, e))?;
            self.forward_ready()?;
            if !self.in_flight.is_empty() {
                return Err(TransformError::Internal("filter lost frames".into()).into());
            }
        }
        self.graph = None;
        Ok(())
    }

    fn frame(&mut self, e: Emit<frame::Video>) -> Result<(), StageFail> {
        let mut f = e.item;
        if !self.graph.as_ref().is_some_and(|g| g.accepts(&f)) {
            // First frame of a segment, or its size/format changed mid-stream.
            self.close_graph()?;
            self.graph = Some(
                SegmentFilter::new(&f, self.watermark, self.layout, self.rotate.as_deref())
                    .map_err(|err| filter_err(self.segment, self.assets, err))?,
            );
        }
        let segment = self.segment;
        if let Some(graph) = self.graph.as_mut() {
            graph
                .push(&mut f, e.first_tick)
                .map_err(|err| filter_err(segment, self.assets, err))?;
            self.in_flight.push_back((e.first_tick, e.count));
        }
        self.forward_ready()
    }
}

fn filter_stage(
    rx: Receiver<Decoded>,
    tx: SyncSender<Filtered>,
    watermark: &frame::Video,
    assets: &Assets,
    layout: Layout,
) -> Result<(), StageFail> {
    let mut run = FilterRun {
        tx,
        watermark,
        assets,
        layout,
        segment: Segment::Intro,
        rotate: None,
        graph: None,
        in_flight: VecDeque::new(),
    };
    loop {
        match rx.recv().map_err(|_| StageFail::Hangup)? {
            Decoded::Start(segment, orientation) => {
                run.close_graph()?;
                run.segment = segment;
                run.rotate =
                    crate::rotation::autorotate_filters(orientation.as_ref(), layout.threads);
            }
            Decoded::Frame(e) => run.frame(e)?,
            Decoded::End => {
                run.close_graph()?;
                run.tx.send(Filtered::End).map_err(|_| StageFail::Hangup)?;
                return Ok(());
            }
        }
    }
}

/// Opens the output, copies `before` in, encodes the frames, copies `after` in and finishes
/// the file; returns the frames in it.
fn encode_stage(rx: Receiver<Filtered>, output: &Output<'_>) -> Result<u64, StageFail> {
    let mut writer = Mp4Writer::create(output.path, &output.settings)?;
    if let Some(segment) = output.before {
        writer.append(segment)?;
    }
    while let Filtered::Frame(mut f, count) = rx.recv().map_err(|_| StageFail::Hangup)? {
        writer.write(&mut f, count)?;
    }
    writer.end_encoding()?;
    if let Some(segment) = output.after {
        writer.append(segment)?;
    }
    Ok(writer.finish()?)
}

#[cfg(test)]
mod tests {
    use super::upload_decoder_threads;

    #[test]
    fn the_decoder_gets_half_the_threads_when_first_and_one_more_when_alike() {
        let first: Vec<usize> = (0..=8).map(|t| upload_decoder_threads(t, 10)).collect();
        assert_eq!(first, [1, 1, 1, 1, 2, 2, 3, 3, 4]);
        let alike: Vec<usize> = (0..=8).map(|t| upload_decoder_threads(t, 0)).collect();
        assert_eq!(alike, [1, 1, 3, 4, 5, 6, 7, 8, 9]);
    }
}
