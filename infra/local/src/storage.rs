//! How much disk the local cloud's S3 may use. The emulator keeps each object over 64 KiB in a
//! file of its own until the object is deleted, and a load run writes 100-250 MB/s: without a
//! bound, a few minutes of load fill the machine's disk and every program on it fails.
//!
//! Two bounds, both from the environment so that every way of starting an emulator (the demo,
//! `local up`, its keeper's restarts, the tests and benchmarks) sees the same ones:
//! - `FLIGHTDECK_LOCAL_STORAGE_GB` (default 8): the object data the emulator may hold. The
//!   local lifecycle ([`crate::lifecycle`]) removes the oldest processed uploads and outputs
//!   once the data passes 60 % of it (never an upload still waiting for a worker); a new
//!   upload that would take the data past 90 % of it is refused, and any write past all of it.
//! - `FLIGHTDECK_LOCAL_MIN_FREE_GB` (default 2): a write that would leave less than this free
//!   on the emulator's data disk is refused, whatever the data held.
//!
//! A refused write is answered as S3 answers a write it cannot take now: HTTP 503 `SlowDown`,
//! with a message naming the bound. SDKs retry it with backoff, and the API answers 503
//! `storage_unavailable` if it persists; nothing half-written is kept.

/// The variable for the data cap, in GB (decimals allowed).
pub const STORAGE_ENV: &str = "FLIGHTDECK_LOCAL_STORAGE_GB";
/// The variable for the free-disk floor, in GB (decimals allowed).
pub const MIN_FREE_ENV: &str = "FLIGHTDECK_LOCAL_MIN_FREE_GB";

/// A GB here is 2^30 bytes, as `free -h` and the console count.
const GB: f64 = (1u64 << 30) as f64;
const MB: f64 = (1u64 << 20) as f64;
pub const DEFAULT_CAP: u64 = 8 << 30;
pub const DEFAULT_MIN_FREE: u64 = 2 << 30;

/// The local cloud's storage bounds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimits {
    /// Object data the emulator may hold.
    pub cap: u64,
    /// Free space the emulator leaves on its data disk.
    pub min_free: u64,
}

impl Default for StorageLimits {
    fn default() -> StorageLimits {
        StorageLimits {
            cap: DEFAULT_CAP,
            min_free: DEFAULT_MIN_FREE,
        }
    }
}

