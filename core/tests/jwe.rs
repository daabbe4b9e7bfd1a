//! Encrypted launches (HTI:jwe) through the core: every `alg` x `enc` round trip, then the
//! signed launch inside verified exactly as a plain one; tampering of each segment, another
//! recipient, an unsigned/expired/misaddressed/replayed inner token, key selection by `kid`
//! and without one, and sizes.

mod support;

use koppeltaal_core::{
    ContentEncryption, Error, KeyManagement, KeyUnwrapper, Policy, RsaOaepKey, RsaOaepPublicKey,
    encrypt_token,
};
use serde_json::json;
use support::*;

fn module_key() -> &'static rsa::RsaPrivateKey {
    static KEY: std::sync::OnceLock<rsa::RsaPrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap())
}

fn other_key() -> &'static rsa::RsaPrivateKey {
    static KEY: std::sync::OnceLock<rsa::RsaPrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap())
}

fn recipient(key: &rsa::RsaPrivateKey, alg: KeyManagement, kid: Option<&str>) -> RsaOaepPublicKey {
    RsaOaepPublicKey::new(key.to_public_key(), alg, kid).unwrap()
}

fn decrypter(key: &rsa::RsaPrivateKey, kid: Option<&str>) -> RsaOaepKey {
    RsaOaepKey::new(key.clone(), kid).unwrap()
}

/// What portals send today: RSA-OAEP, A128CBC-HS256, no kid.
fn encrypted(signed: &str) -> String {
    encrypt_token(
        signed,
        &recipient(module_key(), KeyManagement::RsaOaep, None),
        ContentEncryption::A128CbcHs256,
        &mut rand::rng(),
    )
    .unwrap()
}

fn verify(token: &str, keys: &[&dyn KeyUnwrapper]) -> Result<(), Error> {
    let mut plaintext = [0u8; 8192];
    verifier()
        .verify_encrypted(
            token.as_bytes(),
            keys,
            &mut rand::rng(),
            &mut plaintext,
            NOW,
        )
        .map(|_| ())
}

#[test]
fn every_alg_and_enc_round_trips_into_the_same_verification() {
    let key = decrypter(module_key(), None);
    for alg in [KeyManagement::RsaOaep, KeyManagement::RsaOaep256] {
        for enc in ContentEncryption::ALL {
            let signed = portal_key().sign("RS512", &claims());
            let token = encrypt_token(
                &signed,
                &recipient(module_key(), alg, None),
                enc,
                &mut rand::rng(),
            )
            .unwrap();
            assert_eq!(token.split('.').count(), 5);
            let mut verifier = verifier();
            let mut plaintext = [0u8; 8192];
            let mut decrypt = |now| {
                verifier.verify_encrypted(
                    token.as_bytes(),
                    &[&key],
                    &mut rand::rng(),
                    &mut plaintext,
                    now,
                )
            };
            let launch = decrypt(NOW).unwrap_or_else(|e| panic!("{alg:?} {enc:?}: {e}"));
            assert_eq!(launch.resource(), "Task/11");
            assert_eq!(
                decrypt(NOW + 1).err(),
                Some(Error::Replayed),
                "{alg:?} {enc:?}"
            );
        }
    }
}

/// Flips one bit in segment `index` of a compact token, keeping it valid base64url.
fn flip(token: &str, index: usize) -> String {
    let mut segments: Vec<Vec<u8>> = token.split('.').map(unb64).collect();
    let segment = &mut segments[index];
    let middle = segment.len() / 2;
    segment[middle] ^= 0x01;
    segments
        .iter()
        .map(|s| b64(s))
        .collect::<Vec<_>>()
        .join(".")
}

#[test]
fn tampering_with_any_segment_or_the_wrong_key_gives_one_error() {
    let key = decrypter(module_key(), None);
    let token = encrypted(&portal_key().sign("RS512", &claims()));
    assert_eq!(verify(&token, &[&key]), Ok(()));
    // Encrypted key (OAEP padding), IV, ciphertext, tag: one error, one code, whatever broke.
    for index in 1..5 {
        assert_eq!(
            verify(&flip(&token, index), &[&key]),
            Err(Error::DecryptionFailed),
            "segment {index}"
        );
    }
    // The protected header is the additional authenticated data: adding a member to it
    // breaks the tag, not the parser.
    let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
    let header: serde_json::Value = serde_json::from_slice(&unb64(&segments[0])).unwrap();
    let mut altered = header.clone();
    altered["kid"] = json!("smuggled");
    let kid_key = decrypter(module_key(), Some("smuggled"));
    segments[0] = b64(altered.to_string().as_bytes());
    assert_eq!(
        verify(&segments.join("."), &[&kid_key]),
        Err(Error::DecryptionFailed)
    );
    // Encrypted to another module: the same error.
    let elsewhere = decrypter(other_key(), None);
    assert_eq!(verify(&token, &[&elsewhere]), Err(Error::DecryptionFailed));
    // A tag cut short, an IV of the wrong length: the same error again.
    let mut short_tag: Vec<String> = token.split('.').map(str::to_owned).collect();
    short_tag[4] = b64(&unb64(&short_tag[4])[..15]);
    assert_eq!(
        verify(&short_tag.join("."), &[&key]),
        Err(Error::DecryptionFailed)
    );
    let mut long_iv: Vec<String> = token.split('.').map(str::to_owned).collect();
    long_iv[2] = b64(&[0u8; 20]);
    assert_eq!(
        verify(&long_iv.join("."), &[&key]),
        Err(Error::DecryptionFailed)
    );
}

