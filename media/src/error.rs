//! The transform's one error type, and how the worker should treat each failure (retry or DLQ).

use std::io;
use std::path::PathBuf;

use ffmpeg_next as ffmpeg;

/// What to do with a queue message whose job failed; a transform's failure decides it
/// ([`TransformError::class`]), and so does the worker's own (`worker::WorkerError::class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The machine or a service failed (disk, memory, our own assets, S3, SQS): release the
    /// message with a backoff and let SQS redeliver it (and dead-letter it after
    /// maxReceiveCount receives).
    Retryable,
    /// The message or its upload is at fault: retrying cannot help; dead-letter it at once.
    Permanent,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Retryable => "retryable",
            FailureClass::Permanent => "permanent",
        }
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("input file is empty")]
    EmptyInput,

    #[error("input is not a video container: {detail}")]
    NotAVideo { detail: String },

    #[error("input is corrupt or truncated: {detail}")]
    CorruptInput { detail: String },

    #[error("input has no video stream")]
    NoVideoStream,

    #[error("input video codec `{codec}` is not supported")]
    UnsupportedCodec { codec: String },

    #[error("input video format is not supported: {detail}")]
    UnsupportedFormat { detail: String },

    /// Frames larger than the transform decodes (`MAX_PIXELS`): a job's memory grows with
    /// the frame, and a tiny upload can declare huge ones.
    #[error(
        "input frames are too large: {width}x{height} is {:.1} million pixels, past the {:.1} million accepted",
        f64::from(*width) * f64::from(*height) / 1e6,
        *max_pixels as f64 / 1e6
    )]
    FrameTooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },

    /// More frames than the transform decodes in the part it keeps (`MAX_FPS` a second): each
    /// costs decoding time, and a tiny upload can hold a great many (still frames cost bytes
    /// apiece).
    #[error("input has more than {fps} frames a second: over {frames} frames in the part kept")]
    FrameRateTooHigh { frames: u64, fps: u32 },

    /// More pixels a second than the transform decodes over the part kept (`MAX_PIXEL_RATE`,
    /// 8K at 60 fps): frames under `MAX_PIXELS` at a rate under `MAX_FPS` can still be both
    /// large and many, and decoding time grows with the pixels.
    #[error(
        "input has more than {:.0} megapixels a second: {frames} frames of {width}x{height} within its first {seconds:.0} s",
        *pixel_rate as f64 / 1e6
    )]
    PixelRateTooHigh {
        width: u32,
        height: u32,
        frames: u64,
        seconds: f64,
        pixel_rate: u64,
    },

    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("FFmpeg failed while {stage}: {source}")]
    Ffmpeg {
        stage: &'static str,
        #[source]
        source: ffmpeg::Error,
    },

    #[error("asset {} is unusable: {detail}", path.display())]
    Asset { path: PathBuf, detail: String },

    #[error("cancelled")]
    Cancelled,

    #[error("internal error: {0}")]
    Internal(String),
}

impl TransformError {
    pub fn class(&self) -> FailureClass {
        match self {
            Self::EmptyInput
            | Self::NotAVideo { .. }
            | Self::CorruptInput { .. }
            | Self::NoVideoStream
            | Self::UnsupportedCodec { .. }
            | Self::UnsupportedFormat { .. }
            | Self::FrameTooLarge { .. }
            | Self::FrameRateTooHigh { .. }
            | Self::PixelRateTooHigh { .. } => FailureClass::Permanent,
            // Our own assets or the machine failed: not the uploader's fault.
            Self::Io { .. }
            | Self::Ffmpeg { .. }
            | Self::Asset { .. }
            | Self::Cancelled
            | Self::Internal(_) => FailureClass::Retryable,
        }
    }

