//! `koppeltaal verify`.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use koppeltaal_core::{Algorithm, HtiLaunch, Policy};
use koppeltaal_host::LaunchError;
use koppeltaal_host::{
    Clock, LaunchReceiver, SystemClock, clock::FixedClock, replay::MemoryReplayStore,
};
use serde_json::{Value, json};

use crate::Failure;
use crate::flags::parse_algorithm;
use crate::receiving::{key_source, policy, with_decryption_keys};

/// Arguments of `verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// A JWKS file with the issuer's keys.
    #[arg(
        long,
        conflicts_with = "jwks_url",
        required_unless_present = "jwks_url"
    )]
    jwks: Option<PathBuf>,
    /// A URL to fetch the issuer's JWKS from.
    #[arg(long)]
    jwks_url: Option<String>,
    /// The trusted issuer (`iss`), compared exactly.
    #[arg(long)]
    issuer: String,
    /// This module's audience, e.g. Device/42.
    #[arg(long)]
    audience: String,
    /// Also accept this algorithm (RS512 always is); repeatable.
    #[arg(long = "alg", value_parser = parse_algorithm)]
    algorithms: Vec<Algorithm>,
    /// Verify as if the time were this (Unix seconds), for reproducible checks.
    #[arg(long)]
    now: Option<u64>,
    /// Clock leeway in seconds.
    #[arg(long, default_value_t = Policy::DEFAULT_LEEWAY)]
    leeway: u64,
    /// Decrypt encrypted launches (HTI:jwe) with this private key (PEM, RSA); repeatable.
    #[arg(long = "decryption-key", value_name = "FILE")]
    decryption_keys: Vec<PathBuf>,
    /// The token, or `-` to read one token per line from stdin (one replay guard for all
    /// lines; blank lines are skipped).
    token: String,
}

/// Verifies the token, or each line of stdin: `Ok(false)` (exit status 1) when a line was
/// refused, after every line's verdict is printed.
pub(crate) fn run(args: VerifyArgs) -> Result<bool, Failure> {
    let clock: Arc<dyn Clock> = match args.now {
        Some(now) => Arc::new(FixedClock::new(now)),
        None => Arc::new(SystemClock),
    };
    let keys = key_source(
        &args.issuer,
        args.jwks.as_ref(),
        args.jwks_url.as_deref(),
        Arc::clone(&clock),
    )?;
    let policy = policy(&args.audience, &args.algorithms, args.leeway)?;
    let builder = LaunchReceiver::builder(policy)
        .keys(keys)
        .replay(MemoryReplayStore::new(1 << 16))
        .clock(clock);
    let receiver = with_decryption_keys(builder, &args.decryption_keys)?.build()?;
    if args.token != "-" {
        // The exact bytes, as a module's form handler would receive them: a token with a
        // stray space is refused there, so it is refused here.
        return match receiver.receive_token(&args.token) {
            Ok(launch) => {
                println!("{}", launch_claims(&launch));
                Ok(true)
            }
            Err(error) => Err(Failure {
                name: error.name(),
                code: error.code(),
                message: error.reason().to_string(),
            }),
        };
    }
    // `lines` strips the line terminator (LF or CRLF) and nothing else.
    let mut all_passed = true;
    for line in std::io::stdin().lock().lines() {
        let token = line?;
        if token.is_empty() {
            continue;
        }
        let outcome = receiver.receive_token(&token);
        all_passed &= outcome.is_ok();
        println!("{}", verdict(&outcome));
    }
    Ok(all_passed)
}

/// The claims of a verified launch.
fn launch_claims(launch: &HtiLaunch) -> Value {
    koppeltaal_host::launch::launch_json(launch)
}

/// One line of `verify -` output.
fn verdict(outcome: &Result<HtiLaunch, LaunchError>) -> Value {
    match outcome {
        Ok(launch) => json!({"ok": true, "claims": launch_claims(launch)}),
        Err(error) => json!({
            "ok": false,
            "error": error.name(),
            "code": error.code(),
            "message": error.reason().to_string(),
        }),
    }
}
