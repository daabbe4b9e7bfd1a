//! panva's `oidc-provider` (npm, pinned in `tests/oidc/package-lock.json`) started on a
//! loopback port for a test, and stopped when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How the provider issues access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// RS512 JWTs (`typ: at+jwt`), verifiable with the provider's JWKS; not introspectable.
    Jwt,
    /// Opaque handles, for introspection.
    Opaque,
}

/// A running provider.
pub struct OidcProvider {
    child: Child,
    issuer: String,
}

/// The audience (resource) of the provider's access tokens.
pub const RESOURCE: &str = "https://fhir.example.org";

impl OidcProvider {
    /// Starts a provider that knows one client, `client_id`, with public keys `client_jwks`.
    ///
    /// Panics, saying how to fix it, when Node or the npm packages are missing: these tests
    /// are part of the suite, not optional.
    pub fn start(client_id: &str, client_jwks: &str, format: TokenFormat) -> OidcProvider {
        let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc");
        assert!(
            directory.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (.ci/run does)"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&directory)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_JWKS", client_jwks)
            .env(
                "TOKEN_FORMAT",
                if format == TokenFormat::Jwt {
                    "jwt"
                } else {
                    "opaque"
                },
            )
            .env("RESOURCE", RESOURCE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`node` runs (Node.js 20 or later is needed for the interop tests)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready, issuer) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("READY ") {
                    let _ = ready.send(issuer.to_owned());
                }
            }
        });
        match issuer.recv_timeout(Duration::from_secs(30)) {
            Ok(issuer) => OidcProvider { child, issuer },
            Err(_) => {
                let _ = child.kill();
                let mut errors = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut errors);
                }
                panic!("oidc-provider did not start within 30 s:\n{errors}");
            }
        }
    }

    /// The issuer (`http://127.0.0.1:<port>`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The introspection endpoint.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/token/introspection", self.issuer)
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
