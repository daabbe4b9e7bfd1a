//! RS512 verification, RSA-2048 and RSA-4096: our engine, the `rsa` crate 0.10 and `ring`,
//! on the same signatures in one run; and our full launch verification.
//!
//! `cargo bench -p koppeltaal-benches --bench rsa_verify`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use koppeltaal_benches::{NOW, RsaFixture};
use koppeltaal_core::{HashAlgorithm, ReplayGuard, RsaPublicKey};
use ring::signature::{RSA_PKCS1_2048_8192_SHA512, RsaPublicKeyComponents};
use sha2::{Digest, Sha512};
use signature::Verifier as _;

fn rs512(c: &mut Criterion) {
    for bits in [2048, 4096] {
        let fixture = RsaFixture::new(bits, 256);
        let (message, signature) = fixture.parts(0);
        let ours = RsaPublicKey::from_be_bytes(&fixture.n, &fixture.e).expect("key");
        let theirs = rsa::pkcs1v15::VerifyingKey::<Sha512>::new(fixture.private.to_public_key());
        let their_signature =
            rsa::pkcs1v15::Signature::try_from(signature.as_slice()).expect("signature");
        let ring_key = RsaPublicKeyComponents {
            n: &fixture.n,
            e: &fixture.e,
        };

        let mut group = c.benchmark_group(format!("rs512-{bits}"));
        group.bench_function("koppeltaal-raw", |b| {
            b.iter(|| {
                let digest = Sha512::digest(black_box(message));
                ours.verify_digest(HashAlgorithm::Sha512, &digest, black_box(&signature))
                    .expect("verifies")
            })
        });
        group.bench_function("rsa-0.10-raw", |b| {
            b.iter(|| {
                theirs
                    .verify(black_box(message), black_box(&their_signature))
                    .expect("verifies")
            })
        });
        group.bench_function("ring-raw", |b| {
            b.iter(|| {
                ring_key
                    .verify(
                        &RSA_PKCS1_2048_8192_SHA512,
                        black_box(message),
                        black_box(&signature),
                    )
                    .expect("verifies")
            })
        });
        // Full HTI launch: parse, hash, signature, claims and the replay guard. Tokens carry
        // distinct jtis; the guard is cleared each time the list comes round again.
        let mut verifier = fixture.verifier();
        let mut index = 0;
        group.bench_function("koppeltaal-launch", |b| {
            b.iter(|| {
                if index == fixture.tokens.len() {
                    index = 0;
                    let guard: &mut ReplayGuard<1024> = verifier.replay_guard_mut();
                    guard.clear();
                }
                let token = &fixture.tokens[index];
                index += 1;
                verifier
                    .verify(black_box(token.as_bytes()), NOW)
                    .expect("verifies")
            })
        });
        group.finish();
    }
}

/// ES256: our verification (through `p256`) against `ring`'s fixed-form ECDSA, raw.
fn es256(c: &mut Criterion) {
    use koppeltaal_core::{Algorithm, JwsSigner as _, KeySet};
    use p256::elliptic_curve::Generate;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    let signer = koppeltaal_core::EcSigner::p256(p256::ecdsa::SigningKey::generate_from_rng(
        &mut rand::rng(),
    ));
    let mut jwks = Vec::new();
    let mut writer = koppeltaal_core::JwksWriter::new(&mut jwks).expect("writer");
    writer.key(&signer.public_jwk(), None).expect("key");
    writer.finish().expect("finish");
    let keys = KeySet::<1>::from_jwks(&jwks).expect("jwks");
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJQYXRpZW50LzEifQ";
    let mut signature = [0u8; 64];
    signer
        .sign(message, &mut rand::rng(), &mut signature)
        .expect("sign");
    let koppeltaal_core::PublicJwk::P256(public) = signer.public_jwk() else {
        unreachable!()
    };
    let point = public.to_sec1_point(false);
    let ring_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point.as_bytes().to_vec());

    let mut group = c.benchmark_group("es256");
    group.bench_function("koppeltaal-raw", |b| {
        b.iter(|| {
            keys.keys()[0]
                .verify(Algorithm::ES256, black_box(message), black_box(&signature))
                .expect("verifies")
        })
    });
    group.bench_function("ring-raw", |b| {
        b.iter(|| {
            ring_key
                .verify(black_box(message), black_box(&signature))
                .expect("verifies")
        })
    });
    group.finish();
}

criterion_group!(benches, rs512, es256);
criterion_main!(benches);
