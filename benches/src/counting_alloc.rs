//! A global allocator that counts allocations, so a benchmark can report how many each
//! verification makes. Install it in a binary:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: koppeltaal_benches::counting_alloc::CountingAllocator =
//!     koppeltaal_benches::counting_alloc::CountingAllocator;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(true);

/// Turns counting on (the default) or off. Off while threads are timed: every thread's
/// allocations would otherwise bump one shared counter, whose cache line then moves between
/// the cores at each allocation and costs the threads what the benchmark means to measure.
pub fn count_allocations(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

fn counted() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The system allocator, counting every `alloc`, `alloc_zeroed` and `realloc`.
pub struct CountingAllocator;

/// Allocations made by the whole process so far (only when [`CountingAllocator`] is the
/// global allocator; otherwise always 0).
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
