#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]
//! Allocation-free verification of Koppeltaal 2.0 / HTI launch tokens.
//!
//! ```
//! use koppeltaal_core::{
//!     Algorithm, EcSigner, Error, JwksWriter, KeySet, LaunchToken, LaunchVerifier, Policy,
//!     ReplayGuard, TrustedIssuer,
//! };
//!
//! // A portal's key (fixed bytes here) and the JWKS it publishes.
//! let portal = EcSigner::p256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap());
//! let mut jwks = [0u8; 512];
//! let mut free: &mut [u8] = &mut jwks;
//! let mut writer = JwksWriter::new(&mut free)?;
//! writer.key(&portal.public_jwk(), None)?;
//! writer.finish()?;
//! let written = 512 - free.len();
//!
//! // The portal signs a launch for module Device/42...
//! let now = 1_700_000_000;
//! let launch = LaunchToken::new("https://portal.example.org", "Device/42", "Patient/1",
//!                               "Task/11", "https://module.example.org/AD/1", now)?;
//! let mut buffer = [0u8; 1024];
//! let token = launch.sign(&portal, &mut rand::rng(), &mut buffer)?;
//!
//! // ...and the module verifies it: once.
//! let keys = KeySet::<4>::from_jwks(&jwks[..written])?;
//! let issuer = TrustedIssuer::new("https://portal.example.org", keys)?;
//! let policy = Policy::new("Device/42")?.allow(Algorithm::ES256);
//! let mut verifier = LaunchVerifier::<_, _>::new(issuer, policy, ReplayGuard::<64>::new());
//! assert_eq!(verifier.verify(token.as_bytes(), now + 5)?.resource(), "Task/11");
//! assert_eq!(verifier.verify(token.as_bytes(), now + 6), Err(Error::Replayed));
//! # Ok::<(), Error>(())
//! ```
//!
//! A portal launches a module with an HTI launch token: a compact JWS, usually RS512, whose
//! claims name the portal (`iss`), the module (`aud`), the person (`sub`), the Task
//! (`resource`) and the ActivityDefinition (`definition`), with a five-minute lifetime and a
//! unique `jti`. This crate checks such a token completely, on a server or on a Cortex-M
//! gateway, with no heap: [`LaunchVerifier`] for the whole job, [`Unverified`] when a host
//! fetches keys between parsing and verifying.
//!
//! The order of the checks, and so which error a token with several faults gets, is given on
//! [`LaunchVerifier`]. Every error has a stable numeric code ([`Error::code`]).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `rs` | yes | RS256, RS384, RS512 (RSASSA-PKCS1-v1_5, 2048..=4096-bit keys) |
//! | `es256` | yes | ES256 (ECDSA P-256, through `p256`) |
//! | `es384` | yes | ES384 (ECDSA P-384, through `p384`) |
//! | `es512` | yes | ES512 (ECDSA P-521, through `p521`) |
//! | `alloc` | no | [`HeapReplayGuard`]; `sign_to_string` on the token builders |
//! | `rsa-signer` | no | [`RsaSigner`]: RS256/384/512 signing with an RSA private key, through the `rsa` crate (implies `alloc`, `rs`) |
//! | `compact-rsa-keys` | no | RSA keys keep only their modulus: about half the RAM per key slot, each verification recomputing `R² mod n` (about 1.8 times the RSA time); for devices short of RAM (implies `rs`) |
//! | `hazmat` | no | `RsaPublicKey::raw_public_operation`, the bare RSA operation, and [`hazmat::read_claims`], the claims as read before any check: for differential testing and fuzzing only, never for verifying |
//! | `jwe` | no | encrypted launches (HTI:jwe): [`decrypt`] parses and decrypts a JWE with no allocation (AES-CBC-HMAC, AES-GCM through RustCrypto); the key unwrapping behind [`KeyUnwrapper`] |
//! | `rsa-oaep` | no | `RsaOaepKey` (RSA-OAEP/-256 unwrapping in software, through the `rsa` crate) and encrypting launches to a module's key (implies `jwe`, `alloc`) |
//! | `std` | no | `std::error::Error` for [`Error`] (implies `alloc`) |
//!
//! # Layout
//!
//! `verify` (the checks, in their order), `produce` (signing launches and client assertions,
//! writing JWKS: public as [`produce`], and re-exported here), `jose` (algorithms, keys, the
//! signature primitives), `codec` (base64url, JSON). The crate root re-exports everything a
//! user names.
//!
//! # Memory
//!
//! Capacities are in the types: `KeySet<N>` keys (about 1 KiB each for RSA-4096 on 64-bit),
//! `ReplayGuard<N>` entries (28 bytes each), a verifier's `SCRATCH` bytes of decoding buffer,
//! and the string capacities of [`capacity`]. Full means an `Err`, never a panic or a
//! reallocation.

#[cfg(not(any(
    feature = "rs",
    feature = "es256",
    feature = "es384",
    feature = "es512"
)))]
compile_error!(
    "koppeltaal-core verifies nothing without an algorithm family: enable `rs`, `es256`, `es384` or `es512`"
);

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod capacity;
mod codec;
#[cfg(feature = "jwe")]
pub mod decrypt;
mod error;
mod jose;
pub mod produce;
mod verify;

pub use error::{Error, Part};
pub use jose::algorithm::{Algorithm, AlgorithmSet};
pub use jose::ec::Curve;
#[cfg(feature = "jwe")]
pub use jose::jwe_algorithm::{ContentEncryption, KeyManagement};
pub use jose::jwk::{Jwk, KeyMaterial, KeySet};
#[cfg(feature = "rs")]
pub use jose::rsa::{HashAlgorithm, RsaPublicKey};
pub use verify::access_token::AccessTokenClaims;
pub use verify::compact::Compact;
pub use verify::header::Header;
pub use verify::id_token::{IdTokenClaims, IdTokenExpectations};
pub use verify::launch::{
    DEFAULT_SCRATCH, HtiLaunch, KeySource, LaunchVerifier, TrustedIssuer, Unverified,
};
pub use verify::policy::{Policy, RequiredClaims};
#[cfg(feature = "alloc")]
pub use verify::replay_guard::HeapReplayGuard;
pub use verify::replay_guard::{ReplayGuard, ReplayKey, ReplayStore, Slot};

/// What only differential tests and fuzzing need (feature `hazmat`): never for verifying.
#[cfg(feature = "hazmat")]
pub mod hazmat {
    pub use crate::verify::claims::{ClaimValue, read_claims};
}

// Decryption, documented in its own module.
#[cfg(feature = "rsa-oaep")]
#[doc(no_inline)]
pub use decrypt::RsaOaepKey;
#[cfg(feature = "jwe")]
#[doc(no_inline)]
pub use decrypt::{Jwe, JweHeader, KeyUnwrapper};

// Production, documented in its own module.
#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
#[doc(no_inline)]
pub use produce::EcSigner;
#[cfg(feature = "rsa-oaep")]
#[doc(no_inline)]
pub use produce::RsaOaepPublicKey;
#[cfg(feature = "rsa-signer")]
#[doc(no_inline)]
pub use produce::RsaSigner;
#[doc(no_inline)]
pub use produce::{
    ClientAssertion, ExternalSigner, JwksWriter, JwsSigner, LaunchToken, PublicJwk, uuid_v4,
};
#[cfg(all(feature = "jwe", feature = "alloc"))]
#[doc(no_inline)]
pub use produce::{KeyWrapper, encrypt_token};
