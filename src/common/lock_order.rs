//! The device core's locks and the one order they may be taken in.
//!
//! A call that holds more than one of them takes them in this order, and releases none
//! of them to take an earlier one:
//!
//! 1. [`Rank::ConsentChanges`]: held by a call that reads consent state and then changes
//!    it, so two such calls cannot both act on the old state.
//! 2. [`Rank::Identity`]: the user's ids and traits, read by every event.
//! 3. [`Rank::Store`]: the SQLite database, shared by the caller's thread, the upload
//!    thread and the engagement thread.
//!
//! Every other lock of the core (the recorder's context, the consent states cache, the
//! deep link router, the workers' thread handles) is a leaf: nothing else is taken while
//! one is held.
//!
//! The ranked locks can only be taken through [`OrderedMutex`] and [`OrderedRwLock`],
//! which keep, per thread, the ranks held. In debug builds (every test run) taking a lock
//! whose rank is not above all those held panics at once, naming both, on the path that
//! does it, whether or not another thread happens to be waiting: an order that could
//! deadlock fails a test instead of hanging a phone. Release builds skip the check.
//! Poisoning is ignored: the data behind these locks stays consistent because every
//! change to it is a committed transaction or a single assignment.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The ranked locks, in the order they are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    ConsentChanges = 1,
    Identity = 2,
    Store = 3,
}

impl Rank {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

thread_local! {
    /// The ranks this thread holds, one bit each.
    static HELD: Cell<u8> = const { Cell::new(0) };
}

fn acquire(rank: Rank) {
    let held = HELD.with(Cell::get);
    if cfg!(debug_assertions) {
        // Any held rank at or above this one breaks the order (or re-enters the lock).
        let at_or_above = !(rank.bit() - 1);
        assert!(
            held & at_or_above == 0,
            "lock order: {rank:?} taken while holding {:?}; see common/lock_order.rs",
            held_ranks(held)
        );
    }
    HELD.with(|h| h.set(held | rank.bit()));
}

fn release(rank: Rank) {
    HELD.with(|h| h.set(h.get() & !rank.bit()));
}

fn held_ranks(held: u8) -> Vec<Rank> {
    [Rank::ConsentChanges, Rank::Identity, Rank::Store]
        .into_iter()
        .filter(|r| held & r.bit() != 0)
        .collect()
}

/// A guard of a ranked lock: the rank stays marked held until it drops.
pub struct Ordered<G> {
    guard: G,
    rank: Rank,
}

impl<G> Drop for Ordered<G> {
    fn drop(&mut self) {
        release(self.rank);
    }
}

impl<G: Deref> Deref for Ordered<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for Ordered<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

/// A mutex with its place in the order.
pub struct OrderedMutex<T> {
    rank: Rank,
    inner: Mutex<T>,
}

impl<T> OrderedMutex<T> {
    pub fn new(rank: Rank, value: T) -> Self {
        OrderedMutex {
            rank,
            inner: Mutex::new(value),
        }
    }

    pub fn lock(&self) -> Ordered<MutexGuard<'_, T>> {
        acquire(self.rank);
        Ordered {
            guard: self.inner.lock().unwrap_or_else(|p| p.into_inner()),
            rank: self.rank,
        }
    }
}

/// A reader-writer lock with its place in the order.
pub struct OrderedRwLock<T> {
    rank: Rank,
    inner: RwLock<T>,
}

impl<T> OrderedRwLock<T> {
    pub fn new(rank: Rank, value: T) -> Self {
        OrderedRwLock {
            rank,
            inner: RwLock::new(value),
        }
    }

    pub fn read(&self) -> Ordered<RwLockReadGuard<'_, T>> {
        acquire(self.rank);
        Ordered {
            guard: self.inner.read().unwrap_or_else(|p| p.into_inner()),
            rank: self.rank,
        }
    }

    pub fn write(&self) -> Ordered<RwLockWriteGuard<'_, T>> {
        acquire(self.rank);
        Ordered {
            guard: self.inner.write().unwrap_or_else(|p| p.into_inner()),
            rank: self.rank,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_taken_in_order_are_released_with_their_guards() {
        let consent = OrderedMutex::new(Rank::ConsentChanges, ());
        let identity = OrderedRwLock::new(Rank::Identity, 1);
        let store = OrderedMutex::new(Rank::Store, 2);
        {
            let _c = consent.lock();
            let i = identity.read();
            let mut s = store.lock();
            *s += *i;
        }
        // Everything was released: any of them may be taken first again.
        assert_eq!(*store.lock(), 3);
        *identity.write() = 5;
        assert_eq!(*identity.read(), 5);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "lock order: Identity taken while holding [Store]")]
    fn taking_an_earlier_lock_while_holding_a_later_one_panics() {
        let identity = OrderedRwLock::new(Rank::Identity, ());
        let store = OrderedMutex::new(Rank::Store, ());
        let _s = store.lock();
        let _i = identity.read();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "lock order: Store taken while holding [Store]")]
    fn taking_a_lock_the_thread_holds_panics_instead_of_deadlocking() {
        let store = OrderedMutex::new(Rank::Store, ());
        let _first = store.lock();
        let _second = store.lock();
    }

    #[test]
    fn ranks_are_per_thread() {
        let store = std::sync::Arc::new(OrderedMutex::new(Rank::Store, 0));
        let identity = OrderedRwLock::new(Rank::Identity, ());
        let _held_here = identity.read();
        let other = store.clone();
        // Another thread holds nothing of this one's.
        std::thread::spawn(move || *other.lock() += 1)
            .join()
            .unwrap();
        assert_eq!(*store.lock(), 1);
    }
}
