//! `flightdeck status`: one snapshot of the watched groups and queues (the config's `[watch]`,
//! found as the console's agents find them, `ops::watch`) and the bucket at the target, as
//! tables or JSON. Read-only: DescribeAutoScalingGroups, GetQueueUrl, ListQueues,
//! ListQueueTags, GetQueueAttributes, HeadBucket, GetBucketVersioning.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use aws_sdk_sqs::types::QueueAttributeName;
use futures_util::StreamExt;
use serde::Serialize;
use stack::errors::{describe, AwsFailure};
use stack::{Clients, Stack};

use ops::calls::CallLog;
use ops::watch::{CallError, QueueFinder, Watch};

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub target: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub observed_at: chrono::DateTime<chrono::Utc>,
    pub groups: Vec<GroupStatus>,
    pub queues: Vec<QueueStatus>,
    pub bucket: BucketStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub name: String,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    pub in_service: usize,
    pub pending: usize,
    pub terminating: usize,
    /// Desired capacity at max in a group that can scale (min < max): no policy can add an
    /// instance.
    pub at_max: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueStatus {
    pub name: String,
    pub url: String,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// The dead-letter queue this queue redrives to, by name.
    pub dead_letter_queue: Option<String>,
    pub max_receive_count: Option<u64>,
    /// The dead-letter queue's ARN, to find it when it is not watched by name.
    #[serde(skip)]
    dead_letter_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketStatus {
    pub name: String,
    pub exists: bool,
    pub versioning: Option<String>,
}

/// A failed read, with what the operator should do about it.
#[derive(Debug, thiserror::Error)]
#[error("{action} failed: {failure}")]
pub struct StatusError {
    pub action: &'static str,
    pub failure: AwsFailure,
}

fn failed<E, R>(
    action: &'static str,
) -> impl FnOnce(aws_sdk_sqs::error::SdkError<E, R>) -> StatusError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: stack::errors::HttpStatus + std::fmt::Debug + 'static,
{
    move |e| StatusError {
        action,
        failure: describe(&e),
    }
}

fn call_failed(e: CallError) -> StatusError {
    StatusError {
        action: e.api,
        failure: e.failure,
    }
}

/// What `status` watches, kept across `--watch` prints (queue URLs and tags are cached).
pub struct Watcher {
    watch: Watch,
    queues: QueueFinder,
}

impl Watcher {
    pub fn new(watch: Watch) -> Watcher {
        let queues = QueueFinder::new(watch.queues.clone(), watch.dead_letter_queues);
        Watcher { watch, queues }
    }
}

/// The stack's own groups and queues.
pub async fn gather(clients: &Clients, stack: &Stack) -> Result<Status, StatusError> {
    gather_watched(clients, stack, &mut Watcher::new(Watch::stack(stack))).await
}

pub async fn gather_watched(
    clients: &Clients,
    stack: &Stack,
    watcher: &mut Watcher,
) -> Result<Status, StatusError> {
    let (groups, queues, bucket) = tokio::try_join!(
        groups(clients, &watcher.watch),
        queues(clients, &mut watcher.queues),
        bucket(clients, &stack.bucket.name)
    )?;
    Ok(Status {
        target: clients.describe_target(),
        endpoint: clients.endpoint().map(str::to_string),
        region: clients.region().to_string(),
        observed_at: chrono::Utc::now(),
        groups,
        queues,
        bucket,
    })
}

async fn groups(c: &Clients, watch: &Watch) -> Result<Vec<GroupStatus>, StatusError> {
    let mut out = Vec::new();
    let found = ops::watch::describe_groups(c, &CallLog::default(), &watch.groups)
        .await
        .map_err(call_failed)?;
    for g in &found {
        let count = |pred: fn(&str) -> bool| {
            g.instances()
                .iter()
                .filter(|i| i.lifecycle_state().is_some_and(|s| pred(s.as_str())))
                .count()
        };
        let (min, desired, max) = (
            g.min_size().unwrap_or_default(),
            g.desired_capacity().unwrap_or_default(),
            g.max_size().unwrap_or_default(),
        );
        out.push(GroupStatus {
            name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
            min,
            desired,
            max,
            at_max: ui::at_max(min.into(), desired.into(), max.into()),
            in_service: count(|s| s == "InService"),
            pending: count(|s| s.starts_with("Pending")),
            terminating: count(|s| s.starts_with("Terminating")),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The watched queues and, unless told not to, the dead-letter queues they name.
async fn queues(c: &Clients, finder: &mut QueueFinder) -> Result<Vec<QueueStatus>, StatusError> {
    let calls = CallLog::default();
    let urls = finder.urls(c, &calls).await.map_err(call_failed)?;
    let mut out = attributes(c, urls).await?;
    if finder.dead_letter_queues {
        let names: BTreeSet<&str> = out.iter().map(|q| q.name.as_str()).collect();
        let missing: BTreeSet<String> = out
            .iter()
            .filter_map(|q| q.dead_letter_arn.clone())
            .filter(|arn| !names.contains(ui::name_from_arn(arn)))
            .collect();
        let mut more = Vec::new();
        for arn in missing {
            more.extend(finder.dlq_url(c, &calls, &arn).await.map_err(call_failed)?);
        }
        out.extend(attributes(c, more).await?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// GetQueueAttributes calls `flightdeck status` has in flight at once.
const STATUS_CALLS_AT_ONCE: usize = 8;

/// GetQueueAttributes for each queue, [`STATUS_CALLS_AT_ONCE`] at a time, asking for the
/// attributes the console reads (not `All`).
async fn attributes(c: &Clients, urls: Vec<String>) -> Result<Vec<QueueStatus>, StatusError> {
    let mut reads = futures_util::stream::iter(urls)
        .map(|url| async move {
            let out = c
                .sqs
                .get_queue_attributes()
                .queue_url(&url)
                .set_attribute_names(Some(ops::queues::SNAPSHOT_ATTRIBUTES.to_vec()))
                .send()
                .await
                .map_err(failed("GetQueueAttributes"))?;
            Ok::<_, StatusError>(queue_status(url, out.attributes()))
        })
        .buffer_unordered(STATUS_CALLS_AT_ONCE);
    let mut out = Vec::new();
    while let Some(status) = reads.next().await {
        out.push(status?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A queue's line, from the same reading of its attributes as the console's queues view
/// (`ops::queues::queue_snapshot`).
fn queue_status(
    url: String,
    attrs: Option<&std::collections::HashMap<QueueAttributeName, String>>,
) -> QueueStatus {
    let none = std::collections::HashMap::new();
    let snapshot = ops::queues::queue_snapshot(&url, attrs.unwrap_or(&none));
    let redrive = snapshot.redrive;
    QueueStatus {
        name: snapshot.name,
        url: snapshot.url,
        visible: snapshot.visible,
        in_flight: snapshot.in_flight,
        delayed: snapshot.delayed,
        dead_letter_queue: redrive
            .as_ref()
            .map(|r| ui::name_from_arn(&r.dlq_arn).to_owned()),
        max_receive_count: redrive.as_ref().map(|r| u64::from(r.max_receive_count)),
        dead_letter_arn: redrive.map(|r| r.dlq_arn),
    }
}

async fn bucket(c: &Clients, name: &str) -> Result<BucketStatus, StatusError> {
    match c.s3.head_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            return Ok(BucketStatus {
                name: name.to_string(),
                exists: false,
                versioning: None,
            })
        }
        Err(e) => return Err(failed("HeadBucket")(e)),
    }
    let status = stack::aws::bucket_versioning(&c.s3, name)
        .await
        .map_err(failed("GetBucketVersioning"))?;
    Ok(BucketStatus {
        name: name.to_string(),
        exists: true,
        versioning: Some(status.map_or("Disabled".to_string(), |s| s.as_str().to_string())),
    })
}

/// Left-aligned first column, right-aligned numbers, in the style of `kubectl get`.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let numeric = i > 0 && cell.chars().all(|c| c.is_ascii_digit());
            if numeric {
                let _ = write!(s, "{cell:>w$}");
            } else if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}");
            }
        }
        s.trim_end().to_string()
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(out, "{}", line(&header));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
}

impl Status {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "flightdeck status · {} · {}\n",
            self.target,
            self.observed_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        if self.groups.is_empty() {
            let _ = writeln!(out, "AUTO SCALING GROUPS: none\n");
        } else {
            let rows: Vec<Vec<String>> = self
                .groups
                .iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        g.min.to_string(),
                        g.desired.to_string(),
                        g.max.to_string(),
                        g.in_service.to_string(),
                        g.pending.to_string(),
                        g.terminating.to_string(),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "AUTO SCALING GROUP",
                    "MIN",
                    "DESIRED",
                    "MAX",
                    "IN SERVICE",
                    "PENDING",
                    "TERMINATING",
                ],
                &rows,
            );
            // As the console marks it: no policy can scale such a group out.
            for g in self.groups.iter().filter(|g| g.at_max) {
                let _ = writeln!(
                    out,
                    "! {} is at its max ({}): no policy can add an instance",
                    g.name, g.max
                );
            }
            out.push('\n');
        }
        if self.queues.is_empty() {
            let _ = writeln!(out, "QUEUES: none\n");
        } else {
            let rows: Vec<Vec<String>> = self
                .queues
                .iter()
                .map(|q| {
                    let dlq = match (&q.dead_letter_queue, q.max_receive_count) {
                        (Some(d), Some(n)) => format!("{d} (after {n} receives)"),
                        (Some(d), None) => d.clone(),
                        _ => "-".to_string(),
                    };
                    vec![
                        q.name.clone(),
                        q.visible.to_string(),
                        q.in_flight.to_string(),
                        q.delayed.to_string(),
                        dlq,
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "QUEUE",
                    "VISIBLE",
                    "IN FLIGHT",
                    "DELAYED",
                    "DEAD-LETTER QUEUE",
                ],
                &rows,
            );
            out.push('\n');
        }
        let b = &self.bucket;
        let row = if b.exists {
            vec![
                b.name.clone(),
                "yes".into(),
                b.versioning.clone().unwrap_or_default(),
            ]
        } else {
            vec![b.name.clone(), "missing".into(), "-".into()]
        };
        table(&mut out, &["BUCKET", "EXISTS", "VERSIONING"], &[row]);
        out
    }
}

/// `status --watch`: prints a snapshot every `interval_s` seconds until Ctrl-C or SIGTERM. In a
/// terminal the text replaces the previous print; `--json` prints one object per line. A failed
/// poll is printed (JSON: `{"error": ...}`) and the next one is tried at the next interval, so a
/// script watching the output sees an outage rather than an exit.
pub async fn watch(
    clients: &Clients,
    stack: &Stack,
    watch: Watch,
    json: bool,
    interval_s: u64,
) -> anyhow::Result<()> {
    let mut watcher = Watcher::new(watch);
    use std::io::IsTerminal as _;
    use tokio::signal::unix::{signal, SignalKind};

    let tty = std::io::stdout().is_terminal() && !json;
    let mut term = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval_s.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
        }
        let result = gather_watched(clients, stack, &mut watcher).await;
        let out = match (&result, json) {
            (Ok(s), true) => serde_json::to_string(s)?,
            (Ok(s), false) => s.to_text(),
            (Err(e), true) => serde_json::json!({
                "observed_at": chrono::Utc::now(),
                "error": e.to_string(),
                "class": format!("{:?}", e.failure.class),
            })
            .to_string(),
            (Err(e), false) => format!(
                "{}: {}\n",
                chrono::Utc::now().format("%H:%M:%S"),
                ops::explain(&e.failure, e.action, clients)
            ),
        };
        if tty {
            // Home and clear, then the new snapshot, so the terminal shows one at a time.
            print!("\x1b[H\x1b[2J{out}");
        } else {
            println!("{}", out.trim_end());
        }
        use std::io::Write as _;
        std::io::stdout().flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            target: "http://127.0.0.1:4566 (us-east-1)".into(),
            endpoint: Some("http://127.0.0.1:4566".into()),
            region: "us-east-1".into(),
            observed_at: chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            groups: vec![GroupStatus {
                name: "flightdeck-api".into(),
                min: 2,
                desired: 2,
                max: 4,
                in_service: 2,
                pending: 0,
                terminating: 0,
                at_max: false,
            }],
            queues: vec![QueueStatus {
                name: "video_tasks".into(),
                url: "http://x/123/video_tasks".into(),
                visible: 12,
                in_flight: 3,
                delayed: 0,
                dead_letter_queue: Some("video_dlq".into()),
                max_receive_count: Some(5),
                dead_letter_arn: None,
            }],
            bucket: BucketStatus {
                name: "flightdeck-videos".into(),
                exists: true,
                versioning: Some("Enabled".into()),
            },
        }
    }

    #[test]
    fn a_group_at_its_max_is_said_under_the_table() {
        let mut status = sample();
        assert!(!status.to_text().contains("at its max"));
        status.groups.push(GroupStatus {
            name: "flightdeck-worker".into(),
            min: 1,
            desired: 3,
            max: 3,
            in_service: 3,
            pending: 0,
            terminating: 0,
            at_max: true,
        });
        let text = status.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[5], "! flightdeck-worker is at its max (3): no policy can add an instance",
            "{text}"
        );
    }

    #[test]
    fn text_tables_align() {
        let text = sample().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "AUTO SCALING GROUP  MIN  DESIRED  MAX  IN SERVICE  PENDING  TERMINATING"
        );
        assert_eq!(
            lines[3],
            "flightdeck-api        2        2    4           2        0            0"
        );
        assert_eq!(
            lines[5],
            "QUEUE        VISIBLE  IN FLIGHT  DELAYED  DEAD-LETTER QUEUE"
        );
        assert_eq!(
            lines[6],
            "video_tasks       12          3        0  video_dlq (after 5 receives)"
        );
        assert_eq!(lines[9], "flightdeck-videos  yes     Enabled");
    }

    #[test]
    fn redrive_policy_is_read_from_attributes() {
        let attrs = std::collections::HashMap::from([
            (QueueAttributeName::ApproximateNumberOfMessages, "7".to_string()),
            (
                QueueAttributeName::RedrivePolicy,
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:video_dlq","maxReceiveCount":"5"}"#
                    .to_string(),
            ),
        ]);
        let q = queue_status("http://h/123456789012/video_tasks".into(), Some(&attrs));
        assert_eq!(q.name, "video_tasks");
        assert_eq!(q.visible, 7);
        assert_eq!(q.in_flight, 0);
        assert_eq!(q.dead_letter_queue.as_deref(), Some("video_dlq"));
        assert_eq!(q.max_receive_count, Some(5));
    }
}
