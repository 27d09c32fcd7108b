//! Looking inside a queue without consuming it: messages are received with a short
//! visibility, held only for the rest of the pass, then released with visibility 0.
//!
//! Why hold them for the pass instead of releasing each batch at once: a short poll hands
//! back the first visible messages again and again (the emulator always, AWS often), so a
//! pass that released each batch immediately would never see past the first ten. Holding is
//! bounded by the short visibility: if the process dies, the messages come back by themselves.
//! Browsing raises each message's receive count at SQS by one per pass; a scan given the state
//! directory records its receives ([`super::receives`]) and shows the count without them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::filter::{Candidate, Filter};
use super::receives::OwnReceives;
use super::DlqError;

/// A queue found at the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRef {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// Find a queue by name (or URL) and read its ARN.
pub async fn resolve_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<QueueRef, DlqError> {
    let url = if name.starts_with("http://") || name.starts_with("https://") {
        name.to_string()
    } else {
        match sqs.get_queue_url().queue_name(name).send().await {
            Ok(out) => out.queue_url().unwrap_or_default().to_string(),
            Err(e) => {
                let failure = stack::errors::describe(&e);
                if failure.code.as_deref().is_some_and(|c| {
                    c.contains("NonExistentQueue") || c.contains("QueueDoesNotExist")
                }) {
                    return Err(DlqError::NoSuchQueue(name.to_string()));
                }
                return Err(DlqError::Aws {
                    action: "GetQueueUrl",
                    failure,
                });
            }
        }
    };
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(DlqError::aws("GetQueueAttributes"))?;
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    let name = url.rsplit('/').next().unwrap_or(name).to_string();
    Ok(QueueRef { name, url, arn })
}

/// Visible plus in-flight messages (approximate, as SQS counts them).
pub async fn approximate_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<u64, DlqError> {
    let (visible, in_flight) = depth_parts(sqs, url).await?;
    Ok(visible + in_flight)
}

/// Visible and in-flight messages (ApproximateNumberOfMessages and ...NotVisible).
pub async fn depth_parts(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<(u64, u64), DlqError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(DlqError::aws("GetQueueAttributes"))?;
    let get = |k: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&k))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// One message as received: everything the browser shows and the mover needs to resend it.
#[derive(Debug, Clone, Serialize)]
pub struct DlqMessage {
    pub id: String,
    #[serde(skip)]
    pub receipt_handle: String,
    pub body: String,
    pub sent_at: Option<DateTime<Utc>>,
    /// The receive count from before flightdeck's own receives (peeks, dry runs, this one):
    /// what the table shows and `receives>N` compares. A scan without the state directory
    /// leaves it as SQS says.
    pub receive_count: u32,
    /// ApproximateReceiveCount as SQS says, flightdeck's receives and this one included.
    pub approximate_receive_count: u32,
    /// Body plus attribute names and values, in bytes (what SQS counts against 256 KiB).
    pub size: usize,
    /// Message attributes as text (`failure_reason`, `failure_class`, `worker_instance`, ...);
    /// binary values show as `<N bytes>`.
    pub attributes: BTreeMap<String, String>,
    /// The attributes exactly as received, resent unchanged by the mover.
    #[serde(skip)]
    pub raw_attributes: HashMap<String, MessageAttributeValue>,
    /// The queue the message was dead-lettered from, when SQS says (DeadLetterQueueSourceArn).
    pub source_arn: Option<String>,
    /// FIFO queues only.
    pub group_id: Option<String>,
}

impl DlqMessage {
    fn from_sqs(m: &aws_sdk_sqs::types::Message) -> DlqMessage {
        let sys = |k: MessageSystemAttributeName| m.attributes().and_then(|a| a.get(&k)).cloned();
        let sent_at = sys(MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        let raw_attributes = m.message_attributes().cloned().unwrap_or_default();
        let mut size = m.body().map_or(0, str::len);
        let mut attributes = BTreeMap::new();
        for (name, v) in &raw_attributes {
            size += name.len() + v.data_type().len();
            let text = match (v.string_value(), v.binary_value()) {
                (Some(s), _) => {
                    size += s.len();
                    s.to_string()
                }
                (None, Some(b)) => {
                    size += b.as_ref().len();
                    format!("<{} bytes>", b.as_ref().len())
                }
                (None, None) => String::new(),
            };
            attributes.insert(name.clone(), text);
        }
        let receive_count = sys(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        DlqMessage {
            id: m.message_id().unwrap_or_default().to_string(),
            receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
            body: m.body().unwrap_or_default().to_string(),
            sent_at,
            receive_count,
            approximate_receive_count: receive_count,
            size,
            attributes,
            raw_attributes,
            source_arn: sys(MessageSystemAttributeName::DeadLetterQueueSourceArn),
            group_id: sys(MessageSystemAttributeName::MessageGroupId),
        }
    }

    /// What a [`Filter`] looks at.
    pub fn candidate(&self) -> Candidate<'_> {
        Candidate {
            id: &self.id,
            body: &self.body,
            sent_at: self.sent_at,
            receive_count: self.receive_count,
            attributes: &self.attributes,
        }
    }

    /// What the console's filter and signature code look at (`ui::dlqsig`).
    pub fn fields(&self) -> ui::dlqfilter::Fields<'_> {
        ui::dlqfilter::Fields {
            id: &self.id,
            body: &self.body,
            sent_at: self.sent_at,
            receive_count: self.receive_count,
            attributes: &self.attributes,
        }
    }

