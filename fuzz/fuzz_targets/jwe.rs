//! Encrypted launches on any bytes: `Jwe::parse`, then `LaunchVerifier::verify_encrypted`
//! with a key unwrapper that passes the content key through in the clear (so the fuzzer holds
//! the key and can reach content decryption and the signed launch inside; seeds in
//! `seeds/jwe` are the RS512 seed launch encrypted that way with every `enc`). Never a panic;
//! never an acceptance of anything the seeds did not sign.
#![no_main]

use std::sync::{Mutex, OnceLock};

use koppeltaal_core::{
    AlgorithmSet, Error, Jwe, KeyManagement, KeySet, KeyUnwrapper, LaunchVerifier, Policy,
    ReplayGuard, TrustedIssuer,
};
use libfuzzer_sys::fuzz_target;

type Verifier = LaunchVerifier<TrustedIssuer<8>, ReplayGuard<64>>;

/// A key "unwrapped" by reading it: the encrypted key segment is the content key.
struct InTheClear;

impl KeyUnwrapper for InTheClear {
    fn key_id(&self) -> Option<&str> {
        None
    }
    fn supports(&self, _: KeyManagement) -> bool {
        true
    }
    fn unwrap_key(
        &self,
        _: KeyManagement,
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

fn verifier() -> &'static Mutex<Box<Verifier>> {
    static VERIFIER: OnceLock<Mutex<Box<Verifier>>> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let keys = KeySet::from_jwks(include_bytes!("../seeds/keys.jwks")).unwrap();
        let issuer = TrustedIssuer::new("https://portal.example.org", keys).unwrap();
        let policy = Policy::new("Device/42").unwrap().with_algorithms(AlgorithmSet::HTI);
        Mutex::new(Box::new(LaunchVerifier::new(issuer, policy, ReplayGuard::new())))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut scratch = [0u8; 1024];
    let _ = Jwe::parse(data, 32 * 1024, &mut scratch).map(|jwe| jwe.ciphertext_len());
    let mut plaintext = vec![0u8; 16 * 1024];
    let mut rng = rand::rng();
    let mut verifier = verifier().lock().unwrap();
    let _ = verifier.verify_encrypted(data, &[&InTheClear], &mut rng, &mut plaintext, 1_700_000_010);
});
