//! Fixtures: a state on a fresh database (SQLite file or PostgreSQL schema) and a cloud
//! (a provisioned emulator, or a dead endpoint), request helpers, and S3/SQS inspections.

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use api::{app, AppState, Config, JwtSecret};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use local_cloud::testing::TestCloud;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use stack::{Clients, Stack};
use store::Store;
use tower::ServiceExt;
use uuid::Uuid;

pub const PG_URL_VAR: &str = "FLIGHTDECK_TEST_POSTGRES_URL";
/// An address nothing listens on: every AWS call fails as unreachable.
pub const DEAD_ENDPOINT: &str = "http://127.0.0.1:9";

pub enum Db {
    Sqlite,
    Postgres,
}

enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

pub struct Harness {
    pub app: Router,
    pub state: AppState,
    pub store: Store,
    pub cloud: Option<TestCloud>,
    pub stack: Stack,
    place: Place,
}

/// Cheap argon2 so that tests are not dominated by hashing; the algorithm is the same.
pub fn test_config() -> Config {
    Config {
        password_params: argon2::Params::new(1024, 1, 1, None).expect("argon2 params"),
        ..Config::default()
    }
}

pub fn postgres_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{PG_URL_VAR} is not set but CI=true: the PostgreSQL tests must run in CI")
        }
        _ => {
            static NOTE: Once = Once::new();
            NOTE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {PG_URL_VAR} is not set; the API's PostgreSQL tests are SKIPPED"
                );
            });
            None
        }
    }
}

async fn open_db(db: Db) -> Option<(Store, Place)> {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("api.db").display());
            let store = Store::connect(&url).await.expect("open SQLite");
            Some((store, Place::Sqlite(dir)))
        }
        Db::Postgres => {
            let admin_url = postgres_url()?;
            let schema = format!("t_{}", Uuid::new_v4().simple());
            let mut conn = PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but unusable: {e}"));
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create schema");
            conn.close().await.expect("close");
            let sep = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{sep}options[search_path]={schema}");
            let store = Store::connect(&url).await.expect("open PostgreSQL");
            Some((store, Place::Postgres { admin_url, schema }))
        }
    }
}

pub async fn dead_clients(stack: &Stack) -> Clients {
    Clients::connect(
        &local_cloud::aws_options(DEAD_ENDPOINT, &stack.region),
        &stack.region,
    )
    .await
}

impl Harness {
    /// A state on `db` with a provisioned emulator; `None` when the backend is not configured.
    pub async fn with_cloud(db: Db, config: Config) -> Option<Harness> {
        let (store, place) = open_db(db).await?;
        let cloud = TestCloud::provisioned().await;
        let clients = cloud.clients.clone();
        Some(Harness::build(store, place, Some(cloud), &clients, config))
    }

    /// A state on `db` whose AWS endpoint is dead (for routes that only use the store).
    pub async fn without_cloud(db: Db) -> Option<Harness> {
        let (store, place) = open_db(db).await?;
        let stack = Stack::embedded().expect("stack");
        let clients = dead_clients(&stack).await;
        Some(Harness::build(store, place, None, &clients, test_config()))
    }

    /// Same emulator and database, different clients (to make one service unreachable).
    pub fn rewire(self, clients: &Clients, config: Config) -> Harness {
        Harness::build(self.store, self.place, self.cloud, clients, config)
    }

    fn build(
        store: Store,
        place: Place,
        cloud: Option<TestCloud>,
        clients: &Clients,
        config: Config,
    ) -> Harness {
        let stack = Stack::embedded().expect("stack");
        let state = AppState::new(store.clone(), clients, &stack, &JwtSecret::random(), config);
        Harness {
            app: app(state.clone()),
            state,
            store,
            cloud,
            stack,
            place,
        }
    }

