//! A fault-injecting HTTP proxy for tests: it sits between a program's AWS clients and the
//! emulator, forwards every request, and by rules (which service and action, which requests)
//! answers with the service's own throttling error, a 500/503, drops the connection before or
//! after the emulator acted, or adds latency. It counts what it injected, so a test can assert
//! that the faults it relies on really happened.
//!
//! The service comes from the request's SigV4 credential scope (`sqs`, `s3`, `autoscaling`,
//! `monitoring`, `ec2`, `sts`), the action from `X-Amz-Target` (JSON protocols), the
//! `Action=` form parameter (query protocols) or, for S3, the method, path and query.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

/// What the proxy does instead of (or before) forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's throttling answer, not forwarded: SQS `RequestThrottled` (400), S3
    /// `SlowDown` (503), query services (Auto Scaling, CloudWatch, STS) `Throttling` (400),
    /// EC2 `RequestLimitExceeded` (503).
    Throttle,
    /// A server error with this status (500: `InternalError`/`InternalFailure`, 503:
    /// `ServiceUnavailable`) in the service's error format, not forwarded.
    ServerError(u16),
    /// The connection is reset before the request reaches the emulator: nothing happened.
    Reset,
    /// The request is forwarded (the emulator acts on it), then the connection is reset
    /// without the answer: the caller cannot know whether it happened.
    LoseAnswer,
    /// Wait this long, then forward.
    Delay(Duration),
}

impl Fault {
    /// A short stable name for counts: `throttle`, `500`, `reset`, `lose_answer`, `delay`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::ServerError(500) => "500",
            Fault::ServerError(503) => "503",
            Fault::ServerError(_) => "5xx",
            Fault::Reset => "reset",
            Fault::LoseAnswer => "lose_answer",
            Fault::Delay(_) => "delay",
        }
    }
}

/// Which of the matching requests a rule hits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    Always,
    /// The first `n` matching requests.
    First(u64),
    /// Every `n`th matching request (the `n`th, the `2n`th, ...).
    Every(u64),
    /// Each matching request with this probability, from a seeded generator (repeatable for a
    /// given order of requests).
    Chance {
        p: f64,
        seed: u64,
    },
}

/// One rule: which requests (service, action, when) and the fault. Rules are tried in the
/// order they were added; the first that hits a request decides it.
#[derive(Debug, Clone)]
pub struct Rule {
    service: Option<String>,
    action: Option<String>,
    when: When,
    limit: Option<u64>,
    fault: Fault,
    matched: u64,
    hits: u64,
    rng: u64,
}

