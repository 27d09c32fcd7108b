//! The transform's thread priorities, read from /proc while a real transform runs: the
//! decoder at its caller's nice value, the filter and the encoder (and the FFmpeg threads they
//! start) `stage_nice` steps below it. A test binary of its own: other tests' transforms would
//! run threads with the same names. A stage lowers itself as its first step, so a look taken
//! between the thread's start and that step sees it still at the caller's value: the test
//! checks each thread's values in the order seen.
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

/// A thread's name (at most 15 bytes, as the kernel keeps it), id and nice value.
fn threads_now() -> Vec<(String, String, i32)> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let dir = task.path();
            let name = fs::read_to_string(dir.join("comm")).ok()?;
            let stat = fs::read_to_string(dir.join("stat")).ok()?;
            let id = task.file_name().to_string_lossy().into_owned();
            Some((name.trim().to_string(), id, nice_in(&stat)?))
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

/// Each transform thread's nice values (by name and thread id) in the order seen, a value
/// repeated in a row kept once, while `stage_nice` runs.
type Seen = BTreeMap<(String, String), Vec<i32>>;

fn seen_while_transforming(stage_nice: i32) -> (i32, Seen) {
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
            let mut seen = Seen::new();
            // Bounded: the transform takes seconds; 20,000 looks at 1 ms apart is 20 s or more.
            for _ in 0..20_000 {
                for (name, id, nice) in threads_now() {
                    if name.starts_with("transform-") {
                        let values = seen.entry((name, id)).or_default();
                        if values.last() != Some(&nice) {
                            values.push(nice);
                        }
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

/// For each stage name, the distinct value sequences its threads went through.
fn by_stage(seen: &Seen) -> BTreeMap<&str, BTreeSet<&[i32]>> {
    let mut stages: BTreeMap<&str, BTreeSet<&[i32]>> = BTreeMap::new();
    for ((name, _), values) in seen {
        stages.entry(name).or_default().insert(values);
    }
    stages
}

#[test]
fn the_filter_and_the_encoder_run_below_the_decoder_unless_told_otherwise() {
    let (caller, seen) = seen_while_transforming(4);
    let below = (caller + 4).min(19);
    let stages = by_stage(&seen);
    let names: Vec<&str> = stages.keys().copied().collect();
    assert_eq!(
        names,
        ["transform-decod", "transform-encod", "transform-filte"],
        "all three stages were seen: {seen:?}"
    );
    for (name, sequences) in &stages {
        for values in sequences {
            if *name == "transform-decod" {
                assert_eq!(
                    *values,
                    [caller],
                    "the decoder stays at the caller's {caller}"
                );
            } else {
                // Seen before its first step or not, it ends lowered and never rises again.
                assert!(
                    *values == [below] || *values == [caller, below],
                    "{name} went through {values:?}; the caller runs at {caller}, \
                     the stage should run at {below}"
                );
            }
        }
    }

    let (caller, seen) = seen_while_transforming(0);
    for ((name, _), values) in &seen {
        assert_eq!(*values, [caller], "{name} with stage_nice 0");
    }
    assert_eq!(
        by_stage(&seen).len(),
        3,
        "all three stages were seen: {seen:?}"
    );
}
