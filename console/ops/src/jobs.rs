//! The job runner: the actions every front end starts (the console's actions agent, the demo
//! tour and the headless commands) run here one way, and each is recorded in the audit log in
//! one shape per action, so an entry reads the same whoever started it.
//!
//! - [`Ctx`]: where an action runs and who acts; [`Ctx::record`] writes every audit entry.
//! - [`redrive`]: a redrive with its progress, audited as `dlq.redrive` (except dry runs,
//!   which change nothing); [`redrive_summary`] is the one line it ends with.
//! - [`load_targets`]: where a load run goes, decided one way for every front end.
//! - [`load_run`]: a load run against the API, audited as `load.run` with its verdict
//!   ([`load_summary`]); the headless command, which needs no AWS, records it without a
//!   principal.

use serde_json::{json, Value};
use stack::aws::READ_ONLY_REFUSAL;
use stack::{Clients, Stack};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::audit;
use crate::dlq::redrive::{
    self, Destination, Mover, RedriveOutcome, RedriveProgress, RedriveRequest,
};
use crate::dlq::DlqError;
use load::{ApiTarget, Progress, Report as LoadReport, RunError, RunOptions, Scenario};

/// Where an action runs and who is acting: the target's clients (refusing writes when
/// `--read-only`), the stack, and the profile the audit log names.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub clients: &'a Clients,
    pub stack: &'a Stack,
    pub profile: Option<&'a str>,
}

impl Ctx<'_> {
    /// Appends one action to the audit log (who and where come from this context). A log that
    /// cannot be written is a warning: the action itself has happened.
    pub fn record(
        &self,
        action: &str,
        target: &str,
        parameters: &Value,
        result: &str,
        detail: impl Into<String>,
    ) {
        let entry = audit::Entry::now(
            self.clients,
            self.profile,
            action,
            target,
            parameters.clone(),
            result,
            detail,
        );
        if let Err(e) = audit::record(&entry) {
            tracing::warn!("{e:#}");
        }
    }
}

/// Who started a job, recorded as its audit entry's `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartedBy {
    /// The live console (a confirmed dialog).
    Console,
    /// A headless command (`flightdeck dlq redrive`).
    Command,
    /// The demo tour's own step.
    Tour,
}

impl StartedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            StartedBy::Console => "console",
            StartedBy::Command => "command",
            StartedBy::Tour => "tour",
        }
    }
}

/// A redrive's audit parameters, the same for every front end.
pub fn redrive_parameters(req: &RedriveRequest, by: StartedBy) -> Value {
    json!({
        "selection": req.selection.describe(),
        "destination": destination_name(&req.destination),
        "rate_per_s": req.rate_per_s,
        "dry_run": req.dry_run,
        "edited_bodies": req.edits,
        "tag_origin": req.tag_origin,
        "by": by.as_str(),
    })
}

fn destination_name(d: &Destination) -> String {
    match d {
        Destination::Source => "source".to_owned(),
        Destination::Queue(q) => q.clone(),
    }
}

/// Runs a redrive, reporting progress on `progress`, and records it in the audit log as
/// `dlq.redrive` with [`redrive_result`] and [`redrive_summary`] (a failure: [`error_result`]).
/// A dry run changes nothing and is not recorded.
pub async fn redrive(
    ctx: &Ctx<'_>,
    req: &RedriveRequest,
    by: StartedBy,
    progress: &watch::Sender<RedriveProgress>,
    cancel: &CancellationToken,
) -> Result<RedriveOutcome, DlqError> {
    let result = redrive::run(ctx.clients, ctx.stack, req, progress, cancel).await;
    if !req.dry_run {
        let (word, detail) = match &result {
            Ok(out) => (redrive_result(out), redrive_summary(out, req)),
            Err(e) => error_result(ctx.clients, e),
        };
        ctx.record(
            "dlq.redrive",
            &req.dlq,
            &redrive_parameters(req, by),
            word,
            detail,
        );
    }
    result
}

