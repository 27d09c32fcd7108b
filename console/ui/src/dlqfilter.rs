//! The dead-letter filter language, shared by the DLQ view's `/` and `flightdeck dlq --filter`.
//!
//! A filter is terms separated by spaces (optionally joined by `AND`, `and` or `&&`); a
//! message matches when every term matches:
//! - `text`: the id, body or an attribute value contains it (case-insensitive);
//! - `attr.NAME=VALUE` / `attr.NAME~TEXT`: the attribute equals VALUE / contains TEXT;
//! - `body.PATH=VALUE` / `$.PATH=VALUE` / `body.PATH~TEXT`: the JSON body's field at the dotted
//!   PATH (array items by index: `items.0.id` or `items[0].id`) equals VALUE / contains TEXT;
//! - `id=ID`: the message id;
//! - `signature=ID`: the message's failure signature has this id (`crate::dlqsig`; the ids
//!   `flightdeck dlq groups` and the DLQ view's `g` show), so one term selects one group;
//! - `age>10m` / `age<1h` (also `>=`, `<=`): older / newer than, units s, m, h, d;
//! - `receives>3` / `receives<=2` (also `=`): the approximate receive count (the engine
//!   leaves flightdeck's own receives out of it: `console/ops/src/dlq/receives.rs`).
//!
//! Values with spaces go in double quotes: `attr.failure_reason~"not a video"`. Any other
//! word with `=`, `~`, `<` or `>` in it is an error that names it, so a typo never silently
//! matches nothing.

use std::fmt;

use serde_json::Value;

