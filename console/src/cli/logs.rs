//! `flightdeck logs`: the API's and the worker's log lines from CloudWatch Logs, searched,
//! followed, and found from a dead letter.

use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::cli::headless::{exit, Ctx};
use ops::dlq::peek::{peek, resolve_queue, PeekOptions};
use ops::dlq::Filter;
use ops::logs::{self, LogQuery, LogsError, Tail};

#[derive(Debug, Args)]
#[command(after_help = LOGS_HELP)]
pub struct LogsArgs {
    /// A role (api, worker), an Auto Scaling group, a log group (/flightdeck/worker) or an
    /// instance id (i-...) [default: every group of the stack]
    #[arg(value_name = "GROUP|INSTANCE")]
    pub target: Option<String>,
    /// Only lines containing this text (repeat: every one)
    #[arg(long, value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Lines of the last DURATION (s, m, h, d: 30s, 15m, 2h, 1d)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = since_parser)]
    pub since: u64,
    /// Only lines about this request or job (its correlation_id)
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Only lines about this video
    #[arg(long, value_name = "ID")]
    pub video_id: Option<String>,
    /// Every line about the video and request of this dead letter (its id from `flightdeck dlq list`)
    #[arg(long, value_name = "MESSAGE_ID", conflicts_with_all = ["correlation_id", "video_id"])]
    pub dlq_message: Option<String>,
    /// The queue of --dlq-message [default: the stack's dead-letter queue]
    #[arg(long, value_name = "QUEUE", requires = "dlq_message")]
    pub queue: Option<String>,
    /// Keep printing new lines (polls every --interval) until Ctrl-C
    #[arg(long)]
    pub follow: bool,
    /// Seconds between polls with --follow
    #[arg(long, default_value_t = 2, value_name = "SECS", requires = "follow",
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub interval: u64,
    /// One JSON object per line (timestamp, group, stream, event_id, message)
    #[arg(long)]
    pub json: bool,
    /// At most this many lines (per poll with --follow)
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub limit: u64,
}

pub const LOGS_HELP: &str = "Where the lines are: each role's log group (groups.*.logs.group in stack.json), one stream per \
instance id. On AWS the CloudWatch agent ships them; in the local cloud the fleet does.\n\n\
Examples:\n  \
flightdeck logs worker --since 15m --filter WARN\n  \
flightdeck logs i-0a1b2c3d --follow\n  \
flightdeck logs --dlq-message 5f1c...        every line about a dead letter's video, on every instance\n  \
flightdeck dlq list --json | jq -r '.messages[].body | fromjson | .video_id'   ids for --video-id";

fn since_parser(text: &str) -> Result<u64, String> {
    match ui::dlqfilter::parse_duration_s(text) {
        Some(s) if s > 0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a duration: give a number with s, m, h or d (30s, 15m, 2h, 1d)"
        )),
    }
}

pub async fn run(args: LogsArgs, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let (groups, streams) =
        logs::resolve_target(ctx.stack, args.target.as_deref()).map_err(|e| exit(2, e))?;
    let mut query = LogQuery {
        groups,
        streams,
        all: args.filter.clone(),
        any: Vec::new(),
        start_ms: chrono::Utc::now().timestamp_millis()
            - i64::try_from(args.since.saturating_mul(1000)).unwrap_or(i64::MAX / 2),
        limit: usize::try_from(args.limit).unwrap_or(1000),
        newest: false,
    };
    query.all.extend(args.correlation_id.iter().cloned());
    query.all.extend(args.video_id.iter().cloned());
    if let Some(id) = &args.dlq_message {
        query.any = dead_letter_ids(ctx, args.queue.as_deref(), id).await?;
    }
    let found = logs::search(&ctx.clients.logs, &query)
        .await
        .map_err(|e| fail(ctx, e))?;
    for g in &found.missing_groups {
        eprintln!(
            "flightdeck: {}",
            logs::missing_note(std::slice::from_ref(g), &ctx.clients.describe_target())
        );
    }
    let mut tail = Tail::default();
    let lines = tail.fresh(found.lines);
    let printed = lines.len();
    for line in &lines {
        print_line(line, args.json)?;
    }
    if found.more {
        eprintln!(
            "flightdeck: more lines matched than the {printed} printed: narrow with --since, --filter or a group, or raise --limit"
        );
    }
    if !args.follow {
        if printed == 0 && !args.json {
            eprintln!(
                "flightdeck: no lines in the last {} (widen --since, or check the filter)",
                ui::fmt::duration(Duration::from_secs(args.since))
            );
        }
        return Ok(());
    }
    follow(ctx, query, tail, args.interval, args.json).await
}

/// Poll for new lines until Ctrl-C. Each poll asks from the newest line's time (less a
/// margin for lines that reach CloudWatch Logs late) and leaves out lines already printed.
async fn follow(
    ctx: &Ctx<'_>,
    mut query: LogQuery,
    mut tail: Tail,
    interval: u64,
    json: bool,
) -> anyhow::Result<()> {
    let window_start = query.start_ms;
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(interval)) => {}
        }
        query.start_ms = tail.start(window_start);
        match logs::search(&ctx.clients.logs, &query).await {
            Ok(found) => {
                if failing {
                    eprintln!("flightdeck: reading lines again");
                    failing = false;
                }
                for line in &tail.fresh(found.lines) {
                    print_line(line, json)?;
                }
            }
            // A failed poll is said once and retried; the follow goes on.
            Err(e) => {
                if !failing {
                    eprintln!("flightdeck: {e} (retrying every {interval} s)");
                    failing = true;
                }
            }
        }
    }
}

fn print_line(line: &logs::LogLine, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(line)?);
    } else {
        println!("{}", logs::human(line));
    }
    Ok(())
}

/// The video id and correlation id in a dead letter's body.
async fn dead_letter_ids(
    ctx: &Ctx<'_>,
    queue: Option<&str>,
    id: &str,
) -> anyhow::Result<Vec<String>> {
    let queue = queue.unwrap_or(&ctx.stack.queues.dlq.name);
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| exit(1, e.to_string()))?;
    let opts = PeekOptions {
        filter: Filter::parse(&format!("id={id}"))?,
        max: 1,
        state_dir: Some(ops::audit::state_dir()),
        ..PeekOptions::default()
    };
    let found = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| exit(1, e.to_string()))?;
    let Some(m) = found.into_iter().next() else {
        return Err(exit(
            5,
            format!(
                "no message {id} in {} (list them with `flightdeck dlq list`)",
                q.name
            ),
        ));
    };
    let ids = ui::logs::ids_of_dead_letter(&m.body);
    if ids.is_empty() {
        return Err(exit(
            5,
            format!(
                "message {id} names no video_id or correlation_id (its body is not a task message); see it with `flightdeck dlq show {id}`"
            ),
        ));
    }
    eprintln!("flightdeck: lines about {}", ids.join(" or "));
    Ok(ids)
}

fn fail(ctx: &Ctx<'_>, e: LogsError) -> anyhow::Error {
    match e.failure() {
        Some(f) if f.message.contains(stack::aws::READ_ONLY_REFUSAL) => exit(3, f.message.clone()),
        Some(f) => exit(
            1,
            format!("{:#}", ops::explain(f, "FilterLogEvents", ctx.clients)),
        ),
        None => exit(1, e.to_string()),
    }
}
