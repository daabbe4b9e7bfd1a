//! `koppeltaal`: keys, launches, client assertions, verification, access tokens,
//! introspection, a reference launch endpoint, conformance checks (`probe`, `lint`) and a demo, each a thin layer over
//! `koppeltaal-core` and `koppeltaal-host`.
//!
//! Exit status: 0 on success, 1 when the operation failed (`error: <Name> (<code>): <message>`
//! on stderr), a check (`probe`, `lint`) found a MUST broken, or `verify -` refused a line; 2
//! for usage errors.

#![forbid(unsafe_code)]

mod cmd;
mod failure;
mod findings;
mod flags;
mod lint;
mod probe;
mod receiving;
mod serve;

use std::process::ExitCode;

use clap::Parser;

pub(crate) use failure::Failure;
use flags::{Cli, Command};

fn main() -> ExitCode {
    let arguments = match serve::config::expand(std::env::args_os().collect()) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(arguments);
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(failure) => {
            eprintln!(
                "error: {} ({}): {}",
                failure.name, failure.code, failure.message
            );
            ExitCode::from(1)
        }
    }
}

/// Runs `command`: `Ok(false)` for a check that found its subject wanting (exit status 1).
fn run(command: Command) -> Result<bool, Failure> {
    match command {
        Command::Keygen(args) => cmd::keys::keygen(args)?,
        Command::Jwks(args) => cmd::keys::jwks(args)?,
        Command::Launch(args) => cmd::launch::launch(args)?,
        Command::Assertion(args) => cmd::launch::assertion(args)?,
        Command::Verify(args) => return cmd::verify::run(args),
        Command::Token(args) => cmd::oauth::token(args)?,
        Command::Introspect(args) => cmd::oauth::introspect(args)?,
        Command::Fetch(args) => cmd::oauth::fetch(args)?,
        Command::Serve(args) => serve::run(*args)?,
        Command::Demo => cmd::demo::run()?,
        Command::Probe(args) => return probe::run(*args),
        Command::Lint(args) => return lint::run(args),
    }
    Ok(true)
}
