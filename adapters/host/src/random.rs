//! Randomness from the operating system.

/// The operating system's random number generator as a `rand_core::CryptoRng`, for signing
/// (RSA blinding, hedged ECDSA). A failure of the OS generator panics: there is no safe way
/// to go on signing without randomness.
pub type OsRng = rand_core::UnwrapErr<rand::rngs::SysRng>;

/// A fresh [`OsRng`].
pub fn os_rng() -> OsRng {
    rand_core::UnwrapErr(rand::rngs::SysRng)
}

/// A fresh token identifier (`jti`): a random UUID version 4 from the `uuid` crate.
///
/// ```
/// let jti = koppeltaal_host::random::new_jti();
/// assert_eq!(jti.len(), 36);
/// assert_ne!(jti, koppeltaal_host::random::new_jti());
/// ```
pub fn new_jti() -> String {
    uuid::Uuid::new_v4().to_string()
}
