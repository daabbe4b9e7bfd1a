//! SMART HTI on FHIR (SHOF) launches through `ShofLauncher`, against a real authorization
//! server: panva's oidc-provider configured for it (`tests/oidc/shof.mjs`: authorization code
//! with PKCE, `private_key_jwt`, RS512 id_tokens with `fhirUser`, the `launch` parameter
//! verified against the portal's keys, the launch context in the token response), with the
//! browser's part scripted over HTTP (redirects, cookies, the provider's development login).
//!
//! oidc-provider issues only correct id_tokens; the cases that need a wrong one (for another
//! client, expired, with another nonce, as Koppeltaal's service issues them) use a loopback
//! stub that serves a SMART configuration, a JWKS and a token endpoint answering with crafted
//! id_tokens, and say so.

use std::sync::Arc;

use koppeltaal_core::{Algorithm, LaunchToken};
use koppeltaal_host::{
    HostError, LaunchError, PrivateKey,
    clock::FixedClock,
    keys::jwks_document,
    random::os_rng,
    shof::{NonceCheck, ShofLauncher, ShofOptions},
};
use koppeltaal_tests::browser::{Browser, query_param};
use koppeltaal_tests::http_stub::{Reply, StubServer};
use koppeltaal_tests::oidc::{OidcProvider, ShofSetup};
use koppeltaal_tests::{ISSUER, now};
use serde_json::{Value, json};

const CLIENT: &str = "shof-module";
const DEVICE: &str = "Device/shof-module-device";
/// Nothing listens here: the browser stops when it is sent to it.
const REDIRECT: &str = "http://127.0.0.1:9/shof/return";

struct Network {
    provider: OidcProvider,
    module: PrivateKey,
    portal: PrivateKey,
}

impl Network {
    fn start() -> Network {
        let module = PrivateKey::generate(Algorithm::RS512).unwrap();
        let portal = PrivateKey::generate(Algorithm::RS512).unwrap();
        let provider = OidcProvider::start_shof(&ShofSetup {
            client_id: CLIENT,
            client_jwks: &jwks_document(&[&module]).unwrap(),
            redirect_uri: REDIRECT,
            portal_jwks: &jwks_document(&[&portal]).unwrap(),
            portal_issuer: ISSUER,
            module_device: DEVICE,
        });
        Network {
            provider,
            module,
            portal,
        }
    }

    fn launch(&self, sub: &str) -> String {
        LaunchToken::new(
            ISSUER,
            DEVICE,
            sub,
            "Task/42",
            "https://module.example.org/AD/7",
            now(),
        )
        .unwrap()
        .with_patient("Patient/1")
        .unwrap()
        .with_intent("plan")
        .unwrap()
        .sign_to_string(self.portal.signer().unwrap().as_ref(), &mut os_rng())
        .unwrap()
    }

    fn launcher(&self) -> ShofLauncher {
        let options = ShofOptions::new(CLIENT, REDIRECT, &[&self.provider.fhir_base()]);
        ShofLauncher::new(options, self.module.signer().unwrap())
    }

    /// Sends a fresh browser through the authorization server, signing in as `login`; the
    /// URL it is sent back to.
    fn browse(&self, url: &str, login: &str) -> String {
        let mut browser = Browser::new();
        let first = browser.get(url);
        let last = browser.until(first, REDIRECT, login);
        last.location.expect("sent back to the module")
    }
}

#[test]
fn a_shof_launch_says_who_the_user_is_and_what_the_launch_is_about() {
    let network = Network::start();
    let launcher = network.launcher();
    let redirect = launcher
        .begin(&network.provider.fhir_base(), &network.launch("Patient/1"))
        .unwrap();
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("scope", "launch openid fhirUser"),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(
            query_param(&redirect.url, name).as_deref(),
            Some(value),
            "{name}"
        );
    }
    assert_eq!(
        query_param(&redirect.url, "aud"),
        Some(network.provider.fhir_base())
    );
    assert_eq!(
        query_param(&redirect.url, "state"),
        Some(redirect.pending.state.clone())
    );
    let back = network.browse(&redirect.url, "Patient/1");
    assert_eq!(
        query_param(&back, "state"),
        Some(redirect.pending.state.clone())
    );
    let code = query_param(&back, "code").expect("a code");

    let launch = launcher
        .finish(&code, &redirect.pending.state, &redirect.pending)
        .unwrap();
    assert_eq!(launch.id_token.fhir_user(), Some("Patient/1"));
    assert_eq!(launch.id_token.subject(), "Patient/1");
    assert_eq!(launch.id_token.audience(), CLIENT);
    assert_eq!(launch.id_token.issuer(), network.provider.issuer());
    assert_eq!(launch.context["resource"], "Task/42");
    assert_eq!(
        launch.context["definition"],
        "https://module.example.org/AD/7"
    );
    assert_eq!(launch.context["patient"], "Patient/1");
    assert_eq!(launch.context["intent"], "plan");
    assert!(launch.context.get("id_token").is_none());
    assert!(launch.token_response["access_token"].is_string());

    // The state is single-use.
    assert!(matches!(
        launcher
            .finish(&code, &redirect.pending.state, &redirect.pending)
            .map_err(LaunchError::into_reason),
        Err(HostError::UnknownState)
    ));
}

