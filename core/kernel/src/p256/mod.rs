//! ECDSA P-256 signature verification (ES256), for 64-bit targets.
//!
//! Hand-written because the general-purpose curve crates verify with complete formulas and
//! no precomputation: the `p256` crate took 5.2 times as long as `ring` for an ES256 check
//! (BENCHMARKS.md). Here `u1·G + u2·Q` is one interleaved double-and-add over the width-7
//! NAF of `u1` (odd multiples of `G` from a fixed table, added as affine points) and the
//! width-5 NAF of `u2` (odd multiples of `Q` computed per verification), in Jacobian
//! coordinates with the `a = -3` doubling; and the final `x(R) mod n == r` is decided without
//! an inversion (`X == r·Z²`). Everything here is public, so everything is variable time.
//!
//! A verifier that holds its keys can precompute each one ([`PublicKeyTable`], 8 KiB): then
//! both scalars are split into four 64-bit chunks against fixed tables of `2^(64j)·G` and the
//! key's `2^(64j)·Q`, a quarter of the doublings ([`verify_prehashed_with`], about half the
//! time of [`verify_prehashed`]).
//!
//! ```
//! # // The test vector of RFC 6979 A.2.5 (P-256, SHA-256, message "sample").
//! # fn hex<const N: usize>(text: &str) -> [u8; N] {
//! #     core::array::from_fn(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
//! # }
//! let x = hex::<32>("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6");
//! let y = hex::<32>("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299");
//! let digest = hex::<32>("AF2BDBE1AA9B6EC1E2ADE1D694F41FC71A831D0268E9891562113D8A62ADD1BF");
//! let r = hex::<32>("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716");
//! let s = hex::<32>("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
//! assert_eq!(koppeltaal_kernel::p256::verify_prehashed(&x, &y, &digest, &r, &s), Ok(()));
//! let mut forged = s;
//! forged[31] ^= 1;
//! assert_eq!(
//!     koppeltaal_kernel::p256::verify_prehashed(&x, &y, &digest, &r, &forged),
//!     Err(koppeltaal_kernel::p256::EcdsaError::BadSignature)
//! );
//! ```

mod g_table;
mod key_table;
mod mont4;
mod point;
mod scalar_inverse;
#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86_64_adx;

use core::fmt;

use mont4::{Params, Residue, final_subtraction, less_than, limbs_from_be};
use point::{Affine, Jacobian, wnaf};

pub use key_table::PublicKeyTable;

/// The field prime `p = 2^256 - 2^224 + 2^192 + 2^96 - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldPrime;

impl Params for FieldPrime {
    const M: [u64; 5] = [
        0xffff_ffff_ffff_ffff,
        0x0000_0000_ffff_ffff,
        0x0000_0000_0000_0000,
        0xffff_ffff_0000_0001,
        // -p⁻¹ mod 2^64
        1,
    ];
    const P256_SHAPE: bool = true;
    const R2: [u64; 4] = [
        0x0000_0000_0000_0003,
        0xffff_fffb_ffff_ffff,
        0xffff_ffff_ffff_fffe,
        0x0000_0004_ffff_fffd,
    ];
}

/// The field prime with the x86-64 BMI2/ADX multiplication: used only after
/// `X86Adx::detect` found those instructions (see `verify_prehashed`).
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FieldPrimeX86Adx;

#[cfg(all(target_arch = "x86_64", not(miri)))]
impl Params for FieldPrimeX86Adx {
    const M: [u64; 5] = FieldPrime::M;
    const R2: [u64; 4] = FieldPrime::R2;
    const P256_SHAPE: bool = true;
    const X86_ADX: bool = true;
}

/// The group order `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GroupOrder;

impl Params for GroupOrder {
    const M: [u64; 5] = [
        0xf3b9_cac2_fc63_2551,
        0xbce6_faad_a717_9e84,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_0000_0000,
        // -n⁻¹ mod 2^64
        0xccd1_c8aa_ee00_bc4f,
    ];
    const R2: [u64; 4] = [
        0x8324_4c95_be79_eea2,
        0x4699_799c_49bd_6fa6,
        0x2845_b239_2b6b_ec59,
        0x66e1_2d94_f3d9_5620,
    ];
}

