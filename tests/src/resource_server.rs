//! A FHIR-like resource server on a loopback port that accepts only bearer tokens our core
//! verifies (signature against the authorization server's JWKS, `exp`, audience), and that a
//! test can tell to revoke tokens or to refuse everything.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use koppeltaal_core::{Policy, Unverified};
use koppeltaal_host::{Clock, RemoteKeys, SystemClock};
use serde_json::json;

use crate::http_stub::{Reply, Request, StubServer};
use crate::oidc::{OidcProvider, RESOURCE};

/// What the resource server has seen and been told.
#[derive(Default)]
pub struct Ledger {
    /// Every bearer token presented, in order.
    pub presented: Vec<String>,
    /// Tokens to answer 401 for, though valid.
    pub revoked: HashSet<String>,
    /// Answer 401 to everything.
    pub refuse_all: bool,
    /// Answer this status to everything (a store that is down: 500, 503...).
    pub fail_with: Option<u16>,
    /// The AuditEvents posted, in order of arrival.
    pub audit_events: Vec<serde_json::Value>,
    /// The `X-Request-Id` and `X-Correlation-Id` of each AuditEvent request, stored or not.
    pub audit_trace: Vec<(Option<String>, Option<String>)>,
    /// Answer only after this long (a slow store).
    pub delay: Option<std::time::Duration>,
}

/// The running server and its ledger.
pub struct ResourceServer {
    /// The server (stopped when dropped).
    pub server: StubServer,
    /// Shared with the handler.
    pub ledger: Arc<Mutex<Ledger>>,
}

fn outcome(text: &str) -> String {
    json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "security", "diagnostics": text}]})
        .to_string()
}

impl ResourceServer {
    /// Serves `GET /fhir/Patient/1`, echoes `POST /fhir/Task` and stores `POST
    /// /fhir/AuditEvent` (400 for anything but an AuditEvent), for tokens from `provider`.
    pub fn start(provider: &OidcProvider) -> ResourceServer {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let keys = RemoteKeys::builder()
            .clock(clock.clone())
            .issuer(provider.issuer(), &format!("{}/jwks", provider.issuer()))
            .build()
            .expect("provider JWKS URL");
        let policy = Policy::new(RESOURCE)
            .unwrap()
            .with_max_lifetime(3600)
            .expecting_type("at+jwt")
            .unwrap();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let handler_ledger = Arc::clone(&ledger);
        let server = StubServer::start(move |request: &Request| {
            let token = request
                .header("authorization")
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or("")
                .to_owned();
            let mut ledger = handler_ledger.lock().unwrap();
            ledger.presented.push(token.clone());
            if request.path == "/fhir/AuditEvent" {
                let header = |name: &str| request.header(name).map(str::to_owned);
                ledger
                    .audit_trace
                    .push((header("x-request-id"), header("x-correlation-id")));
            }
            if let Some(delay) = ledger.delay {
                drop(ledger);
                std::thread::sleep(delay);
                ledger = handler_ledger.lock().unwrap();
            }
            if let Some(status) = ledger.fail_with {
                return Reply::new(status, outcome("the store is unavailable"));
            }
            if ledger.refuse_all || ledger.revoked.contains(&token) {
                return Reply::new(401, outcome("token refused"))
                    .header("WWW-Authenticate", "Bearer");
            }
            drop(ledger);
            let mut scratch = vec![0u8; Unverified::scratch_len(policy.max_token_len())];
            let verified = Unverified::parse(token.as_bytes(), &policy, &mut scratch)
                .map_err(|error| error.to_string())
                .and_then(|unverified| {
                    let issuer = unverified
                        .issuer()
                        .map_err(|error| error.to_string())?
                        .to_owned();
                    let keys = keys
                        .keys_for(&issuer, unverified.header().key_id())
                        .map_err(|error| error.to_string())?;
                    unverified
                        .verify_access_token(keys.keys(), clock.now())
                        .map_err(|error| error.to_string())
                });
            if let Err(why) = verified {
                return Reply::new(401, outcome(&why)).header("WWW-Authenticate", "Bearer");
            }
            match (request.method.as_str(), request.path.as_str()) {
                ("GET", "/fhir/Patient/1") => {
                    Reply::new(200, r#"{"resourceType":"Patient","id":"1"}"#)
                        .header("Content-Type", "application/fhir+json")
                }
                ("POST", "/fhir/Task")
                    if request.header("content-type") == Some("application/fhir+json") =>
                {
                    Reply::new(201, request.body.clone())
                }
                ("POST", "/fhir/Task") => Reply::new(415, outcome("send application/fhir+json")),
                ("POST", "/fhir/AuditEvent") => {
                    let event: Option<serde_json::Value> = serde_json::from_slice(&request.body)
                        .ok()
                        .filter(|event: &serde_json::Value| event["resourceType"] == "AuditEvent");
                    match event {
                        Some(event) => {
                            handler_ledger.lock().unwrap().audit_events.push(event);
                            Reply::new(201, request.body.clone())
                        }
                        None => Reply::new(400, outcome("not an AuditEvent")),
                    }
                }
                _ => Reply::new(404, outcome("no such resource")),
            }
        });
        ResourceServer { server, ledger }
    }

    /// The URL of a path on the server.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}
