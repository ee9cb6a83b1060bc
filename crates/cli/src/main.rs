//! `aero2`: manage Aero2 API keys and the audit log, and scan files for leaked keys.
//!
//! Credentials come from the environment or a file, never from arguments ([`guard`]);
//! standard output carries only what scripts consume; every failure has its own exit
//! status ([`exit`]).

mod api;
mod audit;
mod checkpoint;
mod cli;
mod confirm;
mod credentials;
mod exit;
mod guard;
mod keys;
mod scan;
mod units;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use exit::{Exit, Failure};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Before clap sees them: a key must not even reach an error message.
    if let Err(failure) = guard::check_arguments(&args) {
        return fail(&failure);
    }
    let cli = Cli::parse_from(args);
    match run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(failure) => fail(&failure),
    }
}

fn run(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Command::Keys(command) => keys::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Scan(args) => scan::run(&args),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "aero2", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
    }
}

fn fail(failure: &Failure) -> ExitCode {
    eprintln!("aero2: error: {}", failure.message);
    ExitCode::from(failure.exit.code())
}
