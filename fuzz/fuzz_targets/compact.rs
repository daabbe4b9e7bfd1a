//! Splitting, decoding and parsing any bytes as a compact JWS: never a panic, never an
//! unbounded allocation (the parser allocates nothing at all).
#![no_main]

use koppeltaal_core::{AlgorithmSet, Compact, Policy, Unverified};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Compact::split(data, 8192);
    let policy = Policy::new("Device/42").unwrap().with_algorithms(AlgorithmSet::HTI);
    let mut scratch = [0u8; 6144];
    if let Ok(unverified) = Unverified::parse(data, &policy, &mut scratch) {
        // A parsed header always names a key (an absent kid is an error before this).
        let _ = unverified.issuer();
        assert!(unverified.header().key_id().len() <= koppeltaal_core::capacity::KEY_ID);
    }
});
