//! `flightdeck load list` and `flightdeck load run SCENARIO`: the headless load runner. It
//! resolves the API targets (flag, environment, the local fleet, or 127.0.0.1:8000), asks for
//! a typed confirm before loading a machine other than this one, runs the `load` engine with
//! an oha-style progress bar on stderr, prints the report and sets the exit code from the
//! thresholds.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use load::{ApiTarget, Progress, Report, RunOptions, RunState, Scenario, VideoPreset};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::headless::Exit;
use ops::confirm::{self, Confirm};
use ops::jobs::StartedBy;

/// Exit codes of `flightdeck load run` (also in `--help`).
pub const EXIT_CODES: &str = "Exit codes:\n  \
    0   the run finished and every threshold passed\n  \
    1   the run could not start (bad scenario or target, accounts could not be signed up)\n  \
    2   bad command line\n  \
    3   refused: a remote target not confirmed (pass --yes in scripts), or --read-only\n  \
    4   cancelled part way (Ctrl-C); the report covers what ran\n  \
    99  the run finished but a threshold failed (as k6)";

pub const REFUSED: u8 = 3;
pub const CANCELLED: u8 = 4;
pub const THRESHOLD_FAILED: u8 = 99;

/// The default API address: `flightdeck-api`'s default listen address.
pub const DEFAULT_TARGET: &str = "http://127.0.0.1:8000";

#[derive(Debug, Subcommand)]
pub enum LoadCommand {
    /// List the built-in scenarios (WORKLOAD.md's k6 and Artillery runs)
    List,
    /// Run a scenario (a built-in name or a TOML file) against the API and report
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A built-in scenario (`flightdeck load list`) or a scenario TOML file
    pub scenario: String,

    /// API base URL; repeat it (or separate with commas) to spread requests round-robin over
    /// several API instances [default: FLIGHTDECK_API_URL, else the local fleet's API
    /// instances with --local, else http://127.0.0.1:8000]
    #[arg(
        long,
        value_name = "URL",
        env = "FLIGHTDECK_API_URL",
        value_delimiter = ','
    )]
    pub target: Vec<String>,

    /// Print the report as JSON on stdout instead of Markdown
    #[arg(long)]
    pub json: bool,

    /// Also write the report to DIR as <scenario>-<time>.json and .md
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Upload this video instead of the scenario's: tiny, 4mb, 50mb or 100mb
    #[arg(long, value_name = "PRESET")]
    pub video_size: Option<VideoPreset>,

    /// Wait for every upload to be processed (end-to-end latency and MB/min)
    #[arg(long)]
    pub until_processed: bool,

    /// Do not ask before loading a target that is not this machine
    #[arg(long)]
    pub yes: bool,
}

pub async fn run(cmd: LoadCommand, local: bool, read_only: bool) -> anyhow::Result<()> {
    match cmd {
        LoadCommand::List => {
            print!("{}", list()?);
            Ok(())
        }
        LoadCommand::Run(args) => {
            if read_only {
                return Err(Exit {
                    code: REFUSED,
                    message: "--read-only refuses load runs: a run signs up users and uploads videos at the target. Run it without --read-only".into(),
                }
                .into());
            }
            run_scenario(args, local).await
        }
    }
}

fn list() -> anyhow::Result<String> {
    let mut out = String::new();
    let all = Scenario::builtins()?;
    // What each sends, as the console's load view says it: `9000 arrivals over 4m`.
    let sizes: Vec<String> = all.iter().map(Scenario::size).collect();
    let size_w = sizes.iter().map(String::len).max().unwrap_or(0).max(4);
    out.push_str(&format!(
        "{:<10} {:<7} {:<size_w$}  {}\n",
        "SCENARIO", "MODEL", "LOAD", "DESCRIPTION"
    ));
    for (s, size) in all.iter().zip(&sizes) {
        let model = match s.model() {
            load::scenario::Model::Closed => "closed",
            load::scenario::Model::Open => "open",
        };
        out.push_str(&format!(
            "{:<10} {:<7} {size:<size_w$}  {}\n",
            s.name, model, s.description
        ));
    }
    out.push_str("\nRun one with `flightdeck load run NAME`; a TOML file path works too (format: load/README.md).\n");
    Ok(out)
}

