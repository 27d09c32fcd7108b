//! Where the console connects and how it switches at runtime: the `[aws]` config under the
//! command line and the environment, the profile names of the AWS config files (for
//! `:profile`), and the clients for another profile or region that keep the endpoint and
//! `--read-only`. Reads `~/.aws/config` and `~/.aws/credentials`; builds SDK clients.

use std::path::{Path, PathBuf};

use aws_sdk_sqs::config::Region;
use clap::Args;
use stack::{AwsOptions, Clients};
use ui::config::AwsConfig;
use ui::TargetInfo;

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Where to connect. Unset options come from the standard AWS environment and profile.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Endpoint URL for every AWS service (an emulator, a VPC endpoint) [default: AWS_ENDPOINT_URL, else AWS]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Use the local cloud started by `flightdeck local up` in another terminal
    #[arg(long, global = true, conflicts_with = "endpoint")]
    pub local: bool,

    /// AWS region [default: AWS_REGION, the profile's region, else the stack's region]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config [default: AWS_PROFILE]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Stack definition to use instead of the built-in infra/stack.json
    #[arg(long, global = true, value_name = "FILE", env = "FLIGHTDECK_STACK")]
    pub stack: Option<PathBuf>,
}

/// The profile and region the clients talk to, for `Report::Target`.
pub fn target_info(clients: &Clients, profile: Option<&str>) -> TargetInfo {
    TargetInfo {
        profile: profile.map(str::to_owned),
        region: clients.region().to_owned(),
        endpoint: clients.endpoint().map(str::to_owned),
        identity: clients
            .identity()
            .map(|i| (i.account.clone(), i.short().to_owned())),
    }
}

/// Fills what neither the command line nor the environment sets from the config's `[aws]`:
/// flags win, then `AWS_PROFILE` / `AWS_REGION` (`AWS_DEFAULT_REGION`) / `AWS_ENDPOINT_URL`,
/// then the config file. `--local` names its own endpoint and region.
pub fn apply_config(target: &mut Target, aws: &AwsConfig) {
    apply_with(target, aws, env_set);
}

fn apply_with(target: &mut Target, aws: &AwsConfig, env: impl Fn(&str) -> bool) {
    if target.profile.is_none() && !env("AWS_PROFILE") {
        target.profile.clone_from(&aws.profile);
    }
    if target.local {
        return;
    }
    if target.region.is_none() && !env("AWS_REGION") && !env("AWS_DEFAULT_REGION") {
        target.region.clone_from(&aws.region);
    }
    if target.endpoint.is_none() && !env("AWS_ENDPOINT_URL") {
        target.endpoint.clone_from(&aws.endpoint);
    }
}

