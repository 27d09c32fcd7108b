//! The worker's side of SQS: receive one message, delete it, change its visibility (release,
//! backoff, heartbeat) and dead-letter it with the failure as message attributes.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use stack::Stack;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::error::WorkerError;

/// `video_tasks` and its dead-letter queue, by URL.
#[derive(Debug, Clone)]
pub struct Queue {
    sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub dlq_url: String,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub body: String,
    pub receipt_handle: String,
    /// `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
}

/// Why a message went to the DLQ; becomes its message attributes.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    pub reason: &'a str,
    pub class: &'a str,
    pub detail: &'a str,
    pub instance: &'a str,
}

impl Queue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: String, dlq_url: String) -> Queue {
        Queue { sqs, url, dlq_url }
    }

    /// Look both queues up by the names in stack.json.
    pub async fn resolve(sqs: &aws_sdk_sqs::Client, stack: &Stack) -> Result<Queue, WorkerError> {
        let url = queue_url(sqs, &stack.queues.tasks.name).await?;
        let dlq_url = queue_url(sqs, &stack.queues.dlq.name).await?;
        Ok(Queue {
            sqs: sqs.clone(),
            url,
            dlq_url,
        })
    }

    /// Long-poll for at most one message.
    pub async fn receive(&self, wait: Duration) -> Result<Option<Received>, WorkerError> {
        let wait_s = i32::try_from(wait.as_secs().min(20)).unwrap_or(20);
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(1)
            .wait_time_seconds(wait_s)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(stack::aws::long_poll(
                &self.sqs,
                Duration::from_secs(wait_s as u64),
            ))
            .send()
            .await
            .map_err(|e| WorkerError::sqs("ReceiveMessage", &e))?;
        let Some(m) = out.messages.and_then(|ms| ms.into_iter().next()) else {
            return Ok(None);
        };
        let receive_count = m
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let Some(receipt_handle) = m.receipt_handle else {
            return Err(WorkerError::Sqs {
                op: "ReceiveMessage",
                failure: stack::errors::AwsFailure {
                    class: stack::ErrorClass::Retryable,
                    code: None,
                    message: "a message came without a receipt handle".into(),
                    status: None,
                    unreachable: false,
                },
            });
        };
        Ok(Some(Received {
            message_id: m.message_id.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
            receipt_handle,
            receive_count,
        }))
    }

    pub async fn delete(&self, receipt_handle: &str) -> Result<(), WorkerError> {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| WorkerError::sqs("DeleteMessage", &e))?;
        Ok(())
    }

    /// Hide the message for `timeout` from now (0: make it visible at once).
    pub async fn set_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), WorkerError> {
        let secs = i32::try_from(timeout.as_secs().min(43_200)).unwrap_or(43_200);
        self.sqs
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| WorkerError::sqs("ChangeMessageVisibility", &e))?;
        Ok(())
    }

    /// Send the original body to the DLQ with the failure as message attributes.
    pub async fn dead_letter(&self, body: &str, why: &DeadLetter<'_>) -> Result<(), WorkerError> {
        // SQS refuses empty bodies; a message that reached us had one, but be safe.
        let body = if body.is_empty() { "(empty)" } else { body };
        let detail: String = why.detail.chars().take(1000).collect();
        let mut req = self
            .sqs
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(body);
        for (name, value) in [
            ("failure_reason", why.reason),
            ("failure_class", why.class),
            ("failure_detail", detail.as_str()),
            ("worker_instance", why.instance),
        ] {
            if value.is_empty() {
                continue;
            }
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| WorkerError::Config(format!("message attribute {name}: {e}")))?;
            req = req.message_attributes(name, attr);
        }
        req.send()
            .await
            .map_err(|e| WorkerError::sqs("SendMessage", &e))?;
        Ok(())
    }

    /// Keep the message hidden while its job runs: every `interval`, set its visibility to
    /// `extend` from now, until `stop` is cancelled. Returns the number of beats sent.
    /// A failed beat is logged and retried at the next interval; the job goes on either way
    /// (the final delete tells whether the message was still ours).
    pub fn heartbeat(
        &self,
        receipt_handle: String,
        interval: Duration,
        extend: Duration,
        stop: CancellationToken,
    ) -> JoinHandle<u32> {
        let queue = self.clone();
        tokio::spawn(async move {
            let mut beats = 0;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return beats,
                    () = tokio::time::sleep(interval) => {}
                }
                match queue.set_visibility(&receipt_handle, extend).await {
                    Ok(()) => {
                        beats += 1;
                        debug!(beats, extend_s = extend.as_secs(), "visibility extended");
                    }
                    Err(e) => warn!(error = %e, "heartbeat failed; retrying at the next beat"),
                }
            }
        })
    }
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, WorkerError> {
    let out = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| WorkerError::sqs("GetQueueUrl", &e))?;
    out.queue_url
        .ok_or_else(|| WorkerError::Config(format!("queue {name} has no URL")))
}
