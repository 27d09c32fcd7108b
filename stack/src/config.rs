//! The typed, validated view of `infra/stack.json`: the one definition of the reference stack's
//! names and settings (bucket, queues, Auto Scaling groups, scaling policies).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The stack file shipped with the project; binaries embed it so they run from anywhere.
pub const DEFAULT_STACK_JSON: &str = include_str!("../../infra/stack.json");

/// Where a stack definition came from, for error messages.
const EMBEDDED_NAME: &str = "infra/stack.json (built in)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Format version of this file; only 1 exists.
    pub version: u32,
    /// Prefix for names that the file does not give explicitly (launch templates).
    pub name: String,
    /// Default region when neither the environment nor a profile names one.
    pub region: String,
    /// How many availability zones each group spans.
    pub availability_zones: u32,
    pub bucket: Bucket,
    pub queues: Queues,
    pub groups: Groups,
    /// The stack's CloudWatch alarms ([`crate::alarms`]).
    #[serde(default)]
    pub alarms: Vec<crate::alarms::Alarm>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    pub versioning: bool,
    /// Server-side encryption algorithm: `AES256` or `aws:kms`.
    pub encryption: String,
    pub block_public_access: bool,
    pub uploads_prefix: String,
    pub processed_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    pub tasks: TaskQueue,
    pub dlq: DeadLetterQueue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQueue {
    pub name: String,
    pub visibility_timeout_s: u32,
    pub retention_s: u32,
    pub receive_wait_s: u32,
    pub max_receive_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQueue {
    pub name: String,
    pub retention_s: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    pub api: Group,
    pub worker: Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Api,
    Worker,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    pub role: Role,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub instance_type: String,
    pub health_check: HealthCheck,
    pub default_cooldown_s: u32,
    /// Seconds a new instance needs before its metrics count (target tracking's warm-up).
    pub warmup_s: u32,
    pub policies: Vec<Policy>,
    /// Where the group's instances send their log lines (CloudWatch Logs).
    pub logs: GroupLogs,
}

/// A group's CloudWatch Logs group: one log stream per instance id, written by the
/// CloudWatch agent on AWS and by the local fleet's shipper in the local cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLogs {
    /// The log group's name, e.g. `/flightdeck/worker`.
    pub group: String,
    /// Days CloudWatch Logs keeps the lines (one of the values PutRetentionPolicy accepts).
    pub retention_days: u32,
}

/// The retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthCheckType {
    #[serde(rename = "EC2")]
    Ec2,
    #[serde(rename = "ELB")]
    Elb,
}

impl HealthCheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheckType::Ec2 => "EC2",
            HealthCheckType::Elb => "ELB",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub kind: HealthCheckType,
    /// The load balancer's health check path (ELB checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub grace_s: u32,
}

/// A target-tracking scaling policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Policy {
    /// Keep the group's average CPU utilisation at `target` percent.
    AverageCpu { name: String, target: f64 },
    /// Keep visible messages per in-service instance at `target`.
    BacklogPerInstance {
        name: String,
        /// Which queue of `queues` (only `tasks` is a work queue).
        queue: QueueRef,
        target: f64,
    },
}

impl Policy {
    pub fn name(&self) -> &str {
        match self {
            Policy::AverageCpu { name, .. } | Policy::BacklogPerInstance { name, .. } => name,
        }
    }

    pub fn target(&self) -> f64 {
        match self {
            Policy::AverageCpu { target, .. } | Policy::BacklogPerInstance { target, .. } => {
                *target
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueRef {
    Tasks,
}

/// Why a stack file could not be used. The message names the file, the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: String,
        key: String,
        reason: String,
    },
}

impl StackError {
    /// The dotted path of the offending key, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            StackError::Invalid { key, .. } => Some(key),
            StackError::Read { .. } => None,
        }
    }
}

impl Stack {
    /// The stack definition built into the binaries (a copy of `infra/stack.json`).
    pub fn embedded() -> Result<Stack, StackError> {
        Stack::parse(DEFAULT_STACK_JSON, EMBEDDED_NAME)
    }

