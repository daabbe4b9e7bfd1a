//! Every contender of `compare`, under criterion: one group per case (`rs512-2048`, ...), one
//! function per library (`koppeltaal` is our full launch verification, `*-raw` a bare
//! signature check).
//!
//! `cargo bench -p koppeltaal-benches --bench verify [-- FILTER]`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use koppeltaal_benches::cases::{Case, Fixture};
use koppeltaal_benches::contenders::contenders;

fn verify(c: &mut Criterion) {
    for case in Case::ALL {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let fixture = Arc::new(Fixture::new(case, 256, now - 5));
        let tokens = fixture.tokens.len();
        let mut group = c.benchmark_group(case.name());
        for mut contender in contenders(&fixture, now) {
            let mut index = 0;
            group.bench_function(contender.library, |b| {
                b.iter(|| {
                    let outcome = contender.verify(black_box(index));
                    index = (index + 1) % tokens;
                    outcome.expect("a valid token")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