    pub fn age(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.sent_at
            .map(|s| (now - s).to_std().unwrap_or(Duration::ZERO))
    }

    /// The worker's reason for dead-lettering, when it gave one.
    pub fn failure_reason(&self) -> Option<&str> {
        self.attributes.get("failure_reason").map(String::as_str)
    }

    /// The first `max` characters of the body on one line.
    pub fn preview(&self, max: usize) -> String {
        let flat: String = self
            .body
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if flat.chars().count() > max {
            let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
            format!("{cut}…")
        } else {
            flat
        }
    }
}

/// Receive up to ten messages with a short poll, asking for every attribute.
pub(crate) async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    visibility_s: i32,
) -> Result<Vec<DlqMessage>, DlqError> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility_s)
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(DlqError::aws("ReceiveMessage"))?;
    Ok(out.messages().iter().map(DlqMessage::from_sqs).collect())
}

/// Make messages visible again at once (visibility 0), ten per call. Failures are ignored:
/// a message that cannot be released comes back when its short visibility ends anyway.
pub(crate) async fn release(sqs: &aws_sdk_sqs::Client, url: &str, handles: &[String]) {
    for chunk in handles.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        if let Err(e) = sqs
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            tracing::warn!(
                "releasing peeked messages failed (they return after their visibility): {}",
                stack::errors::describe(&e)
            );
        }
    }
}

/// Empty receives in a row after which the queue's counts may end a pass early.
const FAST_EMPTIES: u32 = 3;

/// Walks a queue in short polls: returns each message once per pass, keeps track of the
/// messages it holds invisible, and concludes only after several empty receives in a row
/// (a short poll can come back empty while messages remain): `empty_receives` of them with
/// growing pauses, or [`FAST_EMPTIES`] when the queue's approximate counts say it is empty.
pub(crate) struct Scanner {
    pub url: String,
    pub visibility_s: i32,
    pub empty_receives: u32,
    seen: HashSet<String>,
    held: HashMap<String, String>,
    not_before: Option<Instant>,
    own: Option<OwnReceives>,
}

impl Scanner {
    pub fn new(url: &str, visibility_s: i32, empty_receives: u32) -> Scanner {
        Scanner {
            url: url.to_string(),
            visibility_s: visibility_s.max(1),
            empty_receives: empty_receives.max(1),
            seen: HashSet::new(),
            held: HashMap::new(),
            not_before: None,
            own: None,
        }
    }

    /// Record this scan's receives in `state_dir` and leave flightdeck's own receives out of
    /// each message's count (see [`super::receives`]); `None`: counts as SQS says.
    pub fn with_own_receives(mut self, state_dir: Option<&Path>) -> Scanner {
        self.own = state_dir.map(|d| OwnReceives::load(d, &self.url));
        self
    }

    /// This message was deleted: drop it from the record of receives.
    pub fn gone(&mut self, id: &str) {
        if let Some(own) = self.own.as_mut() {
            own.gone(id);
        }
    }

    /// Do not conclude before `at`, however many receives come back empty (messages an
    /// earlier run held become visible again only when their visibility ends).
    pub fn wait_until(&mut self, at: Instant) {
        self.not_before = Some(self.not_before.map_or(at, |t| t.max(at)));
    }

