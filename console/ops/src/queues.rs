//! A queue as the console reads it: its `All` attributes as a [`QueueSnapshot`], its redrive
//! policy, and which queues are dead-letter queues (another queue's redrive policy names them).
//! Used by the queues agent and `flightdeck status`.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_sqs::types::QueueAttributeName;
use ui::{QueueSnapshot, RedrivePolicy};

/// The attributes [`queue_snapshot`] reads: a GetQueueAttributes that asks for these alone
/// gets an answer about half the size of `All`'s to parse, for every queue every refresh.
pub const SNAPSHOT_ATTRIBUTES: [QueueAttributeName; 8] = [
    QueueAttributeName::QueueArn,
    QueueAttributeName::ApproximateNumberOfMessages,
    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    QueueAttributeName::VisibilityTimeout,
    QueueAttributeName::MessageRetentionPeriod,
    QueueAttributeName::ReceiveMessageWaitTimeSeconds,
    QueueAttributeName::RedrivePolicy,
];

/// One queue from its URL and its attributes ([`SNAPSHOT_ATTRIBUTES`]); missing numbers read
/// as 0.
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
        read_at: None,
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
