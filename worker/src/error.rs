//! The worker's one error type and the decision every failure comes down to: retry the
//! message later (retryable) or send it to the dead-letter queue now (permanent).

use std::fmt;
use std::path::PathBuf;

use stack::errors::{AwsFailure, ErrorClass};
use stack::MessageError;
use store::{StoreError, VideoStatus};
use uuid::Uuid;

/// What to do with a message whose job failed: retry it later or dead-letter it now.
pub use media::FailureClass;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The body is not a v1 task.
    #[error("bad message: {0}")]
    BadMessage(#[from] MessageError),

    /// The message names a video the store does not know (deleted, or never recorded).
    #[error("video {0} does not exist")]
    VideoNotFound(Uuid),

    /// The store refuses to start processing from the video's status. With today's statuses
    /// nothing reaches this (queued and processing start, processed is a no-op, failed is a
    /// redrive and tried again); it keeps a status added later from being processed by accident.
    #[error("video {id} cannot be processed from status {status}")]
    VideoNotProcessable { id: Uuid, status: VideoStatus },

    /// The upload is not (yet) there. Retryable: the API may still be storing it, and an
    /// object that never appears is dead-lettered by SQS after maxReceiveCount receives.
    #[error("source object {uri} does not exist")]
    SourceMissing { uri: String },

    #[error("S3 {op} failed: {failure}")]
    S3 {
        op: &'static str,
        failure: AwsFailure,
    },

    #[error("SQS {op} failed: {failure}")]
    Sqs {
        op: &'static str,
        failure: AwsFailure,
    },

    /// The download did not deliver the bytes the object's size promised.
    #[error("download of {uri} was short: {detail}")]
    ShortDownload { uri: String, detail: String },

    #[error("transform failed: {0}")]
    Transform(#[from] media::TransformError),

    #[error("{0}")]
    Store(#[from] StoreError),

    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The job was stopped because the worker is shutting down; its message is released.
    #[error("stopped by shutdown")]
    Shutdown,

    /// Unusable configuration (queue not found, bad settings); the worker cannot start.
    #[error("{0}")]
    Config(String),
}

impl WorkerError {
    pub fn class(&self) -> FailureClass {
        match self {
            WorkerError::BadMessage(_)
            | WorkerError::VideoNotFound(_)
            | WorkerError::VideoNotProcessable { .. } => FailureClass::Permanent,
            WorkerError::Transform(e) => e.class(),
            // Infrastructure (S3, SQS, the database, the local disk) is never the message's
            // fault; if it stays broken, maxReceiveCount moves the message to the DLQ.
            WorkerError::SourceMissing { .. }
            | WorkerError::S3 { .. }
            | WorkerError::Sqs { .. }
            | WorkerError::ShortDownload { .. }
            | WorkerError::Store(_)
            | WorkerError::Io { .. }
            | WorkerError::Shutdown
            | WorkerError::Config(_) => FailureClass::Retryable,
        }
    }

    /// A short stable tag: the DLQ's `failure_reason` attribute, the video's failure reason
    /// and the logs' `reason` field.
    pub fn reason(&self) -> &'static str {
        match self {
            WorkerError::BadMessage(e) => e.code(),
            WorkerError::VideoNotFound(_) => "video_not_found",
            WorkerError::VideoNotProcessable { .. } => "video_not_processable",
            WorkerError::SourceMissing { .. } => "source_missing",
            WorkerError::S3 { failure, .. } => aws_reason("s3", failure.class),
            WorkerError::Sqs { failure, .. } => aws_reason("sqs", failure.class),
            WorkerError::ShortDownload { .. } => "s3_short_download",
            WorkerError::Transform(e) => e.reason(),
            WorkerError::Store(e) if e.is_retryable() => "database_unavailable",
            WorkerError::Store(_) => "database_error",
            WorkerError::Io { .. } => "local_io_error",
            WorkerError::Shutdown => "shutdown",
            WorkerError::Config(_) => "config_error",
        }
    }

    pub(crate) fn s3<E, R>(op: &'static str, err: &aws_sdk_s3::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: stack::errors::HttpStatus + fmt::Debug + 'static,
    {
        WorkerError::S3 {
            op,
            failure: stack::errors::describe(err),
        }
    }

    pub(crate) fn sqs<E, R>(op: &'static str, err: &aws_sdk_sqs::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: stack::errors::HttpStatus + fmt::Debug + 'static,
    {
        WorkerError::Sqs {
            op,
            failure: stack::errors::describe(err),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WorkerError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

fn aws_reason(service: &'static str, class: ErrorClass) -> &'static str {
    match (service, class) {
        ("s3", ErrorClass::Throttled) => "s3_throttled",
        ("s3", ErrorClass::Auth) => "s3_auth",
        ("s3", ErrorClass::Permanent | ErrorClass::NotImplemented) => "s3_error",
        ("s3", _) => "s3_unavailable",
        (_, ErrorClass::Throttled) => "sqs_throttled",
        (_, ErrorClass::Auth) => "sqs_auth",
        (_, ErrorClass::Permanent | ErrorClass::NotImplemented) => "sqs_error",
        _ => "sqs_unavailable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(class: ErrorClass) -> AwsFailure {
        AwsFailure {
            class,
            code: None,
            message: "x".into(),
            status: None,
            unreachable: false,
        }
    }

    #[test]
    fn the_message_and_the_upload_are_permanent_infrastructure_is_retryable() {
        let permanent = [
            WorkerError::BadMessage(MessageError::MissingVersion),
            WorkerError::VideoNotFound(Uuid::nil()),
            WorkerError::Transform(media::TransformError::NoVideoStream),
            WorkerError::Transform(media::TransformError::NotAVideo { detail: "t".into() }),
        ];
        for e in &permanent {
            assert_eq!(e.class(), FailureClass::Permanent, "{e}");
        }
        let retryable = [
            WorkerError::SourceMissing {
                uri: "s3://b/k".into(),
            },
            WorkerError::S3 {
                op: "GetObject",
                failure: failure(ErrorClass::Permanent),
            },
            WorkerError::Store(StoreError::Unavailable("down".into())),
            WorkerError::Transform(media::TransformError::Cancelled),
            WorkerError::Shutdown,
        ];
        for e in &retryable {
            assert_eq!(e.class(), FailureClass::Retryable, "{e}");
        }
    }

    #[test]
    fn reasons_are_stable_tags() {
        assert_eq!(
            WorkerError::BadMessage(MessageError::NotJson("x".into())).reason(),
            "message_not_json"
        );
        assert_eq!(
            WorkerError::Transform(media::TransformError::EmptyInput).reason(),
            "empty_input"
        );
        assert_eq!(
            WorkerError::Store(StoreError::Unavailable("down".into())).reason(),
            "database_unavailable"
        );
        assert_eq!(
            WorkerError::S3 {
                op: "GetObject",
                failure: failure(ErrorClass::Throttled)
            }
            .reason(),
            "s3_throttled"
        );
        assert_eq!(
            WorkerError::Sqs {
                op: "ChangeMessageVisibility",
                failure: failure(ErrorClass::Retryable)
            }
            .reason(),
            "sqs_unavailable"
        );
    }
}
