//! The store's one error type: typed outcomes the API maps to status codes, plus a
//! retryable/permanent split (`Unavailable` vs the rest) that the worker acts on.

use std::fmt;

use sqlx::error::DatabaseError;

use crate::model::VideoStatus;

/// Boxed source error, so callers need not depend on sqlx.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which record an operation did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    User,
    Video,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::User => "user",
            Entity::Video => "video",
        })
    }
}

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (suggested HTTP mapping: 404).
    #[error("{0} not found")]
    NotFound(Entity),
    /// Another user already has this email, compared case-insensitively (400/409).
    #[error("email is already registered")]
    EmailTaken,
    /// The user has already voted for this video (400/409).
    #[error("user has already voted for this video")]
    AlreadyVoted,
    /// Only processed (public) videos take votes; the API may treat this as 404.
    #[error("video is {status}; only processed videos can be voted for")]
    NotVotable { status: VideoStatus },
    /// The requested status change is not allowed from the current status (409).
    #[error("invalid status transition from {from} to {to}")]
    InvalidTransition { from: VideoStatus, to: VideoStatus },
    /// Connection, pool, lock or I/O trouble: retry later (503).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The database URL or options are unusable; fix the configuration.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// Anything else: a bug, a schema mismatch, a failed migration (500).
    #[error("store error: {0}")]
    Other(#[source] BoxError),
}

impl StoreError {
    /// True when the same call may succeed later (the database was busy or unreachable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        StoreError::Other(message.into().into())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_transient(&err) {
            StoreError::Unavailable(Box::new(err))
        } else {
            StoreError::Other(Box::new(err))
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError as M;
        let transient = match &err {
            M::Execute(e) | M::ExecuteMigration(e, _) => is_transient(e),
            _ => false,
        };
        if transient {
            StoreError::Unavailable(Box::new(err))
        } else {
            StoreError::Other(Box::new(err))
        }
    }
}

/// The constraint a database error reports, if any (used to map to typed errors).
pub(crate) fn constraint_kind(err: &sqlx::Error) -> Option<sqlx::error::ErrorKind> {
    match err {
        sqlx::Error::Database(db) => Some(db.kind()),
        _ => None,
    }
}

/// Whether a sqlx error is about reaching the database rather than about the request.
pub(crate) fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                pg_sqlstate_is_transient(pg.code())
            } else if let Some(lite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                lite.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(sqlite_code_is_transient)
            } else {
                false
            }
        }
        sqlx::Error::Migrate(m) => matches!(
            m.as_ref(),
            sqlx::migrate::MigrateError::Execute(e)
                | sqlx::migrate::MigrateError::ExecuteMigration(e, _) if is_transient(e)
        ),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs worth retrying: connection loss, shutdown/failover, overload,
/// serialization conflicts and timeouts.
fn pg_sqlstate_is_transient(code: &str) -> bool {
    code.starts_with("08") // connection_exception
        || code.starts_with("53") // insufficient_resources (too_many_connections, ...)
        || code.starts_with("58") // system_error, io_error
        || matches!(
            code,
            "40001" // serialization_failure
                | "40P01" // deadlock_detected
                | "55P03" // lock_not_available
                | "57014" // query_canceled (statement_timeout)
                | "57P01" // admin_shutdown
                | "57P02" // crash_shutdown
                | "57P03" // cannot_connect_now
                | "25006" // read_only_sql_transaction (talking to a demoted primary)
        )
}

/// SQLite result codes (extended codes carry the primary code in the low byte).
fn sqlite_code_is_transient(code: i32) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    matches!(code & 0xff, BUSY | LOCKED | IOERR | FULL | CANTOPEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable() {
        assert!(StoreError::Unavailable("x".into()).is_retryable());
        for err in [
            StoreError::NotFound(Entity::Video),
            StoreError::EmailTaken,
            StoreError::AlreadyVoted,
            StoreError::NotVotable {
                status: VideoStatus::Queued,
            },
            StoreError::InvalidTransition {
                from: VideoStatus::Processed,
                to: VideoStatus::Processing,
            },
            StoreError::Config("bad".into()),
            StoreError::other("boom"),
        ] {
            assert!(!err.is_retryable(), "{err}");
        }
    }

    #[test]
    fn sqlx_errors_are_classified() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_retryable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(StoreError::from(sqlx::Error::Io(io)).is_retryable());
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_retryable());
        assert!(!StoreError::from(sqlx::Error::Protocol("x".into())).is_retryable());
    }

    #[test]
    fn sqlstates_and_sqlite_codes() {
        for code in [
            "08006", "08001", "53300", "57P01", "40001", "40P01", "57014",
        ] {
            assert!(pg_sqlstate_is_transient(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "22P02"] {
            assert!(!pg_sqlstate_is_transient(code), "{code}");
        }
        assert!(sqlite_code_is_transient(5)); // SQLITE_BUSY
        assert!(sqlite_code_is_transient(517)); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_code_is_transient(262)); // SQLITE_LOCKED_SHAREDCACHE
        assert!(!sqlite_code_is_transient(2067)); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_code_is_transient(1)); // SQLITE_ERROR
    }

    #[test]
    fn messages_name_the_states() {
        let err = StoreError::InvalidTransition {
            from: VideoStatus::Processed,
            to: VideoStatus::Queued,
        };
        assert_eq!(
            err.to_string(),
            "invalid status transition from processed to queued"
        );
        assert_eq!(
            StoreError::NotFound(Entity::User).to_string(),
            "user not found"
        );
    }
}
