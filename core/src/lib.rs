#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
//! koppeltaal-core (work in progress)

#[cfg(feature = "std")]
extern crate std;

mod algorithm;
mod base64url;
mod compact;
mod error;
mod json;
#[cfg(feature = "rs")]
mod rsa;

pub use algorithm::{Algorithm, AlgorithmSet};
pub use compact::Compact;
pub use error::{Error, Part};
#[cfg(feature = "rs")]
pub use rsa::{HashAlgorithm, RsaPublicKey};
