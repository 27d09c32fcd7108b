//! Compact text for ages, durations, rates and counts, shared by the views.

use std::time::Duration;

use crate::model::{LocalMemory, Timestamp};

/// Seconds from `then` to `now`, never negative (a report may be stamped just after the tick).
pub fn age_secs(now: Timestamp, then: Timestamp) -> u64 {
    u64::try_from((now - then).num_seconds()).unwrap_or(0)
}

/// `7s`, `3m`, `2h05m`, `3d4h`: short enough for a table cell.
pub fn secs(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => {
            let m = (s % 3600) / 60;
            if m == 0 {
                format!("{}h", s / 3600)
            } else {
                format!("{}h{:02}m", s / 3600, m)
            }
        }
        _ => match (s % 86_400) / 3600 {
            0 => format!("{}d", s / 86_400),
            h => format!("{}d{h}h", s / 86_400),
        },
    }
}

pub fn age(now: Timestamp, then: Timestamp) -> String {
    secs(age_secs(now, then))
}

pub fn duration(d: Duration) -> String {
    secs(d.as_secs())
}

/// A chart window as people say it: `15m`, `1h`, `24h`.
pub fn window(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Parses `15m`, `1h`, `90s`, `2d`.
pub fn parse_window(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    (n > 0).then(|| Duration::from_secs(n * mult))
}

/// Messages per second with one decimal, `–` when unknown.
pub fn rate(r: Option<f64>) -> String {
    match r {
        Some(v) if v.is_finite() => format!("{v:.1}"),
        _ => "–".to_owned(),
    }
}

/// Bytes for people: `512 KB`, `475 MB`, `3.4 GB` (powers of 1024, as `free -h` counts).
pub fn bytes(n: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    let mib = n as f64 / MIB;
    if mib < 1.0 {
        format!("{} KB", n >> 10)
    } else if mib < 1024.0 {
        format!("{mib:.0} MB")
    } else {
        format!("{:.1} GB", mib / 1024.0)
    }
}

/// Cuts `text` to `width` characters, ending with `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// What the local cloud's emulator does near its disk floor, for a warning: `S3 refuses
/// writes below 2.0 GB`.
pub fn disk_refusal(m: &LocalMemory) -> String {
    match m.disk_floor {
        Some(floor) => format!("S3 refuses writes below {}", bytes(floor)),
        None => "S3 refuses writes near its floor".to_owned(),
    }
}

/// Greedy word wrap to `width` columns (at least one); a word longer than a row (a path) is
/// cut across rows.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width, width)
}

/// [`wrap`] with a first row `first` columns wide and the others `rest` wide (at least one
/// each): for text that starts beside a label and continues under it.
pub fn wrap_hanging(text: &str, first: usize, rest: usize) -> Vec<String> {
    let (first, rest) = (first.max(1), rest.max(1));
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    let mut row_len = 0;
    let width = |rows: &Vec<String>| if rows.is_empty() { first } else { rest };
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        if row_len > 0 && row_len + 1 + word.len() > width(&rows) {
            rows.push(std::mem::take(&mut row));
            row_len = 0;
        }
        while word.len() > width(&rows) {
            if row_len > 0 {
                rows.push(std::mem::take(&mut row));
                row_len = 0;
                continue;
            }
            let tail = word.split_off(width(&rows));
            rows.push(word.into_iter().collect());
            word = tail;
        }
        if row_len > 0 {
            row.push(' ');
            row_len += 1;
        }
        row_len += word.len();
        row.extend(word);
    }
    if row_len > 0 || rows.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_hanging_fills_a_short_first_row_then_wider_ones() {
        assert_eq!(
            wrap_hanging("one two three four", 7, 14),
            ["one two", "three four"]
        );
        assert_eq!(
            wrap_hanging("abcdefghij kl", 4, 6),
            ["abcd", "efghij", "kl"]
        );
    }

    #[test]
    fn wrap_keeps_words_whole_and_cuts_only_what_no_row_holds() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("one  two", 20), ["one two"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(
            wrap("at /a/very/long/path end", 6),
            ["at", "/a/ver", "y/long", "/path", "end"]
        );
    }

    #[test]
    fn bytes_read_like_free_h() {
        assert_eq!(bytes(700 << 10), "700 KB");
        assert_eq!(bytes(475 << 20), "475 MB");
        assert_eq!(bytes((34 << 30) / 10), "3.4 GB");
    }

    #[test]
    fn secs_picks_the_coarsest_useful_unit() {
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(59), "59s");
        assert_eq!(secs(60), "1m");
        assert_eq!(secs(3599), "59m");
        assert_eq!(secs(3600), "1h");
        assert_eq!(secs(3900), "1h05m");
        assert_eq!(secs(90_000), "1d1h");
        assert_eq!(secs(14 * 86_400), "14d");
    }

    #[test]
    fn windows_round_trip() {
        for w in ["15m", "1h", "3h", "24h", "90s"] {
            let d = parse_window(w);
            assert_eq!(d.map(window).as_deref(), Some(w));
        }
        assert_eq!(parse_window("0m"), None);
        assert_eq!(parse_window("5x"), None);
        assert_eq!(parse_window("h"), None);
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("video_tasks", 20), "video_tasks");
        assert_eq!(truncate("video_tasks", 6), "video…");
        assert_eq!(truncate("abc", 0), "");
    }
}
