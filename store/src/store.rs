//! `Store`: the one handle the API and the worker use for users, videos and votes, over a
//! SQLite file (embedded default) or PostgreSQL (production), chosen by the URL.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use uuid::Uuid;

use crate::error::{constraint_kind, Entity, StoreError};
use crate::migrate;
use crate::model::{
    NewUser, NewVideo, Page, PublicVideo, RankingEntry, User, Video, VideoKeys, VideoStatus,
};
use crate::rows::{RankedUser, StatusOnly, USER_COLUMNS, VIDEO_COLUMNS};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a writer waits for another (process's) writer before giving up with `Unavailable`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// The records behind one interface. Cloning is cheap (the pool is shared); `close` on any
/// clone closes it for all.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool the store holds. The body is expanded once per
/// backend, so it is type-checked against both; SQL uses `$n` placeholders, which both accept.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

/// Timestamps are made here, not by the database, at microsecond precision (PostgreSQL's),
/// so both backends store and return exactly the same values.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn email_key(email: &str) -> String {
    email.to_lowercase()
}

impl Store {
    /// Opens the store named by `url` and brings its schema up to date.
    ///
    /// `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite:path.db` or `sqlite::memory:`;
    /// `postgres://user:pass@host:port/db` (or `postgresql://`; `?sslmode=require` for TLS,
    /// `?options[search_path]=schema` for a schema).
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url).await
        } else {
            // The URL itself is not echoed: it may hold a password.
            Err(StoreError::Config(
                "database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }

    async fn connect_sqlite(url: &str) -> Result<Store> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // One connection that never closes: the in-memory database lives as long as it.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?
        } else {
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() && !Path::new(dir).exists() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Unavailable(
                            format!("cannot create data dir {}: {e}", dir.display()).into(),
                        )
                    })?;
                }
            }
            // WAL lets readers in one process run while another process writes; NORMAL
            // sync is durable across process crashes and is WAL's usual pairing.
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            connect_sqlite_pool(options).await?
        };
        migrate::sqlite(&pool).await?;
        Ok(Store {
            backend: Backend::Sqlite(pool),
        })
    }

    async fn connect_postgres(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        migrate::postgres(&pool).await?;
        Ok(Store {
            backend: Backend::Postgres(pool),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool (for every clone); later calls fail with `Unavailable`.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    // ----- users -----

    /// Registers a user. Fails with `EmailTaken` if the email is taken in any letter case.
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let user = User {
            id: Uuid::new_v4(),
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            password_hash: new.password_hash,
            city: new.city,
            country: new.country,
            created_at: now(),
        };
        let key = email_key(&user.email);
        let sql = "INSERT INTO users (id, email, email_key, first_name, last_name, \
                   password_hash, city, country, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let result = with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(user.id)
                .bind(&user.email)
                .bind(&key)
                .bind(&user.first_name)
                .bind(&user.last_name)
                .bind(&user.password_hash)
                .bind(&user.city)
                .bind(&user.country)
                .bind(user.created_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        match result {
            Ok(_) => Ok(user),
            Err(e) if constraint_kind(&e) == Some(ErrorKind::UniqueViolation) => {
                Err(StoreError::EmailTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Looks a user up by email, in any letter case.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
        let key = email_key(email);
        Ok(with_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql)).bind(&key).fetch_optional(pool).await?
        }))
    }

    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        }))
    }

    // ----- videos -----

    /// Records an uploaded video as `queued`. Fails with `NotFound(User)` for an unknown owner.
    pub async fn create_video(&self, new: NewVideo) -> Result<Video> {
        let at = now();
        let size = i64::try_from(new.size_bytes)
            .map_err(|_| StoreError::other("size_bytes does not fit a signed 64-bit column"))?;
        let video = Video {
            id: new.id,
            owner_id: new.owner_id,
            title: new.title,
            status: VideoStatus::Queued,
            failure_reason: None,
            source_key: new.source_key,
            processed_key: None,
            original_filename: new.original_filename,
            size_bytes: new.size_bytes,
            content_type: new.content_type,
            correlation_id: new.correlation_id,
            created_at: at,
            updated_at: at,
            processing_started_at: None,
            processed_at: None,
            attempts: 0,
            last_failure: None,
            last_failure_at: None,
        };
        let sql = "INSERT INTO videos (id, owner_id, title, status, source_key, \
                   original_filename, size_bytes, content_type, correlation_id, created_at, \
                   updated_at, attempts) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 0)";
        let result = with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(video.id)
                .bind(video.owner_id)
                .bind(&video.title)
                .bind(video.status.as_str())
                .bind(&video.source_key)
                .bind(&video.original_filename)
                .bind(size)
                .bind(&video.content_type)
                .bind(&video.correlation_id)
                .bind(at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        match result {
            Ok(_) => Ok(video),
            Err(e) if constraint_kind(&e) == Some(ErrorKind::ForeignKeyViolation) => {
                Err(StoreError::NotFound(Entity::User))
            }
            Err(e) if constraint_kind(&e) == Some(ErrorKind::UniqueViolation) => Err(
                StoreError::other(format!("a video with id {} already exists", video.id)),
            ),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_video(&self, id: Uuid) -> Result<Option<Video>> {
        let sql = format!("SELECT {VIDEO_COLUMNS} FROM videos WHERE id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        }))
    }

    /// The owner's videos, newest first, and how many they have in all.
    pub async fn list_videos_by_owner(
        &self,
        owner: Uuid,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Video>> {
        let sql = format!(
            "SELECT {VIDEO_COLUMNS} FROM videos WHERE owner_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let count_sql = "SELECT COUNT(*) FROM videos WHERE owner_id = $1";
        let (items, total): (Vec<Video>, i64) = with_pool!(self, pool => {
            let items = sqlx::query_as(AssertSqlSafe(sql))
                .bind(owner)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar(count_sql).bind(owner).fetch_one(pool).await?;
            (items, total)
        });
        Ok(Page {
            items,
            total: count(total)?,
        })
    }

    /// Deletes the video and its votes; returns the S3 keys for the caller to delete.
    pub async fn delete_video(&self, id: Uuid) -> Result<VideoKeys> {
        let sql = "DELETE FROM videos WHERE id = $1 RETURNING source_key, processed_key";
        let keys: Option<VideoKeys> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        keys.ok_or(StoreError::NotFound(Entity::Video))
    }

    // ----- status transitions -----

    /// `queued -> processing`, or `processing -> processing` on a retry; counts the attempt.
    pub async fn mark_processing(&self, id: Uuid) -> Result<Video> {
        self.transition(id, VideoStatus::Processing, None).await
    }

    /// `processing -> processed`, recording where the result is.
    pub async fn mark_processed(&self, id: Uuid, processed_key: &str) -> Result<Video> {
        self.transition(id, VideoStatus::Processed, Some(processed_key))
            .await
    }

    /// `processing -> failed`, recording why (shown to the owner and the operator), also as
    /// the last failure.
    pub async fn mark_failed(&self, id: Uuid, reason: &str) -> Result<Video> {
        self.transition(id, VideoStatus::Failed, Some(reason)).await
    }

    /// `failed -> queued`: a redrive. Clears the failure reason; `attempts` keeps counting.
    pub async fn mark_queued(&self, id: Uuid) -> Result<Video> {
        self.transition(id, VideoStatus::Queued, None).await
    }

    /// A failure that does not end the video (retryable: the message comes back): recorded
    /// as the last failure while the video is `processing`; its status is unchanged.
    /// `Ok(false)` if the video is not processing (or gone): nothing recorded.
    pub async fn record_failure(&self, id: Uuid, reason: &str) -> Result<bool> {
        let sql = "UPDATE videos SET last_failure = $3, last_failure_at = $2, updated_at = $2 \
                   WHERE id = $1 AND status = 'processing'";
        let at = now();
        let done = with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(id)
                .bind(at)
                .bind(reason)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// One conditional UPDATE, so concurrent callers cannot both make the same move; if it
    /// matches nothing, a read tells `NotFound` from `InvalidTransition`.
    async fn transition(&self, id: Uuid, to: VideoStatus, detail: Option<&str>) -> Result<Video> {
        let set = match to {
            VideoStatus::Processing => {
                "attempts = attempts + 1, processing_started_at = $2, failure_reason = NULL"
            }
            VideoStatus::Processed => "processed_key = $3, processed_at = $2",
            VideoStatus::Failed => "failure_reason = $3, last_failure = $3, last_failure_at = $2",
            VideoStatus::Queued => "failure_reason = NULL",
        };
        let sources = VideoStatus::allowed_sources(to)
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        // Only our own constant status names are spliced in; values are bound.
        let sql = format!(
            "UPDATE videos SET status = '{to}', updated_at = $2, {set} \
             WHERE id = $1 AND status IN ({sources}) RETURNING {VIDEO_COLUMNS}"
        );
        let at = now();
        let updated: Option<Video> = with_pool!(self, pool => {
            let query = sqlx::query_as(AssertSqlSafe(sql)).bind(id).bind(at);
            let query = match detail {
                Some(detail) => query.bind(detail),
                None => query,
            };
            query.fetch_optional(pool).await?
        });
        if let Some(video) = updated {
            return Ok(video);
        }
        match self.status_of(id).await? {
            None => Err(StoreError::NotFound(Entity::Video)),
            Some(from) => Err(StoreError::InvalidTransition { from, to }),
        }
    }

    async fn status_of(&self, id: Uuid) -> Result<Option<VideoStatus>> {
        let sql = "SELECT status FROM videos WHERE id = $1";
        let row: Option<StatusOnly> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        Ok(row.map(|StatusOnly(status)| status))
    }

    // ----- public listing, votes, rankings -----

    /// Processed videos, most recently processed first, with their vote counts; `city`
    /// (exact match on the owner's city) narrows the list.
    pub async fn list_public(
        &self,
        city: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<PublicVideo>> {
        let sql = "SELECT v.id, v.title, v.owner_id, u.first_name, u.last_name, u.city, \
                   v.processed_key, v.processed_at, \
                   (SELECT COUNT(*) FROM votes vt WHERE vt.video_id = v.id) AS vote_count \
                   FROM videos v JOIN users u ON u.id = v.owner_id \
                   WHERE v.status = 'processed' AND ($1 IS NULL OR u.city = $1) \
                   ORDER BY v.processed_at DESC, v.id DESC LIMIT $2 OFFSET $3";
        let count_sql = "SELECT COUNT(*) FROM videos v JOIN users u ON u.id = v.owner_id \
                         WHERE v.status = 'processed' AND ($1 IS NULL OR u.city = $1)";
        let (items, total): (Vec<PublicVideo>, i64) = with_pool!(self, pool => {
            let items = sqlx::query_as(sql)
                .bind(city)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar(count_sql).bind(city).fetch_one(pool).await?;
            (items, total)
        });
        Ok(Page {
            items,
            total: count(total)?,
        })
    }

    /// One vote per user per video, for processed videos only. Fails with `AlreadyVoted`,
    /// `NotVotable` (not processed), `NotFound(Video)` or `NotFound(User)`.
    pub async fn vote(&self, user_id: Uuid, video_id: Uuid) -> Result<()> {
        // The status check and the insert are one statement, so a vote cannot slip in
        // between a check and a status change.
        let sql = "INSERT INTO votes (user_id, video_id, created_at) \
                   SELECT $1, id, $3 FROM videos WHERE id = $2 AND status = 'processed'";
        let at = now();
        let result = with_pool!(self, pool => {
            sqlx::query(sql).bind(user_id).bind(video_id).bind(at).execute(pool).await
                .map(|done| done.rows_affected())
        });
        match result {
            Ok(1) => Ok(()),
            Ok(_) => match self.status_of(video_id).await? {
                None => Err(StoreError::NotFound(Entity::Video)),
                Some(status) => Err(StoreError::NotVotable { status }),
            },
            Err(e) if constraint_kind(&e) == Some(ErrorKind::UniqueViolation) => {
                Err(StoreError::AlreadyVoted)
            }
            Err(e) if constraint_kind(&e) == Some(ErrorKind::ForeignKeyViolation) => {
                Err(StoreError::NotFound(Entity::User))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Players (owners of at least one processed video) by the votes their processed videos
    /// received, most first; `city` (exact match) narrows it.
    pub async fn rankings(&self, city: Option<&str>, limit: u32) -> Result<Vec<RankingEntry>> {
        let sql = "SELECT u.id, u.first_name, u.last_name, u.city, u.created_at, \
                   COUNT(vt.video_id) AS vote_count \
                   FROM users u \
                   JOIN videos v ON v.owner_id = u.id AND v.status = 'processed' \
                   LEFT JOIN votes vt ON vt.video_id = v.id \
                   WHERE ($1 IS NULL OR u.city = $1) \
                   GROUP BY u.id, u.first_name, u.last_name, u.city, u.created_at \
                   ORDER BY vote_count DESC, u.created_at ASC, u.id ASC \
                   LIMIT $2";
        let rows: Vec<RankedUser> = with_pool!(self, pool => {
            sqlx::query_as(sql).bind(city).bind(i64::from(limit)).fetch_all(pool).await?
        });
        rows.into_iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(RankingEntry {
                    position: u32::try_from(i + 1)
                        .map_err(|_| StoreError::other("ranking position overflow"))?,
                    user_id: r.user_id,
                    first_name: r.first_name,
                    last_name: r.last_name,
                    city: r.city,
                    votes: r.votes,
                })
            })
            .collect()
    }
}

fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::other(format!("negative count {n}")))
}

/// Opens a file-backed pool. Switching a new file to WAL takes a lock that the busy timeout
/// does not wait for, so a process starting beside another may see `SQLITE_BUSY` once: retry.
async fn connect_sqlite_pool(options: SqliteConnectOptions) -> Result<SqlitePool> {
    let mut attempt = 0u32;
    loop {
        let result = SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await;
        match result {
            Ok(pool) => return Ok(pool),
            Err(e) if attempt < 4 && crate::error::is_transient(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
