//! The HTTP side of a load run: hyper's pooled HTTP/1.1 client over one or more API base
//! URLs (spread round-robin, like a load balancer's targets), request bodies that share the
//! video bytes without copying, and the classification of every failure.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

/// Why a request failed. Keys (`connect_refused`, `http_503`, ...) are stable for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Nothing listens at the target (TCP RST on connect).
    ConnectRefused,
    /// Any other failure to connect (unreachable host, DNS).
    ConnectFailed,
    /// The server reset or closed the connection before a whole response arrived.
    ConnectionReset,
    /// No whole response within the scenario's `timeout` (connect included).
    Timeout,
    /// A response with a status other than the expected one.
    Http(u16),
    /// A response the runner could not use (e.g. an upload answer without `video_id`).
    BadResponse,
    /// The worker marked the uploaded video `failed`.
    ProcessingFailed,
    /// The video was not `processed` within `processed_timeout`.
    NotProcessed,
    /// Anything else (protocol errors).
    Other,
}

impl FailureKind {
    pub fn key(self) -> String {
        match self {
            FailureKind::ConnectRefused => "connect_refused".into(),
            FailureKind::ConnectFailed => "connect_failed".into(),
            FailureKind::ConnectionReset => "connection_reset".into(),
            FailureKind::Timeout => "timeout".into(),
            FailureKind::Http(code) => format!("http_{code}"),
            FailureKind::BadResponse => "bad_response".into(),
            FailureKind::ProcessingFailed => "processing_failed".into(),
            FailureKind::NotProcessed => "not_processed".into(),
            FailureKind::Other => "other".into(),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub class: FailureKind,
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.detail)
    }
}

/// A request body: nothing, or a list of byte chunks (shared, never copied).
#[derive(Debug, Default)]
pub struct Payload {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl Payload {
    pub fn empty() -> Payload {
        Payload::default()
    }

    pub fn from_chunks(chunks: impl IntoIterator<Item = Bytes>) -> Payload {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Payload { chunks, remaining }
    }

    pub fn len(&self) -> u64 {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.chunks.pop_front() {
            Some(chunk) => {
                self.remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// One API base URL, e.g. `http://127.0.0.1:8000` (a path prefix is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    base: String,
    host: String,
}

impl ApiTarget {
    pub fn parse(url: &str) -> Result<ApiTarget, String> {
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "{url}: https targets are not supported by the load runner yet; use the plain http:// address of the API or its load balancer"
                ))
            }
            _ => {
                return Err(format!(
                    "{url:?}: expected an http:// URL like http://127.0.0.1:8000"
                ))
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?} has no host"))?;
        if uri.query().is_some() {
            return Err(format!("{url:?}: a target is a base URL without a query"));
        }
        let path = uri.path().trim_end_matches('/');
        Ok(ApiTarget {
            base: format!("http://{authority}{path}"),
            host: authority.host().to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the host is this machine (127.0.0.0/8, ::1 or `localhost`).
    pub fn is_loopback(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case("localhost")
            || h.parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
}

impl fmt::Display for ApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// The most of a response body a run reads: the API's answers are a few KB, so a target that
/// sends more is not the API (or is broken), and the run must not hold what it sends.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// The longest `error_code` a run keeps; the API's are at most 24 characters.
const MAX_CODE_LEN: usize = 40;

/// The API's stable `error_code` in an error response's JSON body
/// (`{"error_code": "server_busy", "message": ...}`), when there is one that looks like a code
/// (1 to 40 of `a-z`, `0-9`, `_`), so a report can tell apart answers with the same status
/// (a 503 for `server_busy` from one for `storage_unavailable`).
pub fn api_error_code(body: &[u8]) -> Option<String> {
    if body.len() > 64 * 1024 || body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error_code")?.as_str()?;
    let looks_like_a_code = (1..=MAX_CODE_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    looks_like_a_code.then(|| code.to_owned())
}

/// The pooled client; cheap to share behind an `Arc`.
pub struct Http {
    client: Client<HttpConnector, Payload>,
    targets: Vec<ApiTarget>,
    next: AtomicUsize,
    timeout: Duration,
}

impl Http {
    pub fn new(targets: Vec<ApiTarget>, timeout: Duration) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Http {
            client,
            targets,
            next: AtomicUsize::new(0),
            timeout,
        }
    }

    pub fn targets(&self) -> &[ApiTarget] {
        &self.targets
    }

    /// The next target, round-robin.
    fn pick(&self) -> &ApiTarget {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.targets[i % self.targets.len()]
    }

    /// Send a request to the next target and read the whole response, within the timeout.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, HeaderValue)],
        body: Payload,
    ) -> Result<Response, Failure> {
        let target = self.pick();
        let url = format!("{}{path}", target.base);
        let mut builder = Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        let request = builder.body(body).map_err(|e| Failure {
            class: FailureKind::Other,
            detail: format!("building the request for {url}: {e}"),
        })?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| Failure {
                class: classify(&e),
                detail: chain(&e),
            })?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Failure {
                            class: FailureKind::BadResponse,
                            detail: format!(
                                "{url} answered {status} with a body over {} MiB",
                                MAX_RESPONSE_BYTES >> 20
                            ),
                        }
                    } else {
                        Failure {
                            class: classify(&*e),
                            detail: chain(&*e),
                        }
                    }
                })?
                .to_bytes();
            Ok(Response { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure {
                class: FailureKind::Timeout,
                detail: format!("no whole response from {url} within {:?}", self.timeout),
            }),
        }
    }
}

