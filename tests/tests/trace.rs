//! Koppeltaal's trace headers (TOP-KT-011) on the requests the host's clients send: a new
//! `X-Request-Id` (UUIDv4) on each, and inside a `TraceContext` the `X-Correlation-Id` and
//! `X-Trace-Id` of the request being handled; seen by a server on a real loopback socket.

use std::sync::{Arc, Mutex};

use koppeltaal_host::http::HttpClient;
use koppeltaal_host::keys::jwks_document;
use koppeltaal_host::oauth::TokenClient;
use koppeltaal_host::trace::TraceContext;
use koppeltaal_host::{Algorithm, PrivateKey, RemoteKeys};
use koppeltaal_tests::http_stub::{Reply, StubServer};

type Seen = Arc<Mutex<Vec<[Option<String>; 3]>>>;

fn server(jwks: String) -> (StubServer, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let server = StubServer::start(move |request| {
        let header = |name: &str| request.header(name).map(str::to_owned);
        log.lock().unwrap().push([
            header("x-request-id"),
            header("x-correlation-id"),
            header("x-trace-id"),
        ]);
        match request.path.as_str() {
            "/token" => Reply::new(
                200,
                r#"{"access_token":"at","token_type":"Bearer","expires_in":300}"#,
            ),
            _ => Reply::new(200, jwks.clone()),
        }
    });
    (server, seen)
}

fn is_uuid_v4(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|uuid| uuid.get_version_num() == 4)
}

#[test]
fn every_request_has_its_own_request_id_and_carries_the_context_it_was_sent_in() {
    let key = PrivateKey::generate(Algorithm::ES256).unwrap();
    let (server, seen) = server(jwks_document(&[&key]).unwrap());
    let http = HttpClient::default();
    let keys = RemoteKeys::builder()
        .http(http.clone())
        .issuer("https://portal.example.org", &server.url("/jwks"))
        .build()
        .unwrap();
    let tokens = TokenClient::builder("module", key.signer().unwrap())
        .http(http.clone())
        .token_endpoint(&server.url("/token"))
        .build()
        .unwrap();

    // Outside any context: a request id only.
    http.get_json(&server.url("/jwks")).unwrap();
    // Handling an incoming request: its id and trace go along with every call it causes.
    let incoming = TraceContext::new("incoming-1", Some("trace-9"));
    incoming.enter(|| {
        keys.keys_for("https://portal.example.org", key.key_id().unwrap().as_str())
            .unwrap();
        tokens.access_token().unwrap();
    });
    // A context without a trace id sends none (the FHIR store makes one).
    TraceContext::new("incoming-2", None).enter(|| {
        tokens.invalidate_token("at");
        tokens.access_token().unwrap();
    });

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let ids: Vec<&str> = seen
        .iter()
        .map(|[id, _, _]| id.as_deref().unwrap())
        .collect();
    assert!(ids.iter().all(|id| is_uuid_v4(id)), "{ids:?}");
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 4, "a new id per request");
    let context: Vec<[Option<&str>; 2]> = seen
        .iter()
        .map(|[_, correlation, trace]| [correlation.as_deref(), trace.as_deref()])
        .collect();
    assert_eq!(
        context,
        [
            [None, None],
            [Some("incoming-1"), Some("trace-9")],
            [Some("incoming-1"), Some("trace-9")],
            [Some("incoming-2"), None],
        ]
    );
}