    /// A short stable tag for the DLQ `failure_reason` attribute and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::EmptyInput => "empty_input",
            Self::NotAVideo { .. } => "not_a_video",
            Self::CorruptInput { .. } => "corrupt_input",
            Self::NoVideoStream => "no_video_stream",
            Self::UnsupportedCodec { .. } => "unsupported_codec",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::FrameTooLarge { .. } => "frame_too_large",
            Self::FrameRateTooHigh { .. } => "frame_rate_too_high",
            Self::PixelRateTooHigh { .. } => "pixel_rate_too_high",
            Self::Io { source, .. } => errno_reason(source.raw_os_error()),
            Self::Ffmpeg { source, .. } => match source {
                ffmpeg::Error::Other { errno } => errno_reason(Some(*errno)),
                _ => "ffmpeg_error",
            },
            Self::Asset { .. } => "asset_error",
            Self::Cancelled => "cancelled",
            Self::Internal(_) => "internal_error",
        }
    }

    pub(crate) fn ffmpeg(stage: &'static str, source: ffmpeg::Error) -> Self {
        Self::Ffmpeg { stage, source }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// An intro, outro or watermark file that cannot be read.
    pub(crate) fn asset_io(path: &std::path::Path, source: io::Error) -> Self {
        Self::Asset {
            path: path.to_owned(),
            detail: format!("reading: {source}"),
        }
    }

    /// Classifies an FFmpeg error raised while reading the *upload*: bad data is the
    /// uploader's problem, errno-style failures are the machine's.
    pub(crate) fn from_input(stage: &'static str, e: ffmpeg::Error) -> Self {
        match e {
            ffmpeg::Error::InvalidData | ffmpeg::Error::Eof => Self::CorruptInput {
                detail: format!("{stage}: {e}"),
            },
            ffmpeg::Error::Other { errno } if errno == ffmpeg::error::EINVAL => {
                Self::CorruptInput {
                    detail: format!("{stage}: {e}"),
                }
            }
            ffmpeg::Error::DecoderNotFound => Self::UnsupportedCodec {
                codec: "unknown".into(),
            },
            ffmpeg::Error::PatchWelcome | ffmpeg::Error::Experimental => Self::UnsupportedFormat {
                detail: format!("{stage}: {e}"),
            },
            _ => Self::ffmpeg(stage, e),
        }
    }
}

fn errno_reason(errno: Option<i32>) -> &'static str {
    match errno {
        Some(e) if e == ffmpeg::error::ENOSPC => "disk_full",
        Some(e) if e == ffmpeg::error::ENOMEM => "out_of_memory",
        Some(e) if e == ffmpeg::error::EMFILE || e == ffmpeg::error::ENFILE => "too_many_files",
        _ => "io_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_faults_are_permanent_and_machine_faults_retryable() {
        let permanent = [
            TransformError::EmptyInput,
            TransformError::NotAVideo { detail: "x".into() },
            TransformError::NoVideoStream,
            TransformError::FrameTooLarge {
                width: 16000,
                height: 16000,
                max_pixels: 8192 * 4320,
            },
            TransformError::FrameRateTooHigh {
                frames: 30_000,
                fps: 1000,
            },
            TransformError::PixelRateTooHigh {
                width: 7680,
                height: 4320,
                frames: 3_000,
                seconds: 31.0,
                pixel_rate: 8192 * 4320 * 60,
            },
            TransformError::from_input("decoding", ffmpeg::Error::InvalidData),
            TransformError::from_input("opening", ffmpeg::Error::DecoderNotFound),
        ];
        for e in &permanent {
            assert_eq!(e.class(), FailureClass::Permanent, "{e}");
        }
        let retryable = [
            TransformError::io("writing", "/x", io::Error::from_raw_os_error(28)),
            TransformError::from_input(
                "reading",
                ffmpeg::Error::Other {
                    errno: ffmpeg::error::ENOMEM,
                },
            ),
            TransformError::Internal("x".into()),
        ];
        for e in &retryable {
            assert_eq!(e.class(), FailureClass::Retryable, "{e}");
        }
    }

    #[test]
    fn reasons_are_stable_tags() {
        assert_eq!(
            TransformError::from_input("opening", ffmpeg::Error::DecoderNotFound).reason(),
            "unsupported_codec"
        );
        assert_eq!(
            TransformError::io(
                "writing",
                "/x",
                io::Error::from_raw_os_error(ffmpeg::error::ENOSPC)
            )
            .reason(),
            "disk_full"
        );
        assert_eq!(
            TransformError::ffmpeg(
                "muxing",
                ffmpeg::Error::Other {
                    errno: ffmpeg::error::ENOSPC
                }
            )
            .reason(),
            "disk_full"
        );
        assert_eq!(
            TransformError::ffmpeg("muxing", ffmpeg::Error::Bug).reason(),
            "ffmpeg_error"
        );
    }
}
