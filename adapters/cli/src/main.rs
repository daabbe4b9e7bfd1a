//! `koppeltaal`: keys, launches, client assertions, verification, access tokens,
//! introspection, a reference launch endpoint, conformance checks (`probe`, `lint`) and a demo, each a thin layer over
//! `koppeltaal-core` and `koppeltaal-host`.
//!
//! Exit status: 0 on success, 1 when the operation failed (`error: <Name> (<code>): <message>`
//! on stderr), a check (`probe`, `lint`) found a MUST broken, or `verify -` refused a line; 2
//! for usage errors.

#![forbid(unsafe_code)]

mod auth_server;
mod bait;
mod config;
mod demo;
mod findings;
mod forge;
mod lint;
mod lint_jwks;
mod lint_token;
mod output;
mod probe;
mod probe_battery;
mod serve;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use auth_server::AuthServerArgs;
use clap::{Parser, Subcommand};
use koppeltaal_core::{Algorithm, ContentEncryption, KeyManagement, LaunchToken};
use koppeltaal_host::{
    Clock, HostError, PrivateKey, SystemClock,
    fhir::FhirClient,
    keys::{PemFormat, jwks_document},
    oauth::{IntrospectionAuth, Introspector, TokenClient},
    random::os_rng,
};

/// Koppeltaal 2.0 from the command line: HTI launches, SMART Backend Services tokens, JWKS.
#[derive(Parser)]
#[command(name = "koppeltaal", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a private key and write it as PKCS#8 PEM; prints its kid (RFC 7638 thumbprint).
    Keygen {
        /// The algorithm the key is for: RS256, RS384, RS512 (RSA) or ES256, ES384, ES512 (EC).
        #[arg(long, default_value = "RS512", value_parser = parse_algorithm)]
        alg: Algorithm,
        /// RSA modulus length: 2048, 3072 or 4096.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// Where to write the key (must not exist; created readable by its owner only).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public JWKS of one or more private keys, with thumbprint kids.
    Jwks {
        /// A PEM private key file (PKCS#8, PKCS#1 or SEC1); repeat for more keys.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// What the keys are for: `sig` (verifying signatures; the default) or `enc` (a
        /// module's keys that portals encrypt launches to; RSA only).
        #[arg(long = "use", default_value = "sig", value_parser = ["sig", "enc"])]
        key_use: String,
        /// With `--use enc`: the key management algorithm published as `alg`.
        #[arg(long, default_value = "RSA-OAEP-256", value_parser = parse_key_management)]
        key_alg: KeyManagement,
    },
    /// Print a signed HTI launch token.
    Launch {
        /// The portal's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// `iss`: the portal.
        #[arg(long)]
        issuer: String,
        /// `aud`: the module, e.g. Device/42.
        #[arg(long)]
        audience: String,
        /// `sub`: the person launching, e.g. Practitioner/123.
        #[arg(long)]
        sub: String,
        /// `resource`: the Task, e.g. Task/11.
        #[arg(long)]
        resource: String,
        /// `definition`: the ActivityDefinition's canonical URL.
        #[arg(long)]
        definition: String,
        /// `patient`, when `sub` is not the patient.
        #[arg(long)]
        patient: Option<String>,
        /// `intent`, a FHIR RequestIntent code such as `plan`.
        #[arg(long)]
        intent: Option<String>,
        /// `idp_hint` (Koppeltaal): the identity provider the module should send the user to.
        #[arg(long)]
        idp_hint: Option<String>,
        /// Seconds until `exp` (at most 300).
        #[arg(long, default_value_t = LaunchToken::DEFAULT_LIFETIME)]
        lifetime: u64,
        /// Print this many launches (each with its own jti), one per line: for load tests.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Issue at this time (Unix seconds) instead of now: for reproducible test data.
        #[arg(long)]
        now: Option<u64>,
        /// Encrypt the launch (HTI:jwe) to this module key: its JWKS (the `use: enc` key) or a
        /// PEM public key.
        #[arg(long, value_name = "FILE")]
        encrypt_to: Option<PathBuf>,
        /// With --encrypt-to: RSA-OAEP or RSA-OAEP-256 (default: the JWK's `alg`, else
        /// RSA-OAEP-256). Portals today send RSA-OAEP.
        #[arg(long, requires = "encrypt_to", value_parser = parse_key_management)]
        key_alg: Option<KeyManagement>,
        /// With --encrypt-to: the content encryption, A128CBC-HS256, A192CBC-HS384,
        /// A256CBC-HS512, A128GCM, A192GCM or A256GCM. Portals today send A128CBC-HS256.
        #[arg(long, requires = "encrypt_to", default_value = "A256GCM", value_parser = parse_content_encryption)]
        enc: ContentEncryption,
    },
    /// Print a SMART Backend Services client assertion.
    Assertion {
        /// The client's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// The client id (`iss` and `sub`).
        #[arg(long)]
        client_id: String,
        /// The token endpoint (`aud`).
        #[arg(long)]
        token_endpoint: String,
    },
    /// Verify HTI launch tokens: one given as an argument, or one per line from stdin (`-`).
    ///
    /// One token: its claims as JSON on stdout and exit status 0, or `error: <Name> (<code>):
    /// <message>` on stderr and exit status 1. With `-`: one JSON verdict per line on stdout,
    /// `{"ok":true,"claims":{...}}` or `{"ok":false,"error":...,"code":...,"message":...}`, for
    /// every line; then exit status 0 when every line passed, 1 when any was refused. Exit
    /// status 2 for usage errors.
    Verify(verify::VerifyArgs),
    /// Get an access token (client_credentials) and print the token response.
    Token {
        /// The client's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// The client id.
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        server: AuthServerArgs,
        /// The scope to ask for (by default none: the server decides).
        #[arg(long)]
        scope: Option<String>,
    },
    /// Introspect a token (RFC 7662), authenticating with a client assertion whose `aud` is
    /// the token endpoint (as Koppeltaal's auth server demands); print the answer.
    Introspect {
        /// The client's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// The client id.
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        server: AuthServerArgs,
        /// The introspection endpoint (default: the `introspection_endpoint` the server
        /// advertises in its `.well-known/smart-configuration`).
        #[arg(long)]
        endpoint: Option<String>,
        /// The token to introspect.
        token: String,
    },
    /// Send a request to a FHIR server with an access token (client_credentials), refreshed
    /// once on a 401; print the response body.
    Fetch {
        /// The client's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// The client id.
        #[arg(long)]
        client_id: String,
        /// The token endpoint.
        #[arg(long)]
        token_endpoint: String,
        /// The HTTP method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// A file with the request body (FHIR JSON); `-` reads stdin.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The URL.
        url: String,
    },
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

/// An introspector for `client`'s auth server: at `endpoint`, or else at the endpoint the
/// server advertises; the assertions addressed to the token endpoint.
pub(crate) fn introspector(
    client: TokenClient,
    endpoint: Option<&str>,
) -> Result<Introspector, Failure> {
    Ok(match endpoint {
        Some(endpoint) => {
            let http = client.http().clone();
            let auth = IntrospectionAuth::ClientAssertion {
                client,
                audience: None,
            };
            Introspector::new(endpoint, auth, http)?
        }
        None => Introspector::for_client(&client)?,
    })
}

fn parse_key_management(name: &str) -> Result<KeyManagement, String> {
    KeyManagement::from_jose(name).map_err(|_| format!("`{name}` is not RSA-OAEP or RSA-OAEP-256"))
}

fn parse_content_encryption(name: &str) -> Result<ContentEncryption, String> {
    ContentEncryption::from_jose(name).map_err(|_| {
        format!("`{name}` is not A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM or A256GCM")
    })
}

fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_jose(name)
        .map_err(|_| format!("`{name}` is not one of RS256 RS384 RS512 ES256 ES384 ES512"))
}

