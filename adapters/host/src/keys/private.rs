//! Private keys: generating them, reading and writing PEM, signing with them, publishing the
//! public half as a JWKS.

use std::path::Path;
use std::sync::Arc;

use koppeltaal_core::{
    Algorithm, EcSigner, JwksWriter, JwsSigner, PublicJwk, RsaPublicKey, RsaSigner,
};
use p256::elliptic_curve::Generate;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;

use crate::error::HostError;
use crate::random::os_rng;

/// How a private key is written as PEM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemFormat {
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8), for every key type.
    Pkcs8,
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1), for RSA keys only.
    Pkcs1,
}

/// A signer shared between threads.
pub type SharedSigner = Arc<dyn JwsSigner + Send + Sync>;

/// An application's private key: RSA (2048, 3072 or 4096 bits) or EC (P-256, P-384, P-521).
pub struct PrivateKey(Material);

enum Material {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

fn key_error(error: impl std::fmt::Display) -> HostError {
    HostError::Key(error.to_string())
}

impl PrivateKey {
    /// Generates a key for `alg` from OS randomness: the algorithm's curve for ES*, a
    /// 2048-bit RSA key for RS* (another size: [`generate_rsa`](Self::generate_rsa)).
    ///
    /// ```
    /// use koppeltaal_host::{Algorithm, PrivateKey};
    /// let key = PrivateKey::generate(Algorithm::ES256)?;
    /// assert_eq!(key.default_algorithm(), Algorithm::ES256);
    /// # Ok::<(), koppeltaal_host::HostError>(())
    /// ```
    pub fn generate(alg: Algorithm) -> Result<PrivateKey, HostError> {
        PrivateKey::generate_with(alg, 2048)
    }

    /// Generates an RSA key of `bits` (2048, 3072 or 4096) for `alg` (RS256, RS384 or RS512);
    /// [`HostError::Key`] for another size or algorithm.
    pub fn generate_rsa(alg: Algorithm, bits: usize) -> Result<PrivateKey, HostError> {
        if !alg.is_rsa() {
            return Err(HostError::Key(format!(
                "{} is not an RSA algorithm",
                alg.as_str()
            )));
        }
        PrivateKey::generate_with(alg, bits)
    }

