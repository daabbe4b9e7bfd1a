//! Project Wycheproof vectors for what an encrypted launch goes through: RSA-OAEP (SHA-1, the
//! `RSA-OAEP` of JWE) and RSA-OAEP-256 (SHA-256 with MGF1-SHA-256; 2048, 3072, 4096 bits)
//! through `RsaOaepKey`; the JWE content encryptions A128CBC-HS256, A192CBC-HS384 and
//! A256CBC-HS512 and AES-GCM (12-byte IV, 16-byte tag) through the content decryption; and
//! AES-CBC-PKCS5 (padding faults) through the CBC-HMAC composition, with a valid MAC computed
//! here so that the padding check itself is what the vector exercises. Every verdict must
//! match; vectors the JWE profile cannot express (an OAEP label, other IV or tag sizes) are
//! counted and skipped.

use hmac::{Hmac, Mac};
use koppeltaal_core::decrypt::decrypt_content;
use koppeltaal_core::{ContentEncryption, Error, KeyManagement, KeyUnwrapper, RsaOaepKey};
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Sha256, Sha384, Sha512};
use wycheproof::TestResult;

/// (checked, skipped)
type Counts = (usize, usize);

fn oaep(name: wycheproof::rsa_oaep::TestName, alg: KeyManagement) -> Counts {
    let set = wycheproof::rsa_oaep::TestSet::load(name).expect("vectors load");
    let (mut checked, mut skipped) = (0, 0);
    for group in &set.test_groups {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&group.pkcs8).expect("PKCS#8 key");
        let key = RsaOaepKey::new(key, None).expect("2048 to 4096 bits");
        for test in &group.tests {
            if !test.label.is_empty() {
                skipped += 1; // JWE uses the empty label
                continue;
            }
            // The content key length the JWE would need: the message's.
            let mut out = vec![0u8; test.pt.len()];
            let verdict = key.unwrap_key(alg, &test.ct, &mut out, &mut rand::rng());
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
            checked += 1;
        }
    }
    (checked, skipped)
}

#[test]
fn rsa_oaep_sha1_and_sha256() {
    use wycheproof::rsa_oaep::TestName;
    let (checked, skipped) = oaep(TestName::Rsa2048Sha1Mgf1Sha1, KeyManagement::RsaOaep);
    assert!(
        checked > 20,
        "{checked} SHA-1 vectors ({skipped} with a label skipped)"
    );
    let mut total = 0;
    for name in [
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa4096Sha256Mgf1Sha256,
    ] {
        total += oaep(name, KeyManagement::RsaOaep256).0;
    }
    assert!(total > 60, "{total} SHA-256 vectors");
    println!("RSA-OAEP: {checked} SHA-1 vectors ({skipped} with a label skipped), {total} SHA-256");
}

fn aead(
    name: wycheproof::aead::TestName,
    enc_for_key: impl Fn(usize) -> ContentEncryption,
) -> Counts {
    let set = wycheproof::aead::TestSet::load(name).expect("vectors load");
    let (mut checked, mut skipped) = (0, 0);
    for group in &set.test_groups {
        for test in &group.tests {
            let enc = enc_for_key(test.key.len());
            if test.nonce.len() != enc.iv_len() || test.tag.len() != enc.tag_len() {
                skipped += 1;
                continue;
            }
            let mut buffer = test.ct.to_vec();
            let verdict = decrypt_content(
                enc,
                &test.key,
                &test.aad,
                &test.nonce,
                &test.tag,
                &mut buffer,
            );
            match test.result {
                TestResult::Valid => {
                    let len = verdict.unwrap_or_else(|e| {
                        panic!("{name:?} #{} {}: {e}", test.tc_id, test.comment)
                    });
                    assert_eq!(&buffer[..len], &test.pt[..], "{name:?} #{}", test.tc_id);
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
            checked += 1;
        }
    }
    (checked, skipped)
}

#[test]
fn jwe_cbc_hmac_compositions() {
    use wycheproof::aead::TestName;
    let cases = [
        (
            TestName::Aes128CbcHmacSha256,
            ContentEncryption::A128CbcHs256,
        ),
        (
            TestName::Aes192CbcHmacSha384,
            ContentEncryption::A192CbcHs384,
        ),
        (
            TestName::Aes256CbcHmacSha512,
            ContentEncryption::A256CbcHs512,
        ),
    ];
    for (name, enc) in cases {
        let (checked, skipped) = aead(name, |_| enc);
        assert!(checked > 20, "{name:?}: {checked}");
        println!("{name:?}: {checked} vectors, {skipped} skipped");
    }
}

#[test]
fn aes_gcm() {
    let (checked, skipped) = aead(
        wycheproof::aead::TestName::AesGcm,
        |key_len| match key_len {
            16 => ContentEncryption::A128Gcm,
            24 => ContentEncryption::A192Gcm,
            _ => ContentEncryption::A256Gcm,
        },
    );
    assert!(
        checked > 100,
        "{checked} checked, {skipped} other IV/tag sizes skipped"
    );
    println!("AES-GCM: {checked} vectors, {skipped} with other IV or tag sizes skipped");
}

/// The CBC-HMAC tag over `ciphertext`, for `enc`'s MAC key `mac_key` (RFC 7518 §5.2.2.1).
fn tag(enc: ContentEncryption, mac_key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let length = [0u8; 8]; // no additional authenticated data
    let full = match enc {
        ContentEncryption::A128CbcHs256 => {
            let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(mac_key).unwrap();
            mac.update(iv);
            mac.update(ciphertext);
            mac.update(&length);
            mac.finalize().into_bytes().to_vec()
        }
        ContentEncryption::A192CbcHs384 => {
            let mut mac = <Hmac<Sha384> as hmac::KeyInit>::new_from_slice(mac_key).unwrap();
            mac.update(iv);
            mac.update(ciphertext);
            mac.update(&length);
            mac.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut mac = <Hmac<Sha512> as hmac::KeyInit>::new_from_slice(mac_key).unwrap();
            mac.update(iv);
            mac.update(ciphertext);
            mac.update(&length);
            mac.finalize().into_bytes().to_vec()
        }
    };
    full[..enc.tag_len()].to_vec()
}

#[test]
fn aes_cbc_pkcs5_padding_through_the_composition() {
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesCbcPkcs5)
        .expect("vectors load");
    let mut checked = 0;
    for group in &set.test_groups {
        for test in &group.tests {
            let enc = match test.key.len() {
                16 => ContentEncryption::A128CbcHs256,
                24 => ContentEncryption::A192CbcHs384,
                _ => ContentEncryption::A256CbcHs512,
            };
            let mac_key = vec![0x5au8; test.key.len()];
            let key = [&mac_key[..], &test.key[..]].concat();
            let tag = tag(enc, &mac_key, &test.nonce, &test.ct);
            let mut buffer = test.ct.to_vec();
            let verdict = decrypt_content(enc, &key, b"", &test.nonce, &tag, &mut buffer);
            match test.result {
                TestResult::Valid => {
                    let len =
                        verdict.unwrap_or_else(|e| panic!("#{} {}: {e}", test.tc_id, test.comment));
                    assert_eq!(&buffer[..len], &test.pt[..], "#{}", test.tc_id);
                }
                TestResult::Invalid => assert_eq!(
                    verdict,
                    Err(Error::DecryptionFailed),
                    "#{} {}",
                    test.tc_id,
                    test.comment
                ),
                TestResult::Acceptable => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    println!("AES-CBC-PKCS5: {checked} vectors");
}