/// A finished redrive's audit result: `cancelled`, `partial` (something was not sent, left
/// in the DLQ or is still to delete), `dry_run`, else `ok`.
pub fn redrive_result(out: &RedriveOutcome) -> &'static str {
    let p = &out.progress;
    if p.dry_run {
        "dry_run"
    } else if p.cancelled {
        "cancelled"
    } else if p.failed > 0 || p.left > 0 || p.untaggable > 0 || out.journal.is_some() {
        "partial"
    } else {
        "ok"
    }
}

/// The line a redrive ends with: what moved where and by which mover, then whatever needs the
/// operator's attention (resumed sends, possible duplicates, failures, messages left behind).
pub fn redrive_summary(out: &RedriveOutcome, req: &RedriveRequest) -> String {
    let p = &out.progress;
    let mut s = format!(
        "{} {} message(s) from {} to {} ({} mover)",
        if p.dry_run { "would move" } else { "moved" },
        p.moved,
        p.dlq,
        p.destination,
        match p.mover {
            Some(Mover::MoveTask) => "StartMessageMoveTask",
            _ => "batch",
        },
    );
    if p.resumed > 0 {
        s.push_str(&format!(
            "; {} sent by an earlier run, deleted now",
            p.resumed
        ));
    }
    s.push_str(&duplicates_note(p));
    if p.failed > 0 {
        s.push_str(&format!(
            "; {} could not be sent and stay in the DLQ",
            p.failed
        ));
    }
    s.push_str(&left_note(p));
    if p.untaggable > 0 {
        s.push_str(&format!(
            "; {} not sent: tagging would give them more than SQS's {} message attributes (they stay in the DLQ; redrive them without --tag-origin)",
            p.untaggable,
            redrive::MAX_MESSAGE_ATTRIBUTES
        ));
    }
    if req.tag_origin && !p.dry_run && p.moved > 0 {
        s.push_str(&format!("; tagged with run {}", p.run_id));
    }
    s
}

/// Messages another consumer held when the run ended (see [`RedriveProgress::left`]).
pub fn left_note(p: &RedriveProgress) -> String {
    match (p.left, p.dry_run) {
        (0, _) => String::new(),
        (n, true) => {
            format!("; {n} held by another consumer (in flight elsewhere) could not be looked at")
        }
        (n, false) => {
            format!("; {n} left in the DLQ, held by another consumer (in flight elsewhere)")
        }
    }
}

/// This run's possible duplicates and the DLQ's record of them, which lasts across runs
/// until `flightdeck dlq duplicates --clear`.
pub fn duplicates_note(p: &RedriveProgress) -> String {
    if p.possible_duplicates_total == 0 {
        return String::new();
    }
    format!(
        "; {} possible duplicate(s) this run, {} on record for this DLQ (an earlier run was killed while sending them; list them with `flightdeck dlq duplicates`)",
        p.possible_duplicates, p.possible_duplicates_total
    )
}

/// An engine error's audit result and its one line: `refused` and the refusal when
/// `--read-only` stopped the call, else `failed` and the failure explained.
pub fn error_result(clients: &Clients, e: &DlqError) -> (&'static str, String) {
    match e {
        DlqError::Aws { action, failure } if failure.message.contains(READ_ONLY_REFUSAL) => (
            "refused",
            format!("{action}: {}", refusal_text(&failure.message)),
        ),
        DlqError::Aws { action, failure } => (
            "failed",
            format!("{:#}", crate::explain(failure, action, clients)),
        ),
        other => ("failed", other.to_string()),
    }
}

/// The refusal itself, without the transport's wrapping around it.
pub fn refusal_text(message: &str) -> &str {
    message.find(READ_ONLY_REFUSAL).map_or(message, |i| {
        message[i..]
            .split(": dispatch failure")
            .next()
            .unwrap_or(message)
    })
}

/// Where a load run goes, and those addresses in a few words.
#[derive(Debug, Clone)]
pub struct LoadTargets {
    pub targets: Vec<ApiTarget>,
    pub described: String,
}

