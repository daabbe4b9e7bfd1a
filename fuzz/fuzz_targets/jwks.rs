//! Parsing any bytes as a JWKS, then asking every key whether it may verify each algorithm and
//! letting it try: never a panic.
#![no_main]

use koppeltaal_core::{Algorithm, KeySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = KeySet::<8>::from_jwks(data) {
        assert!(keys.len() <= 8);
        for key in keys.keys() {
            for alg in Algorithm::ALL {
                if key.usable_for(alg).is_ok() {
                    let _ = key.verify(alg, b"header.payload", &data[..data.len().min(512)]);
                }
            }
        }
    }
});