impl Rule {
    /// `fault` on every request, until narrowed with the methods below.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            service: None,
            action: None,
            when: When::Always,
            limit: None,
            fault,
            matched: 0,
            hits: 0,
            rng: 0,
        }
    }

    /// Only this service (its SigV4 name: `sqs`, `s3`, `autoscaling`, `monitoring`, ...).
    pub fn service(mut self, service: &str) -> Rule {
        self.service = Some(service.to_owned());
        self
    }

    /// Only this action (`ReceiveMessage`, `GetObject`, `DescribeAutoScalingGroups`, ...).
    pub fn action(mut self, action: &str) -> Rule {
        self.action = Some(action.to_owned());
        self
    }

    pub fn when(mut self, when: When) -> Rule {
        if let When::Chance { seed, .. } = when {
            self.rng = seed;
        }
        self.when = when;
        self
    }

    pub fn first(self, n: u64) -> Rule {
        self.when(When::First(n))
    }

    pub fn every(self, n: u64) -> Rule {
        self.when(When::Every(n.max(1)))
    }

    pub fn chance(self, p: f64, seed: u64) -> Rule {
        self.when(When::Chance { p, seed })
    }

    /// At most `n` hits in all.
    pub fn at_most(mut self, n: u64) -> Rule {
        self.limit = Some(n);
        self
    }

    fn applies_to(&self, call: &Call) -> bool {
        self.service.as_deref().is_none_or(|s| s == call.service)
            && self.action.as_deref().is_none_or(|a| a == call.action)
    }

    /// Counts a matching request; whether this one is hit.
    fn hit(&mut self) -> bool {
        self.matched += 1;
        if self.limit.is_some_and(|l| self.hits >= l) {
            return false;
        }
        let hit = match self.when {
            When::Always => true,
            When::First(n) => self.matched <= n,
            When::Every(n) => self.matched.is_multiple_of(n),
            When::Chance { p, .. } => {
                let draw = (splitmix64(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64;
                draw < p
            }
        };
        if hit {
            self.hits += 1;
        }
        hit
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One AWS call as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    /// The SigV4 service name (`sqs`, `s3`, `autoscaling`, `monitoring`, ...); `unknown`
    /// for an unsigned request.
    pub service: String,
    pub action: String,
}

/// A fault the proxy injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    pub call: Call,
    pub fault: Fault,
}

/// The largest request or answer body the proxy holds (it forwards whole bodies); a larger
/// one drops the connection.
const MAX_BODY: usize = 256 << 20;
/// How long the emulator may take to answer a forwarded request, body included.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client connection may take to send a request's headers (idle keep-alive
/// connections are closed after it).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Injections kept in order for [`FaultProxy::injections`]; counts go on past it.
const LOG_KEPT: usize = 10_000;

#[derive(Debug, Default)]
struct Book {
    rules: Vec<Rule>,
    /// The first [`LOG_KEPT`] injections, in order.
    injected: Vec<Injection>,
    /// Every injection, counted per call and [`Fault::kind`].
    counts: BTreeMap<(Call, &'static str), usize>,
    /// Requests seen, per call, faulted or not.
    seen: BTreeMap<Call, u64>,
}

/// The proxy: listens on 127.0.0.1 (a free port) in front of `upstream`. Dropping it stops
/// it and closes every connection it holds.
pub struct FaultProxy {
    endpoint: String,
    book: Arc<Mutex<Book>>,
    stop: CancellationToken,
}

type Body = Full<Bytes>;

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: Client<HttpConnector, Body>,
    book: Arc<Mutex<Book>>,
}

impl FaultProxy {
    /// Start forwarding to `upstream` (`http://127.0.0.1:PORT`), with no rules yet.
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let book = Arc::new(Mutex::new(Book::default()));
        let stop = CancellationToken::new();
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            book: book.clone(),
        };
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = stopped.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((stream, _)) = accepted else { continue };
                let (shared, stopped) = (shared.clone(), stopped.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        () = stopped.cancelled() => {}
                        () = serve(stream, shared) => {}
                    }
                });
            }
        });
        Ok(FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            book,
            stop,
        })
    }

    /// The URL to give the clients (`AWS_ENDPOINT_URL`, [`crate::aws_options`]).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn add(&self, rule: Rule) {
        self.book().rules.push(rule);
    }

    /// Remove every rule: from now on every request is forwarded as it is.
    pub fn clear(&self) {
        self.book().rules.clear();
    }

    /// The faults injected so far, in order (the first [`LOG_KEPT`]).
    pub fn injections(&self) -> Vec<Injection> {
        self.book().injected.clone()
    }

    /// Faults of `kind` ([`Fault::kind`]) injected into `service`'s `action` so far.
    pub fn injected(&self, service: &str, action: &str, kind: &str) -> usize {
        let call = Call {
            service: service.to_owned(),
            action: action.to_owned(),
        };
        self.book()
            .counts
            .iter()
            .filter(|((c, k), _)| *c == call && *k == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests seen for `service`'s `action` so far, faulted or not.
    pub fn seen(&self, service: &str, action: &str) -> u64 {
        let call = Call {
            service: service.to_owned(),
            action: action.to_owned(),
        };
        self.book().seen.get(&call).copied().unwrap_or(0)
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Marks a connection to be reset (not closed cleanly) once hyper lets go of it.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for Dropped {}

async fn serve(stream: tokio::net::TcpStream, shared: Shared) {
    // A second handle on the socket, to reset it (SO_LINGER 0, then close) after a fault.
    let raw = stream.into_std().and_then(|s| {
        let twin = s.try_clone()?;
        Ok((tokio::net::TcpStream::from_std(s)?, twin))
    });
    let Ok((stream, twin)) = raw else { return };
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { handle(req, &shared).await }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if served.is_err() {
        if let Ok(twin) = tokio::net::TcpStream::from_std(twin) {
            let _ = twin.set_zero_linger();
        }
    }
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Result<Response<Body>, Dropped> {
    let (mut parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
    else {
        return Err(Dropped);
    };
    let call = classify(&parts, &body);
    let fault = {
        let mut book = shared.book.lock().unwrap_or_else(|p| p.into_inner());
        *book.seen.entry(call.clone()).or_insert(0) += 1;
        let fault = book
            .rules
            .iter_mut()
            .filter(|r| r.applies_to(&call))
            .find_map(|r| r.hit().then_some(r.fault));
        if let Some(fault) = fault {
            *book.counts.entry((call.clone(), fault.kind())).or_insert(0) += 1;
            if book.injected.len() < LOG_KEPT {
                book.injected.push(Injection {
                    call: call.clone(),
                    fault,
                });
            }
        }
        fault
    };
    let protocol = Protocol::of(&call, &parts);
    match fault {
        Some(Fault::Throttle) => return Ok(protocol.throttle(parts.method == hyper::Method::HEAD)),
        Some(Fault::ServerError(status)) => {
            return Ok(protocol.server_error(status, parts.method == hyper::Method::HEAD))
        }
        Some(Fault::Reset) => return Err(Dropped),
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::LoseAnswer) | None => {}
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{}{path}", shared.upstream).parse() else {
        return Err(Dropped);
    };
    parts.uri = uri;
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    parts.headers.insert(
        hyper::header::CONTENT_LENGTH,
        hyper::header::HeaderValue::from(body.len()),
    );
    let forwarded = async {
        let answer = shared
            .client
            .request(Request::from_parts(parts, Full::new(body)))
            .await
            .ok()?;
        let (parts, body) = answer.into_parts();
        let body = Limited::new(body, MAX_BODY).collect().await.ok()?;
        Some((parts, body.to_bytes()))
    };
    let Ok(Some((mut parts, body))) = tokio::time::timeout(UPSTREAM_TIMEOUT, forwarded).await
    else {
        return Err(Dropped);
    };
    if fault == Some(Fault::LoseAnswer) {
        return Err(Dropped);
    }
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    parts.headers.remove(hyper::header::CONNECTION);
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Headers that belong to one connection, not to the request it carries.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    // The body is already here in full; the emulator need not ask for it.
    "expect",
];

fn classify(parts: &hyper::http::request::Parts, body: &[u8]) -> Call {
    let service = signing_service(parts).unwrap_or_else(|| "unknown".to_owned());
    let action = if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        target.rsplit('.').next().unwrap_or(target).to_owned()
    } else if let Some(action) = form_param(parts.uri.query().unwrap_or(""), "Action")
        .or_else(|| form_param(&String::from_utf8_lossy(body), "Action"))
    {
        action
    } else if service == "s3" {
        s3_action(parts).to_owned()
    } else {
        parts.method.as_str().to_owned()
    };
    Call { service, action }
}

/// `sqs` from `Authorization: AWS4-HMAC-SHA256 Credential=KEY/20260101/us-east-1/sqs/aws4_request, ...`
/// (or a presigned URL's `X-Amz-Credential`).
fn signing_service(parts: &hyper::http::request::Parts) -> Option<String> {
    let scope = match parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(auth) => auth
            .split("Credential=")
            .nth(1)?
            .split([',', ' '])
            .next()?
            .to_owned(),
        None => form_param(parts.uri.query()?, "X-Amz-Credential")?,
    };
    scope.split('/').nth(3).map(str::to_owned)
}

fn form_param(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%2F", "/").replace("%2f", "/"))
    })
}

