//! The end of a run: a summary like the original load tools' (total, completed %, mean
//! req/s, min/max/median/p95/p99, errors by class), per-step latencies, end-to-end
//! processing, and the thresholds' verdicts; as JSON (serde) and Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::client::ApiTarget;
use crate::scenario::{Model, Scenario};
use crate::stats::{self, Bucket, Latency, Stats};
use crate::threshold::{self, LatencyStat, Metric, Verdict};

/// The scenario's step requests (sign-up and login are apart, under `steps`). They add up:
/// `sent = ok + failed + cancelled + in_flight`, and `in_flight` is 0 once the run has ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Handed to a connection.
    #[serde(alias = "total")]
    pub sent: u64,
    /// Got the expected answer.
    pub ok: u64,
    /// Got another answer, or an error (timeout, reset, refused, ...).
    pub failed: u64,
    /// Sent, then cut off by a cancel or the end of the graceful stop before it ended.
    #[serde(alias = "interrupted")]
    pub cancelled: u64,
    /// Still going when the report was made (0 after a run ends).
    #[serde(default)]
    pub in_flight: u64,
    /// Open model: arrivals that were due but never got a send slot (`max_in_flight`) before
    /// the run stopped. They were never sent, so they are not in `sent`.
    #[serde(default)]
    pub not_sent: u64,
    /// `ok` as a percentage of `sent`.
    pub completed_pct: f64,
    pub rps_mean: f64,
    pub bytes_sent: u64,
    pub iterations: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub label: String,
    pub ok: u64,
    pub failed: u64,
    /// Cut off by a cancel or the end of the graceful stop (`processed`: the wait for it).
    #[serde(default)]
    pub cancelled: u64,
    pub latency: Option<Latency>,
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Processed {
    pub videos: u64,
    pub failed: u64,
    /// Uploads whose wait for `processed` was cut off by a cancel or the graceful stop.
    #[serde(default)]
    pub cancelled: u64,
    pub megabytes: f64,
    /// Uploaded MB that reached `processed`, per minute from the start of the run to the
    /// last one seen processed.
    pub mb_per_min: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub description: String,
    pub model: String,
    pub targets: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub duration_s: f64,
    pub planned_s: f64,
    pub cancelled: bool,
    pub requests: Requests,
    /// Of every step request that got a response, from its intended start (open model:
    /// the scheduled arrival, so delays in sending are included).
    pub latency: Option<Latency>,
    /// From the actual send: equal to `latency` in the closed model.
    pub service_time: Option<Latency>,
    pub steps: Vec<StepReport>,
    pub statuses: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub histogram: Vec<Bucket>,
    pub processed: Option<Processed>,
    pub thresholds: Vec<Verdict>,
    pub passed: bool,
}

impl Report {
    pub fn build(
        scenario: &Scenario,
        s: &Stats,
        targets: &[ApiTarget],
        started_at: DateTime<Utc>,
        elapsed: Duration,
        cancelled: bool,
    ) -> Report {
        let duration_s = elapsed.as_secs_f64();
        let rps_mean = if duration_s > 0.0 {
            s.done as f64 / duration_s
        } else {
            0.0
        };
        let requests = Requests {
            sent: s.sent,
            ok: s.ok,
            failed: s.failed,
            cancelled: s.cancelled,
            in_flight: s.in_flight,
            not_sent: s.not_sent,
            completed_pct: if s.sent > 0 {
                s.ok as f64 * 100.0 / s.sent as f64
            } else {
                0.0
            },
            rps_mean,
            bytes_sent: s.bytes_sent,
            iterations: s.iterations,
        };
        let steps: Vec<StepReport> = s
            .steps
            .iter()
            .map(|(label, st)| StepReport {
                label: label.clone(),
                ok: st.ok,
                failed: st.failed,
                cancelled: st.cancelled,
                latency: Latency::of(&st.latency),
                errors: st.errors.clone(),
            })
            .collect();
        let processed = s.steps.get("processed").map(|p| Processed {
            videos: p.ok,
            failed: p.failed,
            cancelled: p.cancelled,
            megabytes: s.processed_bytes as f64 / 1e6,
            mb_per_min: stats::mb_per_min(s.processed_bytes, s.last_processed_s),
        });
        let thresholds: Vec<Verdict> = scenario
            .thresholds
            .iter()
            .map(|t| {
                let actual = match &t.metric {
                    Metric::ErrorRate => {
                        (s.done > 0).then(|| s.failed as f64 * 100.0 / s.done as f64)
                    }
                    Metric::Rps => Some(rps_mean),
                    Metric::Latency { step, stat } => {
                        let h = match step {
                            None => Some(&s.latency),
                            Some(label) => s.steps.get(label).map(|st| &st.latency),
                        };
                        h.and_then(|h| match stat {
                            LatencyStat::Percentile(p) => stats::quantile(h, p / 100.0),
                            LatencyStat::Mean => (!h.is_empty()).then(|| h.mean() / 1e6),
                            LatencyStat::Min => (!h.is_empty()).then(|| h.min() as f64 / 1e6),
                            LatencyStat::Max => (!h.is_empty()).then(|| h.max() as f64 / 1e6),
                        })
                    }
                };
                threshold::evaluate(t, actual)
            })
            .collect();
        let passed = thresholds.iter().all(|v| v.passed) && !cancelled;
        Report {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            model: match scenario.model() {
                Model::Closed => "closed".into(),
                Model::Open => "open".into(),
            },
            targets: targets.iter().map(|t| t.to_string()).collect(),
            started_at,
            duration_s,
            planned_s: scenario.planned_duration().as_secs_f64(),
            cancelled,
            requests,
            latency: Latency::of(&s.latency),
            service_time: Latency::of(&s.service),
            steps,
            statuses: s
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            errors: s.errors.clone(),
            histogram: stats::buckets(&s.latency),
            processed,
            thresholds,
            passed,
        }
    }

