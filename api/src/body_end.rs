//! `Connection: close` on every answer given before the request's body was read to its end.
//!
//! The HTTP server closes a connection whose request body was left unread (past a small
//! drain) once it has answered, but says nothing of it in the answer: a client that sent its
//! next request on that connection loses it ("connection closed before message completed"),
//! with nothing stored and nothing answered. That happens to uploads refused early (a busy
//! server, a bad token, a body over the limit by its length, a client too slow), so the answer
//! says so itself.
//!
//! [`close_unread`] watches the request body: it has reached its end when the body said so
//! (its declared length read, or its last frame), which is when the server knows it too. A
//! handler that stopped reading early because its format had ended (multipart answers at its
//! closing boundary) does not count: a chunked body's last frame may still be on its way, and
//! the server closes the connection if it does not come at once.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Whether the request's body has been read to its end.
#[derive(Debug, Clone, Default)]
struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    fn reached(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_reached(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The body's length as the request's `Content-Length` declares it.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Whether the request says it carries a body: a `Content-Length` above 0 or a
/// `Transfer-Encoding`.
fn has_body(headers: &HeaderMap) -> bool {
    match declared_length(headers) {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// The middleware: see the module's documentation.
pub async fn close_unread(req: Request, next: Next) -> Response {
    if !has_body(req.headers()) {
        return next.run(req).await;
    }
    let end = BodyEnd::default();
    let req = req.map(|body| {
        Body::new(Watched {
            inner: body,
            end: end.clone(),
        })
    });
    let mut response = next.run(req).await;
    if !end.is_reached() && !response.headers().contains_key(header::CONNECTION) {
        tracing::info!(
            status = response.status().as_u16(),
            "answered before the request's body was read to its end: the connection closes"
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that marks [`BodyEnd`] when it has given its last byte.
struct Watched {
    inner: Body,
    end: BodyEnd,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.end.reached(),
            // A body of known length ends with its last byte, before anyone polls past it.
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.end.reached(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_declared_by_a_length_above_zero_or_a_transfer_encoding() {
        let with = |name, value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        assert!(has_body(&with(header::CONTENT_LENGTH, "12")));
        assert!(!has_body(&with(header::CONTENT_LENGTH, "0")));
        assert!(has_body(&with(header::TRANSFER_ENCODING, "chunked")));
        assert!(!has_body(&HeaderMap::new()));
    }
}
