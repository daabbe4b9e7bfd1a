//! The launch receiver's form-body parser on any bytes, and what it extracts through the
//! token parser: never a panic, never a token from a body with no or two `token` fields.
#![no_main]

use koppeltaal_core::{AlgorithmSet, Policy, Unverified};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = koppeltaal_host::launch::form_token(data) {
        assert!(data.len() <= koppeltaal_host::launch::MAX_FORM_BODY);
        let policy = Policy::new("Device/42").unwrap().with_algorithms(AlgorithmSet::HTI);
        let mut scratch = [0u8; 6144];
        let _ = Unverified::parse(token.as_bytes(), &policy, &mut scratch);
    }
});
