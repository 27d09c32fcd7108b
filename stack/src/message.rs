//! The `video_tasks` queue message, version 1: plain JSON that the API publishes and the
//! worker consumes (`{"v":1,"video_id":..,"source":"s3://..","correlation_id":..,"submitted_at":..}`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The only message version this build understands.
pub const CURRENT_VERSION: u64 = 1;

/// One job: transform the uploaded video at `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoTask {
    pub v: u64,
    pub video_id: Uuid,
    pub source: S3Uri,
    pub correlation_id: String,
    pub submitted_at: DateTime<Utc>,
}

/// Why a message body is not a usable v1 task. Every variant is a permanent failure:
/// redelivering the same bytes cannot fix it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MessageError {
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    #[error("message has no version field \"v\"")]
    MissingVersion,
    #[error("message version {0} is not supported; this build reads version {CURRENT_VERSION}")]
    UnsupportedVersion(String),
    #[error("message field {field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl MessageError {
    /// A short stable code, for the DLQ's `failure_reason` attribute and for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::NotJson(_) => "message_not_json",
            MessageError::MissingVersion => "message_missing_version",
            MessageError::UnsupportedVersion(_) => "message_unsupported_version",
            MessageError::Invalid { .. } => "message_invalid",
        }
    }
}

impl VideoTask {
    pub fn new(video_id: Uuid, source: S3Uri, correlation_id: impl Into<String>) -> VideoTask {
        VideoTask {
            v: CURRENT_VERSION,
            video_id,
            source,
            correlation_id: correlation_id.into(),
            submitted_at: Utc::now(),
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings, a UUID and a timestamp cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse a message body. The version is checked before the rest, so a future version's
    /// message fails as "unsupported version", not as a confusing field error.
    /// Unknown extra fields are ignored so that producers can add optional fields first.
    pub fn parse(body: &str) -> Result<VideoTask, MessageError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| MessageError::NotJson(e.to_string()))?;
        match value.get("v") {
            None => return Err(MessageError::MissingVersion),
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(CURRENT_VERSION) => {}
            Some(other) => return Err(MessageError::UnsupportedVersion(other.to_string())),
        }
        let task: VideoTask =
            serde_path_to_error::deserialize(value).map_err(|e| MessageError::Invalid {
                field: e.path().to_string(),
                reason: e.into_inner().to_string(),
            })?;
        if task.correlation_id.is_empty() {
            return Err(MessageError::Invalid {
                field: "correlation_id".into(),
                reason: "must not be empty".into(),
            });
        }
        Ok(task)
    }
}

/// An `s3://bucket/key` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

impl S3Uri {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> S3Uri {
        S3Uri {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    pub fn parse(s: &str) -> Result<S3Uri, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{s:?} does not start with s3://"))?;
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                Ok(S3Uri::new(bucket, key))
            }
            _ => Err(format!("{s:?} is not s3://<bucket>/<key>")),
        }
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl Serialize for S3Uri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for S3Uri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<S3Uri, D::Error> {
        let s = String::deserialize(d)?;
        S3Uri::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The object key for an upload or its processed output: `<prefix>YYYY/MM/DD/<uuid>.<ext>`.
pub fn dated_key(prefix: &str, at: DateTime<Utc>, id: Uuid, ext: &str) -> String {
    format!("{prefix}{}/{id}.{ext}", at.format("%Y/%m/%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> VideoTask {
        VideoTask {
            v: 1,
            video_id: Uuid::parse_str("3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f").unwrap(),
            source: S3Uri::new("flightdeck-videos", "uploads/2026/11/22/3f1c2a8e.mp4"),
            correlation_id: "req-42".into(),
            submitted_at: Utc.with_ymd_and_hms(2026, 11, 22, 13, 0, 0).unwrap(),
        }
    }

    #[test]
    fn round_trips_and_has_the_documented_shape() {
        let t = sample();
        let json = t.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["video_id"], "3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f");
        assert_eq!(
            v["source"],
            "s3://flightdeck-videos/uploads/2026/11/22/3f1c2a8e.mp4"
        );
        assert_eq!(v["correlation_id"], "req-42");
        assert_eq!(v["submitted_at"], "2026-11-22T13:00:00Z");
        assert_eq!(VideoTask::parse(&json).unwrap(), t);
    }

    #[test]
    fn parses_the_workload_example_with_extra_fields() {
        let body = r#"{"v":1,"video_id":"3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f",
            "source":"s3://b/uploads/x.mp4","correlation_id":"c","submitted_at":"2026-11-22T13:00:00+01:00",
            "priority":"high"}"#;
        let t = VideoTask::parse(body).unwrap();
        assert_eq!(t.source.bucket, "b");
        assert_eq!(t.source.key, "uploads/x.mp4");
        assert_eq!(
            t.submitted_at,
            Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn unknown_version_is_a_clear_error() {
        let body = sample().to_json().replace("\"v\":1", "\"v\":2");
        let err = VideoTask::parse(&body).unwrap_err();
        assert_eq!(err, MessageError::UnsupportedVersion("2".into()));
        assert_eq!(
            err.to_string(),
            "message version 2 is not supported; this build reads version 1"
        );
        assert_eq!(err.code(), "message_unsupported_version");
    }

    #[test]
    fn bad_bodies_are_classified() {
        assert!(matches!(
            VideoTask::parse("hello"),
            Err(MessageError::NotJson(_))
        ));
        assert_eq!(VideoTask::parse("{}"), Err(MessageError::MissingVersion));
        // Celery's base64 envelope, as the original system sent it.
        assert!(matches!(
            VideoTask::parse("\"eyJ2IjoxfQ==\""),
            Err(MessageError::MissingVersion)
        ));
        let bad_uuid = sample().to_json().replace("3f1c2a8e-5b0d", "zz");
        assert!(matches!(
            VideoTask::parse(&bad_uuid),
            Err(MessageError::Invalid { field, .. }) if field == "video_id"
        ));
        let bad_source = sample().to_json().replace("s3://", "https://");
        assert!(matches!(
            VideoTask::parse(&bad_source),
            Err(MessageError::Invalid { field, .. }) if field == "source"
        ));
    }

    #[test]
    fn s3_uris_parse_strictly() {
        assert_eq!(
            S3Uri::parse("s3://b/k/x.mp4").unwrap(),
            S3Uri::new("b", "k/x.mp4")
        );
        assert!(S3Uri::parse("s3://b").is_err());
        assert!(S3Uri::parse("s3:///k").is_err());
        assert!(S3Uri::parse("b/k").is_err());
    }

    #[test]
    fn dated_keys_follow_the_workload_layout() {
        let id = Uuid::parse_str("3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            dated_key("processed/", at, id, "mp4"),
            "processed/2026/01/02/3f1c2a8e-5b0d-4c8e-9a51-0d2b3c4d5e6f.mp4"
        );
    }
}