#[test]
fn a_practitioner_launch_without_patient_or_intent() {
    let network = Network::start();
    let launcher = network.launcher();
    let launch = LaunchToken::new(
        ISSUER,
        DEVICE,
        "Practitioner/9",
        "Task/1",
        "https://m/AD/1",
        now(),
    )
    .unwrap()
    .sign_to_string(network.portal.signer().unwrap().as_ref(), &mut os_rng())
    .unwrap();
    let redirect = launcher
        .begin(&network.provider.fhir_base(), &launch)
        .unwrap();
    let back = network.browse(&redirect.url, "dr-jansen");
    let done = launcher
        .finish(
            &query_param(&back, "code").unwrap(),
            &redirect.pending.state,
            &redirect.pending,
        )
        .unwrap();
    assert_eq!(done.id_token.subject(), "dr-jansen");
    assert_eq!(done.id_token.fhir_user(), Some("Practitioner/9"));
    assert!(done.context.get("patient").is_none());
}

#[test]
fn the_wrong_code_verifier_is_refused_by_the_server() {
    let network = Network::start();
    let launcher = network.launcher();
    let first = launcher
        .begin(&network.provider.fhir_base(), &network.launch("Patient/1"))
        .unwrap();
    let second = launcher
        .begin(&network.provider.fhir_base(), &network.launch("Patient/1"))
        .unwrap();
    let back = network.browse(&first.url, "Patient/1");
    let code = query_param(&back, "code").unwrap();
    // The code of the first launch with the second launch's state: its PKCE verifier.
    match launcher
        .finish(&code, &second.pending.state, &second.pending)
        .map_err(LaunchError::into_reason)
    {
        Err(HostError::OAuth {
            status: 400, error, ..
        }) => assert_eq!(error, "invalid_grant"),
        other => panic!("expected invalid_grant, got {other:?}"),
    }
    assert!(
        launcher
            .finish(&code, &first.pending.state, &first.pending)
            .is_ok()
    );
}

#[test]
fn unknown_states_and_servers_are_refused_before_any_request() {
    let network = Network::start();
    let launcher = network.launcher();
    // A returned state that is not the pending launch's (another browser's launch).
    let pending = launcher
        .begin(&network.provider.fhir_base(), &network.launch("Patient/1"))
        .unwrap()
        .pending;
    assert!(matches!(
        launcher
            .finish("some-code", "a-state-never-made", &pending)
            .map_err(LaunchError::into_reason),
        Err(HostError::UnknownState)
    ));
    // An `iss` that is not configured is not even asked for its configuration.
    let elsewhere = StubServer::start(|_| Reply::new(200, "{}"));
    let refused = launcher
        .begin(&elsewhere.url("/fhir"), &network.launch("Patient/1"))
        .map_err(LaunchError::into_reason);
    assert!(
        matches!(refused, Err(HostError::UnknownFhirServer(_))),
        "{refused:?}"
    );
    assert_eq!(elsewhere.hits(), 0);
    // Nor is anything that is not a token passed on as `launch`.
    assert!(matches!(
        launcher
            .begin(&network.provider.fhir_base(), "<script>")
            .map_err(LaunchError::into_reason),
        Err(HostError::BadForm(_))
    ));
}

