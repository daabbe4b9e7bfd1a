//! Koppeltaal 2.0 for `std` programs: what a server-side module provider or a Linux gateway
//! links to take part in Koppeltaal with [`koppeltaal_core`], which it supplies with a clock,
//! randomness and HTTP.
//!
//! A module does three things. It **receives a launch** (the portal posts an HTI token to it):
//!
//! ```
//! use koppeltaal_host::{Algorithm, Clock, LaunchReceiver, LaunchToken, Policy, PrivateKey,
//!                       StaticKeys, SystemClock};
//!
//! // A portal's key and JWKS (in a module: the portal's JWKS URL, through `RemoteKeys`).
//! let portal = PrivateKey::generate(Algorithm::ES256)?;
//! let jwks = koppeltaal_host::keys::jwks_document(&[&portal])?;
//! let keys = StaticKeys::new().with_jwks("https://portal.example.org", jwks.as_bytes())?;
//! let policy = Policy::new("Device/42")?.allow(Algorithm::ES256);
//! let receiver = LaunchReceiver::builder(policy).keys(keys).build()?;
//!
//! let token = LaunchToken::new("https://portal.example.org", "Device/42", "Patient/1",
//!                              "Task/11", "https://module.example.org/AD/1", SystemClock.now())?
//!     .sign_to_string(portal.signer()?.as_ref(), &mut koppeltaal_host::random::os_rng())?;
//! let launch = receiver.receive_form(format!("token={token}").as_bytes())?;
//! assert_eq!(launch.resource(), "Task/11");
//! let replayed = receiver.receive_token(&token).unwrap_err();
//! assert_eq!((replayed.code(), replayed.name()), (600, "Replayed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! It **gets an access token** (SMART Backend Services `client_credentials`, authenticated
//! with a client assertion it signs) and **fetches with it** from the FHIR server, the token
//! attached and renewed before it expires (here against a stand-in for the two servers, on
//! loopback):
//!
//! ```
//! use koppeltaal_host::{Algorithm, PrivateKey};
//! use koppeltaal_host::fhir::FhirClient;
//! use koppeltaal_host::oauth::TokenClient;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = stand_in::start();
//! # let (token_endpoint, fhir_base) = (format!("{server}/token"), format!("{server}/fhir"));
//!
//! let key = PrivateKey::generate(Algorithm::RS512)?; // in a module: read_pem_file(...)
//! let tokens = TokenClient::builder("my-client-id", key.signer()?)
//!     .token_endpoint(&token_endpoint) // or .fhir_base(...): discovered
//!     .build()?;
//! assert_eq!(tokens.access_token()?.token_type, "Bearer");
//!
//! let fhir = FhirClient::new(tokens);
//! let task = fhir.get(&format!("{fhir_base}/Task/11"))?;
//! assert_eq!(task.json().unwrap()["resourceType"], "Task");
//! # Ok(())
//! # }
//! # mod stand_in {
//! #     use std::io::{BufRead, BufReader, Read, Write};
//! #     /// Answers a token request and a FHIR read, on a loopback port.
//! #     pub fn start() -> String {
//! #         let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! #         let address = listener.local_addr().unwrap();
//! #         std::thread::spawn(move || {
//! #             for stream in listener.incoming().take(2) {
//! #                 let mut stream = stream.unwrap();
//! #                 let mut reader = BufReader::new(stream.try_clone().unwrap());
//! #                 let (mut line, mut length, mut first) = (String::new(), 0, String::new());
//! #                 while reader.read_line(&mut line).unwrap() > 2 {
//! #                     if first.is_empty() { first = line.clone(); }
//! #                     if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
//! #                         length = v.trim().parse().unwrap();
//! #                     }
//! #                     line.clear();
//! #                 }
//! #                 reader.read_exact(&mut vec![0; length]).unwrap();
//! #                 let body = if first.starts_with("POST /token") {
//! #                     r#"{"access_token":"at-1","token_type":"Bearer","expires_in":300}"#
//! #                 } else {
//! #                     r#"{"resourceType":"Task","id":"11"}"#
//! #                 };
//! #                 write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
//! #                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
//! #             }
//! #         });
//! #         format!("http://{address}")
//! #     }
//! # }
//! ```
//!
//! # What is where
//!
//! At the root, what every module uses: [`LaunchReceiver`] and its [`LaunchError`] (one
//! refusal type for every launch flow, with a [`LaunchErrorKind`]), keys ([`PrivateKey`],
//! [`RemoteKeys`], [`StaticKeys`]), the [`Clock`], the crate's error [`HostError`], and the
//! core types these take ([`Policy`], [`HtiLaunch`], [`LaunchToken`], [`Algorithm`]; the whole
//! core as [`core`]). By topic:
//!
//! - [`launch`]: receiving launches ([`LaunchReceiverBuilder`](launch::LaunchReceiverBuilder),
//!   [`CheckedLaunch`](launch::CheckedLaunch), the form, the launch as JSON).
//! - [`keys`]: signers, the JWKS to publish, key sources and their cache.
//! - [`oauth`]: access tokens ([`TokenClient`](oauth::TokenClient)), RFC 7662 introspection
//!   ([`Introspector`](oauth::Introspector)), the SMART configuration.
//! - [`fhir`]: requests to a FHIR server with the bearer token, refreshed once on a 401.
//! - [`shof`]: SMART HTI on FHIR launches (authorization code, PKCE, id_token).
//! - [`jwe`]: encrypted launches (HTI:jwe): decryption keys, encrypting as a portal.
//! - [`replay`]: where accepted launches are remembered (memory, a journal, Redis).
//! - [`http`]: the one HTTP client every outbound call goes through: blocking (`ureq`),
//!   bounded in time and size, `https` unless the host is loopback.
//! - [`audit`]: the Launched AuditEvent Koppeltaal asks for, an outbox on disk and its sender.
//! - [`trace`]: Koppeltaal's trace headers, on every request the [`http`] client sends.
//! - [`clock`], [`random`]: time and randomness.
//!
//! Every client and the receiver are cheap to clone (an `Arc` inside) and `Send + Sync`, which
//! the crate checks at compile time; one [`HttpClient`](http::HttpClient) can serve them all,
//! handed to each builder with `.http(..)` (each makes its own otherwise).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `redis` | no | [`RedisReplayStore`](replay::RedisReplayStore): a replay store shared by every instance of a module |

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

