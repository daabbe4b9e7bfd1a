//! Every kernel this CPU has against the portable one, on arbitrary odd moduli of the three
//! RSA size classes, arbitrary bases below them and arbitrary exponents: R² mod n, a product,
//! a square and a power must be the same numbers, bit for bit.
//!
//! And ES256 (whose field multiplication also follows the kernel): a key and a digest from the
//! input, signed by the `p256` crate, must verify on every kernel, and fail on every kernel once
//! a bit chosen by the input is flipped.
//!
//! Input: one byte choosing the size class (or ES256), the exponent (8 bytes, big-endian), then
//! the modulus and the base (the rest, split in half); for ES256, the key's scalar and the
//! digest (32 bytes each) and a bit position.
#![no_main]

use koppeltaal_kernel::{Kernel, Modulus, WORD_BITS, Word, from_be_bytes, ge, with_kernel};
use libfuzzer_sys::fuzz_target;

fn run<const N: usize>(modulus: &[u8], base: &[u8], exponent: u64) {
    let mut n = [0 as Word; N];
    from_be_bytes(modulus, &mut n);
    n[0] |= 1;
    let Some(modulus) = Modulus::new(&n) else { return };
    if modulus.bits() < 2 {
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
        modulus.r_squared(&mut r2, wide);
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

fn es256(data: &[u8]) {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::{Signature, SigningKey};
    let (Some((scalar, rest)), true) = (data.split_first_chunk::<32>(), data.len() >= 66) else {
        return;
    };
    let (digest, rest) = rest.split_at(32);
    let Ok(signing) = SigningKey::from_slice(scalar) else { return };
    let Ok(signature) = PrehashSigner::<Signature>::sign_prehash(&signing, digest) else { return };
    let point = signing.verifying_key().to_sec1_point(false);
    let (x, y): ([u8; 32], [u8; 32]) = (
        point.as_bytes()[1..33].try_into().expect("32 bytes"),
        point.as_bytes()[33..65].try_into().expect("32 bytes"),
    );
    let genuine: [u8; 64] = signature.to_bytes().into();
    let bit = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 512;
    let mut altered = genuine;
    altered[bit / 8] ^= 1 << (bit % 8);
    for kernel in Kernel::available() {
        let verify = |raw: &[u8; 64]| {
            with_kernel(kernel, || {
                koppeltaal_kernel::p256::verify_prehashed(
                    &x,
                    &y,
                    digest,
                    raw[..32].try_into().expect("32 bytes"),
                    raw[32..].try_into().expect("32 bytes"),
                )
            })
            .expect("available")
        };
        assert_eq!(verify(&genuine), Ok(()), "{kernel} refuses a genuine signature");
        assert!(verify(&altered).is_err(), "{kernel} accepts an altered signature");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&class, rest)) = data.split_first() else { return };
    if class % 4 == 3 {
        return es256(rest);
    }
    let Some((exponent, rest)) = rest.split_first_chunk::<8>() else { return };
    let exponent = u64::from_be_bytes(*exponent) % 1_000_000;
    let (modulus, base) = rest.split_at(rest.len() / 2);
    match class % 4 {
        0 => run::<{ 2048 / WORD_BITS }>(modulus, base, exponent),
        1 => run::<{ 3072 / WORD_BITS }>(modulus, base, exponent),
        _ => run::<{ 4096 / WORD_BITS }>(modulus, base, exponent),
    }
});
