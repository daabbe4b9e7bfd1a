//! Montgomery arithmetic modulo an odd `n` of `N` limbs, `R = 2^(N·WORD_BITS)`, built on a
//! kernel's `addmul_1`: products row by row, squarings computing each cross product once,
//! reductions one row per limb. Which kernel runs is chosen once per public operation.

use crate::AddMul;
use crate::limbs::{WORD_BITS, Wide, Word, adc, ge, neg_inverse, sbb, sub_assign};
// A UMAAL device build compiles one kernel and chooses nothing (see `dispatch!`).
#[cfg(not(all(target_arch = "arm", feature = "umaal", not(feature = "std"))))]
use crate::portable::Portable;
#[cfg(not(all(target_arch = "arm", feature = "umaal", not(feature = "std"))))]
use crate::select::Kernel;

/// Calls `self.<method>_with(kernel, args...)` with the kernel this thread uses, so that one
/// public operation runs on one kernel, monomorphised (no indirect call per row).
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        // A device built for UMAAL has nothing to choose: one kernel, one copy of the code.
        #[cfg(all(target_arch = "arm", feature = "umaal", not(feature = "std")))]
        {
            $self.$method(crate::arm_umaal::ArmUmaal, $($arg),*)
        }
        #[cfg(not(all(target_arch = "arm", feature = "umaal", not(feature = "std"))))]
        match Kernel::current() {
            #[cfg(target_arch = "x86_64")]
            // The IFMA kernel has only an exponentiation: its other operations are these.
            Kernel::X86Adx | Kernel::X86Ifma => match crate::x86_64_adx::X86Adx::detect() {
                Some(kernel) => $self.$method(kernel, $($arg),*),
                None => $self.$method(Portable, $($arg),*),
            },
            #[cfg(all(target_arch = "aarch64", not(miri)))]
            Kernel::Arm64 => $self.$method(crate::aarch64::Arm64, $($arg),*),
            #[cfg(all(target_arch = "arm", feature = "umaal"))]
            Kernel::ArmUmaal => $self.$method(crate::arm_umaal::ArmUmaal, $($arg),*),
            _ => $self.$method(Portable, $($arg),*),
        }
    }};
}

/// An odd modulus of `N` limbs with its Montgomery constant `-n⁻¹ mod 2^w`.
#[derive(Clone, Copy, Debug)]
pub struct Modulus<'k, const N: usize> {
    n: &'k [Word; N],
    n0: Word,
}

impl<'k, const N: usize> Modulus<'k, N> {
    /// The modulus `n` (little-endian limbs); `None` when it is even (or zero).
    pub fn new(n: &'k [Word; N]) -> Option<Modulus<'k, N>> {
        let low = *n.first()?;
        (low & 1 == 1).then(|| Modulus {
            n,
            n0: neg_inverse(low),
        })
    }

    /// The modulus.
    pub fn limbs(&self) -> &'k [Word; N] {
        self.n
    }

