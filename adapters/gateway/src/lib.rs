//! The Koppeltaal 2.0 launch gateway, as a library: what a module vendor puts in front of an
//! application written in any language. It receives HTI launches (signed, or encrypted) and
//! SMART HTI on FHIR (SHOF) launches, verifies them with [`koppeltaal_host`], and hands each
//! accepted launch to the application as JSON, relaying the application's answer (its session
//! cookie and redirect) to the browser. The `koppeltaal serve` command is this crate with its
//! flags, a configuration file and environment variables turned into a [`GatewayConfig`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::sync::atomic::AtomicBool;
//! use koppeltaal_core::Policy;
//! use koppeltaal_gateway::{GatewayConfig, Upstream, serve};
//! use koppeltaal_host::{LaunchReceiver, StaticKeys, replay::MemoryReplayStore};
//!
//! let jwks = std::fs::read("/etc/module/portal.jwks")?;
//! let receiver = LaunchReceiver::builder(Policy::new("Device/42")?)
//!     .keys(StaticKeys::new().with_jwks("https://portal.example.org", &jwks)?)
//!     .replay(MemoryReplayStore::new(1 << 16))
//!     .build()?;
//! let mut config = GatewayConfig::new("0.0.0.0:8080", receiver);
//! config.upstream = Some(Upstream::new("http://127.0.0.1:3000/launch", None,
//!                                      std::time::Duration::from_secs(10)));
//! // Runs until the flag is set (by a signal handler, say), then stops gracefully.
//! let shutdown = Arc::new(AtomicBool::new(false));
//! serve(config, &shutdown)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything it does is bounded: connections in total and per client, a deadline per
//! request, head and body sizes, the handler workers, SHOF's outbound calls, and a budget per
//! client for expensive work. State that must hold across instances lives with the browser
//! (a SHOF launch in progress, sealed) or in the shared replay store (single use), never in
//! one process's memory.

#![forbid(unsafe_code)]

mod audit;
mod budget;
mod client;
pub mod http;
mod log;
mod metrics;
mod pages;
mod routes;
mod seal;
mod shof;
mod upstream;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use koppeltaal_host::audit::AuditSender;
use koppeltaal_host::{LaunchReceiver, RemoteKeys};

pub use audit::Audit;
pub use budget::Budget;
pub use client::{Cidr, ForwardedHeader, TrustedProxies};
pub use http::{HttpServer, Limits, Request, Response};
pub use log::{LogFormat, escape_log, log_line};
pub use pages::{Language, Pages};
pub use seal::{CookieKeys, MIN_SECRET};
pub use shof::{MAX_PENDING_COOKIES, ShofGateway};
pub use upstream::Upstream;

use metrics::Metrics;
use routes::Routes;

/// Everything a gateway is: plain data, built by the caller (the CLI from flags, a config file
/// and the environment; a test directly).
pub struct GatewayConfig {
    /// Where browsers' launches arrive, e.g. `0.0.0.0:8080`.
    pub listen: String,
    /// Verifies HTI launches (keys or introspection, replay store, decryption keys).
    pub receiver: LaunchReceiver,
    /// SHOF launches, when the module takes them.
    pub shof: Option<ShofGateway>,
    /// The module's own public JWKS, served at `/.well-known/jwks.json`.
    pub own_jwks: Option<String>,
    /// The application accepted launches are handed to; without one the gateway answers the
    /// launch itself (JSON, or a page).
    pub upstream: Option<Upstream>,
    /// The key source whose JWKS fetches are counted in the metrics.
    pub remote_keys: Option<Arc<RemoteKeys>>,
    /// Connection, request and worker bounds.
    pub limits: Limits,
    /// Peers whose forwarding header (`X-Forwarded-For` and `X-Forwarded-Proto`, or
    /// `Forwarded`: one, chosen) and `X-Request-Id` are believed.
    pub trusted_proxies: TrustedProxies,
    /// How launches are logged on stderr.
    pub log_format: LogFormat,
    /// Where `/metrics` (Prometheus) is served, away from the public listener; no metrics
    /// endpoint without it.
    pub metrics_listen: Option<String>,
    /// The layout of refusal pages.
    pub pages: Pages,
    /// Per-client budget for encrypted launches (each costs an RSA private-key operation).
    pub expensive_budget: Budget,
    /// How long requests in flight may take to finish once stopping.
    pub shutdown_grace: Duration,
    /// Launched AuditEvents to the Koppeltaal FHIR server, one per launch outcome.
    pub audit: Option<Audit>,
}

