//! Decoding result rows into the records, by column name, once for each backend
//! (SQLite and PostgreSQL rows), from one body per record.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row};
use uuid::Uuid;

use crate::model::{PublicVideo, User, Video, VideoKeys, VideoStatus};

/// The column list every query that returns a whole `Video` selects.
pub(crate) const VIDEO_COLUMNS: &str = "id, owner_id, title, status, failure_reason, \
    source_key, processed_key, original_filename, size_bytes, content_type, correlation_id, \
    created_at, updated_at, processing_started_at, processed_at, attempts, last_failure, \
    last_failure_at";

pub(crate) const USER_COLUMNS: &str =
    "id, email, first_name, last_name, password_hash, city, country, created_at";

/// Implements `FromRow` for both backends' rows with the same body.
macro_rules! from_row_for_both {
    ($ty:ty, |$row:ident| $body:block) => {
        impl<'r> FromRow<'r, SqliteRow> for $ty {
            fn from_row($row: &'r SqliteRow) -> Result<Self, sqlx::Error> $body
        }
        impl<'r> FromRow<'r, PgRow> for $ty {
            fn from_row($row: &'r PgRow) -> Result<Self, sqlx::Error> $body
        }
    };
}

fn decode_error(
    column: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(source),
    }
}

fn status(column: &str, raw: String) -> Result<VideoStatus, sqlx::Error> {
    raw.parse().map_err(|e| decode_error(column, e))
}

fn unsigned<T: TryFrom<i64, Error = std::num::TryFromIntError>>(
    column: &str,
    raw: i64,
) -> Result<T, sqlx::Error> {
    T::try_from(raw).map_err(|e| decode_error(column, e))
}

from_row_for_both!(User, |row| {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        password_hash: row.try_get("password_hash")?,
        city: row.try_get("city")?,
        country: row.try_get("country")?,
        created_at: row.try_get("created_at")?,
    })
});

from_row_for_both!(Video, |row| {
    Ok(Video {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        title: row.try_get("title")?,
        status: status("status", row.try_get("status")?)?,
        failure_reason: row.try_get("failure_reason")?,
        source_key: row.try_get("source_key")?,
        processed_key: row.try_get("processed_key")?,
        original_filename: row.try_get("original_filename")?,
        size_bytes: unsigned("size_bytes", row.try_get("size_bytes")?)?,
        content_type: row.try_get("content_type")?,
        correlation_id: row.try_get("correlation_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        processing_started_at: row.try_get("processing_started_at")?,
        processed_at: row.try_get("processed_at")?,
        attempts: unsigned("attempts", i64::from(row.try_get::<i32, _>("attempts")?))?,
        last_failure: row.try_get("last_failure")?,
        last_failure_at: row.try_get("last_failure_at")?,
    })
});

from_row_for_both!(PublicVideo, |row| {
    Ok(PublicVideo {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        owner_id: row.try_get("owner_id")?,
        owner_first_name: row.try_get("first_name")?,
        owner_last_name: row.try_get("last_name")?,
        city: row.try_get("city")?,
        processed_key: row.try_get("processed_key")?,
        processed_at: row.try_get("processed_at")?,
        votes: unsigned("vote_count", row.try_get("vote_count")?)?,
    })
});

from_row_for_both!(VideoKeys, |row| {
    Ok(VideoKeys {
        source_key: row.try_get("source_key")?,
        processed_key: row.try_get("processed_key")?,
    })
});

/// A rankings row before its position is assigned.
pub(crate) struct RankedUser {
    pub user_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub city: Option<String>,
    pub votes: u64,
}

from_row_for_both!(RankedUser, |row| {
    Ok(RankedUser {
        user_id: row.try_get("id")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        city: row.try_get("city")?,
        votes: unsigned("vote_count", row.try_get("vote_count")?)?,
    })
});

/// Only the status column, for explaining why a conditional update matched nothing.
pub(crate) struct StatusOnly(pub VideoStatus);

from_row_for_both!(StatusOnly, |row| {
    Ok(StatusOnly(status("status", row.try_get("status")?)?))
});