    /// Thresholds that failed.
    pub fn failed_thresholds(&self) -> Vec<&Verdict> {
        self.thresholds.iter().filter(|v| !v.passed).collect()
    }

    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# Load run: {}\n", self.scenario);
        if !self.description.is_empty() {
            let _ = writeln!(o, "{}\n", self.description);
        }
        let _ = writeln!(o, "- targets: {}", self.targets.join(", "));
        let _ = writeln!(
            o,
            "- model: {}; started {}; ran {:.1} s (planned {:.0} s){}",
            self.model,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.duration_s,
            self.planned_s,
            if self.cancelled { "; CANCELLED" } else { "" }
        );
        let _ = writeln!(
            o,
            "- iterations: {}; bytes sent: {:.1} MB\n",
            self.requests.iterations,
            self.requests.bytes_sent as f64 / 1e6
        );
        let _ = writeln!(o, "## Summary\n");
        let _ = writeln!(
            o,
            "| sent | completed | failed | cancelled | RPS mean | min | median | p95 | p99 | max |"
        );
        let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let l = self.latency;
        let cell =
            |f: fn(&Latency) -> f64| l.as_ref().map(|l| fmt_secs(f(l))).unwrap_or("–".into());
        let _ = writeln!(
            o,
            "| {} | {} ({:.1} %) | {} | {} | {:.1} | {} | {} | {} | {} | {} |\n",
            self.requests.sent,
            self.requests.ok,
            self.requests.completed_pct,
            self.requests.failed,
            self.requests.cancelled,
            self.requests.rps_mean,
            cell(|l| l.min),
            cell(|l| l.median),
            cell(|l| l.p95),
            cell(|l| l.p99),
            cell(|l| l.max),
        );
        let _ = writeln!(o, "{}\n", self.requests.accounting());
        if self.model == "open" {
            if let Some(st) = &self.service_time {
                let _ = writeln!(
                    o,
                    "Latency is measured from each arrival's scheduled time. From the actual send: median {}, p95 {}, p99 {}.\n",
                    fmt_secs(st.median),
                    fmt_secs(st.p95),
                    fmt_secs(st.p99)
                );
            }
        }
        if !self.steps.is_empty() {
            let _ = writeln!(o, "## Steps\n");
            let _ = writeln!(
                o,
                "| step | ok | failed | cancelled | median | p95 | p99 | max |"
            );
            let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|");
            for st in &self.steps {
                let c = |f: fn(&Latency) -> f64| {
                    st.latency
                        .as_ref()
                        .map(|l| fmt_secs(f(l)))
                        .unwrap_or("–".into())
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    st.label,
                    st.ok,
                    st.failed,
                    st.cancelled,
                    c(|l| l.median),
                    c(|l| l.p95),
                    c(|l| l.p99),
                    c(|l| l.max)
                );
            }
            o.push('\n');
        }
        if let Some(p) = &self.processed {
            let _ = writeln!(
                o,
                "End to end: {} videos processed ({:.1} MB), {} failed or not processed in time, {} not waited for (cut off); {}.\n",
                p.videos,
                p.megabytes,
                p.failed,
                p.cancelled,
                p.mb_per_min
                    .map(|m| format!("{m:.1} MB/min"))
                    .unwrap_or_else(|| "no MB/min (nothing processed)".into())
            );
        }
        let _ = writeln!(o, "## Errors by class\n");
        if self.errors.is_empty() {
            let _ = writeln!(o, "None.\n");
        } else {
            let _ = writeln!(o, "| class | count |");
            let _ = writeln!(o, "|---|---:|");
            for (k, v) in &self.errors {
                let _ = writeln!(o, "| {k} | {v} |");
            }
            o.push('\n');
        }
        let _ = writeln!(o, "## Status codes\n");
        let _ = writeln!(o, "| status | count |");
        let _ = writeln!(o, "|---|---:|");
        for (k, v) in &self.statuses {
            let _ = writeln!(o, "| {k} | {v} |");
        }
        o.push('\n');
        let _ = writeln!(o, "## Latency histogram\n");
        let _ = writeln!(o, "| up to | count |");
        let _ = writeln!(o, "|---:|---:|");
        for b in &self.histogram {
            let bound = b
                .le_ms
                .map(|ms| fmt_secs(ms / 1000.0))
                .unwrap_or_else(|| "more".into());
            let _ = writeln!(o, "| {bound} | {} |", b.count);
        }
        o.push('\n');
        let _ = writeln!(o, "## Thresholds\n");
        if self.thresholds.is_empty() {
            let _ = writeln!(o, "None set.\n");
        } else {
            let _ = writeln!(o, "| threshold | actual | result |");
            let _ = writeln!(o, "|---|---:|---|");
            for v in &self.thresholds {
                let actual = match (v.actual, v.threshold.parse::<threshold::Threshold>()) {
                    (_, Ok(t)) => v.actual_text(&t),
                    (Some(a), Err(_)) => format!("{a}"),
                    (None, Err(_)) => "no data".into(),
                };
                let _ = writeln!(
                    o,
                    "| `{}` | {} | {} |",
                    v.threshold,
                    actual,
                    if v.passed { "pass" } else { "FAIL" }
                );
            }
            o.push('\n');
        }
        let _ = writeln!(
            o,
            "**Result: {}**",
            if self.passed {
                "PASS"
            } else if self.cancelled {
                "CANCELLED"
            } else {
                "FAIL"
            }
        );
        o
    }
}

