//! Where accepted launches are remembered, so that a launch is accepted once: in memory
//! ([`MemoryReplayStore`]), in a journal that survives restarts ([`JournalReplayStore`]), or
//! (feature `redis`) in Redis, shared by every instance of a module.

use std::sync::Mutex;

use koppeltaal_core::{HeapReplayGuard, ReplayKey, ReplayStore as _};

use crate::error::HostError;

mod journal;
#[cfg(feature = "redis")]
mod redis;

pub use journal::{JournalOptions, JournalReplayStore};
#[cfg(feature = "redis")]
pub use redis::{RedisCredentials, RedisFailure, RedisOptions, RedisReplayStore, RedisTls};

/// Remembers accepted tokens and refuses one presented again, for every thread (and, for
/// shared implementations, every process) of a module: the thread-safe, fallible counterpart
/// of the core's `koppeltaal_core::ReplayStore` (which its in-memory guards implement, and
/// which [`MemoryReplayStore`] and [`JournalReplayStore`] build on).
pub trait ReplayStore: Send + Sync {
    /// Records `key` until `forget_at` (Unix seconds) unless it is recorded and live at `now`:
    /// then `Core(Replayed)`. Must be atomic: two concurrent calls with one key never both
    /// succeed. A call that fails for any other reason records nothing, so a retry of the
    /// same launch is judged afresh. Like the core's guards, a store never judges by a time
    /// earlier than the latest it has been given (`Core(Expired)` for a token it may have
    /// forgotten).
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError>;
}

impl<T: ReplayStore + ?Sized> ReplayStore for std::sync::Arc<T> {
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError> {
        (**self).check_and_record(key, forget_at, now)
    }
}

/// The core's replay guard behind a mutex: fast, bounded, and gone when the process ends
/// (a token accepted just before a restart can be accepted again after it, until it expires:
/// use [`JournalReplayStore`] to close that window).
pub struct MemoryReplayStore {
    guard: Mutex<HeapReplayGuard>,
}

impl MemoryReplayStore {
    /// A store for `capacity` live tokens.
    pub fn new(capacity: usize) -> MemoryReplayStore {
        MemoryReplayStore {
            guard: Mutex::new(HeapReplayGuard::with_capacity(capacity)),
        }
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError> {
        let mut guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .check_and_record(key, forget_at, now)
            .map_err(HostError::Core)
    }
}
