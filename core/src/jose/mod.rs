//! JOSE building blocks: algorithms, JWKs and key sets, and the signature primitives (ECDSA
//! through RustCrypto, RSA on this crate's own engine).

pub(crate) mod algorithm;
pub(crate) mod ec;
#[cfg(feature = "jwe")]
pub(crate) mod jwe_algorithm;
pub(crate) mod jwk;
#[cfg(feature = "rs")]
pub(crate) mod rsa;
