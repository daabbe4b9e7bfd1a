//! The access-token profile (RFC 9068 style bearer tokens) and accepting an introspected
//! launch: what each checks, and what it deliberately does not.

mod support;

use koppeltaal_core::{Error, KeySet, Policy, Unverified};
use serde_json::{Value, json};
use support::*;

const RESOURCE_SERVER: &str = "https://fhir.example.org";

fn access_claims() -> Value {
    json!({
        "iss": ISSUER, "aud": RESOURCE_SERVER, "sub": "my-client-id", "client_id": "my-client-id",
        "iat": IAT, "exp": IAT + 600, "jti": "a1", "scope": "system/Task.read system/Patient.read"
    })
}

fn access_token(claims: &Value) -> String {
    let header = json!({"alg": "RS512", "kid": portal_key().kid, "typ": "at+jwt"}).to_string();
    portal_key().sign_raw("RS512", &header, &claims.to_string())
}

fn policy() -> Policy {
    Policy::new(RESOURCE_SERVER)
        .unwrap()
        .with_max_lifetime(3600)
        .expecting_type("at+jwt")
        .unwrap()
}

fn verify(token: &str, policy: &Policy) -> Result<koppeltaal_core::AccessTokenClaims, Error> {
    let keys = KeySet::<4>::from_jwks(jwks(&[portal_key().jwk("")]).as_bytes()).unwrap();
    let mut scratch = [0u8; 6144];
    Unverified::parse(token.as_bytes(), policy, &mut scratch)?.verify_access_token(keys.keys(), NOW)
}

#[test]
fn an_access_token_with_a_client_id_subject_verifies() {
    let claims = verify(&access_token(&access_claims()), &policy()).unwrap();
    assert_eq!(claims.issuer(), ISSUER);
    assert_eq!(claims.subject(), Some("my-client-id"));
    assert_eq!(claims.token_id(), Some("a1"));
    assert_eq!(claims.expires_at(), IAT + 600);
}

#[test]
fn an_access_token_is_still_checked_for_audience_times_and_signature() {
    let mut wrong_audience = access_claims();
    wrong_audience["aud"] = json!("https://other.example.org");
    assert_eq!(
        verify(&access_token(&wrong_audience), &policy()).err(),
        Some(Error::WrongAudience)
    );
    let mut no_iat = access_claims();
    no_iat.as_object_mut().unwrap().remove("iat");
    assert_eq!(
        verify(&access_token(&no_iat), &policy()).err(),
        Some(Error::MissingClaim("iat"))
    );
    let mut expired = access_claims();
    expired["exp"] = json!(NOW - 61);
    expired["iat"] = json!(NOW - 661);
    assert_eq!(
        verify(&access_token(&expired), &policy()).err(),
        Some(Error::Expired {
            exp: NOW - 61,
            now: NOW
        })
    );
    let default_lifetime = Policy::new(RESOURCE_SERVER)
        .unwrap()
        .expecting_type("at+jwt")
        .unwrap();
    assert_eq!(
        verify(&access_token(&access_claims()), &default_lifetime)
            .err()
            .map(|error| error.name()),
        Some("LifetimeTooLong")
    );
    let plain_typ = Policy::new(RESOURCE_SERVER)
        .unwrap()
        .with_max_lifetime(3600);
    assert_eq!(
        verify(&access_token(&access_claims()), &plain_typ).err(),
        Some(Error::UnexpectedType)
    );
    let token = access_token(&access_claims());
    let forged = format!(
        "{}.{}",
        &token[..token.rfind('.').unwrap()],
        b64(&[7u8; 256])
    );
    assert_eq!(verify(&forged, &policy()).err(), Some(Error::BadSignature));
}

#[test]
fn an_introspected_launch_skips_only_the_signature() {
    let policy = Policy::new(AUDIENCE).unwrap();
    let mut scratch = [0u8; 6144];
    // A genuine signature is not needed (the server vouched for the token)...
    let unsigned_by_us = forged(&claims());
    let launch = Unverified::parse(unsigned_by_us.as_bytes(), &policy, &mut scratch)
        .and_then(|token| token.accept_introspected(NOW))
        .unwrap();
    assert_eq!(launch.resource(), "Task/11");
    // ...but every claim is still checked.
    let elsewhere = forged(&claims_with("aud", json!("Device/7")));
    let outcome = Unverified::parse(elsewhere.as_bytes(), &policy, &mut scratch)
        .and_then(|token| token.accept_introspected(NOW));
    assert_eq!(outcome.err(), Some(Error::WrongAudience));
    let stale = forged(&claims());
    let outcome = Unverified::parse(stale.as_bytes(), &policy, &mut scratch)
        .and_then(|token| token.accept_introspected(NOW + 400));
    assert_eq!(outcome.err().map(|error| error.name()), Some("Expired"));
}
