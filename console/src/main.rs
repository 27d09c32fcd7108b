//! `flightdeck`: the operator's terminal. This file parses the command line, sets up logging
//! and prints a failure as its one line and exit code. The operations themselves (connecting,
//! watching, the DLQ engine, scaling, the audit log, jobs) are the `ops` crate; the front ends
//! are `cli/` (headless commands), `tui.rs` (the live console's loop) and `agents/`.

mod agents;
mod cli;
mod demo;
mod editor;
mod framelog;
mod local;
mod logging;
mod synth;
mod tui;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{headless, Cli, Command};

fn main() -> ExitCode {
    framelog::mark_start();
    let cli = Cli::parse();
    logging::init(owns_terminal(&cli));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(cli.command, None | Some(Command::Ui)) {
        // The live console draws on this thread and its agents wait on the network: one
        // worker thread serves them all, and a worker per core only adds wake-ups between
        // threads to its idle cost (bench/console.sh). `flightdeck load run` and the demo
        // keep a worker per core.
        builder.worker_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flightdeck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<headless::Exit>() {
                if !exit.message.is_empty() {
                    eprintln!("flightdeck: {}", exit.message);
                }
                return ExitCode::from(exit.code);
            }
            eprintln!("flightdeck: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether this command draws a TUI (the console, or the demo's console on a terminal): its
/// log then goes to a file, as anything on stderr would be written over the screen.
fn owns_terminal(cli: &Cli) -> bool {
    use std::io::IsTerminal as _;
    let tui = match &cli.command {
        None | Some(Command::Ui) => true,
        Some(Command::Demo { no_tui, .. }) => !no_tui,
        Some(_) => false,
    };
    tui && std::io::stdout().is_terminal()
}
