//! The headless dead-letter commands, `flightdeck dlq list|groups|show|export|redrive|delete|purge`, on
//! top of the [`ops::dlq`] engine: argument parsing, the confirm path, the audit log, a
//! progress bar on stderr, and exit codes that say what happened ([`EXIT_CODES`]).

use std::collections::BTreeSet;
use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::headless::{exit, Ctx, Exit, EXIT_CODES, FAILED, LEFT, NOTHING, PARTIAL, REFUSED};
use ops::audit;
use ops::confirm::{self, Action, Confirm};
use ops::dlq::delete::{self, DeleteOutcome};
use ops::dlq::peek::{peek, resolve_queue};
use ops::dlq::redrive;
use ops::dlq::{
    Destination, DlqError, DlqMessage, Filter, MessageSet, PeekOptions, RedriveProgress,
    RedriveRequest,
};
use ops::jobs::StartedBy;

mod act;
mod read;

use act::{delete_cmd, purge_cmd, redrive_cmd};
pub use read::table;
use read::{duplicates_cmd, export_cmd, groups_cmd, list, show};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List the messages in a dead-letter queue: id, age, receive count, size, failure reason,
    /// a body preview. Peeking receives each message with a short visibility and releases it,
    /// which raises its receive count by one.
    #[command(after_help = EXIT_CODES)]
    List {
        #[command(flatten)]
        queue: QueueArg,
        /// Only messages matching this filter (repeat to AND); see `flightdeck dlq --help`
        #[arg(long, value_name = "EXPR")]
        filter: Vec<String>,
        /// At most this many messages
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Group the messages by failure signature: per group its id, count, oldest, newest,
    /// receive counts and an example message; act on one with `--filter signature=ID`
    ///
    /// The signature is the worker's failure_reason and failure_class attributes, else an error
    /// text (failure_detail or error attribute, the JSON body's error), else the body's shape
    /// (sorted top-level JSON keys, or "not JSON"); numbers, ids and paths are left out.
    /// Peeks like `list`
    #[command(after_help = EXIT_CODES)]
    Groups {
        #[command(flatten)]
        queue: QueueArg,
        /// Only messages matching this filter (repeat to AND)
        #[arg(long, value_name = "EXPR")]
        filter: Vec<String>,
        /// Look at most at this many messages
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Print JSON (every group's message ids included) instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Print messages as JSON lines (`> dead.jsonl`); nothing is removed
    ///
    /// One line per message: id, body, attributes, sent_at, receive_count, signature, ... Peeks
    /// like `list`
    #[command(after_help = EXIT_CODES)]
    Export {
        #[command(flatten)]
        queue: QueueArg,
        /// Only messages matching this filter (repeat to AND), e.g. signature=ID
        #[arg(long, value_name = "EXPR")]
        filter: Vec<String>,
        /// At most this many messages
        #[arg(long, default_value_t = 10_000)]
        limit: usize,
    },
    /// Show one message: the body (pretty JSON when it is JSON), every attribute, its source queue
    #[command(after_help = EXIT_CODES)]
    Show {
        /// The message id (from `flightdeck dlq list`)
        id: String,
        #[command(flatten)]
        queue: QueueArg,
        #[arg(long)]
        json: bool,
    },
    /// Move messages back to their source queue (or --to QUEUE): sent before deleted, journalled
    /// on disk so that a run killed at any point loses nothing when run again
    #[command(after_help = EXIT_CODES)]
    Redrive {
        #[command(flatten)]
        queue: QueueArg,
        #[command(flatten)]
        select: SelectArgs,
        /// Send to this queue instead of the source queue (from the redrive policy)
        #[arg(long, value_name = "QUEUE")]
        to: Option<String>,
        /// Show what would move; change nothing
        #[arg(long)]
        dry_run: bool,
        /// At most this many messages per second (a finite number above 0)
        #[arg(long, value_name = "N", value_parser = positive_rate, allow_negative_numbers = true)]
        rate: Option<f64>,
        /// Seconds a message stays hidden while it is moved (also how long a killed run's
        /// messages take to reappear)
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        visibility: i32,
        /// With --all, use flightdeck's batch mover even where StartMessageMoveTask exists
        #[arg(long)]
        no_move_task: bool,
        /// Edit before redrive: send this file's content (`-`: stdin) as the body of the one
        /// message given with --id; its attributes go unchanged. It must be JSON, and a v1 video
        /// task when it goes to the stack's task queue; it is checked before anything moves
        #[arg(long, value_name = "FILE")]
        body_file: Option<std::path::PathBuf>,
        /// Add two message attributes to each message sent, for consumers that dedupe:
        /// flightdeck.origin_message_id (its id in the DLQ) and flightdeck.redrive_run (this
        /// run's id, `run_id` in --json). A message that already has 9 or 10 attributes is not
        /// sent (SQS allows 10): it stays in the DLQ and is counted as untaggable
        #[arg(long)]
        tag_origin: bool,
        /// Do not ask for confirmation (for scripts)
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete messages from a queue (asks you to type the queue name)
    #[command(after_help = EXIT_CODES)]
    Delete {
        #[command(flatten)]
        queue: QueueArg,
        #[command(flatten)]
        select: SelectArgs,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete every message in a queue with PurgeQueue (asks you to type the queue name)
    #[command(after_help = EXIT_CODES)]
    Purge {
        #[command(flatten)]
        queue: QueueArg,
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the possible duplicates on record for a DLQ: messages a redrive sent again after
    /// an earlier run was killed while sending them (each may be in the destination twice).
    /// Every redrive reports the whole record until it is cleared
    #[command(after_help = EXIT_CODES)]
    Duplicates {
        #[command(flatten)]
        queue: QueueArg,
        /// Clear the record (after checking the destination); audited
        #[arg(long)]
        clear: bool,
        #[arg(long)]
        json: bool,
    },
}

/// The filter language, for `flightdeck dlq --help`.
pub const FILTER_HELP: &str = "Filters (--filter EXPR, terms joined by AND; repeat --filter to AND more):\n  \
    body.video_id=abc   $.video_id=abc   the JSON body's value at that path (body.a.b, body.items[0])\n  \
    attr.failure_class=permanent         a message attribute's value\n  \
    id=MESSAGE_ID                        one message\n  \
    signature=ID                         one failure-signature group (ids from `dlq groups`)\n  \
    age>10m   age<1h                     sent longer ago / more recently (s, m, h, d)\n  \
    receives>3   receives<=2             the receive count, flightdeck's own receives left out\n  \
    \"some text\"   word                  the body contains the text (any case)";

#[derive(Debug, Clone, Args)]
pub struct QueueArg {
    /// The queue [default: the stack's dead-letter queue, video_dlq]
    #[arg(long, short = 'q', value_name = "QUEUE")]
    pub queue: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// These messages (repeat for more)
    #[arg(long = "id", value_name = "MESSAGE_ID")]
    pub ids: Vec<String>,
    /// The messages matching this filter (repeat to AND)
    #[arg(long, value_name = "EXPR")]
    pub filter: Vec<String>,
    /// Every message in the queue
    #[arg(long, conflicts_with_all = ["ids", "filter"])]
    pub all: bool,
}

impl SelectArgs {
    fn selection(&self) -> anyhow::Result<MessageSet> {
        if self.all {
            return Ok(MessageSet::Everything);
        }
        if !self.ids.is_empty() {
            if !self.filter.is_empty() {
                return Err(exit(2, "give either --id or --filter, not both"));
            }
            return Ok(MessageSet::Ids(
                self.ids.iter().cloned().collect::<BTreeSet<_>>(),
            ));
        }
        if !self.filter.is_empty() {
            return Ok(MessageSet::Filter(parse_filter(&self.filter)?));
        }
        Err(exit(
            2,
            "say which messages: --id ID, --filter EXPR, or --all",
        ))
    }
}

/// `--rate`: a finite number of messages per second above 0. (0, negatives, NaN and inf
/// would otherwise all mean "unlimited" to the mover without saying so.)
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "`{text}` is not a rate: give messages per second as a finite number above 0 (e.g. 50 or 0.5); leave --rate out for no limit"
        )),
    }
}

fn parse_filter(exprs: &[String]) -> anyhow::Result<Filter> {
    Filter::parse_all(exprs.iter().map(String::as_str))
        .map_err(|e| exit(FAILED, format!("{e}\n\n{FILTER_HELP}")))
}

/// Run one `dlq` subcommand.
pub async fn run(cmd: DlqCommand, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    match cmd {
        DlqCommand::List {
            queue,
            filter,
            limit,
            json,
        } => {
            list(
                ctx,
                &queue_name(ctx, &queue),
                parse_filter(&filter)?,
                limit,
                json,
            )
            .await
        }
        DlqCommand::Groups {
            queue,
            filter,
            limit,
            json,
        } => {
            groups_cmd(
                ctx,
                &queue_name(ctx, &queue),
                parse_filter(&filter)?,
                limit,
                json,
            )
            .await
        }
        DlqCommand::Export {
            queue,
            filter,
            limit,
        } => export_cmd(ctx, &queue_name(ctx, &queue), parse_filter(&filter)?, limit).await,
        DlqCommand::Show { id, queue, json } => {
            show(ctx, &queue_name(ctx, &queue), &id, json).await
        }
        DlqCommand::Redrive {
            queue,
            select,
            to,
            dry_run,
            rate,
            visibility,
            no_move_task,
            body_file,
            tag_origin,
            yes,
            json,
        } => {
            let dlq = queue_name(ctx, &queue);
            let edits = match &body_file {
                None => Default::default(),
                Some(file) => {
                    let [id] = select.ids.as_slice() else {
                        return Err(exit(
                            2,
                            "--body-file replaces one message's body: give exactly one --id",
                        ));
                    };
                    let body = read_body(file).map_err(|e| exit(2, e))?;
                    std::iter::once((id.clone(), body)).collect()
                }
            };
            let mut req = RedriveRequest::new(
                &dlq,
                select.selection()?,
                to.map_or(Destination::Source, Destination::Queue),
                audit::state_dir(),
            );
            req.dry_run = dry_run;
            req.rate_per_s = rate;
            if !(1..=43_200).contains(&visibility) {
                return Err(exit(2, "--visibility must be 1..=43200 seconds"));
            }
            req.visibility_s = visibility;
            req.use_move_task = !no_move_task;
            req.edits = edits;
            req.tag_origin = tag_origin;
            redrive_cmd(ctx, req, yes, json).await
        }
        DlqCommand::Delete {
            queue,
            select,
            dry_run,
            yes,
            json,
        } => {
            let selection = select.selection()?;
            if selection == MessageSet::Everything {
                return Err(exit(
                    2,
                    "to delete every message use `flightdeck dlq purge`",
                ));
            }
            delete_cmd(ctx, &queue_name(ctx, &queue), selection, dry_run, yes, json).await
        }
        DlqCommand::Purge { queue, yes, json } => {
            purge_cmd(ctx, &queue_name(ctx, &queue), yes, json).await
        }
        DlqCommand::Duplicates { queue, clear, json } => {
            duplicates_cmd(ctx, &queue_name(ctx, &queue), clear, json).await
        }
    }
}

/// The edited body from `file` (`-`: stdin), trimmed of the newline editors add.
fn read_body(file: &std::path::Path) -> Result<String, String> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("cannot read stdin: {e}"))?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read --body-file {}: {e}", file.display()))?
    };
    let body = text.trim_end_matches(['\n', '\r']).to_owned();
    if body.trim().is_empty() {
        return Err(format!("--body-file {} is empty", file.display()));
    }
    Ok(body)
}

