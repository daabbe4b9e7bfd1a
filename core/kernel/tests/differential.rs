//! Every kernel this CPU has against `num-bigint` and against the portable kernel: random odd
//! moduli of each RSA size class (and other sizes), random bases and exponents, and the edge
//! values (0, 1, n-1; moduli of all ones, of one bit above the class, of full width).

use koppeltaal_kernel::{
    Kernel, Modulus, WORD_BITS, WORD_BYTES, Word, from_be_bytes, to_be_bytes, with_kernel,
};
use num_bigint::BigUint;
use proptest::prelude::*;

fn limbs<const N: usize>(value: &BigUint) -> [Word; N] {
    let mut out = [0 as Word; N];
    from_be_bytes(&value.to_bytes_be(), &mut out);
    out
}

fn big(limbs: &[Word]) -> BigUint {
    let mut bytes = vec![0u8; limbs.len() * WORD_BYTES];
    to_be_bytes(limbs, &mut bytes);
    BigUint::from_bytes_be(&bytes)
}

/// What every kernel must compute for (n, x, e): R² mod n, x^e mod n, and a product and a
/// square in Montgomery form; compared with num-bigint and returned for comparing kernels.
fn check<const N: usize>(
    n_big: &BigUint,
    x_big: &BigUint,
    y_big: &BigUint,
    exponent: u64,
) -> Result<Vec<[Word; N]>, TestCaseError> {
    let n = limbs::<N>(n_big);
    let modulus = Modulus::new(&n).expect("odd");
    let r = BigUint::from(1u8) << (N * WORD_BITS);
    let r_inverse = r.modinv(n_big).expect("R is invertible modulo an odd n");
    let mut wide = vec![0 as Word; 2 * N];

    let mut r2 = [0 as Word; N];
    assert_eq!(modulus.bits() as u64, n_big.bits());
    modulus.r_squared(&mut r2, &mut wide);
    prop_assert_eq!(big(&r2), (&r * &r) % n_big);

    let mut product = limbs::<N>(x_big);
    modulus.mul_assign(&mut product, &limbs::<N>(y_big), &mut wide);
    prop_assert_eq!(big(&product), (x_big * y_big * &r_inverse) % n_big);

    let mut square = limbs::<N>(x_big);
    modulus.square_assign(&mut square, &mut wide);
    prop_assert_eq!(big(&square), (x_big * x_big * &r_inverse) % n_big);

    let mut power = limbs::<N>(x_big);
    let mut r2_scratch = r2;
    modulus.pow_assign(&mut power, exponent, &mut r2_scratch, &mut wide);
    prop_assert_eq!(big(&power), x_big.modpow(&BigUint::from(exponent), n_big));
    Ok(vec![r2, product, square, power])
}

/// Runs `check` on every available kernel and requires them to agree to the bit.
fn every_kernel<const N: usize>(
    n_big: BigUint,
    x: BigUint,
    y: BigUint,
    exponent: u64,
) -> Result<(), TestCaseError> {
    let n_big = n_big | BigUint::from(1u8);
    prop_assume!(n_big > BigUint::from(1u8) && n_big.bits() as usize <= N * WORD_BITS);
    let (x, y) = (x % &n_big, y % &n_big);
    let exponent = exponent.max(1);
    let mut results = Vec::new();
    for kernel in Kernel::available() {
        let result =
            with_kernel(kernel, || check::<N>(&n_big, &x, &y, exponent)).expect("available")?;
        results.push((kernel, result));
    }
    for (kernel, result) in &results[1..] {
        prop_assert_eq!(result, &results[0].1, "{} against {}", kernel, results[0].0);
    }
    Ok(())
}

fn number(bytes: &[u8]) -> BigUint {
    BigUint::from_bytes_be(bytes)
}

