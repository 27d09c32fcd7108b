//! The one AWS client factory: the standard credential chain, profile and region, and the
//! `AWS_ENDPOINT_URL` override that points every program at the local emulator.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// How to reach AWS. Every field is optional; unset fields come from the standard
/// environment and profile settings (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Endpoint URL for every service (an emulator, a VPC endpoint).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Fixed credentials; only the local cloud sets these (the emulator accepts any keys).
    pub credentials: Option<(String, String)>,
    /// Time limits for every call (see [`CallLimits`]).
    pub limits: CallLimits,
}

/// Clients for every service flightdeck uses, built once from one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub config: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// CloudWatch Logs: the instances' log lines (one log group per role).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
    /// Who these clients act as, once asked ([`Clients::with_identity`]).
    identity: Option<Identity>,
    /// Set by [`Clients::read_only`]: every client refuses calls outside the read allowlist.
    read_only: bool,
}

impl Clients {
    /// Build every client. `default_region` is used when neither the options, the
    /// environment nor the profile name a region (the stack file's region).
    pub async fn connect(opts: &AwsOptions, default_region: &str) -> Clients {
        let config = load_config(opts, default_region).await;
        Clients::from_config(config)
    }

    pub fn from_config(config: SdkConfig) -> Clients {
        Clients::build(config, false)
    }

    /// The same clients in read-only mode (`--read-only`): each one refuses, before anything
    /// is sent, every call that is not in [`crate::permissions::CONSOLE_READ_ONLY`].
    pub fn read_only(self) -> Clients {
        let identity = self.identity;
        Clients {
            identity,
            ..Clients::build(self.config, true)
        }
    }

    /// Whether these clients refuse every mutating call.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The same clients with other time limits (tests use short ones; see [`CallLimits`]).
    pub fn with_limits(self, limits: CallLimits) -> Clients {
        let config = self
            .config
            .to_builder()
            .timeout_config(limits.timeout_config())
            .retry_config(limits.retry_config())
            .build();
        Clients {
            identity: self.identity,
            ..Clients::build(config, self.read_only)
        }
    }

    /// Asks STS who these credentials are (GetCallerIdentity, which needs no permission).
    pub async fn caller_identity(&self) -> Result<Identity, crate::errors::AwsFailure> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::errors::describe(&e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
        })
    }

    /// Resolves the credentials the calls will be signed with, without calling any service
    /// (an SSO profile asks its portal); the error says why there are none.
    pub async fn resolve_credentials(&self) -> Result<(), String> {
        use aws_credential_types::provider::ProvideCredentials as _;
        let Some(provider) = self.config.credentials_provider() else {
            return Err("no credentials provider is configured".into());
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| crate::errors::error_chain(&e))
    }

    /// The same clients, knowing who they act as (for the audit log and the top bar).
    pub fn with_identity(self, identity: Identity) -> Clients {
        Clients {
            identity: Some(identity),
            ..self
        }
    }

    /// Who these clients act as, when it was asked and answered.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    fn build(config: SdkConfig, read_only: bool) -> Clients {
        // Against a custom endpoint S3 needs path-style addressing: virtual-host style puts
        // the bucket in the host name, which an emulator on 127.0.0.1 cannot serve.
        // Object transfers move megabytes per attempt, so S3 gets the longer transfer limits.
        let transfer = CallLimits::of(&config).for_transfers();
        let mut s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(endpoint_overridden(&config))
            .timeout_config(transfer.timeout_config());
        let mut sqs = aws_sdk_sqs::config::Builder::from(&config);
        let mut autoscaling = aws_sdk_autoscaling::config::Builder::from(&config);
        let mut ec2 = aws_sdk_ec2::config::Builder::from(&config);
        let mut cloudwatch = aws_sdk_cloudwatch::config::Builder::from(&config);
        let mut logs = aws_sdk_cloudwatchlogs::config::Builder::from(&config);
        let mut sts = aws_sdk_sts::config::Builder::from(&config);
        if read_only {
            sts = sts.interceptor(ReadOnlyGuard);
            s3 = s3.interceptor(ReadOnlyGuard);
            sqs = sqs.interceptor(ReadOnlyGuard);
            autoscaling = autoscaling.interceptor(ReadOnlyGuard);
            ec2 = ec2.interceptor(ReadOnlyGuard);
            cloudwatch = cloudwatch.interceptor(ReadOnlyGuard);
            logs = logs.interceptor(ReadOnlyGuard);
        }
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            identity: None,
            config,
            read_only,
        }
    }

    /// The endpoint in use, or `None` for AWS's own endpoints.
    pub fn endpoint(&self) -> Option<&str> {
        self.config.endpoint_url()
    }

    pub fn region(&self) -> &str {
        self.config.region().map(Region::as_ref).unwrap_or("")
    }

    /// A short description for status lines: `http://127.0.0.1:4566 (us-east-1)`.
    pub fn describe_target(&self) -> String {
        match self.endpoint() {
            Some(e) => format!("{e} ({})", self.region()),
            None => format!("AWS ({})", self.region()),
        }
    }
}