impl StorageLimits {
    /// The bounds from [`STORAGE_ENV`] and [`MIN_FREE_ENV`], each defaulted when unset or empty.
    pub fn from_env() -> Result<StorageLimits, String> {
        StorageLimits::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<StorageLimits, String> {
        let read = |name: &str, default: u64, zero_ok: bool| -> Result<u64, String> {
            let Some(text) = var(name).filter(|t| !t.trim().is_empty()) else {
                return Ok(default);
            };
            let gb: f64 = text.trim().parse().map_err(|_| {
                format!("{name}={text:?} is not a number of GB (for example {name}=8)")
            })?;
            let positive = if zero_ok { gb >= 0.0 } else { gb > 0.0 };
            if !gb.is_finite() || !positive || gb > 1e6 {
                let least = if zero_ok { "0" } else { "more than 0" };
                return Err(format!(
                    "{name}={text:?} is out of range: give {least} and at most 1000000 GB"
                ));
            }
            Ok((gb * GB).round() as u64)
        };
        Ok(StorageLimits {
            cap: read(STORAGE_ENV, DEFAULT_CAP, false)?,
            min_free: read(MIN_FREE_ENV, DEFAULT_MIN_FREE, true)?,
        })
    }

    /// `p` % of the cap, rounded down (without overflowing for any cap).
    fn percent(&self, p: u64) -> u64 {
        self.cap / 100 * p + self.cap % 100 * p / 100
    }

    /// Past this much data the lifecycle removes the oldest objects...
    pub fn evict_above(&self) -> u64 {
        self.percent(EVICT_ABOVE_PERCENT)
    }

    /// ...until no more than this much is left.
    pub fn evict_to(&self) -> u64 {
        self.percent(EVICT_TO_PERCENT)
    }

    /// Past this much data the emulator refuses new uploads ([`intake_prefix`]), keeping the
    /// rest of the cap for the outputs of jobs already queued.
    pub fn intake_above(&self) -> u64 {
        self.percent(INTAKE_ABOVE_PERCENT)
    }
}

/// [`StorageLimits::evict_above`], in percent of the cap (messages quote it).
pub const EVICT_ABOVE_PERCENT: u64 = 60;
/// [`StorageLimits::evict_to`], in percent of the cap.
pub const EVICT_TO_PERCENT: u64 = 40;
/// [`StorageLimits::intake_above`], in percent of the cap (messages quote it).
pub const INTAKE_ABOVE_PERCENT: u64 = 90;

/// The keys the emulator counts as new uploads: the built-in stack's uploads prefix
/// (`infra/stack.json`). Writes under it stop at [`StorageLimits::intake_above`], so that the
/// outputs of jobs already queued still fit; a stack with another prefix has its uploads
/// bounded by the whole cap, like every other write.
pub fn intake_prefix() -> String {
    stack::Stack::embedded().map_or_else(|_| "uploads/".to_owned(), |s| s.bucket.uploads_prefix)
}

/// Free space (for an unprivileged process) on the disk that holds `path`, or on the disk of
/// its nearest existing parent.
pub fn disk_free(path: &std::path::Path) -> std::io::Result<u64> {
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(std::path::Path::new("/"));
    let stat = nix::sys::statvfs::statvfs(existing).map_err(std::io::Error::from)?;
    Ok(stat.blocks_available().saturating_mul(stat.fragment_size()))
}

/// Bytes as a person reads them: `512 B`, `3.4 MB`, `8.0 GB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= GB {
        format!("{:.1} GB", b / GB)
    } else if b >= MB {
        format!("{:.1} MB", b / MB)
    } else if b >= 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_when_unset_or_empty() {
        assert_eq!(
            StorageLimits::from_vars(vars(&[])),
            Ok(StorageLimits::default())
        );
        assert_eq!(
            StorageLimits::from_vars(vars(&[(STORAGE_ENV, " ")])),
            Ok(StorageLimits::default())
        );
    }

    #[test]
    fn reads_decimal_gigabytes() {
        let limits =
            StorageLimits::from_vars(vars(&[(STORAGE_ENV, "0.5"), (MIN_FREE_ENV, "0")])).unwrap();
        assert_eq!(
            limits,
            StorageLimits {
                cap: 512 << 20,
                min_free: 0
            }
        );
        assert_eq!(limits.evict_above(), (512 << 20) * 6 / 10);
        assert_eq!(limits.evict_to(), (512 << 20) * 4 / 10);
        assert_eq!(limits.intake_above(), (512 << 20) * 9 / 10);
        let huge = StorageLimits {
            cap: u64::MAX,
            min_free: 0,
        };
        assert_eq!(huge.evict_above(), (u128::from(u64::MAX) * 60 / 100) as u64);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_what_to_give() {
        let err = StorageLimits::from_vars(vars(&[(STORAGE_ENV, "8GB")])).unwrap_err();
        assert!(
            err.contains("FLIGHTDECK_LOCAL_STORAGE_GB=\"8GB\" is not a number"),
            "{err}"
        );
        let err = StorageLimits::from_vars(vars(&[(STORAGE_ENV, "0")])).unwrap_err();
        assert!(err.contains("give more than 0"), "{err}");
        let err = StorageLimits::from_vars(vars(&[(MIN_FREE_ENV, "-1")])).unwrap_err();
        assert!(err.contains("FLIGHTDECK_LOCAL_MIN_FREE_GB"), "{err}");
    }

    #[test]
    fn the_disk_has_free_space_even_below_a_missing_folder() {
        let free = disk_free(std::path::Path::new("/surely/not/here")).unwrap();
        assert!(free > 0);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(34 << 20), "34.0 MB");
        assert_eq!(human(8 << 30), "8.0 GB");
    }
}
