//! Arithmetic modulo a 256-bit odd prime in Montgomery form (`R = 2^256`), four 64-bit limbs,
//! variable time (every value ECDSA verification handles is public).
//!
//! The modulus and its constants come from a `Params` type, so each prime gets its own code
//! with the constants folded in. (An x86-64 `mulx`/`adcx`/`adox` version of the 4-limb
//! multiplication was measured slower than this one: at four limbs the compiler's code for
//! `u128` products is as good, and the point formulas are bound by latency, not throughput.)

use crate::limbs::{Wide, adc, mac};

/// A modulus and its Montgomery constants.
pub(crate) trait Params: Copy + PartialEq + Eq + core::fmt::Debug + 'static {
    /// The modulus, little-endian limbs, then `-M⁻¹ mod 2^64`.
    const M: [u64; 5];
    /// `R² mod M`.
    const R2: [u64; 4];
    /// Whether the modulus has the shape of the P-256 field prime, `2^256 - 2^224 + 2^192 +
    /// 2^96 - 1`: then `-M⁻¹ mod 2^64 = 1` and a reduction step needs one multiplication
    /// instead of five.
    const P256_SHAPE: bool = false;
    /// Whether multiplication runs the x86-64 BMI2/ADX code (P-256 field prime only). Code
    /// that uses such a `Params` runs only where `X86Adx::detect` found the instructions.
    #[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
    const X86_ADX: bool = false;
}

/// `a·b` as eight limbs (schoolbook; product scanning was measured slower).
#[inline(always)]
fn mul_wide(a: &[u64; 4], b: &[u64; 4]) -> [u64; 8] {
    let mut t = [0u64; 8];
    for (i, &b_i) in b.iter().enumerate() {
        let mut carry = 0;
        for (j, &a_j) in a.iter().enumerate() {
            (t[i + j], carry) = mac(t[i + j], a_j, b_i, carry);
        }
        t[i + 4] = carry;
    }
    t
}

/// `a²` as eight limbs: the six cross products once, doubled, then the four squares
/// (10 multiplications instead of 16).
#[inline(always)]
fn square_wide(a: &[u64; 4]) -> [u64; 8] {
    let mut t = [0u64; 8];
    // Cross products a_i·a_j for i < j.
    for i in 0..3 {
        let mut carry = 0;
        for j in i + 1..4 {
            (t[i + j], carry) = mac(t[i + j], a[i], a[j], carry);
        }
        t[i + 4] = carry;
    }
    // Double them (the top bit of t[7] shifts out as zero: the cross sum is below 2^511).
    let mut high_bit = 0;
    for limb in t.iter_mut().skip(1) {
        let next = *limb >> 63;
        *limb = (*limb << 1) | high_bit;
        high_bit = next;
    }
    // Add the squares a_i² at limbs 2i, 2i+1.
    let mut carry = 0;
    for i in 0..4 {
        let square = Wide::from(a[i]) * Wide::from(a[i]);
        (t[2 * i], carry) = adc(t[2 * i], square as u64, carry);
        (t[2 * i + 1], carry) = adc(t[2 * i + 1], (square >> 64) as u64, carry);
    }
    t
}

/// `t·R⁻¹ mod M` for `t < M·2^256` (word-by-word Montgomery reduction), fully reduced.
#[inline(always)]
fn reduce<P: Params>(mut t: [u64; 8]) -> [u64; 4] {
    let mut top = 0;
    for i in 0..4 {
        let carry = if P::P256_SHAPE {
            // m = t_i (since -M⁻¹ = 1). Adding m·M clears limb i and carries m, and
            // m·(2^64 - 1) + m at limb 0 of the rest is m·2^32 at limb 1 (M's limb 2 is 0).
            let m = t[i];
            let wide = Wide::from(t[i + 1]) + (Wide::from(m) << 32);
            t[i + 1] = wide as u64;
            let wide = Wide::from(t[i + 2]) + (wide >> 64);
            t[i + 2] = wide as u64;
            let (low, high) = mac(t[i + 3], m, P::M[3], (wide >> 64) as u64);
            t[i + 3] = low;
            high
        } else {
            let m = t[i].wrapping_mul(P::M[4]);
            let (_, mut carry) = mac(t[i], m, P::M[0], 0);
            for j in 1..4 {
                (t[i + j], carry) = mac(t[i + j], m, P::M[j], carry);
            }
            carry
        };
        (t[i + 4], top) = adc(t[i + 4], carry, top);
    }
    final_subtraction::<P>([t[4], t[5], t[6], t[7]], top)
}

/// `a·b·R⁻¹ mod M` for `a, b < M`, fully reduced.
#[inline(always)]
fn mont_mul<P: Params>(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if P::X86_ADX {
        // SAFETY: a `Params` with `X86_ADX` is used only after `X86Adx::detect` found BMI2
        // and ADX on this CPU (its documentation says so, and `verify_prehashed` is the one
        // place that picks it).
        return unsafe { super::x86_64_adx::mul(a, b) };
    }
    reduce::<P>(mul_wide(a, b))
}

/// `a²·R⁻¹ mod M` for `a < M`, fully reduced.
#[inline(always)]
fn mont_square<P: Params>(a: &[u64; 4]) -> [u64; 4] {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if P::X86_ADX {
        // SAFETY: as in `mont_mul`.
        return unsafe { super::x86_64_adx::square(a) };
    }
    reduce::<P>(square_wide(a))
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

    /// `self/2`: `self` if even, else `(self + M)/2`, without a branch.
    #[inline(always)]
    pub(crate) fn half(&self) -> Self {
        let mask = (self.limbs[0] & 1).wrapping_neg();
        let m = modulus::<P>();
        let addend: [u64; 4] = core::array::from_fn(|i| m[i] & mask);
        let (sum, carry) = add4(&self.limbs, &addend);
        let next = [sum[1], sum[2], sum[3], carry];
        Self::from_montgomery_limbs(core::array::from_fn(|i| (sum[i] >> 1) | (next[i] << 63)))
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
        Self::from_montgomery_limbs(mont_square::<P>(&self.limbs))
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
