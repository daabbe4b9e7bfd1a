//! `koppeltaal serve`: the launch gateway ([`koppeltaal_gateway`]) with its configuration from
//! flags, a TOML file (`--config`) and `KOPPELTAAL_*` environment variables (flags win over the
//! environment, the environment over the file), and signal handling.

pub(crate) mod config;
mod replay;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use koppeltaal_core::Algorithm;
use std::time::Duration;

use koppeltaal_gateway::{
    Audit, Budget, Cidr, CookieKeys, ForwardedHeader, GatewayConfig, Limits, LogFormat, Pages,
    ShofGateway, TrustedProxies, Upstream, log_line,
};
use koppeltaal_host::{
    Clock, HostError, LaunchReceiver, PrivateKey, RemoteKeys, SystemClock,
    audit::{Outbox, OutboxOptions, SenderOptions, WhenFull},
    fhir::FhirClient,
    http::{HttpClient, HttpOptions},
    keys::{KeySource, jwks_document},
    oauth::TokenClient,
    shof::{NonceCheck, ShofLauncher, ShofOptions},
};

use crate::Failure;
use crate::flags::parse_algorithm;
use crate::receiving::{introspector, key_source, policy, with_decryption_keys};
use replay::ReplayArgs;

/// Arguments of `serve`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("check").required(true).args(["jwks", "jwks_url", "introspect"]))]
#[command(group = clap::ArgGroup::new("auth_server").multiple(true).args(["token_endpoint", "fhir_base"]))]
pub(crate) struct ServeArgs {
    /// Read the options from this TOML file: `listen = "0.0.0.0:8080"`, `jwks-url = "..."`,
    /// `fhir-server = ["...", "..."]`, `skip-nonce-check = true`, ... (each key a flag of this
    /// command, `_` or `-`); flags on the command line override it.
    #[arg(long, value_name = "FILE", env = "KOPPELTAAL_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "KOPPELTAAL_LISTEN")]
    listen: String,
    /// Verify with the keys of this JWKS file.
    #[arg(long, env = "KOPPELTAAL_JWKS")]
    jwks: Option<PathBuf>,
    /// Verify with keys fetched from this JWKS URL (cached, refreshed on rotation).
    #[arg(long, env = "KOPPELTAAL_JWKS_URL")]
    jwks_url: Option<String>,
    /// Let the auth server vouch for each launch by token introspection (needs --key,
    /// --client-id and --token-endpoint or --fhir-base). The introspection endpoint is the one
    /// given here, or else the one the server advertises.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "URL",
          requires_all = ["key", "client_id", "auth_server"], env = "KOPPELTAAL_INTROSPECT")]
    introspect: Option<String>,
    /// The auth server's token endpoint (for introspection and --audit): the `aud` of the
    /// assertions. Without it, it is discovered from --fhir-base.
    #[arg(long, env = "KOPPELTAAL_TOKEN_ENDPOINT")]
    token_endpoint: Option<String>,
    /// The Koppeltaal FHIR server: where --audit posts its events, and where the auth
    /// server's endpoints are discovered (`.well-known/smart-configuration`) unless
    /// --token-endpoint is given.
    #[arg(long, env = "KOPPELTAAL_FHIR_BASE")]
    fhir_base: Option<String>,
    /// Record every launch outcome, HTI and SHOF, accepted or refused, as a Launched
    /// AuditEvent (profile KT2AuditEvent) at --fhir-base, posted with this module's token
    /// (--key, --client-id). Each is written to --audit-outbox before the launch is answered,
    /// and delivered in the background, retried until the server takes it.
    #[arg(long, requires_all = ["key", "client_id", "fhir_base", "device_id"], env = "KOPPELTAAL_AUDIT")]
    audit: bool,
    /// This module's device at Koppeltaal, `Device/<id>` or `<id>`: its events' agent and
    /// observer.
    #[arg(long, requires = "audit", env = "KOPPELTAAL_DEVICE_ID")]
    device_id: Option<String>,
    /// The domain name the events give as their source site (default: this machine's host
    /// name).
    #[arg(long, requires = "audit", env = "KOPPELTAAL_AUDIT_SITE")]
    audit_site: Option<String>,
    /// The file events wait in until delivered (they survive restarts).
    #[arg(
        long,
        requires = "audit",
        default_value = "koppeltaal-audit.outbox",
        value_name = "FILE",
        env = "KOPPELTAAL_AUDIT_OUTBOX"
    )]
    audit_outbox: PathBuf,
    /// The most events waiting in the outbox (an AuditEvent is about 1.1 KiB on disk).
    #[arg(
        long,
        requires = "audit",
        default_value_t = 10_000,
        env = "KOPPELTAAL_AUDIT_MAX_EVENTS"
    )]
    audit_max_events: usize,
    /// When the outbox is full: drop its oldest event (logged and counted), or refuse
    /// launches (503, code 919) until events are delivered, so that none goes unrecorded.
    #[arg(
        long,
        requires = "audit",
        value_enum,
        default_value = "drop-oldest",
        env = "KOPPELTAAL_AUDIT_WHEN_FULL"
    )]
    audit_when_full: WhenFullChoice,
    /// This module's client id (for introspection and SHOF launches).
    #[arg(long, env = "KOPPELTAAL_CLIENT_ID")]
    client_id: Option<String>,
    /// Also receive SMART HTI on FHIR (SHOF) launches (a form with `iss` and `launch`), with
    /// the browser sent back to this URI, whose path this server then answers (needs --key,
    /// --client-id and --fhir-server).
    #[arg(long, requires_all = ["key", "client_id", "fhir_servers"], env = "KOPPELTAAL_REDIRECT_URI")]
    redirect_uri: Option<String>,
    /// A FHIR server a SHOF launch may name as `iss` (repeatable); any other is refused.
    #[arg(
        long = "fhir-server",
        value_name = "URL",
        requires = "redirect_uri",
        value_delimiter = ',',
        env = "KOPPELTAAL_FHIR_SERVER"
    )]
    fhir_servers: Vec<String>,
    /// For SHOF: do not require the id_token's `nonce` to be the one sent. Only for an
    /// authorization server that does not echo it (Koppeltaal's authentication service as of
    /// e6383ae4 puts its own random nonce there); PKCE and the browser-bound state still hold.
    #[arg(long, requires = "redirect_uri", env = "KOPPELTAAL_SKIP_NONCE_CHECK")]
    skip_nonce_check: bool,
    /// This module's private key: signs client assertions (introspection, SHOF), and its public
    /// half is published at /.well-known/jwks.json.
    #[arg(long, env = "KOPPELTAAL_KEY")]
    key: Option<PathBuf>,
    /// Decrypt encrypted launches (HTI:jwe) with this private key (PEM, RSA); repeatable.
    #[arg(
        long = "decryption-key",
        value_name = "FILE",
        value_delimiter = ',',
        env = "KOPPELTAAL_DECRYPTION_KEY"
    )]
    decryption_keys: Vec<PathBuf>,
    /// The trusted issuer (`iss`), compared exactly.
    #[arg(long, env = "KOPPELTAAL_ISSUER")]
    issuer: String,
    /// This module's audience, e.g. Device/42.
    #[arg(long, env = "KOPPELTAAL_AUDIENCE")]
    audience: String,
    /// Also accept this algorithm (RS512 always is); repeatable.
    #[arg(long = "alg", value_parser = parse_algorithm, value_delimiter = ',', env = "KOPPELTAAL_ALG")]
    algorithms: Vec<Algorithm>,
    /// Clock leeway in seconds.
    #[arg(long, default_value_t = koppeltaal_core::Policy::DEFAULT_LEEWAY, env = "KOPPELTAAL_LEEWAY")]
    leeway: u64,
    #[command(flatten)]
    replay: ReplayArgs,
    /// Requests handled at once (connections still reading their request do not count).
    #[arg(long, default_value_t = 8, env = "KOPPELTAAL_WORKERS")]
    workers: usize,
    /// Seconds a client may take to send its whole request (head and body); a slower one is
    /// answered 408 and cut off.
    #[arg(long, default_value_t = 10, env = "KOPPELTAAL_REQUEST_DEADLINE")]
    request_deadline: u64,
    /// Connections open at once; more are answered 503 at once.
    #[arg(long, default_value_t = 256, env = "KOPPELTAAL_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Connections open at once from one client (an IPv4 address or an IPv6 /64); 0 for no
    /// limit. Through a --trusted-proxy, requests in flight per forwarded client instead.
    #[arg(
        long,
        default_value_t = 32,
        env = "KOPPELTAAL_MAX_CONNECTIONS_PER_CLIENT"
    )]
    max_connections_per_client: usize,
    /// Hand every accepted launch to this application (`POST`, JSON) and relay its answer to
    /// the browser: a gateway in front of the module application.
    #[arg(long, value_name = "URL", env = "KOPPELTAAL_UPSTREAM")]
    upstream: Option<String>,
    /// Sign what is handed to the application with the secret in this file (HMAC-SHA256 over
    /// the timestamp, the delivery id, the client address and the body, header
    /// `X-Koppeltaal-Signature: t=...,v1=...`; the delivery id is `X-Koppeltaal-Delivery`).
    #[arg(
        long,
        value_name = "FILE",
        requires = "upstream",
        env = "KOPPELTAAL_UPSTREAM_SECRET"
    )]
    upstream_secret: Option<PathBuf>,
    /// Seconds the application has to answer a hand-off (then 504).
    #[arg(
        long,
        default_value_t = 10,
        requires = "upstream",
        env = "KOPPELTAAL_UPSTREAM_TIMEOUT"
    )]
    upstream_timeout: u64,
    /// How each launch outcome is logged on stderr (one line each).
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "KOPPELTAAL_LOG_FORMAT"
    )]
    log_format: LogChoice,
    /// Seconds requests in flight may take to finish after SIGTERM or SIGINT.
    #[arg(long, default_value_t = 30, env = "KOPPELTAAL_SHUTDOWN_GRACE")]
    shutdown_grace: u64,
    /// A reverse proxy or load balancer (address or CIDR network; repeatable, or
    /// comma-separated) whose `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` /
    /// `X-Request-Id` are believed: the client it forwards for is then the one logged, capped
    /// and told to the application. From any other peer those headers are ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        value_delimiter = ',',
        env = "KOPPELTAAL_TRUSTED_PROXY"
    )]
    trusted_proxies: Vec<Cidr>,
    /// Which header the trusted proxies set: `x-forwarded-for` (with `X-Forwarded-Proto`) or
    /// `forwarded` (RFC 7239). Only that one is read; the proxy must overwrite or append to it.
    #[arg(
        long,
        value_enum,
        default_value = "x-forwarded-for",
        env = "KOPPELTAAL_FORWARDED_HEADER"
    )]
    forwarded_header: HeaderChoice,
    /// Serve `GET /metrics` (Prometheus) on this address, away from the launch listener
    /// (which never serves it), e.g. 127.0.0.1:9090.
    #[arg(long, value_name = "ADDR", env = "KOPPELTAAL_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Seal SHOF launches in progress (kept in the browser's cookie) with a key derived from
    /// this file's secret (at least 32 bytes). Every instance behind one load balancer needs
    /// the same. Without it, a random key per process (a start-up warning says so).
    #[arg(
        long,
        value_name = "FILE",
        requires = "redirect_uri",
        env = "KOPPELTAAL_COOKIE_SECRET"
    )]
    cookie_secret: Option<PathBuf>,
    /// The previous cookie secret, during a rotation: it still opens the cookies it sealed.
    #[arg(
        long,
        value_name = "FILE",
        requires = "cookie_secret",
        env = "KOPPELTAAL_COOKIE_SECRET_PREVIOUS"
    )]
    cookie_secret_previous: Option<PathBuf>,
    /// SHOF launches waiting on their servers at once (discovery, code exchange, JWKS); more
    /// are answered 503 (917), so a hanging FHIR server cannot take every worker.
    #[arg(long, value_name = "N", env = "KOPPELTAAL_SHOF_CONCURRENCY")]
    shof_concurrency: Option<usize>,
    /// Encrypted launches one client may send per minute (each costs an RSA private-key
    /// operation); more are answered 429. 0 for no limit.
    #[arg(long, default_value_t = 60, env = "KOPPELTAAL_JWE_PER_MINUTE")]
    jwe_per_minute: u32,
    /// Encrypted launches one client may send in a burst.
    #[arg(long, default_value_t = 20, env = "KOPPELTAAL_JWE_BURST")]
    jwe_burst: u32,
    /// Seconds a kept-alive connection may stay idle between requests (0: close after each
    /// answer).
    #[arg(long, default_value_t = 5, env = "KOPPELTAAL_KEEP_ALIVE")]
    keep_alive: u64,
    /// Allow plain http to servers found through discovery (SHOF, introspection) and to
    /// non-loopback hosts: for test networks only.
    #[arg(long, env = "KOPPELTAAL_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,
    /// An HTML template for refusal pages, with placeholders {{lang}}, {{title}},
    /// {{heading}}, {{message}}, {{support}}, {{code}}, {{request_id}}, {{logo_url}}
    /// (each replaced by escaped text).
    #[arg(long, value_name = "FILE", env = "KOPPELTAAL_PAGE_TEMPLATE")]
    page_template: Option<PathBuf>,
    /// A logo shown on refusal pages (a URL; `{{logo_url}}` in a template).
    #[arg(long, value_name = "URL", env = "KOPPELTAAL_PAGE_LOGO")]
    page_logo: Option<String>,
}

