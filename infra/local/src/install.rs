//! Finds or installs the AWS emulator: `moto[server]` at a pinned version in a virtualenv in
//! the project cache, installed on first use with visible progress.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// The emulator version flightdeck is tested against. Its quirks are documented in the README.
pub const MOTO_VERSION: &str = "5.2.5";

/// Marker written last, so a half-finished install is never mistaken for a good one.
const MARKER: &str = ".flightdeck-installed";

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{python} was not found: the local cloud needs Python 3 to run its AWS emulator. Install it with: sudo apt-get install -y python3 python3-venv")]
    MissingPython { python: String },
    #[error("{python} has no working venv module ({detail}). Install it with: sudo apt-get install -y python3-venv")]
    MissingVenv { python: String, detail: String },
    #[error("installing moto[server]=={MOTO_VERSION} with pip failed (exit {status}); the last lines were:\n{tail}\nCheck that PyPI is reachable, then run the command again (the install resumes from scratch).")]
    Pip { status: String, tail: String },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An installed emulator.
#[derive(Debug, Clone)]
pub struct Installation {
    pub venv: PathBuf,
}

impl Installation {
    /// The venv's interpreter; the emulator runs as `python -c <launcher>`.
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    /// The venv directory used for the pinned version under `cache`.
    pub fn location(cache: &Path) -> PathBuf {
        cache.join("emulator").join(format!("moto-{MOTO_VERSION}"))
    }

    /// The installed emulator, if a complete install exists.
    pub fn find(cache: &Path) -> Option<Installation> {
        let venv = Installation::location(cache);
        venv.join(MARKER).is_file().then_some(Installation { venv })
    }

    /// Find the emulator or install it. Concurrent callers (parallel tests, two terminals)
    /// wait for one install instead of racing.
    pub fn ensure(cache: &Path) -> Result<Installation, InstallError> {
        if let Some(found) = Installation::find(cache) {
            return Ok(found);
        }
        let root = cache.join("emulator");
        std::fs::create_dir_all(&root).map_err(|source| InstallError::Io {
            path: root.clone(),
            source,
        })?;
        let lock_path = root.join("install.lock");
        let lock_file = std::fs::File::create(&lock_path).map_err(|source| InstallError::Io {
            path: lock_path.clone(),
            source,
        })?;
        let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| InstallError::Io {
                path: lock_path.clone(),
                source: std::io::Error::from(errno),
            })?;
        // Someone else may have finished while we waited for the lock.
        if let Some(found) = Installation::find(cache) {
            return Ok(found);
        }
        install(&Installation::location(cache))?;
        Installation::find(cache).ok_or_else(|| InstallError::Io {
            path: Installation::location(cache),
            source: std::io::Error::other("install finished but its marker is missing"),
        })
    }
}

/// The interpreter used to create the venv: `FLIGHTDECK_PYTHON` or `python3`.
pub fn base_python() -> String {
    std::env::var("FLIGHTDECK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

fn install(venv: &Path) -> Result<(), InstallError> {
    let python = base_python();
    let started = Instant::now();
    let progress = Progress::new(venv);

    // A leftover from an interrupted install is not trusted.
    if venv.exists() {
        std::fs::remove_dir_all(venv).map_err(|source| InstallError::Io {
            path: venv.to_path_buf(),
            source,
        })?;
    }

    progress.step("checking python3");
    match Command::new(&python).arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InstallError::MissingPython { python })
        }
        Err(e) => {
            return Err(InstallError::MissingPython {
                python: format!("{python} ({e})"),
            })
        }
        Ok(_) => {}
    }

    progress.step("creating the virtualenv");
    let out = Command::new(&python)
        .args(["-m", "venv"])
        .arg(venv)
        .output()
        .map_err(|source| InstallError::Io {
            path: venv.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(venv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("venv creation failed")
            .trim()
            .to_string();
        return Err(InstallError::MissingVenv { python, detail });
    }

    progress.step(&format!("pip install moto[server]=={MOTO_VERSION}"));
    let mut child = Command::new(venv.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
        ])
        .arg(format!("moto[server]=={MOTO_VERSION}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| InstallError::Io {
            path: venv.to_path_buf(),
            source,
        })?;

    // pip's stderr is drained on a thread so a chatty warning cannot block it.
    let stderr = child.stderr.take();
    let stderr_thread = std::thread::spawn(move || {
        let mut lines = Vec::new();
        if let Some(s) = stderr {
            for line in BufReader::new(s).lines().map_while(Result::ok) {
                lines.push(line);
            }
        }
        lines
    });
    let mut tail: Vec<String> = Vec::new();
    let mut packages = 0usize;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(name) = line.strip_prefix("Collecting ") {
                packages += 1;
                progress.detail(&format!("{packages} packages: collecting {name}"));
            } else if line.starts_with("Installing collected packages") {
                progress.detail(&format!("installing {packages} packages"));
            }
            tail.push(line);
            if tail.len() > 12 {
                tail.remove(0);
            }
        }
    }
    let status = child.wait().map_err(|source| InstallError::Io {
        path: venv.to_path_buf(),
        source,
    })?;
    let err_lines = stderr_thread.join().unwrap_or_default();
    if !status.success() {
        tail.extend(
            err_lines
                .into_iter()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        );
        let _ = std::fs::remove_dir_all(venv);
        progress.fail();
        return Err(InstallError::Pip {
            status: status.code().map_or("signal".into(), |c| c.to_string()),
            tail: tail.join("\n"),
        });
    }

    let marker = venv.join(MARKER);
    std::fs::write(&marker, format!("moto[server]=={MOTO_VERSION}\n")).map_err(|source| {
        InstallError::Io {
            path: marker.clone(),
            source,
        }
    })?;
    progress.done(packages, started.elapsed());
    Ok(())
}

/// Install progress: a spinner on a terminal, plain lines elsewhere (CI logs).
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(venv: &Path) -> Progress {
        eprintln!(
            "flightdeck: installing the local AWS emulator (moto[server]=={MOTO_VERSION}) into {}",
            venv.display()
        );
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("  {spinner} {elapsed:>3} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    fn step(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_string()),
            None => eprintln!("  {what}"),
        }
    }

    fn detail(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
    }

    fn fail(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn done(&self, packages: usize, took: Duration) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "flightdeck: emulator installed ({packages} packages, {:.0} s)",
            took.as_secs_f64()
        );
    }
}
