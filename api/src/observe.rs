//! The request observer around every route: accepts or makes the `X-Correlation-Id`, opens
//! the request's tracing span, echoes the id in the response and records the metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

use crate::AppState;

pub const CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The request's correlation id, for handlers (the upload puts it into the queue message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(pub String);

/// A client's id is kept if it is 1..=128 characters of `[A-Za-z0-9._:-]`; anything else
/// (it ends up in logs and in the queue message) is replaced by a fresh UUID.
pub fn accept_correlation_id(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 128
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let correlation_id = accept_correlation_id(req.headers().get(&CORRELATION_HEADER));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    req.extensions_mut()
        .insert(CorrelationId(correlation_id.clone()));
    // `video_id` is recorded by the handlers that know it (the upload), so that every line
    // of the request carries it next to the correlation id.
    let span = tracing::info_span!(
        "request",
        %method,
        %route,
        correlation_id = %correlation_id,
        video_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics()
        .record_request(method.as_str(), &route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&correlation_id) {
        response.headers_mut().insert(CORRELATION_HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_accepted_or_replaced() {
        let ok = HeaderValue::from_static("load-run:42.a_b");
        assert_eq!(accept_correlation_id(Some(&ok)), "load-run:42.a_b");
        let bad = HeaderValue::from_static("has space");
        let replaced = accept_correlation_id(Some(&bad));
        assert!(Uuid::parse_str(&replaced).is_ok());
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_ne!(accept_correlation_id(Some(&long)).len(), 129);
        assert!(Uuid::parse_str(&accept_correlation_id(None)).is_ok());
    }
}