/// The forwarding header trusted proxies set.
/// `--audit-when-full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum WhenFullChoice {
    /// Drop the oldest pending event.
    DropOldest,
    /// Refuse launches until there is room.
    Refuse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HeaderChoice {
    /// `X-Forwarded-For` and `X-Forwarded-Proto`.
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

/// How launches are logged on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogChoice {
    /// Nothing.
    Off,
    /// One line per launch outcome, client input escaped, e.g. `hti launch refused code=600
    /// name=Replayed request=<id> client=<address> iss=<issuer> sub=<sub>: token has been used
    /// before` (`iss`, `sub` and the detail only when known).
    Text,
    /// One JSON object per launch outcome, with exactly the members time, request_id, event,
    /// flow, outcome, code, name, issuer, audience, sub, client, duration_us, detail; never a
    /// token.
    Json,
}

impl From<LogChoice> for LogFormat {
    fn from(choice: LogChoice) -> LogFormat {
        match choice {
            LogChoice::Off => LogFormat::Off,
            LogChoice::Text => LogFormat::Text,
            LogChoice::Json => LogFormat::Json,
        }
    }
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    let config = gateway_config(args)?;
    // SIGTERM or SIGINT: stop accepting, let the requests in flight finish, exit.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    koppeltaal_gateway::serve(config, &stop)?;
    Ok(())
}