/// The S3 operation of a path-style request, for the calls flightdeck makes.
fn s3_action(parts: &hyper::http::request::Parts) -> &'static str {
    let query = parts.uri.query().unwrap_or("");
    let has = |k: &str| {
        query
            .split('&')
            .any(|p| p == k || p.starts_with(&format!("{k}=")))
    };
    let path = parts.uri.path().trim_start_matches('/');
    let object = path.split_once('/').is_some_and(|(_, key)| !key.is_empty());
    let method = parts.method.as_str();
    match (method, object) {
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("PUT", true) if has("partNumber") => "UploadPart",
        ("PUT", true) if parts.headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", true) => "PutObject",
        ("POST", true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", true) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true) => "DeleteObject",
        ("GET", false) if has("versions") => "ListObjectVersions",
        ("GET", false) if has("versioning") => "GetBucketVersioning",
        ("GET", false) => "ListObjectsV2",
        ("HEAD", false) => "HeadBucket",
        ("POST", false) if has("delete") => "DeleteObjects",
        ("PUT", false) => "PutBucket",
        _ => "S3",
    }
}

/// How a service writes its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// awsJson (SQS today): `{"__type": ..}` plus SQS's query-compatible error header.
    Json,
    /// awsQuery (Auto Scaling, CloudWatch, STS): `<ErrorResponse><Error>..`.
    Query,
    /// EC2's own query dialect: `<Response><Errors><Error>..`.
    Ec2,
    /// restXml (S3): `<Error>..`.
    RestXml,
}

impl Protocol {
    fn of(call: &Call, parts: &hyper::http::request::Parts) -> Protocol {
        if parts.headers.contains_key("x-amz-target") {
            Protocol::Json
        } else if call.service == "s3" {
            Protocol::RestXml
        } else if call.service == "ec2" {
            Protocol::Ec2
        } else {
            Protocol::Query
        }
    }

