//! The local cloud: makes the moto emulator behave like a small AWS account for flightdeck.
//! It installs the emulator into a project cache, runs it on 127.0.0.1, and provisions the
//! stack from `infra/stack.json` through the same AWS SDK calls used against AWS. Its fleet
//! runs a local process per Auto Scaling instance, publishes their CPU like EC2 and runs the
//! groups' target-tracking policies and evaluates the stack's alarms, which the emulator
//! stores but never runs.

pub mod alarms;
pub mod autoscaler;
pub mod cpu;
pub mod emulator;
pub mod faults;
pub mod fleet;
pub mod install;
pub mod keeper;
pub mod lifecycle;
pub mod logship;
pub mod memory;
pub mod paths;
pub mod provision;
pub mod registry;
pub mod servicemetrics;
pub mod storage;
pub mod testing;

pub use alarms::{AlarmEvaluator, AlarmsState, EvaluatorConfig};
pub use autoscaler::{Autoscaler, AutoscalerConfig, AutoscalerState, Decision};
pub use cpu::{CpuConfig, CpuPublisher, CpuSnapshot};
pub use emulator::{Emulator, EmulatorError};
pub use fleet::{Fleet, FleetConfig, FleetError, FleetEvent, FleetState, Machine};
pub use install::{InstallError, Installation, MOTO_VERSION};
pub use keeper::{EmulatorHealth, Keeper, KeeperConfig};
pub use lifecycle::{Lifecycle, LifecycleConfig};
pub use logship::{LogShipper, ShipConfig, ShipNews, ShipNote, ShipStats};
pub use provision::{provision, Change, ProvisionError, ProvisionReport};
pub use storage::StorageLimits;

/// Credentials the local cloud hands to every program: the emulator accepts any keys, and
/// fixed ones keep a developer's real AWS credentials out of local runs.
pub const LOCAL_CREDENTIALS: (&str, &str) = ("flightdeck-local", "flightdeck-local-secret");

/// Client options for an emulator at `endpoint`, with the emulator's time limits.
pub fn aws_options(endpoint: &str, region: &str) -> stack::AwsOptions {
    stack::AwsOptions {
        endpoint: Some(endpoint.to_string()),
        region: Some(region.to_string()),
        profile: None,
        credentials: Some((
            LOCAL_CREDENTIALS.0.to_string(),
            LOCAL_CREDENTIALS.1.to_string(),
        )),
        limits: stack::CallLimits::EMULATOR,
    }
}
