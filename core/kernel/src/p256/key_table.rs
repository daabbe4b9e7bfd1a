//! Precomputed multiples of a public key, for verifiers that know their keys before their
//! tokens (a portal's JWKS changes rarely; its launches come by the thousand).
//!
//! Each 256-bit scalar is split into four 64-bit chunks, `u = Σ u_j·2^(64j)`, so that
//! `u·P = Σ u_j·(2^(64j)·P)`: with the odd multiples `1, 3, ..., 63` of `2^(64j)·P` at hand for
//! each `j`, `u1·G + u2·Q` is one loop of 65 doublings over eight width-7 NAFs of 64-bit chunks
//! (about 64 mixed additions of affine points), instead of 256 doublings, 37 mixed and 43
//! general additions and a per-verification table of `Q`. The generator's tables are fixed
//! (`g_table.rs`); a key's are built once, here, when the key is loaded.

use super::mont4::{Params, Residue};
use super::point::{Affine, Jacobian};
use super::{EcdsaError, FieldPrime, public_point};

/// Chunks of a scalar.
pub(crate) const CHUNKS: usize = 4;
/// Bits of a chunk.
const CHUNK_BITS: usize = 64;
/// The NAF width of each chunk: `2^(WIDTH-2)` odd multiples per chunk table.
pub(crate) const WIDTH: u32 = 7;
/// Odd multiples per chunk: `1P, 3P, ..., 63P`.
pub(crate) const ODD_MULTIPLES: usize = 1 << (WIDTH - 2);
/// Digits of a chunk's NAF: 64 bits and a final carry.
const CHUNK_DIGITS: usize = CHUNK_BITS + 1;

/// An affine point as the Montgomery-form limbs of `x` and `y`.
pub(crate) type AffineLimbs = ([u64; 4], [u64; 4]);

/// `(2i + 1)·2^(64j)·P` at `[j][i]`, affine.
pub(crate) type ChunkTables = [[AffineLimbs; ODD_MULTIPLES]; CHUNKS];

/// A P-256 public key with its multiples precomputed (8 KiB: 128 affine points), for
/// [`verify_prehashed_with`](super::verify_prehashed_with). Building one takes about as long as
/// a few verifications (192 doublings, 124 additions, one field inversion); each verification
/// with it then needs a quarter of the doublings.
///
/// ```
/// # fn hex<const N: usize>(text: &str) -> [u8; N] {
/// #     core::array::from_fn(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
/// # }
/// use koppeltaal_kernel::p256::{PublicKeyTable, verify_prehashed_with};
/// // RFC 6979 A.2.5 (P-256, SHA-256, message "sample").
/// let x = hex::<32>("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6");
/// let y = hex::<32>("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299");
/// let digest = hex::<32>("AF2BDBE1AA9B6EC1E2ADE1D694F41FC71A831D0268E9891562113D8A62ADD1BF");
/// let r = hex::<32>("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716");
/// let s = hex::<32>("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
/// let table = PublicKeyTable::new(&x, &y)?;
/// assert_eq!(verify_prehashed_with(&table, &digest, &r, &s), Ok(()));
/// # Ok::<(), koppeltaal_kernel::p256::EcdsaError>(())
/// ```
#[derive(Clone)]
pub struct PublicKeyTable {
    x: [u8; 32],
    y: [u8; 32],
    multiples: ChunkTables,
}

impl PublicKeyTable {
    /// The table of the key `(x, y)` (big-endian affine coordinates);
    /// [`EcdsaError::InvalidKey`] if the point is not on the curve.
    pub fn new(x: &[u8; 32], y: &[u8; 32]) -> Result<PublicKeyTable, EcdsaError> {
        let point = public_point::<FieldPrime>(x, y).ok_or(EcdsaError::InvalidKey)?;
        Ok(PublicKeyTable {
            x: *x,
            y: *y,
            multiples: chunk_tables(&point).ok_or(EcdsaError::InvalidKey)?,
        })
    }

    /// The key's coordinates, as given to [`new`](Self::new).
    pub fn coordinates(&self) -> (&[u8; 32], &[u8; 32]) {
        (&self.x, &self.y)
    }

    pub(crate) fn multiples(&self) -> &ChunkTables {
        &self.multiples
    }
}

impl core::fmt::Debug for PublicKeyTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublicKeyTable")
            .field("x", &self.x)
            .field("y", &self.y)
            .finish_non_exhaustive()
    }
}

/// Two tables of the same key are equal (the multiples follow from the coordinates).
impl PartialEq for PublicKeyTable {
    fn eq(&self, other: &Self) -> bool {
        self.x == other.x && self.y == other.y
    }
}

impl Eq for PublicKeyTable {}

/// The chunk tables of `point`; `None` if a multiple is the point at infinity (impossible
/// for a point of the curve, whose order is the prime n, but not assumed).
pub(crate) fn chunk_tables(point: &Affine<FieldPrime>) -> Option<ChunkTables> {
    let mut jacobian = [[Jacobian::<FieldPrime>::INFINITY; ODD_MULTIPLES]; CHUNKS];
    let mut base = Jacobian::from_affine(point);
    for (chunk, row) in jacobian.iter_mut().enumerate() {
        let twice = base.double();
        row[0] = base;
        for index in 1..ODD_MULTIPLES {
            row[index] = row[index - 1].add(&twice);
        }
        if chunk + 1 < CHUNKS {
            for _ in 0..CHUNK_BITS {
                base = base.double();
            }
        }
    }
    to_affine_all(&jacobian)
}

