//! Producing tokens and key sets: every algorithm round-trips through our own JWKS writer
//! and verifier; client assertions carry exactly the SMART claims; JSON is escaped; algorithm
//! confusion is refused; external signers and small buffers behave.

mod support;

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{
    Algorithm, AlgorithmSet, ClientAssertion, EcSigner, Error, ExternalSigner, JwksWriter,
    JwsSigner, KeySet, LaunchToken, LaunchVerifier, Policy, PublicJwk, ReplayGuard, RsaSigner,
    TrustedIssuer,
};
use p256::elliptic_curve::Generate;
use serde_json::Value;
use support::{AUDIENCE, ISSUER, portal_key};

const NOW: u64 = 1_700_000_000;
const DEFINITION: &str = "https://module.example.org/ActivityDefinition/fearfighter";

/// One signer per algorithm; the RSA ones share the portal's 2048-bit key.
fn signers() -> Vec<Box<dyn JwsSignerWithJwk>> {
    let rsa = || portal_key().private.clone();
    let mut rng = rand::rng();
    vec![
        Box::new(
            RsaSigner::new(rsa(), Algorithm::RS256)
                .unwrap()
                .with_key_id("rs256")
                .unwrap(),
        ),
        Box::new(
            RsaSigner::new(rsa(), Algorithm::RS384)
                .unwrap()
                .with_key_id("rs384")
                .unwrap(),
        ),
        Box::new(RsaSigner::new(rsa(), Algorithm::RS512).unwrap()),
        Box::new(EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(
            &mut rng,
        ))),
        Box::new(EcSigner::p384(p384::ecdsa::SigningKey::generate_from_rng(
            &mut rng,
        ))),
        Box::new(EcSigner::p521(p521::ecdsa::SigningKey::generate_from_rng(
            &mut rng,
        ))),
    ]
}

/// A signer that can also publish its key.
trait JwsSignerWithJwk: JwsSigner {
    fn jwk(&self) -> PublicJwk<'_>;
}

impl JwsSignerWithJwk for RsaSigner {
    fn jwk(&self) -> PublicJwk<'_> {
        self.public_jwk()
    }
}

impl JwsSignerWithJwk for EcSigner {
    fn jwk(&self) -> PublicJwk<'_> {
        self.public_jwk()
    }
}

fn jwks_of(signers: &[Box<dyn JwsSignerWithJwk>]) -> String {
    let mut out = Vec::new();
    let mut jwks = JwksWriter::new(&mut out).unwrap();
    for signer in signers {
        let alg = signer.algorithm().is_rsa().then(|| signer.algorithm());
        jwks.key_with_id(&signer.jwk(), signer.key_id(), alg)
            .unwrap();
    }
    jwks.finish().unwrap();
    String::from_utf8(out).unwrap()
}

fn decode_segment(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(segment).unwrap()).unwrap()
}

fn launch(subject: &str) -> LaunchToken<'_> {
    LaunchToken::new(ISSUER, AUDIENCE, subject, "Task/11", DEFINITION, NOW).unwrap()
}

#[test]
fn every_algorithm_round_trips_through_our_jwks_and_verifier() {
    let signers = signers();
    let jwks = jwks_of(&signers);
    let keys = KeySet::<8>::from_jwks(jwks.as_bytes()).expect("our JWKS parses");
    assert_eq!(keys.len(), 6);
    let policy = Policy::new(AUDIENCE)
        .unwrap()
        .with_algorithms(AlgorithmSet::HTI);
    let mut verifier = LaunchVerifier::<_, ReplayGuard<16>>::new(
        TrustedIssuer::new(ISSUER, keys).unwrap(),
        policy,
        ReplayGuard::new(),
    );
    for signer in &signers {
        let token = launch("Practitioner/a5e58253")
            .with_patient("Patient/a5e582e")
            .unwrap()
            .with_intent("plan")
            .unwrap()
            .sign_to_string(signer.as_ref(), &mut rand::rng())
            .unwrap();
        let header = decode_segment(&token, 0);
        assert_eq!(header["alg"], signer.algorithm().as_str());
        assert_eq!(header["kid"], signer.key_id());
        assert_eq!(header["typ"], "JWT");
        let launch = verifier
            .verify(token.as_bytes(), NOW + 10)
            .unwrap_or_else(|error| panic!("{:?}: {error}", signer.algorithm()));
        assert_eq!(launch.algorithm(), signer.algorithm());
        assert_eq!(launch.patient(), Some("Patient/a5e582e"));
        assert_eq!(launch.intent(), Some("plan"));
        assert_eq!(launch.expires_at() - launch.issued_at(), 300);
        // A fresh random jti each time: the same builder signs two different tokens.
        let again = self::launch("Practitioner/a5e58253")
            .sign_to_string(signer.as_ref(), &mut rand::rng())
            .unwrap();
        assert_ne!(decode_segment(&again, 1)["jti"], launch.token_id());
    }
}

