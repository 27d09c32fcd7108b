//! The queues agent: finds the watched queues (`crate::watch::QueueFinder`: GetQueueUrl for
//! named ones, ListQueues by prefix, tags cached), then GetQueueAttributes (All) for each, one at
//! a time, and for the dead-letter queues their redrive policies name. Talks to SQS.
//!
//! SQS has no batch read, so a pass costs one call per queue. With many queues the wait
//! between passes grows to keep the average at [`CALLS_PER_S`] (hundreds of queues every 3 s
//! would be thousands of calls a minute), and the first pass reports what it has read every
//! [`FIRST_PASS_STEP`], so the table fills while the rest is read.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use stack::Clients;
use ui::{Agent, MetricKey, QueueSnapshot, RedrivePolicy, Report};

use super::{CallLog, Failure, Poller};
use crate::watch::QueueFinder;

/// GetQueueAttributes calls per second, on average, that the refresh may cost.
pub const CALLS_PER_S: f64 = 20.0;
/// How often the first pass reports the queues it has read so far.
pub const FIRST_PASS_STEP: Duration = Duration::from_millis(250);

pub struct QueuesPoller {
    clients: Clients,
    calls: CallLog,
    interval: Duration,
    finder: QueueFinder,
    /// Queues read in the last pass (sets the wait before the next).
    last_count: usize,
    passes: u64,
    /// Where the first pass sends what it has so far (the agents' channel), and how often.
    progress: Option<tokio::sync::mpsc::Sender<Report>>,
    step: Duration,
    /// Where the queues' CloudWatch series go (the metrics agent), when it is told.
    series: Option<tokio::sync::watch::Sender<Vec<MetricKey>>>,
}

impl QueuesPoller {
    pub fn new(clients: Clients, calls: CallLog, interval: Duration, finder: QueueFinder) -> Self {
        QueuesPoller {
            clients,
            calls,
            interval,
            finder,
            last_count: 0,
            passes: 0,
            progress: None,
            step: FIRST_PASS_STEP,
            series: None,
        }
    }

    /// Tell the metrics agent each queue's depth series (`AWS/SQS`, the history before the
    /// console's own samples).
    pub fn with_series(mut self, tx: tokio::sync::watch::Sender<Vec<MetricKey>>) -> Self {
        self.series = Some(tx);
        self
    }

    /// Report the first pass's queues as they are read, on `tx`, every `step`.
    pub fn with_progress(mut self, tx: tokio::sync::mpsc::Sender<Report>, step: Duration) -> Self {
        self.progress = Some(tx);
        self.step = step;
        self
    }

    /// One queue's attributes; `None` when it was deleted since it was found.
    async fn read(&mut self, url: &str) -> Result<Option<QueueSnapshot>, Failure> {
        const API: &str = "GetQueueAttributes";
        let out = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await;
        self.calls.record(API, out.is_ok());
        match out {
            Ok(out) => Ok(Some(queue_snapshot(
                url,
                out.attributes().unwrap_or(&HashMap::new()),
            ))),
            Err(e) if is_gone(&e) => {
                self.finder.forget(url);
                Ok(None)
            }
            Err(e) => Err(Failure::from_sdk(API, &e)),
        }
    }
}

impl Poller for QueuesPoller {
    const AGENT: Agent = Agent::Queues;

    fn interval(&self) -> Duration {
        pass_interval(self.interval, self.last_count)
    }

