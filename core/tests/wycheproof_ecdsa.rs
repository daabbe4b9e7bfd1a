//! Project Wycheproof ECDSA vectors in the P1363 (`r || s`) form, for P-256/SHA-256,
//! P-384/SHA-384 and P-521/SHA-512. Each group's key goes through our JWK parser (`kty: EC`)
//! and each signature through `Jwk::verify`: every verdict must match. P-256 keys verify there
//! with their precomputed table (feature `es256-tables`); each P-256 vector also goes through
//! the kernel's table-less `verify_prehashed`, for the same verdict.

use base64ct::{Base64UrlUnpadded, Encoding};
use koppeltaal_core::{Algorithm, Curve, Error, KeySet};
use koppeltaal_kernel::{Kernel, with_kernel};
use wycheproof::TestResult;
use wycheproof::ecdsa::{TestName, TestSet};

fn run(name: TestName, curve: Curve) -> usize {
    let set = TestSet::load(name).expect("vectors load");
    let len = curve.coordinate_len();
    let mut count = 0;
    for group in &set.test_groups {
        let point: &[u8] = &group.key.key;
        assert_eq!(point.len(), 1 + 2 * len, "{name:?}: uncompressed point");
        let jwks = format!(
            r#"{{"keys":[{{"kty":"EC","kid":"w","crv":"{}","x":"{}","y":"{}"}}]}}"#,
            curve.jose_name(),
            Base64UrlUnpadded::encode_string(&point[1..=len]),
            Base64UrlUnpadded::encode_string(&point[1 + len..]),
        );
        let keys = KeySet::<1>::from_jwks(jwks.as_bytes()).expect("JWKS parses");
        let key = keys.find("w").expect("key present");
        key.usable_for(curve.algorithm())
            .unwrap_or_else(|error| panic!("{name:?}: key refused: {error}"));
        for test in &group.tests {
            let verdict = key.verify(curve.algorithm(), &test.msg, &test.sig);
            #[cfg(target_pointer_width = "64")]
            if curve == Curve::P256 && test.sig.len() == 64 {
                use sha2::Digest;
                let coordinate = |range: core::ops::Range<usize>| -> [u8; 32] {
                    point[range].try_into().expect("32 bytes")
                };
                let half = |range: core::ops::Range<usize>| -> [u8; 32] {
                    test.sig[range].try_into().expect("32 bytes")
                };
                let table_less = koppeltaal_kernel::p256::verify_prehashed(
                    &coordinate(1..33),
                    &coordinate(33..65),
                    &sha2::Sha256::digest(&test.msg),
                    &half(0..32),
                    &half(32..64),
                );
                assert_eq!(
                    table_less.is_ok(),
                    verdict.is_ok(),
                    "{name:?} #{}: with and without the table",
                    test.tc_id
                );
            }
            match test.result {
                TestResult::Valid => assert_eq!(
                    verdict,
                    Ok(()),
                    "{name:?} #{} ({})",
                    test.tc_id,
                    test.comment
                ),
                TestResult::Invalid | TestResult::Acceptable => assert!(
                    matches!(
                        verdict,
                        Err(Error::BadSignature
                            | Error::InvalidSignatureLength
                            | Error::SignatureOutOfRange)
                    ),
                    "{name:?} #{} ({}): {verdict:?}",
                    test.tc_id,
                    test.comment
                ),
            }
            count += 1;
        }
    }
    count
}

#[test]
fn wycheproof_ecdsa_p1363_vectors() {
    // P-256's field multiplication follows the kernel (x86-64 BMI2/ADX or portable): run the
    // vectors on each kernel this CPU has.
    for kernel in Kernel::available() {
        let total = with_kernel(kernel, || {
            run(TestName::EcdsaSecp256r1Sha256P1363, Curve::P256)
                + run(TestName::EcdsaSecp384r1Sha384P1363, Curve::P384)
                + run(TestName::EcdsaSecp521r1Sha512P1363, Curve::P521)
        })
        .expect("an available kernel");
        assert!(
            total > 800,
            "only {total} vectors ran on the {kernel} kernel"
        );
        println!("{total} Wycheproof ECDSA P1363 vectors matched on the {kernel} kernel");
    }
}

#[test]
fn an_ec_key_verifies_only_its_own_algorithm() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).expect("vectors load");
    let point: &[u8] = &set.test_groups[0].key.key;
    let jwks = format!(
        r#"{{"keys":[{{"kty":"EC","kid":"w","crv":"P-256","x":"{}","y":"{}"}}]}}"#,
        Base64UrlUnpadded::encode_string(&point[1..33]),
        Base64UrlUnpadded::encode_string(&point[33..]),
    );
    let keys = KeySet::<1>::from_jwks(jwks.as_bytes()).unwrap();
    for alg in Algorithm::ALL {
        let expected = if alg == Algorithm::ES256 {
            Ok(())
        } else {
            Err(Error::KeyNotUsable)
        };
        assert_eq!(keys.keys()[0].usable_for(alg), expected, "{alg:?}");
    }
}

#[test]
fn points_off_the_curve_and_wrong_lengths_are_refused() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).expect("vectors load");
    let point: &[u8] = &set.test_groups[0].key.key;
    let mut y = point[33..].to_vec();
    y[31] ^= 1;
    let cases = [
        (
            Base64UrlUnpadded::encode_string(&point[1..33]),
            Base64UrlUnpadded::encode_string(&y),
            Error::InvalidKey,
        ),
        (
            Base64UrlUnpadded::encode_string(&point[2..33]),
            Base64UrlUnpadded::encode_string(&point[33..]),
            Error::InvalidKey,
        ),
        (
            Base64UrlUnpadded::encode_string(&[0u8; 32]),
            Base64UrlUnpadded::encode_string(&[0u8; 32]),
            Error::InvalidKey,
        ),
    ];
    for (x, y, expected) in cases {
        let jwks =
            format!(r#"{{"keys":[{{"kty":"EC","kid":"w","crv":"P-256","x":"{x}","y":"{y}"}}]}}"#);
        let keys = KeySet::<1>::from_jwks(jwks.as_bytes()).unwrap();
        assert_eq!(keys.keys()[0].usable_for(Algorithm::ES256), Err(expected));
    }
    let foreign = r#"{"keys":[{"kty":"EC","kid":"k","crv":"secp256k1","x":"AA","y":"AA"}]}"#;
    let keys = KeySet::<1>::from_jwks(foreign.as_bytes()).unwrap();
    assert_eq!(
        keys.keys()[0].usable_for(Algorithm::ES256),
        Err(Error::KeyNotUsable)
    );
}
