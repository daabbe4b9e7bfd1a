//! Publishing public keys: JWKs with RFC 7638 thumbprint key ids, and JWKS documents.

use embedded_io::Write;
use sha2::{Digest, Sha256};

use crate::codec::json_writer::{Hasher, JsonObject, put};
use crate::error::Error;
use crate::jose::algorithm::Algorithm;

/// A public key to publish.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum PublicJwk<'k> {
    /// An RSA key.
    #[cfg(feature = "rs")]
    Rsa(&'k crate::jose::rsa::RsaPublicKey),
    /// A P-256 key.
    #[cfg(feature = "es256")]
    P256(&'k p256::ecdsa::VerifyingKey),
    /// A P-384 key.
    #[cfg(feature = "es384")]
    P384(&'k p384::ecdsa::VerifyingKey),
    /// A P-521 key.
    #[cfg(feature = "es512")]
    P521(&'k p521::ecdsa::VerifyingKey),
}

/// Writes the required members of an EC JWK, in RFC 7638's lexicographic order.
#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
fn ec_members<W: Write>(
    object: &mut JsonObject<'_, W>,
    curve: crate::jose::ec::Curve,
    point: &[u8],
) -> Result<(), Error> {
    let len = curve.coordinate_len();
    object.string("crv", curve.jose_name())?;
    object.string("kty", "EC")?;
    object.base64url("x", &point[1..=len])?;
    object.base64url("y", &point[1 + len..])
}

impl PublicJwk<'_> {
    /// Writes the members RFC 7638 requires, in its lexicographic order (RSA: `e`, `kty`,
    /// `n`; EC: `crv`, `kty`, `x`, `y`).
    fn required_members<W: Write>(&self, object: &mut JsonObject<'_, W>) -> Result<(), Error> {
        match self {
            #[cfg(feature = "rs")]
            PublicJwk::Rsa(key) => {
                let e = key.exponent().to_be_bytes();
                let first = e.iter().position(|byte| *byte != 0).unwrap_or(e.len() - 1);
                object.base64url("e", &e[first..])?;
                object.string("kty", "RSA")?;
                let mut n = [0u8; crate::jose::rsa::RsaPublicKey::MAX_BYTES];
                object.base64url("n", key.modulus_be_bytes(&mut n))
            }
            #[cfg(feature = "es256")]
            PublicJwk::P256(key) => ec_members(
                object,
                crate::jose::ec::Curve::P256,
                key.to_sec1_point(false).as_bytes(),
            ),
            #[cfg(feature = "es384")]
            PublicJwk::P384(key) => ec_members(
                object,
                crate::jose::ec::Curve::P384,
                key.to_sec1_point(false).as_bytes(),
            ),
            #[cfg(feature = "es512")]
            PublicJwk::P521(key) => ec_members(
                object,
                crate::jose::ec::Curve::P521,
                key.to_sec1_point(false).as_bytes(),
            ),
        }
    }

    /// The RFC 7638 JWK thumbprint: SHA-256 of the required members in canonical form.
    pub fn thumbprint(&self) -> [u8; 32] {
        let mut hasher = Hasher(Sha256::new());
        // Writing into a hash cannot fail.
        let _ = JsonObject::begin(&mut hasher).and_then(|mut object| {
            self.required_members(&mut object)?;
            object.end()
        });
        hasher.0.finalize().into()
    }

    /// The thumbprint, base64url-encoded: the `kid` Koppeltaal's auth server uses.
    ///
    /// ```
    /// use koppeltaal_core::{PublicJwk, RsaPublicKey};
    /// # use base64ct::{Base64UrlUnpadded, Encoding};
    /// // RFC 7638 §3.1
    /// let n = Base64UrlUnpadded::decode_vec("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw").unwrap();
    /// let key = RsaPublicKey::from_be_bytes(&n, &[1, 0, 1]).unwrap();
    /// assert_eq!(PublicJwk::Rsa(&key).thumbprint_key_id(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /// ```
    pub fn thumbprint_key_id(&self) -> heapless::String<43> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let mut text = [0u8; 43];
        // 32 bytes always encode to exactly 43 characters.
        let encoded = Base64UrlUnpadded::encode(&self.thumbprint(), &mut text).unwrap_or_default();
        heapless::String::try_from(encoded).unwrap_or_default()
    }

    /// The algorithm this key is for when it can only be one (EC keys); `None` for RSA.
    pub fn implied_algorithm(&self) -> Option<Algorithm> {
        match self {
            #[cfg(feature = "rs")]
            PublicJwk::Rsa(_) => None,
            #[cfg(feature = "es256")]
            PublicJwk::P256(_) => Some(Algorithm::ES256),
            #[cfg(feature = "es384")]
            PublicJwk::P384(_) => Some(Algorithm::ES384),
            #[cfg(feature = "es512")]
            PublicJwk::P521(_) => Some(Algorithm::ES512),
        }
    }

    /// Writes this key as one JWK object: `kid`, `use: "sig"`, `alg` when given, and the key
    /// members.
    pub fn write<W: Write>(
        &self,
        out: &mut W,
        kid: &str,
        alg: Option<Algorithm>,
    ) -> Result<(), Error> {
        let mut object = JsonObject::begin(out)?;
        self.required_members(&mut object)?;
        object.string("kid", kid)?;
        object.string("use", "sig")?;
        if let Some(alg) = alg.or(self.implied_algorithm()) {
            object.string("alg", alg.as_str())?;
        }
        object.end()
    }
}

/// Writes a JWKS document (`{"keys":[...]}`) key by key into any `embedded_io::Write`.
///
/// ```
/// # #[cfg(feature = "es256")] {
/// use koppeltaal_core::{EcSigner, JwksWriter};
/// let signer = EcSigner::p256(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap());
/// let mut buffer = [0u8; 512];
/// let mut out: &mut [u8] = &mut buffer;
/// let mut jwks = JwksWriter::new(&mut out)?;
/// jwks.key(&signer.public_jwk(), None)?;
/// jwks.finish()?;
/// let written = 512 - out.len();
/// assert!(core::str::from_utf8(&buffer[..written]).unwrap().contains(r#""alg":"ES256""#));
/// # }
/// # Ok::<(), koppeltaal_core::Error>(())
/// ```
pub struct JwksWriter<'w, W> {
    out: &'w mut W,
    first: bool,
}