#[test]
fn signature_lengths_are_jose_form() {
    for signer in signers() {
        let token = launch("Patient/1")
            .sign_to_string(signer.as_ref(), &mut rand::rng())
            .unwrap();
        let signature = Base64UrlUnpadded::decode_vec(token.rsplit('.').next().unwrap()).unwrap();
        let expected = match signer.algorithm() {
            Algorithm::ES256 => 64,
            Algorithm::ES384 => 96,
            Algorithm::ES512 => 132,
            _ => 256,
        };
        assert_eq!(signature.len(), expected, "{:?}", signer.algorithm());
    }
}

#[test]
fn client_assertion_carries_exactly_the_smart_claims() {
    let signer = RsaSigner::new(portal_key().private.clone(), Algorithm::RS512).unwrap();
    let endpoint = "https://auth.example.org/oauth2/token";
    let assertion = ClientAssertion::new("my-client", endpoint, NOW).unwrap();
    let token = assertion.sign_to_string(&signer, &mut rand::rng()).unwrap();
    let header = decode_segment(&token, 0);
    assert_eq!(
        header,
        serde_json::json!({"alg": "RS512", "kid": signer.key_id(), "typ": "JWT"})
    );
    assert_eq!(
        signer.key_id(),
        signer.public_jwk().thumbprint_key_id().as_str()
    );
    let claims = decode_segment(&token, 1);
    let object = claims.as_object().unwrap();
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["aud", "exp", "iat", "iss", "jti", "sub"]);
    assert_eq!(claims["iss"], "my-client");
    assert_eq!(claims["sub"], "my-client");
    assert_eq!(claims["aud"], endpoint);
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["exp"], NOW + ClientAssertion::DEFAULT_LIFETIME);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 36);
    assert_eq!(&jti[14..15], "4", "UUID version 4");

    let short = assertion
        .with_lifetime(30)
        .unwrap()
        .sign_to_string(&signer, &mut rand::rng())
        .unwrap();
    assert_eq!(decode_segment(&short, 1)["exp"], NOW + 30);
    assert_eq!(
        assertion.with_lifetime(301).err(),
        Some(Error::InvalidConfiguration)
    );
    assert_eq!(
        assertion.with_lifetime(0).err(),
        Some(Error::InvalidConfiguration)
    );
    assert_eq!(
        ClientAssertion::new("", endpoint, NOW).err(),
        Some(Error::EmptyClaim("iss"))
    );
}

#[test]
fn strings_are_escaped_and_survive_the_round_trip() {
    let signer = EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(&mut rand::rng()));
    let awkward = "https://module.example.org/AD/\"quoted\"\\back\u{1}\ttab/é😀";
    let token = LaunchToken::new(ISSUER, AUDIENCE, "Patient/1", "Task/1", awkward, NOW)
        .unwrap()
        .sign_to_string(&signer, &mut rand::rng())
        .unwrap();
    assert_eq!(decode_segment(&token, 1)["definition"], awkward);
    let mut jwks = Vec::new();
    let mut writer = JwksWriter::new(&mut jwks).unwrap();
    writer.key(&signer.public_jwk(), None).unwrap();
    writer.finish().unwrap();
    let keys = KeySet::<1>::from_jwks(&jwks).unwrap();
    let policy = Policy::new(AUDIENCE).unwrap().allow(Algorithm::ES256);
    let mut verifier = LaunchVerifier::<_, ReplayGuard<4>>::new(
        TrustedIssuer::new(ISSUER, keys).unwrap(),
        policy,
        ReplayGuard::new(),
    );
    assert_eq!(
        verifier.verify(token.as_bytes(), NOW).unwrap().definition(),
        awkward
    );
}

