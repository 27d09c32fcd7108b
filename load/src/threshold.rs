//! Thresholds: pass/fail rules written like k6's, e.g. `"p95 < 1s"`, `"errors < 1%"`,
//! `"upload.p99 <= 2s"`, `"rps > 30"`, and their evaluation against a report.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::scenario::Dur;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// A latency statistic (`p95`, `p99.9`, `median`, `mean`, `min`, `max`), optionally of
    /// one step (`upload.p95`); the limit is a duration.
    Latency {
        step: Option<String>,
        stat: LatencyStat,
    },
    /// Failed requests as a percentage of all requests.
    ErrorRate,
    /// Mean requests per second over the run.
    Rps,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyStat {
    Percentile(f64),
    Mean,
    Min,
    Max,
}

impl fmt::Display for LatencyStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyStat::Percentile(p) if *p == 50.0 => write!(f, "median"),
            LatencyStat::Percentile(p) => write!(f, "p{p}"),
            LatencyStat::Mean => write!(f, "mean"),
            LatencyStat::Min => write!(f, "min"),
            LatencyStat::Max => write!(f, "max"),
        }
    }
}

/// One rule; `limit` is in seconds for latency, percent for errors, req/s for rps.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub op: Op,
    pub limit: f64,
    text: String,
}

impl Threshold {
    /// The step a latency threshold is about, if it names one.
    pub fn step(&self) -> Option<&str> {
        match &self.metric {
            Metric::Latency { step, .. } => step.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const HELP: &str = "expected METRIC OP LIMIT, e.g. \"p95 < 1s\", \"errors < 1%\", \"upload.p99 <= 2s\", \"rps > 30\"; metrics: p50..p99.9, median, mean, min, max (durations), errors (percent), rps";

impl FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Threshold, String> {
        let bad = |why: &str| format!("{text:?}: {why}; {HELP}");
        let t = text.trim();
        let op_at = t.find(['<', '>']).ok_or_else(|| bad("no comparison"))?;
        let (lhs, rest) = t.split_at(op_at);
        let (op, rhs) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            return Err(bad("no comparison"));
        };
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        let (metric, limit) = match lhs {
            "errors" => {
                let pct = rhs
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| bad("errors takes a percentage like 1%"))?;
                (Metric::ErrorRate, pct)
            }
            "rps" => {
                let n = rhs
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| bad("rps takes a number of requests per second"))?;
                (Metric::Rps, n)
            }
            _ => {
                // `step.stat`, where the step may contain dots and `p99.9` has one too: the
                // first dot whose tail is a statistic splits.
                let split = lhs
                    .match_indices('.')
                    .map(|(i, _)| (&lhs[..i], &lhs[i + 1..]))
                    .find(|(head, tail)| !head.is_empty() && parse_stat(tail).is_some());
                let (step, stat) = match split {
                    Some((head, tail)) => (Some(head.to_string()), tail),
                    None => (None, lhs),
                };
                let stat = parse_stat(stat).ok_or_else(|| bad("unknown metric"))?;
                let limit = Dur::parse(rhs).map_err(|e| bad(&e))?;
                (Metric::Latency { step, stat }, limit.secs())
            }
        };
        Ok(Threshold {
            metric,
            op,
            limit,
            text: t.to_string(),
        })
    }
}

fn parse_stat(s: &str) -> Option<LatencyStat> {
    match s {
        "median" => Some(LatencyStat::Percentile(50.0)),
        "mean" | "avg" => Some(LatencyStat::Mean),
        "min" => Some(LatencyStat::Min),
        "max" => Some(LatencyStat::Max),
        _ => s
            .strip_prefix('p')
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|p| *p > 0.0 && *p < 100.0)
            .map(LatencyStat::Percentile),
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Threshold, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A threshold checked against a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub threshold: String,
    /// The measured value, in the threshold's unit (seconds, percent, req/s); `None` when
    /// there was nothing to measure (no successful request), which fails the threshold.
    pub actual: Option<f64>,
    pub passed: bool,
}

impl Verdict {
    pub fn actual_text(&self, t: &Threshold) -> String {
        match (self.actual, &t.metric) {
            (None, _) => "no data".into(),
            (Some(v), Metric::Latency { .. }) => crate::report::fmt_secs(v),
            (Some(v), Metric::ErrorRate) => format!("{v:.2}%"),
            (Some(v), Metric::Rps) => format!("{v:.1} req/s"),
        }
    }
}

pub fn evaluate(t: &Threshold, actual: Option<f64>) -> Verdict {
    Verdict {
        threshold: t.to_string(),
        actual,
        passed: actual.is_some_and(|a| t.op.holds(a, t.limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let t: Threshold = "p95 < 1s".parse().unwrap();
        assert_eq!(
            t.metric,
            Metric::Latency {
                step: None,
                stat: LatencyStat::Percentile(95.0)
            }
        );
        assert_eq!((t.op, t.limit), (Op::Lt, 1.0));
        let t: Threshold = "errors < 1%".parse().unwrap();
        assert_eq!((t.metric, t.limit), (Metric::ErrorRate, 1.0));
        let t: Threshold = "upload.p99.9 <= 250ms".parse().unwrap();
        assert_eq!(t.step(), Some("upload"));
        assert_eq!(t.limit, 0.25);
        let t: Threshold = "p99.9<2s".parse().unwrap();
        assert_eq!(t.step(), None);
        let t: Threshold = "get /api/health.median < 10ms".parse().unwrap();
        assert_eq!(t.step(), Some("get /api/health"));
        let t: Threshold = "rps >= 30".parse().unwrap();
        assert_eq!((t.metric, t.op), (Metric::Rps, Op::Ge));
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "p95 1s",
            "p95 < fast",
            "errors < 1",
            "errors < 200%",
            "p100 < 1s",
            "latency < 1s",
            "rps > lots",
        ] {
            let e = bad.parse::<Threshold>().unwrap_err();
            assert!(e.contains("expected METRIC OP LIMIT"), "{bad}: {e}");
        }
    }

    #[test]
    fn evaluation_compares_and_fails_without_data() {
        let t: Threshold = "p95 < 1s".parse().unwrap();
        assert!(evaluate(&t, Some(0.5)).passed);
        assert!(!evaluate(&t, Some(1.0)).passed);
        assert!(!evaluate(&t, None).passed);
        let t: Threshold = "rps > 10".parse().unwrap();
        assert!(evaluate(&t, Some(10.5)).passed);
        assert!(!evaluate(&t, Some(9.0)).passed);
    }
}
