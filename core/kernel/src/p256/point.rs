//! P-256 points in Jacobian coordinates (`x = X/Z²`, `y = Y/Z³`; `Z = 0` is the point at
//! infinity), with an `a = -3` doubling (4M + 4S), the mixed addition of an affine point
//! (7M + 4S) and the general addition (11M + 5S) of Bernstein and Lange's Explicit-Formulas
//! Database (dbl-2001-b, madd-2007-bl, add-2007-bl). Variable time: the formulas are
//! incomplete, and every exceptional case (an input at infinity, `P = Q`, `P = -Q`) is tested
//! for and handled.

use super::mont4::{Params, Residue};

/// A point in Jacobian coordinates, over the field arithmetic of `P`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jacobian<P: Params> {
    pub(crate) x: Residue<P>,
    pub(crate) y: Residue<P>,
    pub(crate) z: Residue<P>,
}

/// A point in affine coordinates (never infinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine<P: Params> {
    pub(crate) x: Residue<P>,
    pub(crate) y: Residue<P>,
}

impl<P: Params> Affine<P> {
    pub(crate) fn neg(&self) -> Self {
        Self {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

impl<P: Params> Jacobian<P> {
    pub(crate) const INFINITY: Self = Jacobian {
        x: Residue::ZERO,
        y: Residue::ZERO,
        z: Residue::ZERO,
    };

    pub(crate) fn from_affine(point: &Affine<P>) -> Self {
        Jacobian {
            x: point.x,
            y: point.y,
            z: Residue::one(),
        }
    }

    pub(crate) fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    pub(crate) fn neg(&self) -> Self {
        Jacobian {
            x: self.x,
            y: self.y.neg(),
            z: self.z,
        }
    }

    /// `2P` for `a = -3` (4M + 4S): with `Y' = 2Y`, `S = X·Y'²`, `M = 3(X - Z²)(X + Z²)`:
    /// `X3 = M² - 2S`, `Y3 = M(S - X3) - Y'⁴/2`, `Z3 = Y'·Z`. One multiplication more than
    /// dbl-2001-b but five fewer additions, and an addition costs half a multiplication
    /// (measured). Infinity doubles to infinity (`Z3 = 0`); P-256 has no points of order two.
    pub(crate) fn double(&self) -> Self {
        let z2 = self.z.square();
        let y_twice = self.y.double();
        let y_twice_squared = y_twice.square();
        let s = self.x.mul(&y_twice_squared);
        let m = self.x.sub(&z2).mul(&self.x.add(&z2));
        let m = m.double().add(&m);
        let x = m.square().sub(&s.double());
        let z = y_twice.mul(&self.z);
        let y = m.mul(&s.sub(&x)).sub(&y_twice_squared.square().half());
        Jacobian { x, y, z }
    }

    /// `P + Q` for an affine `Q` (madd-2007-bl).
    pub(crate) fn add_affine(&self, other: &Affine<P>) -> Self {
        if self.is_infinity() {
            return Jacobian::from_affine(other);
        }
        let z1z1 = self.z.square();
        let u2 = other.x.mul(&z1z1);
        let s2 = other.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub(&x)).sub(&self.y.mul(&j).double());
        let z = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian { x, y, z }
    }

    /// `P + Q` (add-2007-bl).
    pub(crate) fn add(&self, other: &Self) -> Self {
        if self.is_infinity() {
            return *other;
        }
        if other.is_infinity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = other.x.mul(&z1z1);
        let s1 = self.y.mul(&other.z).mul(&z2z2);
        let s2 = other.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub(&x)).sub(&s1.mul(&j).double());
        let z = self.z.add(&other.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian { x, y, z }
    }

    /// The affine point, or `None` at infinity (one field inversion).
    #[cfg(test)]
    pub(crate) fn to_affine(self) -> Option<Affine<P>> {
        if self.is_infinity() {
            return None;
        }
        let z_inverse = self.z.invert();
        let z2 = z_inverse.square();
        Some(Affine {
            x: self.x.mul(&z2),
            y: self.y.mul(&z2).mul(&z_inverse),
        })
    }
}

/// The width-`w` non-adjacent form of a 256-bit scalar: at most 257 digits, each zero or odd
/// with `|d| < 2^(w-1)`, least significant first; and the index of the highest nonzero digit
/// plus one. Reads `w` bits at a time with a carry (no shifting of the whole number).
pub(crate) fn wnaf(scalar: &[u64; 4], width: u32) -> ([i8; 257], usize) {
    let mut digits = [0i8; 257];
    let limbs = [scalar[0], scalar[1], scalar[2], scalar[3], 0];
    let width = width as usize;
    let window = 1u64 << width;
    let mut carry = 0u64;
    let mut position = 0;
    let mut length = 0;
    while position < 257 {
        let (limb, bit) = (position / 64, position % 64);
        let bits = if bit + width <= 64 || limb == 4 {
            limbs[limb] >> bit
        } else {
            (limbs[limb] >> bit) | (limbs[limb + 1] << (64 - bit))
        };
        let value = carry + (bits & (window - 1));
        if value & 1 == 0 {
            // Even: nothing here; a pending carry stays pending (the bit below it was 1).
            position += 1;
            continue;
        }
        let digit = if value < window / 2 {
            carry = 0;
            value as i64
        } else {
            carry = 1;
            value as i64 - window as i64
        };
        digits[position] = digit as i8;
        length = position + 1;
        position += width;
    }
    (digits, length)
}
