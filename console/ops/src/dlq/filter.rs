//! Which dead letters an operator means. The language is the console's own
//! (`ui::dlqfilter`, documented there and in console/README.md), so the DLQ view's `/` and
//! `flightdeck dlq --filter` select exactly the same messages; this module adapts it to the
//! engine's messages and to several `--filter` flags.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use ui::dlqfilter::Fields;

pub use ui::dlqfilter::FilterError;

/// What a filter looks at in one message.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub body: &'a str,
    pub sent_at: Option<DateTime<Utc>>,
    pub receive_count: u32,
    /// String (and number) message attributes by name.
    pub attributes: &'a BTreeMap<String, String>,
}

/// A parsed filter; the empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(ui::dlqfilter::Filter);

impl Filter {
    pub fn all() -> Filter {
        Filter::default()
    }

    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        ui::dlqfilter::Filter::parse(text).map(Filter)
    }

    /// Several `--filter` flags: every one must match.
    pub fn parse_all<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Filter, FilterError> {
        let texts: Vec<&str> = texts
            .into_iter()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        for t in &texts {
            // Each flag on its own first, so an error names the flag's own text.
            ui::dlqfilter::Filter::parse(t)?;
        }
        Filter::parse(&texts.join(" AND "))
    }

    pub fn matches(&self, m: &Candidate<'_>, now: DateTime<Utc>) -> bool {
        let fields = Fields {
            id: m.id,
            body: m.body,
            sent_at: m.sent_at,
            receive_count: m.receive_count,
            attributes: m.attributes,
        };
        self.0.matches_fields(&fields, now)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn msg<'a>(body: &'a str, attrs: &'a BTreeMap<String, String>, age_s: i64) -> Candidate<'a> {
        Candidate {
            id: "m-1",
            body,
            sent_at: Some(now() - chrono::Duration::seconds(age_s)),
            receive_count: 1,
            attributes: attrs,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const BODY: &str =
        r#"{"v":1,"video_id":"abc-123","n":5,"ok":true,"tags":["x","yz"],"src":{"bucket":"b"}}"#;

    #[test]
    fn substring_is_case_insensitive_and_quotes_keep_spaces() {
        let a = attrs(&[]);
        assert!(Filter::parse("ABC")
            .unwrap()
            .matches(&msg(BODY, &a, 0), now()));
        assert!(!Filter::parse("nope")
            .unwrap()
            .matches(&msg(BODY, &a, 0), now()));
        let f = Filter::parse(r#""hello world""#).unwrap();
        assert!(f.matches(&msg("say Hello World!", &a, 0), now()));
        assert!(!f.matches(&msg("hello there world", &a, 0), now()));
    }

    #[test]
    fn json_paths_compare_values() {
        let a = attrs(&[]);
        let m = msg(BODY, &a, 0);
        for yes in [
            "body.video_id=abc-123",
            "$.video_id=abc-123",
            "body.video_id=\"abc-123\"",
            "body.n=5",
            "body.ok=true",
            "body.tags[1]=yz",
            "body.tags.0=x",
            "body.src.bucket=b",
        ] {
            assert!(Filter::parse(yes).unwrap().matches(&m, now()), "{yes}");
        }
        for no in [
            "body.video_id=abc",
            "body.n=6",
            "body.missing=1",
            "body.src=b",
            "body.tags[5]=x",
        ] {
            assert!(!Filter::parse(no).unwrap().matches(&m, now()), "{no}");
        }
        // A body that is not JSON matches no path term.
        assert!(!Filter::parse("body.a=1")
            .unwrap()
            .matches(&msg("a=1", &a, 0), now()));
    }

    #[test]
    fn attributes_ids_and_ages() {
        let a = attrs(&[("failure_class", "permanent")]);
        let m = msg(BODY, &a, 3600);
        assert!(Filter::parse("attr.failure_class=permanent")
            .unwrap()
            .matches(&m, now()));
        assert!(!Filter::parse("attr.failure_class=retryable")
            .unwrap()
            .matches(&m, now()));
        assert!(!Filter::parse("attr.other=permanent")
            .unwrap()
            .matches(&m, now()));
        assert!(Filter::parse("id=m-1").unwrap().matches(&m, now()));
        assert!(!Filter::parse("id=m-2").unwrap().matches(&m, now()));
        assert!(Filter::parse("age>10m").unwrap().matches(&m, now()));
        assert!(!Filter::parse("age>2h").unwrap().matches(&m, now()));
        assert!(Filter::parse("age<2h").unwrap().matches(&m, now()));
        assert!(!Filter::parse("age<30m").unwrap().matches(&m, now()));
        // Unknown send time: no age term matches.
        let unknown = Candidate { sent_at: None, ..m };
        assert!(!Filter::parse("age>1s").unwrap().matches(&unknown, now()));
    }

    #[test]
    fn and_combines_terms() {
        let a = attrs(&[("failure_class", "permanent")]);
        let m = msg(BODY, &a, 3600);
        let both =
            Filter::parse("attr.failure_class=permanent AND body.video_id=abc-123 and age>1m")
                .unwrap();
        assert!(both.matches(&m, now()));
        let one_fails = Filter::parse("attr.failure_class=permanent && body.video_id=zzz").unwrap();
        assert!(!one_fails.matches(&m, now()));
        let flags = Filter::parse_all(["attr.failure_class=permanent", "age<1m"]).unwrap();
        assert!(!flags.matches(&m, now()));
        // AND inside quotes is text.
        let quoted = Filter::parse(r#""this and that""#).unwrap();
        assert!(quoted.matches(&msg("this and that", &a, 0), now()));
        assert!(Filter::all().matches(&m, now()));
        assert_eq!(
            both.to_string(),
            "attr.failure_class=permanent AND body.video_id=abc-123 and age>1m",
            "a filter shows as it was typed"
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let e = Filter::parse("age>10x").unwrap_err();
        assert!(e.to_string().contains("not a duration"), "{e}");
        let e = Filter::parse("age=10m").unwrap_err();
        assert!(e.to_string().contains("age needs >"), "{e}");
        let e = Filter::parse("foo=bar").unwrap_err();
        assert!(
            e.to_string().contains("`foo` is not something to compare"),
            "{e}"
        );
        let e = Filter::parse("a AND ").unwrap_err();
        assert!(e.to_string().contains("empty term"), "{e}");
        let e = Filter::parse("\"open").unwrap_err();
        assert!(e.to_string().contains("quote is not closed"), "{e}");
        let e = Filter::parse("attr.=1").unwrap_err();
        assert!(e.to_string().contains("attribute name"), "{e}");
        let e = Filter::parse("size>10").unwrap_err();
        assert!(
            e.to_string().contains("`size` is not something to compare"),
            "{e}"
        );
        // Several flags: an error names the flag it is in.
        let e = Filter::parse_all(["age>1m", "attr.x"]).unwrap_err();
        assert_eq!(e.term, "attr.x");
    }
}
