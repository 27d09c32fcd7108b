//! The dead-letter engine: peek at a DLQ without consuming it, pick messages with a filter,
//! move them back loss-proof (a journal on disk), delete or purge. Used by the headless
//! `flightdeck dlq ...` commands and, from a tokio task, by the live console.
//!
//! - [`filter`]: the filter language (pure).
//! - [`peek`]: receiving with a short visibility, releasing, the message model, queue lookup.
//! - [`redrive`]: the mover (batch or StartMessageMoveTask); `batch`: the batch mover's I/O.
//! - [`delete`]: deleting chosen messages, and purging a queue.
//! - `mover`: the batch mover's decisions, a state machine with no I/O (its transitions'
//!   unit tests are there).
//! - [`journal`]: the on-disk journal that makes a killed redrive safe to run again.
//! - [`receives`]: flightdeck's own receives per message, left out of the receive counts.

mod batch;
pub mod delete;
pub mod filter;
pub mod journal;
mod mover;
pub mod peek;
pub mod receives;
pub mod redrive;
pub mod request;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod live_tests;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use stack::errors::{describe, AwsFailure, HttpStatus};

pub use filter::Filter;
pub use peek::{DlqMessage, PeekOptions};
pub use redrive::{Destination, MessageSet, RedriveProgress, RedriveRequest};

/// Why a DLQ operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// An AWS call failed; `action` is the API name (for `crate::explain`).
    #[error("{action} failed: {failure}")]
    Aws {
        action: &'static str,
        failure: AwsFailure,
    },
    /// A queue name that does not exist at the target.
    #[error("no queue named `{0}` at the target: check the name with `flightdeck status`")]
    NoSuchQueue(String),
    /// The request cannot be carried out as asked (e.g. no source queue is known).
    #[error("{0}")]
    Invalid(String),
    #[error("the redrive journal {path}: {source}")]
    Journal {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl DlqError {
    pub(crate) fn aws<E, R>(action: &'static str) -> impl FnOnce(SdkError<E, R>) -> DlqError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug + 'static,
    {
        move |e| DlqError::Aws {
            action,
            failure: describe(&e),
        }
    }
}
