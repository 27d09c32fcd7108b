//! The API's one error type and its one mapping to HTTP: a status, a stable `error_code` and
//! a message for the client. Internal details are logged here and never sent.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong in a way the client can fix (400).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No valid credentials (401): missing, expired or forged token, wrong password.
    #[error("{message}")]
    Unauthorized {
        code: &'static str,
        message: &'static str,
    },
    #[error("this video belongs to another user")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error("the upload is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The request body arrived too slowly (408): see `upload::BodyClock`.
    #[error("{message}")]
    TooSlow { message: String },
    /// A dependency (database, S3, SQS) is down or refused; retry later (503).
    #[error("{code}: {detail}")]
    Unavailable { code: &'static str, detail: String },
    /// The API itself is at capacity: no upload part buffer came free (503, `Retry-After`).
    #[error("the server is at its upload capacity ({0}); retry in a few seconds")]
    Busy(crate::parts::Busy),
    /// A bug or an unexpected answer (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: &'static str) -> ApiError {
        ApiError::Unauthorized { code, message }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable { .. } | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unavailable { code, .. } => code,
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::TooSlow { .. } => "client_too_slow",
            ApiError::Busy(_) => "server_busy",
            ApiError::Internal(_) => "internal",
        }
    }

    /// What the client is told: never the internal detail.
    fn public_message(&self) -> String {
        match self {
            ApiError::Unavailable { code, .. } => match *code {
                "database_unavailable" => "the database is unavailable; retry later".into(),
                "storage_unavailable" => "object storage is unavailable; retry later".into(),
                "queue_unavailable" => "the job queue is unavailable; retry later".into(),
                _ => "a dependency is unavailable; retry later".into(),
            },
            ApiError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }
}

/// What a refused upload is told to wait before trying again: about the time a few parts take
/// to store, when a buffer is likely free again.
pub const BUSY_RETRY_AFTER_SECS: &str = "2";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable { code, detail } => {
                tracing::warn!(error_code = code, "dependency unavailable: {detail}")
            }
            ApiError::Internal(detail) => tracing::error!("internal error: {detail}"),
            _ => {}
        }
        let status = self.status();
        let body = Json(json!({"error_code": self.code(), "message": self.public_message()}));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::Busy(_) = self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(BUSY_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound(_) | StoreError::NotVotable { .. } => ApiError::NotFound,
            StoreError::EmailTaken => {
                ApiError::bad_request("email_taken", "this email is already registered")
            }
            StoreError::AlreadyVoted => ApiError::Conflict {
                code: "already_voted",
                message: "you have already voted for this video",
            },
            StoreError::InvalidTransition { .. } => ApiError::Conflict {
                code: "invalid_transition",
                message: "the video is not in a state that allows this",
            },
            StoreError::Unavailable(_) => ApiError::Unavailable {
                code: "database_unavailable",
                detail: err.to_string(),
            },
            StoreError::Config(_) | StoreError::Other(_) => ApiError::Internal(err.to_string()),
        }
    }
}

/// An AWS failure as the client sees it: 503 with `code`. Whatever its class (unreachable,
/// throttled, auth, permanent), the client cannot fix it; the class goes to the log.
pub fn aws_error<E, R>(
    code: &'static str,
    what: &str,
    err: &aws_sdk_s3::error::SdkError<E, R>,
) -> ApiError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: stack::errors::HttpStatus + std::fmt::Debug + 'static,
{
    let failure = stack::errors::describe(err);
    ApiError::Unavailable {
        code,
        detail: format!("{what}: {failure} (class {})", failure.class),
    }
}

/// The stable `error_code` for an error status that no handler produced itself.
fn code_for_status(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => "bad_request".into(),
        StatusCode::NOT_FOUND => "not_found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed".into(),
        StatusCode::REQUEST_TIMEOUT => "client_too_slow".into(),
        StatusCode::LENGTH_REQUIRED => "length_required".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "too_large".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_content_type".into(),
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal".into(),
        StatusCode::SERVICE_UNAVAILABLE => "unavailable".into(),
        other => format!("http_{}", other.as_u16()),
    }
}

/// How much of a plain-text error body is kept as the JSON message.
const PLAIN_ERROR_KEEP: usize = 512;

/// The last word on every error response: a 4xx or 5xx that is not already JSON (axum's own
/// 405 for a known path with another method, an extractor's plain-text rejection) becomes
/// `{"error_code", "message"}` with the same status and headers (`Allow` stays on a 405).
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Framework bodies are a line of text; anything longer is cut, never buffered whole.
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            text.trim()
                .chars()
                .take(PLAIN_ERROR_KEEP)
                .collect::<String>()
        }
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let body = json!({"error_code": code_for_status(status), "message": message}).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
