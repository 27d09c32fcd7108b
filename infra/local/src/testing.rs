//! Test harness: each test gets its own emulator on a free port, with the stack provisioned,
//! so tests depend neither on each other nor on a running service.

use stack::{Clients, Stack};

use crate::{aws_options, provision, Emulator, Installation};

/// A private local cloud for one test. Dropping it stops the emulator.
pub struct TestCloud {
    pub emulator: Emulator,
    pub clients: Clients,
    pub stack: Stack,
}

impl TestCloud {
    /// A fresh emulator with nothing in it.
    pub async fn empty() -> TestCloud {
        let install = Installation::ensure(&crate::paths::cache_dir())
            .unwrap_or_else(|e| panic!("the test emulator is not available: {e}"));
        let emulator = Emulator::start(&install, None)
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
        let cloud = TestCloud::empty().await;
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
        self.emulator = Emulator::start(&install, Some(port))
            .await
            .unwrap_or_else(|e| panic!("the test emulator did not restart on {port}: {e}"));
        provision(&self.clients, &self.stack)
            .await
            .unwrap_or_else(|e| panic!("provisioning the restarted emulator failed: {e}"));
    }
}
