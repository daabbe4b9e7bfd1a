//! ES256 verification against the `p256` crate (RustCrypto): on random keys and messages,
//! genuine signatures verify in both, altered ones fail in both, random ones agree; and the
//! scalars at the edges of their range. Every verdict is reached on every kernel this CPU has
//! (the field multiplication differs per kernel), and with the key's precomputed table as
//! without it: they must all agree.
#![cfg(target_pointer_width = "64")]

use koppeltaal_kernel::p256::{
    EcdsaError, PublicKeyTable, verify_prehashed, verify_prehashed_with,
};
use koppeltaal_kernel::{Kernel, with_kernel};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn coordinates(key: &VerifyingKey) -> ([u8; 32], [u8; 32]) {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    (
        bytes[1..33].try_into().unwrap(),
        bytes[33..65].try_into().unwrap(),
    )
}

fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_be_bytes());
    bytes[31] |= 1;
    SigningKey::from_slice(&bytes).expect("a valid scalar")
}

/// Our verdict, the same on every kernel this CPU has, with and without the key's table.
fn verdict_on_every_kernel(
    x: &[u8; 32],
    y: &[u8; 32],
    digest: &[u8],
    r: &[u8; 32],
    s: &[u8; 32],
) -> Result<(), EcdsaError> {
    let table = PublicKeyTable::new(x, y);
    let mut verdicts = Kernel::available().map(|kernel| {
        let (verdict, with_table) = with_kernel(kernel, || {
            (
                verify_prehashed(x, y, digest, r, s),
                table
                    .as_ref()
                    .map_err(|error| *error)
                    .and_then(|table| verify_prehashed_with(table, digest, r, s)),
            )
        })
        .expect("an available kernel");
        assert_eq!(with_table, verdict, "kernel {kernel}: the table disagrees");
        (kernel, verdict)
    });
    let (_, first) = verdicts.next().expect("the portable kernel at least");
    for (kernel, verdict) in verdicts {
        assert_eq!(verdict, first, "kernel {kernel} disagrees");
    }
    first
}

