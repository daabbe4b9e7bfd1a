//! Replay protection: remembering the `jti` of every accepted token until it expires.

use sha2::{Digest, Sha256};

use crate::error::Error;

/// What the guard remembers of a token: the first 96 bits of SHA-256 over its issuer and `jti`.
///
/// Keyed by issuer as well as `jti`, so two portals cannot collide (or be made to). 96 bits
/// keep an accidental collision out of reach at any capacity (about 2⁻⁵⁶ at a million live
/// entries); a deliberate one needs a trusted issuer's signing key and ~2⁴⁸ work, and could only
/// make that issuer's own token look replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 12]);

impl ReplayKey {
    /// The key of token `jti` from `issuer`.
    ///
    /// ```
    /// use koppeltaal_core::ReplayKey;
    /// assert_ne!(ReplayKey::new("https://a", "1"), ReplayKey::new("https://a1", ""));
    /// ```
    pub fn new(issuer: &str, jti: &str) -> ReplayKey {
        let issuer_len = u32::try_from(issuer.len()).unwrap_or(u32::MAX);
        let digest = Sha256::new()
            .chain_update(issuer_len.to_be_bytes())
            .chain_update(issuer)
            .chain_update(jti)
            .finalize();
        let mut key = [0u8; 12];
        key.copy_from_slice(&digest[..12]);
        ReplayKey(key)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    /// A key from its digest bytes (as stored by a persistent or shared replay store).
    pub fn from_bytes(bytes: [u8; 12]) -> ReplayKey {
        ReplayKey(bytes)
    }

    fn bucket(&self, buckets: usize) -> usize {
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.0[..8]);
        // `buckets` fits in u32, so the product fits in u64 and the result is below `buckets`.
        (((u64::from_le_bytes(low) >> 32) * buckets as u64) >> 32) as usize
    }
}

/// "No slot" in the index. Links hold a slot's index plus one, so that an empty guard is all
/// zero bits: a `static` guard then lands in `.bss` and costs a device no flash.
const NIL: u32 = 0;

fn link(slot: usize) -> u32 {
    slot as u32 + 1
}

fn slot_of(link: u32) -> usize {
    link as usize - 1
}

/// One remembered token. Opaque: only the guards' storage names it.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    key: ReplayKey,
    forget_at: u64,
    next: u32,
}

const VACANT: Slot = Slot {
    key: ReplayKey([0; 12]),
    forget_at: 0,
    next: NIL,
};