    /// The next messages not seen in this pass, or `None` when the pass is over (or cancelled).
    pub async fn next_batch(
        &mut self,
        sqs: &aws_sdk_sqs::Client,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<DlqMessage>>, DlqError> {
        let mut streak = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            let mut batch = receive(sqs, &self.url, self.visibility_s).await?;
            if let Some(own) = self.own.as_mut() {
                for m in &mut batch {
                    m.receive_count = own.received(&m.id, m.approximate_receive_count);
                }
            }
            let mut fresh = Vec::new();
            for m in batch {
                if self.seen.insert(m.id.clone()) {
                    fresh.push(m);
                } else if let Some(h) = self.held.get_mut(&m.id) {
                    // Received again after its visibility ended: only the newest handle works.
                    *h = m.receipt_handle;
                }
            }
            if !fresh.is_empty() {
                return Ok(Some(fresh));
            }
            streak += 1;
            let waited = self.not_before.is_none_or(|t| Instant::now() >= t);
            if streak >= self.empty_receives && waited {
                return Ok(None);
            }
            // Several empty receives and the queue's own counts agree that nothing is visible,
            // delayed or in flight elsewhere: done without the rest of the pauses. (Ending
            // early can only leave a message in the queue, never lose one.)
            if streak >= FAST_EMPTIES && waited && self.counts_say_empty(sqs).await {
                return Ok(None);
            }
            let pause = Duration::from_millis(100 * u64::from(streak.min(10)));
            tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// GetQueueAttributes: no message visible or delayed, and none in flight but those this
    /// pass holds itself (an error says no).
    async fn counts_say_empty(&self, sqs: &aws_sdk_sqs::Client) -> bool {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let names = [
            A::ApproximateNumberOfMessages,
            A::ApproximateNumberOfMessagesNotVisible,
            A::ApproximateNumberOfMessagesDelayed,
        ];
        let Ok(out) = sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
        else {
            return false;
        };
        let count = |n: &A| {
            out.attributes()
                .and_then(|a| a.get(n))
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        count(&names[0]) == Some(0)
            && count(&names[2]) == Some(0)
            && count(&names[1]).is_some_and(|in_flight| in_flight <= self.held.len())
    }

    /// Keep a message invisible until [`Scanner::release_held`].
    pub fn hold(&mut self, m: &DlqMessage) {
        self.held.insert(m.id.clone(), m.receipt_handle.clone());
    }

    /// Let a message be returned again in this pass (e.g. after a failed send).
    pub fn forget(&mut self, id: &str) {
        self.seen.remove(id);
        self.held.remove(id);
    }

    /// Releases what the pass holds and records its receives.
    pub async fn release_held(&mut self, sqs: &aws_sdk_sqs::Client) {
        let handles: Vec<String> = self.held.drain().map(|(_, h)| h).collect();
        release(sqs, &self.url, &handles).await;
        if let Some(own) = self.own.as_mut() {
            if let Err(e) = own.flush(Utc::now().timestamp()) {
                // The counts are a correction: without it, they are one higher per look.
                tracing::warn!("recording flightdeck's receives failed: {e}");
            }
        }
    }
}

/// How to peek.
#[derive(Debug, Clone)]
pub struct PeekOptions {
    pub filter: Filter,
    /// Stop after this many matching messages.
    pub max: usize,
    /// Seconds a peeked message stays hidden before the pass releases it.
    pub visibility_s: i32,
    /// Empty receives in a row before concluding the queue has no more.
    pub empty_receives: u32,
    /// The state directory: record this peek's receives and leave flightdeck's own out of the
    /// counts (see [`super::receives`]). `None`: counts as SQS says.
    pub state_dir: Option<PathBuf>,
}

impl Default for PeekOptions {
    fn default() -> Self {
        PeekOptions {
            filter: Filter::all(),
            max: 100,
            visibility_s: 10,
            empty_receives: 3,
            state_dir: None,
        }
    }
}

/// One pass over the queue: the matching messages (oldest first), each once, all released
/// before returning.
pub async fn peek(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    opts: &PeekOptions,
    cancel: &CancellationToken,
) -> Result<Vec<DlqMessage>, DlqError> {
    let mut scan = Scanner::new(url, opts.visibility_s, opts.empty_receives)
        .with_own_receives(opts.state_dir.as_deref());
    let mut found = Vec::new();
    let result = async {
        while found.len() < opts.max {
            let Some(batch) = scan.next_batch(sqs, cancel).await? else {
                break;
            };
            let now = Utc::now();
            for m in batch {
                scan.hold(&m);
                if found.len() < opts.max && opts.filter.matches(&m.candidate(), now) {
                    found.push(m);
                }
            }
        }
        Ok::<(), DlqError>(())
    }
    .await;
    scan.release_held(sqs).await;
    result?;
    found.sort_by(|a, b| a.sent_at.cmp(&b.sent_at).then_with(|| a.id.cmp(&b.id)));
    Ok(found)
}
