//! Introspection the way Koppeltaal's authentication service accepts it, against a loopback
//! stand-in that answers as the real service was observed to (`koppeltaal_tests::koppeltaal_auth`):
//! the caller's client assertion must be addressed to the **token endpoint**, an HTI launch for
//! the caller's device is active once, and the endpoints are discovered from the FHIR server's
//! SMART configuration.

use koppeltaal_core::{Algorithm, AlgorithmSet, LaunchToken, Policy};
use koppeltaal_host::{
    HostError, LaunchReceiver, PrivateKey, SystemClock,
    http::HttpOptions,
    keys::jwks_document,
    oauth::{IntrospectionAuth, Introspector, TokenClient},
    random::os_rng,
    replay::MemoryReplayStore,
};
use koppeltaal_tests::koppeltaal_auth::{KoppeltaalAuth, Registration};
use koppeltaal_tests::now;

const MODULE: &str = "module-client";
const PORTAL: &str = "portal-client";

struct Network {
    auth: KoppeltaalAuth,
    module_key: PrivateKey,
    portal_key: PrivateKey,
}

impl Network {
    fn start() -> Network {
        let module_key = PrivateKey::generate(Algorithm::RS512).unwrap();
        let portal_key = PrivateKey::generate(Algorithm::RS512).unwrap();
        let auth = KoppeltaalAuth::start(vec![
            Registration::new(MODULE, &jwks_document(&[&module_key]).unwrap()),
            Registration::new(PORTAL, &jwks_document(&[&portal_key]).unwrap()),
        ]);
        Network {
            auth,
            module_key,
            portal_key,
        }
    }

    /// The module's device, as the auth server knows it.
    fn module_audience(&self) -> String {
        format!("Device/{MODULE}-device")
    }

    fn launch_for(&self, audience: &str, issued_at: u64) -> String {
        LaunchToken::new(
            PORTAL,
            audience,
            "Patient/p1",
            "Task/t1",
            "https://module.example.org/ActivityDefinition/ad1",
            issued_at,
        )
        .unwrap()
        .with_intent("plan")
        .unwrap()
        .with_idp_hint("https://idp.example.org")
        .unwrap()
        .sign_to_string(self.portal_key.signer().unwrap().as_ref(), &mut os_rng())
        .unwrap()
    }

    fn launch(&self) -> String {
        self.launch_for(&self.module_audience(), now())
    }

    fn discovering_client(&self) -> TokenClient {
        TokenClient::builder(MODULE, self.module_key.signer().unwrap())
            .fhir_base(&self.auth.fhir_base())
            .build()
            .unwrap()
    }
}

#[test]
fn both_endpoints_are_discovered_and_the_assertion_is_addressed_to_the_token_endpoint() {
    let network = Network::start();
    let client = network.discovering_client();
    assert_eq!(
        client.token_endpoint().unwrap(),
        network.auth.token_endpoint()
    );
    let configuration = client.configuration().unwrap();
    assert_eq!(
        configuration.introspection_endpoint,
        Some(network.auth.introspection_endpoint())
    );
    assert!(
        configuration
            .capabilities
            .iter()
            .any(|c| c == "context-ehr-hti")
    );
    assert_eq!(configuration.code_challenge_methods, ["S256"]);

    let introspector = Introspector::for_client(&client).unwrap();
    assert_eq!(
        introspector.endpoint(),
        network.auth.introspection_endpoint()
    );
    let launch = network.launch();
    let first = introspector.introspect(&launch).unwrap();
    assert!(first.active, "{first:?}");
    assert_eq!(first.claims["resource"], "Task/t1");
    assert_eq!(first.claims["idp_hint"], "https://idp.example.org");
    let second = introspector.introspect(&launch).unwrap();
    assert!(!second.active, "the server consumes the launch's jti");
    assert!(second.claims.is_empty());
    network.auth.seen(|seen| {
        assert_eq!(seen.introspections, 2);
        assert!(
            seen.assertion_audiences
                .iter()
                .all(|aud| aud.as_str() == Some(network.auth.token_endpoint().as_str())),
            "{:?}",
            seen.assertion_audiences
        );
    });
}

#[test]
fn an_assertion_addressed_to_the_introspection_endpoint_is_access_denied() {
    let network = Network::start();
    let client = network.discovering_client();
    let misaddressed = Introspector::new(
        &network.auth.introspection_endpoint(),
        IntrospectionAuth::ClientAssertion {
            client,
            audience: Some(network.auth.introspection_endpoint()),
        },
        HttpOptions::default(),
    )
    .unwrap();
    match misaddressed.introspect(&network.launch()) {
        Err(HostError::Status { status: 401, body }) => assert_eq!(body, "Access Denied"),
        other => panic!("expected 401 Access Denied, got {other:?}"),
    }
}

