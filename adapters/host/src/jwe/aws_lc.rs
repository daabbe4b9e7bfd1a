//! RSA-OAEP unwrapping through aws-lc-rs (feature `aws-lc`, on by default): constant-time,
//! blinded RSA private operations in AWS-LC, with its assembly (and AVX-512 IFMA where the CPU
//! has it). About three times the speed of the `rsa` crate's `decrypt_blinded` (BENCHMARKS.md,
//! "Encrypted launches"); the `rsa` crate's [`RsaOaepKey`](koppeltaal_core::RsaOaepKey) stays
//! for `no_std` builds and for hosts built without this feature.

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use koppeltaal_core::{Error, KeyManagement, KeyUnwrapper};
use rsa::pkcs8::EncodePrivateKey;
use zeroize::Zeroize;

use crate::error::HostError;

/// The largest RSA key a launch may be encrypted to (the size rules of verification keys):
/// the plaintext buffer is this long.
const MAX_MODULUS_BYTES: usize = 4096 / 8;

/// An RSA private key that unwraps RSA-OAEP and RSA-OAEP-256 content keys in AWS-LC.
///
/// ```
/// use koppeltaal_core::{Algorithm, KeyUnwrapper, KeyManagement};
/// use koppeltaal_host::{PrivateKey, jwe::AwsLcOaepKey};
/// let module = PrivateKey::generate(Algorithm::RS512)?;
/// let key = AwsLcOaepKey::new(&module, Some("module-enc"))?;
/// assert_eq!(key.key_id(), Some("module-enc"));
/// assert!(key.supports(KeyManagement::RsaOaep256));
/// # Ok::<(), koppeltaal_host::HostError>(())
/// ```
pub struct AwsLcOaepKey {
    key: OaepPrivateDecryptingKey,
    kid: Option<String>,
}

impl AwsLcOaepKey {
    /// The RSA key `key` (2048 to 4096 bits, as for verification keys), known by `kid`. An EC
    /// key, or an RSA key AWS-LC refuses, is [`HostError::Key`].
    pub fn new(key: &crate::PrivateKey, kid: Option<&str>) -> Result<AwsLcOaepKey, HostError> {
        let rsa = key
            .rsa()
            .ok_or_else(|| HostError::Key("only RSA keys decrypt launches (RSA-OAEP)".into()))?;
        // The core's size rules (and its kid capacity), as the `rsa` crate's key applies them.
        koppeltaal_core::RsaOaepKey::new(rsa.clone(), kid)?;
        let der = rsa
            .to_pkcs8_der()
            .map_err(|error| HostError::Key(format!("RSA key: {error}")))?;
        let private = PrivateDecryptingKey::from_pkcs8(der.as_bytes())
            .map_err(|error| HostError::Key(format!("AWS-LC refused the RSA key: {error}")))?;
        let key = OaepPrivateDecryptingKey::new(private)
            .map_err(|_| HostError::Key("AWS-LC refused the RSA key for OAEP".into()))?;
        Ok(AwsLcOaepKey {
            key,
            kid: kid.map(str::to_owned),
        })
    }
}

impl std::fmt::Debug for AwsLcOaepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsLcOaepKey")
            .field("kid", &self.kid)
            .field("bits", &self.key.key_size_bits())
            .finish_non_exhaustive()
    }
}

/// AWS-LC's OAEP parameters for `alg`, if it is an RSA-OAEP variant.
fn oaep(alg: KeyManagement) -> Option<&'static OaepAlgorithm> {
    match alg {
        KeyManagement::RsaOaep => Some(&OAEP_SHA1_MGF1SHA1),
        KeyManagement::RsaOaep256 => Some(&OAEP_SHA256_MGF1SHA256),
        _ => None,
    }
}

impl KeyUnwrapper for AwsLcOaepKey {
    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn supports(&self, alg: KeyManagement) -> bool {
        oaep(alg).is_some()
    }

    /// AWS-LC blinds with its own randomness; `_rng` is unused. Every failure (a ciphertext of
    /// the wrong length, bad padding, a key of the wrong length) is the one
    /// [`Error::DecryptionFailed`], and AWS-LC checks the OAEP padding in constant time.
    fn unwrap_key(
        &self,
        alg: KeyManagement,
        encrypted_key: &[u8],
        key: &mut [u8],
        _rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<(), Error> {
        let algorithm = oaep(alg).ok_or(Error::DecryptionFailed)?;
        let mut plaintext = [0u8; MAX_MODULUS_BYTES];
        let fits = match self
            .key
            .decrypt(algorithm, encrypted_key, &mut plaintext, None)
        {
            Ok(unwrapped) if unwrapped.len() == key.len() => {
                key.copy_from_slice(unwrapped);
                true
            }
            _ => false,
        };
        plaintext.zeroize();
        if fits {
            Ok(())
        } else {
            Err(Error::DecryptionFailed)
        }
    }
}
