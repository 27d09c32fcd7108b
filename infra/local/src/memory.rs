//! How much memory the local cloud's processes hold and how much the machine has left, read
//! from /proc: a process's resident set (`VmRSS` in `/proc/<pid>/status`) and the kernel's
//! estimate of memory available without swapping (`MemAvailable` in `/proc/meminfo`).
//! The console shows both beside the fleet so that an operator sees a load run eating the
//! machine before the kernel starts killing processes.

use std::io;

/// The machine's memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineMemory {
    pub total: u64,
    /// What the kernel can hand out without swapping (page cache counts as available).
    pub available: u64,
}

/// The resident set of `pid` in bytes (its children are their own processes).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    kib_field(&text, "VmRSS:")
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// The machine's total and available memory.
pub fn machine() -> io::Result<MachineMemory> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    parse_meminfo(&text)
        .ok_or_else(|| io::Error::other("no MemTotal/MemAvailable in /proc/meminfo"))
}

fn parse_meminfo(text: &str) -> Option<MachineMemory> {
    Some(MachineMemory {
        total: kib_field(text, "MemTotal:")? * 1024,
        available: kib_field(text, "MemAvailable:")? * 1024,
    })
}

/// The value of a `Name:   1234 kB` line, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_total_and_available_from_meminfo() {
        let text =
            "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   16000000 kB\n";
        assert_eq!(
            parse_meminfo(text),
            Some(MachineMemory {
                total: 24_576_000 * 1024,
                available: 16_000_000 * 1024
            })
        );
        assert_eq!(parse_meminfo("MemTotal: 10 kB\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_set_and_the_machine_has_memory() {
        let rss = rss_bytes(std::process::id()).unwrap();
        assert!(rss > 1024 * 1024, "{rss}");
        let m = machine().unwrap();
        assert!(m.available <= m.total && m.total > rss, "{m:?}");
        assert!(rss_bytes(u32::MAX).is_err());
    }
}
