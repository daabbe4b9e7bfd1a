//! `LaunchReceiver` on one thread and on two sharing one replay store.
//!
//! With the store `memory` (the default) it alternates the allocation counter of `compare` on
//! and off: with short passes (256 launches, 3.5 ms) two threads measure 1.00x one, because
//! the second thread starts on the first one's core and the scheduler has not moved it before
//! the pass ends; with 2048 they measure 2.15-2.21x (2026-12-07, 2-core AMD EPYC without IFMA).
//! Not the receiver, nor the counter.
//!
//! With `journal` or a Redis URL it times that store alone and reports the CPU time the process
//! used per launch, so that a store whose server shares the machine (Redis on loopback) can be
//! told apart from a store that serialises: compare the CPU time with the server's own
//! (`redis-cli INFO cpu` before and after).
//!
//! ```text
//! cargo run --release -p koppeltaal-benches --example receiver_scaling -- [TOKENS] [ROUNDS] [STORE]
//! ```

use koppeltaal_benches::cases::{Case, Fixture};
use koppeltaal_benches::counting_alloc::{CountingAllocator, count_allocations};
use koppeltaal_benches::scaling::{self, Store};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// User and system CPU time of this process so far, in seconds (`/proc/self/stat`).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks / 100.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let tokens: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(4096);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(7);
    let store = match args.next().as_deref() {
        None | Some("memory") => Store::Memory,
        Some("journal") => Store::Journal,
        Some(url) => Store::Redis(url.to_owned()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let fixture = Fixture::new(Case::Rs512With2048, tokens, now - 5);
    println!(
        "{tokens} launches per pass, median of {rounds} passes each, store {}:",
        store.label()
    );
    if store == Store::Memory {
        for counting in [true, false, true, false] {
            count_allocations(counting);
            let (one, two) = scaling::rates(&fixture, now, rounds);
            println!(
                "allocation counter {:<3}  1 thread {one:>7.0}/s  2 threads {two:>7.0}/s  ({:.2}x)",
                if counting { "on" } else { "off" },
                two / one
            );
        }
        return;
    }
    count_allocations(false);
    for threads in [1, 2] {
        let cpu_before = cpu_seconds();
        let rate = scaling::rates_with(&fixture, now, rounds, &[threads], &store)[0];
        let launches = (rounds * tokens) as f64;
        let cpu = cpu_seconds()
            .zip(cpu_before)
            .map_or(String::from("?"), |(after, before)| {
                format!("{:.1}", (after - before) / launches * 1e6)
            });
        println!("{threads} thread(s): {rate:>7.0}/s, this process's CPU {cpu} µs per launch");
    }
}
