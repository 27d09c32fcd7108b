//! The headless dead-letter commands, `flightdeck dlq list|groups|show|export|redrive|delete|purge`, on
//! top of the [`crate::dlq`] engine: argument parsing, the confirm path, the audit log, a
//! progress bar on stderr, and exit codes that say what happened ([`EXIT_CODES`]).

use std::collections::BTreeSet;
use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::audit;
use crate::confirm::{self, Action, Confirm};
use crate::dlq::peek::{peek, resolve_queue};
use crate::dlq::redrive::{self, DeleteOutcome};
use crate::dlq::{
    Destination, DlqError, DlqMessage, Filter, PeekOptions, RedriveProgress, RedriveRequest,
    Selection,
};
use crate::headless::{exit, Ctx, Exit, EXIT_CODES, FAILED, LEFT, NOTHING, PARTIAL, REFUSED};

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
    fn selection(&self) -> anyhow::Result<Selection> {
        if self.all {
            return Ok(Selection::Everything);
        }
        if !self.ids.is_empty() {
            if !self.filter.is_empty() {
                return Err(exit(2, "give either --id or --filter, not both"));
            }
            return Ok(Selection::Ids(
                self.ids.iter().cloned().collect::<BTreeSet<_>>(),
            ));
        }
        if !self.filter.is_empty() {
            return Ok(Selection::Filter(parse_filter(&self.filter)?));
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
            if selection == Selection::Everything {
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

/// An engine error as the one line the operator reads, with its exit code.
fn fail(ctx: &Ctx<'_>, e: DlqError) -> anyhow::Error {
    match e {
        DlqError::Aws { action, failure } => {
            if failure.message.contains(stack::aws::READ_ONLY_REFUSAL) {
                return exit(
                    REFUSED,
                    format!("{action}: {}", refusal_text(&failure.message)),
                );
            }
            let e = crate::explain(&failure, action, ctx.clients);
            exit(FAILED, format!("{e:#}"))
        }
        other => exit(FAILED, other.to_string()),
    }
}

fn refusal_text(message: &str) -> &str {
    message
        .find(stack::aws::READ_ONLY_REFUSAL)
        .map_or(message, |i| {
            message[i..]
                .split(": dispatch failure")
                .next()
                .unwrap_or(message)
        })
}

fn audit_entry(
    ctx: &Ctx<'_>,
    action: &str,
    target: &str,
    parameters: serde_json::Value,
    result: &str,
    detail: String,
) {
    let entry = audit::Entry::now(
        ctx.clients,
        ctx.profile,
        action,
        target,
        parameters,
        result,
        detail,
    );
    if let Err(e) = audit::record(&entry) {
        eprintln!("flightdeck: warning: {e:#}");
    }
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
        audit_entry(
            ctx,
            audit_as.0,
            audit_as.1,
            audit_as.2.clone(),
            "refused",
            r.to_string(),
        );
        exit(REFUSED, r.to_string())
    })
}

async fn list(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    // Read before the peek, which puts what it reads in flight for a few seconds.
    let (depth, in_flight) = crate::dlq::peek::depth_parts(&ctx.clients.sqs, &q.url)
        .await
        .map_err(|e| fail(ctx, e))?;
    let opts = PeekOptions {
        filter,
        max: limit,
        state_dir: Some(audit::state_dir()),
        ..PeekOptions::default()
    };
    let msgs = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| fail(ctx, e))?;
    if json {
        let listing = serde_json::json!({
            "queue": q.name,
            "depth": depth,
            "in_flight": in_flight,
            "messages": msgs,
        });
        println!("{}", serde_json::to_string_pretty(&listing)?);
    } else {
        print!("{}", table(&msgs, chrono::Utc::now()));
        eprintln!(
            "{} message(s) in {} (receive counts leave out flightdeck's own receives, this listing's too)",
            msgs.len(),
            q.name
        );
    }
    Ok(())
}

/// One peek pass of `queue` for `groups` and `export`: the queue and the matching messages.
async fn peek_matching(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    max: usize,
) -> anyhow::Result<(crate::dlq::peek::QueueRef, Vec<DlqMessage>)> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let opts = PeekOptions {
        filter,
        max,
        state_dir: Some(audit::state_dir()),
        ..PeekOptions::default()
    };
    let msgs = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| fail(ctx, e))?;
    Ok((q, msgs))
}

