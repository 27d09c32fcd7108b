//! What the tour does at the stack and reads from it: the load run, the poison upload, the
//! dead letter and its log lines, the fix and the redrive (each audited like the console's own
//! actions), and the readings its captions wait for (queue depth, desired capacity, CPU, the
//! API's instances).

use super::*;

impl Tour {
    /// Why the autoscaler may not have acted: its AlarmNotification process suspended
    /// (`:autoscaler off`), else where its decisions are.
    pub(super) async fn autoscaler_hint(&self, group: &str) -> String {
        match ops::processes::suspended(&self.clients, group).await {
            Ok(s) if s.iter().any(|p| p == ui::model::ALARM_NOTIFICATION) => format!(
                " (its AlarmNotification is suspended: `:autoscaler on {group}` lets it scale)"
            ),
            _ => " (the autoscaler's decisions are in the group view)".to_owned(),
        }
    }

    pub(super) async fn queues(&self, token: &CancellationToken) -> Told<Queues> {
        let sqs = &self.clients.sqs;
        let names = &self.stack.queues;
        let tasks = self
            .call(token, resolve_queue(sqs, &names.tasks.name))
            .await?;
        let dlq = self
            .call(token, resolve_queue(sqs, &names.dlq.name))
            .await?;
        match (tasks, dlq) {
            (Ok(tasks), Ok(dlq)) => Ok(Queues { tasks, dlq }),
            (Err(e), _) | (_, Err(e)) => Err(Stop::Failed(format!("the stack's queues: {e}"))),
        }
    }

