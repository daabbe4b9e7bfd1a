//! What a replay store adds to each launch: `check_and_record` timed on the in-memory guard,
//! the journal and Redis, one after another in one process.
//!
//! ```text
//! redis-server --port 6399 --save "" --appendonly no &
//! cargo run --release -p koppeltaal-benches --example replay_store_cost -- redis://127.0.0.1:6399/ 20000
//! ```
//!
//! Any replay-store URL works (`rediss://`, `redis+sentinel://`, `redis+cluster://`);
//! `REDIS_CA=FILE` trusts a private CA, `REDIS_MIN_REPLICAS=N` waits for N replicas (`WAIT`).

use std::time::{Duration, Instant};

use koppeltaal_core::ReplayKey;
use koppeltaal_host::replay::{
    JournalOptions, JournalReplayStore, MemoryReplayStore, RedisOptions, RedisReplayStore,
    RedisTls, ReplayStore,
};

fn median(store: &dyn ReplayStore, label: &str, count: u32) {
    let now = 1_900_000_000;
    let mut samples: Vec<Duration> = (0..count)
        .map(|n| {
            let key = ReplayKey::new(label, &n.to_string());
            let started = Instant::now();
            store
                .check_and_record(key, now + 360, now)
                .expect("recorded");
            started.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let (median, p99) = (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    );
    println!(
        "{label:<28} median {:>8.2} µs   p99 {:>8.2} µs",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let count: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    median(&MemoryReplayStore::new(1 << 20), "memory", count);
    let journal = std::env::temp_dir().join(format!("replay-cost-{}.journal", std::process::id()));
    median(
        &JournalReplayStore::open_at(
            &journal,
            JournalOptions {
                capacity: 1 << 20,
                sync: false,
            },
            1_900_000_000,
        )
        .unwrap(),
        "journal",
        count,
    );
    median(
        &JournalReplayStore::open_at(
            &journal,
            JournalOptions {
                capacity: 1 << 20,
                sync: true,
            },
            1_900_000_000,
        )
        .unwrap(),
        "journal, fsync per launch",
        count.min(2000),
    );
    let _ = std::fs::remove_file(journal);
    let options = RedisOptions {
        tls: RedisTls::from_files(
            std::env::var_os("REDIS_CA")
                .filter(|file| !file.is_empty())
                .as_deref()
                .map(std::path::Path::new),
            None,
            None,
        )
        .expect("REDIS_CA readable"),
        min_replicas: std::env::var("REDIS_MIN_REPLICAS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        ..RedisOptions::default()
    };
    let label = format!(
        "redis {} (loopback, min replicas {})",
        url.split("://").next().unwrap_or(""),
        options.min_replicas
    );
    let redis = RedisReplayStore::new(&url, options).expect("redis URL");
    println!("{}", redis.check().expect("redis reachable"));
    median(&redis, &label, count);
}