/// The targets ([`ops::jobs::load_targets`]): the flag or FLIGHTDECK_API_URL, else the local
/// fleet's API instances (`--local`), else the API's default address.
fn resolve_targets(flag: &[String], local: bool) -> anyhow::Result<Vec<ApiTarget>> {
    let fleet = local.then(|| {
        local_cloud::fleet::read_api_endpoints(&local_cloud::paths::runtime_dir())
            .map(|e| e.endpoints)
            .unwrap_or_default()
    });
    ops::jobs::load_targets(flag, fleet, Some(DEFAULT_TARGET))
        .map(|t| t.targets)
        .map_err(|e| {
            if flag.is_empty() {
                anyhow::anyhow!(e)
            } else {
                anyhow::anyhow!("--target {e}")
            }
        })
}

/// Loading another machine needs its host typed (or `--yes`).
fn confirm_remote(targets: &[ApiTarget], yes: bool) -> anyhow::Result<()> {
    let mut hosts: Vec<&str> = targets
        .iter()
        .filter(|t| !t.is_loopback())
        .map(|t| t.host())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    for host in hosts {
        let what = format!(
            "This load run sends real traffic to {host}, which is not this machine: it signs up users and uploads videos there."
        );
        confirm::headless(&Confirm::Typed(host.to_string()), &what, yes).map_err(|e| Exit {
            code: REFUSED,
            message: format!("load run against {host} not started: {e}"),
        })?;
    }
    Ok(())
}

async fn run_scenario(args: RunArgs, local: bool) -> anyhow::Result<()> {
    let mut scenario = Scenario::find(&args.scenario)?;
    if let Some(preset) = args.video_size {
        scenario.set_video(preset);
    }
    if args.until_processed {
        scenario.set_until_processed();
    }
    let targets = resolve_targets(&args.target, local)?;
    confirm_remote(&targets, args.yes)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    }
    eprintln!(
        "flightdeck: load run `{}` ({}) against {}",
        scenario.name,
        load::scenario::Dur(scenario.planned_duration()),
        targets
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let (tx, rx) = watch::channel(Progress::preparing(&scenario.name, "starting", 0.0));
    let cancel = CancellationToken::new();
    let on_signal = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let show = std::io::stderr().is_terminal();
    let display = tokio::spawn(show_progress(rx, show));
    // The job runner records the run in the audit log, as for the console's; this command
    // connects to no AWS, so the entry names the local user and the API's addresses.
    let result = ops::jobs::load_run(
        None,
        scenario,
        RunOptions::new(targets, crate::synth::maker()),
        StartedBy::Command,
        tx,
        cancel.clone(),
    )
    .await;
    on_signal.abort();
    let _ = display.await;
    let report = result?;

    if let Some(dir) = &args.out {
        let (json, md) = write_report(&report, dir)?;
        eprintln!(
            "flightdeck: report written to {} and {}",
            json.display(),
            md.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    if report.cancelled {
        return Err(Exit {
            code: CANCELLED,
            message: "the load run was cancelled; the report covers what ran".into(),
        }
        .into());
    }
    let failed = report.failed_thresholds();
    if !failed.is_empty() {
        let names = failed
            .iter()
            .map(|v| format!("`{}`", v.threshold))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Exit {
            code: THRESHOLD_FAILED,
            message: format!("threshold failed: {names}"),
        }
        .into());
    }
    Ok(())
}

fn write_report(report: &Report, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let stem = format!(
        "{}-{}",
        report
            .scenario
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            })
            .collect::<String>(),
        report.started_at.format("%Y%m%dT%H%M%SZ")
    );
    let json = dir.join(format!("{stem}.json"));
    let md = dir.join(format!("{stem}.md"));
    std::fs::write(&json, serde_json::to_string_pretty(report)?)
        .with_context(|| format!("cannot write {}", json.display()))?;
    std::fs::write(&md, report.to_markdown())
        .with_context(|| format!("cannot write {}", md.display()))?;
    Ok((json, md))
}

/// An oha-like bar on stderr while the run goes (only on a terminal).
async fn show_progress(mut rx: watch::Receiver<Progress>, show: bool) {
    if !show {
        while rx.changed().await.is_ok() {}
        return;
    }
    let bar = indicatif::ProgressBar::new(1000);
    let style = indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    while rx.changed().await.is_ok() {
        let p = rx.borrow_and_update().clone();
        if p.planned_s > 0.0 {
            bar.set_position(((p.elapsed_s / p.planned_s).min(1.0) * 1000.0) as u64);
        }
        bar.set_message(progress_line(&p));
        if matches!(p.state, RunState::Finished | RunState::Cancelled) {
            break;
        }
    }
    bar.finish_and_clear();
}