    /// Visible messages (ApproximateNumberOfMessages).
    pub(super) async fn visible(&self, queue: &QueueRef) -> Result<u64, String> {
        let out = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| format!("GetQueueAttributes {}: {}", queue.name, describe(&e)))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub(super) async fn desired(&self, group: &str) -> Result<u32, String> {
        let out = self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|e| format!("DescribeAutoScalingGroups: {}", describe(&e)))?;
        out.auto_scaling_groups()
            .first()
            .and_then(|g| g.desired_capacity())
            .map(|d| u32::try_from(d).unwrap_or(0))
            .ok_or_else(|| format!("no group named {group}"))
    }

    /// Follows the worker group's CPU samples; the receiver holds the highest seen so far.
    pub(super) fn watch_cpu(&self, group: &str, tasks: &mut JoinSet<()>) -> watch::Receiver<f64> {
        let (peak_tx, peak) = watch::channel(0.0_f64);
        let mut cpu = self.cpu.clone();
        let group = group.to_owned();
        tasks.spawn(async move {
            loop {
                let now = cpu
                    .borrow_and_update()
                    .samples
                    .iter()
                    .filter(|s| s.group == group)
                    .map(|s| s.percent)
                    .fold(0.0_f64, f64::max);
                peak_tx.send_if_modified(|p| {
                    let higher = now > *p;
                    if higher {
                        *p = now;
                    }
                    higher
                });
                if cpu.changed().await.is_err() {
                    return;
                }
            }
        });
        peak
    }

    /// The in-service API instances, once the group's minimum is in service (or at least one
    /// is when the wait runs out): the load balancer's targets.
    pub(super) async fn api_targets(&self, token: &CancellationToken) -> Told<Vec<ApiTarget>> {
        let want = usize::try_from(self.stack.groups.api.min)
            .unwrap_or(1)
            .max(1);
        let fleet = &self.fleet;
        let mut any = Vec::new();
        let full = self
            .until(token, self.timing.step_timeout, || {
                let endpoints = fleet.borrow().api_endpoints();
                if !endpoints.is_empty() {
                    any.clone_from(&endpoints);
                }
                async move {
                    if endpoints.len() >= want {
                        Ok(Poll::Ready(endpoints))
                    } else {
                        not_yet(format!("{} of {want} in service", endpoints.len()))
                    }
                }
            })
            .await;
        let urls = match full {
            Ok(urls) => urls,
            Err(Waited::Cancelled) => return Err(Stop::Cancelled),
            Err(_) if !any.is_empty() => any,
            Err(e) => return Err(e.failed("no API instance of the fleet came into service".into())),
        };
        ops::jobs::load_targets(&[], Some(urls), None)
            .map(|t| t.targets)
            .map_err(|e| Stop::Failed(format!("the fleet's API: {e}")))
    }

    pub(super) fn start_load(
        &self,
        tx: &mpsc::Sender<Report>,
        targets: Vec<ApiTarget>,
        token: &CancellationToken,
        tasks: &mut JoinSet<()>,
    ) -> Told<LoadRun> {
        let scenario = Scenario::parse(RAMP, "the tour's ramp", "tour-ramp")
            .map_err(|e| Stop::Failed(format!("the tour's load scenario: {e}")))?;
        let (progress_tx, progress) = watch::channel(Progress::preparing(
            &scenario.name,
            "starting",
            scenario.planned_duration().as_secs_f64(),
        ));
        let (done_tx, done) = watch::channel(None);
        let cancel = token.child_token();
        let name = scenario.name.clone();
        let planned = scenario.planned_duration();
        let users = scenario
            .closed
            .as_ref()
            .map_or(1, |c| u64::from(c.peak_vus()));
        // The console's load panel follows the tour's run as it follows its own. This task
        // ends with the run (its progress sender goes, however the tour ends) or the console.
        let mut follow = progress.clone();
        let report = tx.clone();
        tokio::spawn(async move {
            let started = Utc::now();
            let send = |status: ui::LoadStatus| {
                report.send(Report::Load {
                    at: Utc::now(),
                    status: Box::new(status),
                })
            };
            loop {
                let status = crate::agents::load::status(&follow.borrow_and_update(), started);
                let over = status.finished;
                if send(status).await.is_err() || over {
                    return;
                }
                let gone = tokio::select! {
                    r = follow.changed() => r.is_err(),
                    () = report.closed() => return,
                };
                if gone {
                    // Stopped with the tour before it finished.
                    let mut last = crate::agents::load::status(&follow.borrow(), started);
                    last.finished = true;
                    let _ = send(last).await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        // The job runner records the run in the audit log, as the console's own.
        let (clients, stack, profile) = (
            self.clients.clone(),
            self.stack.clone(),
            self.profile.clone(),
        );
        tasks.spawn(async move {
            let acting = ops::Ctx {
                clients: &clients,
                stack: &stack,
                profile: profile.as_deref(),
            };
            let result = ops::jobs::load_run(
                Some(&acting),
                scenario,
                RunOptions::new(targets, crate::synth::maker()),
                StartedBy::Tour,
                progress_tx,
                cancel,
            )
            .await;
            let result = result.map(|_| ()).map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::warn!("the tour's load run failed: {e}");
            }
            done_tx.send_replace(Some(result));
        });
        Ok(LoadRun {
            scenario: name,
            users,
            planned,
            progress,
            done,
        })
    }

    /// Uploads a file that starts like an MP4 (so the API, which sniffs the first bytes,
    /// accepts it) and is not a video: the worker's transform fails for good and the worker
    /// dead-letters the message with its reason.
    /// Waits for the worker's dead-lettering line about `dead`'s video to reach CloudWatch
    /// Logs (the fleet ships each instance's lines in batches), and says what was found.
    pub(super) async fn lines_about(
        &self,
        dead: &DlqMessage,
        since: chrono::DateTime<Utc>,
        token: &CancellationToken,
    ) -> Told<LinesFound> {
        let ids = ui::logs::ids_of_dead_letter(&dead.body);
        if ids.is_empty() {
            return Err(Stop::Failed(
                "the dead letter names no video_id or correlation_id".into(),
            ));
        }
        // From before the upload: the API's line about it comes first.
        let start = since - chrono::Duration::minutes(1);
        // Every log group of the stack, every stream.
        let (groups, streams) = ops::logs::resolve_target(&self.stack, None)
            .map_err(|e| Stop::Failed(format!("the stack's log groups: {e}")))?;
        let query = ops::logs::LogQuery {
            groups,
            streams,
            all: Vec::new(),
            any: ids.clone(),
            start_ms: start.timestamp_millis(),
            limit: 500,
            newest: true,
        };
        let query = &query;
        let found = self
            .until(token, self.timing.step_timeout, || async move {
                let found = ops::logs::search(&self.clients.logs, query)
                    .await
                    .map_err(|e| e.to_string())?;
                let last = found
                    .lines
                    .iter()
                    .rev()
                    .find(|l| l.message.contains(DEAD_LETTERING));
                match last {
                    Some(l) => Ok(Poll::Ready((found.lines.len(), l.clone()))),
                    None => not_yet(format!(
                        "{} lines about it, not yet the worker's {DEAD_LETTERING:?}",
                        found.lines.len()
                    )),
                }
            })
            .await
            .map_err(|e| {
                e.failed(
                    "the worker's dead-lettering line did not reach CloudWatch Logs (the local fleet ships each instance's lines; see `flightdeck logs worker`)"
                        .into(),
                )
            })?;
        let (count, line) = found;
        let since_s = u64::try_from((Utc::now() - start).num_seconds())
            .unwrap_or(0)
            .max(ui::logs::SINCE_STEPS[0]);
        Ok(LinesFound {
            request: ui::logs::LogsRequest {
                target: None,
                ids,
                terms: Vec::new(),
                since_s: since_s + 600,
            },
            count: count as u64,
            instance: line.stream.clone(),
            last: said(&line.message),
        })
    }

    pub(super) async fn upload_poison(
        &self,
        targets: Vec<ApiTarget>,
        token: &CancellationToken,
    ) -> Told<()> {
        let path =
            std::env::temp_dir().join(format!("flightdeck-tour-{}-poison.mp4", std::process::id()));
        tokio::fs::write(&path, poison_bytes())
            .await
            .map_err(|e| Stop::Failed(format!("cannot write {}: {e}", path.display())))?;
        let mut scenario = Scenario::parse(ONE_UPLOAD, "the tour's poison upload", "tour-poison")
            .map_err(|e| Stop::Failed(format!("the tour's poison scenario: {e}")))?;
        scenario.steps = vec![load::scenario::Step::Upload(load::scenario::Upload {
            file: Some(path.clone()),
            ..load::scenario::Upload::default()
        })];
        let (progress, _) = watch::channel(Progress::preparing(&scenario.name, "", 0.0));
        let acting = self.acting();
        let run = ops::jobs::load_run(
            Some(&acting),
            scenario,
            RunOptions::new(targets, crate::synth::maker()),
            StartedBy::Tour,
            progress,
            token.child_token(),
        );
        let result = self.call(token, run).await;
        let _ = tokio::fs::remove_file(&path).await;
        let report = result?.map_err(|e| Stop::Failed(format!("the poison upload: {e}")))?;
        if report.requests.ok == 0 {
            let errors: Vec<String> = report
                .errors
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            return Err(Stop::Failed(format!(
                "the API did not take the poison upload ({})",
                errors.join(", ")
            )));
        }
        Ok(())
    }

    /// The newest dead letter sent after `since`, if any (peeked: it stays in the DLQ).
    pub(super) async fn newest_dead_letter(
        &self,
        dlq: &QueueRef,
        since: chrono::DateTime<Utc>,
        token: &CancellationToken,
    ) -> Result<Option<DlqMessage>, String> {
        let options = PeekOptions {
            visibility_s: 5,
            empty_receives: 2,
            ..PeekOptions::default()
        };
        let found = peek(&self.clients.sqs, &dlq.url, &options, token)
            .await
            .map_err(|e| e.to_string())?;
        Ok(found
            .into_iter()
            .filter(|m| m.sent_at.is_some_and(|t| t >= since))
            .max_by_key(|m| m.sent_at))
    }

    /// The operator's fix: the real video in place of the poison.
    pub(super) async fn fix(&self, task: &VideoTask, token: &CancellationToken) -> Told<()> {
        let dir = load::video::videos_dir();
        let preset = VideoPreset::Tiny;
        let made = self
            .call(
                token,
                tokio::task::spawn_blocking(move || crate::synth::maker()(&dir, preset)),
            )
            .await?;
        let path = match made {
            Ok(Ok(path)) => path,
            Ok(Err(e)) => return Err(Stop::Failed(format!("the replacement video: {e}"))),
            Err(e) => return Err(Stop::Failed(format!("the replacement video: {e}"))),
        };
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
            .await
            .map_err(|e| Stop::Failed(format!("reading {}: {e}", path.display())))?;
        let put = self
            .clients
            .s3
            .put_object()
            .bucket(&task.source.bucket)
            .key(&task.source.key)
            .content_type("video/mp4")
            .body(body)
            .send();
        self.call(token, put)
            .await?
            .map_err(|e| Stop::Failed(format!("PutObject {}: {}", task.source, describe(&e))))?;
        // Nothing else to fix: a redriven message for a failed video is tried again by the
        // worker, as it would be on AWS, where the operator cannot reach the database.
        self.record(
            "tour.fix",
            &task.source.to_string(),
            serde_json::json!({ "video_id": task.video_id.to_string() }),
            true,
            &format!("replaced {} with a real video", task.source),
        );
        Ok(())
    }

    /// Whether a worker has said, since `since`, that it processed `video_id`: its "job
    /// settled" line with the outcome `processed`, found in CloudWatch Logs as an operator
    /// without the database would find it.
    pub(super) async fn processed_since(
        &self,
        video_id: &str,
        since: chrono::DateTime<Utc>,
    ) -> Result<bool, String> {
        let (groups, streams) = ops::logs::resolve_target(&self.stack, None)
            .map_err(|e| format!("the stack's log groups: {e}"))?;
        let query = ops::logs::LogQuery {
            groups,
            streams,
            all: Vec::new(),
            any: vec![video_id.to_owned()],
            start_ms: since.timestamp_millis(),
            limit: 500,
            newest: true,
        };
        let found = ops::logs::search(&self.clients.logs, &query)
            .await
            .map_err(|e| e.to_string())?;
        Ok(found.lines.iter().any(|l| settled_processed(&l.message)))
    }

    /// Moves the dead letter back with the console's redrive engine, reporting progress to
    /// the status line as the console's own redrive does. Returns how many moved.
    pub(super) async fn redrive(
        &self,
        tx: &mpsc::Sender<Report>,
        dlq: &QueueRef,
        message: &DlqMessage,
        token: &CancellationToken,
    ) -> Told<u64> {
        let ids: BTreeSet<String> = [message.id.clone()].into();
        let request = RedriveRequest::new(
            &dlq.name,
            MessageSet::Ids(ids),
            Destination::Source,
            audit::state_dir(),
        );
        let result = redrive_reported(&self.acting(), &request, StartedBy::Tour, tx, token)
            .await
            .ok_or(Stop::Cancelled)?;
        let outcome = result
            .map(|out| out.progress.moved)
            .map_err(|e| ops::jobs::error_result(&self.clients, &e).1);
        match outcome {
            Ok(moved) => {
                if token.is_cancelled() {
                    return Err(Stop::Cancelled);
                }
                if moved == 0 {
                    return Err(Stop::Failed(format!(
                        "the redrive moved nothing out of {}",
                        dlq.name
                    )));
                }
                Ok(moved)
            }
            Err(e) => Err(Stop::Failed(format!("the redrive failed: {e}"))),
        }
    }

    /// Where the tour's actions run and who acts (the job runner, the audit log).
    pub(super) fn acting(&self) -> ops::Ctx<'_> {
        ops::Ctx {
            clients: &self.clients,
            stack: &self.stack,
            profile: self.profile.as_deref(),
        }
    }

    /// One line in the audit log, like every change the console makes.
    pub(super) fn record(
        &self,
        action: &str,
        target: &str,
        parameters: serde_json::Value,
        ok: bool,
        detail: &str,
    ) {
        self.acting().record(
            action,
            target,
            &parameters,
            if ok { "ok" } else { "failed" },
            detail,
        );
    }
}

/// An ISO-BMFF `ftyp` box (what the API sniffs) followed by text: no `moov`, no frames.
fn poison_bytes() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0x18];
    bytes.extend_from_slice(b"ftypisom");
    bytes.extend_from_slice(&[0, 0, 2, 0]);
    bytes.extend_from_slice(b"isomiso2");
    bytes.extend_from_slice(&b"this upload is a text file named .mp4, not a video\n".repeat(40));
    bytes
}

