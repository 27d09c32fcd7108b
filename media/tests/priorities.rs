//! The transform's thread priorities, read from /proc while a real transform runs: the
//! decoder at its caller's nice value, the filter and the encoder (and the FFmpeg threads they
//! start) `stage_nice` steps below it. A test binary of its own: other tests' transforms would
//! run threads with the same names.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{baseline_assets, scratch, synth, within};
use media::{transform, SynthSpec, TransformOptions};

/// A thread's name (at most 15 bytes, as the kernel keeps it) and nice value.
fn threads_now() -> Vec<(String, i32)> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            let name = fs::read_to_string(dir.join("comm")).ok()?;
            let stat = fs::read_to_string(dir.join("stat")).ok()?;
            Some((name.trim().to_string(), nice_in(&stat)?))
        })
        .collect()
}

/// The nice value in a task's `stat`: field 19, counting from the state (field 3) after the
/// name's closing parenthesis.
fn nice_in(stat: &str) -> Option<i32> {
    stat.rsplit_once(") ")?.1.split(' ').nth(16)?.parse().ok()
}

/// This thread's nice value (the transform's caller).
fn my_nice() -> i32 {
    nice_in(&fs::read_to_string("/proc/thread-self/stat").unwrap()).unwrap()
}

/// The nice values seen on each transform thread (by name) while `stage_nice` runs.
fn seen_while_transforming(stage_nice: i32) -> (i32, BTreeMap<String, BTreeSet<i32>>) {
    let dir = scratch();
    let input = synth(
        dir.path(),
        "in.mp4",
        SynthSpec {
            width: 640,
            height: 360,
            fps: 30,
            duration_s: 8.0,
            ..SynthSpec::default()
        },
    );
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        thread::spawn(move || {
            let mut seen: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
            // Bounded: the transform takes seconds; 20,000 looks at 1 ms apart is 20 s or more.
            for _ in 0..20_000 {
                for (name, nice) in threads_now() {
                    if name.starts_with("transform-") {
                        seen.entry(name).or_default().insert(nice);
                    }
                }
                if done.load(Ordering::Relaxed) {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            seen
        })
    };
    let caller = within(120, move || {
        let caller = my_nice();
        let output = dir.path().join("out.mp4");
        let opts = TransformOptions {
            stage_nice,
            ..TransformOptions::default()
        };
        transform(&input, &output, &baseline_assets(), &opts).unwrap();
        caller
    });
    done.store(true, Ordering::Relaxed);
    (caller, watcher.join().unwrap())
}

#[test]
fn the_filter_and_the_encoder_run_below_the_decoder_unless_told_otherwise() {
    let (caller, seen) = seen_while_transforming(4);
    let below = (caller + 4).min(19);
    let want: BTreeMap<String, BTreeSet<i32>> = [
        ("transform-decod", caller),
        ("transform-filte", below),
        ("transform-encod", below),
    ]
    .into_iter()
    .map(|(name, nice)| (name.to_string(), BTreeSet::from([nice])))
    .collect();
    assert_eq!(seen, want, "the caller runs at nice {caller}");

    let (caller, seen) = seen_while_transforming(0);
    for (name, nices) in &seen {
        assert_eq!(nices, &BTreeSet::from([caller]), "{name} with stage_nice 0");
    }
    assert_eq!(seen.len(), 3, "all three stages were seen: {seen:?}");
}
