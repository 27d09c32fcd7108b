//! flightdeck's operations engine: everything done to a target, with no terminal. The live
//! console (`tui.rs` and `agents/` in the `flightdeck` binary) and the headless commands
//! (`cli/`) are thin front ends over it.
//!
//! - [`connect`] and [`target`]: where to connect (`--local`, an endpoint, a profile) and one
//!   line that explains a failed call ([`explain`]).
//! - [`watch`]: which groups and queues are watched, read with [`calls`] counting every call;
//!   [`queues`]: a queue's attributes as the console reads them.
//! - [`dlq`]: the dead-letter engine (peek, filter, the journal, the batch mover).
//! - [`scale`], [`processes`], [`refresh`]: a group's capacity, its suspended processes and
//!   instance refreshes; [`alarms`] and [`logs`]: the stack's alarms and log lines.
//! - [`jobs`]: the long actions (a redrive) run one way for every front end, each audited in
//!   one shape through [`Ctx::record`] into the [`audit`] log; [`confirm`] is what must be
//!   confirmed first.

pub mod alarms;
pub mod audit;
pub mod calls;
pub mod confirm;
pub mod connect;
pub mod dlq;
pub mod jobs;
pub mod logs;
pub mod processes;
pub mod queues;
pub mod refresh;
pub mod scale;
pub mod sdk;
pub mod target;
pub mod watch;

pub use connect::{explain, short_reason};
pub use jobs::Ctx;