    async fn poll(&mut self) -> Result<Vec<Report>, Failure> {
        let urls = self
            .finder
            .urls(&self.clients, &self.calls)
            .await
            .map_err(|e| Failure::from_call(&e))?;
        let mut queues = Vec::new();
        let first = self.passes == 0;
        let mut sent = Instant::now();
        for url in urls {
            queues.extend(self.read(&url).await?);
            if first && sent.elapsed() >= self.step {
                if let Some(tx) = &self.progress {
                    let so_far = as_reported(queues.clone());
                    // Best effort: a full channel only means the UI sees the whole pass later.
                    let _ = tx.try_send(Report::Queues {
                        at: Utc::now(),
                        queues: so_far,
                    });
                }
                sent = Instant::now();
            }
        }
        if self.finder.dead_letter_queues {
            let known: BTreeSet<String> = queues.iter().map(|q| q.arn.clone()).collect();
            let missing: BTreeSet<String> = queues
                .iter()
                .filter_map(|q| q.redrive.as_ref().map(|r| r.dlq_arn.clone()))
                .filter(|arn| !known.contains(arn))
                .collect();
            for arn in missing {
                let url = self
                    .finder
                    .dlq_url(&self.clients, &self.calls, &arn)
                    .await
                    .map_err(|e| Failure::from_call(&e))?;
                if let Some(url) = url {
                    queues.extend(self.read(&url).await?);
                }
            }
        }
        let queues = as_reported(queues);
        self.passes += 1;
        self.last_count = queues.len();
        if let Some(tx) = &self.series {
            let keys: Vec<MetricKey> = queues
                .iter()
                .flat_map(|q| {
                    [ui::QUEUE_VISIBLE_METRIC, ui::QUEUE_IN_FLIGHT_METRIC]
                        .map(|m| MetricKey::of(&q.name, m))
                })
                .collect();
            tx.send_if_modified(|old| {
                let changed = *old != keys;
                if changed {
                    *old = keys;
                }
                changed
            });
        }
        Ok(vec![Report::Queues {
            at: Utc::now(),
            queues,
        }])
    }
}

/// Queues as a report carries them: DLQs marked, by name.
fn as_reported(mut queues: Vec<QueueSnapshot>) -> Vec<QueueSnapshot> {
    mark_dlqs(&mut queues);
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    queues
}

/// The wait between passes over `count` queues: the configured refresh, longer when the
/// calls would average more than [`CALLS_PER_S`].
pub fn pass_interval(refresh: Duration, count: usize) -> Duration {
    refresh.max(Duration::from_secs_f64(count as f64 / CALLS_PER_S))
}

fn is_gone<R>(
    e: &aws_sdk_sqs::error::SdkError<
        aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError,
        R,
    >,
) -> bool {
    e.as_service_error()
        .is_some_and(|e| e.is_queue_does_not_exist())
}

/// One queue from its URL and its `All` attributes; missing numbers read as 0.
pub fn queue_snapshot(url: &str, attrs: &HashMap<QueueAttributeName, String>) -> QueueSnapshot {
    let get = |name: QueueAttributeName| attrs.get(&name).map(String::as_str);
    let num = |name: QueueAttributeName| get(name).and_then(|v| v.parse::<u64>().ok());
    let secs =
        |name: QueueAttributeName| num(name).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    let arn = get(QueueAttributeName::QueueArn)
        .unwrap_or_default()
        .to_owned();
    let name = url.rsplit('/').next().unwrap_or(url).to_owned();
    QueueSnapshot {
        name,
        url: url.to_owned(),
        visible: num(QueueAttributeName::ApproximateNumberOfMessages).unwrap_or(0),
        in_flight: num(QueueAttributeName::ApproximateNumberOfMessagesNotVisible).unwrap_or(0),
        delayed: num(QueueAttributeName::ApproximateNumberOfMessagesDelayed).unwrap_or(0),
        // SQS reports the oldest message's age only as a CloudWatch metric.
        oldest_age_s: None,
        visibility_timeout_s: secs(QueueAttributeName::VisibilityTimeout),
        retention_s: secs(QueueAttributeName::MessageRetentionPeriod),
        receive_wait_s: secs(QueueAttributeName::ReceiveMessageWaitTimeSeconds),
        redrive: get(QueueAttributeName::RedrivePolicy).and_then(parse_redrive),
        is_dlq: false,
        arn,
    }
}