/// The gateway `args` describe.
fn gateway_config(args: ServeArgs) -> Result<GatewayConfig, Failure> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // One HTTP client (one connection pool) for every outbound call of the gateway's clients.
    let http = HttpClient::new(HttpOptions {
        allow_insecure_http: args.allow_insecure_http,
        ..HttpOptions::default()
    });
    let policy = policy(&args.audience, &args.algorithms, args.leeway)?;
    let replay = args.replay.store()?;
    let key = args
        .key
        .as_ref()
        .map(PrivateKey::read_pem_file)
        .transpose()?;
    // The module's one token client (one cached access token), for introspection and audit.
    let tokens = match (&key, &args.client_id, &args.token_endpoint, &args.fhir_base) {
        (Some(key), Some(client_id), endpoint, base)
            if (args.introspect.is_some() || args.audit)
                && (endpoint.is_some() || base.is_some()) =>
        {
            let builder = TokenClient::builder(client_id, key.signer()?).http(http.clone());
            Some(
                match (endpoint, base) {
                    (Some(endpoint), _) => builder.token_endpoint(endpoint),
                    (None, Some(base)) => builder.fhir_base(base),
                    (None, None) => unreachable!("the guard wants one of them"),
                }
                .build()?,
            )
        }
        _ => None,
    };
    let mut remote_keys = None;
    let receiver = match (&args.introspect, &tokens) {
        (Some(endpoint), Some(tokens)) => {
            let endpoint = Some(endpoint.as_str()).filter(|url| !url.is_empty());
            let introspector = introspector(tokens.clone(), endpoint)?;
            let builder = LaunchReceiver::builder(policy)
                .introspection(introspector)
                .issuer(&args.issuer)
                .replay(Arc::clone(&replay))
                .clock(Arc::clone(&clock));
            with_decryption_keys(builder, &args.decryption_keys)?.build()?
        }
        _ => {
            let keys: Arc<dyn KeySource> = match &args.jwks_url {
                Some(url) => {
                    let remote = Arc::new(
                        RemoteKeys::builder()
                            .http(http.clone())
                            .clock(Arc::clone(&clock))
                            .issuer(&args.issuer, url)
                            .build()?,
                    );
                    remote_keys = Some(Arc::clone(&remote));
                    remote
                }
                None => key_source(&args.issuer, args.jwks.as_ref(), None, Arc::clone(&clock))?,
            };
            let builder = LaunchReceiver::builder(policy)
                .keys(keys)
                .replay(Arc::clone(&replay))
                .clock(Arc::clone(&clock));
            with_decryption_keys(builder, &args.decryption_keys)?.build()?
        }
    };
    if args.request_deadline == 0 {
        return Err(koppeltaal_core::Error::InvalidConfiguration.into());
    }
    let mut config = GatewayConfig::new(&args.listen, receiver);
    config.own_jwks = key.as_ref().map(|key| jwks_document(&[key])).transpose()?;
    config.remote_keys = remote_keys;
    config.limits = Limits {
        workers: args.workers.max(1),
        request_deadline: Duration::from_secs(args.request_deadline),
        max_connections: args.max_connections.max(1),
        max_per_client: args.max_connections_per_client,
        keep_alive: Duration::from_secs(args.keep_alive),
        ..Limits::default()
    };
    config.shof = match (&args.redirect_uri, &key, &args.client_id) {
        (Some(redirect_uri), Some(key), Some(client_id)) => {
            let servers: Vec<&str> = args.fhir_servers.iter().map(String::as_str).collect();
            let mut options = ShofOptions::new(client_id, redirect_uri, &servers);
            if args.skip_nonce_check {
                options.nonce = NonceCheck::NotEchoed;
            }
            let launcher = ShofLauncher::new(options, key.signer()?)
                .http(http.clone())
                .replay(Arc::clone(&replay));
            let cookie_keys = cookie_keys(&args)?;
            let concurrency = args.shof_concurrency.unwrap_or((args.workers / 2).max(1));
            Some(ShofGateway::new(launcher, cookie_keys, concurrency)?)
        }
        _ => None,
    };
    config.audit = match (args.audit, &tokens, &args.fhir_base) {
        (true, Some(tokens), Some(fhir_base)) => {
            let device = args.device_id.as_deref().unwrap_or_default();
            let device = match device.starts_with("Device/") {
                true => device.to_owned(),
                false => format!("Device/{device}"),
            };
            Some(Audit {
                outbox: Arc::new(Outbox::open(
                    &args.audit_outbox,
                    OutboxOptions {
                        max_events: args.audit_max_events.max(1),
                        when_full: match args.audit_when_full {
                            WhenFullChoice::DropOldest => WhenFull::DropOldest,
                            WhenFullChoice::Refuse => WhenFull::Refuse,
                        },
                        ..OutboxOptions::default()
                    },
                    clock.now(),
                )?),
                fhir: FhirClient::new(tokens.clone()),
                fhir_base: fhir_base.clone(),
                device,
                site: args.audit_site.clone().unwrap_or_else(host_name),
                sender: SenderOptions::default(),
            })
        }
        _ => None,
    };
    config.upstream = match &args.upstream {
        Some(url) => {
            let secret = args.upstream_secret.as_ref().map(read_secret).transpose()?;
            if secret.as_ref().is_some_and(|secret| secret.len() < 16) {
                return Err(
                    HostError::Key("the upstream secret has fewer than 16 bytes".into()).into(),
                );
            }
            Some(Upstream::new(
                url,
                secret,
                Duration::from_secs(args.upstream_timeout.max(1)),
            ))
        }
        None => None,
    };
    config.trusted_proxies =
        TrustedProxies::new(args.trusted_proxies.clone()).reading(match args.forwarded_header {
            HeaderChoice::XForwardedFor => ForwardedHeader::XForwardedFor,
            HeaderChoice::Forwarded => ForwardedHeader::Forwarded,
        });
    config.log_format = args.log_format.into();
    config.metrics_listen = args.metrics_listen.clone();
    config.pages = match &args.page_template {
        Some(path) => {
            Pages::from_template_file(path, args.page_logo.clone()).map_err(HostError::Key)?
        }
        None => Pages::new(args.page_logo.clone()),
    };
    config.expensive_budget = Budget {
        per_minute: args.jwe_per_minute,
        burst: args.jwe_burst,
    };
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    Ok(config)
}

/// A secret from a file, without the whitespace around it (a trailing newline, say).
/// This machine's host name (Linux), else `localhost`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn read_secret(path: &PathBuf) -> Result<Vec<u8>, Failure> {
    Ok(std::fs::read(path)?.trim_ascii().to_vec())
}

/// The SHOF cookie keys: from --cookie-secret (and its predecessor), or random for this
/// process, with a warning.
fn cookie_keys(args: &ServeArgs) -> Result<CookieKeys, Failure> {
    match &args.cookie_secret {
        Some(path) => {
            let current = read_secret(path)?;
            let previous = args
                .cookie_secret_previous
                .as_ref()
                .map(read_secret)
                .transpose()?;
            Ok(CookieKeys::from_secrets(&current, previous.as_deref()).map_err(HostError::Key)?)
        }
        None => {
            log_line(format_args!(
                "koppeltaal serve: warning: no --cookie-secret: SHOF launches are sealed with a random key of this process; \
                 several instances (or a restart) need one shared secret"
            ));
            Ok(CookieKeys::random())
        }
    }
}