    fn throttle(self, head: bool) -> Response<Body> {
        let (status, code) = match self {
            Protocol::Json => (400, "RequestThrottled"),
            Protocol::Query => (400, "Throttling"),
            Protocol::Ec2 => (503, "RequestLimitExceeded"),
            Protocol::RestXml => (503, "SlowDown"),
        };
        self.error(status, code, "Rate exceeded", head)
    }

    fn server_error(self, status: u16, head: bool) -> Response<Body> {
        let code = match (self, status) {
            (_, 503) => "ServiceUnavailable",
            (Protocol::RestXml, _) => "InternalError",
            _ => "InternalFailure",
        };
        self.error(status, code, "injected by the fault proxy", head)
    }

    fn error(self, status: u16, code: &str, message: &str, head: bool) -> Response<Body> {
        let request_id = "00000000-fau1-7000-0000-000000000000";
        let (content_type, body) = match self {
            Protocol::Json => (
                "application/x-amz-json-1.0",
                format!(r#"{{"__type":"com.amazonaws.sqs#{code}","message":"{message}"}}"#),
            ),
            Protocol::Query => (
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                    if status >= 500 { "Receiver" } else { "Sender" }
                ),
            ),
            Protocol::Ec2 => (
                "text/xml",
                format!(
                    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
                ),
            ),
            Protocol::RestXml => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
                ),
            ),
        };
        let mut response = Response::new(Full::new(if head {
            Bytes::new()
        } else {
            Bytes::from(body)
        }));
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
        headers.insert(
            "x-amzn-requestid",
            hyper::header::HeaderValue::from_static(request_id),
        );
        if self == Protocol::Json {
            let sender = if status >= 500 { "Receiver" } else { "Sender" };
            if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("{code};{sender}")) {
                headers.insert("x-amzn-query-error", v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> hyper::http::request::Parts {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        match b.body(()) {
            Ok(r) => r.into_parts().0,
            Err(e) => panic!("{e}"),
        }
    }

    const SIG: &str = "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/SVC/aws4_request, SignedHeaders=host, Signature=0";

    fn auth(service: &str) -> String {
        SIG.replace("SVC", service)
    }

    #[test]
    fn calls_are_named_by_service_and_action() {
        let sqs = auth("sqs");
        let p = parts(
            "POST",
            "/",
            &[
                ("authorization", &sqs),
                ("x-amz-target", "AmazonSQS.ReceiveMessage"),
            ],
        );
        assert_eq!(
            classify(&p, b"{}"),
            Call {
                service: "sqs".into(),
                action: "ReceiveMessage".into()
            }
        );
        let asg = auth("autoscaling");
        let p = parts("POST", "/", &[("authorization", &asg)]);
        let body = b"Action=DescribeAutoScalingGroups&Version=2011-01-01";
        assert_eq!(classify(&p, body).action, "DescribeAutoScalingGroups");
        assert_eq!(classify(&p, body).service, "autoscaling");
        let s3 = auth("s3");
        for (method, uri, action) in [
            ("GET", "/b/uploads/x.mp4", "GetObject"),
            ("HEAD", "/b/uploads/x.mp4", "HeadObject"),
            ("PUT", "/b/k?partNumber=2&uploadId=u", "UploadPart"),
            ("POST", "/b/k?uploads", "CreateMultipartUpload"),
            ("POST", "/b/k?uploadId=u", "CompleteMultipartUpload"),
            ("GET", "/b?list-type=2&prefix=p", "ListObjectsV2"),
            ("PUT", "/b/k", "PutObject"),
        ] {
            let p = parts(method, uri, &[("authorization", &s3)]);
            assert_eq!(classify(&p, b"").action, action, "{method} {uri}");
        }
    }

    #[test]
    fn rules_hit_the_first_n_every_nth_and_at_most_a_limit() {
        let mut first = Rule::new(Fault::Throttle).first(2);
        let hits: Vec<bool> = (0..4).map(|_| first.hit()).collect();
        assert_eq!(hits, [true, true, false, false]);
        let mut every = Rule::new(Fault::Reset).every(3).at_most(2);
        let hits: Vec<bool> = (0..10).map(|_| every.hit()).collect();
        assert_eq!(
            hits,
            [false, false, true, false, false, true, false, false, false, false]
        );
        let mut chance = Rule::new(Fault::Reset).chance(0.25, 7);
        let n = (0..4000).filter(|_| chance.hit()).count();
        assert!((800..1200).contains(&n), "{n} of 4000 at p = 0.25");
        let call = Call {
            service: "sqs".into(),
            action: "SendMessage".into(),
        };
        assert!(Rule::new(Fault::Reset).service("sqs").applies_to(&call));
        assert!(!Rule::new(Fault::Reset)
            .service("sqs")
            .action("ReceiveMessage")
            .applies_to(&call));
    }
}