/// The AWS principal behind a set of credentials, as STS GetCallerIdentity names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    /// `arn:aws:iam::123456789012:user/alice`, `arn:aws:sts::...:assumed-role/Admin/alice`.
    pub arn: String,
}

impl Identity {
    /// The principal without the ARN's prefix: `user/alice`, `Admin/alice` (an assumed
    /// role's name and session), `root`.
    pub fn short(&self) -> &str {
        let resource = self.arn.splitn(6, ':').nth(5).unwrap_or(&self.arn);
        resource.strip_prefix("assumed-role/").unwrap_or(resource)
    }
}

/// The refusal a read-only client gives for a mutating call (its text starts with this).
pub const READ_ONLY_REFUSAL: &str = "refused by --read-only";

/// The SDK interceptor behind [`Clients::read_only`]: it runs before a request is serialized and
/// fails the call unless its IAM action is on the read allowlist.
#[derive(Debug, Clone, Copy)]
struct ReadOnlyGuard;

impl aws_smithy_runtime_api::client::interceptors::Intercept for ReadOnlyGuard {
    fn name(&self) -> &'static str {
        "flightdeck-read-only"
    }

    fn read_before_serialization(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let Some(meta) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
        else {
            return Err(format!("{READ_ONLY_REFUSAL}: cannot tell which call this is").into());
        };
        let action = crate::permissions::iam_action(meta.service(), meta.name());
        if crate::permissions::read_only_allows(&action) {
            Ok(())
        } else {
            Err(format!(
                "{READ_ONLY_REFUSAL}: {action} changes the target; run without --read-only to allow it"
            )
            .into())
        }
    }
}

fn endpoint_overridden(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
}

/// Load the shared SDK configuration with the standard chain and flightdeck's overrides.
pub async fn load_config(opts: &AwsOptions, default_region: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
        // A profile asked for by name wins over keys in the environment, as the AWS CLI's
        // --profile does (the default chain would put AWS_ACCESS_KEY_ID first).
        if opts.credentials.is_none() {
            loader = loader.credentials_provider(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(profile)
                    .build(),
            );
        }
    }
    if let Some(endpoint) = &opts.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some((key, secret)) = &opts.credentials {
        loader = loader.credentials_provider(Credentials::new(
            key,
            secret,
            None,
            None,
            "flightdeck-local",
        ));
    }
    // An explicit region wins; else the environment, else the profile, else the stack's
    // region. Instance metadata is not asked: off EC2 it costs a timeout on every start, and
    // flightdeck's instances set AWS_REGION in their units.
    let region = match &opts.region {
        Some(r) => Some(Region::new(r.clone())),
        None => {
            let chain = aws_config::meta::region::RegionProviderChain::first_try(
                aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
            )
            .or_else({
                // Without --profile the provider follows AWS_PROFILE, like the SDK itself.
                let mut profile = aws_config::profile::ProfileFileRegionProvider::builder();
                if let Some(name) = &opts.profile {
                    profile = profile.profile_name(name);
                }
                profile.build()
            });
            chain.region().await
        }
    };
    loader = loader.region(region.unwrap_or_else(|| Region::new(default_region.to_string())));
    let limits = opts.limits;
    loader = loader
        .timeout_config(limits.timeout_config())
        .retry_config(limits.retry_config());
    loader.load().await
}

/// Time limits for every AWS call, so that a hung endpoint (one that accepts connections and
/// never answers) fails a call instead of stalling its caller forever.
///
/// Every client gets [`CallLimits::STANDARD`]; S3 gets [`CallLimits::for_transfers`] (objects
/// of megabytes per attempt); an SQS long poll widens its own attempt by the wait it asks for
/// ([`long_poll`]). The SDK's stalled-stream protection also fails a streamed body that stops
/// moving, which these limits do not cover once the response has begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// One attempt: sending the request until the response's head arrives.
    pub attempt: Duration,
    /// The whole call, every retry and backoff included.
    pub operation: Duration,
    /// Attempts per call, the first included (the SDK retries timeouts, 5xx and throttling).
    pub max_attempts: u32,
}