/// A scalar modulo the group order.
type Scalar = Residue<GroupOrder>;

/// The curve's `b`, in Montgomery form.
const B: [u64; 4] = [
    0xd89c_df62_29c4_bddf,
    0xacf0_05cd_7884_3090,
    0xe5a2_20ab_f721_2ed6,
    0xdc30_061d_0487_4834,
];

/// The limbs of a modulus.
fn limbs_of<P: Params>() -> [u64; 4] {
    [P::M[0], P::M[1], P::M[2], P::M[3]]
}

/// Why a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcdsaError {
    /// `r` or `s` is zero or not below the group order.
    OutOfRange,
    /// The public key is not a point of the curve.
    InvalidKey,
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for EcdsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EcdsaError::OutOfRange => "r or s is out of range",
            EcdsaError::InvalidKey => "the public key is not on the curve",
            EcdsaError::BadSignature => "the signature does not verify",
        })
    }
}

/// The affine point `(x, y)` if it lies on the curve (`y² = x³ - 3x + b`, coordinates below p).
fn public_point<F: Params>(x: &[u8; 32], y: &[u8; 32]) -> Option<Affine<F>> {
    let (x, y) = (limbs_from_be(x), limbs_from_be(y));
    let p = limbs_of::<FieldPrime>();
    if !less_than(&x, &p) || !less_than(&y, &p) {
        return None;
    }
    let (x, y) = (Residue::<F>::new(&x), Residue::<F>::new(&y));
    let b = Residue::<F>::from_montgomery_limbs(B);
    let right = x.square().mul(&x).sub(&x.double().add(&x)).add(&b);
    (y.square() == right).then_some(Affine { x, y })
}

/// A scalar in `[1, n)`.
fn nonzero_scalar(bytes: &[u8; 32]) -> Option<[u64; 4]> {
    let value = limbs_from_be(bytes);
    (value != [0; 4] && less_than(&value, &limbs_of::<GroupOrder>())).then_some(value)
}

/// The digest as an integer modulo n (its leftmost 256 bits, as ECDSA takes them).
fn digest_scalar(digest: &[u8]) -> [u64; 4] {
    let mut bytes = [0u8; 32];
    let used = digest.len().min(32);
    bytes[32 - used..].copy_from_slice(&digest[..used]);
    let value = limbs_from_be(&bytes);
    // value < 2^256 < 2n: one subtraction at most reduces it.
    final_subtraction::<GroupOrder>(value, 0)
}

/// `u1·G + u2·Q`.
fn double_scalar_mul<F: Params>(u1: &[u64; 4], u2: &[u64; 4], q: &Affine<F>) -> Jacobian<F> {
    let (g_digits, g_length) = wnaf(u1, 7);
    let (q_digits, q_length) = wnaf(u2, 5);
    // Odd multiples Q, 3Q, ..., 15Q.
    let mut q_table = [Jacobian::from_affine(q); 8];
    let q2 = q_table[0].double();
    for index in 1..8 {
        q_table[index] = q_table[index - 1].add(&q2);
    }
    let mut acc = Jacobian::INFINITY;
    for index in (0..g_length.max(q_length)).rev() {
        acc = acc.double();
        let g_digit = g_digits[index];
        if g_digit != 0 {
            let (x, y) = g_table::G_CHUNK_TABLES[0][usize::from(g_digit.unsigned_abs() / 2)];
            let point = Affine {
                x: Residue::from_montgomery_limbs(x),
                y: Residue::from_montgomery_limbs(y),
            };
            acc = acc.add_affine(&if g_digit > 0 { point } else { point.neg() });
        }
        let q_digit = q_digits[index];
        if q_digit != 0 {
            let point = q_table[usize::from(q_digit.unsigned_abs() / 2)];
            acc = acc.add(&if q_digit > 0 { point } else { point.neg() });
        }
    }
    acc
}