impl Requests {
    /// Where every request went, in words, e.g. `Every request is accounted for: 120 sent =
    /// 100 ok + 5 failed + 15 cancelled + 0 in flight.` and what "cancelled" and "not sent"
    /// mean when there are any.
    pub fn accounting(&self) -> String {
        let r = self;
        let adds_up = r.sent == r.ok + r.failed + r.cancelled + r.in_flight;
        let mut o = format!(
            "{}: {} sent {} {} ok + {} failed + {} cancelled + {} in flight.",
            if adds_up {
                "Every request is accounted for"
            } else {
                "The counts do not add up (a bug in the load runner)"
            },
            r.sent,
            if adds_up { "=" } else { "≠" },
            r.ok,
            r.failed,
            r.cancelled,
            r.in_flight
        );
        if r.cancelled > 0 {
            o.push_str(
                " Cancelled: sent, then cut off by the cancel or the end of the graceful stop before an answer.",
            );
        }
        if r.not_sent > 0 {
            let _ = write!(
                o,
                " {} more arrival{} never got a send slot (max_in_flight) before the run stopped: not sent, so not counted as sent.",
                r.not_sent,
                if r.not_sent == 1 { "" } else { "s" }
            );
        }
        o
    }
}

/// Seconds as `850 µs`, `12.3 ms`, `1.25 s`.
pub fn fmt_secs(s: f64) -> String {
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::FailureKind;
    use crate::stats::{Outcome, Recorder};

    fn scenario(thresholds: &str) -> Scenario {
        Scenario::parse(
            &format!(
                "thresholds = {thresholds}\n[closed]\nvus = 1\nduration = \"1s\"\n[[steps]]\nget = \"/x\""
            ),
            "t.toml",
            "t",
        )
        .unwrap()
    }

    fn record(r: &Recorder, ms: u64, error: Option<FailureKind>) {
        r.start();
        r.finish(
            "get /x",
            true,
            Outcome {
                latency: Duration::from_millis(ms),
                service: Duration::from_millis(ms),
                status: Some(if error.is_some() { 500 } else { 200 }),
                error,
                error_code: None,
                bytes_sent: 0,
                at_s: 0.5,
            },
        );
    }

    #[test]
    fn thresholds_pass_and_fail_on_the_numbers() {
        let r = Recorder::default();
        for ms in 1..=99 {
            record(&r, ms, None);
        }
        record(&r, 2000, Some(FailureKind::Http(500)));
        let s = scenario(
            r#"["p95 < 100ms", "p99 < 50ms", "errors < 2%", "errors < 0.5%", "get /x.max < 2.1s", "rps > 1000"]"#,
        );
        let rep = Report::build(
            &s,
            &r.lock(),
            &[],
            Utc::now(),
            Duration::from_secs(1),
            false,
        );
        let passed: Vec<bool> = rep.thresholds.iter().map(|v| v.passed).collect();
        assert_eq!(passed, vec![true, false, true, false, true, false]);
        assert!(!rep.passed);
        assert_eq!(rep.requests.sent, 100);
        assert!((rep.requests.completed_pct - 99.0).abs() < 1e-9);
        assert_eq!(rep.errors.get("http_500"), Some(&1));
        let md = rep.to_markdown();
        assert!(md.contains("| `p99 < 50ms` |"), "{md}");
        assert!(md.contains("**Result: FAIL**"), "{md}");
        let json = serde_json::to_string(&rep).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rep);
    }

    #[test]
    fn a_cancelled_run_accounts_for_every_request() {
        let r = Recorder::default();
        for ms in [10, 20, 30] {
            record(&r, ms, None);
        }
        record(&r, 40, Some(FailureKind::Http(500)));
        // Two sent and cut off by the cancel; one arrival never got a send slot.
        for _ in 0..2 {
            r.start();
            r.cancelled("get /x", true);
        }
        r.waiting();
        r.never_sent();
        let rep = Report::build(
            &scenario("[]"),
            &r.lock(),
            &[],
            Utc::now(),
            Duration::from_secs(1),
            true,
        );
        let q = &rep.requests;
        assert_eq!(
            (q.sent, q.ok, q.failed, q.cancelled, q.in_flight, q.not_sent),
            (6, 3, 1, 2, 0, 1)
        );
        assert!((q.completed_pct - 50.0).abs() < 1e-9);
        let md = rep.to_markdown();
        assert!(
            md.contains(
                "Every request is accounted for: 6 sent = 3 ok + 1 failed + 2 cancelled + 0 in flight."
            ),
            "{md}"
        );
        assert!(md.contains("1 more arrival never got a send slot"), "{md}");
        assert!(md.contains("**Result: CANCELLED**"), "{md}");
        assert!(md.contains("| get /x | 3 | 1 | 2 |"), "{md}");
        let json = serde_json::to_value(&rep).unwrap();
        assert_eq!(json["requests"]["cancelled"], 2);
        assert_eq!(json["requests"]["not_sent"], 1);
    }

    #[test]
    fn counts_that_do_not_add_up_are_called_a_bug() {
        let q = Requests {
            sent: 5,
            ok: 3,
            failed: 0,
            cancelled: 0,
            in_flight: 0,
            not_sent: 0,
            completed_pct: 60.0,
            rps_mean: 0.0,
            bytes_sent: 0,
            iterations: 0,
        };
        assert!(
            q.accounting().contains("do not add up"),
            "{}",
            q.accounting()
        );
        assert!(
            q.accounting().contains("5 sent ≠ 3 ok"),
            "{}",
            q.accounting()
        );
    }

    #[test]
    fn reports_with_the_old_field_names_still_read() {
        let old = r#"{"total": 7, "ok": 5, "failed": 1, "interrupted": 1, "completed_pct": 71.4,
            "rps_mean": 1.0, "bytes_sent": 0, "iterations": 5}"#;
        let q: Requests = serde_json::from_str(old).unwrap();
        assert_eq!((q.sent, q.cancelled, q.in_flight, q.not_sent), (7, 1, 0, 0));
    }

    #[test]
    fn no_data_fails_latency_thresholds() {
        let r = Recorder::default();
        let s = scenario(r#"["p95 < 1s"]"#);
        let rep = Report::build(
            &s,
            &r.lock(),
            &[],
            Utc::now(),
            Duration::from_secs(1),
            false,
        );
        assert!(!rep.passed);
        assert_eq!(rep.thresholds[0].actual, None);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_secs(0.000_85), "850 µs");
        assert_eq!(fmt_secs(0.0123), "12.3 ms");
        assert_eq!(fmt_secs(1.25), "1.25 s");
    }
}
