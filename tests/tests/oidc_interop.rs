//! Our host adapter against a real OAuth 2.0 authorization server (panva's oidc-provider on
//! 127.0.0.1): an access token by client_credentials with an RS512 client assertion, that
//! token verified by our core with the server's JWKS fetched by `RemoteKeys`, introspection,
//! and the server refusing assertions that are expired, misaddressed or signed by a stranger.

use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use std::time::Duration;

use koppeltaal_core::{Algorithm, Error, Policy, Unverified};
use koppeltaal_host::{
    Clock, HostError, PrivateKey, RemoteKeys, SystemClock,
    clock::FixedClock,
    http::HttpOptions,
    keys::jwks_document,
    oauth::{IntrospectionAuth, Introspector, TokenClient},
};
use koppeltaal_tests::oidc::{OidcProvider, RESOURCE, TokenFormat};

const CLIENT: &str = "koppeltaal-test-client";

fn client_key() -> (PrivateKey, String) {
    let key = PrivateKey::generate(Algorithm::RS512).unwrap();
    let jwks = jwks_document(&[&key]).unwrap();
    (key, jwks)
}

fn token_client(
    key: &PrivateKey,
    provider: &OidcProvider,
) -> koppeltaal_host::oauth::TokenClientBuilder {
    TokenClient::builder(CLIENT, key.signer().unwrap()).token_endpoint(&provider.token_endpoint())
}

fn jwks_uri(provider: &OidcProvider) -> String {
    let mut response = ureq::get(&provider.discovery_url()).call().unwrap();
    let discovery: serde_json::Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    discovery["jwks_uri"].as_str().unwrap().to_owned()
}

#[test]
fn our_client_gets_an_access_token_that_our_core_verifies() {
    let (key, jwks) = client_key();
    let provider = OidcProvider::start(CLIENT, &jwks, TokenFormat::Jwt);
    let client = token_client(&key, &provider).build().unwrap();
    let token = client.access_token().expect("the provider issues a token");
    assert_eq!(token.token_type, "Bearer");
    let now = SystemClock.now();
    assert!(
        (590..=600).contains(&(token.expires_at - now)),
        "expires_in 600"
    );
    assert_eq!(
        client.access_token().unwrap().value,
        token.value,
        "cached, not fetched again"
    );

    let keys = RemoteKeys::builder()
        .issuer(provider.issuer(), &jwks_uri(&provider))
        .build()
        .unwrap();
    let policy = Policy::new(RESOURCE)
        .unwrap()
        .with_max_lifetime(3600)
        .expecting_type("at+jwt")
        .unwrap();
    let verify = |token: &str| -> Result<koppeltaal_core::AccessTokenClaims, HostError> {
        let mut scratch = vec![0u8; Unverified::scratch_len(policy.max_token_len())];
        let unverified = Unverified::parse(token.as_bytes(), &policy, &mut scratch)?;
        let keys = keys.keys_for(unverified.issuer()?, unverified.header().key_id())?;
        Ok(unverified.verify_access_token(keys.keys(), SystemClock.now())?)
    };
    let claims = verify(&token.value).expect("our core verifies the provider's RS512 access token");
    assert_eq!(claims.algorithm(), Algorithm::RS512);
    assert_eq!(claims.issuer(), provider.issuer());
    assert_eq!(claims.subject(), Some(CLIENT));

    // Tampered with, the same token is refused.
    let mut parts: Vec<String> = token.value.split('.').map(str::to_owned).collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(&parts[1]).unwrap()).unwrap();
    payload["scope"] = serde_json::json!("system/*.write");
    parts[1] = koppeltaal_tests::b64(payload.to_string().as_bytes());
    assert!(matches!(
        verify(&parts.join(".")),
        Err(HostError::Core(Error::BadSignature))
    ));
}

#[test]
fn introspection_reports_an_issued_token_active_and_garbage_inactive() {
    let (key, jwks) = client_key();
    let provider = OidcProvider::start(CLIENT, &jwks, TokenFormat::Opaque);
    let client = token_client(&key, &provider).build().unwrap();
    let token = client.access_token().unwrap();
    let introspector = Introspector::new(
        &provider.introspection_endpoint(),
        IntrospectionAuth::ClientAssertion {
            client: client.clone(),
            audience: None,
        },
        HttpOptions::default(),
    )
    .unwrap();
    let answer = introspector
        .introspect(&token.value)
        .expect("introspection answers");
    assert!(answer.active, "{answer:?}");
    assert_eq!(answer.claims["client_id"], CLIENT);
    assert_eq!(answer.claims["aud"], RESOURCE);
    let garbage = introspector
        .introspect("not-a-token-this-server-issued")
        .unwrap();
    assert!(!garbage.active);
    assert!(garbage.claims.is_empty());
}

#[test]
fn the_server_refuses_assertions_that_are_expired_misaddressed_or_foreign() {
    let (key, jwks) = client_key();
    let provider = OidcProvider::start(CLIENT, &jwks, TokenFormat::Jwt);
    let refused = |client: TokenClient| match client.request_token() {
        Err(HostError::OAuth { status, error, .. }) => (status, error),
        other => panic!("expected an OAuth error, got {other:?}"),
    };

    // Expired by five minutes (the provider tolerates a few seconds of skew, not this).
    let ten_minutes_ago = Arc::new(FixedClock::new(SystemClock.now() - 600));
    let expired = token_client(&key, &provider)
        .clock(ten_minutes_ago)
        .build()
        .unwrap();
    assert_eq!(refused(expired), (401, "invalid_client".to_owned()));

    let misaddressed = token_client(&key, &provider)
        .assertion_audience("https://elsewhere.example/token")
        .build()
        .unwrap();
    assert_eq!(refused(misaddressed), (401, "invalid_client".to_owned()));

    let stranger = PrivateKey::generate(Algorithm::RS512).unwrap();
    let foreign = token_client(&stranger, &provider).build().unwrap();
    assert_eq!(refused(foreign), (401, "invalid_client".to_owned()));

    // And the genuine client still gets its token.
    let genuine = token_client(&key, &provider).http(HttpOptions {
        timeout: Duration::from_secs(10),
        ..HttpOptions::default()
    });
    assert!(genuine.build().unwrap().request_token().is_ok());
}

#[test]
fn eight_threads_asking_at_once_share_one_fetch() {
    let (key, jwks) = client_key();
    let provider = OidcProvider::start(CLIENT, &jwks, TokenFormat::Jwt);
    let client = token_client(&key, &provider).build().unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (client, barrier) = (client.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                client.access_token().unwrap().value
            })
        })
        .collect();
    let values: std::collections::HashSet<String> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    // Every fetch yields a distinct token (its own jti), so one value means one fetch.
    assert_eq!(values.len(), 1);
}
