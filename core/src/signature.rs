//! Choosing the key by `kid` and checking the signature with it.

use crate::algorithm::Algorithm;
use crate::error::Error;
use crate::jwk::{Jwk, KeyMaterial};

/// The longest signature of any supported algorithm: RSA-4096.
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
        outcome = key
            .usable_for(alg)
            .and_then(|()| verify_with(key.material(), alg, signing_input, signature));
        if outcome.is_ok() {
            break;
        }
    }
    outcome
}

fn verify_with(
    material: &KeyMaterial,
    alg: Algorithm,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    match material {
        #[cfg(feature = "rs")]
        KeyMaterial::Rsa(key) => {
            use crate::rsa::HashAlgorithm;
            use sha2::{Digest, Sha256, Sha384, Sha512};
            match alg {
                Algorithm::RS256 => key.verify_digest(
                    HashAlgorithm::Sha256,
                    &Sha256::digest(signing_input),
                    signature,
                ),
                Algorithm::RS384 => key.verify_digest(
                    HashAlgorithm::Sha384,
                    &Sha384::digest(signing_input),
                    signature,
                ),
                Algorithm::RS512 => key.verify_digest(
                    HashAlgorithm::Sha512,
                    &Sha512::digest(signing_input),
                    signature,
                ),
                _ => Err(Error::KeyNotUsable),
            }
        }
        KeyMaterial::Refused(reason) => Err(*reason),
    }
}
