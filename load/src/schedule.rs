//! The load shape as pure functions of time: when each open-model arrival is due, and how
//! many virtual users a closed model wants at a moment. The engine only follows these.

use std::time::Duration;

use crate::scenario::{Phase, Stage};

/// Intended start offsets of every arrival of `phases`, in order.
///
/// Arrivals follow the cumulative count `N(t)`: within a phase from rate `r0` to `r1` over
/// `D`, `N(t) = r0·t + (r1 − r0)·t² / 2D`; arrival `k` is due when `N` reaches `k`. So a
/// constant phase of `r`/s spaces arrivals exactly `1/r` apart, and a ramp accelerates
/// smoothly, carrying fractions across phase boundaries.
#[derive(Debug, Clone)]
pub struct Arrivals {
    phases: Vec<(f64, f64, f64)>,
    phase: usize,
    /// Arrivals due before the current phase began (fractional).
    base: f64,
    /// Start of the current phase, seconds.
    offset: f64,
    next: u64,
}

impl Arrivals {
    pub fn new(phases: &[Phase]) -> Arrivals {
        Arrivals {
            phases: phases
                .iter()
                .map(|p| (p.rate, p.end_rate(), p.duration.secs()))
                .collect(),
            phase: 0,
            base: 0.0,
            offset: 0.0,
            next: 0,
        }
    }

    /// Every arrival of the phases (rounded down to whole arrivals).
    pub fn total(phases: &[Phase]) -> u64 {
        let n: f64 = phases
            .iter()
            .map(|p| (p.rate + p.end_rate()) / 2.0 * p.duration.secs())
            .sum();
        // k = 0, 1, ... while k < N(end): ceil, guarding float noise at exact integers.
        (n - 1e-9).ceil().max(0.0) as u64
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let k = self.next as f64;
        while let Some(&(r0, r1, d)) = self.phases.get(self.phase) {
            let in_phase = (r0 + r1) / 2.0 * d;
            let n = k - self.base;
            if n < in_phase - 1e-9 {
                let a = (r1 - r0) / (2.0 * d);
                // Root of a·t² + r0·t − n = 0 in a form that is stable when a → 0.
                let disc = (r0 * r0 + 4.0 * a * n).max(0.0);
                let denom = r0 + disc.sqrt();
                let t = if denom > 0.0 { 2.0 * n / denom } else { 0.0 };
                self.next += 1;
                return Some(Duration::from_secs_f64(self.offset + t.clamp(0.0, d)));
            }
            self.base += in_phase;
            self.offset += d;
            self.phase += 1;
        }
        None
    }
}

/// The VU count a closed model wants `t` into the run: linear between stage targets,
/// starting from `start`, rounded to the nearest whole VU. After the last stage: its target.
pub fn vus_at(start: u32, stages: &[Stage], t: Duration) -> u32 {
    let mut from = f64::from(start);
    let mut begin = Duration::ZERO;
    for s in stages {
        let end = begin + s.duration.0;
        let to = f64::from(s.target);
        if t < end {
            let frac = if s.duration.0.is_zero() {
                1.0
            } else {
                (t - begin).as_secs_f64() / s.duration.0.as_secs_f64()
            };
            return (from + (to - from) * frac).round() as u32;
        }
        from = to;
        begin = end;
    }
    from as u32
}

/// The arrival rate (per second) an open model wants `t` into the run; 0 after the end.
pub fn rate_at(phases: &[Phase], t: Duration) -> f64 {
    let mut begin = 0.0;
    let t = t.as_secs_f64();
    for p in phases {
        let d = p.duration.secs();
        if t < begin + d {
            return p.rate + (p.end_rate() - p.rate) * (t - begin) / d;
        }
        begin += d;
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Dur;

    fn phase(secs: u64, rate: f64, ramp_to: Option<f64>) -> Phase {
        Phase {
            duration: Dur(Duration::from_secs(secs)),
            rate,
            ramp_to,
        }
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let p = [phase(2, 4.0, None)];
        let times: Vec<f64> = Arrivals::new(&p).map(|d| d.as_secs_f64()).collect();
        assert_eq!(times.len(), 8);
        assert_eq!(Arrivals::total(&p), 8);
        for (i, t) in times.iter().enumerate() {
            assert!((t - i as f64 * 0.25).abs() < 1e-9, "{i}: {t}");
        }
    }

    #[test]
    fn ramp_counts_match_the_integral() {
        // WORKLOAD.md `low`: 2 -> 10/s over 60 s = 360 arrivals.
        let p = [phase(60, 2.0, Some(10.0))];
        let times: Vec<Duration> = Arrivals::new(&p).collect();
        assert_eq!(times.len(), 360);
        assert_eq!(Arrivals::total(&p), 360);
        // First 30 s: 2*30 + 8*900/120 = 120 arrivals.
        let first_half = times.iter().filter(|t| t.as_secs_f64() < 30.0).count();
        assert_eq!(first_half, 120);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times.last().unwrap().as_secs_f64() < 60.0);
    }

    #[test]
    fn phases_chain_and_ramps_down() {
        // WORKLOAD.md `high`: 10->15 over 120 s (1500), then 15->30 over 60 s (1350).
        let p = [phase(120, 10.0, Some(15.0)), phase(60, 15.0, Some(30.0))];
        assert_eq!(Arrivals::new(&p).count(), 2850);
        let down = [phase(10, 10.0, Some(0.0))];
        let times: Vec<Duration> = Arrivals::new(&down).collect();
        assert_eq!(times.len(), 50);
        assert!(times.last().unwrap().as_secs_f64() <= 10.0);
        // A pause phase contributes nothing and shifts what follows.
        let pause = [phase(5, 0.0, None), phase(1, 2.0, None)];
        let times: Vec<f64> = Arrivals::new(&pause).map(|d| d.as_secs_f64()).collect();
        assert_eq!(times, vec![5.0, 5.5]);
    }

    #[test]
    fn vus_follow_the_stages() {
        let stages = [
            Stage {
                duration: Dur(Duration::from_secs(60)),
                target: 5,
            },
            Stage {
                duration: Dur(Duration::from_secs(60)),
                target: 5,
            },
            Stage {
                duration: Dur(Duration::from_secs(10)),
                target: 0,
            },
        ];
        assert_eq!(vus_at(0, &stages, Duration::ZERO), 0);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(30)), 3);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(59)), 5);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(100)), 5);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(125)), 3);
        assert_eq!(vus_at(0, &stages, Duration::from_secs(500)), 0);
    }

    #[test]
    fn rate_at_interpolates() {
        let p = [phase(60, 2.0, Some(10.0)), phase(60, 10.0, None)];
        assert_eq!(rate_at(&p, Duration::from_secs(30)), 6.0);
        assert_eq!(rate_at(&p, Duration::from_secs(90)), 10.0);
        assert_eq!(rate_at(&p, Duration::from_secs(200)), 0.0);
    }
}
