//! An encrypted launch (HTI:jwe): a JWE in compact serialization (RFC 7516 §7.1) whose content
//! is the signed launch.

use heapless::String;
use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::capacity;
use crate::codec::base64url;
use crate::codec::json::{self, Members, Value};
use crate::decrypt::content;
use crate::decrypt::key_unwrapper::KeyUnwrapper;
use crate::error::{Error, Part};
use crate::jose::jwe_algorithm::{ContentEncryption, KeyManagement};

/// The longest encrypted content key read: an RSA-4096 ciphertext.
const MAX_ENCRYPTED_KEY_LEN: usize = 512;
/// The longest protected header decoded, in bytes.
const MAX_HEADER_LEN: usize = 1024;

/// The checked protected header of an encrypted token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JweHeader {
    alg: KeyManagement,
    enc: ContentEncryption,
    kid: Option<String<{ capacity::KEY_ID }>>,
}

impl JweHeader {
    /// `alg`: how the content key is wrapped.
    pub fn key_management(&self) -> KeyManagement {
        self.alg
    }

    /// `enc`: how the content is encrypted.
    pub fn content_encryption(&self) -> ContentEncryption {
        self.enc
    }

    /// `kid`: the recipient key, when the sender named it.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Parses and checks a decoded protected header, in this order: JSON and member types;
    /// `alg` present, not `RSA1_5` or `dir`, implemented; no `crit`; no `jwk`, `jku`, `x5u`
    /// or `x5c`; no `zip`; `enc` present and implemented; `cty` is `JWT` (the content is a
    /// signed token); `typ` absent, `JWT` or `JOSE`.
    fn parse(json: &[u8]) -> Result<JweHeader, Error> {
        let mut record = JweHeaderRecord::default();
        let seen = json::parse_object(json, Part::Header, json::MAX_MEMBERS, &mut record)?;
        let has = |index: usize| seen & (1 << index) != 0;
        let alg = record.alg.ok_or(Error::MissingAlgorithm)??;
        if has(CRIT) {
            return Err(Error::UnsupportedCritical);
        }
        if [JWK, JKU, X5U, X5C].into_iter().any(has) {
            return Err(Error::EmbeddedKey);
        }
        if has(ZIP) {
            return Err(Error::CompressedContent);
        }
        let enc = record.enc.ok_or(Error::UnsupportedContentEncryption)??;
        if !has(CTY) || !record.cty.eq_ignore_ascii_case("JWT") {
            return Err(Error::UnexpectedContentType);
        }
        if has(TYP)
            && !["JWT", "JOSE"]
                .iter()
                .any(|t| record.typ.eq_ignore_ascii_case(t))
        {
            return Err(Error::UnexpectedType);
        }
        Ok(JweHeader {
            alg,
            enc,
            kid: has(KID).then_some(record.kid),
        })
    }
}

const KID: usize = 2;
const CTY: usize = 3;
const TYP: usize = 4;
const ZIP: usize = 5;
const CRIT: usize = 6;
const JWK: usize = 7;
const JKU: usize = 8;
const X5U: usize = 9;
const X5C: usize = 10;

#[derive(Default)]
struct JweHeaderRecord {
    alg: Option<Result<KeyManagement, Error>>,
    enc: Option<Result<ContentEncryption, Error>>,
    kid: String<{ capacity::KEY_ID }>,
    cty: String<{ capacity::TYPE }>,
    typ: String<{ capacity::TYPE }>,
}

impl<'de> Members<'de> for JweHeaderRecord {
    const NAMES: &'static [&'static str] = &[
        "alg", "enc", "kid", "cty", "typ", "zip", "crit", "jwk", "jku", "x5u", "x5c",
    ];

    fn member(&mut self, index: usize, value: Value<'_, 'de>) -> Result<(), Error> {
        match index {
            0 | 1 => {
                let raw = value.borrowed_str()?;
                // Longer than any algorithm name: cannot be one.
                let mut name = String::<16>::new();
                let known = matches!(raw.unescape_into(&mut name), Ok(true));
                if index == 0 {
                    self.alg = Some(match known {
                        true => KeyManagement::from_jose(&name),
                        false => Err(Error::UnsupportedKeyManagement),
                    });
                } else {
                    self.enc = Some(match known {
                        true => ContentEncryption::from_jose(&name),
                        false => Err(Error::UnsupportedContentEncryption),
                    });
                }
                Ok(())
            }
            KID => value.text(&mut self.kid),
            CTY => value.text(&mut self.cty),
            TYP => value.text(&mut self.typ),
            _ => value.skip(),
        }
    }
}

