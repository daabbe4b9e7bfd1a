//! Encrypting a signed token to a module's public key (HTI:jwe), as a portal does: a JWE in
//! compact serialization with a fresh random content key and IV (features `jwe` and `alloc`).

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64UrlUnpadded, Encoding};
use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::codec::json_writer::JsonObject;
use crate::decrypt::encrypt_content;
use crate::error::Error;
use crate::jose::jwe_algorithm::{ContentEncryption, KeyManagement};

/// A public key that wraps (encrypts) JWE content encryption keys: the recipient's key.
/// [`RsaOaepPublicKey`] is the software implementation (feature `rsa-oaep`).
pub trait KeyWrapper {
    /// The recipient key's `kid`, written into the JWE header when present.
    fn key_id(&self) -> Option<&str>;

    /// The key management algorithm (the header's `alg`).
    fn algorithm(&self) -> KeyManagement;

    /// Encrypts `key` to the recipient.
    fn wrap_key(&self, key: &[u8], rng: &mut dyn CryptoRng) -> Result<Vec<u8>, Error>;
}

/// Encrypts the compact JWS `signed` to `recipient` with `enc`: the compact JWE a portal
/// sends as an encrypted launch (`cty: JWT`, the recipient's `kid` when it has one).
///
/// `signed` must itself be a compact JWS (three segments): what is encrypted is a signed
/// token, never bare claims ([`Error::NotSignedInside`] otherwise).
pub fn encrypt_token(
    signed: &str,
    recipient: &dyn KeyWrapper,
    enc: ContentEncryption,
    rng: &mut dyn CryptoRng,
) -> Result<String, Error> {
    if !crate::decrypt::is_compact_jws(signed.as_bytes()) {
        return Err(Error::NotSignedInside);
    }
    let mut header = Vec::new();
    {
        let mut object = JsonObject::begin(&mut header)?;
        object.string("alg", recipient.algorithm().as_str())?;
        object.string("enc", enc.as_str())?;
        object.string("cty", "JWT")?;
        if let Some(kid) = recipient.key_id() {
            object.string("kid", kid)?;
        }
        object.end()?;
    }
    let protected = base64url(&header)?;

    let mut key = [0u8; ContentEncryption::MAX_KEY_LEN];
    let key = &mut key[..enc.key_len()];
    rng.fill_bytes(key);
    let mut iv = [0u8; 16];
    let iv = &mut iv[..enc.iv_len()];
    rng.fill_bytes(iv);
    let encrypted_key = recipient.wrap_key(key, rng);
    let mut buffer = Vec::from(signed.as_bytes());
    buffer.resize(signed.len() + 16, 0);
    let mut tag = [0u8; 32];
    let tag = &mut tag[..enc.tag_len()];
    let sealed = encrypt_content(
        enc,
        key,
        protected.as_bytes(),
        iv,
        &mut buffer,
        signed.len(),
        tag,
    );
    key.zeroize();
    let encrypted_key = encrypted_key?;
    buffer.truncate(sealed?);

    let mut token = protected;
    for segment in [&encrypted_key[..], iv, &buffer, tag] {
        token.push('.');
        token.push_str(&base64url(segment)?);
    }
    Ok(token)
}

/// `bytes` as unpadded base64url.
fn base64url(bytes: &[u8]) -> Result<String, Error> {
    let mut encoded = alloc::vec![0u8; Base64UrlUnpadded::encoded_len(bytes)];
    let text = Base64UrlUnpadded::encode(bytes, &mut encoded).map_err(|_| Error::WriteFailed)?;
    Ok(String::from(text))
}

#[cfg(feature = "rsa-oaep")]
pub use software::RsaOaepPublicKey;

#[cfg(feature = "rsa-oaep")]
mod software {
    use alloc::vec::Vec;

    use heapless::String;
    use rand_core::CryptoRng;
    use rsa::Oaep;
    use rsa::traits::PublicKeyParts;

    use super::KeyWrapper;
    use crate::capacity;
    use crate::error::Error;
    use crate::jose::jwe_algorithm::KeyManagement;

    /// A recipient's RSA public key, wrapping content keys with RSA-OAEP or RSA-OAEP-256
    /// (feature `rsa-oaep`, through the `rsa` crate).
    pub struct RsaOaepPublicKey {
        key: rsa::RsaPublicKey,
        alg: KeyManagement,
        kid: Option<String<{ capacity::KEY_ID }>>,
    }

    impl RsaOaepPublicKey {
        /// `key` used with `alg`, named `kid` (if any) in the headers. RSA keys outside 2048
        /// to 4096 bits are refused as for verification.
        pub fn new(
            key: rsa::RsaPublicKey,
            alg: KeyManagement,
            kid: Option<&str>,
        ) -> Result<RsaOaepPublicKey, Error> {
            // The same size rules as for verification keys (2048 to 4096 bits).
            crate::RsaPublicKey::from_be_bytes(&key.n_bytes(), &key.e_bytes())?;
            let kid = kid
                .map(|kid| String::try_from(kid).map_err(|_| Error::ValueTooLong("kid")))
                .transpose()?;
            Ok(RsaOaepPublicKey { key, alg, kid })
        }
    }

    impl KeyWrapper for RsaOaepPublicKey {
        fn key_id(&self) -> Option<&str> {
            self.kid.as_deref()
        }

        fn algorithm(&self) -> KeyManagement {
            self.alg
        }

        fn wrap_key(&self, key: &[u8], rng: &mut dyn CryptoRng) -> Result<Vec<u8>, Error> {
            let wrapped = match self.alg {
                KeyManagement::RsaOaep => self.key.encrypt(rng, Oaep::<sha1::Sha1>::new(), key),
                KeyManagement::RsaOaep256 => {
                    self.key.encrypt(rng, Oaep::<sha2::Sha256>::new(), key)
                }
            };
            wrapped.map_err(|_| Error::SigningFailed)
        }
    }
}
