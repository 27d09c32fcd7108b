//! Starting and stopping the fleet's child processes.

use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// Children are spawned from one long-lived thread: `PR_SET_PDEATHSIG` (set through
/// `setpriv --pdeathsig KILL`) fires when the *thread* that forked the child exits, and a
/// runtime's threads may come and go. When the fleet ends, this thread ends, and any child
/// still alive (only if the fleet itself was killed) receives SIGKILL.
pub(super) struct Spawner {
    tx: Option<std::sync::mpsc::Sender<SpawnRequest>>,
}

type SpawnRequest = (Command, oneshot::Sender<std::io::Result<Child>>);

impl Spawner {
    pub(super) fn start() -> Spawner {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
        let handle = tokio::runtime::Handle::current();
        let spawned = std::thread::Builder::new()
            .name("fleet-spawner".into())
            .spawn(move || {
                let _runtime = handle.enter();
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the fleet's spawner thread: {e}");
            return Spawner { tx: None };
        }
        Spawner { tx: Some(tx) }
    }

    pub(super) async fn spawn(&self, cmd: Command) -> std::io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        match &self.tx {
            Some(tx) => {
                tx.send((cmd, reply))
                    .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
                answer
                    .await
                    .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
            }
            None => {
                let mut cmd = cmd;
                cmd.spawn()
            }
        }
    }
}

#[derive(Debug)]
pub(super) enum StopOutcome {
    Exited(Option<ExitStatus>),
    Killed,
}

/// SIGTERM, then wait up to `grace` (with a second SIGTERM at `nudge`), then SIGKILL.
pub(super) async fn stop_child(
    mut child: Child,
    grace: Duration,
    nudge: Option<Duration>,
) -> StopOutcome {
    let Some(pid) = child.id() else {
        return StopOutcome::Exited(child.try_wait().ok().flatten());
    };
    let pid = Pid::from_raw(pid as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    if let Some(nudge) = nudge {
        if let Ok(status) = tokio::time::timeout(nudge, child.wait()).await {
            return StopOutcome::Exited(status.ok());
        }
        let _ = kill(pid, Signal::SIGTERM);
    }
    match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => StopOutcome::Exited(status.ok()),
        Err(_) => {
            let _ = child.kill().await;
            StopOutcome::Killed
        }
    }
}
