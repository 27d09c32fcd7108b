//! Error classes for AWS calls: every SDK error becomes retryable, throttled, auth,
//! permanent or not-implemented, so callers decide by class and never by matching strings.

use std::fmt;

#[cfg(feature = "aws")]
mod sdk;
#[cfg(feature = "aws")]
pub use sdk::{classify, describe, HttpStatus};

/// What a caller should do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// A passing fault (network, 5xx): try again after a backoff.
    Retryable,
    /// The service asked us to slow down: back off harder.
    Throttled,
    /// Credentials are missing, wrong, expired or lack permission: retrying will not help
    /// until the operator fixes them.
    Auth,
    /// The request itself is wrong (4xx, validation, missing resource): do not retry it.
    Permanent,
    /// The endpoint does not implement this call (an emulator's gap): use a fallback.
    NotImplemented,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Retryable | ErrorClass::Throttled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Auth => "auth",
            ErrorClass::Permanent => "permanent",
            ErrorClass::NotImplemented => "not_implemented",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

const AUTH_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "UnauthorizedOperation",
    "NotAuthorized",
];

const NOT_IMPLEMENTED_CODES: &[&str] = &["NotImplemented", "NotImplementedException"];

/// Classify from the parts of a service's answer. Split out so the rules are unit-testable
/// without building SDK errors by hand.
pub fn classify_parts(
    code: Option<&str>,
    status: Option<u16>,
    message: Option<&str>,
) -> ErrorClass {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) {
            return ErrorClass::Throttled;
        }
        if AUTH_CODES.contains(&code) {
            return ErrorClass::Auth;
        }
        if NOT_IMPLEMENTED_CODES.contains(&code) {
            return ErrorClass::NotImplemented;
        }
    }
    // moto answers unimplemented actions with a 500 whose text says so.
    if message.is_some_and(|m| {
        m.contains("has not been implemented") || m.contains("not yet implemented")
    }) {
        return ErrorClass::NotImplemented;
    }
    match status {
        Some(501) => ErrorClass::NotImplemented,
        Some(429) => ErrorClass::Throttled,
        Some(401 | 403) => ErrorClass::Auth,
        Some(s) if s >= 500 => ErrorClass::Retryable,
        Some(_) => ErrorClass::Permanent,
        // A modeled error without an HTTP status is the service's verdict on the request.
        None => ErrorClass::Permanent,
    }
}

/// A failed AWS call reduced to what an operator and a caller need: the class, the service's
/// error code and message, and whether the endpoint could not be reached at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    pub class: ErrorClass,
    pub code: Option<String>,
    pub message: String,
    pub status: Option<u16>,
    /// No answer: connection refused, DNS failure or a timeout.
    pub unreachable: bool,
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for AwsFailure {}

/// The error and its sources on one line (`a: b: c`), the way operators read them.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_status() {
        assert_eq!(
            classify_parts(Some("ThrottlingException"), Some(400), None),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_parts(Some("SlowDown"), Some(503), None),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_parts(Some("ExpiredToken"), Some(400), None),
            ErrorClass::Auth
        );
        assert_eq!(
            classify_parts(Some("InvalidClientTokenId"), Some(403), None),
            ErrorClass::Auth
        );
        assert_eq!(
            classify_parts(Some("NotImplemented"), Some(400), None),
            ErrorClass::NotImplemented
        );
    }

    #[test]
    fn status_decides_when_the_code_is_unknown() {
        assert_eq!(
            classify_parts(Some("InternalError"), Some(500), None),
            ErrorClass::Retryable
        );
        assert_eq!(classify_parts(None, Some(503), None), ErrorClass::Retryable);
        assert_eq!(classify_parts(None, Some(429), None), ErrorClass::Throttled);
        assert_eq!(
            classify_parts(Some("QueueDoesNotExist"), Some(400), None),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_parts(Some("ValidationError"), Some(400), None),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_parts(None, Some(501), None),
            ErrorClass::NotImplemented
        );
    }

    #[test]
    fn emulator_gaps_are_not_implemented_not_retryable() {
        let msg = "The start_message_move_task action has not been implemented";
        assert_eq!(
            classify_parts(None, Some(500), Some(msg)),
            ErrorClass::NotImplemented
        );
    }

    #[test]
    fn only_retryable_and_throttled_retry() {
        assert!(ErrorClass::Retryable.is_retryable());
        assert!(ErrorClass::Throttled.is_retryable());
        assert!(!ErrorClass::Auth.is_retryable());
        assert!(!ErrorClass::Permanent.is_retryable());
        assert!(!ErrorClass::NotImplemented.is_retryable());
    }
}