/// The profile in force for display and the audit log: `--profile`/`[aws]`, else `AWS_PROFILE`.
pub fn effective_profile(target: &Target) -> Option<String> {
    target
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The AWS config and credentials files, where the SDK looks for them.
fn profile_files() -> Vec<PathBuf> {
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws").join(default)))
    };
    [
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Profile names in one file: `[profile NAME]` and `[default]` in the config file, `[NAME]` in
/// the credentials file; other sections (`[sso-session ...]`, `[services ...]`) are not profiles.
pub fn profiles_in(text: &str, credentials_file: bool) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let inner = l.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
            if credentials_file {
                return Some(inner.to_owned());
            }
            match inner.split_once(char::is_whitespace) {
                Some(("profile", name)) => Some(name.trim().to_owned()),
                None if inner == "default" => Some(inner.to_owned()),
                _ => None,
            }
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// Every profile the AWS config and credentials files define, sorted.
pub fn profiles() -> Vec<String> {
    let mut out = Vec::new();
    for (i, file) in profile_files().iter().enumerate() {
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(profiles_in(&text, i == 1));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn file_names() -> String {
    let names: Vec<String> = profile_files()
        .iter()
        .map(|p| {
            home()
                .and_then(|h| p.strip_prefix(&h).ok().map(|r| Path::new("~").join(r)))
                .unwrap_or_else(|| p.clone())
                .display()
                .to_string()
        })
        .collect();
    names.join(" or ")
}

/// The environment's access keys, which the SDK's default chain (and the AWS CLI) puts before
/// any `AWS_PROFILE`.
fn env_keys() -> bool {
    env_set("AWS_ACCESS_KEY_ID") && env_set("AWS_SECRET_ACCESS_KEY")
}

/// Said once when environment keys and a named profile meet: `--profile` (or `[aws]`) wins,
/// as with the AWS CLI; `AWS_PROFILE` loses to the keys, as with the SDK and the CLI.
pub fn override_notice(target: &Target) -> Option<String> {
    if target.local || !env_keys() {
        return None;
    }
    if let Some(p) = &target.profile {
        return Some(format!(
            "AWS_ACCESS_KEY_ID is set, but --profile {p} wins: using the profile's credentials, not the environment's"
        ));
    }
    let p = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())?;
    Some(format!(
        "AWS_ACCESS_KEY_ID is set and overrides AWS_PROFILE={p} (as in the AWS CLI): unset AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to use the profile, or pass --profile {p}"
    ))
}

/// The profile whose credentials will be used: `--profile`/`[aws]`, else `AWS_PROFILE` unless
/// environment keys override it.
fn profile_in_force(target: &Target) -> Option<String> {
    target.profile.clone().or_else(|| {
        std::env::var("AWS_PROFILE")
            .ok()
            .filter(|p| !p.is_empty() && !env_keys())
    })
}

/// The lines of profile `name`'s section in the config file (for what kind of profile it is).
fn profile_section(name: &str) -> String {
    let Some(config) = profile_files().into_iter().next() else {
        return String::new();
    };
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let mut inside = false;
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let header = header.split_whitespace().collect::<Vec<_>>();
            inside = header == ["profile", name] || (name == "default" && header == ["default"]);
            continue;
        }
        if inside {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

/// What to run to fix profile `p`'s credentials.
fn fix_for(profile: Option<&str>) -> String {
    match profile {
        Some(p) if profile_section(p).contains("sso_") => {
            format!("run `aws sso login --profile {p}`")
        }
        Some(p) => format!("set them up with `aws configure --profile {p}`"),
        None => "set AWS_PROFILE (or --profile), run `aws configure`, or `aws sso login`".into(),
    }
}

/// Before any service call: the profile in force exists, and credentials can be had from it
/// (or the default chain). The error names the profile, the files and what to run.
pub async fn preflight(target: &Target, clients: &Clients) -> anyhow::Result<()> {
    if target.local {
        return Ok(());
    }
    let profile = profile_in_force(target);
    if let Some(p) = &profile {
        let known = profiles();
        if !known.contains(p) {
            let from = if target.profile.is_some() {
                format!("--profile {p}")
            } else {
                format!("AWS_PROFILE={p}")
            };
            anyhow::bail!(
                "{from}: no profile `{p}` in {}; create it with `aws configure --profile {p}` (or `aws configure sso --profile {p}`){}",
                file_names(),
                if known.is_empty() {
                    String::new()
                } else {
                    format!(", or use one of: {}", known.join(", "))
                }
            );
        }
    }
    usable_credentials(clients, profile.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("{e} (no AWS call was made)"))
}

/// Resolves the credentials `clients` will sign with (from `profile`, else the default chain),
/// within [`CREDENTIALS_WITHIN`]; the error names where they came from and what to run.
async fn usable_credentials(clients: &Clients, profile: Option<&str>) -> Result<(), String> {
    let whose = profile.map_or_else(
        || "the default credential chain".to_owned(),
        |p| format!("profile `{p}`"),
    );
    match tokio::time::timeout(CREDENTIALS_WITHIN, clients.resolve_credentials()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "no usable AWS credentials from {whose}: {e}; {}",
            fix_for(profile)
        )),
        Err(_) => Err(format!(
            "no AWS credentials from {whose} within {} s (an SSO portal or credential process that does not answer?); {}",
            CREDENTIALS_WITHIN.as_secs(),
            fix_for(profile)
        )),
    }
}

/// How long resolving credentials may take before the first call (SSO asks a portal).
const CREDENTIALS_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Asks STS who the clients act as, within a few seconds; without an answer the clients go
/// on without an identity (the audit log then records the local user alone).
pub async fn identify(clients: Clients) -> Clients {
    match tokio::time::timeout(IDENTITY_WITHIN, clients.caller_identity()).await {
        Ok(Ok(identity)) => clients.with_identity(identity),
        // Not worth a warning of its own: whatever made STS fail fails the next call too,
        // and that one is explained.
        Ok(Err(e)) => {
            tracing::info!("cannot tell who the credentials are (sts:GetCallerIdentity): {e}");
            clients
        }
        Err(_) => {
            tracing::info!(
                "sts:GetCallerIdentity did not answer within {} s: the audit log records the local user alone",
                IDENTITY_WITHIN.as_secs()
            );
            clients
        }
    }
}

const IDENTITY_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Clients for `profile` and `region`, keeping the endpoint, the timeouts and `--read-only` of
/// `current`. A region switch keeps the credentials too; a profile switch loads the profile's.
pub async fn connect_to(
    current: Clients,
    current_profile: Option<String>,
    profile: Option<String>,
    region: String,
) -> Result<(Clients, TargetInfo), String> {
    ui::target::check_region(&region)?;
    let config = if profile != current_profile {
        if let Some(p) = &profile {
            if !profiles().contains(p) {
                return Err(format!("no profile `{p}` in {}", file_names()));
            }
        }
        let opts = AwsOptions {
            endpoint: current.endpoint().map(str::to_owned),
            region: Some(region.clone()),
            profile: profile.clone(),
            credentials: None,
            limits: stack::CallLimits::of(&current.config),
        };
        stack::aws::load_config(&opts, &region).await
    } else {
        current
            .config
            .to_builder()
            .region(Region::new(region))
            .build()
    };
    let clients = Clients::from_config(config);
    let clients = if current.is_read_only() {
        clients.read_only()
    } else {
        clients
    };
    // A profile without usable credentials is refused here, and the old target stays.
    if profile != current_profile {
        usable_credentials(&clients, profile.as_deref()).await?;
    }
    let clients = identify(clients).await;
    let info = target_info(&clients, profile.as_deref());
    Ok((clients, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            endpoint: None,
            local: false,
            region: None,
            profile: None,
            stack: None,
        }
    }

    fn aws() -> AwsConfig {
        AwsConfig {
            profile: Some("prod".into()),
            region: Some("eu-west-1".into()),
            endpoint: Some("http://127.0.0.1:4566".into()),
        }
    }

    #[test]
    fn flags_then_environment_then_the_config_file() {
        let mut t = target();
        apply_with(&mut t, &aws(), |_| false);
        assert_eq!(t.profile.as_deref(), Some("prod"));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.endpoint.as_deref(), Some("http://127.0.0.1:4566"));

        let mut t = Target {
            region: Some("us-east-2".into()),
            ..target()
        };
        apply_with(&mut t, &aws(), |v| {
            v == "AWS_PROFILE" || v == "AWS_ENDPOINT_URL"
        });
        assert_eq!(t.region.as_deref(), Some("us-east-2"), "the flag wins");
        assert_eq!(t.profile, None, "AWS_PROFILE wins");
        assert_eq!(t.endpoint, None, "AWS_ENDPOINT_URL wins");

        let mut t = Target {
            local: true,
            ..target()
        };
        apply_with(&mut t, &aws(), |_| false);
        assert_eq!(
            (t.region, t.endpoint),
            (None, None),
            "--local names its own"
        );
    }

    #[test]
    fn profiles_are_read_from_both_files() {
        let config = "[default]\nregion = us-east-1\n[profile prod]\nregion = eu-west-1\n\
                      [sso-session corp]\nsso_region = us-east-1\n[services local]\n[ profile  dev ]\n";
        assert_eq!(profiles_in(config, false), ["default", "prod", "dev"]);
        let creds = "[default]\naws_access_key_id = x\n[ci]\n";
        assert_eq!(profiles_in(creds, true), ["default", "ci"]);
    }

    #[tokio::test]
    async fn a_region_switch_keeps_the_endpoint_and_read_only() {
        let opts = local_cloud::aws_options("http://127.0.0.1:9", "us-east-1");
        let clients = Clients::connect(&opts, "us-east-1").await.read_only();
        let (switched, info) = connect_to(clients, None, None, "eu-west-1".into())
            .await
            .unwrap();
        assert_eq!(switched.region(), "eu-west-1");
        assert_eq!(switched.endpoint(), Some("http://127.0.0.1:9"));
        assert!(switched.is_read_only(), "--read-only must survive a switch");
        assert_eq!(
            info,
            TargetInfo {
                profile: None,
                region: "eu-west-1".into(),
                endpoint: Some("http://127.0.0.1:9".into()),
                identity: None,
            }
        );
        let err = connect_to(switched, None, None, "Mars".into())
            .await
            .unwrap_err();
        assert!(err.contains("is not an AWS region name"), "{err}");
    }
}
