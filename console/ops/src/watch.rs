//! What the console and `flightdeck status` watch: the config's `[watch]` resolved against the
//! stack (by default its two groups, its task queue and DLQ), and the listing of exactly those
//! groups and queues with the filters AWS offers server-side: DescribeAutoScalingGroups by
//! `AutoScalingGroupNames` or `tag:`/`tag-key` `Filters`, GetQueueUrl for named queues,
//! ListQueues with `QueueNamePrefix`, ListQueueTags (cached) for tag matches. Whatever the
//! server cannot filter (group prefixes) is filtered here. Talks to Auto Scaling and SQS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use stack::errors::{describe, AwsFailure, HttpStatus};
use stack::{Clients, Stack};
use ui::config::WatchConfig;
use ui::target::Selection;

use crate::calls::CallLog;

/// Named queues that did not exist, and the lists behind prefixes, "*" and tags, are re-read
/// this often (a new queue shows up within this time).
pub const LIST_EVERY: Duration = Duration::from_secs(30);
/// A queue's tags are re-read this often...
pub const TAGS_EVERY: Duration = Duration::from_secs(300);
/// ...at most this many per poll, so re-reading them spreads out instead of bursting.
pub const TAG_REFRESHES_PER_POLL: usize = 10;
/// DescribeAutoScalingGroups takes up to 100 names with `MaxRecords` 100.
const NAMES_PER_CALL: usize = 100;

/// A failed call, with the API that failed.
#[derive(Debug, Clone)]
pub struct CallError {
    pub api: &'static str,
    pub failure: AwsFailure,
}

impl CallError {
    fn from_sdk<E, R>(api: &'static str, err: &SdkError<E, R>) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug + 'static,
    {
        CallError {
            api,
            failure: describe(err),
        }
    }
}

/// The groups and queues to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub groups: Selection,
    pub queues: Selection,
    /// Also the dead-letter queues that watched queues' redrive policies name.
    pub dead_letter_queues: bool,
}

impl Watch {
    /// The stack's own groups and queues.
    pub fn stack(stack: &Stack) -> Watch {
        Watch::from_config(&WatchConfig::default(), stack)
    }

    /// The config's selection; a side the config leaves out is the stack's.
    pub fn from_config(config: &WatchConfig, stack: &Stack) -> Watch {
        Watch {
            groups: config.groups.clone().unwrap_or_else(|| {
                Selection::names([&stack.groups.api.name, &stack.groups.worker.name])
            }),
            queues: config.queues.clone().unwrap_or_else(|| {
                Selection::names([&stack.queues.tasks.name, &stack.queues.dlq.name])
            }),
            dead_letter_queues: config.dead_letter_queues,
        }
    }

    /// One line for logs: `groups: 2 names · queues: video_*`.
    pub fn describe(&self) -> String {
        format!(
            "groups: {} · queues: {}{}",
            self.groups.describe(),
            self.queues.describe(),
            if self.dead_letter_queues {
                " (+ their DLQs)"
            } else {
                ""
            }
        )
    }
}

/// One DescribeAutoScalingGroups request (paginated) of the ones that cover a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupQuery {
    /// Every group (for `*`, and for prefixes, which AWS cannot filter by).
    All,
    Names(Vec<String>),
    /// `Filters`, ANDed by AWS: `tag:KEY` = [VALUE], or `tag-key` = [KEY] for any value.
    Tags(Vec<(String, Vec<String>)>),
}

/// The requests for a selection: none for an empty one, one unfiltered for `*` or prefixes,
/// else one per 100 names plus one with the tag filters (their results are united).
pub fn group_queries(sel: &Selection) -> Vec<GroupQuery> {
    if sel.is_empty() {
        return Vec::new();
    }
    if sel.all || !sel.prefixes.is_empty() {
        return vec![GroupQuery::All];
    }
    let mut out: Vec<GroupQuery> = sel
        .names
        .chunks(NAMES_PER_CALL)
        .map(|c| GroupQuery::Names(c.to_vec()))
        .collect();
    if !sel.tags.is_empty() {
        out.push(GroupQuery::Tags(
            sel.tags
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => (format!("tag:{k}"), vec![v.clone()]),
                    None => ("tag-key".to_owned(), vec![k.clone()]),
                })
                .collect(),
        ));
    }
    out
}

