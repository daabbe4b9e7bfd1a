//! Verifies one launch `COUNT` times (the replay guard emptied before each), for counting
//! instructions under an emulator: run it with `COUNT` = 0 and 10 and divide the difference
//! by 10 (BENCHMARKS.md, "On an ARM gateway"). The launches and keys of the Cortex-M firmware
//! serve here too (`adapters/cortex-m/data`, issued at 1 700 000 000 by
//! https://portal.example.org for Device/42).
//!
//! ```text
//! cargo build --release -p koppeltaal-core --example count_verify --target aarch64-unknown-linux-gnu
//! qemu-aarch64 -L /usr/aarch64-linux-gnu -singlestep -d nochain,exec -D trace.log \
//!     target/aarch64-unknown-linux-gnu/release/examples/count_verify \
//!     adapters/cortex-m/data/portal.jwks adapters/cortex-m/data/rs512-2048.jwt 10
//! grep -c Trace trace.log
//! ```

use koppeltaal_core::{AlgorithmSet, KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};

fn main() {
    let mut arguments = std::env::args().skip(1);
    let (Some(jwks), Some(token)) = (arguments.next(), arguments.next()) else {
        eprintln!("usage: count_verify JWKS_FILE TOKEN_FILE [COUNT]");
        std::process::exit(2);
    };
    let count: usize = arguments
        .next()
        .map_or(1, |count| count.parse().expect("a count"));
    let jwks = std::fs::read(jwks).expect("the JWKS file");
    let token = std::fs::read_to_string(token).expect("the token file");
    let keys = KeySet::<8>::from_jwks(&jwks).expect("a JWKS of at most 8 keys");
    let mut verifier: Box<LaunchVerifier<TrustedIssuer<8>, ReplayGuard<16>>> =
        Box::new(LaunchVerifier::new(
            TrustedIssuer::new("https://portal.example.org", keys).expect("issuer"),
            Policy::new("Device/42")
                .expect("policy")
                .with_algorithms(AlgorithmSet::HTI),
            ReplayGuard::new(),
        ));
    for _ in 0..count {
        verifier.replay_guard_mut().clear();
        let launch = verifier
            .verify(std::hint::black_box(token.trim().as_bytes()), 1_700_000_010)
            .expect("the launch is accepted");
        std::hint::black_box(&launch);
    }
}