/// One look at an effect.
/// What a worker's dead-lettering line says went wrong (its `error`, else its `reason`, else
/// the line), short enough for a caption.
fn said(message: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(message).unwrap_or_default();
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let text = field("error")
        .or_else(|| field("reason"))
        .unwrap_or_else(|| ui::logs::human_message(message));
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Whether a log line is a worker's "job settled" with the outcome `processed`
/// (worker/src/consumer.rs).
fn settled_processed(message: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(message).unwrap_or_default();
    v["message"] == "job settled" && v["outcome"] == "processed"
}

/// What the worker says when it gives a message up (worker/src/consumer.rs).
const DEAD_LETTERING: &str = "dead-lettering";

/// The lines about a dead letter the tour found.
pub(super) struct LinesFound {
    /// What the console's logs view is opened on.
    pub(super) request: ui::logs::LogsRequest,
    pub(super) count: u64,
    /// The instance of the last (the dead-lettering) line.
    pub(super) instance: String,
    /// That line, as the view shows it.
    pub(super) last: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_lettering_line_is_said_by_its_error_in_caption_length() {
        let line = r#"{"level":"WARN","message":"permanent failure: dead-lettering","reason":"not_a_video","error":"not a video: no MP4, MOV or AVI container"}"#;
        assert_eq!(said(line), "not a video: no MP4, MOV or AVI container");
        assert_eq!(
            said(r#"{"level":"WARN","message":"m","reason":"corrupt"}"#),
            "corrupt"
        );
        assert_eq!(said("plain"), "plain");
        let long = format!(r#"{{"error":"{}"}}"#, "x".repeat(100));
        assert_eq!(said(&long).chars().count(), 61);
    }

    #[test]
    fn only_a_processed_settlement_says_the_video_is_done() {
        assert!(settled_processed(
            r#"{"level":"INFO","message":"job settled","outcome":"processed","video_id":"v"}"#
        ));
        assert!(!settled_processed(
            r#"{"level":"INFO","message":"job settled","outcome":"dead_lettered","video_id":"v"}"#
        ));
        assert!(!settled_processed("job settled outcome=processed"));
    }

    #[test]
    fn the_poison_passes_the_sniff_but_is_no_video() {
        let bytes = poison_bytes();
        assert_eq!(&bytes[4..8], b"ftyp");
        assert!(!bytes.windows(4).any(|w| w == b"moov"));
    }
}
