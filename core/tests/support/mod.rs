//! Test support: RSA keys generated once per test binary, JWKS documents, and tokens signed
//! over arbitrary header and payload bytes (so malformed ones can be signed too).
#![allow(dead_code)]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use signature::{SignatureEncoding, Signer};

pub const ISSUER: &str = "https://portal.example.org";
pub const AUDIENCE: &str = "Device/42";
pub const NOW: u64 = 1_700_000_060;
pub const IAT: u64 = 1_700_000_000;

pub struct TestKey {
    pub kid: &'static str,
    pub private: rsa::RsaPrivateKey,
}

impl TestKey {
    pub fn generate(kid: &'static str, bits: usize) -> TestKey {
        let private = rsa::RsaPrivateKey::new(&mut rand::rng(), bits).expect("key generation");
        TestKey { kid, private }
    }

    pub fn n(&self) -> Vec<u8> {
        self.private.n_bytes().into_vec()
    }

    pub fn e(&self) -> Vec<u8> {
        self.private.e_bytes().into_vec()
    }

    /// The public JWK, with `extra` members (`"use":"sig"` style, comma-led) appended.
    pub fn jwk(&self, extra: &str) -> String {
        format!(
            r#"{{"kty":"RSA","kid":"{}","n":"{}","e":"{}"{}}}"#,
            self.kid,
            b64(&self.n()),
            b64(&self.e()),
            extra
        )
    }

    /// Signs `header.payload` (already encoded) with `alg`.
    pub fn sign_input(&self, alg: &str, signing_input: &[u8]) -> Vec<u8> {
        let private = self.private.clone();
        match alg {
            "RS256" => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private)
                .sign(signing_input)
                .to_vec(),
            "RS384" => rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(private)
                .sign(signing_input)
                .to_vec(),
            _ => rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(private)
                .sign(signing_input)
                .to_vec(),
        }
    }

    /// A compact JWS over the raw header and payload JSON text, signed with `alg`.
    pub fn sign_raw(&self, alg: &str, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let signature = self.sign_input(alg, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    /// A token with the standard header for this key and the given claims.
    pub fn sign(&self, alg: &str, claims: &Value) -> String {
        let header = json!({"alg": alg, "kid": self.kid, "typ": "JWT"}).to_string();
        self.sign_raw(alg, &header, &claims.to_string())
    }
}

/// The portal's 2048-bit key, generated once per test binary.
pub fn portal_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("portal-2048", 2048))
}

/// A second key, never published: an attacker's.
pub fn attacker_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("portal-2048", 2048))
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).expect("base64url")
}

pub fn jwks(keys: &[String]) -> String {
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

/// HTI 2.0 launch claims, valid at [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "Practitioner/a5e58253",
        "iat": IAT,
        "exp": IAT + 300,
        "jti": "679e1e4c-bcb9-4fcc-80c4-f36e7063545c",
        "resource": "Task/11",
        "definition": "https://module.example.org/ActivityDefinition/fearfighter",
        "patient": "Patient/a5e582e",
        "intent": "plan"
    })
}

/// `claims()` with `key` set to `value` (or removed when `value` is null).
pub fn claims_with(key: &str, value: Value) -> Value {
    let mut claims = claims();
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

pub type Verifier = LaunchVerifier<TrustedIssuer<8>, ReplayGuard<64>>;

/// A verifier trusting [`ISSUER`] with the given JWKS and policy.
pub fn verifier_with(jwks: &str, policy: Policy) -> Verifier {
    let keys = KeySet::<8>::from_jwks(jwks.as_bytes()).expect("test JWKS parses");
    let portal = TrustedIssuer::new(ISSUER, keys).unwrap();
    LaunchVerifier::new(portal, policy, ReplayGuard::new())
}

/// A verifier trusting the portal key with the default policy.
pub fn verifier() -> Verifier {
    verifier_with(
        &jwks(&[portal_key().jwk(r#","use":"sig","alg":"RS512""#)]),
        Policy::new(AUDIENCE).unwrap(),
    )
}

/// A forgery that always reaches the signature check: a genuine signature of the portal key
/// over other claims, attached to `claims`.
pub fn forged(claims: &Value) -> String {
    let genuine = portal_key().sign("RS512", &claims_with("jti", json!("some-other-token")));
    let parts: Vec<&str> = genuine.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}
