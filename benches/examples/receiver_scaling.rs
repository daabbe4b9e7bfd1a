//! `LaunchReceiver` on one thread and on two sharing one in-memory replay store, alternately
//! with the allocation counter of `compare` counting and not. With short passes (256 launches,
//! 3.5 ms) two threads measure 1.00x one: the second thread starts on the first one's core and
//! the scheduler has not moved it before the pass ends. With 2048 they measure 2.15-2.21x
//! (2026-12-07, 2-core AMD EPYC without IFMA). Not the receiver, nor the counter.
//!
//! ```text
//! cargo run --release -p koppeltaal-benches --example receiver_scaling -- [TOKENS] [ROUNDS]
//! ```

use koppeltaal_benches::cases::{Case, Fixture};
use koppeltaal_benches::counting_alloc::{CountingAllocator, count_allocations};
use koppeltaal_benches::scaling;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() {
    let mut args = std::env::args().skip(1);
    let tokens: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(4096);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(7);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let fixture = Fixture::new(Case::Rs512With2048, tokens, now - 5);
    println!("{tokens} launches per pass, median of {rounds} passes each:");
    for counting in [true, false, true, false] {
        count_allocations(counting);
        let (one, two) = scaling::rates(&fixture, now, rounds);
        println!(
            "allocation counter {:<3}  1 thread {one:>7.0}/s  2 threads {two:>7.0}/s  ({:.2}x)",
            if counting { "on" } else { "off" },
            two / one
        );
    }
}
