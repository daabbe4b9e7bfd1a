//! The command line: every subcommand and its flags (each command's own flags in its module),
//! and the parsers of the values they take.

use clap::{Parser, Subcommand};
use koppeltaal_host::Algorithm;
use koppeltaal_host::jwe::{ContentEncryption, KeyManagement};

use crate::{cmd, lint, probe, serve};

/// Koppeltaal 2.0 from the command line: HTI launches, SMART Backend Services tokens, JWKS.
#[derive(Parser)]
#[command(name = "koppeltaal", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Generate a private key and write it as PKCS#8 PEM; prints its kid (RFC 7638 thumbprint).
    Keygen(cmd::keys::KeygenArgs),
    /// Print the public JWKS of one or more private keys, with thumbprint kids.
    Jwks(cmd::keys::JwksArgs),
    /// Print a signed HTI launch token.
    Launch(cmd::launch::LaunchArgs),
    /// Print a SMART Backend Services client assertion.
    Assertion(cmd::launch::AssertionArgs),
    /// Verify HTI launch tokens: one given as an argument, or one per line from stdin (`-`).
    ///
    /// One token: its claims as JSON on stdout and exit status 0, or `error: <Name> (<code>):
    /// <message>` on stderr and exit status 1. With `-`: one JSON verdict per line on stdout,
    /// `{"ok":true,"claims":{...}}` or `{"ok":false,"error":...,"code":...,"message":...}`, for
    /// every line; then exit status 0 when every line passed, 1 when any was refused. Exit
    /// status 2 for usage errors.
    Verify(cmd::verify::VerifyArgs),
    /// Get an access token (client_credentials) and print the token response.
    Token(cmd::oauth::TokenArgs),
    /// Introspect a token (RFC 7662), authenticating with a client assertion whose `aud` is
    /// the token endpoint (as Koppeltaal's auth server demands); print the answer.
    Introspect(cmd::oauth::IntrospectArgs),
    /// Send a request to a FHIR server with an access token (client_credentials), refreshed
    /// once on a 401; print the response body.
    Fetch(cmd::oauth::FetchArgs),
    /// Run the launch gateway in front of a module: verifies HTI (and SHOF) launches, answers
    /// them or hands them to the application.
    ///
    /// `POST /launch` takes an HTI launch (form field `token`; signed, or encrypted with
    /// --decryption-key) and, with --redirect-uri, a SHOF launch (`iss` and `launch`). An
    /// accepted launch is answered as JSON, or with --upstream handed to the application, whose
    /// answer goes back to the browser; a refused one gets a page (or JSON) with its code. Also
    /// `GET /healthz`, the module's JWKS at `/.well-known/jwks.json` with --key, and
    /// `GET /metrics` on its own listener with --metrics-listen. One log line per launch
    /// outcome on stderr (--log-format). Every option is also a KOPPELTAAL_* environment
    /// variable, or a key of a --config file.
    Serve(Box<serve::ServeArgs>),
    /// A portal launches a module on loopback: keys, JWKS over HTTP, a launch, refusals, speed.
    Demo,
    /// Check a module's launch endpoint against HTI 2.0: act as a trusted portal, post it a
    /// battery of valid and broken launches, one at a time, and report what it did with each.
    /// Exit status 0 when every MUST holds, 1 when any fails.
    Probe(Box<probe::ProbeArgs>),
    /// Check a portal's launch (and its JWKS) against HTI 2.0 and Koppeltaal: every
    /// deviation, with its clause and severity. Exit status 0 when no MUST is broken, else 1.
    Lint(lint::LintArgs),
}

pub(crate) fn parse_key_management(name: &str) -> Result<KeyManagement, String> {
    KeyManagement::from_jose(name).map_err(|_| format!("`{name}` is not RSA-OAEP or RSA-OAEP-256"))
}

pub(crate) fn parse_content_encryption(name: &str) -> Result<ContentEncryption, String> {
    ContentEncryption::from_jose(name).map_err(|_| {
        format!("`{name}` is not A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM or A256GCM")
    })
}

pub(crate) fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_jose(name)
        .map_err(|_| format!("`{name}` is not one of RS256 RS384 RS512 ES256 ES384 ES512"))
}