    /// The app on a real socket on 127.0.0.1, for clients that speak raw HTTP (slow or
    /// refused bodies, the fuzzer): its address and the server task (abort it when done).
    pub async fn serve(
        &self,
    ) -> (
        std::net::SocketAddr,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        use std::future::IntoFuture;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, self.app.clone()).into_future());
        (addr, server)
    }

    pub fn cloud(&self) -> &TestCloud {
        self.cloud.as_ref().expect("this harness has a cloud")
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Place::Postgres { admin_url, schema } = self.place {
            let mut conn = PgConnection::connect(&admin_url).await.expect("admin");
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .expect("drop schema");
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sign up and log in; returns (user id, access token, refresh token).
    pub async fn user(&self, email: &str, city: Option<&str>) -> (Uuid, String, String) {
        let r = self
            .send(json_post(
                "/auth/signup",
                serde_json::json!({"first_name": "Ana", "last_name": email, "email": email,
                    "password1": "correct horse", "password2": "correct horse", "city": city}),
            ))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id = Uuid::parse_str(r.json()["id"].as_str().expect("id")).expect("uuid");
        let r = self.send(login(email, "correct horse")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        (
            id,
            v["access_token"].as_str().expect("access").to_owned(),
            v["refresh_token"].as_str().expect("refresh").to_owned(),
        )
    }

    // ----- what is left in S3 and SQS -----

    /// Every object version and delete marker under the uploads prefix.
    pub async fn stored_versions(&self) -> usize {
        let out = self
            .cloud()
            .clients
            .s3
            .list_object_versions()
            .bucket(&self.stack.bucket.name)
            .prefix(&self.stack.bucket.uploads_prefix)
            .send()
            .await
            .expect("list versions");
        out.versions().len() + out.delete_markers().len()
    }

    pub async fn pending_multipart_uploads(&self) -> usize {
        let out = self
            .cloud()
            .clients
            .s3
            .list_multipart_uploads()
            .bucket(&self.stack.bucket.name)
            .send()
            .await
            .expect("list multipart uploads");
        out.uploads().len()
    }

    /// Receive (and so hide) every message now on the task queue.
    pub async fn drain_messages(&self) -> Vec<String> {
        let sqs = &self.cloud().clients.sqs;
        let url = sqs
            .get_queue_url()
            .queue_name(&self.stack.queues.tasks.name)
            .send()
            .await
            .expect("queue url")
            .queue_url
            .expect("url");
        let mut bodies = Vec::new();
        loop {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            let msgs = out.messages();
            if msgs.is_empty() {
                return bodies;
            }
            bodies.extend(msgs.iter().filter_map(|m| m.body().map(str::to_owned)));
        }
    }

    /// Exactly `n` of `owner`'s uploads went through, and nothing of any other is left: `n`
    /// rows, `n` stored versions, `n` queued messages (received, so hidden after this), and
    /// no multipart upload left open.
    pub async fn assert_stored_exactly(&self, owner: Uuid, n: usize) {
        assert_eq!(self.rows_of(owner).await.len(), n, "rows");
        assert_eq!(self.stored_versions().await, n, "stored versions");
        assert_eq!(
            self.pending_multipart_uploads().await,
            0,
            "open multipart uploads"
        );
        assert_eq!(self.drain_messages().await.len(), n, "queued messages");
    }

    pub async fn rows_of(&self, owner: Uuid) -> Vec<store::Video> {
        self.store
            .list_videos_by_owner(owner, 100, 0)
            .await
            .expect("list")
            .items
    }

    /// Give cleanup spawned by dropped requests a moment (only used where that matters).
    pub async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn code(&self) -> String {
        self.json()["error_code"].as_str().unwrap_or("").to_owned()
    }
}

pub fn json_post(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

pub fn login(email: &str, password: &str) -> Request<Body> {
    let form = format!(
        "username={}&password={}",
        email.replace('@', "%40").replace('+', "%2B"),
        password.replace(' ', "+")
    );
    Request::post("/auth/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request")
}

pub fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    with_token(Request::get(uri), token)
        .body(Body::empty())
        .expect("request")
}

pub fn delete(uri: &str, token: Option<&str>) -> Request<Body> {
    with_token(Request::delete(uri), token)
        .body(Body::empty())
        .expect("request")
}

pub fn post_empty(uri: &str, token: Option<&str>) -> Request<Body> {
    with_token(Request::post(uri), token)
        .body(Body::empty())
        .expect("request")
}

fn with_token(
    b: axum::http::request::Builder,
    token: Option<&str>,
) -> axum::http::request::Builder {
    match token {
        Some(t) => b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        None => b,
    }
}

/// One multipart part: (field name, file name, bytes).
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

pub fn upload_request(
    token: Option<&str>,
    parts: &[Part<'_>],
    correlation: Option<&str>,
) -> Request<Body> {
    let boundary = "flightdeck-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut b = with_token(Request::post("/api/videos/upload"), token).header(
        header::CONTENT_TYPE,
        format!("multipart/form-data; boundary={boundary}"),
    );
    if let Some(c) = correlation {
        b = b.header("x-correlation-id", c);
    }
    b.body(Body::from(body)).expect("request")
}

/// `len` bytes that start like an MP4 (an `ftyp` box) followed by filler.
pub fn fake_mp4(len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    v.extend((0..len.saturating_sub(v.len())).map(|i| (i % 251) as u8));
    v.truncate(len);
    v
}

/// A real, small MP4 made by the media crate (320x240, 2 s).
pub fn real_mp4() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("clip.mp4");
    media::synth_video(&path, &media::SynthSpec::default()).expect("synth video");
    std::fs::read(&path).expect("read clip")
}

/// `on_both!(name, ...)`: for each `async fn name(db: Db)`, a module with tests `sqlite`
/// and `postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::common::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::common::postgres_url().is_some() {
                    super::$name(crate::common::Db::Postgres).await;
                }
            }
        }
    )*};
}
