//! Our RSA public-key operation against the `rsa` crate's, on arbitrary moduli, exponents,
//! signatures and messages: where both accept the key, `s^e mod n` must be the same number,
//! and the PKCS#1 v1.5 verdicts must agree.
//!
//! Input: a big-endian u16 modulus length, the modulus, one byte of exponent length (at most
//! 8), the exponent, then the signature (the modulus's length) and the message.
#![no_main]

use koppeltaal_core::{Error, HashAlgorithm, RsaPublicKey};
use libfuzzer_sys::fuzz_target;
use rsa::BoxedUint;
use sha2::{Digest, Sha256};
use signature::Verifier;

fn take<'a>(data: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    let (head, rest) = (data.get(..len)?, data.get(len..)?);
    *data = rest;
    Some(head)
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(&[high, low]) = take(&mut data, 2) else { return };
    let n_len = usize::from(u16::from_be_bytes([high, low])).min(600);
    let Some(n) = take(&mut data, n_len) else { return };
    let Some(&[e_len]) = take(&mut data, 1) else { return };
    let Some(e) = take(&mut data, usize::from(e_len % 9)) else { return };
    let Ok(ours) = RsaPublicKey::from_be_bytes(n, e) else { return };
    let Some(signature) = take(&mut data, ours.modulus_len()) else { return };
    let message = data;

    let n_int = BoxedUint::from_be_slice_vartime(n);
    let e_int = BoxedUint::from_be_slice_vartime(e);
    let Ok(theirs) = rsa::RsaPublicKey::new_with_size_limits(n_int, e_int, 1024..=4096) else { return };

    let mut out = [0u8; RsaPublicKey::MAX_BYTES];
    match ours.raw_public_operation(signature, &mut out) {
        Ok(mine) => {
            let s = BoxedUint::from_be_slice_vartime(signature);
            let reference = rsa::hazmat::rsa_encrypt(&theirs, &s).expect("raw operation");
            let reference = reference.to_be_bytes();
            // Compare as numbers: strip the leading zeros of both encodings.
            let strip = |bytes: &[u8]| bytes.iter().position(|b| *b != 0).map_or(Vec::new(), |i| bytes[i..].to_vec());
            assert_eq!(strip(mine), strip(&reference), "s^e mod n differs");
        }
        Err(Error::SignatureOutOfRange) => {
            assert!(BoxedUint::from_be_slice_vartime(signature) >= *rsa::traits::PublicKeyParts::n(&theirs).as_ref());
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }

    let ours_verdict = ours.verify_digest(HashAlgorithm::Sha256, &Sha256::digest(message), signature).is_ok();
    let theirs_verdict = rsa::pkcs1v15::Signature::try_from(signature)
        .map(|sig| rsa::pkcs1v15::VerifyingKey::<Sha256>::new(theirs).verify(message, &sig).is_ok())
        .unwrap_or(false);
    assert_eq!(ours_verdict, theirs_verdict, "verdicts differ");
});
