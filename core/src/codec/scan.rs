//! Finding the end of a JSON string's run of plain bytes, eight bytes at a time.
//!
//! Hand-written SWAR (one `u64` of bytes per step, no `unsafe`, the same on every target):
//! the strings of a token are mostly a few bytes to a few dozen long, where `memchr`'s vector
//! code spends more on its dispatch than on the search (`count_verify` under callgrind).

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW_SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// Bit 7 of each byte of `word` that is zero, and no other bit (exact: no borrow between
/// bytes, unlike the shorter `(x - ONES) & !x` test).
const fn zero_bytes(word: u64) -> u64 {
    !(((word & LOW_SEVEN) + LOW_SEVEN) | word | LOW_SEVEN)
}

/// Bit 7 of each byte of `word` equal to `byte`.
const fn bytes_equal(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (ONES * byte as u64))
}

/// The index of the first `"` or `\` in `bytes`.
///
/// ```text
/// abc"def   Some(3)
/// a\"b      Some(1)
/// abc       None
/// ```
pub(crate) fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let found = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|byte| matches!(byte, b'"' | b'\\'))
        .map(|index| offset + index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_first_of_either() {
        assert_eq!(quote_or_backslash(b"abc\"def"), Some(3));
        assert_eq!(quote_or_backslash(b"a\\\"b"), Some(1));
        assert_eq!(quote_or_backslash(b"abcdefgh\"ijk"), Some(8));
        assert_eq!(quote_or_backslash(b"abcdefghijklmno\\"), Some(15));
        assert_eq!(quote_or_backslash(b"abcdefghijklmnop"), None);
        assert_eq!(quote_or_backslash(b""), None);
        // Bytes next to the targets (0x21, 0x5B, 0x5D, 0xA2, 0xDC) and 0x00/0xFF are not them.
        assert_eq!(quote_or_backslash(b"!#[]\xA2\xDC\x00\xFF!#[]"), None);
    }

    proptest! {
        /// The same answer as a byte-by-byte search, on bytes dense in near misses.
        #[test]
        fn agrees_with_a_byte_loop(bytes in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), Just(b'!'), Just(b'#'), Just(b']'),
                        Just(0xA2u8), Just(0xDCu8), any::<u8>()], 0..40)) {
            let expected = bytes.iter().position(|byte| *byte == b'"' || *byte == b'\\');
            prop_assert_eq!(quote_or_backslash(&bytes), expected);
        }
    }
}
