//! Reading a file's packets keeps none of them: probing (which reads every packet) the same
//! file over and over stays within a bound, instead of growing by the file's size each time
//! (FFmpeg's `av_read_frame` does not release the packet it fills; a reused one kept them all,
//! and a worker kept each job's upload).
//! Alone in its test binary: it reads this process's resident memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use media::{probe, synth_video, SynthSpec};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

#[test]
fn reading_every_packet_again_and_again_keeps_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noisy.mp4");
    // About 2 MB: small to make, large enough that keeping it 100 times shows.
    let spec = SynthSpec {
        duration_s: 2.0,
        noise: 12,
        bitrate: Some(8_000_000),
        maxrate: Some(8_000_000),
        bufsize: Some(8_000_000),
        preset: "ultrafast".into(),
        ..SynthSpec::default()
    };
    synth_video(&path, &spec).unwrap();
    let size_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    assert!(size_mb > 1.0, "the clip is only {size_mb:.2} MB");
    let frames = probe(&path).unwrap().video.unwrap().frames;

    let before = rss_mb();
    let reads = 100;
    for _ in 0..reads {
        assert_eq!(probe(&path).unwrap().video.unwrap().frames, frames);
    }
    let grown = rss_mb() - before;
    let kept = size_mb * f64::from(reads);
    assert!(
        grown < kept / 4.0,
        "reading {size_mb:.1} MB {reads} times grew the process by {grown:.0} MB \
         (keeping every packet would be {kept:.0} MB)"
    );
}
