//! Ready-made [`JwsSigner`]s: RSA and EC private keys in memory, and an adapter for any signer
//! behind the RustCrypto `signature` traits (an HSM, a cloud KMS, a secure element).

use core::marker::PhantomData;

use heapless::String;
use rand_core::CryptoRng;
use signature::SignatureEncoding;

use crate::capacity;
use crate::error::Error;
use crate::jose::algorithm::Algorithm;
#[cfg(any(
    feature = "rsa-signer",
    feature = "es256",
    feature = "es384",
    feature = "es512"
))]
use crate::produce::jwks_writer::PublicJwk;
use crate::produce::jws_signer::JwsSigner;

fn owned_key_id(kid: &str) -> Result<String<{ capacity::KEY_ID }>, Error> {
    if kid.is_empty() {
        return Err(Error::EmptyClaim("kid"));
    }
    String::try_from(kid).map_err(|_| Error::ValueTooLong("kid"))
}

fn copy_signature(bytes: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    out.get_mut(..bytes.len())
        .ok_or(Error::SigningFailed)?
        .copy_from_slice(bytes);
    Ok(bytes.len())
}

/// An RSA private key signing RS256, RS384 or RS512 (feature `rsa-signer`, which needs an
/// allocator: private-key RSA goes through the `rsa` crate, constant-time and blinded with the
/// caller's randomness).
#[cfg(feature = "rsa-signer")]
pub struct RsaSigner {
    key: RsaSigningKey,
    public: crate::jose::rsa::RsaPublicKey,
    kid: String<{ capacity::KEY_ID }>,
    alg: Algorithm,
}

#[cfg(feature = "rsa-signer")]
enum RsaSigningKey {
    Sha256(rsa::pkcs1v15::SigningKey<sha2::Sha256>),
    Sha384(rsa::pkcs1v15::SigningKey<sha2::Sha384>),
    Sha512(rsa::pkcs1v15::SigningKey<sha2::Sha512>),
}

#[cfg(feature = "rsa-signer")]
impl RsaSigner {
    /// A signer for `alg` (RS256, RS384 or RS512; otherwise [`Error::InvalidConfiguration`]),
    /// with the RFC 7638 thumbprint as its `kid`. Keys outside 2048..=4096 bits are refused as
    /// the verifier would refuse them.
    pub fn new(key: rsa::RsaPrivateKey, alg: Algorithm) -> Result<RsaSigner, Error> {
        use rsa::traits::PublicKeyParts;
        let public = crate::jose::rsa::RsaPublicKey::from_be_bytes(&key.n_bytes(), &key.e_bytes())?;
        let key = match alg {
            Algorithm::RS256 => RsaSigningKey::Sha256(rsa::pkcs1v15::SigningKey::new(key)),
            Algorithm::RS384 => RsaSigningKey::Sha384(rsa::pkcs1v15::SigningKey::new(key)),
            Algorithm::RS512 => RsaSigningKey::Sha512(rsa::pkcs1v15::SigningKey::new(key)),
            _ => return Err(Error::InvalidConfiguration),
        };
        let kid = PublicJwk::Rsa(&public).thumbprint_key_id();
        Ok(RsaSigner {
            key,
            kid: String::try_from(kid.as_str()).map_err(|_| Error::ValueTooLong("kid"))?,
            public,
            alg,
        })
    }

    /// This signer with another `kid`.
    pub fn with_key_id(mut self, kid: &str) -> Result<RsaSigner, Error> {
        self.kid = owned_key_id(kid)?;
        Ok(self)
    }

    /// The public key, as the verifier uses it.
    pub fn public_key(&self) -> &crate::jose::rsa::RsaPublicKey {
        &self.public
    }

    /// The public key, for publishing in a JWKS.
    pub fn public_jwk(&self) -> PublicJwk<'_> {
        PublicJwk::Rsa(&self.public)
    }
}

#[cfg(feature = "rsa-signer")]
impl JwsSigner for RsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn key_id(&self) -> &str {
        &self.kid
    }

    fn sign(
        &self,
        signing_input: &[u8],
        rng: &mut dyn CryptoRng,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        use signature::RandomizedSigner;
        let signature = match &self.key {
            RsaSigningKey::Sha256(key) => key.try_sign_with_rng(rng, signing_input),
            RsaSigningKey::Sha384(key) => key.try_sign_with_rng(rng, signing_input),
            RsaSigningKey::Sha512(key) => key.try_sign_with_rng(rng, signing_input),
        }
        .map_err(|_| Error::SigningFailed)?;
        copy_signature(&signature.to_bytes(), out)
    }
}

#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
/// An EC private key signing ES256 (P-256), ES384 (P-384) or ES512 (P-521); no allocator.
/// Signatures are RFC 6979 deterministic, hedged with the caller's randomness.
pub struct EcSigner {
    key: EcSigningKey,
    kid: String<{ capacity::KEY_ID }>,
}

#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
enum EcSigningKey {
    #[cfg(feature = "es256")]
    P256(p256::ecdsa::SigningKey),
    #[cfg(feature = "es384")]
    P384(p384::ecdsa::SigningKey),
    #[cfg(feature = "es512")]
    P521(p521::ecdsa::SigningKey),
}

