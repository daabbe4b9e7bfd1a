//! `LaunchVerifier::verify` on any bytes, with a fixed key set (an RSA-2048 RS512 key and a
//! P-256 key; `seeds/keys.jwks`) and a fixed time: never a panic, and never an acceptance of a
//! token the seeds did not sign.
#![no_main]

use std::sync::{Mutex, OnceLock};

use koppeltaal_core::{AlgorithmSet, KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};
use libfuzzer_sys::fuzz_target;

type Verifier = LaunchVerifier<TrustedIssuer<8>, ReplayGuard<64>>;

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
    let mut verifier = verifier().lock().unwrap();
    // The seed launches were issued at 1700000000; verify within their lifetime. A token
    // accepted once comes back as Replayed (or, with a full guard, ReplayStoreFull).
    let _ = verifier.verify(data, 1_700_000_010);
});