fn group_tags(g: &AutoScalingGroup) -> BTreeMap<String, String> {
    g.tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The watched groups, by name, each once. Every result is checked against the selection
/// here too, so a filter the endpoint ignores cannot widen what is shown.
pub async fn describe_groups(
    clients: &Clients,
    calls: &CallLog,
    sel: &Selection,
) -> Result<Vec<AutoScalingGroup>, CallError> {
    run_group_queries(clients, calls, sel, group_queries(sel)).await
}

/// These groups of the selection by name (the ones on screen), each once; a name AWS does not
/// return is a group deleted since.
pub async fn describe_named_groups(
    clients: &Clients,
    calls: &CallLog,
    sel: &Selection,
    names: &[String],
) -> Result<Vec<AutoScalingGroup>, CallError> {
    let queries = names
        .chunks(NAMES_PER_CALL)
        .map(|c| GroupQuery::Names(c.to_vec()))
        .collect();
    run_group_queries(clients, calls, sel, queries).await
}

async fn run_group_queries(
    clients: &Clients,
    calls: &CallLog,
    sel: &Selection,
    queries: Vec<GroupQuery>,
) -> Result<Vec<AutoScalingGroup>, CallError> {
    const API: &str = "DescribeAutoScalingGroups";
    let mut out: BTreeMap<String, AutoScalingGroup> = BTreeMap::new();
    for query in queries {
        let mut request = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .max_records(100);
        match query {
            GroupQuery::All => {}
            GroupQuery::Names(names) => request = request.set_auto_scaling_group_names(Some(names)),
            GroupQuery::Tags(filters) => {
                for (name, values) in filters {
                    request = request.filters(
                        Filter::builder()
                            .name(name)
                            .set_values(Some(values))
                            .build(),
                    );
                }
            }
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            calls.record(API, page.is_ok());
            let page = page.map_err(|e| CallError::from_sdk(API, &e))?;
            for g in page.auto_scaling_groups() {
                let name = g.auto_scaling_group_name().unwrap_or_default();
                if sel.matches(name, &group_tags(g)) {
                    out.insert(name.to_owned(), g.clone());
                }
            }
        }
    }
    Ok(out.into_values().collect())
}

/// A queue's name from its URL (the last path segment).
pub fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn not_found<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code()
        .is_some_and(|c| c.contains("QueueDoesNotExist") || c.contains("NonExistentQueue"))
}

/// Finds the watched queues' URLs and remembers what it can: named queues' URLs, the lists
/// behind prefixes, `*` and tags (re-read every [`LIST_EVERY`]), queues' tags, DLQs' URLs.
#[derive(Debug)]
pub struct QueueFinder {
    sel: Selection,
    pub dead_letter_queues: bool,
    /// name -> URL, `None` when it did not exist at the last look.
    named: BTreeMap<String, Option<String>>,
    listed: Vec<String>,
    listed_at: Option<Instant>,
    /// The last look found queues come or go (a listing unlike the one before, a named queue
    /// found or missed anew, a queue forgotten): the next pass looks again, until two agree, so
    /// queues created one after another (a stack being created, an endpoint restarted and
    /// provisioned again) show within a pass or two rather than a [`LIST_EVERY`] later.
    changing: bool,
    tags: HashMap<String, (Instant, BTreeMap<String, String>)>,
    /// DLQ ARN -> URL (`None`: no such queue).
    dlqs: BTreeMap<String, Option<String>>,
}

impl QueueFinder {
    pub fn new(sel: Selection, dead_letter_queues: bool) -> QueueFinder {
        QueueFinder {
            sel,
            dead_letter_queues,
            named: BTreeMap::new(),
            listed: Vec::new(),
            listed_at: None,
            changing: false,
            tags: HashMap::new(),
            dlqs: BTreeMap::new(),
        }
    }

    fn lists(&self) -> bool {
        self.sel.all || !self.sel.prefixes.is_empty() || self.sel.needs_tags()
    }