async fn groups_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let (q, msgs) = peek_matching(ctx, queue, filter, limit).await?;
    let groups = ui::dlqsig::group(msgs.iter().map(DlqMessage::fields));
    let capped = msgs.len() >= limit;
    if json {
        let listing = serde_json::json!({
            "queue": q.name,
            "messages": msgs.len(),
            "limit_reached": capped,
            "groups": groups,
        });
        println!("{}", serde_json::to_string_pretty(&listing)?);
    } else {
        print!("{}", groups_table(&groups, chrono::Utc::now()));
        eprintln!(
            "{} group(s) of {} message(s) in {}{}; act on one with --filter signature=ID",
            groups.len(),
            msgs.len(),
            q.name,
            if capped {
                format!(" (the first {limit}: raise --limit for more)")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The groups as a table: signature id, count, oldest, newest, receives, example, signature.
pub fn groups_table(groups: &[ui::dlqsig::Group], now: chrono::DateTime<chrono::Utc>) -> String {
    let age = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".into(), |t| {
            human_age((now - t).to_std().unwrap_or_default())
        })
    };
    let mut out = format!(
        "{:<8}  {:>5}  {:>6}  {:>6}  {:>7}  {:<36}  {}\n",
        "ID", "COUNT", "OLDEST", "NEWEST", "RCV", "EXAMPLE", "SIGNATURE"
    );
    for g in groups {
        let receives = if g.min_receives == g.max_receives {
            g.min_receives.to_string()
        } else {
            format!("{}-{}", g.min_receives, g.max_receives)
        };
        out += &format!(
            "{:<8}  {:>5}  {:>6}  {:>6}  {:>7}  {:<36}  {}\n",
            g.signature.id,
            g.count,
            age(g.oldest),
            age(g.newest),
            receives,
            g.example_id,
            g.signature.text
        );
    }
    out
}