impl GatewayConfig {
    /// A gateway on `listen` verifying with `receiver`, everything else at its default: no
    /// SHOF, no application (answers launches itself), default limits, no trusted proxy, text
    /// logs, no metrics listener, the gateway's own pages, 60 encrypted launches a minute per
    /// client (bursts of 20), 30 s to finish on stop.
    pub fn new(listen: &str, receiver: LaunchReceiver) -> GatewayConfig {
        GatewayConfig {
            listen: listen.to_owned(),
            receiver,
            shof: None,
            own_jwks: None,
            upstream: None,
            remote_keys: None,
            limits: Limits::default(),
            trusted_proxies: TrustedProxies::default(),
            log_format: LogFormat::Text,
            metrics_listen: None,
            pages: Pages::default(),
            expensive_budget: Budget::default(),
            shutdown_grace: Duration::from_secs(30),
            audit: None,
        }
    }
}

/// A running gateway; [`stop`](Gateway::stop) it (or drop it) to shut it down.
pub struct Gateway {
    server: HttpServer,
    metrics_server: Option<HttpServer>,
    audit_sender: Option<AuditSender>,
    grace: Duration,
}

impl Gateway {
    /// Binds the listeners and starts serving.
    pub fn start(config: GatewayConfig) -> io::Result<Gateway> {
        let (audit, audit_sender) = match config.audit {
            Some(audit) => {
                let (log, sender) = audit.start()?;
                (Some(log), Some(sender))
            }
            None => (None, None),
        };
        let routes = Arc::new(Routes {
            receiver: config.receiver,
            shof: config.shof,
            own_jwks: config.own_jwks,
            log: config.log_format,
            upstream: config.upstream,
            metrics: Arc::new(Metrics::default()),
            remote_keys: config.remote_keys,
            pages: config.pages,
            expensive: budget::Budgets::new(config.expensive_budget),
            audit,
        });
        let metrics_server = match &config.metrics_listen {
            Some(address) => {
                let routes = Arc::clone(&routes);
                let limits = Limits {
                    workers: 1,
                    max_connections: 16,
                    max_per_client: 0,
                    ..Limits::default()
                };
                Some(HttpServer::start(
                    address,
                    limits,
                    TrustedProxies::default(),
                    Arc::new(move |request: &Request| {
                        match (request.method.as_str(), request.path.as_str()) {
                            ("GET", "/metrics") => routes.metrics_page(),
                            ("GET", "/healthz") => Response::text(200, "ok\n"),
                            _ => Response::text(404, "not found\n"),
                        }
                    }),
                )?)
            }
            None => None,
        };
        let server = HttpServer::start(
            &config.listen,
            config.limits,
            config.trusted_proxies,
            Arc::new(move |request: &Request| routes.handle(request)),
        )?;
        Ok(Gateway {
            server,
            metrics_server,
            audit_sender,
            grace: config.shutdown_grace,
        })
    }

    /// The address launches arrive at (with the port the system chose for port 0).
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// The address of the metrics listener, when there is one.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(HttpServer::address)
    }

    /// Stops accepting, lets the requests in flight finish (within the configured grace), and
    /// returns.
    pub fn stop(self) {
        self.server.stop(self.grace);
        if let Some(metrics) = self.metrics_server {
            metrics.stop(Duration::from_secs(1));
        }
        // What is still pending stays in the outbox for the next start.
        if let Some(sender) = self.audit_sender {
            sender.stop();
        }
    }
}

/// Runs a gateway until `shutdown` is set, then stops it gracefully: what `koppeltaal serve`
/// does (its signal handlers set the flag). Logs a line when listening and when stopped.
pub fn serve(config: GatewayConfig, shutdown: &AtomicBool) -> io::Result<()> {
    let gateway = Gateway::start(config)?;
    let metrics = match gateway.metrics_address() {
        Some(address) => format!("; GET /metrics on http://{address}"),
        None => String::new(),
    };
    log_line(format_args!(
        "koppeltaal serve: listening on http://{} (POST /launch, GET /healthz{metrics})",
        gateway.address()
    ));
    while !shutdown.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    log_line(format_args!(
        "koppeltaal serve: shutting down, finishing the requests in flight"
    ));
    gateway.stop();
    log_line(format_args!("koppeltaal serve: stopped"));
    Ok(())
}