const W2048: usize = 2048 / WORD_BITS;
const W3072: usize = 3072 / WORD_BITS;
const W4096: usize = 4096 / WORD_BITS;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn class_2048(n in proptest::collection::vec(any::<u8>(), 1..=256), x in proptest::collection::vec(any::<u8>(), 0..=256), y in proptest::collection::vec(any::<u8>(), 0..=256), e in prop_oneof![Just(65537u64), Just(3u64), any::<u64>()]) {
        every_kernel::<W2048>(number(&n), number(&x), number(&y), e % 200_000 + 1)?;
    }

    #[test]
    fn class_3072(n in proptest::collection::vec(any::<u8>(), 257..=384), x in proptest::collection::vec(any::<u8>(), 0..=384), y in proptest::collection::vec(any::<u8>(), 0..=384), e in prop_oneof![Just(65537u64), 1u64..64]) {
        every_kernel::<W3072>(number(&n), number(&x), number(&y), e)?;
    }

    #[test]
    fn class_4096(n in proptest::collection::vec(any::<u8>(), 385..=512), x in proptest::collection::vec(any::<u8>(), 0..=512), y in proptest::collection::vec(any::<u8>(), 0..=512), e in prop_oneof![Just(65537u64), 1u64..64]) {
        every_kernel::<W4096>(number(&n), number(&x), number(&y), e)?;
    }

    #[test]
    fn small_and_odd_sizes(n in proptest::collection::vec(any::<u8>(), 1..=40), x in proptest::collection::vec(any::<u8>(), 0..=40), y in proptest::collection::vec(any::<u8>(), 0..=40), e in 1u64..10_000) {
        every_kernel::<1>(number(&n[..n.len().min(WORD_BYTES)]), number(&x), number(&y), e)?;
        every_kernel::<3>(number(&n[..n.len().min(3 * WORD_BYTES)]), number(&x), number(&y), e)?;
        every_kernel::<5>(number(&n), number(&x), number(&y), e)?;
    }
}

/// The edge values every kernel must get right, in every size class.
fn edges<const N: usize>() {
    let bits = N * WORD_BITS;
    let all_ones = (BigUint::from(1u8) << bits) - 1u8;
    let one_bit_above_half = (BigUint::from(1u8) << (bits - 1)) + 1u8;
    let moduli = [
        all_ones.clone(),
        one_bit_above_half,
        (all_ones.clone() >> 7) | BigUint::from(1u8),
        BigUint::from(3u8),
    ];
    for n in moduli {
        let n_minus_1 = &n - 1u8;
        for x in [
            BigUint::from(0u8),
            BigUint::from(1u8),
            n_minus_1.clone(),
            &n >> 1,
        ] {
            for e in [1u64, 2, 3, 65537, u64::MAX] {
                every_kernel::<N>(n.clone(), x.clone(), n_minus_1.clone(), e).unwrap();
            }
        }
    }
}

#[test]
fn edge_values_in_every_class() {
    edges::<W2048>();
    edges::<W3072>();
    edges::<W4096>();
    edges::<1>();
}

#[test]
fn even_moduli_and_unavailable_kernels_are_refused() {
    assert!(Modulus::new(&[4 as Word, 1]).is_none());
    assert!(Modulus::<0>::new(&[]).is_none());
    for kernel in [
        Kernel::Portable,
        Kernel::X86Adx,
        Kernel::X86Ifma,
        Kernel::Arm64,
        Kernel::ArmUmaal,
    ] {
        let result = with_kernel(kernel, Kernel::current);
        assert_eq!(result.is_ok(), kernel.is_available(), "{kernel}");
    }
    assert_eq!(Kernel::available().last(), Some(Kernel::Portable));
    assert_eq!(Kernel::fastest(), Kernel::available().next().unwrap());
}

/// Which kernels this run covered, said loudly: a CPU without BMI2/ADX tests only the
/// portable one. `KOPPELTAAL_EXPECT_KERNELS` (comma-separated names, as CI sets it from what
/// the CPU or emulator offers) makes it an assertion: every kernel named there must have run,
/// so a kernel that stops being detected cannot go untested unnoticed.
#[test]
fn report_the_kernels_covered() {
    let covered: Vec<&str> = Kernel::available().map(Kernel::name).collect();
    eprintln!("kernels tested on this CPU: {}", covered.join(", "));
    assert!(!covered.is_empty());
    if let Ok(expected) = std::env::var("KOPPELTAAL_EXPECT_KERNELS") {
        for name in expected
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            assert!(
                covered.contains(&name),
                "kernel {name} was expected (KOPPELTAAL_EXPECT_KERNELS={expected}) but only {covered:?} ran"
            );
        }
    }
}
