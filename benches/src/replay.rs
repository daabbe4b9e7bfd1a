//! The replay guard in its steady state: full, every check-and-record a miss that forgets the
//! oldest (expired) entry and records a new one.

use koppeltaal_core::{HeapReplayGuard, ReplayKey, ReplayStore};

/// A guard of `capacity` entries kept full, and the next key to present.
pub struct FullGuard {
    guard: HeapReplayGuard,
    capacity: u64,
    next: u64,
}

/// Entry `i` is forgotten at `BASE + i`: when entry `i + capacity` arrives (at `BASE + i`), entry
/// `i` has just expired and is the oldest, so the ring stays full.
const BASE: u64 = 1_000_000;

/// A distinct, well-mixed key per counter (splitmix64), like the SHA-256-derived real ones.
fn key(counter: u64) -> ReplayKey {
    let mut state = counter;
    let mut word = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (word(), word());
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes()[..4]);
    ReplayKey::from_bytes(bytes)
}

impl FullGuard {
    /// A guard of `capacity` entries, filled.
    pub fn new(capacity: usize) -> FullGuard {
        let mut guard = HeapReplayGuard::with_capacity(capacity);
        for i in 0..capacity as u64 {
            guard
                .check_and_record(key(i), BASE + i, BASE - 1)
                .expect("filling the guard");
        }
        FullGuard {
            guard,
            capacity: capacity as u64,
            next: capacity as u64,
        }
    }

    /// Presents a new key, at the time the oldest entry expires: a miss, one eviction, one
    /// insertion. Panics if the guard refuses it (it never should).
    pub fn check_and_record_next(&mut self) {
        let i = self.next;
        self.next += 1;
        let now = BASE + (i - self.capacity);
        self.guard
            .check_and_record(key(i), BASE + i, now)
            .expect("a fresh key in a guard whose oldest entry has expired");
    }

    /// Entries held (always the capacity).
    pub fn len(&self) -> usize {
        self.guard.len()
    }

    /// Never empty once built.
    pub fn is_empty(&self) -> bool {
        self.guard.is_empty()
    }
}