    fn generate_with(alg: Algorithm, rsa_bits: usize) -> Result<PrivateKey, HostError> {
        let mut rng = os_rng();
        let material = match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                if ![2048, 3072, 4096].contains(&rsa_bits) {
                    return Err(HostError::Key(format!(
                        "RSA keys are 2048, 3072 or 4096 bits, not {rsa_bits}"
                    )));
                }
                Material::Rsa(Box::new(
                    rsa::RsaPrivateKey::new(&mut rng, rsa_bits).map_err(key_error)?,
                ))
            }
            Algorithm::ES256 => {
                Material::P256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng))
            }
            Algorithm::ES384 => {
                Material::P384(p384::ecdsa::SigningKey::generate_from_rng(&mut rng))
            }
            Algorithm::ES512 => {
                Material::P521(p521::ecdsa::SigningKey::generate_from_rng(&mut rng))
            }
        };
        Ok(PrivateKey(material))
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`, RSA or EC), PKCS#1 (`RSA PRIVATE KEY`)
    /// or SEC1 (`EC PRIVATE KEY`). Encrypted keys are not supported.
    pub fn from_pem(pem: &str) -> Result<PrivateKey, HostError> {
        let label = pem
            .lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("-----BEGIN ")?
                    .strip_suffix("-----")
            })
            .ok_or_else(|| HostError::Key("not a PEM document".into()))?;
        let material = match label {
            "PRIVATE KEY" => {
                if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
                    Material::Rsa(Box::new(key))
                } else if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                    Material::P256(key)
                } else if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                    Material::P384(key)
                } else {
                    Material::P521(p521::ecdsa::SigningKey::from_pkcs8_pem(pem).map_err(|_| {
                        HostError::Key("PKCS#8 key is not RSA, P-256, P-384 or P-521".into())
                    })?)
                }
            }
            "RSA PRIVATE KEY" => {
                use pkcs1::DecodeRsaPrivateKey;
                Material::Rsa(Box::new(
                    rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(key_error)?,
                ))
            }
            "EC PRIVATE KEY" => {
                if let Ok(key) = p256::SecretKey::from_sec1_pem(pem) {
                    Material::P256(key.into())
                } else if let Ok(key) = p384::SecretKey::from_sec1_pem(pem) {
                    Material::P384(key.into())
                } else {
                    Material::P521(
                        p521::SecretKey::from_sec1_pem(pem)
                            .map_err(|_| {
                                HostError::Key("SEC1 key is not P-256, P-384 or P-521".into())
                            })?
                            .into(),
                    )
                }
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(HostError::Key("encrypted keys are not supported".into()));
            }
            other => return Err(HostError::Key(format!("unsupported PEM label {other:?}"))),
        };
        let key = PrivateKey(material);
        key.check_size()?;
        Ok(key)
    }

    /// Reads a PEM file.
    pub fn read_pem_file(path: impl AsRef<Path>) -> Result<PrivateKey, HostError> {
        PrivateKey::from_pem(&std::fs::read_to_string(path)?)
    }

    /// The key as PEM.
    pub fn to_pem(&self, format: PemFormat) -> Result<String, HostError> {
        let pem = match (&self.0, format) {
            (Material::Rsa(key), PemFormat::Pkcs8) => {
                key.to_pkcs8_pem(LineEnding::LF).map_err(key_error)?
            }
            (Material::Rsa(key), PemFormat::Pkcs1) => {
                use pkcs1::EncodeRsaPrivateKey;
                key.to_pkcs1_pem(LineEnding::LF).map_err(key_error)?
            }
            (_, PemFormat::Pkcs1) => {
                return Err(HostError::Key("PKCS#1 holds RSA keys only".into()));
            }
            (Material::P256(key), PemFormat::Pkcs8) => {
                key.to_pkcs8_pem(LineEnding::LF).map_err(key_error)?
            }
            (Material::P384(key), PemFormat::Pkcs8) => {
                key.to_pkcs8_pem(LineEnding::LF).map_err(key_error)?
            }
            (Material::P521(key), PemFormat::Pkcs8) => {
                key.to_pkcs8_pem(LineEnding::LF).map_err(key_error)?
            }
        };
        Ok(pem.to_string())
    }

    /// The public half as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// ```
    /// use koppeltaal_core::Algorithm;
    /// use koppeltaal_host::PrivateKey;
    /// let key = PrivateKey::generate(Algorithm::ES256)?;
    /// assert!(key.public_pem()?.starts_with("-----BEGIN PUBLIC KEY-----"));
    /// # Ok::<(), koppeltaal_host::HostError>(())
    /// ```
    pub fn public_pem(&self) -> Result<String, HostError> {
        use pkcs8::EncodePublicKey;
        match &self.0 {
            Material::Rsa(key) => key.to_public_key().to_public_key_pem(LineEnding::LF),
            Material::P256(key) => key.verifying_key().to_public_key_pem(LineEnding::LF),
            Material::P384(key) => key.verifying_key().to_public_key_pem(LineEnding::LF),
            Material::P521(key) => key.verifying_key().to_public_key_pem(LineEnding::LF),
        }
        .map_err(key_error)
    }

    /// Writes the key as PEM to a new file, readable by its owner only (mode 0600 on Unix).
    /// An existing file is not overwritten.
    pub fn write_pem_file(
        &self,
        path: impl AsRef<Path>,
        format: PemFormat,
    ) -> Result<(), HostError> {
        use std::io::Write;
        let pem = self.to_pem(format)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        file.write_all(pem.as_bytes())?;
        file.sync_all()?;
        Ok(())
    }

    /// The algorithm this key signs with unless told otherwise: RS512 (Koppeltaal's) for RSA,
    /// the curve's for EC.
    pub fn default_algorithm(&self) -> Algorithm {
        match self.0 {
            Material::Rsa(_) => Algorithm::RS512,
            Material::P256(_) => Algorithm::ES256,
            Material::P384(_) => Algorithm::ES384,
            Material::P521(_) => Algorithm::ES512,
        }
    }

    /// The RSA modulus length in bits, for RSA keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.0 {
            Material::Rsa(key) => Some(key.size() * 8),
            _ => None,
        }
    }

    fn check_size(&self) -> Result<(), HostError> {
        if let Material::Rsa(key) = &self.0 {
            RsaPublicKey::from_be_bytes(&key.n_bytes(), &key.e_bytes())?;
        }
        Ok(())
    }

    /// A signer for the key's [`default_algorithm`](Self::default_algorithm), with the RFC
    /// 7638 thumbprint as its `kid`.
    pub fn signer(&self) -> Result<SharedSigner, HostError> {
        self.signer_for(self.default_algorithm())
    }

    /// A signer for `alg`, with the RFC 7638 thumbprint as its `kid`. An algorithm the key
    /// cannot make is [`HostError::Key`] (an RSA key signs RS256, RS384 and RS512).
    pub fn signer_for(&self, alg: Algorithm) -> Result<SharedSigner, HostError> {
        let mismatch = || HostError::Key(format!("this key cannot sign {}", alg.as_str()));
        Ok(match &self.0 {
            Material::Rsa(key) if alg.is_rsa() => Arc::new(RsaSigner::new((**key).clone(), alg)?),
            Material::P256(key) if alg == Algorithm::ES256 => Arc::new(EcSigner::p256(key.clone())),
            Material::P384(key) if alg == Algorithm::ES384 => Arc::new(EcSigner::p384(key.clone())),
            Material::P521(key) if alg == Algorithm::ES512 => Arc::new(EcSigner::p521(key.clone())),
            _ => return Err(mismatch()),
        })
    }

    /// Runs `f` with the public key as a [`PublicJwk`].
    fn with_public<T>(&self, f: impl FnOnce(&PublicJwk<'_>) -> T) -> Result<T, HostError> {
        Ok(match &self.0 {
            Material::Rsa(key) => f(&PublicJwk::Rsa(&RsaPublicKey::from_be_bytes(
                &key.n_bytes(),
                &key.e_bytes(),
            )?)),
            Material::P256(key) => f(&PublicJwk::P256(key.verifying_key())),
            Material::P384(key) => f(&PublicJwk::P384(key.verifying_key())),
            Material::P521(key) => f(&PublicJwk::P521(key.verifying_key())),
        })
    }

    /// The RSA key, for an RSA private key.
    pub(crate) fn rsa(&self) -> Option<&rsa::RsaPrivateKey> {
        match &self.0 {
            Material::Rsa(key) => Some(key),
            _ => None,
        }
    }

    /// The RFC 7638 thumbprint of the public key: its `kid`.
    pub fn key_id(&self) -> Result<String, HostError> {
        self.with_public(|jwk| jwk.thumbprint_key_id().to_string())
    }
}

