//! The tokens every contender verifies: one key per case and launch tokens signed with it by
//! our own producer (`LaunchToken`), each with its own `jti`.

use koppeltaal_core::{
    Algorithm, EcSigner, JwksWriter, JwsSigner, LaunchToken, PublicJwk, RsaSigner,
};
use p256::elliptic_curve::Generate;
use rsa::traits::PublicKeyParts;

use crate::{AUDIENCE, ISSUER};

/// What is verified: an algorithm and a key size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// RS512 with an RSA-2048 key: the Koppeltaal default.
    Rs512With2048,
    /// RS512 with an RSA-4096 key.
    Rs512With4096,
    /// RS256 with an RSA-2048 key.
    Rs256With2048,
    /// ES256 (P-256).
    Es256,
    /// ES512 (P-521).
    Es512,
}

impl Case {
    /// Every case, in table order.
    pub const ALL: [Case; 5] = [
        Case::Rs512With2048,
        Case::Rs512With4096,
        Case::Rs256With2048,
        Case::Es256,
        Case::Es512,
    ];

    /// The case's name in tables and ratio lines (`rs512-2048`).
    pub fn name(self) -> &'static str {
        match self {
            Case::Rs512With2048 => "rs512-2048",
            Case::Rs512With4096 => "rs512-4096",
            Case::Rs256With2048 => "rs256-2048",
            Case::Es256 => "es256",
            Case::Es512 => "es512",
        }
    }

    /// The JWS algorithm.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Case::Rs512With2048 | Case::Rs512With4096 => Algorithm::RS512,
            Case::Rs256With2048 => Algorithm::RS256,
            Case::Es256 => Algorithm::ES256,
            Case::Es512 => Algorithm::ES512,
        }
    }

    /// Looks a case up by name.
    pub fn from_name(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|case| case.name() == name)
    }
}

/// The public key of a fixture, in the forms the contenders take it.
pub enum PublicKey {
    /// Big-endian modulus and exponent.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed SEC1 point (`04 || x || y`).
    Ec {
        /// The point.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// The affine coordinates of an EC key.
    pub fn ec_coordinates(&self) -> Option<(&[u8], &[u8])> {
        match self {
            PublicKey::Ec { point } => {
                let half = (point.len() - 1) / 2;
                Some((&point[1..1 + half], &point[1 + half..]))
            }
            PublicKey::Rsa { .. } => None,
        }
    }
}

/// A key and launch tokens signed with it.
pub struct Fixture {
    /// What the tokens are.
    pub case: Case,
    /// The verifying key.
    pub key: PublicKey,
    /// The JWKS publishing the key (kid = RFC 7638 thumbprint, as the tokens name it).
    pub jwks: String,
    /// Launch tokens, each with its own `jti`.
    pub tokens: Vec<String>,
    /// For each token: where its signing input ends, and its decoded signature.
    pub raw: Vec<(usize, Vec<u8>)>,
    /// The issue time of every token.
    pub iat: u64,
}

impl Fixture {
    /// A new key for `case` and `count` launches issued at `iat` (lifetime 300 s).
    pub fn new(case: Case, count: usize, iat: u64) -> Fixture {
        let mut rng = rand::rng();
        let (signer, key, jwks): (Box<dyn JwsSigner>, PublicKey, String) = match case {
            Case::Rs512With2048 | Case::Rs512With4096 | Case::Rs256With2048 => {
                let bits = if case == Case::Rs512With4096 {
                    4096
                } else {
                    2048
                };
                let private = rsa::RsaPrivateKey::new(&mut rng, bits).expect("RSA key generation");
                let key = PublicKey::Rsa {
                    n: private.n_bytes().into_vec(),
                    e: private.e_bytes().into_vec(),
                };
                let signer = RsaSigner::new(private, case.algorithm()).expect("RSA signer");
                let jwks = jwks_of(&signer.public_jwk());
                (Box::new(signer), key, jwks)
            }
            Case::Es256 => {
                let signer = EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng));
                let PublicJwk::P256(public) = signer.public_jwk() else {
                    unreachable!("a P-256 signer publishes a P-256 key")
                };
                let point = public.to_sec1_point(false).as_bytes().to_vec();
                let jwks = jwks_of(&signer.public_jwk());
                (Box::new(signer), PublicKey::Ec { point }, jwks)
            }
            Case::Es512 => {
                let signer = EcSigner::p521(p521::ecdsa::SigningKey::generate_from_rng(&mut rng));
                let PublicJwk::P521(public) = signer.public_jwk() else {
                    unreachable!("a P-521 signer publishes a P-521 key")
                };
                let point = public.to_sec1_point(false).as_bytes().to_vec();
                let jwks = jwks_of(&signer.public_jwk());
                (Box::new(signer), PublicKey::Ec { point }, jwks)
            }
        };
        let tokens: Vec<String> = (0..count)
            .map(|_| {
                LaunchToken::new(
                    ISSUER,
                    AUDIENCE,
                    "Practitioner/a5e58253",
                    "Task/11",
                    "https://module.example.org/ActivityDefinition/fearfighter",
                    iat,
                )
                .and_then(|token| token.with_patient("Patient/a5e582e"))
                .and_then(|token| token.with_intent("plan"))
                .and_then(|token| token.sign_to_string(signer.as_ref(), &mut rng))
                .expect("launch token")
            })
            .collect();
        let raw = tokens
            .iter()
            .map(|token| {
                let dot = token.rfind('.').expect("three segments");
                let signature = crate::b64_decode(&token[dot + 1..]);
                (dot, signature)
            })
            .collect();
        Fixture {
            case,
            key,
            jwks,
            tokens,
            raw,
            iat,
        }
    }

    /// Token `index`'s signing input and decoded signature.
    pub fn raw_parts(&self, index: usize) -> (&[u8], &[u8]) {
        let (dot, signature) = &self.raw[index];
        (&self.tokens[index].as_bytes()[..*dot], signature)
    }
}

/// A JWKS publishing one key (kid = its RFC 7638 thumbprint).
fn jwks_of(key: &PublicJwk<'_>) -> String {
    let mut jwks = Vec::new();
    let mut writer = JwksWriter::new(&mut jwks).expect("JWKS writer");
    writer.key(key, None).expect("JWKS key");
    writer.finish().expect("JWKS");
    String::from_utf8(jwks).expect("JWKS is UTF-8")
}
