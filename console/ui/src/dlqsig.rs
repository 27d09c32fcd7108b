//! Failure signatures of dead letters, for triage: what a message's failure has in common with
//! others once ids, numbers and paths are left out, and the groups of messages that share one.
//! Shared by the DLQ view's grouping (`g`), `flightdeck dlq groups` and the filter term
//! `signature=ID` (`crate::dlqfilter`), so all three agree on which messages form a group.
//!
//! A signature comes from, in order:
//! 1. the worker's `failure_reason` and `failure_class` attributes (`worker/src/queue.rs`);
//! 2. else an error text: the `failure_detail` or `error` attribute, or the JSON body's
//!    top-level `error` (a string, or an object's `message`);
//! 3. else the body's shape: its sorted top-level JSON keys, or "not JSON".
//!
//! Every text is normalised ([`normalise`]), so "invalid NAL unit size 1234" and "... 99" are
//! one signature. The id is a short hash of the signature's text, stable across runs and
//! machines (FNV-1a, not std's hasher, whose output may change between Rust releases).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::{DlqMessage, Timestamp};

/// Which part of a message the signature was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// `failure_reason` / `failure_class` message attributes.
    Attributes,
    /// An error text in an attribute or the body.
    ErrorText,
    /// The body's top-level JSON keys, or that it is not JSON.
    BodyShape,
}

/// What a message's failure has in common with others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// Eight hex digits; what `signature=ID` matches.
    pub id: String,
    /// The normalised text, e.g. `corrupt_input (permanent)` or `body {source, v, video_id}`.
    pub text: String,
    pub basis: Basis,
}

impl Signature {
    fn new(basis: Basis, text: String) -> Signature {
        Signature {
            id: short_hash(&text),
            text,
            basis,
        }
    }
}

/// Eight hex digits of the 64-bit FNV-1a hash of `text`.
fn short_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", h >> 32)
}

