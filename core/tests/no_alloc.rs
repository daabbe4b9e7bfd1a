//! Verifying needs no allocator: a counting global allocator sees zero allocations during
//! `LaunchVerifier::verify` (accepting and refusing) and during `KeySet::from_jwks`.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use koppeltaal_core::{Error, KeySet, Policy};
use serde_json::json;
use support::*;

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        }
    });
}

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the number of allocations this thread made in it.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    let result = f();
    COUNTING.with(|counting| counting.set(false));
    (result, ALLOCATIONS.with(Cell::get))
}

#[test]
fn the_counter_counts() {
    let (_, allocations) = count_allocations(|| std::hint::black_box(vec![1u8; 16]));
    assert_eq!(allocations, 1);
}

#[test]
fn rs512_verify_allocates_nothing() {
    let mut verifier = verifier();
    let token = portal_key().sign("RS512", &claims());
    let (outcome, allocations) = count_allocations(|| verifier.verify(token.as_bytes(), NOW));
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(allocations, 0);

    let (outcome, allocations) = count_allocations(|| verifier.verify(token.as_bytes(), NOW));
    assert_eq!(outcome.err(), Some(Error::Replayed));
    assert_eq!(allocations, 0);

    let forged = forged(&claims_with("jti", json!("x")));
    let (outcome, allocations) = count_allocations(|| verifier.verify(forged.as_bytes(), NOW));
    assert_eq!(outcome.err(), Some(Error::BadSignature));
    assert_eq!(allocations, 0);
}

#[test]
fn rs512_verify_with_rsa_4096_allocates_nothing() {
    let key = TestKey::generate("portal-4096", 4096);
    let mut verifier = verifier_with(&jwks(&[key.jwk("")]), Policy::new(AUDIENCE).unwrap());
    let token = key.sign("RS512", &claims());
    let (outcome, allocations) = count_allocations(|| verifier.verify(token.as_bytes(), NOW));
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(allocations, 0);
}

/// ES256 and ES512 launches, produced by our signers, verified with no allocation.
#[test]
fn es256_and_es512_verify_allocates_nothing() {
    use koppeltaal_core::{Algorithm, AlgorithmSet, EcSigner, JwksWriter, LaunchToken, PublicJwk};
    use p256::elliptic_curve::Generate;
    let mut rng = rand::rng();
    let signers = [
        EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng)),
        EcSigner::p521(p521::ecdsa::SigningKey::generate_from_rng(&mut rng)),
    ];
    let mut document = Vec::new();
    let mut writer = JwksWriter::new(&mut document).unwrap();
    for signer in &signers {
        let jwk: PublicJwk<'_> = signer.public_jwk();
        writer.key(&jwk, None).unwrap();
    }
    writer.finish().unwrap();
    let policy = Policy::new(AUDIENCE)
        .unwrap()
        .with_algorithms(AlgorithmSet::HTI);
    let mut verifier = verifier_with(std::str::from_utf8(&document).unwrap(), policy);
    for (signer, alg) in signers.iter().zip([Algorithm::ES256, Algorithm::ES512]) {
        let token = LaunchToken::new(
            ISSUER,
            AUDIENCE,
            "Patient/1",
            "Task/1",
            "https://m.example/AD/1",
            IAT,
        )
        .unwrap()
        .sign_to_string(signer, &mut rng)
        .unwrap();
        let (outcome, allocations) = count_allocations(|| verifier.verify(token.as_bytes(), NOW));
        assert_eq!(outcome.map(|launch| launch.algorithm()), Ok(alg));
        assert_eq!(allocations, 0, "{alg:?}");
    }
}

