//! Machine sizing: what this machine can give the fleet's instances.

use serde::{Deserialize, Serialize};
use stack::Stack;

/// What this machine can give the fleet: how many cores, each instance's share of them (the
/// 100 % of its `CPUUtilization`), and FFmpeg's thread cap per worker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    /// Cores one instance may use: `max(1, cores / (sum of the groups' max sizes))`, so a
    /// full fleet fits the machine the way instances fit their hosts.
    pub share_cores: f64,
    /// `FLIGHTDECK_FFMPEG_THREADS` for each worker: its share, at least 1, at most 8.
    pub ffmpeg_threads: usize,
    /// Two cores or fewer: the demo runs, with FFmpeg held to one thread per worker.
    pub small: bool,
}

impl Machine {
    pub fn detect(stack: &Stack) -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Machine::for_cores(cores, stack)
    }

    pub fn for_cores(cores: usize, stack: &Stack) -> Machine {
        let cores = cores.max(1);
        let instances: usize = stack.groups().iter().map(|g| g.max as usize).sum();
        let share = (cores / instances.max(1)).max(1);
        Machine {
            cores,
            share_cores: share as f64,
            ffmpeg_threads: share.clamp(1, 8),
            small: cores <= 2,
        }
    }

    /// One line for the operator at start.
    pub fn summary(&self) -> String {
        let threads = if self.ffmpeg_threads == 1 {
            "1 FFmpeg thread".to_string()
        } else {
            format!("{} FFmpeg threads", self.ffmpeg_threads)
        };
        if self.small {
            format!(
                "small machine ({} cores): each worker is capped at {threads}, and an instance's CPU is measured against {} core(s); transforms run slower than on a larger machine",
                self.cores, self.share_cores
            )
        } else {
            format!(
                "machine: {} cores; each instance's CPU is measured against {} core(s); workers use {threads}",
                self.cores, self.share_cores
            )
        }
    }
}
