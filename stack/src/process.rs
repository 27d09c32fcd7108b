//! Process set-up shared by the stack's long-running programs (the worker and the API).

/// glibc's malloc settings for a long-running program, set from its environment at start.
#[derive(Debug, Clone, Copy)]
pub struct Malloc {
    /// `MALLOC_ARENA_MAX`: glibc otherwise gives threads that allocate at once their own
    /// arenas (up to eight per core), and memory freed in one stays there.
    pub arenas: u32,
    /// `MALLOC_MMAP_THRESHOLD_`: blocks above it are mapped and returned to the system on
    /// free. Unset, glibc raises its threshold after each large free, so large buffers stay
    /// in the heap; fixed, every block above it costs a map and an unmap.
    pub mmap_threshold: Option<usize>,
}

/// The program starts itself again at once (same PID, same arguments) with `malloc` set in
/// its environment, which glibc reads only when a process starts, unless `MALLOC_ARENA_MAX`
/// is set already: an operator's own setting wins. Returns only when the program already runs
/// with it set, or cannot start itself again (then it says so on stderr and runs with glibc's
/// defaults). Call it first in `main`, before any thread starts.
pub fn exec_with_malloc(program: &str, malloc: Malloc) {
    use std::os::unix::process::CommandExt;

    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", malloc.arenas.to_string());
    if let Some(threshold) = malloc.mmap_threshold {
        command.env("MALLOC_MMAP_THRESHOLD_", threshold.to_string());
    }
    let err = command.exec();
    eprintln!("{program}: running with glibc's default malloc settings ({err})");
}
