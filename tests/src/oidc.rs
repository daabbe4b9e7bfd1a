//! panva's `oidc-provider` (npm, pinned in `tests/oidc/package-lock.json`) started on a
//! loopback port for a test, and stopped when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// Installs oidc-provider from `package-lock.json` (`npm ci`) on first use, once per process,
/// so that `cargo test --workspace` works on a fresh clone; `.ci/run` installs it beforehand.
/// Panics, saying how to fix it, when it cannot.
fn install(directory: &Path) {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if directory.join("node_modules/oidc-provider").is_dir() {
        return;
    }
    eprintln!("installing oidc-provider from tests/oidc/package-lock.json (npm ci), once");
    let installed = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(directory)
        .stdin(Stdio::null())
        .status();
    assert!(
        matches!(installed, Ok(status) if status.success())
            && directory.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider could not be installed ({installed:?}): run `npm ci --prefix tests/oidc` \
         (Node.js 20 and npm are needed for the interop tests)"
    );
}

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
    /// For the SHOF provider: the FHIR base URL whose SMART configuration points at it.
    fhir_base: Option<String>,
}

/// Who takes part in a SHOF launch through the provider started by [`OidcProvider::start_shof`].
pub struct ShofSetup<'a> {
    /// The module's client id.
    pub client_id: &'a str,
    /// The module's public JWKS (its client assertions verify with it).
    pub client_jwks: &'a str,
    /// The module's redirect URI (the only one registered).
    pub redirect_uri: &'a str,
    /// The portal's public JWKS (launch tokens verify with it).
    pub portal_jwks: &'a str,
    /// The portal's issuer (`iss` of the launch tokens).
    pub portal_issuer: &'a str,
    /// `Device/<id>`: the module, the launch tokens' `aud`.
    pub module_device: &'a str,
}

/// The audience (resource) of the provider's access tokens.
pub const RESOURCE: &str = "https://fhir.example.org";

impl OidcProvider {
    /// Starts a provider that knows one client, `client_id`, with public keys `client_jwks`.
    ///
    /// Panics, saying how to fix it, when Node or the npm packages are missing: these tests
    /// are part of the suite, not optional.
    pub fn start(client_id: &str, client_jwks: &str, format: TokenFormat) -> OidcProvider {
        let format = if format == TokenFormat::Jwt {
            "jwt"
        } else {
            "opaque"
        };
        Self::launch(
            "server.mjs",
            &[
                ("CLIENT_ID", client_id),
                ("CLIENT_JWKS", client_jwks),
                ("TOKEN_FORMAT", format),
                ("RESOURCE", RESOURCE),
            ],
        )
    }

    /// Starts the provider as the authorization server of SMART HTI on FHIR launches
    /// (`tests/oidc/shof.mjs`): authorization code with PKCE, `private_key_jwt`, RS512
    /// id_tokens with `fhirUser`, the `launch` parameter verified against the portal's keys,
    /// the launch context in the token response, the development login.
    pub fn start_shof(setup: &ShofSetup<'_>) -> OidcProvider {
        Self::launch(
            "shof.mjs",
            &[
                ("CLIENT_ID", setup.client_id),
                ("CLIENT_JWKS", setup.client_jwks),
                ("REDIRECT_URI", setup.redirect_uri),
                ("PORTAL_JWKS", setup.portal_jwks),
                ("PORTAL_ISSUER", setup.portal_issuer),
                ("MODULE_DEVICE", setup.module_device),
            ],
        )
    }

    fn launch(script: &str, environment: &[(&str, &str)]) -> OidcProvider {
        let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc");
        install(&directory);
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(&directory)
            .envs(environment.iter().copied())
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
            Ok(ready) => {
                let mut words = ready.split_whitespace();
                let issuer = words.next().unwrap_or_default().to_owned();
                let fhir_base = words.next().map(str::to_owned);
                OidcProvider {
                    child,
                    issuer,
                    fhir_base,
                }
            }
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

    /// The FHIR base URL of the SHOF provider (its SMART configuration names the provider).
    pub fn fhir_base(&self) -> String {
        self.fhir_base
            .clone()
            .expect("only the SHOF provider has a FHIR base")
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
