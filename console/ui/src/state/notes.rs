//! What the console logged that the operator should see (its warnings and errors, the demo's
//! emulator restarts, the warnings and errors it flashed) while the whole log goes to a file:
//! the last [`KEPT`], a repeat of the latest folded into it with a count, and where the log
//! files are.

use std::collections::VecDeque;

use crate::model::{LogLevel, Timestamp};

/// Notes kept for the help screen; older ones are only in the log file.
pub const KEPT: usize = 50;

/// A repeat of the latest note flashes again only after this long.
const REFLASH_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// When it was last seen.
    pub at: Timestamp,
    pub level: LogLevel,
    pub text: String,
    /// Times seen in a row.
    pub count: u32,
    flashed_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct Notes {
    recent: VecDeque<Note>,
    /// What the operator can open: (what, where), the console's own log first.
    pub(crate) log_files: Vec<(String, String)>,
}

impl Notes {
    /// Records a note; true when it should flash: a new text, or a repeat not flashed lately.
    pub(crate) fn push(&mut self, at: Timestamp, level: LogLevel, text: String) -> bool {
        if let Some(last) = self.recent.back_mut() {
            if last.text == text && last.level == level {
                last.count = last.count.saturating_add(1);
                last.at = at;
                if crate::fmt::age_secs(at, last.flashed_at) >= REFLASH_SECS {
                    last.flashed_at = at;
                    return true;
                }
                return false;
            }
        }
        self.recent.push_back(Note {
            at,
            level,
            text,
            count: 1,
            flashed_at: at,
        });
        while self.recent.len() > KEPT {
            self.recent.pop_front();
        }
        true
    }

    /// Oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &Note> + ExactSizeIterator {
        self.recent.iter()
    }

    pub fn log_files(&self) -> &[(String, String)] {
        &self.log_files
    }

    /// The console's own log file, when it writes one.
    pub fn log_file(&self) -> Option<&str> {
        self.log_files.first().map(|(_, path)| path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn repeats_fold_into_the_latest_and_flash_again_only_after_a_minute() {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let mut notes = Notes::default();
        let warn = |n: &mut Notes, at, text: &str| n.push(at, LogLevel::Warn, text.to_owned());
        assert!(warn(&mut notes, t0, "cpu: PutMetricData failed"));
        assert!(!warn(
            &mut notes,
            t0 + Duration::seconds(10),
            "cpu: PutMetricData failed"
        ));
        assert!(warn(
            &mut notes,
            t0 + Duration::seconds(61),
            "cpu: PutMetricData failed"
        ));
        assert!(warn(&mut notes, t0 + Duration::seconds(62), "fleet: died"));
        let seen: Vec<_> = notes.recent().map(|n| (n.text.as_str(), n.count)).collect();
        assert_eq!(seen, [("cpu: PutMetricData failed", 3), ("fleet: died", 1)]);
    }

    #[test]
    fn only_the_last_notes_are_kept() {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let mut notes = Notes::default();
        for i in 0..KEPT + 10 {
            notes.push(t0, LogLevel::Error, format!("e{i}"));
        }
        assert_eq!(notes.recent().len(), KEPT);
        assert_eq!(notes.recent().next().unwrap().text, "e10");
    }
}
