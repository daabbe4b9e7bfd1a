//! Canonical unpadded base64url (RFC 7515 §2), the only encoding a compact JWS may use.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{Error, Part};

/// The exact number of bytes `encoded_len` base64url characters decode to, or `None` for a
/// length no canonical unpadded encoding has (one character too many for a whole byte).
pub(crate) const fn decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        rest => Some(encoded_len / 4 * 3 + rest.saturating_sub(1)),
    }
}

/// Decodes `encoded` into the front of `out`, returning the decoded bytes.
///
/// Refuses padding, bytes outside the base64url alphabet and non-zero trailing bits
/// (`base64ct` re-encodes the last block to check the encoding is canonical). An `out` too
/// small for the decoded bytes is [`Error::TokenTooLarge`]: buffers are sized from the
/// configured maximum token length.
pub(crate) fn decode<'o>(part: Part, encoded: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    let len = decoded_len(encoded.len()).ok_or(Error::InvalidBase64(part))?;
    let out = out.get_mut(..len).ok_or(Error::TokenTooLarge)?;
    Base64UrlUnpadded::decode(encoded, out).map_err(|_| Error::InvalidBase64(part))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_vec(encoded: &str) -> Result<([u8; 64], usize), Error> {
        let mut buf = [0u8; 64];
        let len = decode(Part::Payload, encoded.as_bytes(), &mut buf)?.len();
        Ok((buf, len))
    }

    #[test]
    fn decodes_canonical_input() {
        let (buf, len) = decode_vec("eyJhIjoxfQ").unwrap();
        assert_eq!(&buf[..len], br#"{"a":1}"#);
        assert_eq!(decode_vec("").unwrap().1, 0);
    }

    #[test]
    fn refuses_padding_alphabet_and_trailing_bits() {
        let bad = Err(Error::InvalidBase64(Part::Payload));
        assert_eq!(decode_vec("eyJhIjoxfQ==").map(|r| r.1), bad, "padding");
        assert_eq!(
            decode_vec("eyJhIjoxfQ+/").map(|r| r.1),
            bad,
            "standard alphabet"
        );
        assert_eq!(decode_vec("eyJh Ijox").map(|r| r.1), bad, "whitespace");
        assert_eq!(
            decode_vec("eyJhIjoxfR").map(|r| r.1),
            bad,
            "non-zero trailing bits"
        );
        assert_eq!(decode_vec("eyJhI").map(|r| r.1), bad, "impossible length");
    }

    #[test]
    fn small_buffer_is_too_large_not_a_panic() {
        let mut buf = [0u8; 4];
        assert_eq!(
            decode(Part::Payload, b"eyJhIjoxfQ", &mut buf),
            Err(Error::TokenTooLarge)
        );
    }

    #[test]
    fn decoded_len_matches_rfc4648_arithmetic() {
        assert_eq!(decoded_len(0), Some(0));
        assert_eq!(decoded_len(2), Some(1));
        assert_eq!(decoded_len(3), Some(2));
        assert_eq!(decoded_len(4), Some(3));
        assert_eq!(decoded_len(5), None);
        assert_eq!(decoded_len(683), Some(512));
    }
}
