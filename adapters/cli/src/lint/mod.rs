//! `koppeltaal lint`: every deviation of a portal's launch (and of its JWKS) from HTI 2.0 and
//! Koppeltaal, each with its clause and severity.

mod jwks;
mod koppeltaal;
mod token;

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use koppeltaal_host::{Clock, HostError, SystemClock};
use serde_json::Value;

use crate::Failure;
use crate::findings::{Finding, Profile, report};
use jwks::{fetch, lint_document, lint_serving};
use token::lint_token;

/// Arguments of `lint`.
#[derive(Args)]
pub(crate) struct LintArgs {
    /// The portal's JWKS file: also checks the token's kid and signature against it.
    #[arg(long, conflicts_with = "jwks_url")]
    jwks: Option<PathBuf>,
    /// The portal's JWKS URL: also checks how it is served (https, Cache-Control, type).
    #[arg(long)]
    jwks_url: Option<String>,
    /// Lint as if the time were this (Unix seconds).
    #[arg(long)]
    now: Option<u64>,
    /// Which rules: `hti` (HTI 2.0 and the RFCs under it), or `koppeltaal`, which adds what
    /// Koppeltaal's authentication service demands (algorithms RS384, ES384 and RS512 only,
    /// `aud` a `Device/<id>` string, keys with `kid` and `use: sig`, `iat` without leeway).
    #[arg(long, value_enum, default_value = "hti")]
    profile: Profile,
    /// A launch token, or `-` to read one from stdin. Without a token, only the JWKS is linted.
    #[arg(required_unless_present_any = ["jwks", "jwks_url"])]
    token: Option<String>,
}

/// Runs the lint; `Ok(true)` when no MUST is broken.
pub(crate) fn run(args: LintArgs) -> Result<bool, Failure> {
    let mut findings: Vec<Finding> = Vec::new();
    let jwks = match (&args.jwks, &args.jwks_url) {
        (Some(path), _) => Some(parse_jwks(&std::fs::read(path)?)?),
        (None, Some(url)) => {
            let served = fetch(url, &mut findings)
                .map_err(|error| HostError::Unreachable(format!("{url}: {error}")))?;
            lint_serving(&served, &mut findings);
            Some(parse_jwks(&served.body)?)
        }
        (None, None) => None,
    };
    if let Some(jwks) = &jwks {
        lint_document(jwks, &mut findings);
    }
    let subject = match args.token.as_deref() {
        Some(token) => {
            let token = if token == "-" {
                let mut text = String::new();
                std::io::stdin().take(1 << 20).read_to_string(&mut text)?;
                text.trim().to_owned()
            } else {
                token.trim().to_owned()
            };
            let now = args.now.unwrap_or_else(|| SystemClock.now());
            findings.extend(lint_token(&token, jwks.as_ref(), now));
            if args.profile == Profile::Koppeltaal {
                findings.extend(koppeltaal::lint_profile(Some(&token), None, now));
            }
            "launch"
        }
        None => "JWKS",
    };
    if args.profile == Profile::Koppeltaal {
        findings.extend(koppeltaal::lint_profile(None, jwks.as_ref(), 0));
    }
    Ok(report(subject, &mut findings))
}

fn parse_jwks(bytes: &[u8]) -> Result<Value, HostError> {
    serde_json::from_slice(bytes)
        .map_err(|error| HostError::InvalidResponse(format!("the JWKS is not JSON: {error}")))
}
