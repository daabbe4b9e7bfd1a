//! The two RSA-OAEP unwrappers of a host, AWS-LC's (the default) and the `rsa` crate's: both
//! give every Project Wycheproof RSA-OAEP verdict (SHA-1, and SHA-256 at 2048, 3072 and 4096
//! bits), and they agree with each other on launches encrypted here and on every corruption of
//! their encrypted keys.
#![cfg(feature = "aws-lc")]

use koppeltaal_core::{Error, KeyManagement, KeyUnwrapper, RsaOaepPublicKey, encrypt_token};
use koppeltaal_host::jwe::{AwsLcOaepKey, ContentEncryption, RsaOaepKey};
use koppeltaal_host::{Algorithm, PrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use wycheproof::TestResult;

fn host_key(pkcs8: &[u8]) -> PrivateKey {
    let rsa = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8).expect("PKCS#8 key");
    PrivateKey::from_pem(&rsa.to_pkcs8_pem(LineEnding::LF).expect("PEM")).expect("key")
}

/// (checked, skipped): every vector through AWS-LC, and through the `rsa` crate for the same
/// verdict.
fn wycheproof(name: wycheproof::rsa_oaep::TestName, alg: KeyManagement) -> (usize, usize) {
    let set = wycheproof::rsa_oaep::TestSet::load(name).expect("vectors load");
    let (mut checked, mut skipped) = (0, 0);
    for group in &set.test_groups {
        let key = host_key(&group.pkcs8);
        let aws_lc = AwsLcOaepKey::new(&key, None).expect("2048 to 4096 bits");
        let rust = RsaOaepKey::new(
            rsa::RsaPrivateKey::from_pkcs8_der(&group.pkcs8).unwrap(),
            None,
        )
        .unwrap();
        for test in &group.tests {
            if !test.label.is_empty() {
                skipped += 1; // JWE uses the empty label
                continue;
            }
            let mut out = vec![0u8; test.pt.len()];
            let verdict = aws_lc.unwrap_key(alg, &test.ct, &mut out, &mut rand::rng());
            match test.result {
                TestResult::Valid => {
                    assert_eq!(verdict, Ok(()), "{name:?} #{} {}", test.tc_id, test.comment);
                    assert_eq!(&out[..], &test.pt[..], "{name:?} #{}", test.tc_id);
                }
                TestResult::Invalid => assert_eq!(
                    verdict,
                    Err(Error::DecryptionFailed),
                    "{name:?} #{} {}",
                    test.tc_id,
                    test.comment
                ),
                TestResult::Acceptable => {}
            }
            let mut other = vec![0u8; test.pt.len()];
            let rust_verdict = rust.unwrap_key(alg, &test.ct, &mut other, &mut rand::rng());
            assert_eq!(verdict, rust_verdict, "{name:?} #{}", test.tc_id);
            if verdict.is_ok() {
                assert_eq!(out, other, "{name:?} #{}", test.tc_id);
            }
            checked += 1;
        }
    }
    (checked, skipped)
}

#[test]
fn aws_lc_gives_every_wycheproof_verdict_and_the_rsa_crate_the_same() {
    use wycheproof::rsa_oaep::TestName;
    let (checked, skipped) = wycheproof(TestName::Rsa2048Sha1Mgf1Sha1, KeyManagement::RsaOaep);
    assert!(checked > 20, "{checked} SHA-1 vectors ({skipped} skipped)");
    let mut total = 0;
    for name in [
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa4096Sha256Mgf1Sha256,
    ] {
        total += wycheproof(name, KeyManagement::RsaOaep256).0;
    }
    assert!(total > 60, "{total} SHA-256 vectors");
    println!(
        "RSA-OAEP in AWS-LC: {checked} SHA-1 vectors ({skipped} with a label skipped), {total} SHA-256"
    );
}

