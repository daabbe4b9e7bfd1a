//! The JWE algorithms (RFC 7518 §4, §5) this crate decrypts and produces.

use crate::error::Error;

/// How the content encryption key is carried: encrypted to the recipient's RSA key with
/// RSAES-OAEP (RFC 7518 §4.3).
///
/// `RSA1_5` (RSAES-PKCS1-v1_5, a padding oracle by design) and `dir` (a shared symmetric key)
/// are refused; other key management algorithms are not implemented.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyManagement {
    /// `RSA-OAEP`: OAEP with SHA-1 and MGF1-SHA-1 (what the Koppeltaal portals send).
    RsaOaep,
    /// `RSA-OAEP-256`: OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
}

impl KeyManagement {
    /// The name in a JWE header's `alg`.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyManagement::RsaOaep => "RSA-OAEP",
            KeyManagement::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    /// The algorithm named `name` (case-sensitive, as RFC 7518 registers it).
    ///
    /// ```
    /// use koppeltaal_core::{Error, KeyManagement};
    /// assert_eq!(KeyManagement::from_jose("RSA-OAEP"), Ok(KeyManagement::RsaOaep));
    /// assert_eq!(KeyManagement::from_jose("RSA1_5"), Err(Error::ForbiddenKeyManagement));
    /// assert_eq!(KeyManagement::from_jose("A128KW"), Err(Error::UnsupportedKeyManagement));
    /// ```
    pub fn from_jose(name: &str) -> Result<KeyManagement, Error> {
        match name {
            "RSA-OAEP" => Ok(KeyManagement::RsaOaep),
            "RSA-OAEP-256" => Ok(KeyManagement::RsaOaep256),
            _ if name.eq_ignore_ascii_case("RSA1_5") || name.eq_ignore_ascii_case("dir") => {
                Err(Error::ForbiddenKeyManagement)
            }
            _ => Err(Error::UnsupportedKeyManagement),
        }
    }
}

/// How the content is encrypted and authenticated (RFC 7518 §5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentEncryption {
    /// `A128CBC-HS256`: AES-128-CBC, then HMAC-SHA-256 truncated to 128 bits.
    A128CbcHs256,
    /// `A192CBC-HS384`: AES-192-CBC, then HMAC-SHA-384 truncated to 192 bits.
    A192CbcHs384,
    /// `A256CBC-HS512`: AES-256-CBC, then HMAC-SHA-512 truncated to 256 bits.
    A256CbcHs512,
    /// `A128GCM`: AES-128-GCM.
    A128Gcm,
    /// `A192GCM`: AES-192-GCM.
    A192Gcm,
    /// `A256GCM`: AES-256-GCM.
    A256Gcm,
}

impl ContentEncryption {
    /// Every content encryption, in the order of RFC 7518.
    pub const ALL: [ContentEncryption; 6] = [
        ContentEncryption::A128CbcHs256,
        ContentEncryption::A192CbcHs384,
        ContentEncryption::A256CbcHs512,
        ContentEncryption::A128Gcm,
        ContentEncryption::A192Gcm,
        ContentEncryption::A256Gcm,
    ];

    /// The longest content encryption key, in bytes (A256CBC-HS512).
    pub const MAX_KEY_LEN: usize = 64;

    /// The name in a JWE header's `enc`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ContentEncryption::A128CbcHs256 => "A128CBC-HS256",
            ContentEncryption::A192CbcHs384 => "A192CBC-HS384",
            ContentEncryption::A256CbcHs512 => "A256CBC-HS512",
            ContentEncryption::A128Gcm => "A128GCM",
            ContentEncryption::A192Gcm => "A192GCM",
            ContentEncryption::A256Gcm => "A256GCM",
        }
    }

    /// The encryption named `name`; [`Error::UnsupportedContentEncryption`] otherwise.
    pub fn from_jose(name: &str) -> Result<ContentEncryption, Error> {
        ContentEncryption::ALL
            .into_iter()
            .find(|enc| enc.as_str() == name)
            .ok_or(Error::UnsupportedContentEncryption)
    }

    /// The length of the content encryption key in bytes (for CBC-HMAC the MAC key and the
    /// encryption key together).
    pub const fn key_len(self) -> usize {
        match self {
            ContentEncryption::A128CbcHs256 => 32,
            ContentEncryption::A192CbcHs384 => 48,
            ContentEncryption::A256CbcHs512 => 64,
            ContentEncryption::A128Gcm => 16,
            ContentEncryption::A192Gcm => 24,
            ContentEncryption::A256Gcm => 32,
        }
    }

    /// The length of the initialization vector in bytes.
    pub const fn iv_len(self) -> usize {
        if self.is_cbc() { 16 } else { 12 }
    }

    /// The length of the authentication tag in bytes.
    pub const fn tag_len(self) -> usize {
        match self {
            ContentEncryption::A128CbcHs256 => 16,
            ContentEncryption::A192CbcHs384 => 24,
            ContentEncryption::A256CbcHs512 => 32,
            _ => 16,
        }
    }

    /// Whether it is one of the AES-CBC with HMAC-SHA-2 compositions.
    pub const fn is_cbc(self) -> bool {
        matches!(
            self,
            ContentEncryption::A128CbcHs256
                | ContentEncryption::A192CbcHs384
                | ContentEncryption::A256CbcHs512
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for enc in ContentEncryption::ALL {
            assert_eq!(ContentEncryption::from_jose(enc.as_str()), Ok(enc));
            assert!(enc.key_len() <= ContentEncryption::MAX_KEY_LEN);
        }
        for alg in [KeyManagement::RsaOaep, KeyManagement::RsaOaep256] {
            assert_eq!(KeyManagement::from_jose(alg.as_str()), Ok(alg));
        }
        assert_eq!(
            ContentEncryption::from_jose("a128gcm"),
            Err(Error::UnsupportedContentEncryption)
        );
        assert_eq!(
            KeyManagement::from_jose("dir"),
            Err(Error::ForbiddenKeyManagement)
        );
    }
}
