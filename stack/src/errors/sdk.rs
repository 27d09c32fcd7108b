//! Classifying the SDK's own errors (the `aws` feature): the service's answer, a dispatch or
//! timeout failure, each reduced to an [`AwsFailure`] with its [`ErrorClass`].

use std::fmt;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;

use super::{classify_parts, error_chain, AwsFailure, ErrorClass};

/// Classify any SDK error.
pub fn classify<E, R>(err: &SdkError<E, R>) -> ErrorClass
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + fmt::Debug + 'static,
{
    describe(err).class
}

/// Classify any SDK error, keeping its code and message.
pub fn describe<E, R>(err: &SdkError<E, R>) -> AwsFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let status = ctx.raw().status_code();
            let code = e.code().map(str::to_string);
            let message = e
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string());
            // AWS always answers in its protocol's error format. A code-less 500 page in
            // HTML is an endpoint with no handler for the action: moto answers every
            // unimplemented call that way. Callers then take their fallback path.
            let html = ctx
                .raw()
                .content_type()
                .is_some_and(|t| t.starts_with("text/html"));
            let class = if code.is_none() && html && matches!(status, 500 | 501) {
                ErrorClass::NotImplemented
            } else {
                classify_parts(code.as_deref(), Some(status), Some(&message))
            };
            AwsFailure {
                class,
                code,
                message,
                status: Some(status),
                unreachable: false,
            }
        }
        SdkError::DispatchFailure(d) => {
            // Credential resolution failures surface here too, as "other" dispatch errors.
            let text = error_chain(err);
            let credentials = text.to_ascii_lowercase().contains("credential");
            AwsFailure {
                class: if credentials {
                    ErrorClass::Auth
                } else {
                    ErrorClass::Retryable
                },
                code: None,
                message: text,
                status: None,
                unreachable: d.is_io() || d.is_timeout(),
            }
        }
        SdkError::TimeoutError(_) => AwsFailure {
            class: ErrorClass::Retryable,
            code: None,
            message: error_chain(err),
            status: None,
            unreachable: true,
        },
        SdkError::ResponseError(ctx) => {
            let status = ctx.raw().status_code();
            AwsFailure {
                class: classify_parts(None, Some(status), None),
                code: None,
                message: error_chain(err),
                status: Some(status),
                unreachable: false,
            }
        }
        // Construction failures (a bad request built by us) and future variants.
        _ => AwsFailure {
            class: ErrorClass::Permanent,
            code: None,
            message: error_chain(err),
            status: None,
            unreachable: false,
        },
    }
}

/// The HTTP status and content type of a raw response, for any response type the SDK hands back.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
    fn content_type(&self) -> Option<&str>;
}

impl HttpStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    fn content_type(&self) -> Option<&str> {
        self.headers().get("content-type")
    }
}
