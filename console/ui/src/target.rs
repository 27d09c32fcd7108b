//! What the console points at and what it watches there: AWS names checked the way AWS spells
//! them (for the config file and `:profile`/`:region`), the regions `:region` offers, and the
//! group/queue selection of the config's `[watch]` table. Pure: no I/O.

use std::collections::BTreeMap;

/// The commercial regions `:region` completes from; any well-formed name is accepted.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`: lower-case words joined by `-`, ending in a number.
pub fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let words = &parts[..parts.len().saturating_sub(1)];
    let ok = parts.len() >= 3
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{region}` is not an AWS region name (like eu-west-1 or us-east-2)"
        ))
    }
}

/// A profile name as `~/.aws/config` can hold it: no spaces, no brackets.
pub fn check_profile(profile: &str) -> Result<(), String> {
    if profile.is_empty() {
        return Err("a profile name cannot be empty".to_owned());
    }
    if profile
        .chars()
        .any(|c| c.is_whitespace() || c == '[' || c == ']')
    {
        return Err(format!(
            "`{profile}` is not a profile name (no spaces or brackets)"
        ));
    }
    Ok(())
}

/// `http://host[:port][/path]` or `https://...`.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(' ') => Ok(()),
        _ => Err(format!(
            "`{endpoint}` is not an endpoint URL (like http://127.0.0.1:4566 or https://sqs.eu-west-1.amazonaws.com)"
        )),
    }
}

fn sqs_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// SQS: 1 to 80 letters, digits, `-` and `_`, a FIFO queue ending in `.fifo`.
pub fn check_queue_name(name: &str) -> Result<(), String> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if !base.is_empty() && name.len() <= 80 && sqs_chars(base) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not an SQS queue name (1 to 80 letters, digits, - and _, optionally ending in .fifo)"
        ))
    }
}

pub fn check_queue_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("an empty prefix matches every queue: write queues = [\"*\"]".to_owned());
    }
    let base = prefix.strip_suffix(".fifo").unwrap_or(prefix);
    if prefix.len() <= 80 && sqs_chars(base) {
        Ok(())
    } else {
        Err(format!(
            "`{prefix}` cannot start an SQS queue name (letters, digits, - and _)"
        ))
    }
}

/// Auto Scaling: 1 to 255 characters, no control characters.
pub fn check_group_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        Err(format!(
            "`{name}` is not an Auto Scaling group name (1 to 255 characters)"
        ))
    } else {
        Ok(())
    }
}

pub fn check_group_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("an empty prefix matches every group: write groups = [\"*\"]".to_owned());
    }
    check_group_name(prefix)
}

/// Tag keys are 1 to 128 characters, values up to 256.
pub fn check_tag(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 128 {
        return Err("a tag key is 1 to 128 characters".to_owned());
    }
    if value.is_empty() {
        return Err(format!(
            "an empty value matches nothing: write \"*\" to match any value of `{key}`"
        ));
    }
    if value.len() > 256 {
        return Err("a tag value is at most 256 characters".to_owned());
    }
    Ok(())
}

/// Which groups (or queues) to watch: a name is watched when it is listed, starts with a listed
/// prefix, or carries every listed tag. `all` watches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub all: bool,
    pub names: Vec<String>,
    pub prefixes: Vec<String>,
    /// Every listed tag must match; `None` matches any value of the key.
    pub tags: BTreeMap<String, Option<String>>,
}

impl Selection {
    pub fn everything() -> Selection {
        Selection {
            all: true,
            ..Selection::default()
        }
    }

    pub fn names<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Selection {
        Selection {
            names: names.into_iter().map(Into::into).collect(),
            ..Selection::default()
        }
    }