/// One status line: time, where every request went (`sent = ok + failed + cancelled + in
/// flight`), then req/s, error rate and percentiles over the recent window, and the detail.
pub fn progress_line(p: &Progress) -> String {
    if p.state == RunState::Preparing {
        return p.detail.clone();
    }
    let ms = |s: Option<f64>| s.map(load::report::fmt_secs).unwrap_or_else(|| "–".into());
    let r = &p.recent;
    let window = if r.covered_s + 1.0 >= r.window_s {
        format!("last {:.0} s", r.window_s)
    } else {
        format!("first {:.0} s", r.covered_s.ceil())
    };
    let unsent = if p.waiting > 0 || p.not_sent > 0 {
        format!(
            " ({} waiting for a slot, {} not sent)",
            p.waiting, p.not_sent
        )
    } else {
        String::new()
    };
    let top_error = p
        .errors
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(k, _)| format!(" ({k})"))
        .unwrap_or_default();
    format!(
        "{:.0}/{:.0} s  {} sent = {} ok + {} failed + {} cancelled + {} in flight{}  {} VUs  {window}: {} req/s, errors {}{}, p50 {}, p95 {}, p99 {}  {}",
        p.elapsed_s,
        p.planned_s,
        p.sent,
        p.ok,
        p.failed,
        p.cancelled,
        p.in_flight,
        unsent,
        p.active_vus,
        r.rps.map_or_else(|| "–".into(), |v| format!("{v:.1}")),
        r.error_pct.map_or_else(|| "–".into(), |v| format!("{v:.1} %")),
        top_error,
        ms(r.p50),
        ms(r.p95),
        ms(r.p99),
        p.detail
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_default_and_split() {
        let t = resolve_targets(&[], false).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].base(), DEFAULT_TARGET);
        let t = resolve_targets(
            &["http://127.0.0.1:1".into(), "http://127.0.0.1:2/".into()],
            false,
        )
        .unwrap();
        assert_eq!(t[1].base(), "http://127.0.0.1:2");
        let e = resolve_targets(&["ftp://x".into()], false).unwrap_err();
        assert!(e.to_string().contains("--target"), "{e}");
    }

    #[test]
    fn loopback_targets_need_no_confirm() {
        let t = resolve_targets(&["http://localhost:8000".into()], false).unwrap();
        assert!(confirm_remote(&t, false).is_ok());
        let remote = resolve_targets(&["http://api.example.com".into()], false).unwrap();
        assert!(confirm_remote(&remote, true).is_ok());
    }

    #[test]
    fn the_progress_line_accounts_for_every_request_and_states_the_window() {
        let mut p = Progress::preparing("stress", "arrival 70 of 3000", 240.0);
        p.state = RunState::Running;
        p.elapsed_s = 12.2;
        (p.sent, p.ok, p.failed, p.cancelled, p.in_flight) = (61, 38, 3, 0, 20);
        (p.waiting, p.not_sent) = (9, 0);
        p.errors.insert("http_503".into(), 3);
        p.recent = load::stats::Recent {
            window_s: 10.0,
            covered_s: 9.2,
            ok: 38,
            failed: 3,
            rps: Some(4.456),
            error_pct: Some(7.32),
            p50: Some(0.41),
            p95: Some(1.9),
            p99: Some(2.3),
        };
        let line = progress_line(&p);
        assert!(
            line.contains("61 sent = 38 ok + 3 failed + 0 cancelled + 20 in flight (9 waiting for a slot, 0 not sent)"),
            "{line}"
        );
        assert!(
            line.contains(
                "last 10 s: 4.5 req/s, errors 7.3 % (http_503), p50 410.0 ms, p95 1.90 s"
            ),
            "{line}"
        );
        p.recent.covered_s = 2.5;
        assert!(
            progress_line(&p).contains("first 3 s: "),
            "{}",
            progress_line(&p)
        );
    }

    #[test]
    fn list_names_every_builtin() {
        let l = list().unwrap();
        for (name, _) in load::BUILTIN {
            assert!(l.contains(name), "{l}");
        }
    }
}
