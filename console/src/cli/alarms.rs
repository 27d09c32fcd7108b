//! `flightdeck alarms`: the stack's alarms as a table or JSON ([`ops::alarms::read`]), with an
//! exit status that says whether one is in ALARM.

use chrono::Utc;
use clap::Args;
use ops::alarms::read;
use stack::{Clients, Stack};
use ui::alarms::AlarmRow;

/// `flightdeck alarms`.
#[derive(Debug, Args)]
pub struct AlarmsArgs {
    /// Print JSON (an array of alarms) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Exit status when at least one alarm is in ALARM (the listing itself succeeded).
pub const EXIT_IN_ALARM: u8 = 7;

/// What `flightdeck alarms` prints after the table, and its exit code rule, for `--help`.
pub const AFTER_HELP: &str = "Exit status: 0 when no alarm is in ALARM, 7 when at least one is, \
1 when the alarms cannot be read, 2 for a bad command line.\n\nThe alarms are the ones infra/stack.json defines; one the \
target does not have is listed as MISSING.";

pub async fn run(args: AlarmsArgs, clients: &Clients, stack: &Stack) -> anyhow::Result<()> {
    let rows = read(clients, stack, &|_, _| {})
        .await
        .map_err(|e| ops::explain(&e.failure, e.api, clients))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows, Utc::now()));
    }
    let firing = ui::alarms::in_alarm(&rows);
    if firing > 0 {
        return Err(super::headless::Exit {
            code: EXIT_IN_ALARM,
            message: format!(
                "{firing} alarm{} in ALARM",
                if firing == 1 { " is" } else { "s are" }
            ),
        }
        .into());
    }
    Ok(())
}

/// The alarms as a plain-text table: state, name, watches, threshold, current, since, reason.
pub fn table(rows: &[AlarmRow], now: ui::Timestamp) -> String {
    let head = [
        "STATE",
        "NAME",
        "WATCHES",
        "THRESHOLD",
        "CURRENT",
        "SINCE",
        "REASON",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.state.as_str().to_owned(),
                r.name.clone(),
                r.watches(),
                r.threshold_text(),
                r.current_text(),
                r.since.map_or_else(
                    || "-".to_owned(),
                    |t| format!("{} ago", ui::fmt::age(now, t)),
                ),
                r.reason.clone(),
            ]
        })
        .collect();
    let mut widths = head.map(str::len);
    for c in &cells {
        for (w, cell) in widths.iter_mut().zip(c.iter()).take(6) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: [&str; 7]| {
        let mut l = String::new();
        for (i, c) in cols.iter().enumerate() {
            if i < 6 {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            } else {
                l.push_str(c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head);
    for c in &cells {
        line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]]);
    }
    out
}