#[test]
fn builders_refuse_what_the_verifier_would() {
    let ok = |subject| LaunchToken::new(ISSUER, AUDIENCE, subject, "Task/1", DEFINITION, NOW);
    assert_eq!(ok("Task/1").err(), Some(Error::BadPersonReference("sub")));
    assert_eq!(ok("").err(), Some(Error::EmptyClaim("sub")));
    let launch = ok("Patient/1").unwrap();
    assert_eq!(
        launch.with_patient("Device/1").err(),
        Some(Error::BadPersonReference("patient"))
    );
    assert_eq!(launch.with_intent("soon").err(), Some(Error::InvalidIntent));
    assert_eq!(
        launch.with_lifetime(301).err(),
        Some(Error::InvalidConfiguration)
    );
    let long = "x".repeat(600);
    assert_eq!(
        LaunchToken::new(ISSUER, AUDIENCE, "Patient/1", "Task/1", &long, NOW).err(),
        Some(Error::ValueTooLong("definition"))
    );
}

#[test]
fn fixed_buffers_too_small_are_an_error_not_a_panic() {
    let signer = EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(&mut rand::rng()));
    let launch = launch("Patient/1");
    for size in [0, 10, 100, 400] {
        let mut buffer = vec![0u8; size];
        assert_eq!(
            launch.sign(&signer, &mut rand::rng(), &mut buffer).err(),
            Some(Error::BufferTooSmall),
            "{size}"
        );
    }
    let mut buffer = [0u8; 1024];
    let token = launch.sign(&signer, &mut rand::rng(), &mut buffer).unwrap();
    assert_eq!(token.split('.').count(), 3);
}

#[test]
fn rsa_signer_refuses_keys_the_verifier_would_refuse() {
    let small = rsa::RsaPrivateKey::new(&mut rand::rng(), 1024).unwrap();
    assert_eq!(
        RsaSigner::new(small, Algorithm::RS512).err(),
        Some(Error::KeyTooSmall { bits: 1024 })
    );
    assert_eq!(
        RsaSigner::new(portal_key().private.clone(), Algorithm::ES256).err(),
        Some(Error::InvalidConfiguration)
    );
}

#[test]
fn an_external_signer_plugs_in_through_the_signature_traits() {
    // A stand-in for an HSM: anything implementing `signature::Signer`.
    let device_key = p256::ecdsa::SigningKey::generate_from_rng(&mut rand::rng());
    let public = *device_key.verifying_key();
    let hsm = ExternalSigner::<_, p256::ecdsa::Signature>::new(
        device_key.clone(),
        Algorithm::ES256,
        "hsm-1",
    )
    .unwrap();
    let token = launch("Patient/1")
        .sign_to_string(&hsm, &mut rand::rng())
        .unwrap();
    let mut jwks = Vec::new();
    let mut writer = JwksWriter::new(&mut jwks).unwrap();
    writer
        .key_with_id(&PublicJwk::P256(&public), "hsm-1", None)
        .unwrap();
    writer.finish().unwrap();
    let keys = KeySet::<1>::from_jwks(&jwks).unwrap();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = Base64UrlUnpadded::decode_vec(signature).unwrap();
    assert_eq!(
        keys.find("hsm-1")
            .unwrap()
            .verify(Algorithm::ES256, signing_input.as_bytes(), &signature),
        Ok(())
    );

    // A signer whose signatures have the wrong form for its algorithm (here PKCS#1 v1.5
    // declared as ES256) is refused, not passed through; so is an HSM that fails.
    let wrong_form = ExternalSigner::<_, rsa::pkcs1v15::Signature>::new(
        rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(portal_key().private.clone()),
        Algorithm::ES256,
        "hsm-1",
    )
    .unwrap();
    assert_eq!(
        launch("Patient/1")
            .sign_to_string(&wrong_form, &mut rand::rng())
            .err(),
        Some(Error::SigningFailed)
    );
    let broken =
        ExternalSigner::<_, p256::ecdsa::Signature>::new(BrokenHsm, Algorithm::ES256, "hsm-1")
            .unwrap();
    assert_eq!(
        launch("Patient/1")
            .sign_to_string(&broken, &mut rand::rng())
            .err(),
        Some(Error::SigningFailed)
    );
}