fn queue_name(ctx: &Ctx<'_>, q: &QueueArg) -> String {
    q.queue
        .clone()
        .unwrap_or_else(|| ctx.stack.queues.dlq.name.clone())
}

/// An engine error as the one line the operator reads, with its exit code (the same line the
/// audit log records, [`ops::jobs::error_result`]).
fn fail(ctx: &Ctx<'_>, e: DlqError) -> anyhow::Error {
    let (result, line) = ops::jobs::error_result(ctx.clients, &e);
    exit(if result == "refused" { REFUSED } else { FAILED }, line)
}

/// The audit result for an error.
fn result_of(e: &anyhow::Error) -> &'static str {
    match e.downcast_ref::<Exit>().map(|x| x.code) {
        Some(REFUSED) => "refused",
        Some(PARTIAL) => "cancelled",
        _ => "failed",
    }
}

/// Ask (or take --yes); a refusal is audited and exits with [`REFUSED`].
fn confirm_or_refuse(
    ctx: &Ctx<'_>,
    action: &Action<'_>,
    what: &str,
    yes: bool,
    audit_as: (&str, &str, &serde_json::Value),
) -> anyhow::Result<()> {
    // Read-only clients refuse the change themselves; asking first would only waste a question.
    if ctx.clients.is_read_only() {
        return Ok(());
    }
    let c = Confirm::for_action(action);
    confirm::headless(&c, what, yes).map_err(|r| {
        ctx.record(audit_as.0, audit_as.1, audit_as.2, "refused", r.to_string());
        exit(REFUSED, r.to_string())
    })
}
