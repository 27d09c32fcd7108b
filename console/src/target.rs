//! Where the console connects and how it switches at runtime: the `[aws]` config under the
//! command line and the environment, the profile names of the AWS config files (for
//! `:profile`), and the clients for another profile or region that keep the endpoint and
//! `--read-only`. Reads `~/.aws/config` and `~/.aws/credentials`; builds SDK clients.

use std::path::{Path, PathBuf};

use aws_sdk_sqs::config::Region;
use stack::{AwsOptions, Clients};
use ui::config::AwsConfig;
use ui::TargetInfo;

use crate::cli::Target;

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
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
    let info = crate::agents::target_info(&clients, profile.as_deref());
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
                endpoint: Some("http://127.0.0.1:9".into())
            }
        );
        let err = connect_to(switched, None, None, "Mars".into())
            .await
            .unwrap_err();
        assert!(err.contains("is not an AWS region name"), "{err}");
    }
}
