//! Test harness: each test gets its own emulator on a free port, with the stack provisioned,
//! so tests depend neither on each other nor on a running service.

use stack::{Clients, Stack};

use crate::{aws_options, provision, Emulator, Installation, StorageLimits};

/// A private local cloud for one test. Dropping it stops the emulator.
pub struct TestCloud {
    pub emulator: Emulator,
    pub clients: Clients,
    pub stack: Stack,
}

impl TestCloud {
    /// A fresh emulator with nothing in it.
    pub async fn empty() -> TestCloud {
        TestCloud::empty_with(StorageLimits::default()).await
    }

    /// A fresh emulator with these storage bounds and nothing in it.
    pub async fn empty_with(storage: StorageLimits) -> TestCloud {
        let install = Installation::ensure(&crate::paths::cache_dir())
            .unwrap_or_else(|e| panic!("the test emulator is not available: {e}"));
        let logs = crate::paths::test_logs_dir();
        let emulator = Emulator::start_logging(&install, None, storage, &logs)
            .await
            .unwrap_or_else(|e| panic!("the test emulator did not start: {e}"));
        let stack = Stack::embedded().unwrap_or_else(|e| panic!("{e}"));
        let clients = Clients::connect(
            &aws_options(emulator.endpoint(), &stack.region),
            &stack.region,
        )
        .await;
        TestCloud {
            emulator,
            clients,
            stack,
        }
    }

    /// A fresh emulator with the reference stack provisioned.
    pub async fn provisioned() -> TestCloud {
        TestCloud::provisioned_with(StorageLimits::default()).await
    }

    /// A fresh emulator with these storage bounds and the reference stack provisioned.
    pub async fn provisioned_with(storage: StorageLimits) -> TestCloud {
        let cloud = TestCloud::empty_with(storage).await;
        provision(&cloud.clients, &cloud.stack)
            .await
            .unwrap_or_else(|e| panic!("provisioning the test stack failed: {e}"));
        cloud
    }

    pub fn endpoint(&self) -> &str {
        self.emulator.endpoint()
    }

    /// Stops the emulator (an outage: the endpoint refuses connections until
    /// [`TestCloud::restart_provisioned`]).
    pub fn stop(&mut self) {
        self.emulator.stop();
    }

    /// A new emulator on the same endpoint with the stack provisioned again (the emulator keeps
    /// no state across restarts), so clients and programs pointed at it carry on.
    pub async fn restart_provisioned(&mut self) {
        self.emulator.stop();
        let port = self
            .endpoint()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {}", self.endpoint()));
        let install = Installation::ensure(&crate::paths::cache_dir())
            .unwrap_or_else(|e| panic!("the test emulator is not available: {e}"));
        let storage = self.emulator.storage();
        let logs = crate::paths::test_logs_dir();
        self.emulator = Emulator::start_logging(&install, Some(port), storage, &logs)
            .await
            .unwrap_or_else(|e| panic!("the test emulator did not restart on {port}: {e}"));
        provision(&self.clients, &self.stack)
            .await
            .unwrap_or_else(|e| panic!("provisioning the restarted emulator failed: {e}"));
    }
}

/// What a [`FaultyEndpoint`] does with the connections it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass every byte through to the upstream endpoint.
    None,
    /// Accept the connection, read the request and never answer (a hung endpoint).
    BlackHole,
    /// Wait this long after accepting, then pass through (a slow endpoint).
    Delay(std::time::Duration),
}

/// A TCP endpoint on 127.0.0.1 in front of an upstream one (the emulator) that misbehaves on
/// purpose, for tests of time limits. The fault applies to connections accepted after it is
/// set; dropping the endpoint closes every connection it holds.
pub struct FaultyEndpoint {
    endpoint: String,
    fault: std::sync::Arc<std::sync::Mutex<Fault>>,
    stop: tokio_util::sync::CancellationToken,
}

/// Connections one endpoint holds at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;

impl FaultyEndpoint {
    /// Listen on a free port, forwarding to `upstream` (`http://127.0.0.1:PORT`) with `fault`.
    pub async fn start(upstream: &str, fault: Fault) -> FaultyEndpoint {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("no port for the faulty endpoint: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("faulty endpoint address: {e}"))
            .port();
        let shared = std::sync::Arc::new(std::sync::Mutex::new(fault));
        let stop = tokio_util::sync::CancellationToken::new();
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let (fault_now, stopped) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let accepted = tokio::select! {
                    _ = stopped.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else { continue };
                let fault = *fault_now.lock().unwrap_or_else(|p| p.into_inner());
                let (upstream, stopped) = (upstream.clone(), stopped.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    tokio::select! {
                        _ = stopped.cancelled() => {}
                        () = serve(client, &upstream, fault) => {}
                    }
                });
            }
        });
        FaultyEndpoint {
            endpoint: format!("http://127.0.0.1:{port}"),
            fault: shared,
            stop,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Change the fault for connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }
}

impl Drop for FaultyEndpoint {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(mut client: tokio::net::TcpStream, upstream: &str, fault: Fault) {
    use tokio::io::AsyncReadExt as _;
    match fault {
        Fault::BlackHole => {
            // Read and drop whatever comes, never write: the client waits for an answer.
            let mut buf = [0u8; 8192];
            while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
            std::future::pending::<()>().await;
        }
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            forward(client, upstream).await;
        }
        Fault::None => forward(client, upstream).await,
    }
}

async fn forward(mut client: tokio::net::TcpStream, upstream: &str) {
    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}