#[test]
fn both_unwrap_what_a_portal_encrypted_and_refuse_every_corruption_alike() {
    let module = PrivateKey::generate(Algorithm::RS512).unwrap();
    let aws_lc = AwsLcOaepKey::new(&module, Some("enc")).unwrap();
    let rust = RsaOaepKey::new(
        rsa::RsaPrivateKey::from_pkcs8_pem(
            &module
                .to_pem(koppeltaal_host::keys::PemFormat::Pkcs8)
                .unwrap(),
        )
        .unwrap(),
        Some("enc"),
    )
    .unwrap();
    for alg in [KeyManagement::RsaOaep, KeyManagement::RsaOaep256] {
        let recipient = RsaOaepPublicKey::new(
            rsa::RsaPrivateKey::from_pkcs8_pem(
                &module
                    .to_pem(koppeltaal_host::keys::PemFormat::Pkcs8)
                    .unwrap(),
            )
            .unwrap()
            .to_public_key(),
            alg,
            None,
        )
        .unwrap();
        let token = encrypt_token(
            "a.b.c",
            &recipient,
            ContentEncryption::A128CbcHs256,
            &mut rand::rng(),
        )
        .unwrap();
        let wrapped = {
            use base64ct::{Base64UrlUnpadded, Encoding};
            Base64UrlUnpadded::decode_vec(token.split('.').nth(1).unwrap()).unwrap()
        };
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        aws_lc
            .unwrap_key(alg, &wrapped, &mut a, &mut rand::rng())
            .unwrap();
        rust.unwrap_key(alg, &wrapped, &mut b, &mut rand::rng())
            .unwrap();
        assert_eq!(a, b, "{alg:?}");
        // The wrong content key length is refused, as a wrong key would be.
        let mut short = [0u8; 16];
        assert_eq!(
            aws_lc.unwrap_key(alg, &wrapped, &mut short, &mut rand::rng()),
            Err(Error::DecryptionFailed)
        );
        // A flipped bit anywhere, a short and a long ciphertext, and the other OAEP hash.
        let other = match alg {
            KeyManagement::RsaOaep => KeyManagement::RsaOaep256,
            _ => KeyManagement::RsaOaep,
        };
        let mut corruptions: Vec<(KeyManagement, Vec<u8>)> = (0..wrapped.len())
            .step_by(17)
            .map(|index| {
                let mut bad = wrapped.clone();
                bad[index] ^= 0x40;
                (alg, bad)
            })
            .collect();
        corruptions.push((alg, wrapped[1..].to_vec()));
        corruptions.push((alg, [&wrapped[..], &[0]].concat()));
        corruptions.push((alg, Vec::new()));
        corruptions.push((other, wrapped.clone()));
        for (alg, bad) in corruptions {
            let mut out = [0u8; 32];
            assert_eq!(
                aws_lc.unwrap_key(alg, &bad, &mut out, &mut rand::rng()),
                Err(Error::DecryptionFailed),
                "{alg:?} {} bytes",
                bad.len()
            );
            assert_eq!(
                rust.unwrap_key(alg, &bad, &mut out, &mut rand::rng()),
                Err(Error::DecryptionFailed)
            );
        }
    }
}

#[test]
fn only_rsa_keys_of_2048_to_4096_bits_become_decryption_keys() {
    let ec = PrivateKey::generate(Algorithm::ES256).unwrap();
    assert!(matches!(
        AwsLcOaepKey::new(&ec, None),
        Err(koppeltaal_host::HostError::Key(_))
    ));
    // A 1024-bit key is refused when read, before it could become a decryption key.
    let small = rsa::RsaPrivateKey::new(&mut rand::rng(), 1024).unwrap();
    assert!(matches!(
        PrivateKey::from_pem(&small.to_pkcs8_pem(LineEnding::LF).unwrap()),
        Err(koppeltaal_host::HostError::Core(Error::KeyTooSmall {
            bits: 1024
        }))
    ));
    let key = PrivateKey::generate(Algorithm::RS512).unwrap();
    let long_kid = "k".repeat(300);
    assert!(AwsLcOaepKey::new(&key, Some(&long_kid)).is_err());
    // The default decrypter is AWS-LC's, known by the key's thumbprint.
    let default = key.decrypter().unwrap();
    assert_eq!(default.key_id(), Some(key.key_id().unwrap().as_str()));
}