    /// Watches nothing at all (e.g. `groups = []`).
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty() && self.prefixes.is_empty() && self.tags.is_empty()
    }

    /// Matched by its name alone (listed, or by prefix), without looking at tags.
    pub fn matches_name(&self, name: &str) -> bool {
        self.all
            || self.names.iter().any(|n| n == name)
            || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// Whether these tags carry every tag the selection lists (false when it lists none).
    pub fn matches_tags(&self, tags: &BTreeMap<String, String>) -> bool {
        !self.tags.is_empty()
            && self.tags.iter().all(|(k, want)| match (tags.get(k), want) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            })
    }

    pub fn matches(&self, name: &str, tags: &BTreeMap<String, String>) -> bool {
        self.matches_name(name) || self.matches_tags(tags)
    }

    /// Whether matching needs each resource's tags (queues: ListQueueTags per queue).
    pub fn needs_tags(&self) -> bool {
        !self.all && !self.tags.is_empty()
    }

    /// One line for the status line and logs: `2 names, prefix video-, tag team=video`.
    pub fn describe(&self) -> String {
        if self.all {
            return "all".to_owned();
        }
        let mut parts = Vec::new();
        match self.names.as_slice() {
            [] => {}
            [one] => parts.push(one.clone()),
            many => parts.push(format!("{} names", many.len())),
        }
        for p in &self.prefixes {
            parts.push(format!("{p}*"));
        }
        for (k, v) in &self.tags {
            parts.push(format!("tag {k}={}", v.as_deref().unwrap_or("*")));
        }
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_prefixes_and_tags_each_select() {
        let sel = Selection {
            all: false,
            names: vec!["flightdeck-api".into()],
            prefixes: vec!["video-".into()],
            tags: BTreeMap::from([
                ("team".to_owned(), Some("video".to_owned())),
                ("env".to_owned(), None),
            ]),
        };
        let none = BTreeMap::new();
        assert!(sel.matches("flightdeck-api", &none));
        assert!(!sel.matches("flightdeck-api-2", &none), "names are exact");
        assert!(sel.matches("video-encode", &none));
        assert!(
            !sel.matches("Video-encode", &none),
            "prefixes are case-sensitive"
        );
        assert!(sel.matches("batch", &tags(&[("team", "video"), ("env", "prod")])));
        assert!(
            !sel.matches("batch", &tags(&[("team", "video")])),
            "every listed tag must be there"
        );
        assert!(
            !sel.matches("batch", &tags(&[("team", "audio"), ("env", "prod")])),
            "a listed value must be equal"
        );
        assert!(Selection::everything().matches("anything", &none));
        assert!(!Selection::default().matches("anything", &tags(&[("team", "video")])));
        assert!(Selection::default().is_empty());
        assert!(!Selection::names(["a"]).is_empty());
    }

    #[test]
    fn tags_alone_never_match_an_untagged_resource() {
        let sel = Selection {
            tags: BTreeMap::from([("team".to_owned(), None)]),
            ..Selection::default()
        };
        assert!(!sel.matches("x", &BTreeMap::new()));
        assert!(sel.matches("x", &tags(&[("team", "")])));
        assert!(sel.needs_tags());
        assert!(!Selection::everything().needs_tags());
    }

    #[test]
    fn aws_names_are_checked_the_way_aws_spells_them() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "cn-north-1"] {
            assert_eq!(check_region(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "EU-west-1",
            "eu west 1",
            "us-east-x",
            "-1",
            "local",
        ] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
        assert!(check_queue_name("video_tasks").is_ok());
        assert!(check_queue_name("jobs.fifo").is_ok());
        assert!(check_queue_name("bad name").is_err());
        assert!(check_queue_name(&"q".repeat(81)).is_err());
        assert!(check_queue_name(".fifo").is_err());
        assert!(check_queue_prefix("video_").is_ok());
        assert!(check_queue_prefix("")
            .unwrap_err()
            .contains("queues = [\"*\"]"));
        assert!(check_group_name("flightdeck-worker").is_ok());
        assert!(check_group_name("").is_err());
        assert!(check_endpoint("http://127.0.0.1:4566").is_ok());
        assert!(check_endpoint("https://sqs.eu-west-1.amazonaws.com").is_ok());
        assert!(check_endpoint("127.0.0.1:4566").is_err());
        assert!(check_endpoint("http://").is_err());
        assert!(check_profile("prod-admin").is_ok());
        assert!(check_profile("my profile").is_err());
        assert!(check_tag("team", "").unwrap_err().contains("\"*\""));
        assert!(REGIONS.iter().all(|r| check_region(r).is_ok()));
    }

    #[test]
    fn a_selection_describes_itself_in_one_line() {
        assert_eq!(Selection::everything().describe(), "all");
        assert_eq!(Selection::default().describe(), "none");
        assert_eq!(Selection::names(["a", "b"]).describe(), "2 names");
        let sel = Selection {
            prefixes: vec!["video-".into()],
            tags: BTreeMap::from([("team".to_owned(), None)]),
            ..Selection::names(["api"])
        };
        assert_eq!(sel.describe(), "api, video-*, tag team=*");
    }
}