    /// `x = 2x mod n`, for `x < n`.
    pub fn double(&self, x: &mut [Word; N]) {
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

    /// `a = a·b·R⁻¹ mod n`, for `a, b < n`; `wide` (2N limbs) is scratch.
    pub fn mul_assign(&self, a: &mut [Word; N], b: &[Word; N], wide: &mut [Word]) {
        dispatch!(self.mul_with(a, b, wide))
    }

    /// `a = a²·R⁻¹ mod n`, for `a < n`; `wide` (2N limbs) is scratch.
    pub fn square_assign(&self, a: &mut [Word; N], wide: &mut [Word]) {
        dispatch!(self.square_with(a, wide))
    }

    /// `out = t·R⁻¹ mod n` for a 2N-limb `t < n·R` (Montgomery reduction); clobbers `t`.
    pub fn reduce(&self, out: &mut [Word; N], t: &mut [Word]) {
        dispatch!(self.reduce_with(out, t))
    }

    /// `x = x^exponent mod n`, in place, for `x < n` and `exponent >= 1`.
    ///
    /// `r2` holds `R² mod n` on entry and is clobbered (it then holds the base in Montgomery
    /// form, or `K² mod n` on the IFMA kernel); `wide` (2N limbs) is shared by every step.
    /// The caller owns both buffers, so an exponentiation needs no more than `x`, `r2` and
    /// `wide`: the least stack a left-to-right square and multiply can take (it matters on a
    /// device).
    pub fn pow_assign(
        &self,
        x: &mut [Word; N],
        exponent: u64,
        r2: &mut [Word; N],
        wide: &mut [Word],
    ) {
        #[cfg(target_arch = "x86_64")]
        if Kernel::current() == Kernel::X86Ifma
            && let Some(kernel) = crate::x86_64_ifma::X86Ifma::detect()
            && kernel.pow(self, x, exponent, r2)
        {
            return;
        }
        dispatch!(self.pow_with(x, exponent, r2, wide))
    }

    /// `x = x·2^shift mod n`, for `x < n` and `shift` in `1..64`: one quotient digit
    /// estimated from the top words (Knuth's algorithm D, off by at most two), one
    /// multiply-and-subtract, at most two corrections. By doublings when `n` has fewer than
    /// two words or a zero top word.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn mul_pow2(&self, x: &mut [Word; N], shift: u32) {
        let n = self.n;
        let (n_top, n_next) = match n.len().checked_sub(2) {
            Some(next) if n[next + 1] != 0 && (1..WORD_BITS as u32).contains(&shift) => {
                (n[next + 1], n[next])
            }
            _ => return (0..shift).for_each(|_| self.double(x)),
        };
        // v = top·2^(w·N) + x, the shifted number, below n·2^shift.
        let mut top = 0;
        for limb in x.iter_mut() {
            let out = *limb >> (WORD_BITS as u32 - shift);
            *limb = (*limb << shift) | top;
            top = out;
        }
        // Normalise (the divisor's top bit set) to estimate q = ⌊v / n⌋ from the top words.
        let zeros = n_top.leading_zeros();
        let join = |high: Word, low: Word| match zeros {
            0 => high,
            z => (high << z) | (low >> (WORD_BITS as u32 - z)),
        };
        let divisor = join(n_top, n_next);
        let (x_top, x_next) = (x[N - 1], x[N - 2]);
        let dividend =
            (Wide::from(join(top, x_top)) << WORD_BITS) | Wide::from(join(x_top, x_next));
        let estimate = (dividend / Wide::from(divisor)).min(Wide::from(Word::MAX)) as Word;
        // x -= estimate·n, with the top word signed: the estimate is at most two too big.
        let (mut product_carry, mut borrow) = (0, 0);
        for (limb, &n_i) in x.iter_mut().zip(n) {
            let (low, high) = crate::limbs::mac(0, estimate, n_i, product_carry);
            product_carry = high;
            (*limb, borrow) = sbb(*limb, low, borrow);
        }
        let mut high = i128::from(top) - i128::from(product_carry) - i128::from(borrow);
        for _ in 0..2 {
            if high >= 0 {
                break;
            }
            let mut carry = 0;
            for (limb, &n_i) in x.iter_mut().zip(n) {
                (*limb, carry) = adc(*limb, n_i, carry);
            }
            high += i128::from(carry);
        }
        debug_assert_eq!(high, 0);
    }

    /// `out = R² mod n`; `wide` (2N limbs) is clobbered. About as costly as one RSA public
    /// operation with `e = 65537`.
    pub fn r_squared(&self, out: &mut [Word; N], wide: &mut [Word]) {
        dispatch!(self.r_squared_with(out, wide))
    }

    /// The bit length of `n`, from its limbs (the computation of `R²` starts below `n`, so it
    /// is never taken from a caller who might be wrong).
    pub fn bits(&self) -> usize {
        match self.n.iter().rposition(|&limb| limb != 0) {
            Some(top) => top * WORD_BITS + (WORD_BITS - self.n[top].leading_zeros() as usize),
            None => 0,
        }
    }

