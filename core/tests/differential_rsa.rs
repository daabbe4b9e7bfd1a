//! Property test: on random keys, messages and signatures, our RSASSA-PKCS1-v1_5 verdict agrees
//! with the `rsa` crate's, for genuine, mutated and random signatures; and every arithmetic
//! kernel this CPU has computes the same `s^e mod n` and the same verdict.

use std::sync::OnceLock;

use koppeltaal_core::{HashAlgorithm, RsaPublicKey};
use koppeltaal_kernel::{Kernel, with_kernel};
use proptest::prelude::*;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::{SignatureEncoding, Signer, Verifier};

/// Keys of the three size classes and of sizes in between (which run on the next class).
const SIZES: [usize; 5] = [2048, 2056, 3072, 3320, 4096];

fn keys() -> &'static [(rsa::RsaPrivateKey, RsaPublicKey)] {
    static KEYS: OnceLock<Vec<(rsa::RsaPrivateKey, RsaPublicKey)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        SIZES
            .iter()
            .map(|bits| {
                let private = rsa::RsaPrivateKey::new(&mut rand::rng(), *bits).unwrap();
                let ours =
                    RsaPublicKey::from_be_bytes(&private.n_bytes(), &private.e_bytes()).unwrap();
                assert_eq!(ours.bits(), *bits);
                (private, ours)
            })
            .collect()
    })
}

/// (our verdict, the rsa crate's verdict, the genuine signature)
fn verdicts(
    key: usize,
    hash: usize,
    message: &[u8],
    tamper: impl Fn(&mut Vec<u8>),
) -> (bool, bool) {
    let (private, ours) = &keys()[key % SIZES.len()];
    let private = private.clone();
    macro_rules! with_hash {
        ($hash:ty, $ours:expr) => {{
            let mut signature = SigningKey::<$hash>::new(private.clone())
                .sign(message)
                .to_vec();
            tamper(&mut signature);
            let theirs = Signature::try_from(signature.as_slice())
                .map(|sig| {
                    VerifyingKey::<$hash>::new(private.to_public_key())
                        .verify(message, &sig)
                        .is_ok()
                })
                .unwrap_or(false);
            let digest = <$hash>::digest(message);
            (every_kernel(ours, $ours, &digest, &signature), theirs)
        }};
    }
    match hash % 3 {
        0 => with_hash!(Sha256, HashAlgorithm::Sha256),
        1 => with_hash!(Sha384, HashAlgorithm::Sha384),
        _ => with_hash!(Sha512, HashAlgorithm::Sha512),
    }
}

/// Our verdict, after checking that every kernel gives the same one and the same `s^e mod n`.
fn every_kernel(key: &RsaPublicKey, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
    let outcomes: Vec<(Kernel, bool, Option<Vec<u8>>)> = Kernel::available()
        .map(|kernel| {
            with_kernel(kernel, || {
                let mut out = [0u8; RsaPublicKey::MAX_BYTES];
                let raw = key
                    .raw_public_operation(signature, &mut out)
                    .ok()
                    .map(<[u8]>::to_vec);
                (
                    kernel,
                    key.verify_digest(hash, digest, signature).is_ok(),
                    raw,
                )
            })
            .expect("an available kernel")
        })
        .collect();
    for (kernel, verdict, raw) in &outcomes[1..] {
        assert_eq!(
            (verdict, raw),
            (&outcomes[0].1, &outcomes[0].2),
            "{kernel} against {}",
            outcomes[0].0
        );
    }
    outcomes[0].1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn genuine_signatures_verify_in_both(key in 0usize..5, hash in 0usize..3, message in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (ours, theirs) = verdicts(key, hash, &message, |_| {});
        prop_assert!(ours && theirs, "ours {ours}, rsa {theirs}");
    }

    #[test]
    fn mutated_signatures_fail_in_both(key in 0usize..5, hash in 0usize..3, message in proptest::collection::vec(any::<u8>(), 0..64), bit in any::<usize>()) {
        let (ours, theirs) = verdicts(key, hash, &message, |signature| {
            let bit = bit % (signature.len() * 8);
            signature[bit / 8] ^= 1 << (bit % 8);
        });
        prop_assert_eq!(ours, theirs);
        prop_assert!(!ours);
    }

    #[test]
    fn random_signatures_agree(key in 0usize..5, hash in 0usize..3, seed in proptest::collection::vec(any::<u8>(), 64)) {
        let (ours, theirs) = verdicts(key, hash, b"message", |signature| {
            for (index, byte) in signature.iter_mut().enumerate() {
                *byte = seed[index % seed.len()].wrapping_add(index as u8);
            }
        });
        prop_assert_eq!(ours, theirs);
    }
}
