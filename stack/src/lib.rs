//! What the flightdeck stack is and how to reach it: the typed view of `infra/stack.json`,
//! the `video_tasks` queue message, the AWS client factory and the error classes every
//! program decides by.

pub mod alarms;
pub mod aws;
pub mod config;
pub mod errors;
pub mod logline;
pub mod message;
pub mod metrics;
pub mod permissions;

pub use aws::{AwsOptions, CallLimits, Clients};
pub use config::{Stack, StackError};
pub use errors::{classify, ErrorClass};
pub use message::{MessageError, VideoTask};
