//! Replay protection through the whole verifier: a token is accepted once, a full guard fails
//! closed, expiry frees room, and only fully verified tokens are recorded.

mod support;

use koppeltaal_core::{Error, KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};
use serde_json::json;
use support::*;

fn token(jti: &str, iat: u64) -> String {
    let mut claims = claims_with("jti", json!(jti));
    claims["iat"] = json!(iat);
    claims["exp"] = json!(iat + 300);
    portal_key().sign("RS512", &claims)
}

fn small_verifier() -> LaunchVerifier<TrustedIssuer<8>, ReplayGuard<3>> {
    let keys = KeySet::from_jwks(jwks(&[portal_key().jwk("")]).as_bytes()).unwrap();
    LaunchVerifier::new(
        TrustedIssuer::new(ISSUER, keys).unwrap(),
        Policy::new(AUDIENCE).unwrap(),
        ReplayGuard::new(),
    )
}

#[test]
fn the_same_token_twice_is_replayed() {
    let mut verifier = verifier();
    let launch = token("once", IAT);
    assert!(verifier.verify(launch.as_bytes(), NOW).is_ok());
    assert_eq!(
        verifier.verify(launch.as_bytes(), NOW).err(),
        Some(Error::Replayed)
    );
    assert_eq!(
        verifier.verify(launch.as_bytes(), IAT + 300 + 59).err(),
        Some(Error::Replayed)
    );
    // Once expired it is refused as expired, not as replayed.
    assert_eq!(
        verifier.verify(launch.as_bytes(), IAT + 300 + 60).err(),
        Some(Error::Expired {
            exp: IAT + 300,
            now: IAT + 360
        })
    );
}

#[test]
fn a_full_guard_fails_closed_and_recovers_when_entries_expire() {
    let mut verifier = small_verifier();
    for jti in ["a", "b", "c"] {
        assert!(
            verifier.verify(token(jti, IAT).as_bytes(), NOW).is_ok(),
            "{jti}"
        );
    }
    assert_eq!(
        verifier.verify(token("d", IAT).as_bytes(), NOW).err(),
        Some(Error::ReplayStoreFull)
    );
    // Still full of live entries a little later.
    assert_eq!(
        verifier
            .verify(token("d", IAT + 200).as_bytes(), IAT + 300)
            .err(),
        Some(Error::ReplayStoreFull)
    );
    // After the first three expire (exp + leeway), new tokens are accepted again.
    let later = IAT + 300 + 60;
    for jti in ["d", "e", "f"] {
        assert!(
            verifier
                .verify(token(jti, later - 10).as_bytes(), later)
                .is_ok(),
            "{jti}"
        );
    }
    assert_eq!(
        verifier
            .verify(token("d", later - 10).as_bytes(), later)
            .err(),
        Some(Error::Replayed)
    );
}

#[test]
fn refused_tokens_do_not_burn_their_jti() {
    let mut verifier = verifier();
    let genuine = token("precious", IAT);
    let forged = forged(&claims_with("jti", json!("precious")));
    assert_eq!(
        verifier.verify(forged.as_bytes(), NOW).err(),
        Some(Error::BadSignature)
    );
    let elsewhere = portal_key().sign("RS512", &{
        let mut claims = claims_with("jti", json!("precious"));
        claims["aud"] = json!("Device/7");
        claims
    });
    assert_eq!(
        verifier.verify(elsewhere.as_bytes(), NOW).err(),
        Some(Error::WrongAudience)
    );
    assert!(verifier.verify(genuine.as_bytes(), NOW).is_ok());
    assert_eq!(verifier.replay_guard().len(), 1);
}

#[test]
fn the_same_jti_from_two_issuers_is_two_tokens() {
    let keys = KeySet::<8>::from_jwks(jwks(&[portal_key().jwk("")]).as_bytes()).unwrap();
    let issuers = [
        TrustedIssuer::new(ISSUER, keys.clone()).unwrap(),
        TrustedIssuer::new("https://other-portal.example.org", keys).unwrap(),
    ];
    let mut verifier = LaunchVerifier::<_, ReplayGuard<8>>::new(
        issuers,
        Policy::new(AUDIENCE).unwrap(),
        ReplayGuard::new(),
    );
    let first = token("shared", IAT);
    let second = portal_key().sign(
        "RS512",
        &claims_with("iss", json!("https://other-portal.example.org")).tap_jti("shared"),
    );
    assert!(verifier.verify(first.as_bytes(), NOW).is_ok());
    assert!(verifier.verify(second.as_bytes(), NOW).is_ok());
    assert_eq!(
        verifier.verify(second.as_bytes(), NOW).err(),
        Some(Error::Replayed)
    );
}

trait TapJti {
    fn tap_jti(self, jti: &str) -> Self;
}

impl TapJti for serde_json::Value {
    fn tap_jti(mut self, jti: &str) -> Self {
        self["jti"] = json!(jti);
        self
    }
}

/// The verifier parses each token into storage it keeps: nothing read from one token may show
/// in the verdict on the next, whether the first was accepted or refused.
#[test]
fn a_reused_verifier_carries_nothing_over_between_tokens() {
    let mut verifier = verifier();
    let mut with_patient = claims_with("patient", json!("Patient/7"));
    with_patient["jti"] = json!("first");
    let first = verifier
        .verify(portal_key().sign("RS512", &with_patient).as_bytes(), NOW)
        .unwrap();
    assert_eq!(first.patient(), Some("Patient/7"));

    let mut without_patient = claims_with("jti", json!("second"));
    without_patient.as_object_mut().unwrap().remove("patient");
    let second = verifier
        .verify(portal_key().sign("RS512", &without_patient).as_bytes(), NOW)
        .unwrap();
    assert_eq!(second.patient(), None);
    assert_eq!(second.token_id(), "second");

    // A refused token (bad signature) leaves its claims behind in the storage; the next one
    // lacking `iss` must be refused for that, not judged by the leftover issuer.
    let mut forged_claims = claims_with("jti", json!("third"));
    forged_claims["iss"] = json!(ISSUER);
    assert_eq!(
        verifier
            .verify(forged(&forged_claims).as_bytes(), NOW)
            .err(),
        Some(Error::BadSignature)
    );
    let mut no_issuer = claims_with("jti", json!("fourth"));
    no_issuer.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        verifier
            .verify(portal_key().sign("RS512", &no_issuer).as_bytes(), NOW)
            .err(),
        Some(Error::MissingClaim("iss"))
    );
}

#[test]
fn checking_and_recording_are_two_steps() {
    let mut verifier = verifier();
    let launch = token("two-steps", IAT);
    // Checking does not use the launch up: it can be checked again.
    let checked = verifier.check(launch.as_bytes(), NOW).unwrap();
    assert_eq!(verifier.check(launch.as_bytes(), NOW).unwrap(), checked);
    // Recording accepts it, once.
    assert_eq!(verifier.record(&checked, NOW), Ok(()));
    assert_eq!(verifier.record(&checked, NOW), Err(Error::Replayed));
    assert_eq!(
        verifier.verify(launch.as_bytes(), NOW).err(),
        Some(Error::Replayed)
    );
    // A token that fails a check is never returned to be recorded.
    assert_eq!(
        verifier.check(b"not a token", NOW).err(),
        Some(Error::MalformedToken)
    );
}
