//! Benchmarks of koppeltaal-core against the libraries people would otherwise use: the
//! fixtures (keys and tokens), the contenders that verify them, and the measuring tools shared
//! by the criterion benches and the `compare` binary.

pub mod cases;
pub mod contenders;
pub mod counting_alloc;
pub mod encrypted;
pub mod replay;
pub mod scaling;

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};
use rsa::traits::PublicKeyParts;
use serde_json::json;
use sha2::Sha512;
use signature::{SignatureEncoding, Signer};

/// The issuer of every fixture token.
pub const ISSUER: &str = "https://portal.example.org";
/// The audience of every fixture token.
pub const AUDIENCE: &str = "Device/42";
/// Issue time of every fixture token.
pub const IAT: u64 = 1_700_000_000;
/// The time the benchmarks verify at.
pub const NOW: u64 = IAT + 60;

/// The verifier type the benchmarks use; boxed, as it holds a 1 Ki-entry replay guard.
pub type Verifier = LaunchVerifier<TrustedIssuer<4>, ReplayGuard<1024>>;

/// An RSA key and RS512 launch tokens signed with it.
pub struct RsaFixture {
    /// The private key (for peers that want it in their own form).
    pub private: rsa::RsaPrivateKey,
    /// Big-endian modulus.
    pub n: Vec<u8>,
    /// Big-endian public exponent.
    pub e: Vec<u8>,
    /// The JWKS document publishing the key.
    pub jwks: String,
    /// Launch tokens with distinct `jti`s, so the replay guard accepts each once.
    pub tokens: Vec<String>,
}

impl RsaFixture {
    /// Generates a key of `bits` and `count` RS512 tokens.
    pub fn new(bits: usize, count: usize) -> RsaFixture {
        let private = rsa::RsaPrivateKey::new(&mut rand::rng(), bits).expect("key generation");
        let n = private.n_bytes().into_vec();
        let e = private.e_bytes().into_vec();
        let jwks = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"bench","use":"sig","alg":"RS512","n":"{}","e":"{}"}}]}}"#,
            b64(&n),
            b64(&e)
        );
        let signer = rsa::pkcs1v15::SigningKey::<Sha512>::new(private.clone());
        let header = b64(json!({"alg": "RS512", "kid": "bench", "typ": "JWT"})
            .to_string()
            .as_bytes());
        let tokens = (0..count)
            .map(|index| {
                let claims = json!({
                    "iss": ISSUER, "aud": AUDIENCE, "sub": "Practitioner/a5e58253",
                    "iat": IAT, "exp": IAT + 300, "jti": format!("bench-{index:08}"),
                    "resource": "Task/11",
                    "definition": "https://module.example.org/ActivityDefinition/fearfighter",
                    "patient": "Patient/a5e582e", "intent": "plan"
                });
                let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
                let signature = signer.sign(input.as_bytes()).to_vec();
                format!("{input}.{}", b64(&signature))
            })
            .collect();
        RsaFixture {
            private,
            n,
            e,
            jwks,
            tokens,
        }
    }

    /// The signing input and decoded signature of token `index`.
    pub fn parts(&self, index: usize) -> (&[u8], Vec<u8>) {
        let token = &self.tokens[index];
        let dot = token.rfind('.').expect("three segments");
        let signature = Base64UrlUnpadded::decode_vec(&token[dot + 1..]).expect("base64url");
        (&token.as_bytes()[..dot], signature)
    }

    /// A verifier trusting this fixture's key with the default policy.
    pub fn verifier(&self) -> Box<Verifier> {
        let keys = KeySet::from_jwks(self.jwks.as_bytes()).expect("fixture JWKS");
        let issuer = TrustedIssuer::new(ISSUER, keys).expect("issuer");
        Box::new(LaunchVerifier::new(
            issuer,
            Policy::new(AUDIENCE).expect("policy"),
            ReplayGuard::new(),
        ))
    }
}

/// Decodes unpadded base64url (fixtures only: panics on bad input).
pub fn b64_decode(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).expect("base64url")
}

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}
