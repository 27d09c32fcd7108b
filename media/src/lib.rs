//! flightdeck's video transform, in process with FFmpeg (ffmpeg-next): intro + the first 30 s
//! of an upload + outro, each scaled and letterboxed to 1280x720 at 30 fps with a watermark,
//! encoded as H.264 MP4; plus the assets it needs and synthetic test videos.
//!
//! Runs on blocking threads (it spawns three of its own); call it from `spawn_blocking`.

mod assets;
mod bumper;
mod error;
mod ff;
mod filter;
mod fps;
mod input;
mod output;
mod pipeline;
mod priority;
mod probe;
mod rotation;
mod synth;

pub use assets::Assets;
pub use error::{FailureClass, TransformError};
pub use pipeline::{
    transform, TransformOptions, TransformStats, MAX_FPS, MAX_PIXELS, MAX_PIXEL_RATE,
};
pub use probe::{probe, MediaInfo, VideoInfo};
pub use synth::{synth_video, SynthSpec};
