//! Every error variant, each produced by a real signed token (or, for key-set and
//! configuration errors, by the API that loads them).

mod support;

use std::collections::BTreeSet;

use koppeltaal_core::{
    Algorithm, Error, HtiLaunch, KeySet, LaunchVerifier, Part, Policy, ReplayGuard, TrustedIssuer,
};
use serde_json::{Value, json};
use support::*;

fn verify(token: &str) -> Result<HtiLaunch, Error> {
    verifier().verify(token.as_bytes(), NOW)
}

fn signed(claims: &Value) -> String {
    portal_key().sign("RS512", claims)
}

fn with_header(header: Value) -> String {
    portal_key().sign_raw("RS512", &header.to_string(), &claims().to_string())
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

/// The token with its signature replaced by `signature`.
fn resigned(token: &str, signature: &[u8]) -> String {
    let parts = segments(token);
    format!("{}.{}.{}", parts[0], parts[1], b64(signature))
}

#[test]
fn accepts_a_valid_launch_with_every_claim() {
    let launch = verify(&signed(&claims())).expect("valid launch");
    assert_eq!(launch.issuer(), ISSUER);
    assert_eq!(launch.audience(), AUDIENCE);
    assert_eq!(launch.subject(), "Practitioner/a5e58253");
    assert_eq!(launch.issued_at(), IAT);
    assert_eq!(launch.expires_at(), IAT + 300);
    assert_eq!(launch.token_id(), "679e1e4c-bcb9-4fcc-80c4-f36e7063545c");
    assert_eq!(launch.resource(), "Task/11");
    assert_eq!(
        launch.definition(),
        "https://module.example.org/ActivityDefinition/fearfighter"
    );
    assert_eq!(launch.patient(), Some("Patient/a5e582e"));
    assert_eq!(launch.intent(), Some("plan"));
    assert_eq!(launch.algorithm(), Algorithm::RS512);
    assert_eq!(launch.key_id(), "portal-2048");
}

#[test]
fn optional_claims_may_be_absent_and_aud_may_be_an_array() {
    let mut claims = claims();
    let object = claims.as_object_mut().unwrap();
    object.remove("patient");
    object.remove("intent");
    object.insert("aud".into(), json!(["Device/1", AUDIENCE]));
    let launch = verify(&signed(&claims)).expect("valid launch");
    assert_eq!(launch.patient(), None);
    assert_eq!(launch.intent(), None);
    assert_eq!(launch.audience(), AUDIENCE);
}

#[test]
fn every_error_variant_is_reachable_and_specific() {
    let portal = portal_key();
    let valid = signed(&claims());
    let [header, payload, signature]: [String; 3] = segments(&valid).try_into().unwrap();
    let published = portal.jwk(r#","use":"sig""#);
    let small = TestKey::generate("small", 1024);
    let mut huge_modulus = vec![0xffu8; 520];
    huge_modulus[519] = 0xfd;
    let huge = format!(
        r#"{{"kty":"RSA","kid":"huge","n":"{}","e":"AQAB"}}"#,
        b64(&huge_modulus)
    );
    let mut even_modulus = portal.n();
    *even_modulus.last_mut().unwrap() &= 0xfe;
    let even = format!(
        r#"{{"kty":"RSA","kid":"even","n":"{}","e":"AQAB"}}"#,
        b64(&even_modulus)
    );
    let odd_keys = jwks(&[
        published.clone(),
        small.jwk(""),
        huge,
        even,
        portal.jwk(r#","use":"enc""#).replace("portal-2048", "enc"),
    ]);
    let with_kid = |kid: &str| with_header(json!({"alg": "RS512", "kid": kid}));
    let odd_key = |token: &str| {
        verifier_with(&odd_keys, Policy::new(AUDIENCE).unwrap()).verify(token.as_bytes(), NOW)
    };
    let raw_payload =
        |payload: &str| portal.sign_raw("RS512", r#"{"alg":"RS512","kid":"portal-2048"}"#, payload);
    let claims_text = claims().to_string();
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let many_members: serde_json::Map<String, Value> =
        (0..70).map(|i| (format!("m{i}"), json!(i))).collect();

    let mut replay_verifier = verifier();
    let replay_first = replay_verifier.verify(valid.as_bytes(), NOW).map(|_| ());
    let keys = KeySet::<8>::from_jwks(jwks(std::slice::from_ref(&published)).as_bytes()).unwrap();
    let mut tiny_guard = LaunchVerifier::<_, ReplayGuard<1>>::new(
        TrustedIssuer::new(ISSUER, keys).unwrap(),
        Policy::new(AUDIENCE).unwrap(),
        ReplayGuard::new(),
    );
    let first_fits = tiny_guard.verify(valid.as_bytes(), NOW).map(|_| ());
    let other_jti = signed(&claims_with("jti", json!("another")));
    // A guard that has seen a later time than the verification that follows (a request that
    // read the clock long ago, or a clock stepped back).
    let mut clock_behind = verifier();
    let later = signed(&json!({"iat": NOW + 400, "exp": NOW + 700, "jti": "later"}).merged());
    let seen_later = clock_behind.verify(later.as_bytes(), NOW + 460).map(|_| ());
    // Encrypted launches.
    let module =
        koppeltaal_core::RsaOaepKey::new(portal_key().private.clone(), Some("module")).unwrap();
    let to_module = koppeltaal_core::RsaOaepPublicKey::new(
        portal_key().private.to_public_key(),
        koppeltaal_core::KeyManagement::RsaOaep,
        Some("module"),
    )
    .unwrap();
    let encrypt = |content: &str| {
        koppeltaal_core::encrypt_token(
            content,
            &to_module,
            koppeltaal_core::ContentEncryption::A128Gcm,
            &mut rand::rng(),
        )
        .unwrap()
    };
    let decrypt = |token: &str, key: &koppeltaal_core::RsaOaepKey| {
        let mut plaintext = [0u8; 8192];
        verifier()
            .verify_encrypted(
                token.as_bytes(),
                &[key],
                &mut rand::rng(),
                &mut plaintext,
                NOW,
            )
            .map(|_| ())
    };
    let jwe_header = |json: &str| format!("{}.AAAA.AAAA.AAAA.AAAA", b64(json.as_bytes()));
    let elsewhere =
        koppeltaal_core::RsaOaepKey::new(attacker_key().private.clone(), Some("module")).unwrap();
    let stranger =
        koppeltaal_core::RsaOaepKey::new(attacker_key().private.clone(), Some("other")).unwrap();
    // id_tokens.
    let id_policy = Policy::new("my-client").unwrap().with_max_lifetime(3600);
    let id_token = |claims: &Value| {
        let mut scratch = [0u8; 6144];
        let token = portal.sign("RS512", claims);
        let expected = koppeltaal_core::IdTokenExpectations {
            issuer: ISSUER,
            nonce: Some("n-0S6"),
        };
        let keys = KeySet::<8>::from_jwks(jwks(&[portal_key().jwk("")]).as_bytes()).unwrap();
        koppeltaal_core::Unverified::parse(token.as_bytes(), &id_policy, &mut scratch)
            .and_then(|unverified| unverified.verify_id_token(keys.keys(), &expected, NOW))
            .map(|_| ())
    };
    let id_claims = |extra: Value| {
        let mut claims = json!({"iss": ISSUER, "sub": "alice", "aud": "my-client", "iat": IAT, "exp": IAT + 600, "nonce": "n-0S6"});
        for (key, value) in extra.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };

    let cases: Vec<(&str, Result<(), Error>, Error)> = vec![
        ("oversized token", verify(&signed(&claims_with("pad", json!("a".repeat(9000))))).map(|_| ()), Error::TokenTooLarge),
        ("two segments", verify(&format!("{header}.{payload}")).map(|_| ()), Error::MalformedToken),
        ("four segments", verify(&format!("{valid}.x")).map(|_| ()), Error::MalformedToken),
        ("five segments", verify(&format!("{valid}.x.y")).map(|_| ()), Error::EncryptedToken),
        ("padded header", verify(&format!("{header}=.{payload}.{signature}")).map(|_| ()), Error::InvalidBase64(Part::Header)),
        ("padded payload", verify(&format!("{header}.{payload}=.{signature}")).map(|_| ()), Error::InvalidBase64(Part::Payload)),
        ("signature with a space", verify(&format!("{valid} ")).map(|_| ()), Error::InvalidBase64(Part::Signature)),
        ("stripped signature", verify(&format!("{header}.{payload}.")).map(|_| ()), Error::MissingSignature),
        ("header not JSON", portal.sign_raw("RS512", r#"{"alg":"RS512""#, &claims_text).pipe(verify), Error::InvalidJson(Part::Header)),
        ("payload not JSON", raw_payload(r#"{"iss":}"#).pipe(verify), Error::InvalidJson(Part::Payload)),
        ("nesting bomb", verify(&signed(&claims_with("x", serde_json::from_str(&deep).unwrap()))).map(|_| ()), Error::JsonTooDeep(Part::Payload)),
        ("duplicate exp", raw_payload(&claims_text.replacen('{', r#"{"exp":1700000100,"#, 1)).pipe(verify), Error::DuplicateMember("exp")),
        ("iss a number", verify(&signed(&claims_with("iss", json!(5)))).map(|_| ()), Error::InvalidMemberType("iss")),
        ("exp a float", verify(&signed(&claims_with("exp", json!(1_700_000_300.5)))).map(|_| ()), Error::InvalidNumericDate("exp")),
        ("long jti", verify(&signed(&claims_with("jti", json!("j".repeat(200))))).map(|_| ()), Error::ValueTooLong("jti")),
        ("70 extra claims", verify(&signed(&Value::Object(many_members))).map(|_| ()), Error::TooManyMembers(Part::Payload)),
        ("alg none", with_header(json!({"alg": "none", "kid": portal.kid})).pipe(verify), Error::ForbiddenAlgorithm),
        ("alg PS512", with_header(json!({"alg": "PS512", "kid": portal.kid})).pipe(verify), Error::UnsupportedAlgorithm),
        ("alg RS256 not allowed", portal.sign("RS256", &claims()).pipe(verify), Error::AlgorithmNotAllowed(Algorithm::RS256)),
        ("no kid", with_header(json!({"alg": "RS512"})).pipe(verify), Error::MissingKeyId),
        ("embedded jwk", with_header(json!({"alg": "RS512", "kid": portal.kid, "jwk": serde_json::from_str::<Value>(&attacker_key().jwk("")).unwrap()})).pipe(verify), Error::EmbeddedKey),
        ("crit", with_header(json!({"alg": "RS512", "kid": portal.kid, "crit": ["exp"]})).pipe(verify), Error::UnsupportedCritical),
        ("typ at+jwt", with_header(json!({"alg": "RS512", "kid": portal.kid, "typ": "at+jwt"})).pipe(verify), Error::UnexpectedType),
        ("no alg", with_header(json!({"kid": portal.kid})).pipe(verify), Error::MissingAlgorithm),
        ("foreign issuer", verify(&signed(&claims_with("iss", json!("https://evil.example")))).map(|_| ()), Error::WrongIssuer),
        ("unknown kid", with_kid("rotated-out").pipe(verify), Error::UnknownKeyId),
        ("encryption key", with_kid("enc").pipe(odd_key), Error::KeyNotUsable),
        ("1024-bit key", small.sign("RS512", &claims()).pipe(odd_key), Error::KeyTooSmall { bits: 1024 }),
        ("4160-bit key", with_kid("huge").pipe(odd_key), Error::KeyTooLarge { bits: 4160 }),
        ("even modulus", with_kid("even").pipe(odd_key), Error::InvalidKey),
        ("short signature", verify(&resigned(&valid, &unb64(&signature)[1..])).map(|_| ()), Error::InvalidSignatureLength),
        ("signature = n", verify(&resigned(&valid, &portal.n())).map(|_| ()), Error::SignatureOutOfRange),
        ("forged signature", forged(&claims()).pipe(verify), Error::BadSignature),
        ("no sub", verify(&signed(&claims_with("sub", Value::Null))).map(|_| ()), Error::MissingClaim("sub")),
        ("empty jti", verify(&signed(&claims_with("jti", json!("")))).map(|_| ()), Error::EmptyClaim("jti")),
        ("other audience", verify(&signed(&claims_with("aud", json!("Device/43")))).map(|_| ()), Error::WrongAudience),
        ("expired", verify(&signed(&json!({"iat": NOW - 400, "exp": NOW - 100}).merged())).map(|_| ()), Error::Expired { exp: NOW - 100, now: NOW }),
        ("nbf ahead", verify(&signed(&claims_with("nbf", json!(NOW + 120)))).map(|_| ()), Error::NotYetValid { nbf: NOW + 120, now: NOW }),
        ("iat ahead", verify(&signed(&json!({"iat": NOW + 120, "exp": NOW + 300}).merged())).map(|_| ()), Error::IssuedInFuture { iat: NOW + 120, now: NOW }),
        ("lives 301 s", verify(&signed(&claims_with("exp", json!(IAT + 301)))).map(|_| ()), Error::LifetimeTooLong { lifetime: 301, max: 300 }),
        ("exp = iat", verify(&signed(&claims_with("exp", json!(IAT)))).map(|_| ()), Error::ExpiresBeforeIssued),
        ("sub a Task", verify(&signed(&claims_with("sub", json!("Task/11")))).map(|_| ()), Error::BadPersonReference("sub")),
        ("intent unknown", verify(&signed(&claims_with("intent", json!("whenever")))).map(|_| ()), Error::InvalidIntent),
        ("replayed", replay_first.and(replay_verifier.verify(valid.as_bytes(), NOW + 1).map(|_| ())), Error::Replayed),
        ("JWE inside a JWE", decrypt(&encrypt_nested(&encrypt(&valid), &to_module), &module), Error::NotSignedInside),
        ("JWE RSA1_5", decrypt(&jwe_header(r#"{"alg":"RSA1_5","enc":"A128GCM","cty":"JWT"}"#), &module), Error::ForbiddenKeyManagement),
        ("JWE ECDH-ES", decrypt(&jwe_header(r#"{"alg":"ECDH-ES","enc":"A128GCM","cty":"JWT"}"#), &module), Error::UnsupportedKeyManagement),
        ("JWE A128KW content", decrypt(&jwe_header(r#"{"alg":"RSA-OAEP","enc":"A128KW","cty":"JWT"}"#), &module), Error::UnsupportedContentEncryption),
        ("JWE zip", decrypt(&jwe_header(r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","zip":"DEF"}"#), &module), Error::CompressedContent),
        ("JWE cty json", decrypt(&jwe_header(r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"json"}"#), &module), Error::UnexpectedContentType),
        ("JWE for another kid", decrypt(&encrypt(&valid), &stranger), Error::UnknownDecryptionKey),
        ("JWE for another key", decrypt(&encrypt(&valid), &elsewhere), Error::DecryptionFailed),
        ("id_token for another client", id_token(&id_claims(json!({"aud": ["my-client", "other"], "azp": "other"}))), Error::WrongAuthorizedParty),
        ("id_token with another nonce", id_token(&id_claims(json!({"nonce": "replayed"}))), Error::NonceMismatch),
        ("guard past the window", seen_later.and(clock_behind.verify(valid.as_bytes(), NOW).map(|_| ())), Error::ReplayWindowClosed { forget_at: IAT + 360, high_water: NOW + 460 }),
        ("guard full", first_fits.and(tiny_guard.verify(other_jti.as_bytes(), NOW).map(|_| ())), Error::ReplayStoreFull),
        ("JWKS without keys", KeySet::<2>::from_jwks(br#"{"kid":"x"}"#).map(|_| ()), Error::InvalidKeySet),
        ("JWKS over capacity", KeySet::<1>::from_jwks(odd_keys.as_bytes()).map(|_| ()), Error::TooManyKeys),
        ("empty audience", Policy::new("").map(|_| ()), Error::InvalidConfiguration),
        ("launch into 64 bytes", produced_into(64), Error::BufferTooSmall),
        ("JWKS into a broken sink", jwks_into_broken_sink(), Error::WriteFailed),
        ("failing HSM", failing_hsm(), Error::SigningFailed),
    ];

    let mut covered = BTreeSet::new();
    for (label, outcome, expected) in &cases {
        assert_eq!(outcome.as_ref().err(), Some(expected), "{label}");
        covered.insert(expected.code());
    }
    let all: BTreeSet<u16> = Error::CODES.iter().copied().collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "error codes without a test case: {missing:?}"
    );
}

/// `inner` (anything) encrypted to `recipient` by hand: `encrypt_token` encrypts only signed
/// tokens, so a JWE inside a JWE is made with the content encryption directly.
fn encrypt_nested(inner: &str, recipient: &koppeltaal_core::RsaOaepPublicKey) -> String {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use koppeltaal_core::KeyWrapper;
    let header = b64(br#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT"}"#);
    let key = [0x42u8; 16];
    let iv = [7u8; 12];
    let wrapped = recipient.wrap_key(&key, &mut rand::rng()).unwrap();
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap();
    let mut buffer = inner.as_bytes().to_vec();
    let tag = cipher
        .encrypt_inout_detached(&iv.into(), header.as_bytes(), buffer.as_mut_slice().into())
        .unwrap();
    format!(
        "{header}.{}.{}.{}.{}",
        b64(&wrapped),
        b64(&iv),
        b64(&buffer),
        b64(&tag)
    )
}

fn launch_token() -> koppeltaal_core::LaunchToken<'static> {
    koppeltaal_core::LaunchToken::new(
        ISSUER,
        AUDIENCE,
        "Patient/1",
        "Task/1",
        "https://m.example/AD/1",
        IAT,
    )
    .unwrap()
}

fn produced_into(size: usize) -> Result<(), Error> {
    let signer = koppeltaal_core::RsaSigner::new(portal_key().private.clone(), Algorithm::RS512)?;
    let mut buffer = vec![0u8; size];
    launch_token()
        .sign(&signer, &mut rand::rng(), &mut buffer)
        .map(|_| ())
}

/// A sink that fails the way a broken UART or socket does.
struct BrokenSink;

impl embedded_io::ErrorType for BrokenSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for BrokenSink {
    fn write(&mut self, _: &[u8]) -> Result<usize, Self::Error> {
        Err(embedded_io::ErrorKind::BrokenPipe)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn jwks_into_broken_sink() -> Result<(), Error> {
    koppeltaal_core::JwksWriter::new(&mut BrokenSink).map(|_| ())
}

struct FailingHsm;

impl signature::Signer<p256::ecdsa::Signature> for FailingHsm {
    fn try_sign(&self, _: &[u8]) -> Result<p256::ecdsa::Signature, signature::Error> {
        Err(signature::Error::new())
    }
}

fn failing_hsm() -> Result<(), Error> {
    let hsm = koppeltaal_core::ExternalSigner::<_, p256::ecdsa::Signature>::new(
        FailingHsm,
        Algorithm::ES256,
        "hsm",
    )?;
    launch_token()
        .sign_to_string(&hsm, &mut rand::rng())
        .map(|_| ())
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(&str) -> Result<T, Error>) -> Result<(), Error>;
}

impl Pipe for String {
    fn pipe<T>(self, f: impl FnOnce(&str) -> Result<T, Error>) -> Result<(), Error> {
        f(&self).map(|_| ())
    }
}

trait Merged {
    /// The standard claims with these members replaced.
    fn merged(self) -> Value;
}

impl Merged for Value {
    fn merged(self) -> Value {
        let mut claims = claims();
        for (key, value) in self.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    }
}