/// Verifies an ECDSA P-256 signature `(r, s)` over a message whose hash is `digest`
/// (SHA-256 for ES256), with the public key `(x, y)` (big-endian affine coordinates).
///
/// The field arithmetic follows [`Kernel::current`](crate::Kernel::current): the x86-64
/// BMI2/ADX multiplication where chosen, else portable Rust. A verifier that keeps its keys
/// verifies faster with [`verify_prehashed_with`].
pub fn verify_prehashed(
    x: &[u8; 32],
    y: &[u8; 32],
    digest: &[u8],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), EcdsaError> {
    on_chosen_field(Key::Coordinates(x, y), digest, r, s)
}

/// [`verify_prehashed`] with the key's precomputed [`PublicKeyTable`]: a quarter of the
/// doublings, no per-verification table of the key, no check that the key is on the curve
/// (done when the table was built). Same verdicts.
pub fn verify_prehashed_with(
    table: &PublicKeyTable,
    digest: &[u8],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), EcdsaError> {
    on_chosen_field(Key::Table(table), digest, r, s)
}

/// The public key of a verification, as given.
#[derive(Clone, Copy)]
enum Key<'k> {
    Coordinates(&'k [u8; 32], &'k [u8; 32]),
    Table(&'k PublicKeyTable),
}

/// The public key, ready for the arithmetic of `F`.
enum Prepared<'k, F: Params> {
    /// A point checked to be on the curve; its multiples are computed per verification.
    Point(Affine<F>),
    /// Multiples computed when the table was built.
    Table(&'k PublicKeyTable),
}

/// Verifies with the field arithmetic [`Kernel::current`](crate::Kernel::current) chooses.
fn on_chosen_field(
    key: Key<'_>,
    digest: &[u8],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), EcdsaError> {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if matches!(
        crate::Kernel::current(),
        crate::Kernel::X86Adx | crate::Kernel::X86Ifma
    ) && crate::x86_64_adx::X86Adx::detect().is_some()
    {
        // The one place `FieldPrimeX86Adx` is used: the CPU has BMI2 and ADX (just detected).
        return verify_over::<FieldPrimeX86Adx>(key, digest, r, s);
    }
    verify_over::<FieldPrime>(key, digest, r, s)
}

/// [`verify_prehashed`] with the field arithmetic of `F`.
fn verify_over<F: Params>(
    key: Key<'_>,
    digest: &[u8],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), EcdsaError> {
    // The key is checked first: an invalid key is refused whatever the signature.
    let q = match key {
        Key::Coordinates(x, y) => {
            Prepared::Point(public_point::<F>(x, y).ok_or(EcdsaError::InvalidKey)?)
        }
        Key::Table(table) => Prepared::Table(table),
    };
    let (r, s) = (
        nonzero_scalar(r).ok_or(EcdsaError::OutOfRange)?,
        nonzero_scalar(s).ok_or(EcdsaError::OutOfRange)?,
    );
    let e = digest_scalar(digest);
    // n is prime and s in [1, n): the inverse exists.
    let w = Scalar::new(
        &scalar_inverse::invert(&s, &limbs_of::<GroupOrder>(), GroupOrder::M[4])
            .ok_or(EcdsaError::OutOfRange)?,
    );
    let u1 = Scalar::new(&e).mul(&w).value();
    let u2 = Scalar::new(&r).mul(&w).value();
    let point = match q {
        Prepared::Point(q) => double_scalar_mul(&u1, &u2, &q),
        Prepared::Table(table) => {
            key_table::double_scalar_mul(&u1, &u2, &g_table::G_CHUNK_TABLES, table.multiples())
        }
    };
    if point.is_infinity() {
        return Err(EcdsaError::BadSignature);
    }
    // x(R) = X/Z² lies in [0, p); x(R) mod n == r means x(R) is r, or r + n when that is
    // below p. Compare X with r·Z² instead of inverting Z.
    let z2 = point.z.square();
    if Residue::<F>::new(&r).mul(&z2) == point.x {
        return Ok(());
    }
    let (r_plus_n, carry) = add_limbs(&r, &limbs_of::<GroupOrder>());
    if carry == 0
        && less_than(&r_plus_n, &limbs_of::<FieldPrime>())
        && Residue::<F>::new(&r_plus_n).mul(&z2) == point.x
    {
        return Ok(());
    }
    Err(EcdsaError::BadSignature)
}

