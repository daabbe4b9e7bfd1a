//! Recovering the content encryption key: the trait a decryption key implements (in software,
//! or in an HSM or secure element), and the software RSA-OAEP key.

use rand_core::CryptoRng;

use crate::error::Error;
use crate::jose::jwe_algorithm::KeyManagement;

/// A private key that recovers JWE content encryption keys: the decrypting counterpart of
/// [`JwsSigner`](crate::JwsSigner). Implement it for a key held elsewhere (an HSM, a secure
/// element); [`RsaOaepKey`] is the software implementation.
///
/// Implementations must not reveal why an unwrap failed: every failure, whatever its cause
/// (OAEP padding, a wrong key, a result of the wrong length), is [`Error::DecryptionFailed`],
/// and the caller goes on with a random key so that it surfaces at the tag check, on the same
/// path (RFC 7516 §11.5).
pub trait KeyUnwrapper {
    /// The key's `kid`, when it has one (a JWE header's `kid` selects keys by it).
    fn key_id(&self) -> Option<&str>;

    /// Whether it can unwrap keys wrapped with `alg`.
    fn supports(&self, alg: KeyManagement) -> bool;

    /// Decrypts `encrypted_key` with `alg` into `key`, which is exactly as long as the content
    /// encryption needs; a recovered key of any other length is a failure. `rng` is for
    /// blinding.
    fn unwrap_key(
        &self,
        alg: KeyManagement,
        encrypted_key: &[u8],
        key: &mut [u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error>;
}

impl<T: KeyUnwrapper + ?Sized> KeyUnwrapper for &T {
    fn key_id(&self) -> Option<&str> {
        (**self).key_id()
    }

    fn supports(&self, alg: KeyManagement) -> bool {
        (**self).supports(alg)
    }

    fn unwrap_key(
        &self,
        alg: KeyManagement,
        encrypted_key: &[u8],
        key: &mut [u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        (**self).unwrap_key(alg, encrypted_key, key, rng)
    }
}

#[cfg(feature = "rsa-oaep")]
pub use software::RsaOaepKey;

#[cfg(feature = "rsa-oaep")]
mod software {
    use heapless::String;
    use rand_core::CryptoRng;
    use rsa::Oaep;
    use rsa::traits::PublicKeyParts;
    use zeroize::Zeroize;

    use super::KeyUnwrapper;
    use crate::capacity;
    use crate::error::Error;
    use crate::jose::jwe_algorithm::KeyManagement;

    /// An RSA private key that unwraps RSA-OAEP and RSA-OAEP-256 content keys (feature
    /// `rsa-oaep`), through the `rsa` crate: constant-time arithmetic, blinded. This crate's
    /// own RSA engine is variable-time and never touches a private key.
    pub struct RsaOaepKey {
        key: rsa::RsaPrivateKey,
        kid: Option<String<{ capacity::KEY_ID }>>,
    }

    impl RsaOaepKey {
        /// The key, with the `kid` its JWK publishes (if any). A `kid` longer than
        /// [`capacity::KEY_ID`] is [`Error::ValueTooLong`]; an RSA key outside 2048 to 4096
        /// bits is [`Error::KeyTooSmall`] or [`Error::KeyTooLarge`].
        pub fn new(key: rsa::RsaPrivateKey, kid: Option<&str>) -> Result<RsaOaepKey, Error> {
            // The same size rules as for verification keys (2048 to 4096 bits).
            let public = key.to_public_key();
            crate::RsaPublicKey::from_be_bytes(&public.n_bytes(), &public.e_bytes())?;
            let kid = kid
                .map(|kid| String::try_from(kid).map_err(|_| Error::ValueTooLong("kid")))
                .transpose()?;
            Ok(RsaOaepKey { key, kid })
        }

        /// The RSA private key.
        pub fn private_key(&self) -> &rsa::RsaPrivateKey {
            &self.key
        }
    }

    impl KeyUnwrapper for RsaOaepKey {
        fn key_id(&self) -> Option<&str> {
            self.kid.as_deref()
        }

        fn supports(&self, alg: KeyManagement) -> bool {
            matches!(alg, KeyManagement::RsaOaep | KeyManagement::RsaOaep256)
        }

        fn unwrap_key(
            &self,
            alg: KeyManagement,
            encrypted_key: &[u8],
            key: &mut [u8],
            rng: &mut dyn CryptoRng,
        ) -> Result<(), Error> {
            let unwrapped = match alg {
                KeyManagement::RsaOaep => {
                    self.key
                        .decrypt_blinded(rng, Oaep::<sha1::Sha1>::new(), encrypted_key)
                }
                KeyManagement::RsaOaep256 => {
                    self.key
                        .decrypt_blinded(rng, Oaep::<sha2::Sha256>::new(), encrypted_key)
                }
            };
            let mut unwrapped = unwrapped.map_err(|_| Error::DecryptionFailed)?;
            let fits = unwrapped.len() == key.len();
            if fits {
                key.copy_from_slice(&unwrapped);
            }
            unwrapped.zeroize();
            if fits {
                Ok(())
            } else {
                Err(Error::DecryptionFailed)
            }
        }
    }
}
