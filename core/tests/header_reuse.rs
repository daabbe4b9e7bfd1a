//! A verifier remembers the last header that passed (a portal signs every launch with the same
//! one) and compares the next token's with it instead of parsing it again. Whatever the
//! sequence, each token must get the verdict it would get from a fresh verifier.

mod support;

use koppeltaal_core::Error;
use serde_json::json;
use support::*;

fn launch(jti: &str) -> String {
    portal_key().sign("RS512", &claims_with("jti", json!(jti)))
}

fn with_header(header: &str, jti: &str) -> String {
    let payload = claims_with("jti", json!(jti)).to_string();
    portal_key().sign_raw("RS512", header, &payload)
}

/// The verdict of a verifier that has seen nothing before.
fn fresh_verdict(token: &str) -> Result<(), Error> {
    verifier().verify(token.as_bytes(), NOW).map(|_| ())
}

#[test]
fn every_token_gets_the_verdict_of_a_fresh_verifier() {
    let kid = portal_key().kid;
    let long_kid = "k".repeat(110);
    let tokens = [
        launch("a"),
        // Another header: each field differs from the remembered one in turn.
        with_header(
            &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}).to_string(),
            "b",
        ),
        with_header(
            &json!({"alg": "RS512", "kid": "other", "typ": "JWT"}).to_string(),
            "c",
        ),
        with_header(
            &json!({"alg": "RS512", "kid": kid, "typ": "at+jwt"}).to_string(),
            "d",
        ),
        with_header(
            &json!({"alg": "RS512", "kid": kid, "crit": ["x"]}).to_string(),
            "e",
        ),
        // The usual header again, after refusals.
        launch("f"),
        // The same header bytes, but the signature of another key over the same input.
        {
            let genuine = launch("g");
            let (input, _) = genuine.rsplit_once('.').unwrap();
            let signature = attacker_key().sign_input("RS512", input.as_bytes());
            format!("{input}.{}", b64(&signature))
        },
        // The same header bytes over claims that are not a launch's.
        portal_key().sign_raw(
            "RS512",
            &json!({"alg": "RS512", "kid": kid, "typ": "JWT"}).to_string(),
            "{}",
        ),
        // A header too long to remember: refused the same way each time.
        with_header(
            &json!({"alg": "RS512", "kid": long_kid, "typ": "JWT"}).to_string(),
            "i",
        ),
        with_header(
            &json!({"alg": "RS512", "kid": long_kid, "typ": "JWT"}).to_string(),
            "j",
        ),
        launch("k"),
    ];
    let mut verifier = verifier();
    let mut accepted = 0;
    for (index, token) in tokens.iter().enumerate() {
        let verdict = verifier.verify(token.as_bytes(), NOW).map(|_| ());
        assert_eq!(verdict, fresh_verdict(token), "token {index}");
        accepted += usize::from(verdict.is_ok());
    }
    // The three launches with the usual header; every other token is refused for its own reason.
    assert_eq!(accepted, 3);
}
