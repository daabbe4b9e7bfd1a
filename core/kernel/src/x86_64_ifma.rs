//! The x86-64 kernel for CPUs with AVX-512 IFMA (`vpmadd52luq`, `vpmadd52huq`): Intel since
//! Ice Lake, AMD since Zen 4. It does only the modular exponentiation of an RSA public
//! operation, in radix 2^52 with eight digits per 512-bit register; every other operation of
//! this kernel is the BMI2/ADX one (such CPUs have both).
//!
//! Hand-written because no compiler turns scalar code into this: one instruction multiplies
//! eight 52-bit digit pairs and adds the low (or high) halves of the products to eight
//! accumulators. The Montgomery multiplication is the word-by-word "almost Montgomery"
//! multiplication of Gueron and Krasnov (operands and results below `2n`, no final
//! subtraction): per digit `b_i` of the multiplier, `acc += a·b_i + m·n` with `m` making the
//! lowest digit zero, then `acc` moves down one digit. Only the lowest digit takes the
//! scalar path (for `m` and the carry); the other digits stay in registers.
//!
//! Its Montgomery radix is `K = 2^(52·d)` (`d` digits), not the `R = 2^(64·N)` of the other
//! kernels: the caller's `R² mod n` becomes `K² mod n` by one multiplication by a power of two.

use core::arch::x86_64::{
    __m512i, _mm_cvtsi128_si64, _mm512_alignr_epi64, _mm512_castsi512_si128, _mm512_loadu_si512,
    _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_set1_epi64, _mm512_setzero_si512,
    _mm512_storeu_si512,
};

use crate::limbs::{Word, ge, neg_inverse, sub_assign};
use crate::montgomery::Modulus;

/// Bits per digit.
const DIGIT_BITS: usize = 52;
/// The low 52 bits.
const DIGIT_MASK: u64 = (1 << DIGIT_BITS) - 1;
/// Digits per 512-bit register.
const LANES: usize = 8;

/// A number as `V` registers of eight digits, least significant first.
type Digits<const V: usize> = [[u64; LANES]; V];

/// Proof that this CPU has AVX-512 F and IFMA: only [`X86Ifma::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X86Ifma(());

impl X86Ifma {
    /// The kernel, if this CPU can run it: detected at run time with `std`, else known at
    /// compile time from the target features.
    pub(crate) fn detect() -> Option<X86Ifma> {
        // Miri runs no vector intrinsics it does not model: the portable kernel is its.
        if cfg!(miri) {
            return None;
        }
        #[cfg(feature = "std")]
        let present =
            std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512ifma");
        #[cfg(not(feature = "std"))]
        let present = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512ifma"
        ));
        present.then_some(X86Ifma(()))
    }

    /// `x = x^exponent mod n` for `x < n`, `exponent >= 1`, with `r2 = R² mod n` on entry
    /// (clobbered). Returns `false`, touching nothing, for a size it has no code for (every
    /// size but the RSA classes of 2048, 3072 and 4096 bits).
    pub(crate) fn pow<const N: usize>(
        self,
        modulus: &Modulus<'_, N>,
        x: &mut [Word; N],
        exponent: u64,
        r2: &mut [Word; N],
    ) -> bool {
        // Registers per number: enough for `d = ⌈(64·N + 2) / 52⌉` digits, so that
        // `4n < K` (results below 2n stay valid operands).
        match N {
            32 => self.pow_in::<N, 5>(modulus, x, exponent, r2),
            48 => self.pow_in::<N, 8>(modulus, x, exponent, r2),
            64 => self.pow_in::<N, 10>(modulus, x, exponent, r2),
            _ => false,
        }
    }

    fn pow_in<const N: usize, const V: usize>(
        self,
        modulus: &Modulus<'_, N>,
        x: &mut [Word; N],
        exponent: u64,
        r2: &mut [Word; N],
    ) -> bool {
        let n = modulus.limbs();
        let digits = (64 * N + 2).div_ceil(DIGIT_BITS);
        debug_assert!(digits <= LANES * V);
        // K² = R²·2^(2·(52·d − 64·N)) mod n.
        let surplus = DIGIT_BITS * digits - 64 * N;
        let mut shift = 2 * surplus;
        while shift > 0 {
            let step = shift.min(63);
            modulus.mul_pow2(r2, step as u32);
            shift -= step;
        }
        let n_digits: Digits<V> = to_digits(n);
        let k0 = neg_inverse(n[0]) & DIGIT_MASK;
        let context = Context {
            n: &n_digits,
            k0,
            digits,
        };
        let mut scratch = [[0; LANES]; V];
        // SAFETY (all four blocks): `self` exists only if the CPU has AVX-512 F and IFMA
        // (`detect`), the target features `amm` is compiled with.
        let base = {
            unsafe { amm(&mut scratch, &to_digits(x), &to_digits(r2), &context) };
            normalize(&mut scratch);
            scratch
        };
        let mut power = base;
        let top = u64::BITS - 1 - exponent.max(1).leading_zeros();
        for bit in (0..top).rev() {
            unsafe { amm(&mut scratch, &power, &power, &context) };
            normalize(&mut scratch);
            power = scratch;
            if (exponent >> bit) & 1 == 1 {
                unsafe { amm(&mut scratch, &power, &base, &context) };
                normalize(&mut scratch);
                power = scratch;
            }
        }
        // Leave Montgomery form: multiply by 1. The result is at most n.
        let mut one = [[0; LANES]; V];
        one[0][0] = 1;
        unsafe { amm(&mut scratch, &power, &one, &context) };
        normalize(&mut scratch);
        from_digits(&scratch, x);
        if ge(x, n) {
            sub_assign(x, n);
        }
        true
    }
}

