//! The host adapter's `LaunchReceiver` verifying from one thread and from two, with one
//! replay store shared by both: how the rate scales with cores.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use koppeltaal_core::Policy;
use koppeltaal_host::{LaunchReceiver, StaticKeys, clock::FixedClock, replay::MemoryReplayStore};

use crate::cases::Fixture;
use crate::{AUDIENCE, ISSUER};

/// A receiver for the fixture's issuer, with a fresh in-memory replay store sized for every
/// token of the fixture (so each verification is an acceptance that records its `jti`).
pub fn receiver(fixture: &Fixture, now: u64) -> LaunchReceiver {
    let keys = StaticKeys::new()
        .with_jwks(ISSUER, fixture.jwks.as_bytes())
        .expect("fixture JWKS");
    LaunchReceiver::builder(Policy::new(AUDIENCE).expect("policy"))
        .keys(keys)
        .replay(MemoryReplayStore::new(fixture.tokens.len()))
        .clock(FixedClock::new(now))
        .build()
        .expect("receiver")
}

/// Verifies every token of the fixture once, split over `threads` threads (thread `t` takes
/// tokens `t`, `t + threads`, ...), on a new receiver; returns the wall time from the moment
/// all threads start to the moment the last one finishes. Panics if any launch is refused.
pub fn one_pass(fixture: &Fixture, now: u64, threads: usize) -> Duration {
    let receiver = receiver(fixture, now);
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

/// Launches per second with one thread and with two: passes alternate between the two modes
/// (`rounds` each) and the median pass of each mode counts.
pub fn rates(fixture: &Fixture, now: u64, rounds: usize) -> (f64, f64) {
    let mut single = Vec::with_capacity(rounds);
    let mut double = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        single.push(one_pass(fixture, now, 1));
        double.push(one_pass(fixture, now, 2));
    }
    let per_second = |passes: &mut Vec<Duration>| {
        passes.sort();
        fixture.tokens.len() as f64 / passes[passes.len() / 2].as_secs_f64()
    };
    (per_second(&mut single), per_second(&mut double))
}
