//! Producing signed tokens and documents: HTI launches (a portal's side), SMART Backend
//! Services client assertions (every application's side), and the JWKS an application
//! publishes.
//!
//! Tokens are written into a caller's buffer (or, with the `alloc` feature, a `String`), the
//! JSON escaped and base64url-encoded on the fly, and signed by any [`JwsSigner`]: a software
//! key of this crate ([`RsaSigner`], [`EcSigner`]), or an HSM or secure element behind the
//! RustCrypto `signature` traits ([`ExternalSigner`]). What is produced passes this crate's own
//! verifier: the builders refuse what it would refuse.
//!
//! Everything here is also re-exported at the crate root.

mod client_assertion;
#[cfg(all(feature = "jwe", feature = "alloc"))]
mod encrypt;
mod jwks_writer;
mod jws_signer;
mod launch_token;
mod signers;
pub(crate) mod token;

pub use client_assertion::ClientAssertion;
#[cfg(feature = "rsa-oaep")]
pub use encrypt::RsaOaepPublicKey;
#[cfg(all(feature = "jwe", feature = "alloc"))]
pub use encrypt::{KeyWrapper, encrypt_token};
pub use jwks_writer::{JwksWriter, PublicJwk};
pub use jws_signer::JwsSigner;
pub use launch_token::LaunchToken;
#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
pub use signers::EcSigner;
pub use signers::ExternalSigner;
#[cfg(feature = "rsa-signer")]
pub use signers::RsaSigner;
pub use token::uuid_v4;
