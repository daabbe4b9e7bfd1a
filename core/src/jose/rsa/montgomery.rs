//! Fixed-size, variable-time Montgomery arithmetic for RSA public-key operations.
//!
//! Hand-written rather than taken from `crypto-bigint`: measured on the target machine, its
//! `FixedMontyForm<U2048>` square-and-multiply takes ~33 µs for an RSA-2048 verify against ~30 µs
//! for a kernel with a dedicated squaring and a separate reduction, and `ring` takes ~22 µs; the
//! project's speed target (BENCHMARKS.md) needs that margin and more. It also lets a key keep
//! only what verifying needs (`n`, `R² mod n`, `-n⁻¹ mod 2^w`). Every input here is public
//! (modulus, exponent, signature), so variable time is fine.
//!
//! Numbers are little-endian arrays of machine words; `N` is the word count of the size class
//! (2048, 3072 or 4096 bits), and `R = 2^(N·WORD_BITS)`. The code is differential-tested
//! against the `rsa` crate and the Wycheproof vectors.

#[cfg(target_pointer_width = "64")]
mod word {
    /// A limb.
    pub(crate) type Word = u64;
    /// Twice a limb, for products.
    pub(crate) type Wide = u128;
}

#[cfg(not(target_pointer_width = "64"))]
mod word {
    /// A limb.
    pub(crate) type Word = u32;
    /// Twice a limb, for products.
    pub(crate) type Wide = u64;
}

pub(crate) use word::{Wide, Word};

/// Bits per limb.
pub(crate) const WORD_BITS: usize = Word::BITS as usize;
/// Bytes per limb.
pub(crate) const WORD_BYTES: usize = WORD_BITS / 8;
/// Limbs of the largest supported modulus (4096 bits).
pub(crate) const MAX_WORDS: usize = 4096 / WORD_BITS;

/// `acc + a·b + carry`, as (low, high). Cannot overflow: (2^w-1)² + 2(2^w-1) = 2^2w - 1.
#[inline(always)]
fn mac(acc: Word, a: Word, b: Word, carry: Word) -> (Word, Word) {
    let wide = Wide::from(acc) + Wide::from(a) * Wide::from(b) + Wide::from(carry);
    (wide as Word, (wide >> WORD_BITS) as Word)
}

/// `a + b + carry`, as (sum, carry).
#[inline(always)]
fn adc(a: Word, b: Word, carry: Word) -> (Word, Word) {
    let wide = Wide::from(a) + Wide::from(b) + Wide::from(carry);
    (wide as Word, (wide >> WORD_BITS) as Word)
}

/// `a - b - borrow`, as (difference, borrow).
#[inline(always)]
fn sbb(a: Word, b: Word, borrow: Word) -> (Word, Word) {
    let wide = Wide::from(a).wrapping_sub(Wide::from(b) + Wide::from(borrow));
    (wide as Word, ((wide >> WORD_BITS) as Word) & 1)
}

