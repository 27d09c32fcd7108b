//! The `dlq` commands that read: list, groups, export, show and the duplicates on record.

use super::*;

pub(super) async fn list(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    // Read before the peek, which puts what it reads in flight for a few seconds.
    let (depth, in_flight) = ops::dlq::peek::depth_parts(&ctx.clients.sqs, &q.url)
        .await
        .map_err(|e| fail(ctx, e))?;
    let opts = PeekOptions {
        filter,
        max: limit,
        state_dir: Some(audit::state_dir()),
        ..PeekOptions::default()
    };
    let msgs = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| fail(ctx, e))?;
    if json {
        let listing = serde_json::json!({
            "queue": q.name,
            "depth": depth,
            "in_flight": in_flight,
            "messages": msgs,
        });
        println!("{}", serde_json::to_string_pretty(&listing)?);
    } else {
        print!("{}", table(&msgs, chrono::Utc::now()));
        eprintln!(
            "{} message(s) in {} (receive counts leave out flightdeck's own receives, this listing's too)",
            msgs.len(),
            q.name
        );
    }
    Ok(())
}

/// One peek pass of `queue` for `groups` and `export`: the queue and the matching messages.
pub(super) async fn peek_matching(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    max: usize,
) -> anyhow::Result<(ops::dlq::peek::QueueRef, Vec<DlqMessage>)> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let opts = PeekOptions {
        filter,
        max,
        state_dir: Some(audit::state_dir()),
        ..PeekOptions::default()
    };
    let msgs = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| fail(ctx, e))?;
    Ok((q, msgs))
}

pub(super) async fn groups_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let (q, msgs) = peek_matching(ctx, queue, filter, limit).await?;
    let groups = ui::dlqsig::group(msgs.iter().map(DlqMessage::fields));
    let capped = msgs.len() >= limit;
    if json {
        let listing = serde_json::json!({
            "queue": q.name,
            "messages": msgs.len(),
            "limit_reached": capped,
            "groups": groups,
        });
        println!("{}", serde_json::to_string_pretty(&listing)?);
    } else {
        print!("{}", groups_table(&groups, chrono::Utc::now()));
        eprintln!(
            "{} group(s) of {} message(s) in {}{}; act on one with --filter signature=ID",
            groups.len(),
            msgs.len(),
            q.name,
            if capped {
                format!(" (the first {limit}: raise --limit for more)")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The groups as a table: signature id, count, oldest, newest, receives, example, signature.
pub fn groups_table(groups: &[ui::dlqsig::Group], now: chrono::DateTime<chrono::Utc>) -> String {
    let age = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".into(), |t| {
            human_age((now - t).to_std().unwrap_or_default())
        })
    };
    let mut out = format!(
        "{:<8}  {:>5}  {:>6}  {:>6}  {:>7}  {:<36}  {}\n",
        "ID", "COUNT", "OLDEST", "NEWEST", "RCV", "EXAMPLE", "SIGNATURE"
    );
    for g in groups {
        let receives = if g.min_receives == g.max_receives {
            g.min_receives.to_string()
        } else {
            format!("{}-{}", g.min_receives, g.max_receives)
        };
        out += &format!(
            "{:<8}  {:>5}  {:>6}  {:>6}  {:>7}  {:<36}  {}\n",
            g.signature.id,
            g.count,
            age(g.oldest),
            age(g.newest),
            receives,
            g.example_id,
            g.signature.text
        );
    }
    out
}

