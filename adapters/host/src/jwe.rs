//! Encrypted launches (HTI:jwe) on a host: the module's decryption keys, a recipient's public
//! key read from a JWKS or PEM, the module's encryption JWKS, and encrypting a launch as a
//! portal does.

#[cfg(feature = "aws-lc")]
mod aws_lc;

use std::sync::Arc;

use koppeltaal_core::{JwksWriter, KeyUnwrapper, PublicJwk, RsaPublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::Value;

use crate::error::HostError;
use crate::keys::PrivateKey;
use crate::random::os_rng;

#[cfg(feature = "aws-lc")]
pub use aws_lc::AwsLcOaepKey;
/// The core's encryption types that this module's functions take and return.
pub use koppeltaal_core::{ContentEncryption, KeyManagement, RsaOaepKey, RsaOaepPublicKey};

/// A decryption key shared between threads.
pub type SharedDecrypter = Arc<dyn KeyUnwrapper + Send + Sync>;

impl PrivateKey {
    /// This (RSA) key as a decryption key for encrypted launches (RSA-OAEP and RSA-OAEP-256),
    /// known by its RFC 7638 thumbprint, the `kid` [`jwks_encryption_document`] publishes. An
    /// EC key is [`HostError::Key`]: only RSA keys decrypt here.
    ///
    /// With the feature `aws-lc` (the default) the key unwraps in AWS-LC ([`AwsLcOaepKey`]),
    /// else in the `rsa` crate ([`RsaOaepKey`]); both are constant time and blinded, and fail
    /// alike.
    pub fn decrypter(&self) -> Result<SharedDecrypter, HostError> {
        self.decrypter_with_kid(&self.key_id()?)
    }

    /// [`decrypter`](Self::decrypter), known by `kid` (for a key published under another
    /// `kid` than its thumbprint).
    pub fn decrypter_with_kid(&self, kid: &str) -> Result<SharedDecrypter, HostError> {
        #[cfg(feature = "aws-lc")]
        {
            Ok(Arc::new(AwsLcOaepKey::new(self, Some(kid))?))
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            self.rsa_crate_decrypter(kid)
        }
    }

    /// [`decrypter_with_kid`](Self::decrypter_with_kid) in the `rsa` crate ([`RsaOaepKey`])
    /// whatever the features: pure Rust, about a third of AWS-LC's speed.
    pub fn rsa_crate_decrypter(&self, kid: &str) -> Result<SharedDecrypter, HostError> {
        let rsa = self
            .rsa()
            .ok_or_else(|| HostError::Key("only RSA keys decrypt launches (RSA-OAEP)".into()))?;
        Ok(Arc::new(RsaOaepKey::new(rsa.clone(), Some(kid))?))
    }
}

/// A JWKS publishing the public halves of `keys` as encryption keys (`use: "enc"`, `alg`,
/// thumbprint `kid`): what a module publishes so that portals can encrypt launches to it.
///
/// ```
/// use koppeltaal_core::{Algorithm, KeyManagement};
/// use koppeltaal_host::{PrivateKey, jwe::jwks_encryption_document};
/// let module = PrivateKey::generate(Algorithm::RS512)?;
/// let jwks = jwks_encryption_document(&[&module], KeyManagement::RsaOaep256)?;
/// assert!(jwks.contains(r#""use":"enc","alg":"RSA-OAEP-256""#));
/// # Ok::<(), koppeltaal_host::HostError>(())
/// ```
pub fn jwks_encryption_document(
    keys: &[&PrivateKey],
    alg: KeyManagement,
) -> Result<String, HostError> {
    let mut out = Vec::new();
    let mut writer = JwksWriter::new(&mut out)?;
    for key in keys {
        let rsa = key
            .rsa()
            .ok_or_else(|| HostError::Key("only RSA keys encrypt (RSA-OAEP)".into()))?;
        let public = RsaPublicKey::from_be_bytes(&rsa.n_bytes(), &rsa.e_bytes())?;
        writer.encryption_key(&PublicJwk::Rsa(&public), alg)?;
    }
    writer.finish()?;
    String::from_utf8(out).map_err(|_| HostError::Key("JWKS is not UTF-8".into()))
}

/// The public key launches are encrypted to, read from `source`: a JWKS (its `use: "enc"` RSA
/// key, or its only RSA key), a PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`), or a PEM
/// private key (its public half). The key management is `alg` when given, else the JWK's
/// `alg` when it names one, else RSA-OAEP-256; the `kid` is the JWK's, or the thumbprint.
pub fn recipient_public_key(
    source: &[u8],
    alg: Option<KeyManagement>,
) -> Result<RsaOaepPublicKey, HostError> {
    let text = std::str::from_utf8(source)
        .map_err(|_| HostError::Key("the key is neither a JWKS nor PEM".into()))?;
    if text.trim_start().starts_with('{') {
        return from_jwks(text, alg);
    }
    let public = public_from_pem(text)?;
    let kid = PublicJwk::Rsa(&RsaPublicKey::from_be_bytes(
        &public.n_bytes(),
        &public.e_bytes(),
    )?)
    .thumbprint_key_id();
    Ok(RsaOaepPublicKey::new(
        public,
        alg.unwrap_or(KeyManagement::RsaOaep256),
        Some(&kid),
    )?)
}

fn public_from_pem(pem: &str) -> Result<rsa::RsaPublicKey, HostError> {
    use pkcs1::DecodeRsaPublicKey;
    use pkcs8::DecodePublicKey;
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_pem(pem) {
        return Ok(key);
    }
    if let Ok(key) = rsa::RsaPublicKey::from_pkcs1_pem(pem) {
        return Ok(key);
    }
    let private = PrivateKey::from_pem(pem)?;
    private
        .rsa()
        .map(|key| key.to_public_key())
        .ok_or_else(|| HostError::Key("only RSA keys encrypt (RSA-OAEP)".into()))
}

fn from_jwks(text: &str, alg: Option<KeyManagement>) -> Result<RsaOaepPublicKey, HostError> {
    let document: Value =
        serde_json::from_str(text).map_err(|error| HostError::Key(format!("JWKS: {error}")))?;
    let keys = document["keys"]
        .as_array()
        .ok_or_else(|| HostError::Key("JWKS has no `keys`".into()))?;
    let rsa: Vec<&Value> = keys.iter().filter(|key| key["kty"] == "RSA").collect();
    let chosen = match rsa
        .iter()
        .filter(|key| key["use"] == "enc")
        .collect::<Vec<_>>()[..]
    {
        [one] => *one,
        [] if rsa.len() == 1 && rsa[0].get("use").is_none() => rsa[0],
        [] => return Err(HostError::Key("JWKS has no RSA key with `use: enc`".into())),
        _ => {
            return Err(HostError::Key(
                "JWKS has several RSA keys with `use: enc`: give the one to use".into(),
            ));
        }
    };
    let decode = |name: &str| {
        chosen[name]
            .as_str()
            .and_then(|text| {
                use base64ct::{Base64UrlUnpadded, Encoding};
                Base64UrlUnpadded::decode_vec(text).ok()
            })
            .ok_or_else(|| HostError::Key(format!("JWK `{name}` is not base64url")))
    };
    let (n, e) = (decode("n")?, decode("e")?);
    let public = rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&n),
        rsa::BoxedUint::from_be_slice_vartime(&e),
    )
    .map_err(|error| HostError::Key(format!("JWK: {error}")))?;
    let named = chosen["alg"]
        .as_str()
        .and_then(|name| KeyManagement::from_jose(name).ok());
    let kid = chosen["kid"].as_str();
    Ok(RsaOaepPublicKey::new(
        public,
        alg.or(named).unwrap_or(KeyManagement::RsaOaep256),
        kid,
    )?)
}

/// Encrypts the signed launch `signed` to `recipient` with `enc` (as a portal does for an
/// HTI:jwe launch), with fresh randomness from the OS.
pub fn encrypt_launch(
    signed: &str,
    recipient: &RsaOaepPublicKey,
    enc: ContentEncryption,
) -> Result<String, HostError> {
    Ok(koppeltaal_core::encrypt_token(
        signed,
        recipient,
        enc,
        &mut os_rng(),
    )?)
}