#[test]
fn a_launch_begun_on_one_launcher_finishes_on_another_sharing_the_replay_store_once() {
    let network = Network::start();
    let shared: Arc<dyn koppeltaal_host::replay::ReplayStore> =
        Arc::new(koppeltaal_host::replay::MemoryReplayStore::new(1024));
    let first = network.launcher().replay(Arc::clone(&shared));
    let second = network.launcher().replay(Arc::clone(&shared));
    let redirect = first
        .begin(&network.provider.fhir_base(), &network.launch("Patient/1"))
        .unwrap();
    // What the gateway keeps in the browser's cookie goes through bytes.
    let pending =
        koppeltaal_host::shof::PendingShof::from_bytes(&redirect.pending.to_bytes()).unwrap();
    assert_eq!(pending, redirect.pending);
    let back = network.browse(&redirect.url, "Patient/1");
    let code = query_param(&back, "code").unwrap();
    let state = query_param(&back, "state").unwrap();
    let launch = second.finish(&code, &state, &pending).unwrap();
    assert_eq!(launch.context["resource"], "Task/42");
    // Used up for every launcher that shares the store.
    for launcher in [&first, &second] {
        assert!(matches!(
            launcher
                .finish(&code, &state, &pending)
                .map_err(LaunchError::into_reason),
            Err(HostError::UnknownState)
        ));
    }
}

#[test]
fn a_state_that_expired_is_refused() {
    let network = Network::start();
    let clock = Arc::new(FixedClock::new(now()));
    let launcher = network.launcher().clock(Arc::clone(&clock));
    let redirect = launcher
        .begin(&network.provider.fhir_base(), &network.launch("Patient/1"))
        .unwrap();
    let back = network.browse(&redirect.url, "Patient/1");
    clock.advance(601);
    assert!(matches!(
        launcher
            .finish(
                &query_param(&back, "code").unwrap(),
                &redirect.pending.state,
                &redirect.pending
            )
            .map_err(LaunchError::into_reason),
        Err(HostError::UnknownState)
    ));
}

#[test]
fn a_tampered_launch_is_refused_by_the_server() {
    let network = Network::start();
    let launcher = network.launcher();
    let genuine = network.launch("Patient/1");
    let other = network.launch("Patient/2");
    // The payload of one launch under the signature of another.
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    let redirect = launcher
        .begin(&network.provider.fhir_base(), &tampered)
        .unwrap();
    let back = network.browse(&redirect.url, "Patient/1");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(&back, "code").is_none());
    launcher
        .cancel(&redirect.pending.state, &redirect.pending)
        .unwrap();
    assert!(matches!(
        launcher
            .finish("x", &redirect.pending.state, &redirect.pending)
            .map_err(LaunchError::into_reason),
        Err(HostError::UnknownState)
    ));
}

/// The stub authorization server of the id_token cases: a SMART configuration under `/fhir`,
/// its JWKS, and a token endpoint answering every code with `id_token(claims)`.
struct IdTokenStub {
    server: StubServer,
}

impl IdTokenStub {
    fn start(claims: impl Fn(&str) -> Value + Send + Sync + 'static) -> IdTokenStub {
        let signer = PrivateKey::generate(Algorithm::RS512).unwrap();
        let jwks = jwks_document(&[&signer]).unwrap();
        let key = signer
            .to_pem(koppeltaal_host::keys::PemFormat::Pkcs8)
            .unwrap();
        let base = Arc::new(std::sync::OnceLock::<String>::new());
        let server = {
            let base = Arc::clone(&base);
            StubServer::start(move |request| {
                let base = base.get().cloned().unwrap_or_default();
                match request.path.as_str() {
                    "/fhir/.well-known/smart-configuration" => Reply::new(
                        200,
                        json!({
                            "issuer": base,
                            "authorization_endpoint": format!("{base}/authorize"),
                            "token_endpoint": format!("{base}/token"),
                            "jwks_uri": format!("{base}/jwks"),
                        })
                        .to_string(),
                    ),
                    "/jwks" => Reply::new(200, jwks.clone()),
                    "/token" => {
                        let signer = PrivateKey::from_pem(&key).unwrap().signer().unwrap();
                        let payload = claims(&base).to_string();
                        Reply::new(
                            200,
                            json!({
                                "access_token": "NOOP",
                                "token_type": "Bearer",
                                "expires_in": 300,
                                "id_token": sign(signer.as_ref(), &payload),
                                "resource": "Task/11",
                            })
                            .to_string(),
                        )
                    }
                    _ => Reply::new(404, "{}"),
                }
            })
        };
        base.set(server.url("")).unwrap();
        IdTokenStub { server }
    }

    fn fhir_base(&self) -> String {
        self.server.url("/fhir")
    }
}

/// A compact JWS of `payload` by `signer` (RS512, its kid).
fn sign(signer: &dyn koppeltaal_core::JwsSigner, payload: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let header = format!(
        r#"{{"alg":"RS512","kid":"{}","typ":"JWT"}}"#,
        signer.key_id()
    );
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(payload.as_bytes())
    );
    let mut signature = [0u8; 512];
    let len = signer
        .sign(input.as_bytes(), &mut os_rng(), &mut signature)
        .unwrap();
    format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&signature[..len])
    )
}