    /// The watched queues' URLs, sorted (their DLQs come from [`QueueFinder::dlq_url`]).
    pub async fn urls(
        &mut self,
        clients: &Clients,
        calls: &CallLog,
    ) -> Result<Vec<String>, CallError> {
        if self.sel.is_empty() {
            return Ok(Vec::new());
        }
        let relist = self.changing || self.listed_at.is_none_or(|t| t.elapsed() >= LIST_EVERY);
        // The first look is what there is, not a change.
        let looked_before = self.listed_at.is_some();
        let mut changing = false;
        let mut out = BTreeSet::new();
        if !self.sel.all {
            for name in self.sel.names.clone() {
                let known = self.named.get(&name).cloned();
                let url = match known {
                    Some(Some(url)) => Some(url),
                    Some(None) if !relist => None,
                    _ => {
                        let url = self.lookup(clients, calls, &name, None).await?;
                        changing |= looked_before && known.as_ref() != Some(&url);
                        self.named.insert(name, url.clone());
                        url
                    }
                };
                out.extend(url);
            }
        }
        if self.lists() {
            if relist {
                let listed = self.list(clients, calls).await?;
                changing |= looked_before && listed != self.listed;
                self.listed = listed;
                self.tags.retain(|url, _| self.listed.contains(url));
            }
            if self.sel.needs_tags() {
                self.learn_tags(clients, calls).await?;
            }
            for url in &self.listed {
                let name = queue_name(url);
                let tags = self.tags.get(url).map(|(_, t)| t);
                if self.sel.matches_name(name) || tags.is_some_and(|t| self.sel.matches_tags(t)) {
                    out.insert(url.clone());
                }
            }
        }
        if relist {
            self.listed_at = Some(Instant::now());
            self.changing = changing;
        }
        Ok(out.into_iter().collect())
    }

    /// ListQueues: everything for `*` and tags, else once per prefix (server-side).
    async fn list(&self, clients: &Clients, calls: &CallLog) -> Result<Vec<String>, CallError> {
        const API: &str = "ListQueues";
        let prefixes: Vec<Option<String>> = if self.sel.all || self.sel.needs_tags() {
            vec![None]
        } else {
            self.sel.prefixes.iter().cloned().map(Some).collect()
        };
        let mut urls = BTreeSet::new();
        for prefix in prefixes {
            let mut pages = clients
                .sqs
                .list_queues()
                .set_queue_name_prefix(prefix)
                .max_results(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                calls.record(API, page.is_ok());
                let page = page.map_err(|e| CallError::from_sdk(API, &e))?;
                urls.extend(page.queue_urls().iter().cloned());
            }
        }
        Ok(urls.into_iter().collect())
    }

    /// Tags of listed queues not matched by name: unknown ones now, stale ones a few a poll.
    async fn learn_tags(&mut self, clients: &Clients, calls: &CallLog) -> Result<(), CallError> {
        const API: &str = "ListQueueTags";
        let need: Vec<String> = self
            .listed
            .iter()
            .filter(|u| !self.sel.matches_name(queue_name(u)))
            .cloned()
            .collect();
        let mut unknown: Vec<String> = need
            .iter()
            .filter(|u| !self.tags.contains_key(*u))
            .cloned()
            .collect();
        let mut stale: Vec<(Instant, String)> = need
            .iter()
            .filter_map(|u| {
                self.tags
                    .get(u)
                    .filter(|(at, _)| at.elapsed() >= TAGS_EVERY)
                    .map(|(at, _)| (*at, u.clone()))
            })
            .collect();
        stale.sort();
        unknown.extend(
            stale
                .into_iter()
                .take(TAG_REFRESHES_PER_POLL)
                .map(|(_, u)| u),
        );
        for url in unknown {
            let out = clients.sqs.list_queue_tags().queue_url(&url).send().await;
            calls.record(API, out.is_ok());
            match out {
                Ok(out) => {
                    let tags = out
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    self.tags.insert(url, (Instant::now(), tags));
                }
                Err(e) if e.as_service_error().is_some_and(not_found) => {
                    self.tags.remove(&url);
                }
                Err(e) => return Err(CallError::from_sdk(API, &e)),
            }
        }
        Ok(())
    }