#[test]
fn loading_a_key_set_allocates_nothing() {
    let document = jwks(&[
        portal_key().jwk(r#","use":"sig","alg":"RS512""#),
        attacker_key().jwk(""),
    ]);
    let (keys, allocations) = count_allocations(|| KeySet::<4>::from_jwks(document.as_bytes()));
    assert_eq!(keys.map(|keys| keys.len()), Ok(2));
    assert_eq!(allocations, 0);
}

/// With the feature `es256-tables` (on in these tests) each P-256 key's precomputed table is
/// the one allocation of loading it (8 KiB, on 64-bit targets); other keys still cost none.
#[test]
fn loading_p256_keys_allocates_one_table_each() {
    use koppeltaal_core::{EcSigner, JwksWriter, PublicJwk};
    use p256::elliptic_curve::Generate;
    let mut rng = rand::rng();
    let signers: Vec<EcSigner> = (0..3)
        .map(|_| EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng)))
        .collect();
    let mut document = Vec::new();
    let mut writer = JwksWriter::new(&mut document).unwrap();
    for signer in &signers {
        let jwk: PublicJwk<'_> = signer.public_jwk();
        writer.key(&jwk, None).unwrap();
    }
    writer.finish().unwrap();
    let (keys, allocations) = count_allocations(|| KeySet::<4>::from_jwks(&document));
    assert_eq!(keys.map(|keys| keys.len()), Ok(3));
    let expected = if cfg!(target_pointer_width = "64") {
        3
    } else {
        0
    };
    assert_eq!(allocations, expected);
}

/// A key held by a secure element, which here "wraps" by passing the key through: what the
/// core does around it (parsing, content decryption, the launch's verification) is measured.
struct SecureElement;

impl koppeltaal_core::KeyWrapper for SecureElement {
    fn key_id(&self) -> Option<&str> {
        Some("se-1")
    }
    fn algorithm(&self) -> koppeltaal_core::KeyManagement {
        koppeltaal_core::KeyManagement::RsaOaep256
    }
    fn wrap_key(&self, key: &[u8], _: &mut dyn rand_core::CryptoRng) -> Result<Vec<u8>, Error> {
        Ok(key.to_vec())
    }
}

impl koppeltaal_core::KeyUnwrapper for SecureElement {
    fn key_id(&self) -> Option<&str> {
        Some("se-1")
    }
    fn supports(&self, _: koppeltaal_core::KeyManagement) -> bool {
        true
    }
    fn unwrap_key(
        &self,
        _: koppeltaal_core::KeyManagement,
        encrypted_key: &[u8],
        key: &mut [u8],
        _: &mut dyn rand_core::CryptoRng,
    ) -> Result<(), Error> {
        if encrypted_key.len() != key.len() {
            return Err(Error::DecryptionFailed);
        }
        key.copy_from_slice(encrypted_key);
        Ok(())
    }
}

#[test]
fn decrypting_and_verifying_an_encrypted_launch_allocates_nothing() {
    use koppeltaal_core::{ContentEncryption, encrypt_token};
    let mut verifier = verifier();
    let mut rng = rand::rng();
    for enc in [ContentEncryption::A128CbcHs256, ContentEncryption::A256Gcm] {
        let signed = portal_key().sign("RS512", &claims_with("jti", json!(enc.as_str())));
        let token = encrypt_token(&signed, &SecureElement, enc, &mut rng).unwrap();
        let mut plaintext = [0u8; 8192];
        let (outcome, allocations) = count_allocations(|| {
            verifier.verify_encrypted(
                token.as_bytes(),
                &[&SecureElement],
                &mut rng,
                &mut plaintext,
                NOW,
            )
        });
        assert!(outcome.is_ok(), "{enc:?}: {outcome:?}");
        assert_eq!(allocations, 0, "{enc:?}");
        // A refusal allocates nothing either.
        let mut tampered = token.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let (outcome, allocations) = count_allocations(|| {
            verifier.verify_encrypted(&tampered, &[&SecureElement], &mut rng, &mut plaintext, NOW)
        });
        assert_eq!(outcome.err(), Some(Error::DecryptionFailed), "{enc:?}");
        assert_eq!(allocations, 0, "{enc:?}");
    }
}