/// An encrypted token, split and its protected header checked; the other four segments are
/// still encoded, borrowed from the token.
///
/// ```
/// use koppeltaal_core::{Error, Jwe};
/// let mut scratch = [0u8; 1024];
/// // RSA1_5 is refused by design (a padding oracle), before anything is decrypted.
/// let token = b"eyJhbGciOiJSU0ExXzUiLCJlbmMiOiJBMTI4R0NNIiwiY3R5IjoiSldUIn0.a.b.c.d";
/// assert_eq!(Jwe::parse(token, 16_384, &mut scratch).err(), Some(Error::ForbiddenKeyManagement));
/// ```
#[derive(Debug)]
pub struct Jwe<'t> {
    header: JweHeader,
    /// The encoded protected header: the additional authenticated data.
    protected: &'t [u8],
    encrypted_key: &'t [u8],
    iv: &'t [u8],
    ciphertext: &'t [u8],
    tag: &'t [u8],
}

impl<'t> Jwe<'t> {
    /// Splits `token` (five segments, at most `max_len` bytes) and checks its protected
    /// header (see [`JweHeader`]'s checks), decoding it into `scratch` (1 KiB suffices).
    pub fn parse(token: &'t [u8], max_len: usize, scratch: &mut [u8]) -> Result<Jwe<'t>, Error> {
        if token.len() > max_len {
            return Err(Error::TokenTooLarge);
        }
        let mut segments = token.split(|byte| *byte == b'.');
        let mut next = || segments.next();
        let parts = [next(), next(), next(), next(), next(), next()];
        let [
            Some(protected),
            Some(encrypted_key),
            Some(iv),
            Some(ciphertext),
            Some(tag),
            None,
        ] = parts
        else {
            return Err(Error::MalformedToken);
        };
        if [protected, encrypted_key, iv, ciphertext, tag]
            .iter()
            .any(|segment| segment.is_empty())
        {
            return Err(Error::MalformedToken);
        }
        let limit = scratch.len().min(MAX_HEADER_LEN);
        let header = base64url::decode(Part::Header, protected, &mut scratch[..limit])?;
        Ok(Jwe {
            header: JweHeader::parse(header)?,
            protected,
            encrypted_key,
            iv,
            ciphertext,
            tag,
        })
    }

    /// The checked protected header.
    pub fn header(&self) -> &JweHeader {
        &self.header
    }

    /// How many bytes [`decrypt`](Self::decrypt) needs in its buffer: the decoded ciphertext.
    pub fn ciphertext_len(&self) -> usize {
        base64url::decoded_len(self.ciphertext.len()).unwrap_or(usize::MAX)
    }

    /// Decrypts the content into `out` with one of `keys`, and returns it: the signed token
    /// inside, which the caller then verifies exactly as a plain launch.
    ///
    /// The header's `kid`, when present, selects the keys to try ([`Error::UnknownDecryptionKey`]
    /// when none has it); without one, every key that supports the header's `alg` is tried, in
    /// order. A key that fails to unwrap goes on with a random content key, so that the failure
    /// surfaces at the tag check on the same path (RFC 7516 §11.5). Every failure of the
    /// decryption itself, whatever its cause, is [`Error::DecryptionFailed`]. Content that
    /// decrypts but is not a compact JWS (three base64url segments: not a JWE inside a JWE, not
    /// bare JSON) is
    /// [`Error::NotSignedInside`].
    pub fn decrypt<'o>(
        &self,
        keys: &[&dyn KeyUnwrapper],
        rng: &mut dyn CryptoRng,
        out: &'o mut [u8],
    ) -> Result<&'o [u8], Error> {
        let header = &self.header;
        let wanted = |key: &&dyn KeyUnwrapper| {
            key.supports(header.alg)
                && header
                    .kid
                    .as_deref()
                    .is_none_or(|kid| key.key_id() == Some(kid))
        };
        if !keys.iter().any(wanted) {
            return Err(Error::UnknownDecryptionKey);
        }
        let enc = header.enc;
        let mut encrypted_key = [0u8; MAX_ENCRYPTED_KEY_LEN];
        let mut iv = [0u8; 16];
        let mut tag = [0u8; 32];
        let encrypted_key =
            base64url::decode(Part::EncryptedKey, self.encrypted_key, &mut encrypted_key)
                .map_err(segment_error(Part::EncryptedKey))?;
        let iv = base64url::decode(Part::InitializationVector, self.iv, &mut iv)
            .map_err(segment_error(Part::InitializationVector))?;
        let tag = base64url::decode(Part::AuthenticationTag, self.tag, &mut tag)
            .map_err(segment_error(Part::AuthenticationTag))?;
        let ciphertext_len = self.ciphertext_len();
        if ciphertext_len > out.len() {
            return Err(Error::TokenTooLarge);
        }
        let decoded = base64url::decode(Part::Ciphertext, self.ciphertext, out)
            .map_err(segment_error(Part::Ciphertext))?
            .len();
        let mut key = [0u8; ContentEncryption::MAX_KEY_LEN];
        let key = &mut key[..enc.key_len()];
        let mut outcome = Err(Error::DecryptionFailed);
        for unwrapper in keys.iter().filter(|key| wanted(key)) {
            if unwrapper
                .unwrap_key(header.alg, encrypted_key, key, rng)
                .is_err()
            {
                rng.fill_bytes(key);
            }
            // The ciphertext stays in place unless the tag verifies, so the next key can try.
            outcome = content::decrypt(enc, key, self.protected, iv, tag, &mut out[..decoded]);
            if outcome.is_ok() {
                break;
            }
        }
        key.zeroize();
        let len = outcome.map_err(|_| Error::DecryptionFailed)?;
        let plaintext = &out[..len];
        if !is_compact_jws(plaintext) {
            return Err(Error::NotSignedInside);
        }
        Ok(plaintext)
    }
}

