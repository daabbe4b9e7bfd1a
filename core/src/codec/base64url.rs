//! Canonical unpadded base64url (RFC 7515 §2), the only encoding a compact JWS may use.
//!
//! Decoding is hand-written and table-driven rather than `base64ct`'s: everything decoded here
//! is public (a token, a JWKS), so `base64ct`'s constant-time arithmetic buys nothing, and it
//! cost 21 k of the 47 k instructions of parsing a launch (callgrind, `count_parse` in the
//! benches). The decoder is tested against `base64ct` on arbitrary input (`tests` below) and
//! fuzzed through every token-parsing target. Encoding stays with `base64ct` (`write.rs`).

use crate::error::{Error, Part};

/// Marks a byte outside the base64url alphabet; its top bits are set, no 6-bit value's are.
const INVALID: u8 = 0xFF;

/// The 6-bit value of each base64url character, [`INVALID`] for every other byte.
static VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = 52 + digit as u8;
        digit += 1;
    }
    table[b'-' as usize] = 62;
    table[b'_' as usize] = 63;
    table
};

/// [`VALUES`] placed where each character of a quad puts its 6 bits in the quad's 24 (first
/// character highest), so that a quad decodes with three ORs. A byte outside the alphabet is
/// `0xFF00_0000` in every position: the OR of a quad has a top byte only if one is bad.
/// 4 KiB in all; a third fewer instructions than shifting each value (`count_verify`).
static PLACED: [[u32; 256]; 4] = {
    let mut tables = [[0xFF00_0000u32; 256]; 4];
    let mut byte = 0;
    while byte < 256 {
        let value = VALUES[byte];
        if value != INVALID {
            let mut position = 0;
            while position < 4 {
                tables[position][byte] = (value as u32) << (18 - 6 * position);
                position += 1;
            }
        }
        byte += 1;
    }
    tables
};

/// The 24 bits of four characters, or `Err(())` when one is outside the alphabet.
fn quad_bits(quad: &[u8]) -> Result<u32, ()> {
    let &[a, b, c, d] = quad else {
        return Err(());
    };
    let [a, b, c, d] = [a, b, c, d].map(usize::from);
    let bits = PLACED[0][a] | PLACED[1][b] | PLACED[2][c] | PLACED[3][d];
    match bits >> 24 {
        0 => Ok(bits),
        _ => Err(()),
    }
}

/// On 64-bit targets, decodes eight characters (six bytes) a step while whole steps remain and
/// returns what is left of both; elsewhere (a 32-bit device) leaves everything to the quads,
/// where a 64-bit shift costs more than it saves.
fn decode_octets<'e, 'o>(
    encoded: &'e [u8],
    out: &'o mut [u8],
) -> Result<(&'e [u8], &'o mut [u8]), ()> {
    if cfg!(not(target_pointer_width = "64")) {
        return Ok((encoded, out));
    }
    let mut octets = encoded.chunks_exact(8);
    let mut sextets = out.chunks_exact_mut(6);
    for (octet, sextet) in (&mut octets).zip(&mut sextets) {
        let (high, low) = octet.split_at(4);
        let bits = u64::from(quad_bits(high)?) << 24 | u64::from(quad_bits(low)?);
        sextet.copy_from_slice(&bits.to_be_bytes()[2..]);
    }
    Ok((octets.remainder(), sextets.into_remainder()))
}

/// Decodes `encoded` into `out`, which is exactly `decoded_len(encoded.len())` bytes long.
/// `Err(())` for a byte outside the alphabet or non-zero bits after the last whole byte.
fn decode_exact(encoded: &[u8], out: &mut [u8]) -> Result<(), ()> {
    let (encoded, out) = decode_octets(encoded, out)?;
    let mut quads = encoded.chunks_exact(4);
    let mut triples = out.chunks_exact_mut(3);
    for (quad, triple) in (&mut quads).zip(&mut triples) {
        triple.copy_from_slice(&quad_bits(quad)?.to_be_bytes()[1..]);
    }
    let (encoded, out) = (quads.remainder(), triples.into_remainder());
    let value = |byte: u8| VALUES[usize::from(byte)];
    match (encoded, out) {
        ([], []) => Ok(()),
        // Two characters carry one byte and 4 bits that must be zero.
        (&[a, b], [first]) => {
            let (a, b) = (value(a), value(b));
            if (a | b) & 0xC0 != 0 || b & 0x0F != 0 {
                return Err(());
            }
            *first = a << 2 | b >> 4;
            Ok(())
        }
        // Three characters carry two bytes and 2 bits that must be zero.
        (&[a, b, c], [first, second]) => {
            let (a, b, c) = (value(a), value(b), value(c));
            if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 {
                return Err(());
            }
            *first = a << 2 | b >> 4;
            *second = b << 4 | c >> 2;
            Ok(())
        }
        _ => Err(()),
    }
}

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
/// Refuses padding, bytes outside the base64url alphabet and non-zero trailing bits (so
/// exactly one encoding of each byte string is accepted). An `out` too
/// small for the decoded bytes is [`Error::TokenTooLarge`]: buffers are sized from the
/// configured maximum token length.
pub(crate) fn decode<'o>(part: Part, encoded: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    let len = decoded_len(encoded.len()).ok_or(Error::InvalidBase64(part))?;
    let out = out.get_mut(..len).ok_or(Error::TokenTooLarge)?;
    decode_exact(encoded, out).map_err(|()| Error::InvalidBase64(part))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Strings mostly from the alphabet (so most decode), with stray bytes, `=` and odd lengths.
    fn near_base64url() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            20 => proptest::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
            ),
            1 => any::<u8>(),
            1 => Just(b'='),
        ];
        proptest::collection::vec(byte, 0..96)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Same verdict and bytes as `base64ct`'s (constant-time, canonical) decoder.
        #[test]
        fn agrees_with_base64ct(encoded in near_base64url()) {
            let mut ours = [0u8; 96];
            let mut theirs = [0u8; 96];
            let our_result = decode(Part::Payload, &encoded, &mut ours).map(<[u8]>::to_vec);
            let their_result = Base64UrlUnpadded::decode(&encoded, &mut theirs)
                .map(<[u8]>::to_vec)
                .map_err(|_| Error::InvalidBase64(Part::Payload));
            prop_assert_eq!(our_result, their_result);
        }

        /// Every byte string round-trips through `base64ct`'s encoder and our decoder.
        #[test]
        fn decodes_what_base64ct_encodes(bytes in proptest::collection::vec(any::<u8>(), 0..72)) {
            let encoded = Base64UrlUnpadded::encode_string(&bytes);
            let mut out = [0u8; 72];
            prop_assert_eq!(decode(Part::Payload, encoded.as_bytes(), &mut out), Ok(&bytes[..]));
        }
    }

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
