//! Runs the RS512 public-key operation in a loop, for instruction counting (wall-clock time on
//! shared machines is noisy; instruction counts are not):
//!
//! ```text
//! cargo build --release -p koppeltaal-benches --example count_rsa
//! valgrind --tool=callgrind target/release/examples/count_rsa 1000 2048
//! ```
//! Arguments: rounds (default 1000), key bits (default 2048). Key generation is counted too;
//! read the inclusive cost of `RsaPublicKey::verify_digest` in `callgrind_annotate --inclusive=yes`.

use koppeltaal_benches::RsaFixture;
use koppeltaal_core::{HashAlgorithm, RsaPublicKey};
use sha2::{Digest, Sha512};
fn main() {
    let bits: usize = std::env::args()
        .nth(2)
        .map(|a| a.parse().unwrap())
        .unwrap_or(2048);
    let f = RsaFixture::new(bits, 1);
    let (msg, sig) = f.parts(0);
    let key = RsaPublicKey::from_be_bytes(&f.n, &f.e).unwrap();
    let d = Sha512::digest(msg);
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(1000);
    for _ in 0..rounds {
        key.verify_digest(HashAlgorithm::Sha512, &d, std::hint::black_box(&sig))
            .unwrap();
    }
}
