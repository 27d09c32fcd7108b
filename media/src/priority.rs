//! Thread priorities inside a transform. On a small machine the upload's decoder is the
//! pipeline's critical path: decoding is about half the work, on one thread, and every frame
//! the filter and the encoder get comes through it. With all threads alike the scheduler gives
//! the decoder its share of the cores only, and the stages behind it wait; so the filter and
//! encoder threads run at a lower priority (a higher nice value) and take what it leaves.
//! `bench/transform.sh` measures it against the threads all alike.

/// Lowers the calling thread's priority by `steps` nice steps, up to the lowest (19). On Linux
/// the nice value belongs to each thread, and threads started from this one (FFmpeg's) begin
/// with it. Best effort: where the system refuses, the thread runs as it was, only slower to
/// yield. Never call it on a thread that outlives the transform (a pool's): a thread cannot
/// raise its priority back without privileges.
pub(crate) fn lower_this_thread(steps: i32) {
    if steps <= 0 {
        return;
    }
    let me = Some(rustix::thread::gettid());
    if let Ok(now) = rustix::process::getpriority_process(me) {
        let _ = rustix::process::setpriority_process(me, now.saturating_add(steps).min(19));
    }
}

/// The calling thread's nice value (for tests).
#[cfg(test)]
pub(crate) fn this_thread_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = this_thread_nice();
        let (inside, child) = std::thread::spawn(|| {
            lower_this_thread(3);
            let inside = this_thread_nice();
            let child = std::thread::spawn(this_thread_nice).join().unwrap_or(-100);
            (inside, child)
        })
        .join()
        .unwrap_or((-100, -100));
        assert_eq!(inside, (before + 3).min(19), "the thread itself");
        assert_eq!(child, inside, "a thread it starts inherits it");
        assert_eq!(this_thread_nice(), before, "the caller is untouched");
        lower_this_thread(0);
        assert_eq!(this_thread_nice(), before, "zero steps change nothing");
    }
}