    pub fn load(path: &Path) -> Result<Stack, StackError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            file: file.clone(),
            source,
        })?;
        Stack::parse(&text, &file)
    }

    /// `path` if given, else the built-in definition.
    pub fn load_or_embedded(path: Option<&PathBuf>) -> Result<Stack, StackError> {
        match path {
            Some(p) => Stack::load(p),
            None => Stack::embedded(),
        }
    }

    /// Parse and validate; `file` is only used to name the source in errors.
    pub fn parse(text: &str, file: &str) -> Result<Stack, StackError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let stack: Stack = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let key = if path == "." {
                "(top level)".to_string()
            } else {
                path
            };
            StackError::Invalid {
                file: file.to_string(),
                key,
                reason: inner.to_string(),
            }
        })?;
        stack.validate().map_err(|v| StackError::Invalid {
            file: file.to_string(),
            key: v.key,
            reason: v.reason,
        })?;
        Ok(stack)
    }

    fn validate(&self) -> Result<(), Violation> {
        check(self.version == 1, "version", || {
            format!(
                "unsupported version {}; this flightdeck reads version 1",
                self.version
            )
        })?;
        check(!self.name.is_empty(), "name", || "must not be empty".into())?;
        check(!self.region.is_empty(), "region", || {
            "must not be empty".into()
        })?;
        check(
            (1..=6).contains(&self.availability_zones),
            "availability_zones",
            || format!("{} is outside 1..=6", self.availability_zones),
        )?;
        validate_bucket(&self.bucket)?;
        validate_queues(&self.queues)?;
        validate_group("groups.api", &self.groups.api, Role::Api)?;
        validate_group("groups.worker", &self.groups.worker, Role::Worker)?;
        check(
            self.groups.api.name != self.groups.worker.name,
            "groups.worker.name",
            || "must differ from groups.api.name".into(),
        )?;
        for (i, alarm) in self.alarms.iter().enumerate() {
            crate::alarms::validate(alarm).map_err(|(key, reason)| Violation {
                key: format!("alarms[{i}].{key}"),
                reason,
            })?;
            check(
                !self.alarms[..i].iter().any(|a| a.name == alarm.name),
                &format!("alarms[{i}].name"),
                || format!("{:?} is used by an earlier alarm", alarm.name),
            )?;
        }
        check(
            self.groups.api.logs.group != self.groups.worker.logs.group,
            "groups.worker.logs.group",
            || "must differ from groups.api.logs.group (one log group per role)".into(),
        )
    }

    /// The group whose log group is `name`.
    pub fn group_by_log_group(&self, name: &str) -> Option<&Group> {
        self.groups().into_iter().find(|g| g.logs.group == name)
    }

    pub fn group(&self, role: Role) -> &Group {
        match role {
            Role::Api => &self.groups.api,
            Role::Worker => &self.groups.worker,
        }
    }

    pub fn groups(&self) -> [&Group; 2] {
        [&self.groups.api, &self.groups.worker]
    }

    /// Launch template name for a group (`<group>-lt`).
    pub fn launch_template_name(&self, group: &Group) -> String {
        format!("{}-lt", group.name)
    }

    /// Availability zone names in `region` (`us-east-1a`, `us-east-1b`, ...).
    pub fn zones(&self, region: &str) -> Vec<String> {
        (0..self.availability_zones)
            .map(|i| format!("{region}{}", char::from(b'a' + i as u8)))
            .collect()
    }
}