    fn mul_with<K: AddMul>(&self, kernel: K, a: &mut [Word; N], b: &[Word; N], wide: &mut [Word]) {
        let t = &mut wide[..2 * N];
        t.fill(0);
        for (i, &b_i) in b.iter().enumerate() {
            t[i + N] = kernel.addmul_1(&mut t[i..i + N], a, b_i);
        }
        self.reduce_with(kernel, a, t);
    }

    fn square_with<K: AddMul>(&self, kernel: K, a: &mut [Word; N], wide: &mut [Word]) {
        let t = &mut wide[..2 * N];
        t.fill(0);
        // Cross products a[i]·a[j] for i < j, each once: row i lands at t[2i + 1..].
        for i in 0..N.saturating_sub(1) {
            t[i + N] = kernel.addmul_1(&mut t[2 * i + 1..i + N], &a[i + 1..], a[i]);
        }
        // Double them, then add the squares a[i]² on the diagonal.
        let mut shifted_out = 0;
        for limb in t.iter_mut() {
            let top = *limb >> (WORD_BITS - 1);
            *limb = (*limb << 1) | shifted_out;
            shifted_out = top;
        }
        let mut carry = 0;
        for (pair, &limb) in t.chunks_exact_mut(2).zip(a.iter()) {
            let square = Wide::from(limb) * Wide::from(limb);
            let (low, c) = adc(pair[0], square as Word, carry);
            let (high, c) = adc(pair[1], (square >> WORD_BITS) as Word, c);
            pair[0] = low;
            pair[1] = high;
            carry = c;
        }
        self.reduce_with(kernel, a, t);
    }

    fn reduce_with<K: AddMul>(&self, kernel: K, out: &mut [Word; N], t: &mut [Word]) {
        let mut top_carry = 0;
        for i in 0..N {
            // Add m·n·2^(w·i) with m chosen so that limb i becomes zero.
            let m = t[i].wrapping_mul(self.n0);
            let carry = kernel.addmul_1(&mut t[i..i + N], self.n, m);
            (t[i + N], top_carry) = adc(t[i + N], carry, top_carry);
        }
        let high = &mut t[N..2 * N];
        if top_carry != 0 || ge(high, self.n) {
            sub_assign(high, self.n);
        }
        out.copy_from_slice(high);
    }

    fn pow_with<K: AddMul>(
        &self,
        kernel: K,
        x: &mut [Word; N],
        exponent: u64,
        r2: &mut [Word; N],
        wide: &mut [Word],
    ) {
        self.mul_with(kernel, x, r2, wide);
        let base = r2;
        *base = *x;
        let top = u64::BITS - 1 - exponent.max(1).leading_zeros();
        for bit in (0..top).rev() {
            self.square_with(kernel, x, wide);
            if (exponent >> bit) & 1 == 1 {
                self.mul_with(kernel, x, base, wide);
            }
        }
        // Leave Montgomery form: multiply by 1, i.e. reduce (x, 0).
        let t = &mut wide[..2 * N];
        t.fill(0);
        t[..N].copy_from_slice(x);
        self.reduce_with(kernel, x, t);
    }

