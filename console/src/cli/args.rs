//! The command line: global connection options and the subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
pub use ops::target::Target;

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "The operator's terminal for AWS worker systems: Auto Scaling groups, SQS queues and their dead letters.",
    long_about = "The operator's terminal for AWS worker systems: Auto Scaling groups, SQS queues and their dead letters.\n\n\
                  It talks to AWS through the standard credential chain (AWS_PROFILE, AWS_REGION, \
                  AWS_ENDPOINT_URL, ...). `flightdeck demo` runs everything on a local cloud with no AWS account."
)]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,

    #[command(flatten)]
    pub ui: UiArgs,

    /// With no command, the live console opens (like `flightdeck ui`)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The live console's settings (for `flightdeck`, `flightdeck ui` and `flightdeck demo`).
#[derive(Debug, Clone, Default, Args)]
pub struct UiArgs {
    /// Console config file [default: ~/.config/flightdeck/config.toml when it exists]
    #[arg(long, global = true, value_name = "FILE", env = "FLIGHTDECK_CONFIG")]
    pub config: Option<PathBuf>,

    /// Colour theme: default, light, high-contrast, presentation, or a user theme
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Directory of user themes (NAME.toml) [default: ~/.config/flightdeck/themes]
    #[arg(long, global = true, value_name = "DIR")]
    pub themes: Option<PathBuf>,

    /// Make no changes at the target: every AWS client refuses any call outside the read allowlist
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the live console: groups, queues, dead letters and CPU (the default command)
    Ui,
    /// Print the groups, queues and bucket at the target endpoint, then exit
    Status {
        /// Print JSON instead of tables (with --watch: one JSON object per line)
        #[arg(long)]
        json: bool,

        /// Print again every --interval until Ctrl-C; a failed poll is printed and retried
        #[arg(long)]
        watch: bool,

        /// Seconds between prints with --watch
        #[arg(long, default_value_t = 5, value_name = "SECS", requires = "watch")]
        interval: u64,
    },
    /// Run the whole stack on a local cloud (no AWS account needed) and watch it
    Demo {
        /// Port for the emulator on 127.0.0.1 [default: a free port]
        #[arg(long)]
        port: Option<u16>,

        /// Print the status and wait for Ctrl-C instead of opening the console (the default
        /// when stdout is not a terminal)
        #[arg(long)]
        no_tui: bool,

        /// Tell the story with captions: a load run, the queue builds, the worker group
        /// scales out, CPU rises, a poison upload lands in the DLQ and is redriven, the group
        /// scales back in (warm-up 10 s and cooldown 30 s unless --warmup/--cooldown say
        /// otherwise; with --no-tui the captions are printed)
        #[arg(long)]
        tour: bool,

        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Manage the local cloud: the AWS emulator with the stack provisioned on it
    #[command(subcommand)]
    Local(LocalCommand),
    /// Dead letters: list, group by failure, show, export, redrive (loss-proof), delete, purge
    #[command(subcommand, after_help = crate::cli::dlq::FILTER_HELP)]
    Dlq(crate::cli::dlq::DlqCommand),
    /// Set an Auto Scaling group's desired capacity, refused outside the group's min..max
    Scale(crate::cli::scale::ScaleArgs),
    /// Suspend a group's scaling processes (AlarmNotification unless named): its policies stop
    /// changing the capacity until `resume`
    Suspend(crate::cli::processes::ProcessesArgs),
    /// Resume a group's suspended scaling processes (AlarmNotification unless named)
    Resume(crate::cli::processes::ProcessesArgs),
    /// Replace a group's instances in rolling batches: start, follow, cancel
    #[command(subcommand)]
    InstanceRefresh(crate::cli::refresh::RefreshCommand),
    /// The stack's CloudWatch alarms: state, what each watches, threshold and current value,
    /// since when and why
    #[command(after_help = crate::cli::alarms::AFTER_HELP)]
    Alarms(crate::cli::alarms::AlarmsArgs),
    /// The API's and the worker's log lines (CloudWatch Logs): search, follow, or every line
    /// about a dead letter
    Logs(crate::cli::logs::LogsArgs),
    /// Load runs against the upload API: built-in WORKLOAD.md scenarios or TOML files
    #[command(subcommand)]
    Load(crate::cli::load::LoadCommand),
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the emulator, provision the stack, and run until Ctrl-C or `flightdeck local down`
    Up {
        /// Port for the emulator on 127.0.0.1 [default: a free port]
        #[arg(long)]
        port: Option<u16>,

        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Stop the local cloud that `flightdeck local up` started
    Down,
    /// Install the emulator into the project cache if it is not there yet
    Install,
    /// Provision (or converge) the stack at the target endpoint; safe to run again
    Provision,
}

/// The local fleet (a process per Auto Scaling instance), its CPU metrics and its autoscaler.
#[derive(Debug, Clone, Default, Args)]
pub struct FleetArgs {
    /// Run only the emulator: no worker or API processes, no CPU metrics, no autoscaler
    #[arg(long)]
    pub no_fleet: bool,

    /// Run the fleet without the autoscaler (capacity changes only by hand)
    #[arg(long)]
    pub no_autoscaler: bool,

    /// Seconds a new instance warms up before it counts [default: each group's warmup_s]
    #[arg(long, value_name = "SECONDS")]
    pub warmup: Option<u64>,

    /// The autoscaler's scale-in cooldown in seconds [default: each group's default_cooldown_s]
    #[arg(long, value_name = "SECONDS")]
    pub cooldown: Option<u64>,

    /// Uploads and outputs expire this many minutes after they are written, as an S3
    /// lifecycle rule would; 0 keeps them, up to the storage cap (FLIGHTDECK_LOCAL_STORAGE_GB)
    /// [default: 30]
    #[arg(long, value_name = "MINUTES")]
    pub expire_after: Option<u64>,
}

/// Minutes after which the local cloud expires uploads and outputs unless told otherwise.
pub const DEFAULT_EXPIRE_AFTER_MIN: u64 = 30;
