//! Host behaviours that need a peer answering the way Koppeltaal's services do (observed
//! answers, see the PEERS notes): token endpoint discovery from a FHIR server, plain-text
//! refusals, a Koppeltaal-style introspection endpoint, bearer-authenticated introspection,
//! and a receiver fetching keys over HTTP. The peers are loopback stubs; the OAuth server
//! behaviour itself is tested against oidc-provider in `oidc_interop.rs`.

use std::sync::{Arc, Mutex};

use koppeltaal_core::{Algorithm, AlgorithmSet, LaunchToken, Policy};
use koppeltaal_host::{
    Clock, HostError, LaunchReceiver, PrivateKey, RemoteKeys, SystemClock,
    http::HttpOptions,
    keys::jwks_document,
    oauth::{IntrospectionAuth, Introspector, TokenClient},
    random::os_rng,
    replay::MemoryReplayStore,
};
use koppeltaal_tests::http_stub::{Reply, StubServer};
use koppeltaal_tests::oidc::{OidcProvider, TokenFormat};
use koppeltaal_tests::{AUDIENCE, ISSUER};
use serde_json::json;

fn signer() -> koppeltaal_host::keys::SharedSigner {
    PrivateKey::generate(Algorithm::ES256)
        .unwrap()
        .signer()
        .unwrap()
}

