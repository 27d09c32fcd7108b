//! Runs the emulator on 127.0.0.1: starts it on a free port, waits until it answers, and stops
//! it by its PID on drop. The launcher also exits on its own when its parent dies, so even a
//! `kill -9` of flightdeck leaves no emulator behind.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::install::Installation;
use crate::storage::StorageLimits;

/// Started with `python -c`: watches the parent PID, applies flightdeck's emulator fixes
/// (see the file; `FLIGHTDECK_EMULATOR_UNPATCHED=1` skips them), then runs moto's own server.
const LAUNCHER: &str = include_str!("launcher.py");

const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot start the emulator ({python}): {source}")]
    Spawn {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the emulator exited during start-up ({status}); its log is {log}")]
    Exited { status: String, log: PathBuf },
    #[error("the emulator did not answer on {endpoint} within {secs} s; its log is {log}")]
    NotReady {
        endpoint: String,
        secs: u64,
        log: PathBuf,
    },
    #[error("the local cloud's storage bounds: {0}")]
    Storage(String),
    #[error("cannot reach the emulator at {endpoint}: {reason}. Is it running? Start one with `flightdeck local up`, or check --endpoint")]
    Unreachable { endpoint: String, reason: String },
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    #[error("cannot write the emulator log {path}: {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a start treats the emulator's log (one per port).
enum LogStart {
    Fresh,
    /// A restart: keep what is there and say why (the old one's exit).
    Append(String),
}

/// A running emulator: one this process started (and owns), or one it attached to.
#[derive(Debug)]
pub struct Emulator {
    endpoint: String,
    child: Option<Child>,
    log: Option<PathBuf>,
    /// The disk bounds it was started with (a restart keeps them).
    storage: StorageLimits,
    /// The folder its log is in (a restart keeps it).
    logs: PathBuf,
}

impl Emulator {
    /// Start the emulator on `port`, or on a free port when `None`, with the storage bounds
    /// from the environment ([`StorageLimits::from_env`]).
    pub async fn start(
        install: &Installation,
        port: Option<u16>,
    ) -> Result<Emulator, EmulatorError> {
        let storage = StorageLimits::from_env().map_err(EmulatorError::Storage)?;
        Emulator::start_with(install, port, storage).await
    }

    /// [`Emulator::start`] with the given storage bounds.
    pub async fn start_with(
        install: &Installation,
        port: Option<u16>,
        storage: StorageLimits,
    ) -> Result<Emulator, EmulatorError> {
        Emulator::start_logging(install, port, storage, &crate::paths::logs_dir()).await
    }

    /// [`Emulator::start_with`], its log (`emulator-<port>.log`) in `logs`, which is created if
    /// missing and pruned to [`crate::paths::LOGS_KEPT`] logs.
    pub async fn start_logging(
        install: &Installation,
        port: Option<u16>,
        storage: StorageLimits,
        logs: &Path,
    ) -> Result<Emulator, EmulatorError> {
        // A free port can be taken between our probe and the emulator's bind; try again then.
        let attempts = if port.is_some() { 1 } else { 3 };
        let mut last_err = None;
        for _ in 0..attempts {
            let port = match port {
                Some(p) => p,
                None => free_port().map_err(EmulatorError::NoPort)?,
            };
            match Emulator::start_on(install, port, storage, logs, LogStart::Fresh).await {
                Ok(e) => return Ok(e),
                Err(e @ EmulatorError::Exited { .. }) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(
            last_err.unwrap_or(EmulatorError::NoPort(std::io::Error::other(
                "no attempt made",
            ))),
        )
    }

    async fn start_on(
        install: &Installation,
        port: u16,
        storage: StorageLimits,
        logs: &Path,
        log_start: LogStart,
    ) -> Result<Emulator, EmulatorError> {
        std::fs::create_dir_all(logs).map_err(|source| EmulatorError::Log {
            path: logs.to_path_buf(),
            source,
        })?;
        crate::paths::prune_logs(logs, crate::paths::LOGS_KEPT);
        let log_path = logs.join(format!("emulator-{port}.log"));
        let opened = match &log_start {
            LogStart::Fresh => std::fs::File::create(&log_path),
            LogStart::Append(_) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path),
        };
        let mut log = opened.map_err(|source| EmulatorError::Log {
            path: log_path.clone(),
            source,
        })?;
        if let LogStart::Append(why) = &log_start {
            // Keep the dead emulator's last words; mark where the new one starts.
            writeln!(log, "\n--- flightdeck: restarting the emulator ({why}) ---").map_err(
                |source| EmulatorError::Log {
                    path: log_path.clone(),
                    source,
                },
            )?;
        }
        let log_err = log.try_clone().map_err(|source| EmulatorError::Log {
            path: log_path.clone(),
            source,
        })?;
        let python = install.python();
        // Object data goes to unlinked files here rather than the emulator's memory.
        let data_dir = crate::paths::data_dir();
        let child = Command::new(&python)
            .env("FLIGHTDECK_EMULATOR_DATA_DIR", &data_dir)
            // S3 writes past these are refused (see `storage`).
            .env(
                "FLIGHTDECK_EMULATOR_MAX_DATA_BYTES",
                storage.cap.to_string(),
            )
            .env(
                "FLIGHTDECK_EMULATOR_MIN_FREE_BYTES",
                storage.min_free.to_string(),
            )
            // New uploads stop short of the cap, keeping the rest for the outputs.
            .env(
                "FLIGHTDECK_EMULATOR_INTAKE_PREFIX",
                crate::storage::intake_prefix(),
            )
            .env(
                "FLIGHTDECK_EMULATOR_MAX_INTAKE_BYTES",
                storage.intake_above().to_string(),
            )
            // Request bodies of megabytes, served from many threads, would otherwise stay in
            // per-thread malloc arenas after they are freed: fewer arenas, and blocks over
            // 128 KiB mapped and returned to the system on free.
            .env("MALLOC_ARENA_MAX", "2")
            .env("MALLOC_MMAP_THRESHOLD_", "131072")
            .arg("-c")
            .arg(LAUNCHER)
            .arg("127.0.0.1")
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                python: python.clone(),
                source,
            })?;
        let mut emulator = Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            log: Some(log_path.clone()),
            storage,
            logs: logs.to_path_buf(),
        };
        tracing::debug!(pid = emulator.pid(), endpoint = %emulator.endpoint, "emulator starting");

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = emulator.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    emulator.child = None;
                    return Err(EmulatorError::Exited {
                        status: status.to_string(),
                        log: log_path,
                    });
                }
            }
            if probe(&emulator.endpoint).is_ok() {
                tracing::info!(pid = emulator.pid(), endpoint = %emulator.endpoint, "emulator ready");
                return Ok(emulator);
            }
            if Instant::now() > deadline {
                return Err(EmulatorError::NotReady {
                    endpoint: emulator.endpoint.clone(),
                    secs: READY_TIMEOUT.as_secs(),
                    log: log_path,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Start an owned emulator again on its own port after it exited (see [`Emulator::exited`]),
    /// so clients and processes pointed at its endpoint carry on once the stack is provisioned
    /// again. Its log keeps what the dead one wrote. `why` goes into the log.
    pub async fn restart(
        &mut self,
        install: &Installation,
        why: &str,
    ) -> Result<(), EmulatorError> {
        let port = self.port().ok_or_else(|| {
            EmulatorError::NoPort(std::io::Error::other(format!(
                "no port in the endpoint {}",
                self.endpoint
            )))
        })?;
        self.stop();
        let storage = self.storage;
        let logs = self.logs.clone();
        *self = Emulator::start_on(
            install,
            port,
            storage,
            &logs,
            LogStart::Append(why.to_owned()),
        )
        .await?;
        Ok(())
    }

    /// Whether an owned emulator has exited, and how (`signal: 9 (SIGKILL)`, `exit status:
    /// 1`); it is then reaped and no longer owned. `None` while it runs, or when attached.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status.to_string())
    }

    /// Hand the owned process over to the returned emulator; `self` keeps only the endpoint
    /// (like an attached one: it stops nothing).
    pub fn take(&mut self) -> Emulator {
        Emulator {
            endpoint: self.endpoint.clone(),
            child: self.child.take(),
            log: self.log.clone(),
            storage: self.storage,
            logs: self.logs.clone(),
        }
    }

    /// The port of the endpoint on 127.0.0.1.
    pub fn port(&self) -> Option<u16> {
        self.endpoint.rsplit(':').next()?.parse().ok()
    }

    /// Use an emulator that is already running (for tests and debugging); never stops it.
    pub fn attach(endpoint: &str) -> Result<Emulator, EmulatorError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        probe(&endpoint).map_err(|reason| EmulatorError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        })?;
        Ok(Emulator {
            endpoint,
            child: None,
            log: None,
            // Whoever started it set its bounds; these are what this process would set.
            storage: StorageLimits::from_env().unwrap_or_default(),
            logs: crate::paths::logs_dir(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The storage bounds an owned emulator was started with (the defaults when attached).
    pub fn storage(&self) -> StorageLimits {
        self.storage
    }

    /// The emulator's process id, when this process owns it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> Option<&PathBuf> {
        self.log.as_ref()
    }

    /// Forget all state: every bucket, queue and group (moto's reset API).
    pub fn reset(&self) -> Result<(), String> {
        http_request(&self.endpoint, "POST", "/moto-api/reset").map(|_| ())
    }

    /// Stop an owned emulator: SIGTERM, a short grace period, then SIGKILL. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                tracing::debug!(pid = pid.as_raw(), "emulator stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        tracing::debug!(pid = pid.as_raw(), "emulator killed after the grace period");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Does something answer HTTP at `endpoint`? Used before any SDK call so that a wrong
/// endpoint fails with one clear line rather than after the SDK's retries.
pub fn probe(endpoint: &str) -> Result<(), String> {
    http_request(endpoint, "GET", "/moto-api/data.json").map(|_| ())
}

/// A minimal HTTP/1.0 request to a `http://host:port` endpoint; returns the status line.
fn http_request(endpoint: &str, method: &str, path: &str) -> Result<String, String> {
    let hostport = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("{endpoint} is not an http:// endpoint"))?
        .trim_end_matches('/');
    let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{hostport} does not resolve"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {hostport}\r\nContent-Length: 0\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&head[..n]);
    let status = text.lines().next().unwrap_or("").to_string();
    if status.starts_with("HTTP/") {
        Ok(status)
    } else {
        Err(format!("{endpoint} did not answer HTTP"))
    }
}