pub mod audit;
pub mod clock;
mod durable;
mod error;
pub mod fhir;
pub mod http;
pub mod jwe;
pub mod keys;
pub mod launch;
pub mod oauth;
pub mod random;
pub mod replay;
pub mod shof;
pub mod trace;

/// The `no_std` core this crate supplies: tokens, claims, policies and key sets.
pub use koppeltaal_core as core;
pub use koppeltaal_core::{Algorithm, HtiLaunch, LaunchToken, Policy};

pub use clock::{Clock, SystemClock};
pub use error::HostError;
pub use keys::{PrivateKey, RemoteKeys, StaticKeys};
pub use launch::{LaunchError, LaunchErrorKind, LaunchReceiver};

/// The promises of the types above, checked by the compiler: each is `Send + Sync` (shared
/// between threads) and the clients and receivers are `Clone` (clones share one state).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn shared<T: Send + Sync + Clone>() {}
    send_sync::<HostError>();
    send_sync::<LaunchError>();
    send_sync::<PrivateKey>();
    send_sync::<StaticKeys>();
    send_sync::<replay::MemoryReplayStore>();
    send_sync::<replay::JournalReplayStore>();
    send_sync::<shof::PendingShof>();
    send_sync::<audit::Outbox>();
    send_sync::<audit::AuditSender>();
    shared::<LaunchReceiver>();
    shared::<RemoteKeys>();
    shared::<http::HttpClient>();
    shared::<oauth::TokenClient>();
    shared::<oauth::Introspector>();
    shared::<fhir::FhirClient>();
    shared::<shof::ShofLauncher>();
    shared::<SystemClock>();
};

/// The README's examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