struct BrokenHsm;

impl signature::Signer<p256::ecdsa::Signature> for BrokenHsm {
    fn try_sign(&self, _: &[u8]) -> Result<p256::ecdsa::Signature, signature::Error> {
        Err(signature::Error::new())
    }
}

#[test]
fn algorithm_confusion_is_refused() {
    let rsa = RsaSigner::new(portal_key().private.clone(), Algorithm::RS512).unwrap();
    let ec = EcSigner::p521(p521::ecdsa::SigningKey::generate_from_rng(&mut rand::rng()));
    let mut jwks = Vec::new();
    let mut writer = JwksWriter::new(&mut jwks).unwrap();
    writer.key_with_id(&rsa.public_jwk(), "rsa", None).unwrap();
    writer.key_with_id(&ec.public_jwk(), "ec", None).unwrap();
    writer.finish().unwrap();
    let keys = KeySet::<2>::from_jwks(&jwks).unwrap();
    let policy = Policy::new(AUDIENCE)
        .unwrap()
        .with_algorithms(AlgorithmSet::HTI);
    let mut verifier = LaunchVerifier::<_, ReplayGuard<4>>::new(
        TrustedIssuer::new(ISSUER, keys).unwrap(),
        policy,
        ReplayGuard::new(),
    );

    // An RS512 token relabelled ES512 (its kid still naming the RSA key), and the reverse.
    let relabel = |signer: &dyn JwsSigner, kid: &str, alg: &str| {
        let token = launch("Patient/1")
            .sign_to_string(signer, &mut rand::rng())
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let header = format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#);
        format!(
            "{}.{}.{}",
            Base64UrlUnpadded::encode_string(header.as_bytes()),
            parts[1],
            parts[2]
        )
    };
    let rs_as_es = relabel(&rsa, "rsa", "ES512");
    assert_eq!(
        verifier.verify(rs_as_es.as_bytes(), NOW).err(),
        Some(Error::KeyNotUsable)
    );
    let es_as_rs = relabel(&ec, "ec", "RS512");
    assert_eq!(
        verifier.verify(es_as_rs.as_bytes(), NOW).err(),
        Some(Error::KeyNotUsable)
    );

    // HS512 with the RSA public key (its JWK and its DER-ish modulus) as the HMAC secret: refused
    // at the header, before any key is looked at; HMAC is never implemented.
    use hmac::{KeyInit, Mac};
    let claims =
        Base64UrlUnpadded::encode_string(decode_segment(&rs_as_es, 1).to_string().as_bytes());
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS512","kid":"rsa","typ":"JWT"}"#);
    let mut public_jwk = Vec::new();
    rsa.public_jwk()
        .write(&mut public_jwk, "rsa", None)
        .unwrap();
    for secret in [public_jwk.as_slice(), portal_key().n().as_slice()] {
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
        mac.update(format!("{header}.{claims}").as_bytes());
        let tag = Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes());
        let token = format!("{header}.{claims}.{tag}");
        assert_eq!(
            verifier.verify(token.as_bytes(), NOW).err(),
            Some(Error::ForbiddenAlgorithm)
        );
    }
}

#[test]
fn rfc7638_thumbprints() {
    // RFC 7638 §3.1.
    let n = Base64UrlUnpadded::decode_vec("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw").unwrap();
    let key = koppeltaal_core::RsaPublicKey::from_be_bytes(&n, &[1, 0, 1]).unwrap();
    assert_eq!(
        PublicJwk::Rsa(&key).thumbprint_key_id().as_str(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // The canonical EC form, computed independently here with serde_json's ordered output.
    let signer = EcSigner::p384(p384::ecdsa::SigningKey::generate_from_rng(&mut rand::rng()));
    let mut jwk = Vec::new();
    signer.public_jwk().write(&mut jwk, "x", None).unwrap();
    let jwk: Value = serde_json::from_slice(&jwk).unwrap();
    let canonical = format!(
        r#"{{"crv":"P-384","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    use sha2::Digest;
    let expected = Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(signer.key_id(), expected);
    assert_eq!(
        jwk["x"].as_str().unwrap().len(),
        64,
        "48-byte coordinates, full length"
    );
}