/// A failure: printed as `error: <Name> (<code>): <message>`, exit status 1.
pub(crate) struct Failure {
    name: &'static str,
    code: u16,
    message: String,
}

impl From<HostError> for Failure {
    fn from(error: HostError) -> Self {
        Failure {
            name: error.name(),
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl From<koppeltaal_core::Error> for Failure {
    fn from(error: koppeltaal_core::Error) -> Self {
        HostError::Core(error).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        HostError::Io(error).into()
    }
}

fn main() -> ExitCode {
    let arguments = match config::expand(std::env::args_os().collect()) {
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
        Command::Keygen { alg, bits, out } => {
            let key = match alg.is_rsa() {
                true => PrivateKey::generate_rsa(alg, bits)?,
                false => PrivateKey::generate(alg)?,
            };
            key.write_pem_file(&out, PemFormat::Pkcs8)?;
            println!("{}", key.key_id()?);
        }
        Command::Jwks {
            keys,
            key_use,
            key_alg,
        } => {
            let keys = keys
                .iter()
                .map(PrivateKey::read_pem_file)
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&PrivateKey> = keys.iter().collect();
            let document = match key_use.as_str() {
                "enc" => koppeltaal_host::jwe::jwks_encryption_document(&refs, key_alg)?,
                _ => jwks_document(&refs)?,
            };
            println!("{document}");
        }
        Command::Launch {
            key,
            issuer,
            audience,
            sub,
            resource,
            definition,
            patient,
            intent,
            idp_hint,
            lifetime,
            count,
            now,
            encrypt_to,
            key_alg,
            enc,
        } => {
            let recipient = encrypt_to
                .map(|path| {
                    koppeltaal_host::jwe::recipient_public_key(&std::fs::read(path)?, key_alg)
                })
                .transpose()?;
            let signer = PrivateKey::read_pem_file(key)?.signer()?;
            let mut launch = LaunchToken::new(
                &issuer,
                &audience,
                &sub,
                &resource,
                &definition,
                now.unwrap_or_else(|| SystemClock.now()),
            )?
            .with_lifetime(lifetime)?;
            if let Some(patient) = &patient {
                launch = launch.with_patient(patient)?;
            }
            if let Some(intent) = &intent {
                launch = launch.with_intent(intent)?;
            }
            if let Some(idp_hint) = &idp_hint {
                launch = launch.with_idp_hint(idp_hint)?;
            }
            for _ in 0..count {
                let jti = koppeltaal_host::random::new_jti();
                let token = launch
                    .with_token_id(&jti)?
                    .sign_to_string(signer.as_ref(), &mut os_rng())?;
                match &recipient {
                    Some(recipient) => {
                        println!(
                            "{}",
                            koppeltaal_host::jwe::encrypt_launch(&token, recipient, enc)?
                        )
                    }
                    None => println!("{token}"),
                }
            }
        }
        Command::Assertion {
            key,
            client_id,
            token_endpoint,
        } => {
            let signer = PrivateKey::read_pem_file(key)?.signer()?;
            let client = TokenClient::builder(&client_id, signer)
                .token_endpoint(&token_endpoint)
                .build()?;
            println!("{}", client.client_assertion(&token_endpoint)?);
        }
        Command::Verify(args) => return verify::run(args),
        Command::Token {
            key,
            client_id,
            server,
            scope,
        } => {
            let mut builder = server.client_builder(&key, &client_id)?;
            if let Some(scope) = &scope {
                builder = builder.scope(scope);
            }
            println!("{}", builder.build()?.request_token()?.response);
        }
        Command::Introspect {
            key,
            client_id,
            server,
            endpoint,
            token,
        } => {
            let client = server.client(&key, &client_id)?;
            let introspector = introspector(client, endpoint.as_deref())?;
            let answer = introspector.introspect(&token)?;
            let mut object = answer.claims;
            object.insert("active".into(), answer.active.into());
            println!("{}", serde_json::Value::Object(object));
        }
        Command::Fetch {
            key,
            client_id,
            token_endpoint,
            method,
            data,
            url,
        } => {
            let signer = PrivateKey::read_pem_file(key)?.signer()?;
            let tokens = TokenClient::builder(&client_id, signer)
                .token_endpoint(&token_endpoint)
                .build()?;
            let body = match data {
                Some(path) if path.as_os_str() == "-" => {
                    let mut body = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)?;
                    Some(body)
                }
                Some(path) => Some(std::fs::read(path)?),
                None => None,
            };
            let client = FhirClient::new(tokens);
            let response = client.send(&method.to_ascii_uppercase(), &url, body.as_deref())?;
            std::io::Write::write_all(&mut std::io::stdout(), &response.body)?;
            if !response.body.ends_with(b"\n") {
                println!();
            }
        }
        Command::Serve(args) => serve::run(*args)?,
        Command::Demo => demo::run()?,
        Command::Probe(args) => return probe::run(*args),
        Command::Lint(args) => return lint::run(args),
    }
    Ok(true)
}
