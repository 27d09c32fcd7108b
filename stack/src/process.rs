//! Process set-up shared by the stack's long-running programs (the worker and the API).

/// glibc gives threads that allocate at once their own malloc arenas (up to eight per core)
/// and raises its mmap threshold after each large free, so buffers freed by past requests or
/// jobs stay in the process: the worker grew about 1.6 MB per job with nothing leaked, and
/// stays flat with two arenas and a fixed 128 KiB threshold (blocks above it are mapped, and
/// returned on free; `bench/worker-memory.sh`). glibc reads both from the environment when
/// the process starts, so the program starts itself again (same PID, same arguments) with
/// them set, unless `MALLOC_ARENA_MAX` is set already: an operator's own setting wins.
/// Returns only when the program already runs with it set, or cannot start itself again
/// (then it says so on stderr and runs with glibc's defaults). Call it first in `main`,
/// before any thread starts.
pub fn exec_with_bounded_malloc(program: &str) {
    use std::os::unix::process::CommandExt;

    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "2")
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .exec();
    eprintln!("{program}: running with glibc's default malloc arenas ({err})");
}