/// `{"deadLetterTargetArn": "...", "maxReceiveCount": 5}`; AWS sends the count as a number or
/// a string depending on how the policy was set.
pub fn parse_redrive(json: &str) -> Option<RedrivePolicy> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let dlq_arn = v.get("deadLetterTargetArn")?.as_str()?.to_owned();
    let count = v.get("maxReceiveCount")?;
    let max_receive_count = count
        .as_u64()
        .or_else(|| count.as_str().and_then(|s| s.parse().ok()))
        .and_then(|n| u32::try_from(n).ok())?;
    Some(RedrivePolicy {
        dlq_arn,
        max_receive_count,
    })
}

/// Marks every queue another queue's redrive policy points at.
pub fn mark_dlqs(queues: &mut [QueueSnapshot]) {
    let targets: BTreeSet<String> = queues
        .iter()
        .filter_map(|q| q.redrive.as_ref().map(|r| r.dlq_arn.clone()))
        .collect();
    for q in queues {
        q.is_dlq = !q.arn.is_empty() && targets.contains(&q.arn);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn many_queues_stretch_the_pass_to_the_call_budget() {
        let three = Duration::from_secs(3);
        assert_eq!(pass_interval(three, 2), three);
        assert_eq!(pass_interval(three, 60), three);
        assert_eq!(pass_interval(three, 202), Duration::from_secs_f64(10.1));
        assert_eq!(
            pass_interval(Duration::from_secs(30), 202),
            Duration::from_secs(30)
        );
    }

    fn attrs(pairs: &[(QueueAttributeName, &str)]) -> HashMap<QueueAttributeName, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn attributes_map_to_a_snapshot_and_the_dlq_is_found_by_redrive() {
        use QueueAttributeName as A;
        let tasks = queue_snapshot(
            "http://127.0.0.1:4566/000000000000/video_tasks",
            &attrs(&[
                (
                    A::QueueArn,
                    "arn:aws:sqs:us-east-1:000000000000:video_tasks",
                ),
                (A::ApproximateNumberOfMessages, "12"),
                (A::ApproximateNumberOfMessagesNotVisible, "3"),
                (A::ApproximateNumberOfMessagesDelayed, "1"),
                (A::VisibilityTimeout, "120"),
                (A::MessageRetentionPeriod, "345600"),
                (A::ReceiveMessageWaitTimeSeconds, "20"),
                (
                    A::RedrivePolicy,
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:video_dlq","maxReceiveCount":"5"}"#,
                ),
            ]),
        );
        let dlq = queue_snapshot(
            "http://127.0.0.1:4566/000000000000/video_dlq",
            &attrs(&[(A::QueueArn, "arn:aws:sqs:us-east-1:000000000000:video_dlq")]),
        );
        let mut queues = vec![tasks, dlq];
        mark_dlqs(&mut queues);
        let (tasks, dlq) = (&queues[0], &queues[1]);
        assert_eq!(tasks.name, "video_tasks");
        assert_eq!((tasks.visible, tasks.in_flight, tasks.delayed), (12, 3, 1));
        assert_eq!(tasks.visibility_timeout_s, 120);
        assert_eq!(tasks.receive_wait_s, 20);
        assert_eq!(
            tasks.redrive,
            Some(RedrivePolicy {
                dlq_arn: "arn:aws:sqs:us-east-1:000000000000:video_dlq".into(),
                max_receive_count: 5
            })
        );
        assert!(!tasks.is_dlq);
        assert!(dlq.is_dlq);
        assert_eq!(dlq.visible, 0);
    }

    #[test]
    fn redrive_counts_may_be_numbers_and_junk_is_ignored() {
        assert_eq!(
            parse_redrive(r#"{"deadLetterTargetArn":"a","maxReceiveCount":3}"#)
                .unwrap()
                .max_receive_count,
            3
        );
        assert_eq!(parse_redrive("not json"), None);
        assert_eq!(parse_redrive(r#"{"maxReceiveCount":3}"#), None);
    }
}
