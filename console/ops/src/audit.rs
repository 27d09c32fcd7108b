//! The audit log: every mutating action (who, when, what, target, parameters, result) as one
//! JSON line appended to `$FLIGHTDECK_STATE_DIR/audit.jsonl`, else
//! `$XDG_STATE_HOME/flightdeck/audit.jsonl`, else `~/.local/state/flightdeck/audit.jsonl`.
//! The console's audit view reads it back with [`read`].

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The state directory set for this process by [`use_state_dir`], over the environment's.
static CHOSEN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `dir` this process's state directory, whatever the environment says (the first call
/// wins): in-process tests keep their audit entries and journals out of the operator's.
pub fn use_state_dir(dir: PathBuf) -> &'static Path {
    CHOSEN.get_or_init(|| dir)
}

/// The state directory: the audit log and redrive journals.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = CHOSEN.get() {
        return dir.clone();
    }
    if let Some(dir) = std::env::var_os("FLIGHTDECK_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("flightdeck");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/flightdeck")
}

pub fn log_path() -> PathBuf {
    state_dir().join("audit.jsonl")
}

/// One action as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// The local user (`$USER`, `$LOGNAME`, else the account of this process's uid) and, when
    /// one is in force, the AWS profile (`alice (profile prod)`).
    pub who: String,
    /// The AWS principal that made the call, as STS names it (`arn:aws:iam::...:user/alice`);
    /// `None` when it could not be asked (an older entry, or STS did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `dlq.redrive`, `dlq.delete`, `dlq.purge`, `scale`.
    pub action: String,
    /// The queue or group acted on, and where the endpoint is.
    pub target: String,
    pub endpoint: String,
    pub parameters: serde_json::Value,
    /// `ok`, `partial` (a redrive that left messages in the DLQ), `refused`, `cancelled`,
    /// `failed`, `dry_run`.
    pub result: String,
    /// A one-line summary or the error.
    pub detail: String,
}

impl Entry {
    /// An entry stamped now, with who is acting (`$USER`, the profile) and the endpoint taken
    /// from the connection the action used.
    pub fn now(
        clients: &stack::Clients,
        profile: Option<&str>,
        action: &str,
        target: &str,
        parameters: serde_json::Value,
        result: &str,
        detail: impl Into<String>,
    ) -> Entry {
        Entry {
            principal: clients.identity().map(|i| i.arn.clone()),
            account: clients.identity().map(|i| i.account.clone()),
            ..Entry::local(
                profile,
                action,
                target,
                &clients.describe_target(),
                parameters,
                result,
                detail,
            )
        }
    }

    /// An entry stamped now for an action that made no AWS call (a load run against the API's
    /// `endpoint`): who is acting, and no principal.
    pub fn local(
        profile: Option<&str>,
        action: &str,
        target: &str,
        endpoint: &str,
        parameters: serde_json::Value,
        result: &str,
        detail: impl Into<String>,
    ) -> Entry {
        Entry {
            at: Utc::now(),
            who: who(profile),
            principal: None,
            account: None,
            action: action.to_owned(),
            target: target.to_owned(),
            endpoint: endpoint.to_owned(),
            parameters,
            result: result.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Who is acting, as far as the environment says.
pub fn who(profile: Option<&str>) -> String {
    let user = local_user();
    match profile
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_PROFILE").ok())
    {
        Some(p) if !p.is_empty() => format!("{user} (profile {p})"),
        _ => user,
    }
}

/// The local user: `$USER`, `$LOGNAME`, else the passwd name of this process's uid (containers,
/// CI and sudo often set neither variable), else `uid N`.
pub fn local_user() -> String {
    let from_env = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
    from_env.unwrap_or_else(|| {
        let uid = nix::unistd::getuid();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(user)) => user.name,
            _ => format!("uid {uid}"),
        }
    })
}

/// Append one entry to the log at `path`, durably (fsync).
pub fn append_to(path: &Path, entry: &Entry) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    // One write call per line keeps concurrent appenders from interleaving.
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

/// Append to the default log; a failure to write is reported, never silently dropped.
pub fn record(entry: &Entry) -> anyhow::Result<()> {
    let path = log_path();
    append_to(&path, entry).map_err(|e| {
        anyhow::anyhow!(
            "cannot write the audit log {}: {e} (set FLIGHTDECK_STATE_DIR to a writable directory)",
            path.display()
        )
    })
}

/// The last `limit` entries of a log, oldest first; lines that do not parse are skipped.
/// For the console's audit view.
#[allow(dead_code)]
pub fn read(path: &Path, limit: usize) -> std::io::Result<Vec<Entry>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries: Vec<Entry> = BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let skip = entries.len().saturating_sub(limit);
    entries.drain(..skip);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(action: &str, result: &str) -> Entry {
        Entry {
            at: Utc::now(),
            who: "tester".into(),
            principal: None,
            account: None,
            action: action.into(),
            target: "video_dlq".into(),
            endpoint: "http://127.0.0.1:1".into(),
            parameters: serde_json::json!({"filter": "attr.failure_class=permanent"}),
            result: result.into(),
            detail: "moved 3".into(),
        }
    }

    #[test]
    fn appends_json_lines_and_reads_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/audit.jsonl");
        assert!(read(&path, 10).unwrap().is_empty());
        append_to(&path, &entry("dlq.redrive", "ok")).unwrap();
        append_to(&path, &entry("dlq.purge", "refused")).unwrap();
        append_to(&path, &entry("scale", "ok")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
        let tail = read(&path, 2).unwrap();
        assert_eq!(tail.len(), 2);
        assert_eq!(tail[0].action, "dlq.purge");
        assert_eq!(tail[1], entry("scale", "ok").clone_with_at(tail[1].at));
    }

    impl Entry {
        fn clone_with_at(mut self, at: DateTime<Utc>) -> Entry {
            self.at = at;
            self
        }
    }
}