    fn r_squared_with<K: AddMul>(&self, kernel: K, out: &mut [Word; N], wide: &mut [Word]) {
        // R mod n: start from 2^(bits-1) < n and double up to 2^(N·w).
        out.fill(0);
        let bits = self.bits().clamp(1, N * WORD_BITS);
        out[(bits - 1) / WORD_BITS] = 1 << ((bits - 1) % WORD_BITS);
        for _ in bits - 1..N * WORD_BITS {
            self.double(out);
        }
        // `out` is 1 in Montgomery form. Raise 2 to the power E = N·w in Montgomery form by
        // squaring and doubling: the result is 2^E·R = R² mod n.
        let exponent = N * WORD_BITS;
        for bit in (0..usize::BITS - exponent.leading_zeros()).rev() {
            self.square_with(kernel, out, wide);
            if (exponent >> bit) & 1 == 1 {
                self.double(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::limbs::{WORD_BYTES, from_be_bytes, to_be_bytes};
    use num_bigint::BigUint;
    use std::vec;

    fn check<const N: usize>(modulus: &BigUint, base: &BigUint, exponent: u64) {
        let mut n = [0 as Word; N];
        from_be_bytes(&modulus.to_bytes_be(), &mut n);
        let context = Modulus::new(&n).expect("odd");
        let (mut x, mut r2, mut wide) = ([0 as Word; N], [0 as Word; N], vec![0 as Word; 2 * N]);
        from_be_bytes(&base.to_bytes_be(), &mut x);
        assert_eq!(context.bits() as u64, modulus.bits());
        context.r_squared(&mut r2, &mut wide);
        context.pow_assign(&mut x, exponent, &mut r2, &mut wide);
        let mut bytes = vec![0u8; N * WORD_BYTES];
        to_be_bytes(&x, &mut bytes);
        assert_eq!(
            BigUint::from_bytes_be(&bytes),
            base.modpow(&BigUint::from(exponent), modulus)
        );
    }

    /// Small enough for Miri (`cargo +nightly miri test -p koppeltaal-kernel --lib`), which
    /// runs the portable kernel: one RSA-2048-sized exponentiation and two small ones.
    #[test]
    fn exponentiations_match_num_bigint() {
        let modulus = (BigUint::from(1u8) << 2048) - BigUint::from(159u8);
        let base = (BigUint::from(1u8) << 2000) + BigUint::from(12345u32);
        check::<{ 2048 / WORD_BITS }>(&modulus, &base, 65537);
        check::<1>(&BigUint::from(1_000_003u32), &BigUint::from(3u8), 5);
        check::<{ 192 / WORD_BITS }>(
            &((BigUint::from(1u8) << 150) + BigUint::from(1u8)),
            &BigUint::from(7u8),
            1_000_001,
        );
    }

    fn check_mul_pow2<const N: usize>(modulus: &BigUint, x: &BigUint, shift: u32) {
        let mut n = [0 as Word; N];
        from_be_bytes(&modulus.to_bytes_be(), &mut n);
        let context = Modulus::new(&n).expect("odd");
        let mut limbs = [0 as Word; N];
        from_be_bytes(&x.to_bytes_be(), &mut limbs);
        context.mul_pow2(&mut limbs, shift);
        let mut bytes = vec![0u8; N * WORD_BYTES];
        to_be_bytes(&limbs, &mut bytes);
        assert_eq!(
            BigUint::from_bytes_be(&bytes),
            (x << shift) % modulus,
            "{x} << {shift} mod {modulus}"
        );
    }

    /// The quotient estimate is exact or at most two too big: moduli with a full top word,
    /// with leading zeros, with a zero top word (doublings), and x at n - 1.
    #[test]
    fn multiplications_by_powers_of_two_match_num_bigint() {
        let one = BigUint::from(1u8);
        let moduli = [
            (&one << 2048) - BigUint::from(159u8),
            (&one << 2047) + BigUint::from(1u8),
            (&one << 2000) + (&one << 1999) + BigUint::from(1u8),
            (&one << 1900) + BigUint::from(12345u32),
            ((&one << 2048) - BigUint::from(1u8)) / BigUint::from(3u8),
        ];
        for modulus in &moduli {
            for x in [
                BigUint::from(0u8),
                BigUint::from(1u8),
                modulus - &one,
                modulus >> 1,
                (modulus * BigUint::from(7u8)) / BigUint::from(11u8),
            ] {
                for shift in [1, 2, 12, 24, 33, 48, 63] {
                    check_mul_pow2::<{ 2048 / WORD_BITS }>(modulus, &x, shift);
                }
            }
        }
        check_mul_pow2::<1>(&BigUint::from(1_000_003u32), &BigUint::from(999_999u32), 40);
    }
}