/// Leaves out what varies between messages with the same failure: paths and URLs become
/// `<path>`, long hex ids and UUIDs `<id>`, runs of digits `<n>` (not those right after a
/// letter, as in `mp4` or `h264`); lower case, single spaces, at most 200 characters.
pub fn normalise(text: &str) -> String {
    let words: Vec<String> = text.split_whitespace().map(normalise_word).collect();
    let joined = words.join(" ").to_lowercase();
    match joined.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

fn normalise_word(word: &str) -> String {
    const EDGE: &[char] = &[
        ',', ';', ':', '.', '(', ')', '[', ']', '{', '}', '\'', '"', '`', '<', '>',
    ];
    let core = word.trim_matches(EDGE);
    if core.is_empty() {
        return word.to_owned();
    }
    let start = word.len() - word.trim_start_matches(EDGE).len();
    let (lead, tail) = (&word[..start], &word[start + core.len()..]);
    let replaced = if core.contains('/') || core.contains('\\') {
        "<path>".to_owned()
    } else if is_id(core) {
        "<id>".to_owned()
    } else {
        // Prefixed ids such as `i-0f9e8d7c6b5a40001` or `job-17`: each dash-separated part.
        core.split('-')
            .map(|part| {
                if is_id(part) {
                    "<id>".to_owned()
                } else {
                    digits_out(part)
                }
            })
            .collect::<Vec<_>>()
            .join("-")
    };
    format!("{lead}{replaced}{tail}")
}

/// A UUID, or eight or more hex digits (with dashes) of which at least one is a digit.
fn is_id(core: &str) -> bool {
    let hex = core.chars().filter(char::is_ascii_hexdigit).count();
    hex >= 8
        && core.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && core.chars().any(|c| c.is_ascii_digit())
}

/// Every run of digits becomes `<n>`, except one right after a letter: a name such as `mp4`,
/// `h264` or `arm64` stays as it is.
fn digits_out(core: &str) -> String {
    let mut out = String::with_capacity(core.len());
    let mut prev: Option<char> = None;
    // Inside a run of digits: replaced (`Some(true)`) or copied after a letter (`Some(false)`).
    let mut run: Option<bool> = None;
    for c in core.chars() {
        if c.is_ascii_digit() {
            let replaced = *run.get_or_insert(!prev.is_some_and(char::is_alphabetic));
            if !replaced {
                out.push(c);
            } else if prev.is_none_or(|p| !p.is_ascii_digit()) {
                out.push_str("<n>");
            }
        } else {
            run = None;
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// The signature of one message.
pub fn signature(m: &Fields<'_>) -> Signature {
    let attr = |k: &str| {
        m.attributes
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let reason = attr("failure_reason");
    let class = attr("failure_class");
    if reason.is_some() || class.is_some() {
        let text = match (reason, class) {
            (Some(r), Some(c)) => format!("{} ({})", normalise(r), normalise(c)),
            (Some(r), None) => normalise(r),
            (None, Some(c)) => format!("({})", normalise(c)),
            (None, None) => String::new(),
        };
        return Signature::new(Basis::Attributes, text);
    }
    let body = serde_json::from_str::<Value>(m.body).ok();
    let body_error = body.as_ref().and_then(|b| match b.get("error")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("message")?.as_str().map(str::to_owned),
        _ => None,
    });
    let error = attr("failure_detail")
        .or_else(|| attr("error"))
        .map(str::to_owned)
        .or(body_error)
        .filter(|e| !e.trim().is_empty());
    if let Some(e) = error {
        return Signature::new(Basis::ErrorText, format!("error: {}", normalise(&e)));
    }
    let shape = match &body {
        Some(Value::Object(o)) => {
            let keys: Vec<&str> = o.keys().map(String::as_str).collect();
            let mut keys = keys;
            keys.sort_unstable();
            format!("body {{{}}}", keys.join(", "))
        }
        Some(Value::Array(_)) => "body [array]".to_owned(),
        Some(_) => "body JSON scalar".to_owned(),
        None => "body not JSON".to_owned(),
    };
    Signature::new(Basis::BodyShape, shape)
}

/// The messages that share one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub signature: Signature,
    pub count: usize,
    /// Earliest and latest send time (`None` when no message says).
    pub oldest: Option<Timestamp>,
    pub newest: Option<Timestamp>,
    pub min_receives: u32,
    pub max_receives: u32,
    /// The oldest message's id.
    pub example_id: String,
    /// Every member, oldest first.
    pub ids: Vec<String>,
}

/// Groups messages by signature: largest group first, then by signature text.
pub fn group<'a>(messages: impl IntoIterator<Item = Fields<'a>>) -> Vec<Group> {
    // Each group with its members' send times and ids, sorted once at the end.
    type Members = Vec<(Option<Timestamp>, String)>;
    let mut by_id: BTreeMap<String, (Group, Members)> = BTreeMap::new();
    for m in messages {
        let sig = signature(&m);
        let (g, members) = by_id.entry(sig.id.clone()).or_insert_with(|| {
            (
                Group {
                    signature: sig,
                    count: 0,
                    oldest: None,
                    newest: None,
                    min_receives: m.receive_count,
                    max_receives: m.receive_count,
                    example_id: String::new(),
                    ids: Vec::new(),
                },
                Vec::new(),
            )
        });
        g.count += 1;
        g.min_receives = g.min_receives.min(m.receive_count);
        g.max_receives = g.max_receives.max(m.receive_count);
        if let Some(t) = m.sent_at {
            g.oldest = Some(g.oldest.map_or(t, |o| o.min(t)));
            g.newest = Some(g.newest.map_or(t, |n| n.max(t)));
        }
        members.push((m.sent_at, m.id.to_owned()));
    }
    let mut groups: Vec<Group> = by_id
        .into_values()
        .map(|(mut g, mut members)| {
            // Unknown send times last; ties by id, so the example is the same on every run.
            members.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
            g.ids = members.into_iter().map(|(_, id)| id).collect();
            g.example_id = g.ids.first().cloned().unwrap_or_default();
            g
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.signature.text.cmp(&b.signature.text))
    });
    groups
}

/// What a filter looks at in one message.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub id: &'a str,
    pub body: &'a str,
    pub sent_at: Option<Timestamp>,
    pub receive_count: u32,
    pub attributes: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub fn of(m: &'a DlqMessage) -> Fields<'a> {
        Fields {
            id: &m.id,
            body: &m.body,
            sent_at: m.sent_at,
            receive_count: m.receive_count,
            attributes: &m.attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sig(pairs: &[(&str, &str)], body: &str) -> Signature {
        let a = attrs(pairs);
        signature(&Fields {
            id: "m",
            body,
            sent_at: None,
            receive_count: 1,
            attributes: &a,
        })
    }

    #[test]
    fn normalising_leaves_out_numbers_ids_and_paths() {
        assert_eq!(
            normalise("corrupt: invalid NAL unit size 1234"),
            normalise("corrupt: invalid NAL unit size 99"),
        );
        assert_eq!(
            normalise("corrupt: invalid NAL unit size 1234"),
            "corrupt: invalid nal unit size <n>"
        );
        assert_eq!(
            normalise("video 3f2b8c1e-7d4a-4e5f-9a0b-1c2d3e4f5a6b not found"),
            "video <id> not found"
        );
        assert_eq!(
            normalise("open /tmp/job-17/in.mp4: No such file (os error 2)"),
            "open <path>: no such file (os error <n>)"
        );
        assert_eq!(
            normalise("get s3://uploads/raw/a.mov failed, request id DEADBEEF01"),
            "get <path> failed, request id <id>"
        );
        assert_eq!(normalise("  spaced\tout\n text "), "spaced out text");
        // Names with digits in them stay; prefixed ids and counters do not.
        assert_eq!(
            normalise("no MP4 or h264 stream on arm64, run_17"),
            "no mp4 or h264 stream on arm64, run_<n>"
        );
        assert_eq!(
            normalise("instance i-0f9e8d7c6b5a40001 job-17 took 30s"),
            "instance i-<id> job-<n> took <n>s"
        );
        // Words that only look like hex stay words.
        assert_eq!(normalise("decade deadbeef"), "decade deadbeef");
        assert_eq!(normalise(&"x".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn attributes_come_first_and_their_variable_parts_are_left_out() {
        let a = sig(
            &[
                ("failure_reason", "corrupt: invalid NAL unit size 1234"),
                ("failure_class", "permanent"),
                ("failure_detail", "frame 17"),
            ],
            "{}",
        );
        let b = sig(
            &[
                ("failure_reason", "corrupt: invalid NAL unit size 99"),
                ("failure_class", "permanent"),
            ],
            "not json at all",
        );
        assert_eq!(a, b);
        assert_eq!(a.basis, Basis::Attributes);
        assert_eq!(a.text, "corrupt: invalid nal unit size <n> (permanent)");
        assert_eq!(a.id.len(), 8);
        let retryable = sig(
            &[
                ("failure_reason", "corrupt: invalid NAL unit size 99"),
                ("failure_class", "retryable"),
            ],
            "",
        );
        assert_ne!(a.id, retryable.id, "the class is part of the signature");
        assert_eq!(
            sig(&[("failure_class", "permanent")], "").text,
            "(permanent)"
        );
    }

    #[test]
    fn an_error_text_comes_next_then_the_body_shape() {
        let detail = sig(&[("failure_detail", "timeout after 30s")], "{}");
        assert_eq!(detail.basis, Basis::ErrorText);
        assert_eq!(detail.text, "error: timeout after <n>s");
        let in_body = sig(&[], r#"{"error":{"message":"quota 5 exceeded"},"id":1}"#);
        assert_eq!(in_body.text, "error: quota <n> exceeded");
        assert_eq!(
            sig(&[], r#"{"v":1,"video_id":"a","source":{}}"#).text,
            "body {source, v, video_id}"
        );
        assert_eq!(
            sig(&[], r#"{"source":{},"video_id":"b","v":2}"#),
            sig(&[], r#"{"v":1,"video_id":"a","source":{}}"#),
            "key order and values do not matter"
        );
        let not_json = sig(&[("worker_instance", "i-1")], "hello");
        assert_eq!(
            (not_json.basis, not_json.text.as_str()),
            (Basis::BodyShape, "body not JSON")
        );
        assert_eq!(sig(&[], "[1,2]").text, "body [array]");
        // Blank attributes do not count.
        assert_eq!(sig(&[("failure_reason", " ")], "x").text, "body not JSON");
    }

    #[test]
    fn ids_are_stable() {
        // Fixed here so a change of hash (which would change every id operators have noted)
        // is a deliberate one.
        assert_eq!(short_hash(""), "cbf29ce4");
        assert_eq!(
            sig(
                &[
                    ("failure_reason", "not_a_video"),
                    ("failure_class", "permanent")
                ],
                ""
            )
            .id,
            short_hash("not_a_video (permanent)")
        );
    }

    #[test]
    fn groups_count_and_span_their_messages() {
        let corrupt = |n: &str| {
            attrs(&[
                ("failure_reason", &format!("corrupt size {n}")),
                ("failure_class", "permanent"),
            ])
        };
        let a1 = corrupt("1");
        let a2 = corrupt("22");
        let a3 = corrupt("333");
        let none = attrs(&[]);
        let t = |min: i64| Some(now() - Duration::minutes(min));
        let f = |id, sent_at, receive_count, attributes, body| Fields {
            id,
            body,
            sent_at,
            receive_count,
            attributes,
        };
        let groups = group([
            f("m2", t(10), 4, &a2, "{}"),
            f("x1", t(5), 1, &none, "plain"),
            f("m1", t(30), 2, &a1, "{}"),
            f("m3", None, 3, &a3, "{}"),
        ]);
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(g.signature.text, "corrupt size <n> (permanent)");
        assert_eq!(g.count, 3);
        assert_eq!((g.oldest, g.newest), (t(30), t(10)));
        assert_eq!((g.min_receives, g.max_receives), (2, 4));
        assert_eq!(g.example_id, "m1");
        assert_eq!(g.ids, ["m1", "m2", "m3"]);
        let other = &groups[1];
        assert_eq!(
            (other.count, other.signature.text.as_str()),
            (1, "body not JSON")
        );
        assert_eq!(other.ids, ["x1"]);
        assert!(group(std::iter::empty()).is_empty());
    }
}