impl CallLimits {
    /// Control-plane and queue calls: answers take milliseconds, so 10 s per attempt is a
    /// hung endpoint, and three attempts fit in the 30 s a caller waits in all.
    pub const STANDARD: CallLimits = CallLimits {
        connect: Duration::from_secs(3),
        attempt: Duration::from_secs(10),
        operation: Duration::from_secs(30),
        max_attempts: 3,
    };

    /// The local cloud's emulator serves every request through one Python interpreter on a
    /// machine it shares with the whole fleet: under load an answer can take many seconds
    /// without anything being wrong, so its limits mean "hung", not "busy".
    pub const EMULATOR: CallLimits = CallLimits {
        connect: Duration::from_secs(3),
        attempt: Duration::from_secs(30),
        operation: Duration::from_secs(90),
        max_attempts: 3,
    };

    /// The limits a configuration was built with (the standard ones where it sets none).
    pub fn of(config: &SdkConfig) -> CallLimits {
        CallLimits::from_parts(
            config.timeout_config(),
            config.retry_config().map(|r| r.max_attempts()),
        )
    }

    /// From a client's timeout and retry settings; what they leave unset is standard.
    fn from_parts(
        t: Option<&aws_config::timeout::TimeoutConfig>,
        max_attempts: Option<u32>,
    ) -> CallLimits {
        let std = CallLimits::STANDARD;
        CallLimits {
            connect: t.and_then(|t| t.connect_timeout()).unwrap_or(std.connect),
            attempt: t
                .and_then(|t| t.operation_attempt_timeout())
                .unwrap_or(std.attempt),
            operation: t
                .and_then(|t| t.operation_timeout())
                .unwrap_or(std.operation),
            max_attempts: max_attempts.unwrap_or(std.max_attempts),
        }
    }

    /// S3 object transfers: a 5 MiB part or a processed video per attempt, over links that may
    /// be slow, so six times the attempt and operation limits.
    pub fn for_transfers(self) -> CallLimits {
        CallLimits {
            attempt: self.attempt * 6,
            operation: self.operation * 6,
            ..self
        }
    }

    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.attempt)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    pub fn retry_config(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard().with_max_attempts(self.max_attempts)
    }
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits::STANDARD
    }
}

/// The time limits for an SQS ReceiveMessage that long-polls for `wait`: the endpoint holds
/// the request open that long by design, so the attempt and operation limits grow by it.
/// Apply with `.customize().config_override(...)` on the call.
pub fn long_poll(sqs: &aws_sdk_sqs::Client, wait: Duration) -> aws_sdk_sqs::config::Builder {
    let limits = CallLimits::from_parts(sqs.config().timeout_config(), None);
    aws_sdk_sqs::config::Builder::default().timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .read_timeout(wait + limits.attempt)
            .operation_attempt_timeout(wait + limits.attempt)
            .operation_timeout(wait + limits.operation)
            .build(),
    )
}

/// A bucket's versioning status (`None`: never enabled).
///
/// The emulator (moto 5.2) answers GetBucketVersioning with the right content under the
/// wrong XML root (`GetBucketVersioningResponse`), which the SDK refuses to parse. For a
/// *successful* answer the SDK could not parse, the status is read from the raw body; AWS's
/// own answers take the normal path.
pub async fn bucket_versioning(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<
    Option<aws_sdk_s3::types::BucketVersioningStatus>,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError,
    >,
> {
    use aws_sdk_s3::types::BucketVersioningStatus;
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(out) => Ok(out.status().cloned()),
        Err(aws_sdk_s3::error::SdkError::ServiceError(ctx))
            if ctx.raw().status().is_success() && ctx.err().meta().code().is_none() =>
        {
            let body = ctx
                .raw()
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Ok(if body.contains("<Status>Enabled</Status>") {
                Some(BucketVersioningStatus::Enabled)
            } else if body.contains("<Status>Suspended</Status>") {
                Some(BucketVersioningStatus::Suspended)
            } else {
                None
            })
        }
        Err(e) => Err(e),
    }
}
