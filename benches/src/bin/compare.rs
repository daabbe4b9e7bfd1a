//! Every contender on the same tokens, interleaved, in one process: a Markdown table of median
//! time, verifications per second and allocations per verification, then one line per ratio
//! `ratio <our-case>/<peer-case> <our median / theirs>`, the replay guard at 1 Ki, 64 Ki and
//! 1 Mi entries, and the host receiver's scaling from one thread to two.
//!
//! ```text
//! cargo run --release -p koppeltaal-benches --bin compare              # the full run (~1 min)
//! cargo run --release -p koppeltaal-benches --bin compare -- --quick   # seconds; the tests run this
//! cargo run --release -p koppeltaal-benches --features aws-lc --bin compare   # with aws-lc-rs
//! cargo run --release -p koppeltaal-benches --bin compare -- --section encrypted   # one part
//! ```
//!
//! It asserts no times: it fails only when a contender refuses a valid token.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use koppeltaal_benches::cases::{Case, Fixture};
use koppeltaal_benches::contenders::{Contender, contenders};
use koppeltaal_benches::counting_alloc::{CountingAllocator, allocations, count_allocations};
use koppeltaal_benches::replay::FullGuard;
use koppeltaal_benches::scaling;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// How long a run takes: the full one, or `--quick`.
struct Settings {
    tokens: usize,
    rounds: usize,
    batch_time: Duration,
    replay_rounds: usize,
    scaling_rounds: usize,
    /// Launches per scaling pass: enough that a pass lasts tens of milliseconds. With 256
    /// (3.5 ms on one thread) the second thread is still on the first one's core when the
    /// pass ends (Linux starts a new thread beside its parent and spreads threads only at its
    /// next load balancing), and two threads measured 1.00x one.
    scaling_tokens: usize,
}

const FULL: Settings = Settings {
    tokens: 256,
    rounds: 25,
    batch_time: Duration::from_millis(15),
    replay_rounds: 25,
    scaling_rounds: 15,
    scaling_tokens: 2048,
};

const QUICK: Settings = Settings {
    tokens: 8,
    rounds: 3,
    batch_time: Duration::from_millis(1),
    replay_rounds: 3,
    scaling_rounds: 1,
    scaling_tokens: 64,
};

/// One contender's measurements.
struct Measured {
    contender: Contender,
    next: usize,
    batch: usize,
    per_verify: Vec<Duration>,
    allocations: u64,
    verifications: u64,
}

impl Measured {
    /// Verifies the next `count` tokens (round robin), returning the time taken.
    fn run(&mut self, count: usize, tokens: usize) -> Duration {
        let began = Instant::now();
        for _ in 0..count {
            if let Err(error) = self.contender.verify(self.next) {
                panic!(
                    "{} refused valid token {}: {error}",
                    self.contender.name(),
                    self.next
                );
            }
            self.next = (self.next + 1) % tokens;
        }
        began.elapsed()
    }