#[test]
fn the_token_endpoint_is_discovered_from_smart_configuration_or_the_capability_statement() {
    let smart = StubServer::start(|request| match request.path.as_str() {
        "/fhir/.well-known/smart-configuration" => Reply::new(
            200,
            r#"{"token_endpoint":"http://127.0.0.1:1/oauth2/token"}"#,
        ),
        _ => Reply::new(404, ""),
    });
    let client = TokenClient::builder("c", signer())
        .fhir_base(&smart.url("/fhir/"))
        .build()
        .unwrap();
    assert_eq!(
        client.token_endpoint().unwrap(),
        "http://127.0.0.1:1/oauth2/token"
    );
    let hits = smart.hits();
    client.token_endpoint().unwrap();
    assert_eq!(smart.hits(), hits, "discovered once");

    let capability =
        json!({"resourceType": "CapabilityStatement", "rest": [{"security": {"extension": [{
        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        "extension": [{"url": "token", "valueUri": "http://127.0.0.1:2/token"}]}]}}]})
        .to_string();
    let older = StubServer::start(move |request| match request.path.as_str() {
        "/fhir/metadata" => Reply::new(200, capability.clone()),
        _ => Reply::new(404, "not found"),
    });
    let client = TokenClient::builder("c", signer())
        .fhir_base(&older.url("/fhir"))
        .build()
        .unwrap();
    assert_eq!(client.token_endpoint().unwrap(), "http://127.0.0.1:2/token");

    let neither = StubServer::start(|request| match request.path.as_str() {
        "/fhir/metadata" => Reply::new(200, r#"{"resourceType":"CapabilityStatement"}"#),
        _ => Reply::new(404, ""),
    });
    let client = TokenClient::builder("c", signer())
        .fhir_base(&neither.url("/fhir"))
        .build()
        .unwrap();
    assert!(matches!(
        client.token_endpoint(),
        Err(HostError::InvalidResponse(_))
    ));
}

#[test]
fn refusals_are_typed_whether_json_or_plain_text() {
    let koppeltaal = StubServer::start(|request| match request.path.as_str() {
        // What Koppeltaal's auth service answers to a refused client assertion.
        "/denied" => Reply::new(401, "Access Denied").header("Content-Type", "text/plain"),
        "/scope" => Reply::new(
            400,
            r#"{"error":"invalid_scope","error_description":"no such scope"}"#,
        ),
        "/empty" => Reply::new(200, r#"{"token_type":"Bearer"}"#),
        _ => Reply::new(
            200,
            r#"{"access_token":"abc","token_type":"Bearer","expires_in":"300"}"#,
        ),
    });
    let request = |path: &str| {
        TokenClient::builder("c", signer())
            .token_endpoint(&koppeltaal.url(path))
            .build()
            .unwrap()
            .request_token()
    };
    match request("/denied") {
        Err(HostError::Status { status: 401, body }) => assert_eq!(body, "Access Denied"),
        other => panic!("{other:?}"),
    }
    match request("/scope") {
        Err(HostError::OAuth {
            status: 400,
            error,
            description,
        }) => {
            assert_eq!(
                (error.as_str(), description.as_deref()),
                ("invalid_scope", Some("no such scope"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        request("/empty"),
        Err(HostError::InvalidResponse(_))
    ));
    let token = request("/ok").unwrap();
    assert_eq!(token.value, "abc");
    assert_eq!(
        token.expires_at - SystemClock.now(),
        300,
        "expires_in given as a string is read too"
    );
}

#[test]
fn bearer_introspection_refreshes_the_token_once_after_a_401() {
    let key = PrivateKey::generate(Algorithm::RS512).unwrap();
    let provider = OidcProvider::start(
        "bearer-client",
        &jwks_document(&[&key]).unwrap(),
        TokenFormat::Jwt,
    );
    let client = TokenClient::builder("bearer-client", key.signer().unwrap())
        .token_endpoint(&provider.token_endpoint())
        .build()
        .unwrap();
    let first = client.access_token().unwrap().value;
    // A resource that has revoked the first token: 401 for it, an answer for any other.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let endpoint = {
        let (seen, first) = (Arc::clone(&seen), first.clone());
        StubServer::start(move |request| {
            let bearer = request
                .header("authorization")
                .unwrap_or("")
                .trim_start_matches("Bearer ")
                .to_owned();
            seen.lock().unwrap().push(bearer.clone());
            if bearer == first {
                Reply::new(401, r#"{"error":"invalid_token"}"#)
            } else {
                Reply::new(200, r#"{"active":true,"client_id":"bearer-client"}"#)
            }
        })
    };
    let introspector = Introspector::new(
        &endpoint.url("/introspect"),
        IntrospectionAuth::Bearer(client.clone()),
        HttpOptions::default(),
    )
    .unwrap();
    assert!(introspector.introspect("some-token").unwrap().active);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "one retry, not a loop");
    assert_eq!(seen[0], first);
    assert_ne!(seen[1], first, "a fresh token for the retry");
}

fn portal_launch(key: &PrivateKey, iat: u64) -> String {
    LaunchToken::new(
        ISSUER,
        AUDIENCE,
        "Patient/1",
        "Task/11",
        "https://m.example/AD/1",
        iat,
    )
    .unwrap()
    .sign_to_string(key.signer().unwrap().as_ref(), &mut os_rng())
    .unwrap()
}

#[test]
fn a_receiver_in_introspection_mode_follows_the_servers_verdict_then_checks_claims() {
    let portal = PrivateKey::generate(Algorithm::ES256).unwrap();
    // Koppeltaal's introspection endpoint: the form carries a client assertion and the token;
    // a launch is active once (its jti is then consumed), and inactive afterwards.
    let consumed = Arc::new(Mutex::new(Vec::<String>::new()));
    let server = {
        let consumed = Arc::clone(&consumed);
        StubServer::start(move |request| {
            let fields: Vec<(String, String)> =
                form_urlencoded::parse(&request.body).into_owned().collect();
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
            };
            let authenticated = field("client_assertion_type").as_deref()
                == Some(koppeltaal_host::oauth::JWT_BEARER)
                && field("client_assertion")
                    .is_some_and(|assertion| assertion.split('.').count() == 3);
            let Some(token) = field("token").filter(|_| authenticated) else {
                return Reply::new(401, "Access Denied");
            };
            let mut consumed = consumed.lock().unwrap();
            if consumed.contains(&token) {
                return Reply::new(200, r#"{"active":false}"#);
            }
            consumed.push(token);
            Reply::new(200, r#"{"active":true,"aud":"Device/42"}"#)
        })
    };
    let client = TokenClient::builder("module", signer())
        .token_endpoint(&server.url("/oauth2/token"))
        .build()
        .unwrap();
    let introspector = Introspector::new(
        &server.url("/oauth2/introspect"),
        IntrospectionAuth::ClientAssertion {
            client,
            audience: None,
        },
        HttpOptions::default(),
    )
    .unwrap();
    let receiver = LaunchReceiver::builder(
        Policy::new(AUDIENCE)
            .unwrap()
            .with_algorithms(AlgorithmSet::HTI),
    )
    .introspection(introspector)
    .issuer(ISSUER)
    .replay(MemoryReplayStore::new(64))
    .clock(SystemClock)
    .build()
    .unwrap();
    let now = SystemClock.now();
    let token = portal_launch(&portal, now);
    assert_eq!(
        receiver.receive_token(&token).unwrap().resource(),
        "Task/11"
    );
    let again = receiver.receive_token(&token).unwrap_err();
    assert_eq!((again.name(), again.code()), ("Inactive", 911));
    // Active according to the server, but expired by our clock: still refused.
    let stale = portal_launch(&portal, now - 400);
    assert_eq!(
        receiver.receive_token(&stale).unwrap_err().name(),
        "Expired"
    );
}

#[test]
fn a_receiver_fetches_the_portals_keys_over_http() {
    let portal = PrivateKey::generate(Algorithm::ES256).unwrap();
    let jwks = jwks_document(&[&portal]).unwrap();
    let server = StubServer::start(move |_| {
        Reply::new(200, jwks.clone()).header("Cache-Control", "max-age=600")
    });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = RemoteKeys::builder()
        .clock(clock.clone())
        .issuer(ISSUER, &server.url("/.well-known/jwks.json"))
        .build()
        .unwrap();
    let receiver = LaunchReceiver::builder(
        Policy::new(AUDIENCE)
            .unwrap()
            .with_algorithms(AlgorithmSet::HTI),
    )
    .keys(keys)
    .replay(MemoryReplayStore::new(64))
    .clock(clock)
    .build()
    .unwrap();
    for _ in 0..3 {
        receiver
            .receive_token(&portal_launch(&portal, SystemClock.now()))
            .unwrap();
    }
    assert_eq!(server.hits(), 1, "one fetch serves many launches");
}