async fn export_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    limit: usize,
) -> anyhow::Result<()> {
    use std::io::Write;
    let (q, msgs) = peek_matching(ctx, queue, filter, limit).await?;
    if msgs.is_empty() {
        return Err(exit(NOTHING, format!("no message to export in {}", q.name)));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for m in &msgs {
        let mut line = serde_json::to_value(m)?;
        if let Some(o) = line.as_object_mut() {
            o.insert("queue".into(), q.name.clone().into());
            o.insert(
                "signature".into(),
                serde_json::to_value(ui::dlqsig::signature(&m.fields()))?,
            );
        }
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    }
    out.flush()?;
    eprintln!(
        "exported {} message(s) from {}{}",
        msgs.len(),
        q.name,
        if msgs.len() >= limit {
            format!(" (the first {limit}: raise --limit for more)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The list as a table: id, age, receives, size, failure reason, preview.
pub fn table(msgs: &[DlqMessage], now: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = format!(
        "{:<36}  {:>8}  {:>4}  {:>7}  {:<24}  {}\n",
        "ID", "AGE", "RCV", "SIZE", "REASON", "BODY"
    );
    for m in msgs {
        let age = m.age(now).map_or("-".into(), human_age);
        let reason: String = m.failure_reason().unwrap_or("-").chars().take(24).collect();
        out += &format!(
            "{:<36}  {:>8}  {:>4}  {:>7}  {:<24}  {}\n",
            m.id,
            age,
            m.receive_count,
            m.size,
            reason,
            m.preview(60)
        );
    }
    out
}

fn human_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7_199 => format!("{}m", s / 60),
        7_200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

async fn show(ctx: &Ctx<'_>, queue: &str, id: &str, json: bool) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let opts = PeekOptions {
        filter: Filter::parse(&format!("id={id}"))?,
        max: 1,
        state_dir: Some(audit::state_dir()),
        ..PeekOptions::default()
    };
    let found = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| fail(ctx, e))?;
    let Some(m) = found.into_iter().next() else {
        return Err(exit(
            NOTHING,
            format!(
                "no message {id} in {} (list them with `flightdeck dlq list`)",
                q.name
            ),
        ));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    println!("id:             {}", m.id);
    println!("queue:          {}", q.name);
    println!(
        "source queue:   {}",
        m.source_arn
            .as_deref()
            .map_or("-", |a| a.rsplit(':').next().unwrap_or(a))
    );
    println!(
        "sent:           {}",
        m.sent_at.map_or("-".into(), |t| t.to_rfc3339())
    );
    if m.receive_count == m.approximate_receive_count {
        println!("receive count:  {}", m.receive_count);
    } else {
        println!(
            "receive count:  {} ({} as SQS counts, flightdeck's own receives included)",
            m.receive_count, m.approximate_receive_count
        );
    }
    println!("size:           {} bytes", m.size);
    println!("attributes:");
    for (k, v) in &m.attributes {
        println!("  {k} = {v}");
    }
    println!("body:");
    match serde_json::from_str::<serde_json::Value>(&m.body) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) => println!("{}", m.body),
    }
    Ok(())
}

async fn redrive_cmd(
    ctx: &Ctx<'_>,
    req: RedriveRequest,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let params = serde_json::json!({
        "selection": req.selection.describe(),
        "destination": match &req.destination { Destination::Source => "source".to_string(), Destination::Queue(q) => q.clone() },
        "rate_per_s": req.rate_per_s,
        "dry_run": req.dry_run,
        "edited_bodies": req.edits,
        "tag_origin": req.tag_origin,
    });
    // Not even JSON: say so before asking (the v1 check needs the destination, resolved later).
    redrive::check_edits(&req.edits, "", ctx.stack).map_err(|e| fail(ctx, e))?;
    if !req.dry_run {
        let what = format!(
            "Redrive {}{} from {} to {}.",
            req.selection.describe(),
            if req.edits.is_empty() {
                ""
            } else {
                " with an edited body"
            },
            req.dlq,
            match &req.destination {
                Destination::Source => "its source queue".to_string(),
                Destination::Queue(q) => q.clone(),
            }
        );
        let action = Action::Redrive {
            dlq: &req.dlq,
            bulk: req.selection.is_bulk(),
        };
        confirm_or_refuse(ctx, &action, &what, yes, ("dlq.redrive", &req.dlq, &params))?;
    }
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let (tx, rx) = watch::channel(RedriveProgress::default());
    let bar = tokio::spawn(progress_bar(rx, req.dry_run));
    let result = redrive::run(ctx.clients, ctx.stack, &req, &tx, &cancel).await;
    drop(tx);
    let _ = bar.await;
    on_ctrl_c.abort();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let err = fail(ctx, e);
            if !req.dry_run {
                audit_entry(
                    ctx,
                    "dlq.redrive",
                    &req.dlq,
                    params,
                    result_of(&err),
                    err.to_string(),
                );
            }
            return Err(err);
        }
    };
    let p = &outcome.progress;
    let summary = format!(
        "{} {} message(s) from {} to {} ({} mover){}{}{}{}{}{}",
        if p.dry_run { "would move" } else { "moved" },
        p.moved,
        p.dlq,
        p.destination,
        match p.mover {
            Some(redrive::Mover::MoveTask) => "StartMessageMoveTask",
            _ => "batch",
        },
        if p.resumed > 0 {
            format!("; {} sent by an earlier run, deleted now", p.resumed)
        } else {
            String::new()
        },
        duplicates_note(p),
        if p.failed > 0 {
            format!("; {} could not be sent and stay in the DLQ", p.failed)
        } else {
            String::new()
        },
        left_note(p),
        if p.untaggable > 0 {
            format!(
                "; {} not sent: tagging would give them more than SQS's {} message attributes (they stay in the DLQ; redrive them without --tag-origin)",
                p.untaggable,
                redrive::MAX_MESSAGE_ATTRIBUTES
            )
        } else {
            String::new()
        },
        if req.tag_origin && !p.dry_run && p.moved > 0 {
            format!("; tagged with run {}", p.run_id)
        } else {
            String::new()
        },
    );
    if !req.dry_run {
        let result = if p.cancelled {
            "cancelled"
        } else if p.failed > 0 || p.left > 0 || p.untaggable > 0 || outcome.journal.is_some() {
            "partial"
        } else {
            "ok"
        };
        audit_entry(
            ctx,
            "dlq.redrive",
            &req.dlq,
            params,
            result,
            summary.clone(),
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        if p.dry_run && !outcome.would_move.is_empty() {
            print!("{}", table(&outcome.would_move, chrono::Utc::now()));
        }
        for note in &p.notes {
            eprintln!("note: {note}");
        }
        println!("{summary}");
    }
    if p.cancelled || p.failed > 0 || outcome.journal.is_some() {
        return Err(exit(
            PARTIAL,
            if p.cancelled {
                "stopped before the end: run the same command again to continue"
            } else {
                "some messages were not sent or not yet deleted: run the same command again to finish"
            },
        ));
    }
    if p.left > 0 {
        return Err(exit(
            LEFT,
            format!(
                "{} message(s) left in {}: held by another consumer; run the same command again once they are visible",
                p.left, p.dlq
            ),
        ));
    }
    if p.untaggable > 0 {
        return Err(exit(
            LEFT,
            format!(
                "{} message(s) left in {}: too many attributes to tag ({})",
                p.untaggable,
                p.dlq,
                outcome.untaggable_ids.join(", ")
            ),
        ));
    }
    if p.moved == 0 && p.resumed == 0 {
        return Err(exit(NOTHING, String::new()));
    }
    Ok(())
}

/// Messages another consumer held when the run ended (see [`RedriveProgress::left`]).
pub fn left_note(p: &RedriveProgress) -> String {
    match (p.left, p.dry_run) {
        (0, _) => String::new(),
        (n, true) => {
            format!("; {n} held by another consumer (in flight elsewhere) could not be looked at")
        }
        (n, false) => {
            format!("; {n} left in the DLQ, held by another consumer (in flight elsewhere)")
        }
    }
}

/// This run's possible duplicates and the DLQ's record of them, which lasts across runs
/// until `flightdeck dlq duplicates --clear`.
pub fn duplicates_note(p: &RedriveProgress) -> String {
    if p.possible_duplicates_total == 0 {
        return String::new();
    }
    format!(
        "; {} possible duplicate(s) this run, {} on record for this DLQ (an earlier run was killed while sending them; list them with `flightdeck dlq duplicates`)",
        p.possible_duplicates, p.possible_duplicates_total
    )
}

/// `dlq duplicates`: the DLQ's record of possible duplicates, and clearing it.
async fn duplicates_cmd(ctx: &Ctx<'_>, queue: &str, clear: bool, json: bool) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let journal = crate::dlq::journal::Journal::open(&audit::state_dir(), &q.url)
        .map_err(|e| fail(ctx, e))?;
    let ids: Vec<String> = journal.duplicates().iter().cloned().collect();
    if clear {
        if ctx.clients.is_read_only() {
            let why =
                "refused by --read-only: clearing the record changes what later redrives report";
            audit_entry(
                ctx,
                "dlq.duplicates.clear",
                &q.name,
                serde_json::json!({}),
                "refused",
                why.into(),
            );
            return Err(exit(REFUSED, why));
        }
        let n = journal.clear_duplicates().map_err(|e| fail(ctx, e))?;
        audit_entry(
            ctx,
            "dlq.duplicates.clear",
            &q.name,
            serde_json::json!({ "ids": ids }),
            "ok",
            format!("cleared {n} possible duplicate(s) on record"),
        );
    } else {
        // Looking leaves no empty journal behind (and compacts one that has content).
        journal
            .finish(false, &std::collections::HashSet::new())
            .map_err(|e| fail(ctx, e))?;
    }
    if json {
        let out =
            serde_json::json!({ "queue": q.name, "possible_duplicate_ids": ids, "cleared": clear });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for id in &ids {
            println!("{id}");
        }
        eprintln!(
            "{} possible duplicate(s) on record for {}{}",
            ids.len(),
            q.name,
            if clear { ": cleared" } else { "" }
        );
    }
    Ok(())
}

/// The live progress bar on stderr (hidden when stderr is not a terminal).
async fn progress_bar(mut rx: watch::Receiver<RedriveProgress>, dry_run: bool) {
    if !std::io::stderr().is_terminal() {
        while rx.changed().await.is_ok() {}
        return;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    while rx.changed().await.is_ok() {
        let p = rx.borrow_and_update().clone();
        bar.set_length(p.moved + p.remaining.unwrap_or(0));
        bar.set_position(p.moved);
        let eta = p
            .eta
            .map_or(String::new(), |e| format!(", ETA {}s", e.as_secs()));
        bar.set_message(format!(
            "{} {:.0} msg/s{eta}{}",
            if dry_run { "would move," } else { "moved," },
            p.rate_per_s,
            if p.possible_duplicates > 0 {
                format!(", {} possible duplicates", p.possible_duplicates)
            } else {
                String::new()
            }
        ));
    }
    bar.finish_and_clear();
}

async fn delete_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    selection: Selection,
    dry_run: bool,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let params = serde_json::json!({"selection": selection.describe(), "dry_run": dry_run});
    if !dry_run {
        let what = format!(
            "Delete {} from {} (they cannot be recovered).",
            selection.describe(),
            q.name
        );
        confirm_or_refuse(
            ctx,
            &Action::Delete { queue: &q.name },
            &what,
            yes,
            ("dlq.delete", &q.name, &params),
        )?;
    }
    let out: DeleteOutcome = match redrive::delete(
        &ctx.clients.sqs,
        &q,
        &selection,
        dry_run,
        Some(&audit::state_dir()),
        &CancellationToken::new(),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            let err = fail(ctx, e);
            if !dry_run {
                audit_entry(
                    ctx,
                    "dlq.delete",
                    &q.name,
                    params,
                    result_of(&err),
                    err.to_string(),
                );
            }
            return Err(err);
        }
    };
    let summary = if dry_run {
        format!("would delete {} message(s) from {}", out.ids.len(), q.name)
    } else {
        format!("deleted {} message(s) from {}", out.deleted, q.name)
    };
    if !dry_run {
        audit_entry(ctx, "dlq.delete", &q.name, params, "ok", summary.clone());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for id in &out.ids {
            println!("{id}");
        }
        println!("{summary}");
    }
    if out.ids.is_empty() {
        return Err(exit(NOTHING, String::new()));
    }
    Ok(())
}