fn add_limbs(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], u64) {
    let mut out = [0u64; 4];
    let mut carry = 0u64;
    for index in 0..4 {
        let (sum, c1) = a[index].overflowing_add(b[index]);
        let (sum, c2) = sum.overflowing_add(carry);
        out[index] = sum;
        carry = u64::from(c1 || c2);
    }
    (out, carry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const G_X: [u8; 32] = [
        0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
        0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
        0xc2, 0x96,
    ];
    const G_Y: [u8; 32] = [
        0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
        0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
        0x51, 0xf5,
    ];

    /// `g_table.rs` is the generator's chunk tables as this crate computes them. With
    /// `KOPPELTAAL_BLESS_G_TABLES=1` the test writes the file instead (then run it again).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "a field inversion and 316 point operations: slow under Miri"
    )]
    fn the_generator_tables_are_its_chunk_multiples() {
        let g = public_point::<FieldPrime>(&G_X, &G_Y).expect("G is on the curve");
        let computed = key_table::chunk_tables(&g).expect("no multiple of G is infinity");
        // The first entry is G itself, in Montgomery form.
        assert_eq!(
            computed[0][0],
            (g.x.montgomery_limbs(), g.y.montgomery_limbs())
        );
        if std::env::var_os("KOPPELTAAL_BLESS_G_TABLES").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/p256/g_table.rs");
            std::fs::write(path, g_table_source(&computed)).expect("g_table.rs written");
            return;
        }
        assert!(
            computed == g_table::G_CHUNK_TABLES,
            "g_table.rs is stale: run with KOPPELTAAL_BLESS_G_TABLES=1"
        );
    }

    fn g_table_source(tables: &key_table::ChunkTables) -> std::string::String {
        use std::fmt::Write;
        use std::string::String;
        use std::vec::Vec;
        let mut out = String::from(
            "//! The chunk tables of the P-256 generator (`key_table.rs`): `(2i + 1)·2^(64j)·G` for `i`\n\
             //! in `0..32` and `j` in `0..4`, affine, coordinates in Montgomery form (`x·R mod p`,\n\
             //! `y·R mod p`, little-endian limbs). Written by the test\n\
             //! `the_generator_tables_are_its_chunk_multiples`, which recomputes them with this crate's\n\
             //! own arithmetic (`KOPPELTAAL_BLESS_G_TABLES=1` rewrites this file).\n\n\
             use super::key_table::ChunkTables;\n\n\
             /// `G_CHUNK_TABLES[j][i] = (2i + 1)·2^(64j)·G`.\n\
             #[rustfmt::skip]\n\
             pub(crate) static G_CHUNK_TABLES: ChunkTables = [\n",
        );
        for (chunk, row) in tables.iter().enumerate() {
            writeln!(out, "    // 2^{}·G", 64 * chunk).unwrap();
            out.push_str("    [\n");
            for (x, y) in row {
                let limbs = |l: &[u64; 4]| {
                    l.iter()
                        .map(|v| std::format!("{v:#018x}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(out, "        ([{}], [{}]),", limbs(x), limbs(y)).unwrap();
            }
            out.push_str("    ],\n");
        }
        out.push_str("];\n");
        out
    }

    /// The exceptional cases of the incomplete formulas: `P + P` must take the doubling branch
    /// and `P + (-P)` the infinity branch, in the mixed and in the general addition, with
    /// inputs whose `Z` differ (replacing either branch with anything else fails here).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "field inversions: slow under Miri, and no unsafe code on the way"
    )]
    fn adding_a_point_to_itself_doubles_it_and_to_its_negation_cancels_it() {
        let g = public_point::<FieldPrime>(&G_X, &G_Y).expect("G is on the curve");
        let affine = |point: Jacobian<FieldPrime>| {
            point
                .to_affine()
                .map(|a| (a.x.montgomery_limbs(), a.y.montgomery_limbs()))
        };
        let one = Jacobian::from_affine(&g);
        let two = one.double(); // Z != 1
        let two_affine = two.to_affine().expect("2G");
        let two_z1 = Jacobian::from_affine(&two_affine); // the same point, Z = 1
        let four = affine(two.double());
        assert!(four.is_some());
        assert_eq!(affine(one.add_affine(&g)), affine(two));
        assert_eq!(affine(two.add_affine(&two_affine)), four);
        assert!(two.add_affine(&two_affine.neg()).is_infinity());
        assert_eq!(affine(two.add(&two)), four);
        assert_eq!(affine(two.add(&two_z1)), four);
        assert_eq!(affine(two_z1.add(&two)), four);
        assert!(two.add(&two_z1.neg()).is_infinity());
        assert!(two_z1.add(&two.neg()).is_infinity());
    }

    #[test]
    fn wnaf_digits_sum_to_the_scalar() {
        for (scalar, width) in [
            ([u64::MAX; 4], 5),
            ([1, 0, 0, 0], 7),
            ([0x8000_0000_0000_0001, 3, 0, 1 << 63], 7),
            (limbs_of::<GroupOrder>(), 5),
        ] {
            let (digits, length) = wnaf(&scalar, width);
            // Recombine: the sum of d_i·2^i as a 320-bit number, from the top.
            let mut value = [0u64; 5];
            for index in (0..length).rev() {
                // value = 2·value + d
                let mut carry = 0u64;
                for limb in value.iter_mut() {
                    let next = *limb >> 63;
                    *limb = (*limb << 1) | carry;
                    carry = next;
                }
                let digit = digits[index];
                assert!(
                    digit == 0 || (digit % 2 != 0 && i32::from(digit).abs() < 1 << (width - 1))
                );
                let magnitude = u64::from(digit.unsigned_abs());
                if digit >= 0 {
                    point_add_small(&mut value, magnitude);
                } else {
                    point_sub_small(&mut value, magnitude);
                }
            }
            assert_eq!(&value[..4], &scalar[..], "width {width}");
            assert_eq!(value[4], 0);
        }
    }

    fn point_add_small(k: &mut [u64; 5], value: u64) {
        let mut carry = value;
        for limb in k.iter_mut() {
            let (sum, overflow) = limb.overflowing_add(carry);
            *limb = sum;
            carry = u64::from(overflow);
        }
    }

    fn point_sub_small(k: &mut [u64; 5], value: u64) {
        let mut borrow = value;
        for limb in k.iter_mut() {
            let (difference, underflow) = limb.overflowing_sub(borrow);
            *limb = difference;
            borrow = u64::from(underflow);
        }
    }

    #[test]
    fn points_off_the_curve_and_scalars_out_of_range_are_refused() {
        let mut y = G_Y;
        y[31] ^= 1;
        assert_eq!(public_point::<FieldPrime>(&G_X, &y), None);
        assert_eq!(public_point::<FieldPrime>(&[0xff; 32], &G_Y), None);
        assert!(nonzero_scalar(&[0; 32]).is_none());
        let mut n = [0u8; 32];
        for (index, limb) in limbs_of::<GroupOrder>().iter().enumerate() {
            n[24 - 8 * index..32 - 8 * index].copy_from_slice(&limb.to_be_bytes());
        }
        assert!(nonzero_scalar(&n).is_none());
        n[31] -= 1;
        assert!(nonzero_scalar(&n).is_some());
    }
}
