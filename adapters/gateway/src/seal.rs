//! Sealing what the gateway keeps with the browser (a SHOF launch in progress): AES-256-GCM
//! under a gateway key, a fresh random 96-bit nonce per seal, the purpose bound in as
//! associated data. A second, older key opens what it sealed, so keys can be rotated without
//! failing the launches in flight.
//!
//! Random nonces under one key are safe for about 2^32 seals (NIST SP 800-38D 8.3): at ten
//! SHOF launches a second that is over thirteen years; rotate keys long before.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64ct::{Base64UrlUnpadded, Encoding};
use rand_core::Rng;
use sha2::{Digest, Sha256};

/// The version byte leading every sealed value.
const FORMAT: u8 = 1;
const NONCE: usize = 12;
const TAG: usize = 16;
/// The shortest secret accepted, in bytes.
pub const MIN_SECRET: usize = 32;
/// The longest sealed text opened (a cookie value).
const MAX_SEALED: usize = 4096;

/// The keys that seal and open the browser's state: the current one, and optionally the one
/// before it (opens only).
#[derive(Clone)]
pub struct CookieKeys {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
}

impl core::fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CookieKeys")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// The key derived from a secret: SHA-256 over a label and the secret.
fn derive(secret: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"koppeltaal-gateway cookie key v1\0")
        .chain_update(secret)
        .finalize()
        .into()
}

impl CookieKeys {
    /// Keys from secrets (each at least [`MIN_SECRET`] bytes, e.g. 32 random bytes or a long
    /// random text), the second one the previous key, kept to open what it sealed.
    ///
    /// ```
    /// use koppeltaal_gateway::CookieKeys;
    /// let old = CookieKeys::from_secrets(b"an old secret of at least 32 bytes!!", None).unwrap();
    /// let sealed = old.seal(b"shof", b"pending launch");
    /// let rotated = CookieKeys::from_secrets(b"the new secret, also 32 bytes or more",
    ///                                        Some(b"an old secret of at least 32 bytes!!")).unwrap();
    /// assert_eq!(rotated.open(b"shof", &sealed).as_deref(), Some(&b"pending launch"[..]));
    /// assert_eq!(rotated.open(b"other purpose", &sealed), None);
    /// ```
    pub fn from_secrets(current: &[u8], previous: Option<&[u8]>) -> Result<CookieKeys, String> {
        for secret in std::iter::once(current).chain(previous) {
            if secret.len() < MIN_SECRET {
                return Err(format!(
                    "a cookie secret has {} bytes; it needs at least {MIN_SECRET} (e.g. `head -c 32 /dev/urandom | base64`)",
                    secret.len()
                ));
            }
        }
        Ok(CookieKeys {
            current: derive(current),
            previous: previous.map(derive),
        })
    }

    /// A random key for this process only: what it seals no other instance can open, and no
    /// restart of this one.
    pub fn random() -> CookieKeys {
        let mut key = [0u8; 32];
        koppeltaal_host::random::os_rng().fill_bytes(&mut key);
        CookieKeys {
            current: key,
            previous: None,
        }
    }

    /// `plaintext` sealed for `purpose`, as base64url text (cookie-safe).
    pub fn seal(&self, purpose: &[u8], plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE];
        koppeltaal_host::random::os_rng().fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(&self.current.into());
        let mut sealed = Vec::with_capacity(1 + NONCE + plaintext.len() + TAG);
        sealed.push(FORMAT);
        sealed.extend_from_slice(&nonce);
        let start = sealed.len();
        sealed.extend_from_slice(plaintext);
        let tag = cipher
            .encrypt_inout_detached(&nonce.into(), &aad(purpose), (&mut sealed[start..]).into())
            .expect("AES-GCM seals any length below 64 GiB");
        sealed.extend_from_slice(&tag);
        Base64UrlUnpadded::encode_string(&sealed)
    }

    /// What `sealed` holds, if one of the keys sealed it for `purpose`; `None` for anything
    /// else (altered, another key, another purpose, too long, not base64url).
    pub fn open(&self, purpose: &[u8], sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > MAX_SEALED {
            return None;
        }
        let bytes = Base64UrlUnpadded::decode_vec(sealed).ok()?;
        if bytes.len() < 1 + NONCE + TAG || bytes[0] != FORMAT {
            return None;
        }
        let nonce: [u8; NONCE] = bytes[1..1 + NONCE].try_into().ok()?;
        let (body, tag) = bytes[1 + NONCE..].split_at(bytes.len() - 1 - NONCE - TAG);
        let tag = aes_gcm::Tag::try_from(tag).ok()?;
        for key in std::iter::once(&self.current).chain(self.previous.as_ref()) {
            let mut buffer = body.to_vec();
            let cipher = Aes256Gcm::new(&(*key).into());
            if cipher
                .decrypt_inout_detached(
                    &nonce.into(),
                    &aad(purpose),
                    (&mut buffer[..]).into(),
                    &tag,
                )
                .is_ok()
            {
                return Some(buffer);
            }
        }
        None
    }
}

fn aad(purpose: &[u8]) -> Vec<u8> {
    let mut aad = b"koppeltaal-gateway/".to_vec();
    aad.extend_from_slice(purpose);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_unaltered_and_under_their_keys() {
        let keys = CookieKeys::random();
        let sealed = keys.seal(b"p", b"secret");
        assert_eq!(keys.open(b"p", &sealed).as_deref(), Some(&b"secret"[..]));
        assert_ne!(
            sealed,
            keys.seal(b"p", b"secret"),
            "a fresh nonce each time"
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            keys.open(b"p", std::str::from_utf8(&altered).unwrap()),
            None
        );
        assert_eq!(CookieKeys::random().open(b"p", &sealed), None);
        for junk in ["", "!!!", "AAAA", &"A".repeat(5000)] {
            assert_eq!(keys.open(b"p", junk), None);
        }
        assert!(CookieKeys::from_secrets(b"short", None).is_err());
        assert!(CookieKeys::from_secrets(&[7; 32], Some(b"short")).is_err());
    }
}
