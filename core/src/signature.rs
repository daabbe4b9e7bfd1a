//! Choosing the key by `kid` and checking the signature with it.

use crate::algorithm::Algorithm;
use crate::error::Error;
use crate::jwk::Jwk;

/// The longest signature of any supported algorithm: RSA-4096 (ES512's is 132 bytes).
pub(crate) const MAX_SIGNATURE_LEN: usize = 512;

/// Verifies `signature` over `signing_input` with the key of `keys` whose id is `kid`.
///
/// [`Error::UnknownKeyId`] when no key has that id; when one does but may not be used for
/// `alg`, the reason ([`Error::KeyNotUsable`], [`Error::KeyTooSmall`], ...). Should a key set
/// publish one id twice, each such key is tried and the last failure reported.
pub(crate) fn verify(
    keys: &[Jwk],
    kid: &str,
    alg: Algorithm,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    let mut outcome = Err(Error::UnknownKeyId);
    for key in keys.iter().filter(|key| key.key_id() == Some(kid)) {
        outcome = key.verify(alg, signing_input, signature);
        if outcome.is_ok() {
            break;
        }
    }
    outcome
}
