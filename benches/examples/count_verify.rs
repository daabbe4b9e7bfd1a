//! Runs `LaunchVerifier::verify` (everything: parse, signature, claims, replay guard) on
//! distinct RS512-2048 or ES256 launches in a loop, for instruction counting of the work
//! around the signature:
//!
//! ```text
//! cargo build --release -p koppeltaal-benches --example count_verify
//! valgrind --tool=callgrind --toggle-collect='*verify_all*' \
//!     target/release/examples/count_verify rs512-2048 1000
//! callgrind_annotate --inclusive=yes callgrind.out.* | head -60
//! ```

use koppeltaal_benches::cases::{Case, Fixture};
use koppeltaal_benches::{AUDIENCE, ISSUER};
use koppeltaal_core::{KeySet, LaunchVerifier, Policy, ReplayGuard, TrustedIssuer};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args
        .next()
        .and_then(|name| Case::from_name(&name))
        .unwrap_or(Case::Rs512With2048);
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let now = koppeltaal_benches::IAT + 60;
    let fixture = Fixture::new(case, count, koppeltaal_benches::IAT);
    let keys = KeySet::from_jwks(fixture.jwks.as_bytes()).expect("JWKS");
    let mut verifier: Box<LaunchVerifier<TrustedIssuer<1>, ReplayGuard<4096>>> =
        Box::new(LaunchVerifier::new(
            TrustedIssuer::new(ISSUER, keys).expect("issuer"),
            Policy::new(AUDIENCE)
                .expect("policy")
                .with_algorithms(koppeltaal_core::AlgorithmSet::HTI),
            ReplayGuard::new(),
        ));
    verify_all(&mut verifier, &fixture.tokens, now);
}

/// The measured part (callgrind's `--toggle-collect`): one verification per token.
#[inline(never)]
fn verify_all(
    verifier: &mut LaunchVerifier<TrustedIssuer<1>, ReplayGuard<4096>>,
    tokens: &[String],
    now: u64,
) {
    for token in tokens {
        let launch = verifier
            .verify(std::hint::black_box(token.as_bytes()), now)
            .expect("launch accepted");
        std::hint::black_box(&launch);
    }
}
