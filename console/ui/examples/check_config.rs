//! Checks UI config and theme files the way the console will load them, printing the first error:
//! `cargo run --example check_config -- [--theme] FILE...`.

use std::path::Path;
use std::process::ExitCode;

use ui::{ThemeSet, UiConfig};

fn main() -> ExitCode {
    let mut theme = false;
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        if arg == "--theme" {
            theme = true;
            continue;
        }
        let path = Path::new(&arg);
        let result = if theme {
            ThemeSet::builtin().load_file(path).map(|_| ())
        } else {
            UiConfig::load(path).map(|_| ())
        };
        match result {
            Ok(()) => println!("{}: ok", path.display()),
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
