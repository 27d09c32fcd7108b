//! `flightdeck demo --tour` in a build without the `full` feature (`cargo install --path
//! console --no-default-features`): the tour watches the local fleet's database through
//! `store` (sqlx), which this build leaves out. The demo refuses `--tour` before anything
//! starts and says how to get it; the rest of the demo and every other command are the same.
//! The items mirror `tour.rs`'s, and none can exist here: [`plan`] never makes a [`Plan`].

use stack::{Clients, Stack};

use crate::cli::FleetArgs;
use crate::local::LocalFleet;

/// What the refusal says.
pub const NO_TOUR: &str = "this build of flightdeck has no demo tour: it was built without the `full` feature, which reads the demo's database; run `flightdeck demo` without --tour, or install the full build with `cargo install --locked --path console`";

/// No tour can be planned in this build.
pub enum Plan {}

/// Refuses the tour, saying how to get it.
pub fn plan(_args: &FleetArgs) -> anyhow::Result<Plan> {
    anyhow::bail!(NO_TOUR)
}

impl Plan {
    pub fn fleet_args(&self) -> &FleetArgs {
        match *self {}
    }

    pub fn attach(
        &self,
        _setup: &mut crate::tui::Setup,
        _clients: &Clients,
        _stack: &Stack,
        _fleet: &LocalFleet,
        _target: &crate::cli::Target,
    ) {
        match *self {}
    }

    pub fn printed(
        &self,
        _clients: &Clients,
        _stack: &Stack,
        _fleet: &LocalFleet,
        _target: &crate::cli::Target,
    ) -> Printed {
        match *self {}
    }
}

/// No printed tour runs in this build.
pub enum Printed {}

impl Printed {
    pub async fn stop(self) {
        match self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tour_is_refused_with_what_to_do() {
        let Err(e) = plan(&FleetArgs::default());
        let e = e.to_string();
        assert!(e.contains("without --tour"), "{e}");
        assert!(e.contains("cargo install --locked --path console"), "{e}");
    }
}
