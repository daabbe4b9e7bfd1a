//! Encrypted launches (HTI:jwe): a JWE (RFC 7516) around the signed launch, so that the
//! browser carrying it cannot read it (feature `jwe`).
//!
//! [`Jwe::parse`] checks the protected header as strictly as a JWS header (RSA-OAEP or
//! RSA-OAEP-256; `RSA1_5`, `dir`, `zip`, `crit` and embedded keys refused); [`Jwe::decrypt`]
//! recovers the content key with a [`KeyUnwrapper`] (software: [`RsaOaepKey`], feature
//! `rsa-oaep`; or a secure element) and decrypts (A128/192/256CBC-HS256/384/512,
//! A128/192/256GCM, through RustCrypto) into a caller's buffer, with no allocation. What comes
//! out is the signed launch, verified exactly as a plain one:
//! [`LaunchVerifier::verify_encrypted`](crate::LaunchVerifier::verify_encrypted) does both.
//!
//! Every failure of the decryption itself is one error, [`Error::DecryptionFailed`](crate::Error::DecryptionFailed):
//! no padding, tag or key oracle.

mod content;
mod jwe;
mod key_unwrapper;

#[cfg(feature = "alloc")]
pub(crate) use content::encrypt as encrypt_content;

/// Content decryption alone: decrypts `buffer` in place with `enc` under `key` (the tag
/// checked first), returning the plaintext's length; every failure is
/// [`Error::DecryptionFailed`](crate::Error::DecryptionFailed). Feature `hazmat`: for test
/// vectors and differential testing, never for receiving tokens (use [`Jwe::decrypt`]).
#[cfg(feature = "hazmat")]
pub fn decrypt_content(
    enc: crate::ContentEncryption,
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    tag: &[u8],
    buffer: &mut [u8],
) -> Result<usize, crate::Error> {
    content::decrypt(enc, key, aad, iv, tag, buffer)
}
#[cfg(feature = "alloc")]
pub(crate) use jwe::is_compact_jws;
pub use jwe::{Jwe, JweHeader};
pub use key_unwrapper::KeyUnwrapper;
#[cfg(feature = "rsa-oaep")]
pub use key_unwrapper::RsaOaepKey;
