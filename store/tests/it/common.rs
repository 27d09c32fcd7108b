//! Test fixtures: a fresh store per test on a temp SQLite file or in its own PostgreSQL
//! schema, plus record builders and a macro that runs one test body on both backends.

use std::io::Write;
use std::sync::Once;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::{NewUser, NewVideo, Store, Video};
use uuid::Uuid;

pub const PG_URL_VAR: &str = "FLIGHTDECK_TEST_POSTGRES_URL";

/// A store that lives as long as the test: its temp dir, or its PostgreSQL schema.
pub struct TestDb {
    pub store: Store,
    place: Place,
}

enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl TestDb {
    /// Closes the store and drops a PostgreSQL schema (a failed test leaves its schema
    /// behind in the throwaway cluster, for inspection).
    pub async fn finish(self) {
        self.store.close().await;
        if let Place::Postgres { admin_url, schema } = self.place {
            let mut conn = PgConnection::connect(&admin_url)
                .await
                .expect("admin connect");
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .expect("drop test schema");
        }
    }
}

pub fn temp_sqlite_url() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("data/store.db").display());
    (dir, url)
}

pub async fn sqlite() -> TestDb {
    let (dir, url) = temp_sqlite_url();
    let store = Store::connect(&url).await.expect("open SQLite store");
    TestDb {
        store,
        place: Place::Sqlite(dir),
    }
}

/// The PostgreSQL server to test against, or `None` (with a note) when none is configured.
/// Under `CI=true` a missing server is a failure: a skipped test there cannot fail.
pub fn postgres_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "{PG_URL_VAR} is not set but CI=true: the PostgreSQL tests must run in CI. \
             Start a server with `scripts/pg-test-server.sh` and export its URL."
        ),
        _ => {
            static NOTE: Once = Once::new();
            NOTE.call_once(|| {
                // Straight to stderr: libtest captures print macros of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {PG_URL_VAR} is not set; PostgreSQL tests are SKIPPED \
                     (run `export {PG_URL_VAR}=$(scripts/pg-test-server.sh)` to include them)"
                );
            });
            None
        }
    }
}

/// A store in a fresh schema of the configured PostgreSQL database.
pub async fn postgres() -> Option<TestDb> {
    let admin_url = postgres_url()?;
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but unusable: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    conn.close().await.expect("close admin connection");
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options[search_path]={schema}");
    let store = Store::connect(&url).await.expect("open PostgreSQL store");
    Some(TestDb {
        store,
        place: Place::Postgres { admin_url, schema },
    })
}

/// `on_both!(name, ...)`: for each `async fn name(store: &Store)`, a module `name` with
/// tests `sqlite` and `postgres`, each on a fresh store.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = crate::common::sqlite().await;
                super::$name(&db.store).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = crate::common::postgres().await {
                    super::$name(&db.store).await;
                    db.finish().await;
                }
            }
        }
    )*};
}

pub fn new_user(email: &str, city: Option<&str>) -> NewUser {
    let local = email.split('@').next().unwrap_or(email);
    NewUser {
        email: email.to_owned(),
        first_name: format!("First-{local}"),
        last_name: format!("Last-{local}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        city: city.map(str::to_owned),
        country: city.map(|_| "Colombia".to_owned()),
    }
}

pub fn new_video(owner: Uuid, title: &str) -> NewVideo {
    let id = Uuid::new_v4();
    NewVideo {
        id,
        owner_id: owner,
        title: title.to_owned(),
        source_key: format!("uploads/2026/01/02/{id}.mp4"),
        original_filename: format!("{title}.mp4"),
        size_bytes: 4 * 1024 * 1024,
        content_type: "video/mp4".to_owned(),
        correlation_id: format!("corr-{title}"),
    }
}

pub fn processed_key(id: Uuid) -> String {
    format!("processed/2026/01/02/{id}.mp4")
}

/// A user, created.
pub async fn user(store: &Store, email: &str, city: Option<&str>) -> Uuid {
    store
        .create_user(new_user(email, city))
        .await
        .expect("create user")
        .id
}

/// A video, created and taken through processing to `processed`.
pub async fn processed_video(store: &Store, owner: Uuid, title: &str) -> Video {
    let video = store
        .create_video(new_video(owner, title))
        .await
        .expect("create video");
    store.mark_processing(video.id).await.expect("processing");
    store
        .mark_processed(video.id, &processed_key(video.id))
        .await
        .expect("processed")
}

/// Distinct timestamps for ordering tests (the store keeps microseconds).
pub async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
}