/// Begins a launch through `stub` and finishes it at once (the stub's token endpoint takes
/// any code); the nonce the launcher sent is put into the id_token by `claims`.
fn launch_through(
    stub: &IdTokenStub,
    nonce_check: NonceCheck,
    nonce_slot: &Arc<std::sync::Mutex<String>>,
) -> Result<koppeltaal_host::shof::ShofLaunch, HostError> {
    let module = PrivateKey::generate(Algorithm::ES256).unwrap();
    let mut options = ShofOptions::new(CLIENT, REDIRECT, &[&stub.fhir_base()]);
    options.nonce = nonce_check;
    let launcher = ShofLauncher::new(options, module.signer().unwrap());
    let redirect = launcher.begin(&stub.fhir_base(), "a.b.c").unwrap();
    *nonce_slot.lock().unwrap() = query_param(&redirect.url, "nonce").unwrap();
    launcher
        .finish("any-code", &redirect.pending.state, &redirect.pending)
        .map_err(LaunchError::into_reason)
}

fn stub_with(
    shape: impl Fn(&str, &str) -> Value + Send + Sync + 'static,
) -> (IdTokenStub, Arc<std::sync::Mutex<String>>) {
    let nonce = Arc::new(std::sync::Mutex::new(String::new()));
    let stub = {
        let nonce = Arc::clone(&nonce);
        IdTokenStub::start(move |issuer| shape(issuer, &nonce.lock().unwrap()))
    };
    (stub, nonce)
}

fn id_claims(issuer: &str, nonce: &str) -> Value {
    json!({"iss": issuer, "sub": "alice", "aud": CLIENT, "azp": CLIENT, "iat": now(),
           "exp": now() + 300, "nonce": nonce, "fhirUser": "Patient/1"})
}

#[test]
fn id_tokens_that_are_not_for_this_launch_are_refused() {
    // Stub-made id_tokens (oidc-provider never issues these).
    // (the id_token's claims from the issuer and the nonce sent, the error expected)
    type Shape = fn(&str, &str) -> Value;
    let cases: [(Shape, &str); 5] = [
        (|iss, nonce| id_claims(iss, nonce), ""),
        (
            |iss, nonce| {
                let mut claims = id_claims(iss, nonce);
                claims["aud"] = json!([CLIENT, "another-client"]);
                claims["azp"] = json!("another-client");
                claims
            },
            "WrongAuthorizedParty",
        ),
        (
            |iss, nonce| {
                let mut claims = id_claims(iss, nonce);
                claims["aud"] = json!("another-client");
                claims
            },
            "WrongAudience",
        ),
        (
            |iss, nonce| {
                let mut claims = id_claims(iss, nonce);
                claims["iat"] = json!(now() - 1000);
                claims["exp"] = json!(now() - 700);
                claims
            },
            "Expired",
        ),
        (
            |iss, _| id_claims(iss, "a-nonce-from-another-launch"),
            "NonceMismatch",
        ),
    ];
    for (shape, expected) in cases {
        let (stub, nonce) = stub_with(shape);
        let outcome = launch_through(&stub, NonceCheck::Required, &nonce);
        match expected {
            "" => assert_eq!(outcome.unwrap().id_token.fhir_user(), Some("Patient/1")),
            name => assert_eq!(outcome.unwrap_err().name(), name),
        }
    }
}

#[test]
fn a_server_that_does_not_echo_the_nonce_needs_the_explicit_choice() {
    // As Koppeltaal's authentication service does (observed, commit e6383ae4): a random nonce
    // of its own, no fhirUser, sub the launch's person.
    let (stub, nonce) = stub_with(|iss, _| {
        json!({"iss": iss, "sub": "Patient/1", "aud": CLIENT, "azp": CLIENT, "iat": now(),
               "nbf": now(), "exp": now() + 300, "nonce": "5f7e1c1e-6a0e-4b8e-9d3c-000000000000",
               "jti": "x"})
    });
    assert_eq!(
        launch_through(&stub, NonceCheck::Required, &nonce)
            .unwrap_err()
            .name(),
        "NonceMismatch"
    );
    let accepted = launch_through(&stub, NonceCheck::NotEchoed, &nonce).unwrap();
    assert_eq!(accepted.id_token.subject(), "Patient/1");
    assert_eq!(accepted.id_token.fhir_user(), None);
    assert_eq!(accepted.context["resource"], "Task/11");
}
