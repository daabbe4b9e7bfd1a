//! Inversion modulo the group order by the binary extended Euclidean algorithm, variable
//! time (ECDSA verification inverts the public `s`).
//!
//! Fermat's `s^(n-2)` costs about 256 squarings and 128 multiplications modulo `n` (8.3 µs
//! on the machine of BENCHMARKS.md, a tenth of a verification); this takes about 180
//! subtract-and-shift rounds of four-limb additions.

use super::mont4::{add4, less_than, sub4};

/// `a⁻¹ mod modulus` for an odd `modulus` and `a` in `[1, modulus)` coprime to it;
/// `neg_inverse` is `-modulus⁻¹ mod 2^64`. `None` if `a` is not invertible (zero, or a
/// common factor).
pub(crate) fn invert(a: &[u64; 4], modulus: &[u64; 4], neg_inverse: u64) -> Option<[u64; 4]> {
    const ONE: [u64; 4] = [1, 0, 0, 0];
    // Invariants: x1·a ≡ u and x2·a ≡ v (mod modulus); u and v odd after each strip; u + v
    // falls every round, so the loop ends.
    let (mut u, mut v) = (*a, *modulus);
    let (mut x1, mut x2) = (ONE, [0u64; 4]);
    if u == [0; 4] {
        return None;
    }
    strip_twos(&mut u, &mut x1, modulus, neg_inverse);
    loop {
        if u == ONE {
            return Some(x1);
        }
        if v == ONE {
            return Some(x2);
        }
        if u == v {
            // Both odd and equal but not one: a common factor.
            return None;
        }
        if less_than(&v, &u) {
            u = sub4(&u, &v).0;
            x1 = sub_mod(&x1, &x2, modulus);
            strip_twos(&mut u, &mut x1, modulus, neg_inverse);
        } else {
            v = sub4(&v, &u).0;
            x2 = sub_mod(&x2, &x1, modulus);
            strip_twos(&mut v, &mut x2, modulus, neg_inverse);
        }
    }
}

/// Divides the nonzero `value` by its largest power of two `2^k`, and `x` by `2^k` modulo
/// `modulus`.
fn strip_twos(value: &mut [u64; 4], x: &mut [u64; 4], modulus: &[u64; 4], neg_inverse: u64) {
    loop {
        let shift = value[0].trailing_zeros().min(63);
        if shift == 0 {
            return;
        }
        *value = shift_right(value, 0, shift);
        *x = divide_by_power_of_two(x, shift, modulus, neg_inverse);
    }
}

/// `(value + top·2^256) >> shift` for `shift` in `1..64`.
fn shift_right(value: &[u64; 4], top: u64, shift: u32) -> [u64; 4] {
    let next = [value[1], value[2], value[3], top];
    core::array::from_fn(|i| (value[i] >> shift) | (next[i] << (64 - shift)))
}

/// `x / 2^shift mod modulus` for `x < modulus` and `shift` in `1..64`: add the multiple
/// `m·modulus` (`m < 2^shift`) that clears the low `shift` bits, then shift. The result is
/// below `(modulus + (2^shift - 1)·modulus) / 2^shift = modulus`.
fn divide_by_power_of_two(
    x: &[u64; 4],
    shift: u32,
    modulus: &[u64; 4],
    neg_inverse: u64,
) -> [u64; 4] {
    let m = x[0].wrapping_mul(neg_inverse) & ((1u64 << shift) - 1);
    let mut sum = [0u64; 4];
    let mut carry = 0u64;
    for i in 0..4 {
        let wide = u128::from(x[i]) + u128::from(m) * u128::from(modulus[i]) + u128::from(carry);
        sum[i] = wide as u64;
        carry = (wide >> 64) as u64;
    }
    shift_right(&sum, carry, shift)
}

/// `a - b mod modulus` for `a, b < modulus`.
fn sub_mod(a: &[u64; 4], b: &[u64; 4], modulus: &[u64; 4]) -> [u64; 4] {
    let (difference, borrow) = sub4(a, b);
    if borrow == 0 {
        difference
    } else {
        add4(&difference, modulus).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p256::GroupOrder;
    use crate::p256::mont4::{Params, Residue};

    const N: [u64; 4] = [
        GroupOrder::M[0],
        GroupOrder::M[1],
        GroupOrder::M[2],
        GroupOrder::M[3],
    ];

    fn fermat(a: &[u64; 4]) -> [u64; 4] {
        Residue::<GroupOrder>::new(a).invert().value()
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "200 Fermat inversions: minutes under Miri, and no unsafe code on the way"
    )]
    fn agrees_with_fermat_at_the_edges_and_in_between() {
        let n_minus = |k: u64| sub4(&N, &[k, 0, 0, 0]).0;
        let mut values = std::vec![
            [1, 0, 0, 0],
            [2, 0, 0, 0],
            [3, 0, 0, 0],
            [0, 0, 0, 1 << 63],
            [0, 1, 0, 0],
            n_minus(1),
            n_minus(2),
            shift_right(&N, 0, 1),
        ];
        // A deterministic walk over the range (xorshift).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let value: [u64; 4] = core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            });
            if less_than(&value, &N) && value != [0; 4] {
                values.push(value);
            }
        }
        for value in values {
            assert_eq!(
                invert(&value, &N, GroupOrder::M[4]),
                Some(fermat(&value)),
                "{value:x?}"
            );
        }
    }

    #[test]
    fn zero_and_common_factors_have_no_inverse() {
        assert_eq!(invert(&[0; 4], &N, GroupOrder::M[4]), None);
        // Modulo 15, 6 and 5 share a factor with it; 7 has the inverse 13.
        let fifteen = [15, 0, 0, 0];
        let neg_inverse = crate::limbs::neg_inverse(15);
        assert_eq!(invert(&[6, 0, 0, 0], &fifteen, neg_inverse), None);
        assert_eq!(invert(&[5, 0, 0, 0], &fifteen, neg_inverse), None);
        assert_eq!(
            invert(&[7, 0, 0, 0], &fifteen, neg_inverse),
            Some([13, 0, 0, 0])
        );
    }
}
