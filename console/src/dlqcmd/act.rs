//! The `dlq` commands that change the queue: redrive (with its progress bar and notes),
//! delete and purge, each confirmed and audited.

use super::*;

pub(super) async fn redrive_cmd(
    ctx: &Ctx<'_>,
    req: RedriveRequest,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let params = serde_json::json!({
        "selection": req.selection.describe(),
        "destination": match &req.destination { Destination::Source => "source".to_string(), Destination::Queue(q) => q.clone() },
        "rate_per_s": req.rate_per_s,
        "dry_run": req.dry_run,
        "edited_bodies": req.edits,
        "tag_origin": req.tag_origin,
    });
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
    let result = redrive::run(ctx.clients, ctx.stack, &req, &tx, &cancel).await;
    drop(tx);
    let _ = bar.await;
    on_ctrl_c.abort();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let err = fail(ctx, e);
            if !req.dry_run {
                audit_entry(
                    ctx,
                    "dlq.redrive",
                    &req.dlq,
                    params,
                    result_of(&err),
                    err.to_string(),
                );
            }
            return Err(err);
        }
    };
    let p = &outcome.progress;
    let summary = format!(
        "{} {} message(s) from {} to {} ({} mover){}{}{}{}{}{}",
        if p.dry_run { "would move" } else { "moved" },
        p.moved,
        p.dlq,
        p.destination,
        match p.mover {
            Some(redrive::Mover::MoveTask) => "StartMessageMoveTask",
            _ => "batch",
        },
        if p.resumed > 0 {
            format!("; {} sent by an earlier run, deleted now", p.resumed)
        } else {
            String::new()
        },
        duplicates_note(p),
        if p.failed > 0 {
            format!("; {} could not be sent and stay in the DLQ", p.failed)
        } else {
            String::new()
        },
        left_note(p),
        if p.untaggable > 0 {
            format!(
                "; {} not sent: tagging would give them more than SQS's {} message attributes (they stay in the DLQ; redrive them without --tag-origin)",
                p.untaggable,
                redrive::MAX_MESSAGE_ATTRIBUTES
            )
        } else {
            String::new()
        },
        if req.tag_origin && !p.dry_run && p.moved > 0 {
            format!("; tagged with run {}", p.run_id)
        } else {
            String::new()
        },
    );
    if !req.dry_run {
        let result = if p.cancelled {
            "cancelled"
        } else if p.failed > 0 || p.left > 0 || p.untaggable > 0 || outcome.journal.is_some() {
            "partial"
        } else {
            "ok"
        };
        audit_entry(
            ctx,
            "dlq.redrive",
            &req.dlq,
            params,
            result,
            summary.clone(),
        );
    }
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
                audit_entry(
                    ctx,
                    "dlq.delete",
                    &q.name,
                    params,
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
        audit_entry(ctx, "dlq.delete", &q.name, params, "ok", summary.clone());
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
    let before = crate::dlq::peek::approximate_depth(&ctx.clients.sqs, &q.url)
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
        audit_entry(
            ctx,
            "dlq.purge",
            &q.name,
            params,
            result_of(&err),
            err.to_string(),
        );
        return Err(err);
    }
    let summary = format!("purged {} (~{before} message(s))", q.name);
    audit_entry(ctx, "dlq.purge", &q.name, params, "ok", summary.clone());
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
