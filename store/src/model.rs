//! The records (users, videos, votes) as plain Rust types, and the video status machine as
//! pure, synchronous rules; nothing here talks to a database.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Where a video is in the pipeline.
///
/// `queued -> processing -> processed | failed(reason)`; `processing` may be re-entered
/// (a retry), `failed` may go back to `queued` (a redrive). `processed` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoStatus {
    Queued,
    Processing,
    Processed,
    Failed,
}

impl VideoStatus {
    pub const ALL: [VideoStatus; 4] = [
        VideoStatus::Queued,
        VideoStatus::Processing,
        VideoStatus::Processed,
        VideoStatus::Failed,
    ];

    /// The name stored in the database and shown to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStatus::Queued => "queued",
            VideoStatus::Processing => "processing",
            VideoStatus::Processed => "processed",
            VideoStatus::Failed => "failed",
        }
    }

    /// The statuses from which a video may move to `to`; the single source of the rules.
    pub fn allowed_sources(to: VideoStatus) -> &'static [VideoStatus] {
        match to {
            VideoStatus::Queued => &[VideoStatus::Failed],
            VideoStatus::Processing => &[VideoStatus::Queued, VideoStatus::Processing],
            VideoStatus::Processed => &[VideoStatus::Processing],
            VideoStatus::Failed => &[VideoStatus::Processing],
        }
    }

    pub fn can_transition_to(self, to: VideoStatus) -> bool {
        Self::allowed_sources(to).contains(&self)
    }
}

impl fmt::Display for VideoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown video status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for VideoStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VideoStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A registered user. `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    /// As entered at signup; uniqueness is case-insensitive.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// An argon2 PHC string made by the API; the store only keeps it.
    pub password_hash: String,
    pub city: Option<String>,
    pub country: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password_hash", &"<redacted>")
            .field("city", &self.city)
            .field("country", &self.country)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What signup hands the store; the store assigns `id` and `created_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
    pub city: Option<String>,
    pub country: Option<String>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password_hash", &"<redacted>")
            .field("city", &self.city)
            .field("country", &self.country)
            .finish()
    }
}

/// An uploaded video and where it is in the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub status: VideoStatus,
    /// Set while `failed`; cleared by a redrive.
    pub failure_reason: Option<String>,
    /// S3 key of the upload (`uploads/YYYY/MM/DD/<uuid>.<ext>`).
    pub source_key: String,
    /// S3 key of the result (`processed/YYYY/MM/DD/<uuid>.mp4`), set once `processed`.
    pub processed_key: Option<String>,
    pub original_filename: String,
    pub size_bytes: u64,
    pub content_type: String,
    pub correlation_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub processing_started_at: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    /// How many times processing started (each `-> processing` adds one).
    pub attempts: u32,
    /// The reason of the latest failure, permanent or retryable; unlike `failure_reason`
    /// it stays after a redrive and after a later success.
    pub last_failure: Option<String>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// What the API records once the upload is in S3. The caller picks `id`, because the S3
/// key is built from it before the row exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVideo {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub source_key: String,
    pub original_filename: String,
    pub size_bytes: u64,
    pub content_type: String,
    pub correlation_id: String,
}

/// The S3 objects a deleted video leaves for the caller to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoKeys {
    pub source_key: String,
    pub processed_key: Option<String>,
}

/// One page of a list, with the total number of matching records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// A processed video as the public listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicVideo {
    pub id: Uuid,
    pub title: String,
    pub owner_id: Uuid,
    pub owner_first_name: String,
    pub owner_last_name: String,
    /// The owner's city.
    pub city: Option<String>,
    pub processed_key: String,
    pub processed_at: DateTime<Utc>,
    pub votes: u64,
}

/// One row of the rankings: a player (video owner) and the votes their processed videos got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankingEntry {
    /// 1-based; ties are broken by earlier signup, then id, so positions are unique.
    pub position: u32,
    pub user_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub city: Option<String>,
    pub votes: u64,
}

#[cfg(test)]
mod tests {
    use super::VideoStatus::{self, *};

    #[test]
    fn transition_table() {
        let allowed = [
            (Queued, Processing),
            (Processing, Processing),
            (Processing, Processed),
            (Processing, Failed),
            (Failed, Queued),
        ];
        for from in VideoStatus::ALL {
            for to in VideoStatus::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn processed_is_final() {
        assert!(VideoStatus::ALL
            .iter()
            .all(|to| !Processed.can_transition_to(*to)));
    }

    #[test]
    fn names_round_trip() {
        for status in VideoStatus::ALL {
            assert_eq!(status.as_str().parse::<VideoStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert!("Queued".parse::<VideoStatus>().is_err());
        assert!("".parse::<VideoStatus>().is_err());
    }
}
