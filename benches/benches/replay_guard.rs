//! The replay guard full at 1 Ki, 64 Ki and 1 Mi entries: one check-and-record of a new key
//! (a miss, one expired entry forgotten, one recorded).
//!
//! `cargo bench -p koppeltaal-benches --bench replay_guard`

use criterion::{Criterion, criterion_group, criterion_main};
use koppeltaal_benches::replay::FullGuard;

fn replay_guard(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay-guard");
    for (label, capacity) in [("1Ki", 1 << 10), ("64Ki", 1 << 16), ("1Mi", 1 << 20)] {
        let mut guard = FullGuard::new(capacity);
        group.bench_function(label, |b| b.iter(|| guard.check_and_record_next()));
    }
    group.finish();
}

criterion_group!(benches, replay_guard);
criterion_main!(benches);