    async fn lookup(
        &self,
        clients: &Clients,
        calls: &CallLog,
        name: &str,
        owner: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        const API: &str = "GetQueueUrl";
        let out = clients
            .sqs
            .get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner.map(str::to_owned))
            .send()
            .await;
        calls.record(API, out.is_ok());
        match out {
            Ok(out) => Ok(out.queue_url().map(str::to_owned)),
            Err(e) if e.as_service_error().is_some_and(not_found) => Ok(None),
            Err(e) => Err(CallError::from_sdk(API, &e)),
        }
    }

    /// The URL of the DLQ a redrive policy names (`arn:aws:sqs:REGION:ACCOUNT:NAME`), looked up
    /// once; `None` when it does not exist.
    pub async fn dlq_url(
        &mut self,
        clients: &Clients,
        calls: &CallLog,
        arn: &str,
    ) -> Result<Option<String>, CallError> {
        if let Some(known) = self.dlqs.get(arn) {
            return Ok(known.clone());
        }
        let mut parts = arn.rsplitn(3, ':');
        let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        let account = Some(account).filter(|a| !a.is_empty());
        let url = self.lookup(clients, calls, name, account).await?;
        self.dlqs.insert(arn.to_owned(), url.clone());
        Ok(url)
    }

    /// The queues watched by name (the stack's own, by default).
    pub fn named(&self) -> &[String] {
        &self.sel.names
    }

    /// A queue went away between finding and reading it: look it up again next time, and
    /// list again (others may have gone or come too).
    pub fn forget(&mut self, url: &str) {
        self.changing = true;
        self.named.retain(|_, u| u.as_deref() != Some(url));
        self.dlqs.retain(|_, u| u.as_deref() != Some(url));
        self.listed.retain(|u| u != url);
        self.tags.remove(url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_is_watched_by_default_and_a_config_side_replaces_it() {
        let stack: Stack = serde_json::from_str(stack::config::DEFAULT_STACK_JSON).unwrap();
        let w = Watch::stack(&stack);
        assert_eq!(w.groups.names, ["flightdeck-api", "flightdeck-worker"]);
        assert_eq!(w.queues.names, ["video_tasks", "video_dlq"]);
        assert!(w.dead_letter_queues);
        let config = WatchConfig {
            groups: Some(Selection::everything()),
            queues: None,
            dead_letter_queues: false,
        };
        let w = Watch::from_config(&config, &stack);
        assert!(w.groups.all);
        assert_eq!(w.queues.names, ["video_tasks", "video_dlq"]);
        assert!(!w.dead_letter_queues);
        assert_eq!(w.describe(), "groups: all · queues: 2 names");
    }

    #[test]
    fn group_queries_use_names_and_tag_filters_and_list_everything_only_for_prefixes() {
        assert_eq!(group_queries(&Selection::default()), []);
        assert_eq!(group_queries(&Selection::everything()), [GroupQuery::All]);
        let sel = Selection {
            tags: BTreeMap::from([
                ("team".to_owned(), Some("video".to_owned())),
                ("env".to_owned(), None),
            ]),
            ..Selection::names(["api", "worker"])
        };
        assert_eq!(
            group_queries(&sel),
            [
                GroupQuery::Names(vec!["api".into(), "worker".into()]),
                GroupQuery::Tags(vec![
                    ("tag-key".into(), vec!["env".into()]),
                    ("tag:team".into(), vec!["video".into()]),
                ]),
            ]
        );
        let many = Selection::names((0..250).map(|i| format!("g{i}")));
        let q = group_queries(&many);
        assert_eq!(q.len(), 3, "100 names a call");
        let prefixed = Selection {
            prefixes: vec!["video-".into()],
            ..sel
        };
        assert_eq!(group_queries(&prefixed), [GroupQuery::All]);
    }

    #[test]
    fn queue_names_come_from_urls() {
        assert_eq!(
            queue_name("http://127.0.0.1:4566/000000000000/video_tasks"),
            "video_tasks"
        );
        assert_eq!(queue_name("video_tasks"), "video_tasks");
    }
}
