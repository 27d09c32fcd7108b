//! The `dlq` commands that change the queue: redrive (with its progress bar and notes),
//! delete and purge, each confirmed and audited.

use super::*;

pub(super) async fn redrive_cmd(
    ctx: &Ctx<'_>,
    req: RedriveRequest,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let params = ops::jobs::redrive_parameters(&req, StartedBy::Command);
    // Not even JSON: say so before asking (the v1 check needs the destination, resolved later).
    redrive::check_edits(&req.edits, "", ctx.stack).map_err(|e| fail(ctx, e))?;
    if !req.dry_run {
        let what = format!(
            "Redrive {}{} from {} to {}.",
            req.selection.describe(),
            if req.edits.is_empty() {
                ""
            } else {
                " with an edited body"
            },
            req.dlq,
            match &req.destination {
                Destination::Source => "its source queue".to_string(),
                Destination::Queue(q) => q.clone(),
            }
        );
        let action = Action::Redrive {
            dlq: &req.dlq,
            bulk: req.selection.is_bulk(),
        };
        confirm_or_refuse(ctx, &action, &what, yes, ("dlq.redrive", &req.dlq, &params))?;
    }
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let (tx, rx) = watch::channel(RedriveProgress::default());
    let bar = tokio::spawn(progress_bar(rx, req.dry_run));
    // The job runner records the redrive in the audit log (not a dry run), as the console's.
    let result = ops::jobs::redrive(ctx, &req, StartedBy::Command, &tx, &cancel).await;
    drop(tx);
    let _ = bar.await;
    on_ctrl_c.abort();
    let outcome = result.map_err(|e| fail(ctx, e))?;
    let p = &outcome.progress;
    let summary = ops::jobs::redrive_summary(&outcome, &req);
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        if p.dry_run && !outcome.would_move.is_empty() {
            print!("{}", table(&outcome.would_move, chrono::Utc::now()));
        }
        for note in &p.notes {
            eprintln!("note: {note}");
        }
        println!("{summary}");
    }
    if p.cancelled || p.failed > 0 || outcome.journal.is_some() {
        return Err(exit(
            PARTIAL,
            if p.cancelled {
                "stopped before the end: run the same command again to continue"
            } else {
                "some messages were not sent or not yet deleted: run the same command again to finish"
            },
        ));
    }
    if p.left > 0 {
        return Err(exit(
            LEFT,
            format!(
                "{} message(s) left in {}: held by another consumer; run the same command again once they are visible",
                p.left, p.dlq
            ),
        ));
    }
    if p.untaggable > 0 {
        return Err(exit(
            LEFT,
            format!(
                "{} message(s) left in {}: too many attributes to tag ({})",
                p.untaggable,
                p.dlq,
                outcome.untaggable_ids.join(", ")
            ),
        ));
    }
    if p.moved == 0 && p.resumed == 0 {
        return Err(exit(NOTHING, String::new()));
    }
    Ok(())
}

/// The live progress bar on stderr (hidden when stderr is not a terminal).
pub(super) async fn progress_bar(mut rx: watch::Receiver<RedriveProgress>, dry_run: bool) {
    if !std::io::stderr().is_terminal() {
        while rx.changed().await.is_ok() {}
        return;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    while rx.changed().await.is_ok() {
        let p = rx.borrow_and_update().clone();
        bar.set_length(p.moved + p.remaining.unwrap_or(0));
        bar.set_position(p.moved);
        let eta = p
            .eta
            .map_or(String::new(), |e| format!(", ETA {}s", e.as_secs()));
        bar.set_message(format!(
            "{} {:.0} msg/s{eta}{}",
            if dry_run { "would move," } else { "moved," },
            p.rate_per_s,
            if p.possible_duplicates > 0 {
                format!(", {} possible duplicates", p.possible_duplicates)
            } else {
                String::new()
            }
        ));
    }
    bar.finish_and_clear();
}

pub(super) async fn delete_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    selection: MessageSet,
    dry_run: bool,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let params = serde_json::json!({"selection": selection.describe(), "dry_run": dry_run});
    if !dry_run {
        let what = format!(
            "Delete {} from {} (they cannot be recovered).",
            selection.describe(),
            q.name
        );
        confirm_or_refuse(
            ctx,
            &Action::Delete { queue: &q.name },
            &what,
            yes,
            ("dlq.delete", &q.name, &params),
        )?;
    }
    let out: DeleteOutcome = match delete::delete(
        &ctx.clients.sqs,
        &q,
        &selection,
        dry_run,
        Some(&audit::state_dir()),
        &CancellationToken::new(),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            let err = fail(ctx, e);
            if !dry_run {
                ctx.record(
                    "dlq.delete",
                    &q.name,
                    &params,
                    result_of(&err),
                    err.to_string(),
                );
            }
            return Err(err);
        }
    };
    let summary = if dry_run {
        format!("would delete {} message(s) from {}", out.ids.len(), q.name)
    } else {
        format!("deleted {} message(s) from {}", out.deleted, q.name)
    };
    if !dry_run {
        ctx.record("dlq.delete", &q.name, &params, "ok", summary.clone());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for id in &out.ids {
            println!("{id}");
        }
        println!("{summary}");
    }
    if out.ids.is_empty() {
        return Err(exit(NOTHING, String::new()));
    }
    Ok(())
}

#[derive(Serialize)]
pub(super) struct PurgeOutcome<'a> {
    queue: &'a str,
    purged: bool,
    approximate_messages_before: u64,
}

pub(super) async fn purge_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let before = ops::dlq::peek::approximate_depth(&ctx.clients.sqs, &q.url)
        .await
        .map_err(|e| fail(ctx, e))?;
    let params = serde_json::json!({"approximate_messages": before});
    let what = format!(
        "Purge {}: delete all of its ~{before} message(s); they cannot be recovered.",
        q.name
    );
    confirm_or_refuse(
        ctx,
        &Action::Purge { queue: &q.name },
        &what,
        yes,
        ("dlq.purge", &q.name, &params),
    )?;
    if let Err(e) = delete::purge(&ctx.clients.sqs, &q).await {
        let err = fail(ctx, e);
        ctx.record(
            "dlq.purge",
            &q.name,
            &params,
            result_of(&err),
            err.to_string(),
        );
        return Err(err);
    }
    let summary = format!("purged {} (~{before} message(s))", q.name);
    ctx.record("dlq.purge", &q.name, &params, "ok", summary.clone());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&PurgeOutcome {
                queue: &q.name,
                purged: true,
                approximate_messages_before: before
            })?
        );
    } else {
        println!("{summary}");
    }
    Ok(())
}
