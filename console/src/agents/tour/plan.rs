//! What the demo settles before the tour starts: the fleet settings it needs, and where its
//! captions go (the console's screen, or printed lines).

use super::*;

/// The tour's warm-up when the operator gives none: new instances count after 10 s.
pub const WARMUP_S: u64 = 10;
/// The tour's scale-in cooldown when the operator gives none.
pub const COOLDOWN_S: u64 = 30;

/// The demo's fleet settings with the tour's short timings, unless the operator gave theirs.
/// The tour needs the fleet and its autoscaler: without them there is no story to tell.
pub fn fleet_args(args: &FleetArgs) -> anyhow::Result<FleetArgs> {
    if args.no_fleet {
        anyhow::bail!("--tour needs the local fleet (the story is its processes): drop --no-fleet");
    }
    if args.no_autoscaler {
        anyhow::bail!("--tour shows the autoscaler scaling the worker group: drop --no-autoscaler");
    }
    let mut args = args.clone();
    args.warmup.get_or_insert(WARMUP_S);
    args.cooldown.get_or_insert(COOLDOWN_S);
    Ok(args)
}

/// A tour the demo is to tell, settled before anything starts: the fleet settings it runs
/// with.
pub struct Plan {
    fleet_args: FleetArgs,
}

/// The tour for a demo started with `args`, or why it cannot be told.
pub fn plan(args: &FleetArgs) -> anyhow::Result<Plan> {
    Ok(Plan {
        fleet_args: fleet_args(args)?,
    })
}

impl Plan {
    /// The fleet settings the demo runs with.
    pub fn fleet_args(&self) -> &FleetArgs {
        &self.fleet_args
    }

    /// Tells the tour in the demo's console: a feed, whose captions with a result each wait
    /// until the console has drawn them.
    pub fn attach(
        &self,
        setup: &mut crate::tui::Setup,
        clients: &Clients,
        stack: &Stack,
        fleet: &LocalFleet,
        target: &crate::cli::args::Target,
    ) {
        let (shown_tx, shown) = watch::channel(None);
        setup.captions = Some(shown_tx);
        let tour = Tour {
            shown: Some(shown),
            ..Tour::for_fleet(clients, stack, fleet, &self.fleet_args, target, "q quits")
        };
        setup.extras.feeds.push(tour.feed());
    }

    /// Tells the tour without a console: captions printed as lines.
    pub fn printed(
        &self,
        clients: &Clients,
        stack: &Stack,
        fleet: &LocalFleet,
        target: &crate::cli::args::Target,
    ) -> Printed {
        Printed::start(Tour::for_fleet(
            clients,
            stack,
            fleet,
            &self.fleet_args,
            target,
            "Ctrl-C stops everything",
        ))
    }
}
