//! What the flightdeck stack is and how to reach it: the typed view of `infra/stack.json`,
//! the `video_tasks` queue message, the AWS client factory and the error classes every
//! program decides by.
//!
//! Without the default `aws` feature it is the stack's definition, the message, the log line
//! and the error classes alone, with no AWS SDK: the console's `ui` crate uses it that way.

pub mod alarms;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod errors;
pub mod logline;
pub mod message;
pub mod metrics;
pub mod permissions;
pub mod process;

#[cfg(feature = "aws")]
pub use aws::{AwsOptions, CallLimits, Clients};
pub use config::{Stack, StackError};
#[cfg(feature = "aws")]
pub use errors::classify;
pub use errors::ErrorClass;
pub use message::{MessageError, VideoTask};
