//! Finding where a JSON string's run of plain bytes stops, a machine word at a time.
//!
//! Hand-written SWAR (one `usize` of bytes per step: eight on a server, four on a device; no
//! `unsafe`). The strings of a token are mostly a few bytes to a few dozen long, where
//! `memchr`'s vector code spends more on its dispatch than on the search, and it cannot look
//! for control bytes at the same time (`count_verify` under callgrind).

const WORD: usize = core::mem::size_of::<usize>();
const ONES: usize = usize::MAX / 0xFF;
const LOW_SEVEN: usize = ONES * 0x7F;

/// Bit 7 of each byte of `word` that is zero, and no other bit (exact: no borrow between
/// bytes, unlike the shorter `(x - ONES) & !x` test).
const fn zero_bytes(word: usize) -> usize {
    !(((word & LOW_SEVEN) + LOW_SEVEN) | word | LOW_SEVEN)
}

/// Bit 7 of each byte of `word` equal to `byte`.
const fn bytes_equal(word: usize, byte: u8) -> usize {
    zero_bytes(word ^ (ONES * byte as usize))
}

/// The index of the first byte of `bytes` that ends a string's run of plain bytes: `"`, `\`
/// or a control byte (below 0x20, which RFC 8259 does not allow in a string).
///
/// ```text
/// abc"def   Some(3)
/// a\"b      Some(1)
/// ab<TAB>c  Some(2)
/// abc       None
/// ```
pub(crate) fn string_stop(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(WORD);
    let mut offset = 0;
    for chunk in &mut words {
        let mut word = [0u8; WORD];
        word.copy_from_slice(chunk);
        let word = usize::from_le_bytes(word);
        let found =
            bytes_equal(word, b'"') | bytes_equal(word, b'\\') | zero_bytes(word & (ONES * 0xE0));
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += WORD;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|byte| is_stop(*byte))
        .map(|index| offset + index)
}

const fn is_stop(byte: u8) -> bool {
    matches!(byte, b'"' | b'\\' | 0x00..=0x1F)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    #[test]
    fn finds_the_first_of_either() {
        assert_eq!(string_stop(b"abc\"def"), Some(3));
        assert_eq!(string_stop(b"a\\\"b"), Some(1));
        assert_eq!(string_stop(b"abcdefgh\"ijk"), Some(8));
        assert_eq!(string_stop(b"abcdefghijklmno\\"), Some(15));
        assert_eq!(string_stop(b"abcdefghijklmnop"), None);
        assert_eq!(string_stop(b""), None);
        // Bytes next to the targets (0x20, 0x21, 0x5B, 0x5D, 0xA2, 0xDC, 0xFF) are not them.
        assert_eq!(string_stop(b" !#[]\xA2\xDC\xFF !#[]\xE0\x7F"), None);
        assert_eq!(string_stop(b"abcdefgh\x1F"), Some(8));
        assert_eq!(string_stop(b"ab\x00"), Some(2));
        assert_eq!(string_stop(b"abcdefghijkl\tmnop"), Some(12));
    }

    proptest! {
        /// The same answer as a byte-by-byte search, on bytes dense in targets and near misses.
        #[test]
        fn agrees_with_a_byte_loop(bytes in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), Just(b'!'), Just(b'#'), Just(b']'),
                        Just(0x1Fu8), Just(0x20u8), Just(0u8), Just(0xE0u8),
                        Just(0xA2u8), Just(0xDCu8), any::<u8>()], 0..40)) {
            let expected = bytes.iter().position(|byte| matches!(byte, b'"' | b'\\' | 0..=0x1F));
            prop_assert_eq!(string_stop(&bytes), expected);
        }
    }
}
