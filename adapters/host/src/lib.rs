//! Koppeltaal 2.0 for `std` programs: what a server-side module provider or a Linux gateway
//! links to take part in Koppeltaal with [`koppeltaal_core`].
//!
//! ```
//! use koppeltaal_core::{Algorithm, LaunchToken, Policy};
//! use koppeltaal_host::{Clock, LaunchReceiver, PrivateKey, StaticKeys, SystemClock};
//!
//! // A portal's key and JWKS (in a module: the portal's JWKS URL, through `RemoteKeys`).
//! let portal = PrivateKey::generate(Algorithm::ES256, 0)?;
//! let jwks = koppeltaal_host::jwks_document(&[&portal])?;
//! let keys = StaticKeys::new().with_jwks("https://portal.example.org", jwks.as_bytes())?;
//! let policy = Policy::new("Device/42")?.allow(Algorithm::ES256);
//! let receiver = LaunchReceiver::builder(policy).keys(keys).build()?; // Clone, Send, Sync
//!
//! let token = LaunchToken::new("https://portal.example.org", "Device/42", "Patient/1",
//!                              "Task/11", "https://module.example.org/AD/1", SystemClock.now())?
//!     .sign_to_string(portal.signer(None)?.as_ref(), &mut koppeltaal_host::os_rng())?;
//! let launch = receiver.receive_form(format!("token={token}").as_bytes())?;
//! assert_eq!(launch.resource(), "Task/11");
//! let replayed = receiver.receive_token(&token).unwrap_err();
//! assert_eq!((replayed.code(), replayed.name()), (600, "Replayed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The core verifies and produces tokens without a clock, randomness or network; this crate
//! supplies them:
//!
//! - [`SystemClock`], [`os_rng`], [`new_jti`]: time and randomness.
//! - [`PrivateKey`], [`jwks_document`]: keys generated or read from PEM, signers, the JWKS to
//!   publish.
//! - [`RemoteKeys`]: issuers' keys from their JWKS URLs, cached and refreshed on rotation.
//! - [`TokenClient`]: access tokens by SMART Backend Services `client_credentials`.
//! - [`Introspector`]: RFC 7662 token introspection.
//! - [`FhirClient`]: requests to a FHIR server with the bearer token, refreshed once on a 401.
//! - [`LaunchReceiver`]: verifies HTI launches from many threads, with a shared
//!   [`ReplayStore`] ([`MemoryReplayStore`], or [`JournalReplayStore`] to survive restarts).
//!
//! All HTTP is blocking (`ureq`), bounded in time and size, and `https` unless the host is
//! loopback.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `redis` | no | `RedisReplayStore`: a replay store shared by every instance of a module |

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

mod clock;
mod discovery;
mod encryption;
mod error;
mod fhir;
mod http;
mod introspect;
mod keys;
mod launch_json;
mod random;
mod receiver;
#[cfg(feature = "redis")]
mod redis_store;
mod remote_keys;
mod replay_store;
mod shof;
mod token;

pub use clock::{Clock, FixedClock, SystemClock};
pub use discovery::SmartConfiguration;
pub use encryption::{SharedDecrypter, encrypt_launch, encryption_key, jwks_encryption_document};
pub use error::HostError;
pub use fhir::{FHIR_JSON, FhirClient, FhirResponse, operation_outcome_text};
pub use http::HttpOptions;
pub use introspect::{Introspection, IntrospectionAuth, Introspector};
pub use keys::{PemFormat, PrivateKey, SharedSigner, jwks_document};
pub use launch_json::launch_json;
pub use random::{OsRng, new_jti, os_rng};
pub use receiver::{
    CheckedLaunch, KeySource, LaunchError, LaunchReceiver, LaunchReceiverBuilder, MAX_FORM_BODY,
    StaticKeys, form_token,
};
#[cfg(feature = "redis")]
pub use redis_store::{RedisFailure, RedisOptions, RedisReplayStore};
pub use remote_keys::{HOST_KEY_CAPACITY, HostKeySet, KeyCacheOptions, RemoteKeys};
pub use replay_store::{JournalOptions, JournalReplayStore, MemoryReplayStore, ReplayStore};
pub use shof::{NonceCheck, PendingShof, ShofLaunch, ShofLauncher, ShofOptions, ShofRedirect};
pub use token::{AccessToken, JWT_BEARER, TokenClient, TokenClientBuilder};

/// The README's examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