/// A JWKS document publishing the public halves of `keys`, each under its thumbprint `kid`
/// and bound to its default algorithm (RS512 for RSA keys, as Koppeltaal uses).
///
/// ```
/// use koppeltaal_core::Algorithm;
/// use koppeltaal_host::{PrivateKey, keys::jwks_document};
/// let key = PrivateKey::generate(Algorithm::ES256)?;
/// let jwks = jwks_document(&[&key])?;
/// assert!(jwks.contains(&key.key_id()?));
/// # Ok::<(), koppeltaal_host::HostError>(())
/// ```
pub fn jwks_document(keys: &[&PrivateKey]) -> Result<String, HostError> {
    let mut out = Vec::new();
    let mut writer = JwksWriter::new(&mut out)?;
    for key in keys {
        key.with_public(|jwk| writer.key(jwk, Some(key.default_algorithm())))??;
    }
    writer.finish()?;
    String::from_utf8(out).map_err(|_| HostError::Key("JWKS is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_keep_the_key() {
        for alg in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::RS512,
        ] {
            let key = PrivateKey::generate(alg).unwrap();
            let pem = key.to_pem(PemFormat::Pkcs8).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{alg:?}");
            let back = PrivateKey::from_pem(&pem).unwrap();
            assert_eq!(back.key_id().unwrap(), key.key_id().unwrap(), "{alg:?}");
            assert_eq!(back.default_algorithm(), key.default_algorithm());
        }
        let rsa = PrivateKey::generate(Algorithm::RS256).unwrap();
        let pkcs1 = rsa.to_pem(PemFormat::Pkcs1).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert_eq!(
            PrivateKey::from_pem(&pkcs1).unwrap().key_id().unwrap(),
            rsa.key_id().unwrap()
        );
        assert_eq!(rsa.rsa_bits(), Some(2048));
    }

    #[test]
    fn sec1_keys_are_read() {
        use p256::pkcs8::LineEnding;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let pem = secret.to_sec1_pem(LineEnding::LF).unwrap();
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.default_algorithm(), Algorithm::ES256);
    }

    #[test]
    fn unusable_pem_is_refused_with_a_reason() {
        for (pem, expected) in [
            ("hello", "not a PEM"),
            (
                "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
                "unsupported PEM label",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "PKCS#8",
            ),
        ] {
            match PrivateKey::from_pem(pem) {
                Err(HostError::Key(why)) => assert!(why.contains(expected), "{why}"),
                other => panic!("{pem}: {:?}", other.map(|_| ())),
            }
        }
        let ec = PrivateKey::generate(Algorithm::ES256).unwrap();
        assert!(matches!(
            ec.to_pem(PemFormat::Pkcs1),
            Err(HostError::Key(_))
        ));
        assert!(matches!(
            ec.signer_for(Algorithm::RS512),
            Err(HostError::Key(_))
        ));
        assert!(matches!(
            PrivateKey::generate_rsa(Algorithm::RS512, 1024),
            Err(HostError::Key(_))
        ));
    }

    #[test]
    fn key_files_are_new_and_private() {
        let path =
            std::env::temp_dir().join(format!("koppeltaal-key-{}.pem", crate::random::new_jti()));
        let key = PrivateKey::generate(Algorithm::ES256).unwrap();
        key.write_pem_file(&path, PemFormat::Pkcs8).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(
            matches!(
                key.write_pem_file(&path, PemFormat::Pkcs8),
                Err(HostError::Io(_))
            ),
            "no overwrite"
        );
        assert_eq!(
            PrivateKey::read_pem_file(&path).unwrap().key_id().unwrap(),
            key.key_id().unwrap()
        );
        std::fs::remove_file(path).unwrap();
    }
}