/// `a >= b`.
pub(crate) fn ge(a: &[Word], b: &[Word]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b`, returning the borrow out.
fn sub_assign(a: &mut [Word], b: &[Word]) -> Word {
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

/// A modulus of `N` limbs with its Montgomery constants.
pub(crate) struct Modulus<'k, const N: usize> {
    pub(crate) n: &'k [Word; N],
    pub(crate) n0: Word,
}

impl<const N: usize> Modulus<'_, N> {
    /// `x = 2x mod n`, for `x < n`.
    pub(crate) fn double(&self, x: &mut [Word; N]) {
        let mut carry = 0;
        for limb in x.iter_mut() {
            let top = *limb >> (WORD_BITS - 1);
            *limb = (*limb << 1) | carry;
            carry = top;
        }
        if carry == 1 || ge(x, self.n) {
            sub_assign(x, self.n);
        }
    }

    /// `a = a·b·R⁻¹ mod n` for `a, b < n` (CIOS: coarsely integrated operand scanning).
    pub(crate) fn mul_assign(&self, a: &mut [Word; N], b: &[Word; N]) {
        let n = self.n;
        let mut t = [0 as Word; N];
        let (mut t_n, mut t_n1): (Word, Word);
        t_n = 0;
        for &b_i in b.iter() {
            let mut carry = 0;
            for j in 0..N {
                (t[j], carry) = mac(t[j], a[j], b_i, carry);
            }
            (t_n, t_n1) = adc(t_n, carry, 0);

            let m = t[0].wrapping_mul(self.n0);
            let (_, mut carry) = mac(t[0], m, n[0], 0);
            for j in 1..N {
                (t[j - 1], carry) = mac(t[j], m, n[j], carry);
            }
            let (low, high) = adc(t_n, carry, 0);
            t[N - 1] = low;
            t_n = t_n1 + high;
        }
        if t_n != 0 || ge(&t, n) {
            sub_assign(&mut t, n);
        }
        *a = t;
    }

    /// `a = a²·R⁻¹ mod n` for `a < n`: the half-size product of a squaring into `wide` (2N
    /// limbs, overwritten), then a reduction.
    pub(crate) fn square_assign(&self, a: &mut [Word; N], wide: &mut [Word]) {
        wide.fill(0);
        square_wide(a, wide);
        self.reduce(a, wide);
    }

    /// `out = t·R⁻¹ mod n` for a 2N-limb `t < n·R` (Montgomery reduction); clobbers `t`.
    pub(crate) fn reduce(&self, out: &mut [Word; N], t: &mut [Word]) {
        let n = self.n;
        let mut top_carry = 0;
        for i in 0..N {
            let m = t[i].wrapping_mul(self.n0);
            let mut carry = 0;
            // Add m·n·2^(w·i); the lowest limb becomes zero by construction.
            for (limb, &n_j) in t[i..i + N].iter_mut().zip(n) {
                (*limb, carry) = mac(*limb, m, n_j, carry);
            }
            (t[i + N], top_carry) = adc(t[i + N], carry, top_carry);
        }
        let high = &mut t[N..2 * N];
        if top_carry != 0 || ge(high, n) {
            sub_assign(high, n);
        }
        out.copy_from_slice(high);
    }

    /// `x = x^exponent mod n`, in place, for `x < n` and `exponent >= 1`.
    ///
    /// `r2` holds `R² mod n` on entry and is clobbered (it then holds the base in Montgomery
    /// form); `wide` (2N limbs) is shared by every squaring and the final reduction. The
    /// caller owns both buffers, so a verification needs no more than `x`, `r2` and `wide`:
    /// the least stack a left-to-right square and multiply can take (it matters on a device).
    pub(crate) fn pow_assign(
        &self,
        x: &mut [Word; N],
        exponent: u64,
        r2: &mut [Word; N],
        wide: &mut [Word],
    ) {
        self.mul_assign(x, r2);
        let base = r2;
        *base = *x;
        let top = u64::BITS - 1 - exponent.leading_zeros();
        for bit in (0..top).rev() {
            self.square_assign(x, wide);
            if (exponent >> bit) & 1 == 1 {
                self.mul_assign(x, base);
            }
        }
        // Leave Montgomery form: multiply by 1, i.e. reduce (x, 0).
        wide.fill(0);
        wide[..N].copy_from_slice(x);
        self.reduce(x, wide);
    }

    /// `out = R² mod n`; `bits` is the bit length of `n`, `wide` (2N limbs) is clobbered.
    /// About as costly as one RSA public operation with `e = 65537`.
    pub(crate) fn r_squared(&self, bits: usize, out: &mut [Word; N], wide: &mut [Word]) {
        // R mod n: start from 2^(bits-1) < n and double up to 2^(N·w).
        out.fill(0);
        out[(bits - 1) / WORD_BITS] = 1 << ((bits - 1) % WORD_BITS);
        for _ in bits - 1..N * WORD_BITS {
            self.double(out);
        }
        // `out` is 1 in Montgomery form. Raise 2 to the power E = N·w in Montgomery form by
        // squaring and doubling: the result is 2^E·R = R² mod n.
        let exponent = N * WORD_BITS;
        for bit in (0..usize::BITS - exponent.leading_zeros()).rev() {
            self.square_assign(out, wide);
            if (exponent >> bit) & 1 == 1 {
                self.double(out);
            }
        }
    }
}

/// `t = a²` for a zeroed 2N-limb `t`, computing each cross product once.
fn square_wide<const N: usize>(a: &[Word; N], t: &mut [Word]) {
    // Cross products a[i]·a[j] for i < j land in t[i + j].
    for i in 0..N {
        let a_i = a[i];
        let mut carry = 0;
        for (limb, &a_j) in t[2 * i + 1..i + N].iter_mut().zip(&a[i + 1..]) {
            (*limb, carry) = mac(*limb, a_i, a_j, carry);
        }
        t[i + N] = carry;
    }
    // Double them, then add the squares a[i]² on the diagonal.
    let mut shifted_out = 0;
    for limb in t.iter_mut() {
        let top = *limb >> (WORD_BITS - 1);
        *limb = (*limb << 1) | shifted_out;
        shifted_out = top;
    }
    let mut carry = 0;
    for (pair, &limb) in t.chunks_exact_mut(2).zip(a) {
        let square = Wide::from(limb) * Wide::from(limb);
        let (low, c) = adc(pair[0], square as Word, carry);
        let (high, c) = adc(pair[1], (square >> WORD_BITS) as Word, c);
        pair[0] = low;
        pair[1] = high;
        carry = c;
    }
}

/// Reads big-endian `bytes` into little-endian limbs `out` (which must be large enough);
/// limbs above the input are zeroed.
pub(crate) fn from_be_bytes(bytes: &[u8], out: &mut [Word]) {
    out.fill(0);
    for (index, chunk) in bytes.rchunks(WORD_BYTES).enumerate() {
        let mut limb = 0 as Word;
        for byte in chunk {
            limb = (limb << 8) | Word::from(*byte);
        }
        out[index] = limb;
    }
}

/// Writes the low `out.len()` bytes of the number in `limbs`, big-endian.
pub(crate) fn to_be_bytes(limbs: &[Word], out: &mut [u8]) {
    for (index, byte) in out.iter_mut().rev().enumerate() {
        *byte = (limbs[index / WORD_BYTES] >> (8 * (index % WORD_BYTES))) as u8;
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
        let mut limbs = [0 as Word; 4];
        from_be_bytes(&bytes, &mut limbs);
        let mut back = [0u8; 19];
        to_be_bytes(&limbs, &mut back);
        assert_eq!(back, bytes);
    }

    /// The kernel against `num-bigint` on arbitrary odd moduli of every class, bases below
    /// the modulus and random exponents (not only RSA-shaped numbers).
    mod against_num_bigint {
        extern crate std;
        use super::super::*;
        use num_bigint::BigUint;
        use proptest::prelude::*;
        use std::vec::Vec;

        fn to_limbs<const N: usize>(value: &BigUint) -> [Word; N] {
            let mut limbs = [0 as Word; N];
            let bytes = value.to_bytes_be();
            from_be_bytes(&bytes, &mut limbs);
            limbs
        }

        fn from_limbs(limbs: &[Word]) -> BigUint {
            let mut bytes = std::vec![0u8; limbs.len() * WORD_BYTES];
            to_be_bytes(limbs, &mut bytes);
            BigUint::from_bytes_be(&bytes)
        }

        fn check<const N: usize>(
            modulus: Vec<u8>,
            base: Vec<u8>,
            exponent: u64,
        ) -> Result<(), TestCaseError> {
            let mut modulus = BigUint::from_bytes_be(&modulus);
            modulus |= BigUint::from(1u8);
            prop_assume!(modulus > BigUint::from(1u8));
            let bits = modulus.bits() as usize;
            let base = BigUint::from_bytes_be(&base) % &modulus;
            let n = to_limbs::<N>(&modulus);
            let context = Modulus {
                n: &n,
                n0: neg_inverse(n[0]),
            };
            let mut wide = std::vec![0 as Word; 2 * N];
            let mut r2 = [0 as Word; N];
            context.r_squared(bits, &mut r2, &mut wide);
            let r = BigUint::from(1u8) << (N * WORD_BITS);
            prop_assert_eq!(from_limbs(&r2), (&r * &r) % &modulus);
            let mut out = to_limbs::<N>(&base);
            let exponent = exponent.max(1);
            context.pow_assign(&mut out, exponent, &mut r2, &mut wide);
            prop_assert_eq!(
                from_limbs(&out),
                base.modpow(&BigUint::from(exponent), &modulus)
            );
            Ok(())
        }

        const W2048: usize = 2048 / WORD_BITS;
        const W4096: usize = 4096 / WORD_BITS;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            #[test]
            fn pow_matches_for_2048_class(modulus in proptest::collection::vec(any::<u8>(), 1..=256), base in proptest::collection::vec(any::<u8>(), 0..=256), exponent in any::<u64>()) {
                check::<W2048>(modulus, base, exponent % 100_000)?;
            }

            #[test]
            fn pow_matches_for_4096_class(modulus in proptest::collection::vec(any::<u8>(), 200..=512), base in proptest::collection::vec(any::<u8>(), 0..=512), exponent in prop_oneof![Just(65537u64), Just(3u64), 1u64..64]) {
                check::<W4096>(modulus, base, exponent)?;
            }

            #[test]
            fn full_width_moduli(top in any::<[u8; 8]>(), rest in proptest::collection::vec(any::<u8>(), 248), base in proptest::collection::vec(any::<u8>(), 256), exponent in 1u64..70_000) {
                let mut modulus = std::vec![0xffu8];
                modulus.extend_from_slice(&top);
                modulus.extend_from_slice(&rest[..247]);
                check::<W2048>(modulus, base, exponent)?;
            }
        }
    }
}