pub use crate::dlqsig::Fields;
use crate::model::{DlqMessage, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Cmp {
    fn holds(self, left: u64, right: u64) -> bool {
        match self {
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Eq => left == right,
            Cmp::Ge => left >= right,
            Cmp::Gt => left > right,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Text(String),
    Id(String),
    Signature(String),
    AttrEq(String, String),
    AttrContains(String, String),
    BodyEq(Vec<String>, String),
    BodyContains(Vec<String>, String),
    Age(Cmp, u64),
    Receives(Cmp, u64),
}

/// A parsed filter; the empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub terms: Vec<Term>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter `{term}`: {reason}")]
pub struct FilterError {
    pub term: String,
    pub reason: String,
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Splits on spaces outside double quotes; quotes are removed. The flag says the word began
/// with a quote: `"a=b"` is text, not a comparison.
fn words(text: &str) -> Result<Vec<(String, bool)>, FilterError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut leading_quote = false;
    for c in text.chars() {
        match c {
            '"' => {
                if !any {
                    leading_quote = true;
                }
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push((std::mem::take(&mut cur), leading_quote));
                    any = false;
                    leading_quote = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(FilterError {
            term: text.to_owned(),
            reason: "a double quote is not closed".to_owned(),
        });
    }
    if any {
        out.push((cur, leading_quote));
    }
    Ok(out)
}

/// `10m` -> 600; units s, m, h, d; a bare number is seconds.
pub fn parse_duration_s(text: &str) -> Option<u64> {
    let text = text.trim();
    let (num, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn split_cmp(rest: &str) -> Option<(Cmp, &str)> {
    for (op, cmp) in [
        (">=", Cmp::Ge),
        ("<=", Cmp::Le),
        (">", Cmp::Gt),
        ("<", Cmp::Lt),
        ("=", Cmp::Eq),
    ] {
        if let Some(v) = rest.strip_prefix(op) {
            return Some((cmp, v));
        }
    }
    None
}

fn path(p: &str, term: &str) -> Result<Vec<String>, FilterError> {
    // `items[0].id` is `items.0.id`.
    let p = p.replace('[', ".").replace(']', "");
    let parts: Vec<String> = p.split('.').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) {
        return Err(FilterError {
            term: term.to_owned(),
            reason: "the JSON path has an empty step (write body.a.b=VALUE)".to_owned(),
        });
    }
    Ok(parts)
}

fn parse_term(word: &str) -> Result<Term, FilterError> {
    let err = |reason: &str| FilterError {
        term: word.to_owned(),
        reason: reason.to_owned(),
    };
    for (key, is_age) in [("age", true), ("receives", false)] {
        if let Some(rest) = word.strip_prefix(key) {
            if let Some((cmp, v)) = split_cmp(rest) {
                if is_age && cmp == Cmp::Eq {
                    return Err(err("age needs > or < (older / newer than), e.g. age>10m"));
                }
                let n = if is_age {
                    parse_duration_s(v).ok_or_else(|| {
                        err("not a duration: use a number with s, m, h or d, e.g. age>10m")
                    })?
                } else {
                    v.parse().map_err(|_| err("not a count: e.g. receives>3"))?
                };
                return Ok(if is_age {
                    Term::Age(cmp, n)
                } else {
                    Term::Receives(cmp, n)
                });
            }
        }
    }
    if let Some(id) = word.strip_prefix("id=") {
        return Ok(Term::Id(id.to_owned()));
    }
    if let Some(sig) = word.strip_prefix("signature=") {
        if sig.len() != 8 || !sig.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(err(
                "a signature id is 8 hex digits, as `flightdeck dlq groups` shows it",
            ));
        }
        return Ok(Term::Signature(sig.to_ascii_lowercase()));
    }
    let field = |rest: &str| -> Option<(String, bool, String)> {
        let i = rest.find(['=', '~'])?;
        let (name, op_value) = rest.split_at(i);
        let eq = op_value.starts_with('=');
        Some((name.to_owned(), eq, op_value[1..].to_owned()))
    };
    if let Some(rest) = word.strip_prefix("attr.") {
        let (name, eq, value) =
            field(rest).ok_or_else(|| err("write attr.NAME=VALUE or attr.NAME~TEXT"))?;
        if name.is_empty() {
            return Err(err("the attribute name is empty"));
        }
        return Ok(if eq {
            Term::AttrEq(name, value)
        } else {
            Term::AttrContains(name, value)
        });
    }
    if let Some(rest) = word
        .strip_prefix("body.")
        .or_else(|| word.strip_prefix("$."))
    {
        let (p, eq, value) =
            field(rest).ok_or_else(|| err("write body.PATH=VALUE or body.PATH~TEXT"))?;
        let p = path(&p, word)?;
        return Ok(if eq {
            Term::BodyEq(p, value)
        } else {
            Term::BodyContains(p, value)
        });
    }
    if let Some(i) = word.find(['=', '~', '<', '>']) {
        return Err(err(&format!(
            "`{}` is not something to compare: use body.PATH, $.PATH, attr.NAME, id, signature, age or receives (quote text that contains `{}`)",
            &word[..i],
            &word[i..=i]
        )));
    }
    Ok(Term::Text(word.to_lowercase()))
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let words = words(text)?;
        let is_and =
            |(w, quoted): &(String, bool)| !quoted && (w == "AND" || w == "and" || w == "&&");
        if words.last().is_some_and(is_and) || words.first().is_some_and(is_and) {
            return Err(FilterError {
                term: text.trim().to_owned(),
                reason: "an empty term next to AND".to_owned(),
            });
        }
        let terms = words
            .iter()
            .filter(|w| !is_and(w))
            .map(|(w, quoted)| {
                if *quoted {
                    Ok(Term::Text(w.to_lowercase()))
                } else {
                    parse_term(w)
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter {
            terms,
            source: text.trim().to_owned(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, m: &DlqMessage, now: Timestamp) -> bool {
        self.matches_fields(&Fields::of(m), now)
    }

    /// For callers with their own message type (the headless commands, the mover).
    pub fn matches_fields(&self, m: &Fields<'_>, now: Timestamp) -> bool {
        self.terms.iter().all(|t| term_matches(t, m, now))
    }
}

fn lookup<'a>(body: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(body, |v, step| match v {
        Value::Object(map) => map.get(step),
        Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Age of a message in whole seconds at `now` (0 when the send time is ahead).
pub fn age_s(m: &DlqMessage, now: Timestamp) -> Option<u64> {
    age_of(m.sent_at, now)
}

fn age_of(sent_at: Option<Timestamp>, now: Timestamp) -> Option<u64> {
    sent_at.map(|t| u64::try_from((now - t).num_seconds()).unwrap_or(0))
}

fn term_matches(term: &Term, m: &Fields<'_>, now: Timestamp) -> bool {
    match term {
        Term::Text(t) => {
            m.id.to_lowercase().contains(t)
                || m.body.to_lowercase().contains(t)
                || m.attributes.values().any(|v| v.to_lowercase().contains(t))
        }
        Term::Id(id) => m.id == id,
        Term::Signature(sig) => crate::dlqsig::signature(m).id == *sig,
        Term::AttrEq(k, v) => m.attributes.get(k) == Some(v),
        Term::AttrContains(k, v) => m
            .attributes
            .get(k)
            .is_some_and(|x| x.to_lowercase().contains(&v.to_lowercase())),
        Term::BodyEq(p, v) | Term::BodyContains(p, v) => {
            let Ok(body) = serde_json::from_str::<Value>(m.body) else {
                return false;
            };
            let Some(found) = lookup(&body, p).map(as_text) else {
                return false;
            };
            match term {
                Term::BodyEq(..) => &found == v,
                _ => found.to_lowercase().contains(&v.to_lowercase()),
            }
        }
        Term::Age(cmp, s) => age_of(m.sent_at, now).is_some_and(|a| cmp.holds(a, *s)),
        Term::Receives(cmp, n) => cmp.holds(u64::from(m.receive_count), *n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use std::collections::BTreeMap;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn msg(id: &str, age_min: i64, receives: u32, reason: &str, body: &str) -> DlqMessage {
        let mut attributes = BTreeMap::new();
        attributes.insert("failure_reason".to_owned(), reason.to_owned());
        attributes.insert("failure_class".to_owned(), "permanent".to_owned());
        DlqMessage {
            id: id.to_owned(),
            sent_at: Some(now() - Duration::minutes(age_min)),
            receive_count: receives,
            size: body.len(),
            attributes,
            body: body.to_owned(),
        }
    }

    fn hits(filter: &str, msgs: &[DlqMessage]) -> Vec<String> {
        let f = Filter::parse(filter).unwrap();
        msgs.iter()
            .filter(|m| f.matches(m, now()))
            .map(|m| m.id.clone())
            .collect()
    }

    fn sample() -> Vec<DlqMessage> {
        vec![
            msg(
                "a",
                5,
                1,
                "not a video: no container",
                r#"{"version":1,"video_id":"v-1","source":{"key":"k1"},"tags":["x","y"]}"#,
            ),
            msg(
                "b",
                90,
                4,
                "decode error",
                r#"{"version":1,"video_id":"v-2","source":{"key":"k2"}}"#,
            ),
            msg("c", 3000, 2, "bad message", "this is not json"),
        ]
    }

    #[test]
    fn the_empty_filter_matches_everything() {
        assert_eq!(hits("", &sample()), ["a", "b", "c"]);
        assert_eq!(hits("   ", &sample()), ["a", "b", "c"]);
    }

    #[test]
    fn text_searches_id_body_and_attributes_without_case() {
        assert_eq!(hits("DECODE", &sample()), ["b"]);
        assert_eq!(hits("v-1", &sample()), ["a"]);
        assert_eq!(hits("permanent", &sample()), ["a", "b", "c"]);
    }

    #[test]
    fn attributes_compare_exactly_or_by_substring() {
        assert_eq!(
            hits("attr.failure_reason=decode error", &sample()),
            [] as [&str; 0]
        );
        assert_eq!(
            hits(r#"attr.failure_reason="decode error""#, &sample()),
            ["b"]
        );
        assert_eq!(hits("attr.failure_reason~VIDEO", &sample()), ["a"]);
        assert_eq!(hits("attr.missing~x", &sample()), [] as [&str; 0]);
    }

    #[test]
    fn json_paths_reach_nested_fields_and_array_items() {
        assert_eq!(hits("body.video_id=v-2", &sample()), ["b"]);
        assert_eq!(hits("$.source.key=k1", &sample()), ["a"]);
        assert_eq!(hits("body.version=1", &sample()), ["a", "b"]);
        assert_eq!(hits("body.tags.1=y", &sample()), ["a"]);
        assert_eq!(hits("$.tags[1]=y", &sample()), ["a"]);
        assert_eq!(hits("body.source.key~K", &sample()), ["a", "b"]);
        // A body that is not JSON never matches a path term.
        assert_eq!(hits("body.version~", &sample()), ["a", "b"]);
    }

    #[test]
    fn age_and_receive_counts_compare() {
        assert_eq!(hits("age>1h", &sample()), ["b", "c"]);
        assert_eq!(hits("age<10m", &sample()), ["a"]);
        assert_eq!(hits("age>=5m age<=90m", &sample()), ["a", "b"]);
        assert_eq!(hits("receives>1", &sample()), ["b", "c"]);
        assert_eq!(hits("receives=2", &sample()), ["c"]);
        assert_eq!(hits("id=c", &sample()), ["c"]);
    }

    #[test]
    fn a_signature_term_selects_one_group() {
        let mut msgs = sample();
        // Same reason up to a number: one group.
        msgs[1].attributes.insert(
            "failure_reason".to_owned(),
            "not a video: no container 2".to_owned(),
        );
        msgs[0].attributes.insert(
            "failure_reason".to_owned(),
            "not a video: no container 17".to_owned(),
        );
        let groups = crate::dlqsig::group(msgs.iter().map(Fields::of));
        assert_eq!(groups.len(), 2);
        let id = &groups[0].signature.id;
        assert_eq!(hits(&format!("signature={id}"), &msgs), ["a", "b"]);
        let upper = id.to_uppercase();
        assert_eq!(hits(&format!("signature={upper} receives>1"), &msgs), ["b"]);
        let other = &groups[1].signature.id;
        assert_eq!(hits(&format!("signature={other}"), &msgs), ["c"]);
        assert_eq!(hits("signature=00000000", &msgs), [] as [&str; 0]);
        let e = Filter::parse("signature=ab12").unwrap_err();
        assert!(e.reason.contains("8 hex digits"), "{e}");
    }

    #[test]
    fn terms_combine_with_and() {
        assert_eq!(hits("age>1m body.version=1 receives<4", &sample()), ["a"]);
        assert_eq!(
            hits("age>1m AND body.version=1 && receives<4", &sample()),
            ["a"]
        );
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        let e = Filter::parse("age>soon").unwrap_err();
        assert_eq!(e.term, "age>soon");
        assert!(e.reason.contains("duration"), "{e}");
        assert!(Filter::parse("receives>many").is_err());
        assert!(Filter::parse("attr.failure_reason").is_err());
        assert!(Filter::parse("body.a..b=1").is_err());
        assert!(Filter::parse(r#"attr.x="open"#).is_err());
        let e = Filter::parse("foo=bar").unwrap_err();
        assert!(
            e.reason.contains("`foo` is not something to compare"),
            "{e}"
        );
        assert!(Filter::parse("age=10m")
            .unwrap_err()
            .reason
            .contains("age needs"));
        assert!(Filter::parse("a AND")
            .unwrap_err()
            .reason
            .contains("empty term"));
        // Quoted, the same characters are text.
        assert!(Filter::parse(r#""a=b""#).is_ok());
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration_s("90"), Some(90));
        assert_eq!(parse_duration_s("10m"), Some(600));
        assert_eq!(parse_duration_s("2d"), Some(172_800));
        assert_eq!(parse_duration_s("1w"), None);
        assert_eq!(parse_duration_s("m"), None);
    }
}
