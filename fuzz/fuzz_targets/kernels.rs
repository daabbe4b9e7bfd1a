//! Every kernel this CPU has against the portable one, on arbitrary odd moduli of the three
//! RSA size classes, arbitrary bases below them and arbitrary exponents: R² mod n, a product,
//! a square and a power must be the same numbers, bit for bit.
//!
//! Input: one byte choosing the size class, the exponent (8 bytes, big-endian), then the
//! modulus and the base (the rest, split in half).
#![no_main]

use koppeltaal_kernel::{Kernel, Modulus, WORD_BITS, Word, from_be_bytes, ge, with_kernel};
use libfuzzer_sys::fuzz_target;

fn run<const N: usize>(modulus: &[u8], base: &[u8], exponent: u64) {
    let mut n = [0 as Word; N];
    from_be_bytes(modulus, &mut n);
    n[0] |= 1;
    let Some(modulus) = Modulus::new(&n) else { return };
    let bits = n.iter().rposition(|limb| *limb != 0).map_or(1, |top| top * WORD_BITS + (WORD_BITS - n[top].leading_zeros() as usize));
    if bits < 2 {
        return;
    }
    let mut x = [0 as Word; N];
    from_be_bytes(base, &mut x);
    if ge(&x, &n) {
        return;
    }
    let compute = || {
        let mut wide = [0 as Word; 2 * koppeltaal_kernel::MAX_WORDS];
        let wide = &mut wide[..2 * N];
        let mut r2 = [0 as Word; N];
        modulus.r_squared(bits, &mut r2, wide);
        let (mut product, mut square, mut power, mut scratch) = (x, x, x, r2);
        modulus.mul_assign(&mut product, &r2, wide);
        modulus.square_assign(&mut square, wide);
        modulus.pow_assign(&mut power, exponent.max(1), &mut scratch, wide);
        (r2, product, square, power)
    };
    let reference = with_kernel(Kernel::Portable, compute).expect("portable is always available");
    for kernel in Kernel::available() {
        let result = with_kernel(kernel, compute).expect("available");
        assert!(result == reference, "{kernel} differs from the portable kernel");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&class, rest)) = data.split_first() else { return };
    let Some((exponent, rest)) = rest.split_first_chunk::<8>() else { return };
    let exponent = u64::from_be_bytes(*exponent) % 1_000_000;
    let (modulus, base) = rest.split_at(rest.len() / 2);
    match class % 3 {
        0 => run::<{ 2048 / WORD_BITS }>(modulus, base, exponent),
        1 => run::<{ 3072 / WORD_BITS }>(modulus, base, exponent),
        _ => run::<{ 4096 / WORD_BITS }>(modulus, base, exponent),
    }
});