/// Something that remembers accepted tokens and refuses to accept one twice.
///
/// Implemented by [`ReplayGuard`] (fixed capacity, no allocator) and, with the `alloc`
/// feature, [`HeapReplayGuard`] (capacity chosen at run time); the host adapter adds stores
/// shared between processes.
///
/// # Time
///
/// Every call carries the caller's `now`. A guard keeps the highest `now` it has seen (its
/// high-water mark) and judges by that, never by an earlier time: a request that stalled with
/// an old `now`, or a wall clock that stepped back, cannot make it treat a forgotten entry as
/// never seen. A token whose `forget_at` is not after the high-water mark is refused with
/// [`Error::ReplayWindowClosed`], since the guard may already have forgotten it.
pub trait ReplayStore {
    /// Whether `key` could be recorded until `forget_at` (Unix seconds) at `now`: `Ok`, or
    /// [`Error::Replayed`] (recorded and live), [`Error::ReplayWindowClosed`] (`forget_at` not
    /// after the high-water mark), [`Error::ReplayStoreFull`] (no room). Records nothing; a
    /// [`check_and_record`](Self::check_and_record) right after it with the same arguments
    /// succeeds. For a store that must write elsewhere (a journal) before it remembers.
    fn check(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error>;

    /// Records `key` until `forget_at` (Unix seconds) unless [`check`](Self::check) refuses it.
    fn check_and_record(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error>;
}

impl<T: ReplayStore + ?Sized> ReplayStore for &mut T {
    fn check(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error> {
        (**self).check(key, forget_at, now)
    }

    fn check_and_record(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error> {
        (**self).check_and_record(key, forget_at, now)
    }
}

/// A fixed-capacity memory of accepted tokens (`N` entries, 24 bytes each plus a 4-byte index
/// slot), with O(1) check-and-record.
///
/// Entries live in a ring in acceptance order and are found through a chained hash index.
/// An entry is forgotten once its token would be refused as expired anyway. When the ring is
/// full and its oldest entry is still live, expired entries elsewhere are compacted away (at
/// most once per expiry time, so a full guard costs O(N) rarely, not per call); if every
/// entry is live the guard **fails closed** with [`Error::ReplayStoreFull`] rather than forget a
/// token that could still be replayed. Size it for the most tokens you accept within one
/// maximum lifetime plus twice the leeway.
///
/// A verifier records a token only after its signature and every claim check have passed, so
/// forged tokens can neither burn a `jti` nor fill the guard. The guard lives in memory: see the
/// host adapter for what happens across a restart.
///
/// ```
/// use koppeltaal_core::{Error, ReplayGuard, ReplayKey, ReplayStore};
/// let mut guard = ReplayGuard::<2>::new();
/// let key = ReplayKey::new("https://portal", "jti-1");
/// assert_eq!(guard.check_and_record(key, 1_300, 1_000), Ok(()));
/// assert_eq!(guard.check_and_record(key, 1_300, 1_001), Err(Error::Replayed));
/// ```
pub struct ReplayGuard<const N: usize> {
    ring: Ring,
    slots: [Slot; N],
    buckets: [u32; N],
}

impl<const N: usize> Default for ReplayGuard<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReplayGuard<N> {
    const CAPACITY_FITS_INDEX: () =
        assert!(N > 0 && N < u32::MAX as usize, "capacity out of range");

    /// An empty guard. `const`, so a device can keep it in a `static`.
    pub const fn new() -> ReplayGuard<N> {
        let () = Self::CAPACITY_FITS_INDEX;
        ReplayGuard {
            ring: Ring::EMPTY,
            slots: [VACANT; N],
            buckets: [NIL; N],
        }
    }

    /// The number of entries held (live, or expired and not yet evicted).
    pub fn len(&self) -> usize {
        self.ring.len
    }

    /// Whether the guard holds no entries.
    pub fn is_empty(&self) -> bool {
        self.ring.len == 0
    }

    /// The capacity `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Whether `key` is remembered and still live at `now` (or at the high-water mark, if
    /// that is later).
    pub fn contains(&self, key: ReplayKey, now: u64) -> bool {
        Ring::contains(&self.slots, &self.buckets, key, self.ring.at(now))
    }

    /// The highest `now` the guard has been given (0 for a new guard).
    pub fn high_water(&self) -> u64 {
        self.ring.high_water
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.buckets = [NIL; N];
        self.ring = Ring::EMPTY;
    }

    /// The entries held, oldest first, as (key, forget-at) pairs; some may have expired.
    pub fn entries(&self) -> impl Iterator<Item = (ReplayKey, u64)> + '_ {
        self.ring.entries(&self.slots)
    }
}

impl<const N: usize> ReplayStore for ReplayGuard<N> {
    fn check(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error> {
        self.ring
            .check(&mut self.slots, &mut self.buckets, key, forget_at, now)
    }

    fn check_and_record(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error> {
        self.ring
            .check_and_record(&mut self.slots, &mut self.buckets, key, forget_at, now)
    }
}

/// A [`ReplayGuard`] whose capacity is chosen at run time and whose storage is on the heap
/// (a million entries take 28 MiB, too much for any stack).
#[cfg(feature = "alloc")]
pub struct HeapReplayGuard {
    ring: Ring,
    slots: alloc::boxed::Box<[Slot]>,
    buckets: alloc::boxed::Box<[u32]>,
}

#[cfg(feature = "alloc")]
impl HeapReplayGuard {
    /// An empty guard for `capacity` entries (at least 1, less than `u32::MAX`; out-of-range
    /// values are clamped).
    pub fn with_capacity(capacity: usize) -> HeapReplayGuard {
        let capacity = capacity.clamp(1, u32::MAX as usize - 1);
        HeapReplayGuard {
            ring: Ring::EMPTY,
            slots: alloc::vec![VACANT; capacity].into_boxed_slice(),
            buckets: alloc::vec![NIL; capacity].into_boxed_slice(),
        }
    }

    /// The number of entries held (live, or expired and not yet evicted).
    pub fn len(&self) -> usize {
        self.ring.len
    }

    /// Whether the guard holds no entries.
    pub fn is_empty(&self) -> bool {
        self.ring.len == 0
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Whether `key` is remembered and still live at `now` (or at the high-water mark, if
    /// that is later).
    pub fn contains(&self, key: ReplayKey, now: u64) -> bool {
        Ring::contains(&self.slots, &self.buckets, key, self.ring.at(now))
    }

    /// The highest `now` the guard has been given (0 for a new guard).
    pub fn high_water(&self) -> u64 {
        self.ring.high_water
    }

    /// The entries held, oldest first, as (key, forget-at) pairs; some may have expired.
    pub fn entries(&self) -> impl Iterator<Item = (ReplayKey, u64)> + '_ {
        self.ring.entries(&self.slots)
    }
}

#[cfg(feature = "alloc")]
impl ReplayStore for HeapReplayGuard {
    fn check(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error> {
        self.ring
            .check(&mut self.slots, &mut self.buckets, key, forget_at, now)
    }

    fn check_and_record(&mut self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), Error> {
        self.ring
            .check_and_record(&mut self.slots, &mut self.buckets, key, forget_at, now)
    }
}

/// The bookkeeping of a guard; its slots and buckets are passed in, so one implementation
/// serves every storage. `slots` and `buckets` always have the same length, the capacity.
#[derive(Clone, Copy)]
struct Ring {
    /// Ring position of the oldest entry.
    start: usize,
    len: usize,
    /// No compaction before this time: the last one found every entry live until then.
    compact_not_before: u64,
    /// The highest `now` seen: time never runs backwards for the guard.
    high_water: u64,
}

impl Ring {
    const EMPTY: Ring = Ring {
        start: 0,
        len: 0,
        compact_not_before: 0,
        high_water: 0,
    };

    /// The time to judge by: `now`, or the high-water mark if that is later.
    fn at(&self, now: u64) -> u64 {
        self.high_water.max(now)
    }

    fn entries<'s>(&self, slots: &'s [Slot]) -> impl Iterator<Item = (ReplayKey, u64)> + 's {
        let (start, capacity) = (self.start, slots.len());
        (0..self.len).map(move |offset| {
            let slot = &slots[(start + offset) % capacity];
            (slot.key, slot.forget_at)
        })
    }

    fn find(slots: &[Slot], buckets: &[u32], key: ReplayKey) -> Option<usize> {
        let mut next = buckets[key.bucket(buckets.len())];
        while next != NIL {
            let slot = slot_of(next);
            let entry = &slots[slot];
            if entry.key == key {
                return Some(slot);
            }
            next = entry.next;
        }
        None
    }

    fn contains(slots: &[Slot], buckets: &[u32], key: ReplayKey, now: u64) -> bool {
        Self::find(slots, buckets, key).is_some_and(|slot| slots[slot].forget_at > now)
    }

    /// Raises the high-water mark to `now`, then checks that `key` can be recorded (evicting
    /// or compacting expired entries to make room).
    fn check(
        &mut self,
        slots: &mut [Slot],
        buckets: &mut [u32],
        key: ReplayKey,
        forget_at: u64,
        now: u64,
    ) -> Result<(), Error> {
        let now = self.at(now);
        self.high_water = now;
        if forget_at <= now {
            return Err(Error::ReplayWindowClosed {
                forget_at,
                high_water: now,
            });
        }
        let capacity = slots.len();
        if Self::contains(slots, buckets, key, now) {
            return Err(Error::Replayed);
        }
        self.evict_expired_oldest(slots, buckets, now);
        if self.len == capacity && now >= self.compact_not_before {
            self.compact(slots, buckets, now);
        }
        if self.len == capacity {
            return Err(Error::ReplayStoreFull);
        }
        Ok(())
    }

    fn check_and_record(
        &mut self,
        slots: &mut [Slot],
        buckets: &mut [u32],
        key: ReplayKey,
        forget_at: u64,
        now: u64,
    ) -> Result<(), Error> {
        self.check(slots, buckets, key, forget_at, now)?;
        let capacity = slots.len();
        // An expired entry with the same key may still be indexed. It stays harmless: the new
        // entry goes to the front of the chain, so `find` sees it first, and the old one is
        // unlinked by slot when it is evicted.
        let slot = (self.start + self.len) % capacity;
        let bucket = key.bucket(capacity);
        slots[slot] = Slot {
            key,
            forget_at,
            next: buckets[bucket],
        };
        buckets[bucket] = link(slot);
        self.len += 1;
        Ok(())
    }

    /// Makes whatever points at `slot` in its index chain point at `target` (a link) instead
    /// (`target = slots[slot].next` unlinks it).
    fn relink(slots: &mut [Slot], buckets: &mut [u32], slot: usize, target: u32) {
        let bucket = slots[slot].key.bucket(buckets.len());
        if buckets[bucket] == link(slot) {
            buckets[bucket] = target;
            return;
        }
        let mut current = buckets[bucket];
        while current != NIL {
            let next = slots[slot_of(current)].next;
            if next == link(slot) {
                slots[slot_of(current)].next = target;
                return;
            }
            current = next;
        }
    }

    fn evict_expired_oldest(&mut self, slots: &mut [Slot], buckets: &mut [u32], now: u64) {
        while self.len > 0 && slots[self.start].forget_at <= now {
            let next = slots[self.start].next;
            Self::relink(slots, buckets, self.start, next);
            self.start = (self.start + 1) % slots.len();
            self.len -= 1;
        }
    }

    /// Drops every expired entry, keeping the live ones in acceptance order.
    fn compact(&mut self, slots: &mut [Slot], buckets: &mut [u32], now: u64) {
        let capacity = slots.len();
        let mut kept = 0;
        let mut earliest = u64::MAX;
        for offset in 0..self.len {
            let from = (self.start + offset) % capacity;
            let entry = slots[from];
            if entry.forget_at <= now {
                Self::relink(slots, buckets, from, entry.next);
                continue;
            }
            earliest = earliest.min(entry.forget_at);
            let to = (self.start + kept) % capacity;
            if to != from {
                Self::relink(slots, buckets, from, link(to));
                slots[to] = entry;
            }
            kept += 1;
        }
        self.len = kept;
        self.compact_not_before = if kept == capacity { earliest } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> ReplayKey {
        let mut jti = heapless::String::<16>::new();
        core::fmt::write(&mut jti, format_args!("{n}")).unwrap();
        ReplayKey::new("https://portal", &jti)
    }

    #[test]
    fn replay_is_refused_until_forgotten() {
        let mut guard = ReplayGuard::<4>::new();
        assert_eq!(guard.check_and_record(key(1), 100, 10), Ok(()));
        assert_eq!(
            guard.check_and_record(key(1), 100, 99),
            Err(Error::Replayed)
        );
        assert!(guard.contains(key(1), 99));
        assert!(!guard.contains(key(1), 100));
        assert_eq!(guard.check_and_record(key(1), 200, 100), Ok(()));
        assert_eq!(
            guard.check_and_record(key(1), 200, 150),
            Err(Error::Replayed)
        );
    }

    #[test]
    fn fails_closed_when_full_of_live_entries_and_recovers_after_expiry() {
        let mut guard = ReplayGuard::<3>::new();
        for n in 0..3 {
            assert_eq!(guard.check_and_record(key(n), 100, 0), Ok(()));
        }
        assert_eq!(
            guard.check_and_record(key(9), 100, 50),
            Err(Error::ReplayStoreFull)
        );
        for n in 0..3 {
            assert_eq!(
                guard.check_and_record(key(n), 100, 99),
                Err(Error::Replayed)
            );
        }
        assert_eq!(guard.check_and_record(key(9), 200, 100), Ok(()));
        assert_eq!(guard.len(), 1);
    }

    #[test]
    fn compacts_expired_entries_behind_a_live_oldest_one() {
        let mut guard = ReplayGuard::<3>::new();
        assert_eq!(guard.check_and_record(key(0), 1000, 0), Ok(()));
        assert_eq!(guard.check_and_record(key(1), 10, 0), Ok(()));
        assert_eq!(guard.check_and_record(key(2), 1000, 0), Ok(()));
        assert_eq!(
            guard.check_and_record(key(3), 1000, 5),
            Err(Error::ReplayStoreFull)
        );
        // key(1) expires at 10; the oldest (key 0) is still live, yet the slot is reclaimed.
        assert_eq!(guard.check_and_record(key(3), 1000, 10), Ok(()));
        for n in [0, 2, 3] {
            assert_eq!(
                guard.check_and_record(key(n), 1000, 11),
                Err(Error::Replayed),
                "{n}"
            );
        }
        assert_eq!(
            guard.check_and_record(key(4), 1000, 11),
            Err(Error::ReplayStoreFull)
        );
    }

    #[test]
    fn an_older_now_never_revives_a_forgotten_entry() {
        let mut guard = ReplayGuard::<4>::new();
        assert_eq!(guard.check_and_record(key(1), 100, 10), Ok(()));
        // A later request moves time past key(1)'s forget-at; the entry may now be evicted.
        assert_eq!(guard.check_and_record(key(2), 300, 150), Ok(()));
        assert_eq!(guard.high_water(), 150);
        // A request that stalled (or a clock that stepped back) still says 50: key(1) would be
        // live then, and it may have been forgotten, so it is refused, never accepted.
        assert_eq!(
            guard.check_and_record(key(1), 100, 50),
            Err(Error::ReplayWindowClosed {
                forget_at: 100,
                high_water: 150
            })
        );
        assert!(!guard.contains(key(1), 50));
        assert!(
            guard.contains(key(2), 50),
            "judged at the high-water mark, 150"
        );
        assert_eq!(guard.high_water(), 150, "an older now does not lower it");
        // A token live beyond the mark is judged normally.
        assert_eq!(guard.check_and_record(key(3), 200, 50), Ok(()));
        assert_eq!(
            guard.check_and_record(key(3), 200, 60),
            Err(Error::Replayed)
        );
    }

    #[test]
    fn check_alone_records_nothing() {
        let mut guard = ReplayGuard::<1>::new();
        assert_eq!(guard.check(key(1), 100, 10), Ok(()));
        assert_eq!(guard.check(key(1), 100, 10), Ok(()));
        assert!(guard.is_empty());
        assert_eq!(guard.check_and_record(key(1), 100, 10), Ok(()));
        assert_eq!(guard.check(key(1), 100, 11), Err(Error::Replayed));
        assert_eq!(guard.check(key(2), 100, 11), Err(Error::ReplayStoreFull));
        assert_eq!(
            guard.check(key(2), 100, 100).map_err(|e| e.code()),
            Err(602)
        );
    }

    #[test]
    fn index_stays_consistent_through_many_wraps() {
        // Deterministic pseudo-random lifetimes exercise eviction, compaction and relinking.
        let mut guard = ReplayGuard::<17>::new();
        let mut live: heapless::Vec<(u32, u64), 64> = heapless::Vec::new();
        let mut state = 0x9e37_79b9u32;
        for step in 0..5000u32 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let now = u64::from(step);
            let forget_at = now + 1 + u64::from(state % 40);
            live.retain(|(_, until)| *until > now);
            let result = guard.check_and_record(key(step), forget_at, now);
            if live.len() < 17 {
                assert_eq!(result, Ok(()), "step {step}");
                live.push((step, forget_at)).unwrap();
            } else {
                assert_eq!(result, Err(Error::ReplayStoreFull), "step {step}");
            }
            for (n, _) in &live {
                assert!(guard.contains(key(*n), now), "step {step} lost {n}");
            }
        }
    }
}
