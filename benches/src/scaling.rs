//! The host adapter's `LaunchReceiver` verifying from one thread and from more, with one
//! replay store shared by all of them (in memory, a journal file, or Redis): how the rate
//! scales with cores.

use std::path::PathBuf;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use koppeltaal_core::Policy;
use koppeltaal_host::replay::{
    JournalOptions, JournalReplayStore, MemoryReplayStore, RedisOptions, RedisReplayStore,
};
use koppeltaal_host::{LaunchReceiver, StaticKeys, clock::FixedClock};

use crate::cases::Fixture;
use crate::{AUDIENCE, ISSUER};

/// The replay store the receivers of a measurement share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Store {
    /// `MemoryReplayStore`, sized for every token of the fixture.
    Memory,
    /// `JournalReplayStore` on a fresh file in the temporary directory, without fsync.
    Journal,
    /// `RedisReplayStore` at this URL, with a fresh key prefix per pass.
    Redis(String),
}

impl Store {
    /// The store's name in `compare`'s output.
    pub fn label(&self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Journal => "journal",
            Store::Redis(_) => "redis",
        }
    }
}

/// Distinguishes the passes of one process (journal files, Redis prefixes).
static PASS: AtomicU64 = AtomicU64::new(0);

/// A journal file that is removed when dropped.
struct ScratchFile(PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A receiver for the fixture's issuer with a fresh, empty `store` that holds every token of
/// the fixture (so each verification is an acceptance that records its `jti`); and the
/// journal file to remove afterwards, if any.
fn receiver_with(
    fixture: &Fixture,
    now: u64,
    store: &Store,
) -> (LaunchReceiver, Option<ScratchFile>) {
    let keys = StaticKeys::new()
        .with_jwks(ISSUER, fixture.jwks.as_bytes())
        .expect("fixture JWKS");
    let builder = LaunchReceiver::builder(Policy::new(AUDIENCE).expect("policy"))
        .keys(keys)
        .clock(FixedClock::new(now));
    let pass = PASS.fetch_add(1, Ordering::Relaxed);
    let (builder, scratch) = match store {
        Store::Memory => (
            builder.replay(MemoryReplayStore::new(fixture.tokens.len())),
            None,
        ),
        Store::Journal => {
            let path = std::env::temp_dir().join(format!(
                "koppeltaal-scaling-{}-{pass}.journal",
                std::process::id()
            ));
            let options = JournalOptions {
                capacity: fixture.tokens.len(),
                sync: false,
            };
            let journal = JournalReplayStore::open_at(&path, options, now).expect("journal");
            (builder.replay(journal), Some(ScratchFile(path)))
        }
        Store::Redis(url) => {
            let options = RedisOptions {
                prefix: format!("koppeltaal:bench:{}:{pass}:", std::process::id()),
                ..RedisOptions::default()
            };
            let redis = RedisReplayStore::new(url, options).expect("Redis URL");
            (builder.replay(redis), None)
        }
    };
    (builder.build().expect("receiver"), scratch)
}

/// A receiver with a fresh in-memory store sized for every token of the fixture.
pub fn receiver(fixture: &Fixture, now: u64) -> LaunchReceiver {
    receiver_with(fixture, now, &Store::Memory).0
}

/// Verifies every token of the fixture once, split over `threads` threads (thread `t` takes
/// tokens `t`, `t + threads`, ...), on a new receiver with a fresh `store`; returns the wall
/// time from the moment all threads start to the moment the last one finishes. Panics if any
/// launch is refused.
pub fn one_pass(fixture: &Fixture, now: u64, threads: usize, store: &Store) -> Duration {
    let (receiver, _scratch) = receiver_with(fixture, now, store);
    let start = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (receiver, start) = (&receiver, &start);
                scope.spawn(move || {
                    start.wait();
                    for token in fixture.tokens.iter().skip(thread).step_by(threads) {
                        receiver.receive_token(token).expect("launch accepted");
                    }
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        for worker in workers {
            worker.join().expect("worker");
        }
        began.elapsed()
    })
}

/// Launches per second for each thread count of `threads`, with `store`: passes take the
/// thread counts in turn (`rounds` each) and the median pass of each counts.
pub fn rates_with(
    fixture: &Fixture,
    now: u64,
    rounds: usize,
    threads: &[usize],
    store: &Store,
) -> Vec<f64> {
    let mut passes: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); threads.len()];
    for _ in 0..rounds {
        for (count, samples) in threads.iter().zip(&mut passes) {
            samples.push(one_pass(fixture, now, *count, store));
        }
    }
    passes
        .iter_mut()
        .map(|samples| {
            samples.sort();
            fixture.tokens.len() as f64 / samples[samples.len() / 2].as_secs_f64()
        })
        .collect()
}

/// Launches per second with one thread and with two, on the in-memory store.
pub fn rates(fixture: &Fixture, now: u64, rounds: usize) -> (f64, f64) {
    let rates = rates_with(fixture, now, rounds, &[1, 2], &Store::Memory);
    (rates[0], rates[1])
}
