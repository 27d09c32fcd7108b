//! Where the local cloud keeps its files: the emulator's virtualenv, logs and the record of
//! a running `flightdeck local up`.

use std::path::PathBuf;

/// `FLIGHTDECK_CACHE_DIR`, else `$XDG_CACHE_HOME/flightdeck`, else `~/.cache/flightdeck`,
/// else `.cache/flightdeck` under the current directory.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLIGHTDECK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("flightdeck");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("flightdeck");
    }
    PathBuf::from(".cache").join("flightdeck")
}

/// Where the emulator keeps object data (in unnamed files: nothing shows in a listing).
pub fn data_dir() -> PathBuf {
    cache_dir().join("emulator-data")
}

pub fn logs_dir() -> PathBuf {
    cache_dir().join("logs")
}

/// Where a running `local up` records itself: `FLIGHTDECK_RUNTIME_DIR`, else `<cache>/local`.
/// Tests point it at a temporary directory so they cannot see each other's local clouds.
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("FLIGHTDECK_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => cache_dir().join("local"),
    }
}