#[test]
fn the_launch_inside_is_judged_like_any_other() {
    let key = decrypter(module_key(), None);
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"portal-2048"}"#),
        b64(claims().to_string().as_bytes())
    );
    let cases = [
        (encrypted(&unsigned), Error::ForbiddenAlgorithm),
        (
            encrypted(&portal_key().sign("RS512", &{
                let mut stale = claims();
                stale["iat"] = json!(NOW - 400);
                stale["exp"] = json!(NOW - 100);
                stale
            })),
            Error::Expired {
                exp: NOW - 100,
                now: NOW,
            },
        ),
        (
            encrypted(&portal_key().sign("RS512", &claims_with("aud", json!("Device/7")))),
            Error::WrongAudience,
        ),
        (encrypted(&forged(&claims())), Error::BadSignature),
    ];
    for (token, expected) in cases {
        assert_eq!(verify(&token, &[&key]), Err(expected));
    }
    // Replay: the same encrypted launch twice, and the same signed launch in two envelopes.
    let signed = portal_key().sign("RS512", &claims_with("jti", json!("once-only")));
    let (first, second) = (encrypted(&signed), encrypted(&signed));
    assert_ne!(first, second, "fresh content key and IV each time");
    let mut verifier = verifier();
    let mut plaintext = [0u8; 8192];
    let mut run = |token: &str| {
        verifier
            .verify_encrypted(
                token.as_bytes(),
                &[&key],
                &mut rand::rng(),
                &mut plaintext,
                NOW,
            )
            .map(|_| ())
    };
    assert_eq!(run(&first), Ok(()));
    assert_eq!(run(&second), Err(Error::Replayed));
    assert_eq!(run(&signed), Err(Error::Replayed), "or unwrapped");
}

#[test]
fn a_kid_selects_the_key_and_without_one_each_is_tried() {
    let first = decrypter(other_key(), Some("old"));
    let second = decrypter(module_key(), Some("new"));
    let signed = || {
        portal_key().sign(
            "RS512",
            &claims_with(
                "jti",
                json!(koppeltaal_core::uuid_v4(&mut rand::rng()).as_str()),
            ),
        )
    };
    let anonymous = encrypted(&signed());
    assert_eq!(verify(&anonymous, &[&first, &second]), Ok(()));
    let named = encrypt_token(
        &signed(),
        &recipient(module_key(), KeyManagement::RsaOaep256, Some("new")),
        ContentEncryption::A256Gcm,
        &mut rand::rng(),
    )
    .unwrap();
    assert_eq!(verify(&named, &[&first, &second]), Ok(()));
    // Named for a key this module does not hold.
    let stranger = encrypt_token(
        &signed(),
        &recipient(module_key(), KeyManagement::RsaOaep256, Some("retired")),
        ContentEncryption::A256Gcm,
        &mut rand::rng(),
    )
    .unwrap();
    assert_eq!(
        verify(&stranger, &[&first, &second]),
        Err(Error::UnknownDecryptionKey)
    );
    // Named for one key but encrypted to another: it is not tried with the others.
    let misnamed = encrypt_token(
        &signed(),
        &recipient(module_key(), KeyManagement::RsaOaep, Some("old")),
        ContentEncryption::A128CbcHs256,
        &mut rand::rng(),
    )
    .unwrap();
    assert_eq!(
        verify(&misnamed, &[&first, &second]),
        Err(Error::DecryptionFailed)
    );
}

#[test]
fn sizes_and_forms() {
    let key = decrypter(module_key(), None);
    let policy = Policy::new(AUDIENCE).unwrap();
    let oversized = format!("{}.{}", "a".repeat(policy.max_encrypted_len()), "b.c.d.e");
    assert_eq!(verify(&oversized, &[&key]), Err(Error::TokenTooLarge));
    assert_eq!(verify("a.b.c.d.", &[&key]), Err(Error::MalformedToken));
    // Without a key, an encrypted launch keeps its own refusal.
    let token = encrypted(&portal_key().sign("RS512", &claims()));
    assert_eq!(
        verifier().verify(token.as_bytes(), NOW).err(),
        Some(Error::EncryptedToken)
    );
    // A plaintext buffer too small for the content.
    let mut small = [0u8; 64];
    assert_eq!(
        verifier()
            .verify_encrypted(token.as_bytes(), &[&key], &mut rand::rng(), &mut small, NOW)
            .err(),
        Some(Error::TokenTooLarge)
    );
    // Only a signed token is encrypted.
    assert_eq!(
        encrypt_token(
            "not.signed",
            &recipient(module_key(), KeyManagement::RsaOaep, None),
            ContentEncryption::A128Gcm,
            &mut rand::rng()
        )
        .err(),
        Some(Error::NotSignedInside)
    );
}