/// The modulus in digits, `-n⁻¹ mod 2^52`, and how many digits the reduction clears.
struct Context<'a, const V: usize> {
    n: &'a Digits<V>,
    k0: u64,
    digits: usize,
}

/// `out = a·b·2^(−52·digits) mod n`, below `2n` when `a` and `b` are: the almost Montgomery
/// multiplication. `a` and `b` must be normalised (every digit below 2^52); `out` is not
/// (its digits may exceed 52 bits: see [`normalize`]).
///
/// # Safety
/// The CPU must have AVX-512 F and IFMA.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn amm<const V: usize>(
    out: &mut Digits<V>,
    a: &Digits<V>,
    b: &Digits<V>,
    context: &Context<'_, V>,
) {
    // Each lane grows by less than 4·2^52 per step, and there are at most 79 steps: no lane
    // overflows 64 bits.
    let load = |row: &[u64; LANES]| -> __m512i {
        // SAFETY: an unaligned load of eight u64, which `row` is.
        unsafe { _mm512_loadu_si512(row.as_ptr().cast()) }
    };
    let a_regs: [__m512i; V] = core::array::from_fn(|j| load(&a[j]));
    let n_regs: [__m512i; V] = core::array::from_fn(|j| load(&context.n[j]));
    let zero = _mm512_setzero_si512();
    let mut acc = [zero; V];
    let (a0, n0) = (a[0][0], context.n[0][0]);
    // What the lowest lane holds beyond `acc[0]`'s lane 0: the carry out of the digit the
    // previous step cleared.
    let mut carry: u64 = 0;
    for i in 0..context.digits {
        let b_i = b[i / LANES][i % LANES];
        let b_reg = _mm512_set1_epi64(b_i as i64);
        // The lowest digit, scalar: what it is once a·b_i is added, and the m that clears it.
        let low = _mm_cvtsi128_si64(_mm512_castsi512_si128(acc[0])) as u64
            + carry
            + (a0.wrapping_mul(b_i) & DIGIT_MASK);
        let m = low.wrapping_mul(context.k0) & DIGIT_MASK;
        carry = (low + (n0.wrapping_mul(m) & DIGIT_MASK)) >> DIGIT_BITS;
        let m_reg = _mm512_set1_epi64(m as i64);
        for j in 0..V {
            acc[j] = _mm512_madd52lo_epu64(acc[j], a_regs[j], b_reg);
            acc[j] = _mm512_madd52lo_epu64(acc[j], n_regs[j], m_reg);
        }
        // Down one digit: the cleared lowest digit leaves (its carry is in `carry`).
        for j in 0..V {
            let above = if j + 1 < V { acc[j + 1] } else { zero };
            acc[j] = _mm512_alignr_epi64::<1>(above, acc[j]);
        }
        // The high halves belong one digit up: after the move, in the same lanes.
        for j in 0..V {
            acc[j] = _mm512_madd52hi_epu64(acc[j], a_regs[j], b_reg);
            acc[j] = _mm512_madd52hi_epu64(acc[j], n_regs[j], m_reg);
        }
    }
    for (row, reg) in out.iter_mut().zip(acc) {
        // SAFETY: an unaligned store of eight u64 into `row`, which holds eight.
        unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), reg) };
    }
    out[0][0] += carry;
}

/// Carries every digit's bits above 52 into the next one. The number must fit in its digits.
fn normalize<const V: usize>(digits: &mut Digits<V>) {
    let mut carry = 0;
    for digit in digits.iter_mut().flatten() {
        let sum = *digit + carry;
        *digit = sum & DIGIT_MASK;
        carry = sum >> DIGIT_BITS;
    }
    debug_assert_eq!(carry, 0, "the number outgrew its digits");
}

/// 64-bit limbs to 52-bit digits (limbs beyond the digits' width are dropped).
fn to_digits<const N: usize, const V: usize>(limbs: &[Word; N]) -> Digits<V> {
    let mut digits = [[0; LANES]; V];
    for (k, digit) in digits.iter_mut().flatten().enumerate() {
        let bit = DIGIT_BITS * k;
        let (limb, offset) = (bit / 64, bit % 64);
        let low = limbs.get(limb).map_or(0, |limb| limb >> offset);
        let high = match limbs.get(limb + 1) {
            Some(next) if offset > 64 - DIGIT_BITS => next << (64 - offset),
            _ => 0,
        };
        *digit = (low | high) & DIGIT_MASK;
    }
    digits
}

/// Normalised 52-bit digits to 64-bit limbs (bits beyond the limbs' width are dropped).
fn from_digits<const N: usize, const V: usize>(digits: &Digits<V>, limbs: &mut [Word; N]) {
    limbs.fill(0);
    for (k, &digit) in digits.iter().flatten().enumerate() {
        let bit = DIGIT_BITS * k;
        let (limb, offset) = (bit / 64, bit % 64);
        if let Some(slot) = limbs.get_mut(limb) {
            *slot |= digit << offset;
        }
        if offset > 64 - DIGIT_BITS
            && let Some(slot) = limbs.get_mut(limb + 1)
        {
            *slot |= digit >> (64 - offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_round_trip() {
        let mut limbs = [0u64; 32];
        for (i, limb) in limbs.iter_mut().enumerate() {
            *limb = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        let digits: Digits<5> = to_digits(&limbs);
        assert!(digits.iter().flatten().all(|d| *d <= DIGIT_MASK));
        let mut back = [0u64; 32];
        from_digits(&digits, &mut back);
        assert_eq!(back, limbs);
    }
}