    fn median(&self) -> Duration {
        median(&self.per_verify)
    }
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// Measures every contender of one case, interleaved: each round runs one batch of each, in
/// an order that rotates from round to round.
fn measure_case(case: Case, settings: &Settings) -> Vec<Measured> {
    let now = unix_now();
    // Issued a little in the past: the peers check `exp` against the system clock.
    let fixture = Arc::new(Fixture::new(case, settings.tokens, now - 5));
    let mut all: Vec<Measured> = contenders(&fixture, now)
        .into_iter()
        .map(|contender| Measured {
            contender,
            next: 0,
            batch: 1,
            per_verify: Vec::new(),
            allocations: 0,
            verifications: 0,
        })
        .collect();
    // Warm-up, and proof that everyone accepts every token: one pass over the list.
    for measured in &mut all {
        let took = measured.run(settings.tokens, settings.tokens);
        let each = took / settings.tokens as u32;
        measured.batch = (settings.batch_time.as_nanos() / each.as_nanos().max(1)).max(1) as usize;
    }
    for round in 0..settings.rounds {
        let count = all.len();
        for offset in 0..count {
            let measured = &mut all[(offset + round) % count];
            let before = allocations();
            let took = measured.run(measured.batch, settings.tokens);
            measured.allocations += allocations() - before;
            measured.verifications += measured.batch as u64;
            measured.per_verify.push(took / measured.batch as u32);
        }
    }
    all
}

fn print_table(results: &[Measured]) {
    println!(
        "| case | contender | median µs | verifies/s | allocations per verify | what it checks |"
    );
    println!("|---|---|---:|---:|---:|---|");
    for measured in results {
        let median = measured.median();
        println!(
            "| {} | {} | {:.1} | {:.0} | {} | {} |",
            measured.contender.case.name(),
            measured.contender.library,
            median.as_secs_f64() * 1e6,
            1.0 / median.as_secs_f64(),
            format_allocations(measured.allocations, measured.verifications),
            measured.contender.checks,
        );
    }
}

/// Allocations per call: exact when whole, else to two decimals (with the count, so a rare
/// allocation is not rounded away).
fn format_allocations(allocations: u64, calls: u64) -> String {
    if allocations.is_multiple_of(calls) {
        format!("{}", allocations / calls)
    } else {
        format!(
            "{:.2} ({allocations} in {calls})",
            allocations as f64 / calls as f64
        )
    }
}

fn print_ratios(results: &[Measured]) {
    for case in Case::ALL {
        let of_case: Vec<&Measured> = results
            .iter()
            .filter(|measured| measured.contender.case == case)
            .collect();
        let Some(ours) = of_case.iter().find(|measured| measured.contender.is_ours()) else {
            continue;
        };
        for peer in of_case
            .iter()
            .filter(|measured| !measured.contender.is_ours())
        {
            let ratio = ours.median().as_secs_f64() / peer.median().as_secs_f64();
            // Two decimals, or three significant digits for a small ratio (an unoptimised
            // peer in `--quick`), so that none prints as 0.00.
            // (log10 is negative there: subtract it as a float, then cap for a zero median.)
            let decimals = if ratio >= 0.1 {
                2
            } else {
                (2.0 - ratio.log10().floor()).min(12.0) as usize
            };
            println!(
                "ratio {}/{} {ratio:.decimals$}",
                ours.contender.name(),
                peer.contender.name(),
            );
        }
    }
}

/// The replay guard, full, at each size: median time per check-and-record.
fn replay_guard(settings: &Settings) {
    const BATCH: usize = 20_000;
    println!();
    println!(
        "| replay guard (`HeapReplayGuard`, full) | median ns per check-and-record | allocations per call |"
    );
    println!("|---|---:|---:|");
    for (label, capacity) in [("1 Ki", 1 << 10), ("64 Ki", 1 << 16), ("1 Mi", 1 << 20)] {
        let mut guard = FullGuard::new(capacity);
        assert_eq!(guard.len(), capacity);
        let mut samples = Vec::with_capacity(settings.replay_rounds);
        let before = allocations();
        for _ in 0..settings.replay_rounds {
            let began = Instant::now();
            for _ in 0..BATCH {
                guard.check_and_record_next();
            }
            samples.push(began.elapsed() / BATCH as u32);
        }
        let allocated = allocations() - before;
        let calls = (settings.replay_rounds * BATCH) as u64;
        println!(
            "| {label} entries | {:.0} | {} |",
            median(&samples).as_secs_f64() * 1e9,
            format_allocations(allocated, calls)
        );
    }
}

/// An encrypted launch as portals send it today (RSA-2048 RSA-OAEP, A128CBC-HS256), whole
/// and step by step, and josekit (OpenSSL) decrypting the same tokens.
fn encrypted_launch(settings: &Settings) {
    let now = unix_now();
    let fixture =
        koppeltaal_benches::encrypted::EncryptedFixture::new(settings.tokens.min(64), now - 5);
    let before = allocations();
    let steps = koppeltaal_benches::encrypted::measure(&fixture, now, settings.rounds);
    let _ = allocations() - before;
    let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
    println!();
    println!(
        "| encrypted launch (RSA-2048 RSA-OAEP + A128CBC-HS256 around RS512) | median µs per launch |"
    );
    println!("|---|---:|");
    println!(
        "| ours: decrypt, verify, record (`verify_encrypted`, AWS-LC unwrapping: the host's default) | {:.1} |",
        micros(steps.whole)
    );
    println!(
        "| ours: the same with the `rsa` crate unwrapping (`no_std`, `--no-default-features`) | {:.1} |",
        micros(steps.whole_rsa_crate)
    );
    println!(
        "| ours: RSA-OAEP unwrap alone (AWS-LC, blinded) | {:.1} |",
        micros(steps.unwrap)
    );
    println!(
        "| ours: RSA-OAEP unwrap alone (`rsa` crate, blinded) | {:.1} |",
        micros(steps.unwrap_rsa_crate)
    );
    println!(
        "| ours: parse and content decryption alone | {:.1} |",
        micros(steps.content)
    );
    println!(
        "| ours: the signed launch inside alone | {:.1} |",
        micros(steps.inner)
    );
    println!(
        "| josekit (OpenSSL): decrypt only | {:.1} |",
        micros(steps.josekit)
    );
    println!();
    println!(
        "ratio encrypted-launch-ours-whole/josekit-decrypt {:.2}",
        steps.whole.as_secs_f64() / steps.josekit.as_secs_f64()
    );
    println!(
        "ratio encrypted-launch-ours-whole-rsa-crate/josekit-decrypt {:.2}",
        steps.whole_rsa_crate.as_secs_f64() / steps.josekit.as_secs_f64()
    );
    println!(
        "share encrypted-launch unwrap/whole {:.2}",
        steps.unwrap.as_secs_f64() / steps.whole.as_secs_f64()
    );
}

/// `LaunchReceiver` (RS512, RSA-2048) on one thread, two, and as many as the machine has, with
/// a shared replay store: in memory, a journal file, and Redis when `KOPPELTAAL_BENCH_REDIS`
/// names one (`redis://127.0.0.1:6399/`).
fn receiver_scaling(settings: &Settings) {
    let now = unix_now();
    let fixture = Fixture::new(Case::Rs512With2048, settings.scaling_tokens, now - 5);
    let receiver = scaling::receiver(&fixture, now);
    let before = allocations();
    for token in &fixture.tokens {
        receiver.receive_token(token).expect("launch accepted");
    }
    let per_launch = format_allocations(allocations() - before, fixture.tokens.len() as u64);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut threads = vec![1, 2];
    if cores > 2 {
        threads.push(cores);
    }
    let mut stores = vec![scaling::Store::Memory, scaling::Store::Journal];
    let redis = std::env::var("KOPPELTAAL_BENCH_REDIS").ok();
    if let Some(url) = &redis {
        stores.push(scaling::Store::Redis(url.clone()));
    }
    println!();
    println!(
        "| `LaunchReceiver::receive_token`, RS512 RSA-2048, one shared replay store | threads | launches/s | × 1 thread |"
    );
    println!("|---|---:|---:|---:|");
    let mut summaries = Vec::new();
    for store in &stores {
        // Not counted while timed: threads would contend on the counter's cache line.
        count_allocations(false);
        let rates = scaling::rates_with(&fixture, now, settings.scaling_rounds, &threads, store);
        count_allocations(true);
        for (count, rate) in threads.iter().zip(&rates) {
            println!(
                "| {} | {count} | {rate:.0} | {:.2} |",
                store.label(),
                rate / rates[0]
            );
        }
        summaries.push((store.label(), rates[1] / rates[0]));
    }
    println!();
    println!("allocations per launch (memory store): {per_launch}");
    for (label, ratio) in &summaries {
        println!("scaling launch-receiver-rs512-2048-{label} 2-threads/1-thread {ratio:.2}");
    }
    if redis.is_none() {
        println!(
            "redis: SKIPPED, set KOPPELTAAL_BENCH_REDIS=redis://HOST:PORT/ to measure the receiver on Redis"
        );
    }
    // The memory store's figure under the name BENCHMARKS.md and the tests use.
    println!(
        "scaling launch-receiver-rs512-2048 2-threads/1-thread {:.2}",
        summaries[0].1
    );
}

fn main() {
    let mut settings = &FULL;
    let mut only: Vec<Case> = Vec::new();
    let mut sections: Vec<String> = Vec::new();
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--quick" => settings = &QUICK,
            "--section" => match arguments.next() {
                Some(name) if SECTIONS.contains(&name.as_str()) => sections.push(name),
                _ => usage(),
            },
            name => match Case::from_name(name) {
                Some(case) => only.push(case),
                None => usage(),
            },
        }
    }
    let section = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    let cases = if only.is_empty() {
        Case::ALL.to_vec()
    } else {
        only
    };
    println!(
        "compare: {} tokens per case, {} interleaved rounds, batches of ~{} ms; {}; {} logical CPUs",
        settings.tokens,
        settings.rounds,
        settings.batch_time.as_millis(),
        cpu_name(),
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    if section("verify") {
        println!();
        let mut results = Vec::new();
        for case in cases {
            results.extend(measure_case(case, settings));
        }
        print_table(&results);
        println!();
        print_ratios(&results);
    }
    if section("verify") {
        es256_key_load(settings);
    }
    if section("replay") {
        replay_guard(settings);
    }
    if section("scaling") {
        receiver_scaling(settings);
    }
    if section("encrypted") {
        encrypted_launch(settings);
    }
}

/// What loading an ES256 key costs with its table (feature `es256-tables`): `KeySet::from_jwks`
/// of a one-key JWKS, the price paid once per key per JWKS fetch.
fn es256_key_load(settings: &Settings) {
    let fixture = Fixture::new(Case::Es256, 1, unix_now());
    let rounds = settings.rounds.max(5) * 20;
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let began = Instant::now();
            let keys = koppeltaal_core::KeySet::<1>::from_jwks(fixture.jwks.as_bytes())
                .expect("fixture JWKS");
            std::hint::black_box(&keys);
            began.elapsed()
        })
        .collect();
    samples.sort();
    println!();
    println!(
        "es256 key load (`KeySet::from_jwks`, one P-256 key, its 8 KiB table built): median {:.1} µs",
        samples[samples.len() / 2].as_secs_f64() * 1e6
    );
}

/// The parts of a run `--section` selects (all of them by default).
const SECTIONS: [&str; 4] = ["verify", "replay", "scaling", "encrypted"];

fn usage() -> ! {
    eprintln!(
        "usage: compare [--quick] [--section {}]... [CASE ...]   (cases: {})",
        SECTIONS.join("|"),
        Case::ALL.map(Case::name).join(", ")
    );
    std::process::exit(2);
}
