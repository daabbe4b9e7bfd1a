//! Runs `Unverified::parse` (split, base64url, header and claims JSON) in a loop, for
//! instruction counting:
//!
//! ```text
//! cargo build --release -p koppeltaal-benches --example count_parse
//! valgrind --tool=callgrind target/release/examples/count_parse 2000
//! ```
//! Read the inclusive cost of `Unverified::parse` in `callgrind_annotate --inclusive=yes`.

use koppeltaal_benches::{AUDIENCE, RsaFixture};
use koppeltaal_core::{Policy, Unverified};
fn main() {
    let f = RsaFixture::new(2048, 1);
    let policy = Policy::new(AUDIENCE).unwrap();
    let mut scratch = [0u8; 6144];
    let token = f.tokens[0].as_bytes();
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(1000);
    for _ in 0..rounds {
        let u = Unverified::parse(std::hint::black_box(token), &policy, &mut scratch).unwrap();
        std::hint::black_box(&u);
    }
}
