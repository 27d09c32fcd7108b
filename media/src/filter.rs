//! One small libavfilter graph per segment: scale to fit, letterbox, SAR 1 and the watermark
//! top-right, exactly the per-input chain of the reference command (filter thread).

use ffmpeg::{filter, format, frame};
use ffmpeg_next as ffmpeg;

/// The output frame every segment is brought to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub width: u32,
    pub height: u32,
    /// Watermark distance from the top and right edges, in pixels.
    pub margin: u32,
    pub fps: u32,
    /// Slice threads each filter may use (`threads=` on scale, pad and overlay), the same cap
    /// as the decoder's and encoder's; without it libavfilter uses one per core.
    pub threads: usize,
}

pub(crate) struct SegmentFilter {
    graph: filter::Graph,
    input: (u32, u32, format::Pixel),
}

fn pixel_name(p: format::Pixel) -> Result<&'static str, ffmpeg::Error> {
    p.descriptor()
        .map(|d| d.name())
        .ok_or(ffmpeg::Error::InvalidData)
}

fn buffer_args(f: &frame::Video, fps: u32) -> Result<String, ffmpeg::Error> {
    let sar = f.aspect_ratio();
    let (sn, sd) = if sar.numerator() > 0 && sar.denominator() > 0 {
        (sar.numerator(), sar.denominator())
    } else {
        (1, 1)
    };
    Ok(format!(
        "video_size={}x{}:pix_fmt={}:time_base=1/{fps}:frame_rate={fps}/1:pixel_aspect={sn}/{sd}",
        f.width(),
        f.height(),
        pixel_name(f.format())?
    ))
}

/// The per-segment chain; every filter that slices its work is held to `layout.threads`.
/// `rotate` (the CLI's autorotation filters) comes first: upright, then fit and pad.
fn graph_spec(layout: &Layout, rotate: Option<&str>) -> String {
    let Layout {
        width: w,
        height: h,
        margin: m,
        threads,
        ..
    } = *layout;
    let t = threads.max(1);
    let rotate = rotate.map(|r| format!("{r},")).unwrap_or_default();
    format!(
        "[in]{rotate}scale={w}:{h}:force_original_aspect_ratio=decrease:threads={t},\
         pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:threads={t},setsar=1[main];\
         [main][wm]overlay=main_w-overlay_w-{m}:{m}:threads={t}[out]"
    )
}

impl SegmentFilter {
    /// Builds the graph for frames shaped like `first`; the watermark is fed once and closed,
    /// and `overlay` repeats it over every frame (its default `eof_action=repeat`).
    pub fn new(
        first: &frame::Video,
        watermark: &frame::Video,
        layout: Layout,
        rotate: Option<&str>,
    ) -> Result<Self, ffmpeg::Error> {
        let mut graph = filter::Graph::new();
        let buffer = filter::find("buffer").ok_or(ffmpeg::Error::FilterNotFound)?;
        let sink = filter::find("buffersink").ok_or(ffmpeg::Error::FilterNotFound)?;
        graph.add(&buffer, "in", &buffer_args(first, layout.fps)?)?;
        graph.add(&buffer, "wm", &buffer_args(watermark, layout.fps)?)?;
        let mut out = graph.add(&sink, "out", "")?;
        out.set_pixel_format(format::Pixel::YUV420P);
        let spec = graph_spec(&layout, rotate);
        graph
            .output("in", 0)?
            .output("wm", 0)?
            .input("out", 0)?
            .parse(&spec)?;
        graph.validate()?;

        // The source takes the frame's buffers, so hand it a copy (160x60: negligible).
        let mut mark = watermark.clone();
        mark.set_pts(Some(0));
        let mut wm = graph.get("wm").ok_or(ffmpeg::Error::FilterNotFound)?;
        wm.source().add(&mark)?;
        wm.source().flush()?;
        Ok(Self {
            graph,
            input: (first.width(), first.height(), first.format()),
        })
    }

    /// False when a frame's shape changed mid-stream and a new graph is needed.
    pub fn accepts(&self, f: &frame::Video) -> bool {
        (f.width(), f.height(), f.format()) == self.input
    }

    /// Feeds one frame (its buffers move into the graph) with `pts` in 1/fps units.
    pub fn push(&mut self, f: &mut frame::Video, pts: i64) -> Result<(), ffmpeg::Error> {
        f.set_pts(Some(pts));
        let mut src = self.graph.get("in").ok_or(ffmpeg::Error::FilterNotFound)?;
        src.source().add(f)
    }

    /// Signals the end of this segment's frames.
    pub fn close(&mut self) -> Result<(), ffmpeg::Error> {
        let mut src = self.graph.get("in").ok_or(ffmpeg::Error::FilterNotFound)?;
        src.source().flush()
    }

    /// The next filtered frame, `false` if none is ready (or the graph has ended).
    pub fn pull(&mut self, out: &mut frame::Video) -> Result<bool, ffmpeg::Error> {
        let mut sink = self.graph.get("out").ok_or(ffmpeg::Error::FilterNotFound)?;
        match sink.sink().frame(out) {
            Ok(()) => Ok(true),
            Err(ffmpeg::Error::Eof) => Ok(false),
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn layout(threads: usize) -> Layout {
        Layout {
            width: 320,
            height: 180,
            margin: 10,
            fps: 30,
            threads,
        }
    }

    /// A 4:3 frame with a gradient, so scaling and letterboxing have real work to do.
    fn picture(width: u32, height: u32, pixel: format::Pixel) -> frame::Video {
        let mut f = frame::Video::new(pixel, width, height);
        for plane in 0..f.planes() {
            let stride = f.stride(plane);
            for (i, b) in f.data_mut(plane).iter_mut().enumerate() {
                *b = ((i % stride) * 3 + (i / stride) + plane * 50) as u8;
            }
        }
        f
    }

    fn run(threads: usize) -> frame::Video {
        crate::ff::init().unwrap();
        let mut input = picture(160, 120, format::Pixel::YUV420P);
        let watermark = picture(32, 12, format::Pixel::RGBA);
        let mut graph = SegmentFilter::new(&input, &watermark, layout(threads), None).unwrap();
        graph.push(&mut input, 0).unwrap();
        graph.close().unwrap();
        let mut out = frame::Video::empty();
        assert!(graph.pull(&mut out).unwrap(), "no frame came out");
        out
    }

    #[test]
    fn every_slicing_filter_gets_the_thread_cap() {
        let spec = graph_spec(&layout(3), None);
        for filter in ["scale=", "pad=", "overlay="] {
            let at = spec.find(filter).unwrap();
            let args = spec[at..].split([',', '[']).next().unwrap();
            assert!(args.ends_with(":threads=3"), "{filter}: {args}");
        }
        assert!(
            graph_spec(&layout(0), None).contains("threads=1"),
            "0 is taken as 1"
        );
    }

    /// FFmpeg accepts the option on each filter (a rejected one fails the graph), and the
    /// thread count changes nothing in the picture.
    #[test]
    fn capped_graphs_build_and_give_the_same_frame() {
        let one = run(1);
        let two = run(2);
        assert_eq!((one.width(), one.height()), (320, 180));
        assert_eq!(one.format(), format::Pixel::YUV420P);
        for plane in 0..one.planes() {
            assert_eq!(one.data(plane), two.data(plane), "plane {plane}");
        }
    }
}