/// Whether `token` has the shape of a compact JWS: three segments of the base64url alphabet.
pub(crate) fn is_compact_jws(token: &[u8]) -> bool {
    token
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        && token.iter().filter(|byte| **byte == b'.').count() == 2
}

/// Base64url faults in the four encoded segments are reported as what they are; a segment
/// that decodes but is too long for its algorithm is a decryption failure like any other.
fn segment_error(part: Part) -> impl Fn(Error) -> Error {
    move |error| match error {
        Error::TokenTooLarge => Error::DecryptionFailed,
        Error::InvalidBase64(_) => Error::InvalidBase64(part),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> Result<JweHeader, Error> {
        JweHeader::parse(json.as_bytes())
    }

    #[test]
    fn accepts_what_portals_send_and_what_is_reasonable() {
        let portal = header(r#"{"alg":"RSA-OAEP","enc":"A128CBC-HS256","cty":"JWT"}"#).unwrap();
        assert_eq!(portal.key_management(), KeyManagement::RsaOaep);
        assert_eq!(portal.content_encryption(), ContentEncryption::A128CbcHs256);
        assert_eq!(portal.key_id(), None);
        let named =
            header(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"jwt","kid":"m1","typ":"JOSE"}"#)
                .unwrap();
        assert_eq!(named.key_id(), Some("m1"));
    }

    #[test]
    fn refuses_each_header_fault_specifically() {
        let cases: &[(&str, Error)] = &[
            (r#"{"enc":"A128GCM","cty":"JWT"}"#, Error::MissingAlgorithm),
            (
                r#"{"alg":"RSA1_5","enc":"A128GCM","cty":"JWT"}"#,
                Error::ForbiddenKeyManagement,
            ),
            (
                r#"{"alg":"dir","enc":"A128GCM","cty":"JWT"}"#,
                Error::ForbiddenKeyManagement,
            ),
            (
                r#"{"alg":"ECDH-ES","enc":"A128GCM","cty":"JWT"}"#,
                Error::UnsupportedKeyManagement,
            ),
            (
                r#"{"alg":"RS512","enc":"A128GCM","cty":"JWT"}"#,
                Error::UnsupportedKeyManagement,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","crit":["x"]}"#,
                Error::UnsupportedCritical,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","jwk":{}}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","jku":"https://e"}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","x5u":"https://e"}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","x5c":[]}"#,
                Error::EmbeddedKey,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","zip":"DEF"}"#,
                Error::CompressedContent,
            ),
            (
                r#"{"alg":"RSA-OAEP","cty":"JWT"}"#,
                Error::UnsupportedContentEncryption,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128KW","cty":"JWT"}"#,
                Error::UnsupportedContentEncryption,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM"}"#,
                Error::UnexpectedContentType,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"json"}"#,
                Error::UnexpectedContentType,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","typ":"at+jwt"}"#,
                Error::UnexpectedType,
            ),
            (
                r#"{"alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT","kid":5}"#,
                Error::InvalidMemberType("kid"),
            ),
            (
                r#"{"alg":"RSA-OAEP","alg":"RSA-OAEP","enc":"A128GCM","cty":"JWT"}"#,
                Error::DuplicateMember("alg"),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(header(json).as_ref().err(), Some(expected), "{json}");
        }
    }

    #[test]
    fn splits_five_nonempty_segments() {
        let mut scratch = [0u8; 1024];
        let good = b"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00iLCJjdHkiOiJKV1QifQ.a.b.c.d";
        assert!(Jwe::parse(good, 1000, &mut scratch).is_ok());
        assert_eq!(
            Jwe::parse(b"a.b.c", 1000, &mut scratch).err(),
            Some(Error::MalformedToken)
        );
        assert_eq!(
            Jwe::parse(b"a.b.c.d.e.f", 1000, &mut scratch).err(),
            Some(Error::MalformedToken)
        );
        let empty_key = b"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhHQ00iLCJjdHkiOiJKV1QifQ..b.c.d";
        assert_eq!(
            Jwe::parse(empty_key, 1000, &mut scratch).err(),
            Some(Error::MalformedToken)
        );
        assert_eq!(
            Jwe::parse(good, 20, &mut scratch).err(),
            Some(Error::TokenTooLarge)
        );
    }
}