#[derive(Serialize)]
struct PurgeOutcome<'a> {
    queue: &'a str,
    purged: bool,
    approximate_messages_before: u64,
}

async fn purge_cmd(ctx: &Ctx<'_>, queue: &str, yes: bool, json: bool) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let before = crate::dlq::peek::approximate_depth(&ctx.clients.sqs, &q.url)
        .await
        .map_err(|e| fail(ctx, e))?;
    let params = serde_json::json!({"approximate_messages": before});
    let what = format!(
        "Purge {}: delete all of its ~{before} message(s); they cannot be recovered.",
        q.name
    );
    confirm_or_refuse(
        ctx,
        &Action::Purge { queue: &q.name },
        &what,
        yes,
        ("dlq.purge", &q.name, &params),
    )?;
    if let Err(e) = redrive::purge(&ctx.clients.sqs, &q).await {
        let err = fail(ctx, e);
        audit_entry(
            ctx,
            "dlq.purge",
            &q.name,
            params,
            result_of(&err),
            err.to_string(),
        );
        return Err(err);
    }
    let summary = format!("purged {} (~{before} message(s))", q.name);
    audit_entry(ctx, "dlq.purge", &q.name, params, "ok", summary.clone());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&PurgeOutcome {
                queue: &q.name,
                purged: true,
                approximate_messages_before: before
            })?
        );
    } else {
        println!("{summary}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use std::collections::BTreeMap;

    #[test]
    fn the_groups_table_has_one_row_per_signature_with_ages_and_a_receive_range() {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let attrs = |reason: &str| -> BTreeMap<String, String> {
            [("failure_reason", reason), ("failure_class", "permanent")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let (a, b, c) = (attrs("size 10"), attrs("size 20"), attrs("no_video"));
        let f = |id, min: i64, receive_count, attributes| ui::dlqfilter::Fields {
            id,
            body: "{}",
            sent_at: Some(now - Duration::minutes(min)),
            receive_count,
            attributes,
        };
        let groups = ui::dlqsig::group([f("m1", 90, 2, &a), f("m2", 5, 7, &b), f("m3", 1, 1, &c)]);
        let table = groups_table(&groups, now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[0].starts_with("ID        COUNT  OLDEST  NEWEST"),
            "{table}"
        );
        let first = format!(
            "{}      2     90m      5m      2-7  m1",
            groups[0].signature.id
        );
        assert!(lines[1].starts_with(&first), "{table}");
        assert!(lines[1].ends_with("  size <n> (permanent)"), "{table}");
        assert!(lines[2].contains("      1  m3 "), "{table}");
        assert!(lines[2].ends_with("no_video (permanent)"), "{table}");
    }
}