/// Every point affine, with one field inversion (Montgomery's trick: invert the product of
/// all `Z`, then peel each inverse off it).
fn to_affine_all(points: &[[Jacobian<FieldPrime>; ODD_MULTIPLES]; CHUNKS]) -> Option<ChunkTables> {
    let flat = || points.iter().flatten();
    // prefix[k] = Z_0·...·Z_k
    let mut prefix = [[Residue::<FieldPrime>::ZERO; ODD_MULTIPLES]; CHUNKS];
    let mut product = Residue::one();
    for (slot, point) in prefix.iter_mut().flatten().zip(flat()) {
        if point.is_infinity() {
            return None;
        }
        product = product.mul(&point.z);
        *slot = product;
    }
    let mut inverse = product.invert(); // (Z_0·...·Z_k)⁻¹, k from the last down
    let mut out = [[([0; 4], [0; 4]); ODD_MULTIPLES]; CHUNKS];
    let total = CHUNKS * ODD_MULTIPLES;
    for k in (0..total).rev() {
        let (chunk, index) = (k / ODD_MULTIPLES, k % ODD_MULTIPLES);
        let point = &points[chunk][index];
        let z_inverse = if k == 0 {
            inverse
        } else {
            let (before_chunk, before_index) = ((k - 1) / ODD_MULTIPLES, (k - 1) % ODD_MULTIPLES);
            inverse.mul(&prefix[before_chunk][before_index])
        };
        inverse = inverse.mul(&point.z);
        let z2 = z_inverse.square();
        out[chunk][index] = (
            point.x.mul(&z2).montgomery_limbs(),
            point.y.mul(&z2).mul(&z_inverse).montgomery_limbs(),
        );
    }
    Some(out)
}

/// The width-[`WIDTH`] NAF of a 64-bit chunk: digits zero or odd with `|d| < 2^(WIDTH-1)`,
/// least significant first, and the index of the highest nonzero digit plus one.
fn chunk_naf(chunk: u64) -> ([i8; CHUNK_DIGITS], usize) {
    let mut digits = [0i8; CHUNK_DIGITS];
    let window = 1i128 << WIDTH;
    // Room for the carry above bit 63.
    let mut rest = i128::from(chunk);
    let mut position = 0usize;
    let mut length = 0;
    while rest != 0 {
        let zeros = rest.trailing_zeros() as usize;
        rest >>= zeros;
        position += zeros;
        let mut digit = rest & (window - 1);
        if digit >= window / 2 {
            digit -= window;
        }
        // |digit| < 2^(WIDTH-1) = 64: fits an i8.
        digits[position] = digit as i8;
        length = position + 1;
        // Now divisible by 2^WIDTH: the next WIDTH - 1 digits are zero.
        rest -= digit;
        rest >>= WIDTH;
        position += WIDTH as usize;
    }
    (digits, length)
}

/// Adds `digit` times the odd multiples in `table` (`table[i] = (2i + 1)·P`) to `acc`.
#[inline(always)]
fn add_digit<F: Params>(acc: &mut Jacobian<F>, digit: i8, table: &[AffineLimbs; ODD_MULTIPLES]) {
    if digit == 0 {
        return;
    }
    let (x, y) = table[usize::from(digit.unsigned_abs() / 2)];
    let point = Affine {
        x: Residue::from_montgomery_limbs(x),
        y: Residue::from_montgomery_limbs(y),
    };
    *acc = acc.add_affine(&if digit > 0 { point } else { point.neg() });
}

/// `u1·G + u2·Q` from the chunk tables of `G` and of `Q`.
pub(crate) fn double_scalar_mul<F: Params>(
    u1: &[u64; 4],
    u2: &[u64; 4],
    g: &ChunkTables,
    q: &ChunkTables,
) -> Jacobian<F> {
    let mut g_digits = [[0i8; CHUNK_DIGITS]; CHUNKS];
    let mut q_digits = [[0i8; CHUNK_DIGITS]; CHUNKS];
    let mut length = 0;
    for chunk in 0..CHUNKS {
        let (digits, used) = chunk_naf(u1[chunk]);
        g_digits[chunk] = digits;
        length = length.max(used);
        let (digits, used) = chunk_naf(u2[chunk]);
        q_digits[chunk] = digits;
        length = length.max(used);
    }
    let mut acc = Jacobian::INFINITY;
    for index in (0..length).rev() {
        if !acc.is_infinity() {
            acc = acc.double();
        }
        for chunk in 0..CHUNKS {
            add_digit(&mut acc, g_digits[chunk][index], &g[chunk]);
            add_digit(&mut acc, q_digits[chunk][index], &q[chunk]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_nafs_sum_to_the_chunk() {
        for chunk in [
            0,
            1,
            63,
            64,
            127,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            0x8000_0000_0000_0001,
            0xdead_beef_cafe_f00d,
            0x5555_5555_5555_5555,
        ] {
            let (digits, length) = chunk_naf(chunk);
            let mut value = 0i128;
            for index in (0..length).rev() {
                value = 2 * value + i128::from(digits[index]);
            }
            assert_eq!(value, i128::from(chunk), "{chunk:#x}");
            for (index, &digit) in digits.iter().enumerate() {
                assert!(digit == 0 || (digit % 2 != 0 && digit.unsigned_abs() < 64));
                if digit != 0 {
                    // Non-adjacent: the next WIDTH - 1 digits are zero.
                    let next = &digits[index + 1..(index + WIDTH as usize).min(CHUNK_DIGITS)];
                    assert!(next.iter().all(|&d| d == 0), "{chunk:#x} at {index}");
                }
            }
        }
    }
}
