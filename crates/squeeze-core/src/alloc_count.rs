//! Counting heap allocations, for tests and benchmarks of the promise "a steady-state round
//! allocates nothing".
//!
//! [`CountingAllocator`] forwards every call to the system allocator and counts each `alloc`
//! and `realloc` twice over: per thread ([`thread_allocations`], for tests that run in parallel
//! with other tests) and for the whole process ([`total_allocations`], for work spread over a
//! thread pool). Install it in a test binary with `#[global_allocator]`; nothing else in squeeze
//! uses it.
//!
//! ```
//! use squeeze_core::alloc_count::{CountingAllocator, thread_allocations, total_allocations};
//!
//! #[global_allocator]
//! static COUNTING: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     let mut v: Vec<u64> = Vec::with_capacity(8);
//!     let (thread, total) = (thread_allocations(), total_allocations());
//!     v.extend(0..8); // fits the capacity: no allocation
//!     assert_eq!(thread_allocations(), thread);
//!     v.push(8); // grows: one reallocation
//!     assert_eq!(thread_allocations(), thread + 1);
//!     assert!(total_allocations() > total);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A global allocator that counts allocations (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

static TOTAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    TOTAL.fetch_add(1, Ordering::Relaxed);
    // `try_with`: a thread being torn down still allocates; it is counted in the total only.
    let _ = THREAD.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only an
// atomic and a const-initialised thread-local cell, neither of which allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc` is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc` is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (and reallocations) made by this thread so far.
pub fn thread_allocations() -> u64 {
    THREAD.with(Cell::get)
}

/// Allocations (and reallocations) made by every thread of the process so far.
pub fn total_allocations() -> u64 {
    TOTAL.load(Ordering::SeqCst)
}
