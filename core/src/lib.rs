#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
//! Allocation-free verification of Koppeltaal 2.0 / HTI launch tokens.
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
//! | `std` | no | `std::error::Error` for [`Error`] (implies `alloc`) |
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

mod algorithm;
mod base64url;
pub mod capacity;
mod claims;
mod compact;
mod ec;
mod error;
mod header;
mod hti;
mod json;
mod jwk;
mod policy;
mod produce;
mod publish;
mod replay;
#[cfg(feature = "rs")]
mod rsa;
mod signature;
mod signers;
mod write;

pub use algorithm::{Algorithm, AlgorithmSet};
pub use compact::Compact;
pub use ec::Curve;
pub use error::{Error, Part};
pub use header::Header;
pub use hti::{
    AccessTokenClaims, DEFAULT_SCRATCH, HtiLaunch, IssuerKeys, LaunchVerifier, TrustedIssuer,
    Unverified,
};
pub use jwk::{Jwk, KeyMaterial, KeySet};
pub use policy::{Policy, RequiredClaims};
pub use produce::{ClientAssertion, JwsSigner, LaunchToken, uuid_v4};
pub use publish::{JwksWriter, PublicJwk};
#[cfg(feature = "alloc")]
pub use replay::HeapReplayGuard;
pub use replay::{ReplayGuard, ReplayKey, ReplayProtection, Slot};
#[cfg(feature = "rs")]
pub use rsa::{HashAlgorithm, RsaPublicKey};
#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
pub use signers::EcSigner;
pub use signers::ExternalSigner;
#[cfg(feature = "rsa-signer")]
pub use signers::RsaSigner;
