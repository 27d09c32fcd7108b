//! flightdeck's load-run engine. A `Scenario` (TOML: a closed model of virtual users with
//! k6-style stages, or an open model of Artillery-style arrival-rate phases) is run by
//! `engine::run` against one or more API base URLs; progress streams on a `watch` channel,
//! `CancellationToken` stops it, and the `Report` carries HDR percentiles, error classes and
//! threshold verdicts. Used by `flightdeck load run` and the console's load view.

pub mod client;
pub mod engine;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod threshold;
pub mod video;

pub use client::{ApiTarget, FailureKind};
pub use engine::{run, RunError, RunOptions};
pub use report::Report;
pub use scenario::{Scenario, ScenarioError, BUILTIN};
pub use stats::{Progress, RunState};
pub use threshold::{Threshold, Verdict};
pub use video::VideoPreset;