impl<'w, W: Write> JwksWriter<'w, W> {
    /// Starts the document.
    pub fn new(out: &'w mut W) -> Result<Self, Error> {
        put(out, br#"{"keys":["#)?;
        Ok(JwksWriter { out, first: true })
    }

    /// Adds a key under its thumbprint `kid`, bound to `alg` when given (EC keys are always
    /// bound to their curve's algorithm).
    pub fn key(&mut self, key: &PublicJwk<'_>, alg: Option<Algorithm>) -> Result<(), Error> {
        self.key_with_id(key, &key.thumbprint_key_id(), alg)
    }

    /// Adds a key under the given `kid`.
    pub fn key_with_id(
        &mut self,
        key: &PublicJwk<'_>,
        kid: &str,
        alg: Option<Algorithm>,
    ) -> Result<(), Error> {
        if !self.first {
            put(self.out, b",")?;
        }
        self.first = false;
        key.write(self.out, kid, alg)
    }

    /// Adds an encryption key (`use: "enc"`, `alg` the key management algorithm) under its
    /// thumbprint `kid`: what a module publishes so that portals can encrypt launches to it.
    /// Only RSA keys encrypt (RSA-OAEP); another key is [`Error::InvalidConfiguration`].
    #[cfg(feature = "jwe")]
    pub fn encryption_key(
        &mut self,
        key: &PublicJwk<'_>,
        alg: crate::KeyManagement,
    ) -> Result<(), Error> {
        if key.implied_algorithm().is_some() {
            return Err(Error::InvalidConfiguration);
        }
        if !self.first {
            put(self.out, b",")?;
        }
        self.first = false;
        let mut object = JsonObject::begin(self.out)?;
        key.required_members(&mut object)?;
        object.string("kid", &key.thumbprint_key_id())?;
        object.string("use", "enc")?;
        object.string("alg", alg.as_str())?;
        object.end()
    }

    /// Ends the document.
    pub fn finish(self) -> Result<(), Error> {
        put(self.out, b"]}")
    }
}
