//! Project Wycheproof RSASSA-PKCS1-v1_5 vectors (2048, 3072 and 4096 bits; SHA-256, SHA-384,
//! SHA-512) against the verification engine, on every arithmetic kernel this CPU has (keys
//! loaded and signatures verified with each): every verdict must match.
//!
//! "acceptable" vectors are legacy encodings (DigestInfo without its NULL parameters); the
//! engine compares against the exact RFC 8017 prefixes, so it refuses them, and the test
//! asserts that it does.

use koppeltaal_core::{Error, HashAlgorithm, RsaPublicKey};
use koppeltaal_kernel::{Kernel, with_kernel};
use sha2::{Digest, Sha256, Sha384, Sha512};
use wycheproof::TestResult;
use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};

fn digest(hash: HashAlgorithm, message: &[u8]) -> Vec<u8> {
    match hash {
        HashAlgorithm::Sha256 => Sha256::digest(message).to_vec(),
        HashAlgorithm::Sha384 => Sha384::digest(message).to_vec(),
        HashAlgorithm::Sha512 => Sha512::digest(message).to_vec(),
    }
}

fn run(name: TestName, hash: HashAlgorithm) -> usize {
    let set = TestSet::load(name).expect("vectors load");
    let mut count = 0;
    for group in &set.test_groups {
        let key = RsaPublicKey::from_be_bytes(&group.key.n, &group.key.e)
            .unwrap_or_else(|error| panic!("{name:?}: key refused: {error}"));
        assert_eq!(key.bits(), group.key_size, "{name:?}");
        for test in &group.tests {
            let verdict = key.verify_digest(hash, &digest(hash, &test.msg), &test.sig);
            let accepted = verdict.is_ok();
            match test.result {
                TestResult::Valid => assert!(
                    accepted,
                    "{name:?} #{} ({}): {verdict:?}",
                    test.tc_id, test.comment
                ),
                TestResult::Invalid | TestResult::Acceptable => {
                    assert!(
                        !accepted,
                        "{name:?} #{} ({}) accepted",
                        test.tc_id, test.comment
                    );
                    assert!(
                        matches!(
                            verdict,
                            Err(Error::BadSignature
                                | Error::InvalidSignatureLength
                                | Error::SignatureOutOfRange)
                        ),
                        "{name:?} #{}: {verdict:?}",
                        test.tc_id
                    );
                }
            }
            count += 1;
        }
    }
    count
}

#[test]
fn wycheproof_rsa_pkcs1_v1_5_vectors() {
    let suites = [
        (TestName::Rsa2048Sha256, HashAlgorithm::Sha256),
        (TestName::Rsa2048Sha384, HashAlgorithm::Sha384),
        (TestName::Rsa2048Sha512, HashAlgorithm::Sha512),
        (TestName::Rsa3072Sha256, HashAlgorithm::Sha256),
        (TestName::Rsa3072Sha384, HashAlgorithm::Sha384),
        (TestName::Rsa3072Sha512, HashAlgorithm::Sha512),
        (TestName::Rsa4096Sha256, HashAlgorithm::Sha256),
        (TestName::Rsa4096Sha384, HashAlgorithm::Sha384),
        (TestName::Rsa4096Sha512, HashAlgorithm::Sha512),
    ];
    for kernel in Kernel::available() {
        let total: usize = with_kernel(kernel, || {
            suites.iter().map(|(name, hash)| run(*name, *hash)).sum()
        })
        .expect("an available kernel");
        // Guard against a silently empty data set.
        assert!(
            total > 1500,
            "only {total} vectors ran on the {kernel} kernel"
        );
        println!("{total} Wycheproof RSASSA-PKCS1-v1_5 vectors matched on the {kernel} kernel");
    }
}

#[test]
fn wycheproof_8192_bit_keys_are_refused_by_size() {
    let set = TestSet::load(TestName::Rsa8192Sha512).expect("vectors load");
    let group = &set.test_groups[0];
    assert_eq!(
        RsaPublicKey::from_be_bytes(&group.key.n, &group.key.e).err(),
        Some(Error::KeyTooLarge { bits: 8192 })
    );
}
