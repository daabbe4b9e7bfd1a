//! Koppeltaal 2.0 for `std` programs (wip)
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod clock;
mod error;
mod http;
mod keys;
mod random;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::HostError;
pub use http::HttpOptions;
pub use keys::{PemFormat, PrivateKey, SharedSigner, jwks_document};
pub use random::{OsRng, new_jti, os_rng};
