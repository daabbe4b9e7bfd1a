//! Limbs: the machine word, and the word-level helpers every kernel shares.

#[cfg(target_pointer_width = "64")]
mod word {
    /// A limb: the machine word.
    pub type Word = u64;
    /// Twice a limb, for products.
    pub type Wide = u128;
}

#[cfg(not(target_pointer_width = "64"))]
mod word {
    /// A limb: the machine word.
    pub type Word = u32;
    /// Twice a limb, for products.
    pub type Wide = u64;
}

pub use word::{Wide, Word};

/// Bits per limb.
pub const WORD_BITS: usize = Word::BITS as usize;
/// Bytes per limb.
pub const WORD_BYTES: usize = WORD_BITS / 8;
/// Limbs of the largest modulus RSA uses here (4096 bits).
pub const MAX_WORDS: usize = 4096 / WORD_BITS;

/// `acc + a·b + carry`, as (low, high). Cannot overflow: (2^w-1)² + 2(2^w-1) = 2^2w - 1.
#[inline(always)]
#[cfg_attr(
    all(target_arch = "arm", feature = "umaal", not(feature = "std")),
    allow(dead_code)
)]
pub(crate) fn mac(acc: Word, a: Word, b: Word, carry: Word) -> (Word, Word) {
    let wide = Wide::from(acc) + Wide::from(a) * Wide::from(b) + Wide::from(carry);
    (wide as Word, (wide >> WORD_BITS) as Word)
}

/// `a + b + carry`, as (sum, carry).
#[inline(always)]
pub(crate) fn adc(a: Word, b: Word, carry: Word) -> (Word, Word) {
    let wide = Wide::from(a) + Wide::from(b) + Wide::from(carry);
    (wide as Word, (wide >> WORD_BITS) as Word)
}

/// `a - b - borrow`, as (difference, borrow).
#[inline(always)]
pub(crate) fn sbb(a: Word, b: Word, borrow: Word) -> (Word, Word) {
    let wide = Wide::from(a).wrapping_sub(Wide::from(b) + Wide::from(borrow));
    (wide as Word, ((wide >> WORD_BITS) as Word) & 1)
}

/// `a >= b`, for numbers of the same length.
///
/// ```
/// assert!(koppeltaal_kernel::ge(&[0, 2], &[5, 1]));
/// assert!(!koppeltaal_kernel::ge(&[5, 1], &[0, 2]));
/// ```
pub fn ge(a: &[Word], b: &[Word]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b`, returning the borrow out.
pub(crate) fn sub_assign(a: &mut [Word], b: &[Word]) -> Word {
    let mut borrow = 0;
    for (x, y) in a.iter_mut().zip(b) {
        (*x, borrow) = sbb(*x, *y, borrow);
    }
    borrow
}

/// `-n⁻¹ mod 2^w` for odd `n0`, by Newton iteration (each step doubles the correct bits; an odd
/// number is its own inverse modulo 8, so three bits are right from the start).
pub(crate) fn neg_inverse(n0: Word) -> Word {
    let mut inverse = n0;
    for _ in 0..5 {
        inverse = inverse.wrapping_mul((2 as Word).wrapping_sub(n0.wrapping_mul(inverse)));
    }
    inverse.wrapping_neg()
}

/// Reads big-endian `bytes` into little-endian limbs `out`; limbs above the input are zeroed,
/// bytes that do not fit are ignored.
///
/// ```
/// let mut limbs = [0; 2];
/// koppeltaal_kernel::from_be_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 2], &mut limbs);
/// # #[cfg(target_pointer_width = "64")]
/// assert_eq!(limbs, [2, 1]);
/// ```
pub fn from_be_bytes(bytes: &[u8], out: &mut [Word]) {
    out.fill(0);
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks(WORD_BYTES)) {
        *limb = chunk
            .iter()
            .fold(0 as Word, |acc, byte| (acc << 8) | Word::from(*byte));
    }
}

/// Writes the low `out.len()` bytes of the number in `limbs`, big-endian (zeros above it).
pub fn to_be_bytes(limbs: &[Word], out: &mut [u8]) {
    for (index, byte) in out.iter_mut().rev().enumerate() {
        *byte = limbs
            .get(index / WORD_BYTES)
            .map_or(0, |limb| (limb >> (8 * (index % WORD_BYTES))) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neg_inverse_is_an_inverse() {
        for n0 in [1 as Word, 3, 5, 0xffff, Word::MAX, 0x1234_5677] {
            assert_eq!(n0.wrapping_mul(neg_inverse(n0)), Word::MAX, "{n0:#x}");
        }
    }

    #[test]
    fn bytes_round_trip() {
        let bytes: [u8; 19] = core::array::from_fn(|i| i as u8 + 1);
        let mut limbs = [0 as Word; 24 / WORD_BYTES];
        from_be_bytes(&bytes, &mut limbs);
        let mut back = [0u8; 19];
        to_be_bytes(&limbs, &mut back);
        assert_eq!(back, bytes);
    }
}