pub(super) async fn export_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    filter: Filter,
    limit: usize,
) -> anyhow::Result<()> {
    use std::io::Write;
    let (q, msgs) = peek_matching(ctx, queue, filter, limit).await?;
    if msgs.is_empty() {
        return Err(exit(NOTHING, format!("no message to export in {}", q.name)));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for m in &msgs {
        let mut line = serde_json::to_value(m)?;
        if let Some(o) = line.as_object_mut() {
            o.insert("queue".into(), q.name.clone().into());
            o.insert(
                "signature".into(),
                serde_json::to_value(ui::dlqsig::signature(&m.fields()))?,
            );
        }
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    }
    out.flush()?;
    eprintln!(
        "exported {} message(s) from {}{}",
        msgs.len(),
        q.name,
        if msgs.len() >= limit {
            format!(" (the first {limit}: raise --limit for more)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The list as a table: id, age, receives, size, failure reason, preview.
pub fn table(msgs: &[DlqMessage], now: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = format!(
        "{:<36}  {:>8}  {:>4}  {:>7}  {:<24}  {}\n",
        "ID", "AGE", "RCV", "SIZE", "REASON", "BODY"
    );
    for m in msgs {
        let age = m.age(now).map_or("-".into(), human_age);
        let reason: String = m.failure_reason().unwrap_or("-").chars().take(24).collect();
        out += &format!(
            "{:<36}  {:>8}  {:>4}  {:>7}  {:<24}  {}\n",
            m.id,
            age,
            m.receive_count,
            m.size,
            reason,
            m.preview(60)
        );
    }
    out
}

pub(super) fn human_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7_199 => format!("{}m", s / 60),
        7_200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub(super) async fn show(ctx: &Ctx<'_>, queue: &str, id: &str, json: bool) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let opts = PeekOptions {
        filter: Filter::parse(&format!("id={id}"))?,
        max: 1,
        state_dir: Some(audit::state_dir()),
        ..PeekOptions::default()
    };
    let found = peek(&ctx.clients.sqs, &q.url, &opts, &CancellationToken::new())
        .await
        .map_err(|e| fail(ctx, e))?;
    let Some(m) = found.into_iter().next() else {
        return Err(exit(
            NOTHING,
            format!(
                "no message {id} in {} (list them with `flightdeck dlq list`)",
                q.name
            ),
        ));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    println!("id:             {}", m.id);
    println!("queue:          {}", q.name);
    println!(
        "source queue:   {}",
        m.source_arn.as_deref().map_or("-", ui::name_from_arn)
    );
    println!(
        "sent:           {}",
        m.sent_at.map_or("-".into(), |t| t.to_rfc3339())
    );
    if m.receive_count == m.approximate_receive_count {
        println!("receive count:  {}", m.receive_count);
    } else {
        println!(
            "receive count:  {} ({} as SQS counts, flightdeck's own receives included)",
            m.receive_count, m.approximate_receive_count
        );
    }
    println!("size:           {} bytes", m.size);
    println!("attributes:");
    for (k, v) in &m.attributes {
        println!("  {k} = {v}");
    }
    println!("body:");
    match serde_json::from_str::<serde_json::Value>(&m.body) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) => println!("{}", m.body),
    }
    Ok(())
}

/// `dlq duplicates`: the DLQ's record of possible duplicates, and clearing it.
pub(super) async fn duplicates_cmd(
    ctx: &Ctx<'_>,
    queue: &str,
    clear: bool,
    json: bool,
) -> anyhow::Result<()> {
    let q = resolve_queue(&ctx.clients.sqs, queue)
        .await
        .map_err(|e| fail(ctx, e))?;
    let journal =
        ops::dlq::journal::Journal::open(&audit::state_dir(), &q.url).map_err(|e| fail(ctx, e))?;
    let ids: Vec<String> = journal.duplicates().iter().cloned().collect();
    if clear {
        if ctx.clients.is_read_only() {
            let why =
                "refused by --read-only: clearing the record changes what later redrives report";
            ctx.record(
                "dlq.duplicates.clear",
                &q.name,
                &serde_json::json!({}),
                "refused",
                why,
            );
            return Err(exit(REFUSED, why));
        }
        let n = journal.clear_duplicates().map_err(|e| fail(ctx, e))?;
        ctx.record(
            "dlq.duplicates.clear",
            &q.name,
            &serde_json::json!({ "ids": ids }),
            "ok",
            format!("cleared {n} possible duplicate(s) on record"),
        );
    } else {
        // Looking leaves no empty journal behind (and compacts one that has content).
        journal
            .finish(false, &std::collections::HashSet::new())
            .map_err(|e| fail(ctx, e))?;
    }
    if json {
        let out =
            serde_json::json!({ "queue": q.name, "possible_duplicate_ids": ids, "cleared": clear });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for id in &ids {
            println!("{id}");
        }
        eprintln!(
            "{} possible duplicate(s) on record for {}{}",
            ids.len(),
            q.name,
            if clear { ": cleared" } else { "" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use std::collections::BTreeMap;

    #[test]
    fn the_groups_table_has_one_row_per_signature_with_ages_and_a_receive_range() {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let attrs = |reason: &str| -> BTreeMap<String, String> {
            [("failure_reason", reason), ("failure_class", "permanent")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let (a, b, c) = (attrs("size 10"), attrs("size 20"), attrs("no_video"));
        let f = |id, min: i64, receive_count, attributes| ui::dlqfilter::Fields {
            id,
            body: "{}",
            sent_at: Some(now - Duration::minutes(min)),
            receive_count,
            attributes,
        };
        let groups = ui::dlqsig::group([f("m1", 90, 2, &a), f("m2", 5, 7, &b), f("m3", 1, 1, &c)]);
        let table = groups_table(&groups, now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[0].starts_with("ID        COUNT  OLDEST  NEWEST"),
            "{table}"
        );
        let first = format!(
            "{}      2     90m      5m      2-7  m1",
            groups[0].signature.id
        );
        assert!(lines[1].starts_with(&first), "{table}");
        assert!(lines[1].ends_with("  size <n> (permanent)"), "{table}");
        assert!(lines[2].contains("      1  m3 "), "{table}");
        assert!(lines[2].ends_with("no_video (permanent)"), "{table}");
    }
}