/// Where a load run goes, one rule for the console, the tour and `flightdeck load run`: the
/// addresses given (the command's `--target`, else `FLIGHTDECK_API_URL`, comma-separated),
/// else the local fleet's API instances in service (`fleet`: as the caller sees the fleet,
/// `None` when it has none), else `fallback` (the command's `127.0.0.1:8000`).
pub fn load_targets(
    given: &[String],
    fleet: Option<Vec<String>>,
    fallback: Option<&str>,
) -> Result<LoadTargets, String> {
    let given: Vec<String> = given
        .iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    let (urls, fleet_size) = if !given.is_empty() {
        (given, None)
    } else if let Some(endpoints) = fleet {
        if endpoints.is_empty() {
            return Err("no API instance of the local fleet is in service: start it with `flightdeck local up` (or run the demo), or give the API's address".to_owned());
        }
        let n = endpoints.len();
        (endpoints, Some(n))
    } else if let Some(url) = fallback {
        (vec![url.to_owned()], None)
    } else {
        return Err("no API address known: set FLIGHTDECK_API_URL, or run the demo".to_owned());
    };
    let targets = urls
        .iter()
        .map(|u| ApiTarget::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let described = match fleet_size {
        Some(n) => format!("the local fleet's API ({n} instance(s))"),
        None => targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    Ok(LoadTargets { targets, described })
}

/// Runs a load run (`load::run`) with its progress on `progress`, and records it in the audit
/// log as `load.run`: with `ctx`, as every action at the target is (its AWS principal and
/// endpoint); without (the headless command connects to no AWS), as the local user acting on
/// the API's addresses.
pub async fn load_run(
    ctx: Option<&Ctx<'_>>,
    scenario: Scenario,
    options: RunOptions,
    by: StartedBy,
    progress: watch::Sender<Progress>,
    cancel: CancellationToken,
) -> Result<LoadReport, RunError> {
    let name = scenario.name.clone();
    let targets = targets_text(&options);
    let result = load::run(scenario, options, progress, cancel).await;
    let parameters = json!({ "targets": targets, "by": by.as_str() });
    let (word, detail) = match &result {
        Ok(report) => (
            if report.cancelled { "cancelled" } else { "ok" },
            load_summary(report, &targets),
        ),
        Err(e) => ("failed", e.to_string()),
    };
    match ctx {
        Some(ctx) => ctx.record("load.run", &name, &parameters, word, detail),
        None => {
            let entry =
                audit::Entry::local(None, "load.run", &name, &targets, parameters, word, detail);
            if let Err(e) = audit::record(&entry) {
                tracing::warn!("{e:#}");
            }
        }
    }
    result
}

/// The API addresses a run loads, as one line.
pub fn targets_text(options: &RunOptions) -> String {
    options
        .targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A load run's verdict in one line: its thresholds, pass or FAIL.
pub fn load_verdict(report: &LoadReport) -> Option<String> {
    let verdict: Vec<String> = report
        .thresholds
        .iter()
        .map(|v| {
            format!(
                "{}: {}",
                v.threshold,
                if v.passed { "pass" } else { "FAIL" }
            )
        })
        .collect();
    (!verdict.is_empty()).then(|| verdict.join(" · "))
}

/// What a finished load run did: its requests by end, where, and its verdict.
pub fn load_summary(report: &LoadReport, targets: &str) -> String {
    let q = &report.requests;
    format!(
        "{} sent = {} ok + {} failed + {} cancelled against {targets}; {}",
        q.sent,
        q.ok,
        q.failed,
        q.cancelled,
        load_verdict(report).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlq::MessageSet;

    fn outcome(f: impl FnOnce(&mut RedriveProgress)) -> RedriveOutcome {
        let mut progress = RedriveProgress {
            dlq: "video_dlq".into(),
            destination: "video_tasks".into(),
            moved: 3,
            ..RedriveProgress::default()
        };
        f(&mut progress);
        RedriveOutcome {
            progress,
            would_move: vec![],
            journal: None,
            possible_duplicate_ids: vec![],
            untaggable_ids: vec![],
        }
    }

    #[test]
    fn a_redrive_is_partial_when_anything_is_left_unsent_or_undeleted() {
        assert_eq!(redrive_result(&outcome(|_| {})), "ok");
        assert_eq!(redrive_result(&outcome(|p| p.failed = 1)), "partial");
        assert_eq!(redrive_result(&outcome(|p| p.left = 1)), "partial");
        assert_eq!(redrive_result(&outcome(|p| p.untaggable = 1)), "partial");
        let mut journalled = outcome(|_| {});
        journalled.journal = Some("j".into());
        assert_eq!(redrive_result(&journalled), "partial");
        assert_eq!(
            redrive_result(&outcome(|p| {
                p.cancelled = true;
                p.failed = 1;
            })),
            "cancelled"
        );
        assert_eq!(redrive_result(&outcome(|p| p.dry_run = true)), "dry_run");
    }

    #[test]
    fn the_summary_names_what_moved_and_what_needs_attention() {
        let req = RedriveRequest::new(
            "video_dlq",
            MessageSet::Everything,
            Destination::Source,
            std::env::temp_dir(),
        );
        assert_eq!(
            redrive_summary(&outcome(|_| {}), &req),
            "moved 3 message(s) from video_dlq to video_tasks (batch mover)"
        );
        let s = redrive_summary(
            &outcome(|p| {
                p.left = 2;
                p.failed = 1;
            }),
            &req,
        );
        assert!(s.contains("; 1 could not be sent"), "{s}");
        assert!(s.contains("; 2 left in the DLQ"), "{s}");
    }

    #[test]
    fn every_front_end_records_the_same_parameters_but_who_started_it() {
        let req = RedriveRequest::new(
            "video_dlq",
            MessageSet::Everything,
            Destination::Queue("other".into()),
            std::env::temp_dir(),
        );
        let console = redrive_parameters(&req, StartedBy::Console);
        let mut tour = redrive_parameters(&req, StartedBy::Tour);
        assert_eq!(console["destination"], "other");
        assert_eq!(tour["by"], "tour");
        tour["by"] = console["by"].clone();
        assert_eq!(console, tour);
    }

    #[test]
    fn a_load_run_goes_where_it_is_told_else_to_the_fleet_else_the_fallback() {
        let fleet = Some(vec!["http://127.0.0.1:9001".to_owned()]);
        let given = ["http://127.0.0.1:1,http://127.0.0.1:2/".to_owned()];
        let t = load_targets(&given, fleet.clone(), None).unwrap();
        assert_eq!(t.targets.len(), 2);
        assert_eq!(t.targets[1].base(), "http://127.0.0.1:2");
        let t = load_targets(&[], fleet, Some("http://127.0.0.1:8000")).unwrap();
        assert_eq!(t.targets[0].base(), "http://127.0.0.1:9001");
        assert_eq!(t.described, "the local fleet's API (1 instance(s))");
        let t = load_targets(&[], None, Some("http://127.0.0.1:8000")).unwrap();
        assert_eq!(t.described, "http://127.0.0.1:8000");
        assert!(load_targets(&[], Some(vec![]), None)
            .unwrap_err()
            .contains("local fleet"));
        assert!(load_targets(&[], None, None)
            .unwrap_err()
            .contains("FLIGHTDECK_API_URL"));
        assert!(load_targets(&["ftp://x".to_owned()], None, None).is_err());
    }

    #[test]
    fn a_read_only_refusal_is_recorded_as_refused_without_its_wrapping() {
        let m = format!("dispatch failure: {READ_ONLY_REFUSAL}: SendMessageBatch changes the target: dispatch failure: x");
        assert_eq!(
            refusal_text(&m),
            format!("{READ_ONLY_REFUSAL}: SendMessageBatch changes the target")
        );
        assert_eq!(refusal_text("other"), "other");
    }
}
