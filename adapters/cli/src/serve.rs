//! `koppeltaal serve`: a reference module-side launch endpoint.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use koppeltaal_core::Algorithm;
use koppeltaal_host::{
    Clock, HostError, HttpOptions, JournalOptions, JournalReplayStore, KeyCacheOptions, KeySource,
    LaunchReceiver, MemoryReplayStore, NonceCheck, PrivateKey, RedisFailure, RedisOptions,
    RedisReplayStore, RemoteKeys, ReplayStore, ShofLauncher, ShofOptions, SystemClock, TokenClient,
    jwks_document,
};

use crate::endpoint::{Endpoint, LogFormat, log_line};
use crate::gateway::Upstream;
use crate::http_server::{HttpServer, Limits, Request};
use crate::shof_endpoint::ShofEndpoint;
use crate::verify::{key_source, policy, with_decryption_keys};
use crate::{Failure, introspector, parse_algorithm};

/// Arguments of `serve`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("check").required(true).args(["jwks", "jwks_url", "introspect"]))]
#[command(group = clap::ArgGroup::new("auth_server").multiple(false).args(["token_endpoint", "fhir_base"]))]
pub(crate) struct ServeArgs {
    /// Read the options from this TOML file: `listen = "0.0.0.0:8080"`, `jwks-url = "..."`,
    /// `fhir-server = ["...", "..."]`, `skip-nonce-check = true`, ... (each key a flag of this
    /// command, `_` or `-`); flags on the command line override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Verify with the keys of this JWKS file.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// Verify with keys fetched from this JWKS URL (cached, refreshed on rotation).
    #[arg(long)]
    jwks_url: Option<String>,
    /// Let the auth server vouch for each launch by token introspection (needs --key,
    /// --client-id and --token-endpoint or --fhir-base). The introspection endpoint is the one
    /// given here, or else the one the server advertises.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "URL",
          requires_all = ["key", "client_id", "auth_server"])]
    introspect: Option<String>,
    /// The auth server's token endpoint (for introspection): the `aud` of the assertions.
    #[arg(long, requires = "introspect")]
    token_endpoint: Option<String>,
    /// A FHIR base URL to discover the auth server's endpoints from (for introspection).
    #[arg(long, requires = "introspect")]
    fhir_base: Option<String>,
    /// This module's client id (for introspection and SHOF launches).
    #[arg(long)]
    client_id: Option<String>,
    /// Also receive SMART HTI on FHIR (SHOF) launches (a form with `iss` and `launch`), with
    /// the browser sent back to this URI, whose path this server then answers (needs --key,
    /// --client-id and --fhir-server).
    #[arg(long, requires_all = ["key", "client_id", "fhir_servers"])]
    redirect_uri: Option<String>,
    /// A FHIR server a SHOF launch may name as `iss` (repeatable); any other is refused.
    #[arg(long = "fhir-server", value_name = "URL", requires = "redirect_uri")]
    fhir_servers: Vec<String>,
    /// For SHOF: do not require the id_token's `nonce` to be the one sent. Only for an
    /// authorization server that does not echo it (Koppeltaal's authentication service as of
    /// e6383ae4 puts its own random nonce there); PKCE and the browser-bound state still hold.
    #[arg(long, requires = "redirect_uri")]
    skip_nonce_check: bool,
    /// This module's private key: signs client assertions (introspection, SHOF), and its public
    /// half is published at /.well-known/jwks.json.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Decrypt encrypted launches (HTI:jwe) with this private key (PEM, RSA); repeatable.
    #[arg(long = "decryption-key", value_name = "FILE")]
    decryption_keys: Vec<PathBuf>,
    /// The trusted issuer (`iss`), compared exactly.
    #[arg(long)]
    issuer: String,
    /// This module's audience, e.g. Device/42.
    #[arg(long)]
    audience: String,
    /// Also accept this algorithm (RS512 always is); repeatable.
    #[arg(long = "alg", value_parser = parse_algorithm)]
    algorithms: Vec<Algorithm>,
    /// Clock leeway in seconds.
    #[arg(long, default_value_t = koppeltaal_core::Policy::DEFAULT_LEEWAY)]
    leeway: u64,
    /// Remember accepted launches in this journal, so a restart opens no replay window
    /// (without it, and without --replay-store, they are remembered in memory only).
    #[arg(long, conflicts_with = "replay_store")]
    replay_journal: Option<PathBuf>,
    /// Share accepted launches with other instances through Redis (`redis://host:port/db`):
    /// a launch replayed to another instance is refused too. When Redis is unavailable,
    /// launches are refused (code 913) unless --redis-fallback-memory is given.
    #[arg(long)]
    replay_store: Option<String>,
    /// While Redis is unavailable, check launches against this instance's memory instead of
    /// refusing them (a replay to another instance then goes unnoticed).
    #[arg(long, requires = "replay_store")]
    redis_fallback_memory: bool,
    /// How many unexpired launches the replay store holds.
    #[arg(long, default_value_t = 1 << 16)]
    replay_capacity: usize,
    /// Requests handled at once (connections still reading their request do not count).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Seconds a client may take to send its whole request (head and body); a slower one is
    /// answered 408 and cut off.
    #[arg(long, default_value_t = 10)]
    request_deadline: u64,
    /// Connections open at once; more are answered 503 at once.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Connections open at once from one client address; 0 for no limit (behind a load
    /// balancer or reverse proxy every connection has its address: use 0 there).
    #[arg(long, default_value_t = 32)]
    max_connections_per_client: usize,
    /// Hand every accepted launch to this application (`POST`, JSON) and relay its answer to
    /// the browser: a gateway in front of the module application.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Sign what is handed to the application with the secret in this file (HMAC-SHA256 over
    /// the timestamp and the body, header `X-Koppeltaal-Signature: t=...,v1=...`).
    #[arg(long, value_name = "FILE", requires = "upstream")]
    upstream_secret: Option<PathBuf>,
    /// Seconds the application has to answer a hand-off (then 504).
    #[arg(long, default_value_t = 10, requires = "upstream")]
    upstream_timeout: u64,
    /// How each launch is logged on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Seconds requests in flight may take to finish after SIGTERM or SIGINT.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let policy = policy(&args.audience, &args.algorithms, args.leeway)?;
    let replay: Arc<dyn ReplayStore> = match (&args.replay_journal, &args.replay_store) {
        (Some(path), _) => Arc::new(JournalReplayStore::open(
            path,
            JournalOptions {
                capacity: args.replay_capacity,
                sync: false,
            },
        )?),
        (None, Some(url)) => {
            let on_failure = match args.redis_fallback_memory {
                true => {
                    RedisFailure::FallBackTo(Arc::new(MemoryReplayStore::new(args.replay_capacity)))
                }
                false => RedisFailure::FailClosed,
            };
            Arc::new(RedisReplayStore::new(
                url,
                RedisOptions {
                    on_failure,
                    ..RedisOptions::default()
                },
            )?)
        }
        (None, None) => Arc::new(MemoryReplayStore::new(args.replay_capacity)),
    };
    let key = args
        .key
        .as_ref()
        .map(PrivateKey::read_pem_file)
        .transpose()?;
    let mut remote_keys = None;
    let receiver = match (&args.introspect, &key, &args.client_id) {
        (Some(endpoint), Some(key), Some(client_id)) => {
            let builder = TokenClient::builder(client_id, key.signer(None)?);
            let builder = match (&args.token_endpoint, &args.fhir_base) {
                (Some(endpoint), _) => builder.token_endpoint(endpoint),
                (None, Some(base)) => builder.fhir_base(base),
                (None, None) => unreachable!("clap requires one of them"),
            };
            let endpoint = Some(endpoint.as_str()).filter(|url| !url.is_empty());
            let introspector = introspector(Arc::new(builder.build()?), endpoint)?;
            let builder = LaunchReceiver::builder(policy)
                .introspection(introspector)
                .issuer(&args.issuer)
                .replay(replay)
                .clock(clock);
            with_decryption_keys(builder, &args.decryption_keys)?.build()?
        }
        _ => {
            let keys: Arc<dyn KeySource> = match &args.jwks_url {
                Some(url) => {
                    let remote = Arc::new(
                        RemoteKeys::new(
                            HttpOptions::default(),
                            KeyCacheOptions::default(),
                            Arc::clone(&clock),
                        )
                        .with_issuer(&args.issuer, url)?,
                    );
                    remote_keys = Some(Arc::clone(&remote));
                    remote
                }
                None => key_source(&args.issuer, args.jwks.as_ref(), None, Arc::clone(&clock))?,
            };
            let builder = LaunchReceiver::builder(policy)
                .keys(keys)
                .replay(replay)
                .clock(clock);
            with_decryption_keys(builder, &args.decryption_keys)?.build()?
        }
    };
    let own_jwks = key.as_ref().map(|key| jwks_document(&[key])).transpose()?;
    let shof = match (&args.redirect_uri, &key, &args.client_id) {
        (Some(redirect_uri), Some(key), Some(client_id)) => {
            let Some((return_path, loopback)) = ShofEndpoint::parts_of(redirect_uri) else {
                return Err(HostError::InvalidUrl(redirect_uri.clone()).into());
            };
            let servers: Vec<&str> = args.fhir_servers.iter().map(String::as_str).collect();
            let mut options = ShofOptions::new(client_id, redirect_uri, &servers);
            if args.skip_nonce_check {
                options.nonce = NonceCheck::NotEchoed;
            }
            Some(ShofEndpoint {
                launcher: ShofLauncher::new(options, key.signer(None)?),
                return_path,
                secure_cookie: !loopback,
            })
        }
        _ => None,
    };
    let upstream = match &args.upstream {
        Some(url) => {
            let secret = args
                .upstream_secret
                .as_ref()
                .map(std::fs::read)
                .transpose()?
                .map(|bytes| bytes.trim_ascii().to_vec());
            if secret.as_ref().is_some_and(|secret| secret.len() < 16) {
                return Err(
                    HostError::Key("the upstream secret has fewer than 16 bytes".into()).into(),
                );
            }
            Some(Upstream::new(
                url,
                secret,
                std::time::Duration::from_secs(args.upstream_timeout.max(1)),
            ))
        }
        None => None,
    };
    let endpoint = Arc::new(Endpoint {
        shof,
        own_jwks,
        upstream,
        remote_keys,
        ..Endpoint::new(receiver, args.log_format)
    });
    if args.request_deadline == 0 {
        return Err(koppeltaal_core::Error::InvalidConfiguration.into());
    }
    let limits = Limits {
        workers: args.workers,
        request_deadline: std::time::Duration::from_secs(args.request_deadline),
        max_connections: args.max_connections.max(1),
        max_per_client: args.max_connections_per_client,
        ..Limits::default()
    };
    let server = HttpServer::start(
        &args.listen,
        limits,
        Arc::new(move |request: &Request| endpoint.handle(request)),
    )?;
    log_line(format_args!(
        "koppeltaal serve: listening on http://{} (POST /launch, GET /healthz, GET /metrics)",
        server.address()
    ));
    // SIGTERM or SIGINT: stop accepting, let the requests in flight finish, exit.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    log_line(format_args!(
        "koppeltaal serve: shutting down, finishing the requests in flight"
    ));
    server.stop(std::time::Duration::from_secs(args.shutdown_grace));
    log_line(format_args!("koppeltaal serve: stopped"));
    Ok(())
}