struct Violation {
    key: String,
    reason: String,
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

fn check(ok: bool, key: &str, reason: impl FnOnce() -> String) -> Result<(), Violation> {
    if ok {
        Ok(())
    } else {
        Err(Violation {
            key: key.to_string(),
            reason: reason(),
        })
    }
}

fn validate_bucket(b: &Bucket) -> Result<(), Violation> {
    let valid_chars = b
        .name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    check(
        (3..=63).contains(&b.name.len()) && valid_chars,
        "bucket.name",
        || {
            format!(
                "{:?} is not a valid S3 bucket name (3-63 of a-z 0-9 . -)",
                b.name
            )
        },
    )?;
    check(
        b.encryption == "AES256" || b.encryption == "aws:kms",
        "bucket.encryption",
        || format!("{:?}: expected \"AES256\" or \"aws:kms\"", b.encryption),
    )?;
    for (key, prefix) in [
        ("bucket.uploads_prefix", &b.uploads_prefix),
        ("bucket.processed_prefix", &b.processed_prefix),
    ] {
        check(
            prefix.ends_with('/') && !prefix.starts_with('/'),
            key,
            || format!("{prefix:?} must end with '/' and not start with one"),
        )?;
    }
    check(
        b.uploads_prefix != b.processed_prefix,
        "bucket.processed_prefix",
        || "must differ from bucket.uploads_prefix".into(),
    )
}

fn valid_queue_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_queues(q: &Queues) -> Result<(), Violation> {
    check(valid_queue_name(&q.tasks.name), "queues.tasks.name", || {
        format!(
            "{:?} is not a valid SQS queue name (1-80 of A-Z a-z 0-9 - _)",
            q.tasks.name
        )
    })?;
    check(valid_queue_name(&q.dlq.name), "queues.dlq.name", || {
        format!(
            "{:?} is not a valid SQS queue name (1-80 of A-Z a-z 0-9 - _)",
            q.dlq.name
        )
    })?;
    check(q.tasks.name != q.dlq.name, "queues.dlq.name", || {
        "must differ from queues.tasks.name".into()
    })?;
    check(
        q.tasks.visibility_timeout_s <= 43_200,
        "queues.tasks.visibility_timeout_s",
        || {
            format!(
                "{} is over SQS's limit of 43200 s",
                q.tasks.visibility_timeout_s
            )
        },
    )?;
    for (key, v) in [
        ("queues.tasks.retention_s", q.tasks.retention_s),
        ("queues.dlq.retention_s", q.dlq.retention_s),
    ] {
        check((60..=1_209_600).contains(&v), key, || {
            format!("{v} is outside SQS's 60..=1209600 s")
        })?;
    }
    check(
        q.tasks.receive_wait_s <= 20,
        "queues.tasks.receive_wait_s",
        || format!("{} is over SQS's limit of 20 s", q.tasks.receive_wait_s),
    )?;
    check(
        (1..=1000).contains(&q.tasks.max_receive_count),
        "queues.tasks.max_receive_count",
        || format!("{} is outside 1..=1000", q.tasks.max_receive_count),
    )?;
    // AWS requires the DLQ to keep messages at least as long as the source queue.
    check(
        q.dlq.retention_s >= q.tasks.retention_s,
        "queues.dlq.retention_s",
        || "must be at least queues.tasks.retention_s, or messages expire on the way".into(),
    )
}

fn validate_group(key: &str, g: &Group, role: Role) -> Result<(), Violation> {
    check(g.role == role, &format!("{key}.role"), || {
        format!("{:?} does not match the group's slot", g.role)
    })?;
    check(
        !g.name.is_empty() && g.name.len() <= 255,
        &format!("{key}.name"),
        || "must be 1-255 characters".into(),
    )?;
    check(g.min <= g.max, &format!("{key}.min"), || {
        format!("min {} is above max {}", g.min, g.max)
    })?;
    check(
        (g.min..=g.max).contains(&g.desired),
        &format!("{key}.desired"),
        || {
            format!(
                "desired {} is outside min..=max ({}..={})",
                g.desired, g.min, g.max
            )
        },
    )?;
    check(
        !g.instance_type.is_empty(),
        &format!("{key}.instance_type"),
        || "must not be empty".into(),
    )?;
    let name = &g.logs.group;
    check(
        !name.is_empty()
            && name.len() <= 512
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-/.#".contains(&b)),
        &format!("{key}.logs.group"),
        || {
            format!("{name:?} must be 1-512 characters of a-z A-Z 0-9 _ - / . # (e.g. /flightdeck/worker)")
        },
    )?;
    check(
        LOG_RETENTION_DAYS.contains(&g.logs.retention_days),
        &format!("{key}.logs.retention_days"),
        || {
            format!(
                "{} is not a retention CloudWatch Logs accepts; use one of {LOG_RETENTION_DAYS:?}",
                g.logs.retention_days
            )
        },
    )?;
    match (g.health_check.kind, &g.health_check.path) {
        (HealthCheckType::Elb, None) => {
            return Err(Violation {
                key: format!("{key}.health_check.path"),
                reason: "an ELB health check needs a path".into(),
            })
        }
        (HealthCheckType::Elb, Some(p)) if !p.starts_with('/') => {
            return Err(Violation {
                key: format!("{key}.health_check.path"),
                reason: format!("{p:?} must start with '/'"),
            })
        }
        _ => {}
    }
    let mut names = std::collections::HashSet::new();
    for (i, p) in g.policies.iter().enumerate() {
        let pkey = format!("{key}.policies[{i}]");
        check(!p.name().is_empty(), &format!("{pkey}.name"), || {
            "must not be empty".into()
        })?;
        check(names.insert(p.name()), &format!("{pkey}.name"), || {
            format!("{:?} is used twice in this group", p.name())
        })?;
        let target = p.target();
        let sane = match p {
            Policy::AverageCpu { .. } => target > 0.0 && target <= 100.0,
            Policy::BacklogPerInstance { .. } => target > 0.0 && target.is_finite(),
        };
        check(sane, &format!("{pkey}.target"), || match p {
            Policy::AverageCpu { .. } => format!("{target} is not a CPU percentage in (0, 100]"),
            Policy::BacklogPerInstance { .. } => format!("{target} must be above 0"),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_stack_is_valid_and_matches_the_workload() {
        let s = Stack::embedded().unwrap();
        assert_eq!(s.queues.tasks.name, "video_tasks");
        assert_eq!(s.queues.dlq.name, "video_dlq");
        assert_eq!(s.queues.tasks.visibility_timeout_s, 60);
        assert_eq!(s.queues.tasks.receive_wait_s, 20);
        assert_eq!(s.queues.tasks.max_receive_count, 5);
        assert_eq!(s.queues.tasks.retention_s, 14 * 24 * 3600);
        let api = &s.groups.api;
        assert_eq!((api.min, api.desired, api.max), (2, 2, 4));
        assert_eq!(api.instance_type, "t3.small");
        assert_eq!(api.health_check.kind, HealthCheckType::Elb);
        assert_eq!(api.health_check.path.as_deref(), Some("/api/health"));
        let w = &s.groups.worker;
        assert_eq!((w.min, w.desired, w.max), (1, 1, 3));
        assert_eq!(w.instance_type, "t3.large");
        assert!(w
            .policies
            .iter()
            .any(|p| matches!(p, Policy::AverageCpu { target, .. } if *target == 60.0)));
        assert_eq!(s.zones("us-east-1"), vec!["us-east-1a", "us-east-1b"]);
    }

    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_STACK_JSON).unwrap();
        edit(&mut v);
        v.to_string()
    }

    fn invalid(text: &str) -> (String, String) {
        match Stack::parse(text, "test.json") {
            Err(StackError::Invalid { key, reason, file }) => {
                assert_eq!(file, "test.json");
                (key, reason)
            }
            other => panic!("expected an invalid-stack error, got {other:?}"),
        }
    }

    #[test]
    fn wrong_type_names_the_key() {
        let (key, reason) = invalid(&with(|v| v["groups"]["api"]["min"] = "two".into()));
        assert_eq!(key, "groups.api.min");
        assert!(reason.contains("invalid type"), "{reason}");
    }

    #[test]
    fn unknown_key_is_rejected_and_named() {
        let (key, reason) = invalid(&with(|v| {
            v["queues"]["tasks"]["visiblity_timeout"] = 3.into()
        }));
        assert_eq!(key, "queues.tasks.visiblity_timeout");
        assert!(reason.contains("unknown field"), "{reason}");
    }

    #[test]
    fn missing_key_is_named() {
        let (key, reason) = invalid(&with(|v| {
            v["bucket"].as_object_mut().unwrap().remove("name");
        }));
        assert_eq!(key, "bucket");
        assert!(reason.contains("missing field `name`"), "{reason}");
    }

    type Edit = Box<dyn Fn(&mut serde_json::Value)>;

    #[test]
    fn semantic_rules_name_the_key() {
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["groups"]["worker"]["desired"] = 9.into()),
                "groups.worker.desired",
            ),
            (
                Box::new(|v| v["groups"]["api"]["min"] = 5.into()),
                "groups.api.min",
            ),
            (
                Box::new(|v| v["queues"]["tasks"]["receive_wait_s"] = 21.into()),
                "queues.tasks.receive_wait_s",
            ),
            (
                Box::new(|v| v["queues"]["tasks"]["max_receive_count"] = 0.into()),
                "queues.tasks.max_receive_count",
            ),
            (
                Box::new(|v| v["bucket"]["name"] = "Bad_Bucket".into()),
                "bucket.name",
            ),
            (
                Box::new(|v| v["queues"]["dlq"]["name"] = "video_tasks".into()),
                "queues.dlq.name",
            ),
            (
                Box::new(|v| v["groups"]["api"]["policies"][0]["target"] = 150.0.into()),
                "groups.api.policies[0].target",
            ),
            (
                Box::new(|v| v["groups"]["api"]["role"] = "worker".into()),
                "groups.api.role",
            ),
            (Box::new(|v| v["version"] = 2.into()), "version"),
            (
                Box::new(|v| v["alarms"][0]["period_s"] = 45.into()),
                "alarms[0].period_s",
            ),
            (
                Box::new(|v| v["alarms"][1]["name"] = v["alarms"][0]["name"].clone()),
                "alarms[1].name",
            ),
            (
                Box::new(|v| v["alarms"][0]["watches"] = serde_json::json!({})),
                "alarms[0].watches",
            ),
        ];
        for (edit, want) in cases {
            let (key, _) = invalid(&with(edit));
            assert_eq!(key, want);
        }
    }

    #[test]
    fn unknown_policy_type_is_named() {
        let (key, reason) = invalid(&with(|v| {
            v["groups"]["api"]["policies"][0]["type"] = "step".into()
        }));
        assert_eq!(key, "groups.api.policies[0].type");
        assert!(reason.contains("unknown variant `step`"), "{reason}");
    }

    #[test]
    fn unreadable_file_names_the_file() {
        let err = Stack::load(Path::new("/nonexistent/stack.json")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("/nonexistent/stack.json: cannot read"));
    }

    #[test]
    fn round_trips_through_serde() {
        let s = Stack::embedded().unwrap();
        let again = Stack::parse(&serde_json::to_string(&s).unwrap(), "x").unwrap();
        assert_eq!(s, again);
    }
}
