//! Choosing the key by `kid` and checking the signature with it.

use crate::error::Error;
use crate::jose::algorithm::Algorithm;
use crate::jose::jwk::Jwk;

/// The longest signature of any supported algorithm: RSA-4096 (ES512's is 132 bytes).
pub(crate) const MAX_SIGNATURE_LEN: usize = 512;

/// Verifies `signature` over `signing_input` with the key of `keys` whose id is `kid`.
///
/// [`Error::UnknownKeyId`] when no key has that id; when one does but may not be used for
/// `alg`, the reason ([`Error::KeyNotUsable`], [`Error::KeyTooSmall`], ...).
///
/// A key set may publish one id for several keys (an RSA and an EC key, say): each of them is
/// tried, a key of the wrong type or algorithm costing no arithmetic. The failure reported is
/// the most telling: a signature failure of a usable key ([`Error::BadSignature`], ...) over
/// the reason another key could not be used.
pub(crate) fn verify(
    keys: &[Jwk],
    kid: &str,
    alg: Algorithm,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let mut failure = Error::UnknownKeyId;
    for key in keys.iter().filter(|key| key.key_id() == Some(kid)) {
        match key.verify(alg, signing_input, signature) {
            Ok(()) => return Ok(()),
            Err(error) if failure == Error::UnknownKeyId || !is_key_unusable(error) => {
                failure = error;
            }
            Err(_) => {}
        }
    }
    Err(failure)
}

/// Whether `error` says a key could not be used at all (rather than that it was used and the
/// signature failed).
fn is_key_unusable(error: Error) -> bool {
    matches!(
        error,
        Error::KeyNotUsable
            | Error::KeyTooSmall { .. }
            | Error::KeyTooLarge { .. }
            | Error::InvalidKey
            | Error::UnsupportedAlgorithm
    )
}
