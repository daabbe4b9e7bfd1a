//! Arithmetic modulo a 256-bit odd prime in Montgomery form (`R = 2^256`), four 64-bit limbs,
//! variable time (every value ECDSA verification handles is public).
//!
//! The modulus and its constants come from a `Params` type, so each prime gets its own code
//! with the constants folded in. (An x86-64 `mulx`/`adcx`/`adox` version of the 4-limb
//! multiplication was measured slower than this one: at four limbs the compiler's code for
//! `u128` products is as good, and the point formulas are bound by latency, not throughput.)

use crate::limbs::{Wide, adc, mac};

/// A modulus and its Montgomery constants.
pub(crate) trait Params: Copy + 'static {
    /// The modulus, little-endian limbs, then `-M⁻¹ mod 2^64`.
    const M: [u64; 5];
    /// `R² mod M`.
    const R2: [u64; 4];
}

/// `a·b·R⁻¹ mod M` for `a, b < M` (CIOS, fully unrolled by the compiler), fully reduced.
#[inline(always)]
fn mont_mul<P: Params>(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut t = [0u64; 6];
    for &b_i in b {
        let mut carry = 0;
        for j in 0..4 {
            (t[j], carry) = mac(t[j], a[j], b_i, carry);
        }
        (t[4], t[5]) = adc(t[4], carry, 0);
        let m = t[0].wrapping_mul(P::M[4]);
        let (_, mut carry) = mac(t[0], m, P::M[0], 0);
        for j in 1..4 {
            (t[j - 1], carry) = mac(t[j], m, P::M[j], carry);
        }
        let (low, high) = adc(t[4], carry, 0);
        t[3] = low;
        t[4] = t[5] + high;
    }
    final_subtraction::<P>([t[0], t[1], t[2], t[3]], t[4])
}

/// `value + top·2^256` (below `2M`) reduced below `M`. Branch-free: whether to subtract is
/// a coin flip for the branch predictor, and a mispredicted branch costs more than the
/// subtraction (the values are public; this is about speed, not secrecy).
#[inline(always)]
pub(crate) fn final_subtraction<P: Params>(value: [u64; 4], top: u64) -> [u64; 4] {
    let (reduced, borrow) = sub4(&value, &modulus::<P>());
    // Keep `value` when it is below M: no carry above it and a borrow from subtracting M.
    let keep = (borrow & !top & 1).wrapping_neg();
    select(keep, &value, &reduced)
}

/// `when_all_ones` where `mask` is all ones, else `otherwise` (mask is 0 or !0).
#[inline(always)]
fn select(mask: u64, when_all_ones: &[u64; 4], otherwise: &[u64; 4]) -> [u64; 4] {
    core::array::from_fn(|i| (when_all_ones[i] & mask) | (otherwise[i] & !mask))
}

#[inline(always)]
fn modulus<P: Params>() -> [u64; 4] {
    [P::M[0], P::M[1], P::M[2], P::M[3]]
}

/// A residue in Montgomery form (`x·R mod M`), always fully reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Residue<P: Params> {
    limbs: [u64; 4],
    params: core::marker::PhantomData<P>,
}

fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let wide = Wide::from(a).wrapping_sub(Wide::from(b) + Wide::from(borrow));
    (wide as u64, ((wide >> 64) as u64) & 1)
}

/// `a - b` and the borrow out.
pub(crate) fn sub4(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], u64) {
    let mut out = [0u64; 4];
    let mut borrow = 0;
    for i in 0..4 {
        (out[i], borrow) = sbb(a[i], b[i], borrow);
    }
    (out, borrow)
}

/// `a + b` and the carry out.
pub(crate) fn add4(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], u64) {
    let mut out = [0u64; 4];
    let mut carry = 0;
    for i in 0..4 {
        (out[i], carry) = adc(a[i], b[i], carry);
    }
    (out, carry)
}

/// Big-endian 32 bytes as little-endian limbs.
pub(crate) fn limbs_from_be(bytes: &[u8; 32]) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (index, limb) in limbs.iter_mut().enumerate() {
        let start = 24 - 8 * index;
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[start..start + 8]);
        *limb = u64::from_be_bytes(word);
    }
    limbs
}

/// Whether `a < b`.
pub(crate) fn less_than(a: &[u64; 4], b: &[u64; 4]) -> bool {
    sub4(a, b).1 == 1
}

impl<P: Params> Residue<P> {
    /// Zero.
    pub(crate) const ZERO: Self = Self::from_montgomery_limbs([0; 4]);

    /// The residue whose Montgomery form is `limbs` (tables of constants).
    pub(crate) const fn from_montgomery_limbs(limbs: [u64; 4]) -> Self {
        Residue {
            limbs,
            params: core::marker::PhantomData,
        }
    }

    /// The residue of `value`, which must be below the modulus.
    pub(crate) fn new(value: &[u64; 4]) -> Self {
        debug_assert!(less_than(value, &modulus::<P>()));
        Self::from_montgomery_limbs(*value).mul(&Self::from_montgomery_limbs(P::R2))
    }

    /// The Montgomery-form limbs (for tables).
    #[cfg(test)]
    pub(crate) fn montgomery_limbs(&self) -> [u64; 4] {
        self.limbs
    }

    /// The number this residue stands for, in `[0, M)`.
    pub(crate) fn value(&self) -> [u64; 4] {
        self.mul(&Self::from_montgomery_limbs([1, 0, 0, 0])).limbs
    }

    pub(crate) fn one() -> Self {
        Self::new(&[1, 0, 0, 0])
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.limbs == [0; 4]
    }

    #[inline(always)]
    pub(crate) fn add(&self, other: &Self) -> Self {
        let (sum, carry) = add4(&self.limbs, &other.limbs);
        Self::from_montgomery_limbs(final_subtraction::<P>(sum, carry))
    }

    #[inline(always)]
    pub(crate) fn sub(&self, other: &Self) -> Self {
        let (difference, borrow) = sub4(&self.limbs, &other.limbs);
        // Add M back when the subtraction borrowed, without a branch.
        let mask = borrow.wrapping_neg();
        let m = modulus::<P>();
        let correction: [u64; 4] = core::array::from_fn(|i| m[i] & mask);
        Self::from_montgomery_limbs(add4(&difference, &correction).0)
    }

    #[inline(always)]
    pub(crate) fn double(&self) -> Self {
        self.add(self)
    }

    pub(crate) fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    /// `self·other·R⁻¹`.
    #[inline(always)]
    pub(crate) fn mul(&self, other: &Self) -> Self {
        Self::from_montgomery_limbs(mont_mul::<P>(&self.limbs, &other.limbs))
    }

    #[inline(always)]
    pub(crate) fn square(&self) -> Self {
        self.mul(self)
    }

    /// `self^exponent` (exponent as little-endian limbs), left to right.
    pub(crate) fn pow(&self, exponent: &[u64; 4]) -> Self {
        let mut result = Self::one();
        for limb in exponent.iter().rev() {
            for bit in (0..64).rev() {
                result = result.square();
                if (limb >> bit) & 1 == 1 {
                    result = result.mul(self);
                }
            }
        }
        result
    }

    /// The inverse (Fermat: `self^(M-2)`); zero for zero.
    pub(crate) fn invert(&self) -> Self {
        let (exponent, _) = sub4(&modulus::<P>(), &[2, 0, 0, 0]);
        self.pow(&exponent)
    }
}