#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
impl EcSigner {
    fn with_thumbprint(key: EcSigningKey) -> EcSigner {
        let mut signer = EcSigner {
            key,
            kid: String::new(),
        };
        let kid = signer.public_jwk().thumbprint_key_id();
        // A 43-character thumbprint always fits.
        let _ = signer.kid.push_str(&kid);
        signer
    }

    /// An ES256 signer, with the RFC 7638 thumbprint as its `kid`.
    #[cfg(feature = "es256")]
    pub fn p256(key: p256::ecdsa::SigningKey) -> EcSigner {
        Self::with_thumbprint(EcSigningKey::P256(key))
    }

    /// An ES384 signer, with the RFC 7638 thumbprint as its `kid`.
    #[cfg(feature = "es384")]
    pub fn p384(key: p384::ecdsa::SigningKey) -> EcSigner {
        Self::with_thumbprint(EcSigningKey::P384(key))
    }

    /// An ES512 signer, with the RFC 7638 thumbprint as its `kid`.
    #[cfg(feature = "es512")]
    pub fn p521(key: p521::ecdsa::SigningKey) -> EcSigner {
        Self::with_thumbprint(EcSigningKey::P521(key))
    }

    /// This signer with another `kid`.
    pub fn with_key_id(mut self, kid: &str) -> Result<EcSigner, Error> {
        self.kid = owned_key_id(kid)?;
        Ok(self)
    }

    /// The public key, for publishing in a JWKS.
    pub fn public_jwk(&self) -> PublicJwk<'_> {
        match &self.key {
            #[cfg(feature = "es256")]
            EcSigningKey::P256(key) => PublicJwk::P256(key.verifying_key()),
            #[cfg(feature = "es384")]
            EcSigningKey::P384(key) => PublicJwk::P384(key.verifying_key()),
            #[cfg(feature = "es512")]
            EcSigningKey::P521(key) => PublicJwk::P521(key.verifying_key()),
        }
    }
}

#[cfg(any(feature = "es256", feature = "es384", feature = "es512"))]
impl JwsSigner for EcSigner {
    fn algorithm(&self) -> Algorithm {
        match &self.key {
            #[cfg(feature = "es256")]
            EcSigningKey::P256(_) => Algorithm::ES256,
            #[cfg(feature = "es384")]
            EcSigningKey::P384(_) => Algorithm::ES384,
            #[cfg(feature = "es512")]
            EcSigningKey::P521(_) => Algorithm::ES512,
        }
    }

    fn key_id(&self) -> &str {
        &self.kid
    }

    fn sign(
        &self,
        signing_input: &[u8],
        rng: &mut dyn CryptoRng,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        use signature::RandomizedSigner;
        match &self.key {
            #[cfg(feature = "es256")]
            EcSigningKey::P256(key) => {
                let signature: p256::ecdsa::Signature = key
                    .try_sign_with_rng(rng, signing_input)
                    .map_err(|_| Error::SigningFailed)?;
                copy_signature(&signature.to_bytes(), out)
            }
            #[cfg(feature = "es384")]
            EcSigningKey::P384(key) => {
                let signature: p384::ecdsa::Signature = key
                    .try_sign_with_rng(rng, signing_input)
                    .map_err(|_| Error::SigningFailed)?;
                copy_signature(&signature.to_bytes(), out)
            }
            #[cfg(feature = "es512")]
            EcSigningKey::P521(key) => {
                let signature: p521::ecdsa::Signature = key
                    .try_sign_with_rng(rng, signing_input)
                    .map_err(|_| Error::SigningFailed)?;
                copy_signature(&signature.to_bytes(), out)
            }
        }
    }
}

/// Any `signature::Signer<Sig>` as a [`JwsSigner`]: a key in an HSM, a cloud KMS or a secure
/// element, given the algorithm it signs with and the `kid` it is published under.
///
/// `Sig` must encode in JOSE form: a PKCS#1 v1.5 signature for RS*, the fixed-length `r || s`
/// (not DER) for ES*; an ECDSA signature of the wrong length is [`Error::SigningFailed`].
pub struct ExternalSigner<S, Sig> {
    signer: S,
    alg: Algorithm,
    kid: String<{ capacity::KEY_ID }>,
    signature: PhantomData<fn() -> Sig>,
}

impl<S, Sig> ExternalSigner<S, Sig> {
    /// Wraps `signer`, which signs with `alg`, published as `kid`.
    pub fn new(signer: S, alg: Algorithm, kid: &str) -> Result<Self, Error> {
        Ok(ExternalSigner {
            signer,
            alg,
            kid: owned_key_id(kid)?,
            signature: PhantomData,
        })
    }
}

impl<S: signature::Signer<Sig>, Sig: SignatureEncoding> JwsSigner for ExternalSigner<S, Sig> {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn key_id(&self) -> &str {
        &self.kid
    }

    fn sign(
        &self,
        signing_input: &[u8],
        _: &mut dyn CryptoRng,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let signature = self
            .signer
            .try_sign(signing_input)
            .map_err(|_| Error::SigningFailed)?;
        let bytes = signature.to_bytes();
        let bytes = bytes.as_ref();
        let expected = match self.alg {
            Algorithm::ES256 => Some(64),
            Algorithm::ES384 => Some(96),
            Algorithm::ES512 => Some(132),
            _ => None,
        };
        if expected.is_some_and(|len| len != bytes.len()) {
            return Err(Error::SigningFailed);
        }
        copy_signature(bytes, out)
    }
}