#[test]
fn a_given_token_endpoint_finds_the_introspection_endpoint_on_its_own_server() {
    let network = Network::start();
    let client = TokenClient::builder(MODULE, network.module_key.signer().unwrap())
        .token_endpoint(&network.auth.token_endpoint())
        .build()
        .unwrap();
    assert_eq!(
        client.introspection_endpoint().unwrap(),
        network.auth.introspection_endpoint()
    );
    let introspector = Introspector::for_client(&client).unwrap();
    assert!(introspector.introspect(&network.launch()).unwrap().active);
}

#[test]
fn refusals_of_the_server_are_typed() {
    let network = Network::start();
    let introspector = Introspector::for_client(&network.discovering_client()).unwrap();
    // A launch for another device, and one long expired: inactive, not errors.
    let elsewhere = network.launch_for("Device/someone-else", now());
    assert!(!introspector.introspect(&elsewhere).unwrap().active);
    let stale = network.launch_for(&network.module_audience(), now() - 3600);
    assert!(!introspector.introspect(&stale).unwrap().active);
    // Not a JWT: the real service fails with HTTP 500.
    assert!(matches!(
        introspector.introspect("not-a-jwt"),
        Err(HostError::Status { status: 500, .. })
    ));
    // A key the server does not know: 401, plain text.
    let stranger = PrivateKey::generate(Algorithm::RS512).unwrap();
    let client = TokenClient::builder(MODULE, stranger.signer().unwrap())
        .fhir_base(&network.auth.fhir_base())
        .build()
        .unwrap();
    let refused = Introspector::for_client(&client)
        .unwrap()
        .introspect(&network.launch());
    assert!(
        matches!(&refused, Err(HostError::Status { status: 401, body }) if body == "Access Denied"),
        "{refused:?}"
    );
}

#[test]
fn every_call_signs_a_fresh_assertion() {
    let network = Network::start();
    let introspector = Introspector::for_client(&network.discovering_client()).unwrap();
    // The server refuses a replayed assertion jti; ten calls in a row all authenticate.
    for _ in 0..10 {
        assert!(introspector.introspect(&network.launch()).unwrap().active);
    }
}

#[test]
fn a_receiver_in_introspection_mode_accepts_a_launch_once() {
    let network = Network::start();
    let introspector = Introspector::for_client(&network.discovering_client()).unwrap();
    let policy = Policy::new(&network.module_audience())
        .unwrap()
        .with_algorithms(AlgorithmSet::HTI);
    let receiver = LaunchReceiver::builder(policy)
        .introspection(introspector)
        .issuer(PORTAL)
        .replay(MemoryReplayStore::new(64))
        .clock(SystemClock)
        .build()
        .unwrap();
    let launch = network.launch();
    let accepted = receiver.receive_token(&launch).unwrap();
    assert_eq!(accepted.resource(), "Task/t1");
    assert_eq!(accepted.idp_hint(), Some("https://idp.example.org"));
    let again = receiver.receive_token(&launch).unwrap_err();
    assert_eq!((again.name(), again.code()), ("Inactive", 911));
}

#[test]
fn what_can_be_refused_locally_never_reaches_the_server() {
    let network = Network::start();
    let introspector = Introspector::for_client(&network.discovering_client()).unwrap();
    let receiver = LaunchReceiver::builder(
        Policy::new(&network.module_audience())
            .unwrap()
            .with_algorithms(AlgorithmSet::HTI),
    )
    .introspection(introspector)
    .issuer(PORTAL)
    .build()
    .unwrap();
    let stranger = LaunchToken::new(
        "https://stranger.example.org",
        &network.module_audience(),
        "Patient/p1",
        "Task/t1",
        "https://module.example.org/ActivityDefinition/ad1",
        now(),
    )
    .unwrap()
    .sign_to_string(network.portal_key.signer().unwrap().as_ref(), &mut os_rng())
    .unwrap();
    let cases = [
        (stranger, "WrongIssuer"),
        (
            network.launch_for("Device/another-module", now()),
            "WrongAudience",
        ),
        (
            network.launch_for(&network.module_audience(), now() - 3600),
            "Expired",
        ),
        (
            network.launch_for(&network.module_audience(), now() + 3600),
            "IssuedInFuture",
        ),
        ("not.a.token".to_owned(), "InvalidBase64"),
    ];
    for (token, expected) in cases {
        let refused = receiver.receive_token(&token).unwrap_err();
        assert_eq!(refused.name(), expected);
    }
    network.auth.seen(|seen| {
        assert_eq!(
            seen.introspections, 0,
            "no call for a launch refused locally"
        );
    });
    // A launch that passes every local check is introspected, then recorded.
    let launch = network.launch();
    receiver.receive_token(&launch).unwrap();
    network.auth.seen(|seen| assert_eq!(seen.introspections, 1));
}

#[test]
fn introspection_mode_needs_an_issuer() {
    let network = Network::start();
    let introspector = Introspector::for_client(&network.discovering_client()).unwrap();
    let built = LaunchReceiver::builder(Policy::new("Device/1").unwrap())
        .introspection(introspector)
        .build();
    assert!(matches!(
        built,
        Err(HostError::Core(
            koppeltaal_core::Error::InvalidConfiguration
        ))
    ));
}