/// (ours, p256's) verdict on a raw 64-byte signature.
fn verdicts(
    key: &VerifyingKey,
    digest: &[u8; 32],
    signature: &[u8; 64],
) -> (Result<(), EcdsaError>, bool) {
    let (x, y) = coordinates(key);
    let ours = verdict_on_every_kernel(
        &x,
        &y,
        digest,
        signature[..32].try_into().unwrap(),
        signature[32..].try_into().unwrap(),
    );
    let theirs = Signature::from_slice(signature)
        .is_ok_and(|signature| key.verify_prehash(digest, &signature).is_ok());
    (ours, theirs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn genuine_signatures_verify_in_both(seed in any::<u64>(), message in proptest::collection::vec(any::<u8>(), 0..200)) {
        let signing = key(seed);
        let digest: [u8; 32] = Sha256::digest(&message).into();
        let signature: Signature = signing.sign_prehash(&digest).unwrap();
        let (ours, theirs) = verdicts(signing.verifying_key(), &digest, &signature.to_bytes().into());
        prop_assert_eq!(ours, Ok(()));
        prop_assert!(theirs);
        // The other half of s (n - s) verifies too: ECDSA does not require low s here.
        let normalized = signature.normalize_s();
        let (ours, theirs) = verdicts(signing.verifying_key(), &digest, &normalized.to_bytes().into());
        prop_assert_eq!(ours.is_ok(), theirs);
    }

    #[test]
    fn altered_signatures_and_digests_fail_in_both(seed in any::<u64>(), bit in 0usize..512, digest_bit in 0usize..256) {
        let signing = key(seed);
        let digest: [u8; 32] = Sha256::digest(seed.to_le_bytes()).into();
        let signature: [u8; 64] = signing.sign_prehash(&digest).map(|s: Signature| s.to_bytes().into()).unwrap();
        let mut altered = signature;
        altered[bit / 8] ^= 1 << (bit % 8);
        let (ours, theirs) = verdicts(signing.verifying_key(), &digest, &altered);
        prop_assert!(ours.is_err() && !theirs);
        let mut other_digest = digest;
        other_digest[digest_bit / 8] ^= 1 << (digest_bit % 8);
        let (ours, theirs) = verdicts(signing.verifying_key(), &other_digest, &signature);
        prop_assert_eq!(ours, Err(EcdsaError::BadSignature));
        prop_assert!(!theirs);
    }

    #[test]
    fn random_signatures_agree(seed in any::<u64>(), signature in any::<[u8; 32]>(), s in any::<[u8; 32]>(), digest in any::<[u8; 32]>()) {
        let signing = key(seed);
        let mut raw = [0u8; 64];
        raw[..32].copy_from_slice(&signature);
        raw[32..].copy_from_slice(&s);
        let (ours, theirs) = verdicts(signing.verifying_key(), &digest, &raw);
        prop_assert_eq!(ours.is_ok(), theirs);
    }
}

const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

#[test]
fn scalars_at_the_edges_of_their_range() {
    let signing = key(7);
    let (x, y) = coordinates(signing.verifying_key());
    let digest = [0x5a; 32];
    let mut n_minus_1 = N;
    n_minus_1[31] -= 1;
    let one = {
        let mut one = [0u8; 32];
        one[31] = 1;
        one
    };
    for (r, s, expected) in [
        ([0u8; 32], one, Err(EcdsaError::OutOfRange)),
        (one, [0u8; 32], Err(EcdsaError::OutOfRange)),
        (N, one, Err(EcdsaError::OutOfRange)),
        (one, N, Err(EcdsaError::OutOfRange)),
        ([0xff; 32], one, Err(EcdsaError::OutOfRange)),
        (one, one, Err(EcdsaError::BadSignature)),
        (n_minus_1, n_minus_1, Err(EcdsaError::BadSignature)),
    ] {
        assert_eq!(verdict_on_every_kernel(&x, &y, &digest, &r, &s), expected);
    }
    // A digest of all ones is above n: it is reduced, as p256 reduces it.
    let digest = [0xff; 32];
    let signature: Signature = signing.sign_prehash(&digest).unwrap();
    let (ours, theirs) = verdicts(
        signing.verifying_key(),
        &digest,
        &signature.to_bytes().into(),
    );
    assert_eq!((ours, theirs), (Ok(()), true));
    // Not a point of the curve.
    let mut bad_y = y;
    bad_y[0] ^= 0x80;
    assert_eq!(
        verdict_on_every_kernel(&x, &bad_y, &digest, &one, &one),
        Err(EcdsaError::InvalidKey)
    );
}

/// With the generator as the key (private key 1) and a digest equal to `r`, `u1 = u2`: the
/// generator's chunk tables and the key's hold the same points, so the first step adds a point
/// to itself (the doubling branch of the mixed addition). With a digest of `-r`, `u1 = -u2`:
/// every point added is then taken away again (the cancelling branch), and the sum is
/// infinity. Both verdicts must match the `p256` crate's, whose formulas are complete.
#[test]
fn a_key_that_is_the_generator_reaches_the_doubling_and_cancelling_branches() {
    use p256::elliptic_curve::point::AffineCoordinates;
    use p256::elliptic_curve::{Field, PrimeField};
    use p256::{ProjectivePoint, Scalar};
    let mut one = [0u8; 32];
    one[31] = 1;
    let signing = SigningKey::from_slice(&one).expect("d = 1");
    let mut checked = false;
    for k in 2u64..100 {
        let k = Scalar::from(k);
        let x = (ProjectivePoint::GENERATOR * k).to_affine().x();
        // x(kG) below n, so that r = x(kG) (nearly always).
        let Some(r) = Option::<Scalar>::from(Scalar::from_repr(x)) else {
            continue;
        };
        // s = k⁻¹(e + r·d) with e = r, d = 1.
        let s = Option::<Scalar>::from(k.invert()).expect("k != 0") * (r + r);
        assert!(!bool::from(s.is_zero()));
        let r_bytes: [u8; 32] = r.to_repr().into();
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&r_bytes);
        signature[32..].copy_from_slice(&s.to_repr());
        let (ours, theirs) = verdicts(signing.verifying_key(), &r_bytes, &signature);
        assert_eq!((ours, theirs), (Ok(()), true), "e = r");

        let minus_r: [u8; 32] = (-r).to_repr().into();
        signature[32..].copy_from_slice(&one);
        let (ours, theirs) = verdicts(signing.verifying_key(), &minus_r, &signature);
        assert_eq!(
            (ours, theirs),
            (Err(EcdsaError::BadSignature), false),
            "e = -r"
        );
        checked = true;
        break;
    }
    assert!(checked, "no k below 100 gave x(kG) < n");
}