/// The class of a transport failure, from the error and its sources.
pub fn classify(error: &(dyn StdError + 'static)) -> FailureKind {
    let mut connect = false;
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(le) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect |= le.is_connect();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return FailureKind::ConnectRefused,
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                    return FailureKind::ConnectionReset
                }
                K::TimedOut => return FailureKind::Timeout,
                _ => {}
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            // The peer closed the connection before a whole response: a reset in effect.
            if h.is_incomplete_message() || h.is_canceled() {
                return FailureKind::ConnectionReset;
            }
            if h.is_timeout() {
                return FailureKind::Timeout;
            }
        }
        current = e.source();
    }
    if connect {
        FailureKind::ConnectFailed
    } else {
        FailureKind::Other
    }
}

fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        out.push_str(": ");
        out.push_str(&e.to_string());
        current = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_know_loopback() {
        let t = ApiTarget::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(t.base(), "http://127.0.0.1:8000");
        assert!(t.is_loopback());
        assert!(ApiTarget::parse("http://localhost:9/api")
            .unwrap()
            .is_loopback());
        assert_eq!(
            ApiTarget::parse("http://localhost:9/prefix/")
                .unwrap()
                .base(),
            "http://localhost:9/prefix"
        );
        assert!(ApiTarget::parse("http://[::1]:80").unwrap().is_loopback());
        let remote = ApiTarget::parse("http://api.example.com").unwrap();
        assert!(!remote.is_loopback());
        assert_eq!(remote.host(), "api.example.com");
        assert!(ApiTarget::parse("https://x.example.com")
            .unwrap_err()
            .contains("https"));
        assert!(ApiTarget::parse("127.0.0.1:8000").is_err());
        assert!(ApiTarget::parse("http://h/?q=1").is_err());
    }

    #[test]
    fn payload_reports_its_exact_size() {
        let p = Payload::from_chunks([
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from_static(b"cde"),
        ]);
        assert_eq!(p.len(), 5);
        assert_eq!(p.size_hint().exact(), Some(5));
        assert!(Payload::empty().is_empty());
    }

    #[test]
    fn io_errors_map_to_classes() {
        use std::io::{Error, ErrorKind};
        let c = |k| classify(&Error::new(k, "x"));
        assert_eq!(c(ErrorKind::ConnectionRefused), FailureKind::ConnectRefused);
        assert_eq!(c(ErrorKind::ConnectionReset), FailureKind::ConnectionReset);
        assert_eq!(c(ErrorKind::TimedOut), FailureKind::Timeout);
        assert_eq!(c(ErrorKind::Other), FailureKind::Other);
        assert_eq!(FailureKind::Http(503).key(), "http_503");
    }

    #[test]
    fn error_codes_come_from_json_bodies_that_look_like_the_apis() {
        let code = |body: &str| api_error_code(body.as_bytes());
        assert_eq!(
            code(r#"{"error_code":"server_busy","message":"retry"}"#).as_deref(),
            Some("server_busy")
        );
        assert_eq!(
            code(" \n{\"error_code\": \"storage_unavailable\"}").as_deref(),
            Some("storage_unavailable")
        );
        for not_a_code in [
            "",
            "<html>503</html>",
            r#"{"message":"no code"}"#,
            r#"{"error_code":""}"#,
            r#"{"error_code":"Server Busy"}"#,
            r#"{"error_code":7}"#,
            r#"{"error_code":"a_code_far_longer_than_any_the_api_has_ever_sent"}"#,
            r#"{"error_code":"server_busy""#,
        ] {
            assert_eq!(code(not_a_code), None, "{not_a_code}");
        }
    }
}
