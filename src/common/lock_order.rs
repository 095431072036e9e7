//! The device core's locks, and why they cannot deadlock.
//!
//! One lock guards what the device's threads share and change together: the store's
//! ([`crate::store::StoreLock`]), over the SQLite database and the identity mirrored
//! from it. The caller's thread (every public call), the engagement thread and the
//! upload thread take it for each read or change. A change that depends on what it
//! reads (a permission reported only when it differs from the stored one, an identify
//! that switches users and reports the device's state for the new one) reads and
//! writes under one hold, so no other call acts on the old state in between.
//!
//! Every other lock of the core is a leaf: nothing else is taken while one is held.
//! They are the recorder's event context, the consent states cache, the deep-link
//! router and promo state, the workers' thread handles and listeners, the registry
//! of instances the one-call `track` looks up, the engagement thread's mailbox (its
//! condition variable waits on the mailbox's own lock only), and the WAL checkpointer's (held while
//! it copies the WAL with a connection of its own, without the store's lock; emptying
//! the WAL under the store's lock waits for it); a leaf may be taken under the store's
//! lock, never the other way round. The checkpointer runs on the upload thread, like
//! the worker, and neither holds the store's lock across an `await`.
//!
//! With a single lock that is ever held while another is taken, there is no order to
//! get wrong: no two threads can each hold what the other waits for. The one deadlock
//! left is a thread taking the store's lock while it already holds it, which
//! [`CoreMutex`] turns into a panic at that call in debug builds (every test run):
//! it marks, per thread, that the lock is held. Release builds skip the check.
//! Poisoning is ignored: the data behind the lock stays consistent because every
//! change to it is a committed transaction or a single assignment.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};

thread_local! {
    /// Whether this thread holds a [`CoreMutex`].
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// The core's one shared lock (see the module's documentation).
pub struct CoreMutex<T> {
    inner: Mutex<T>,
}

/// [`CoreMutex`]'s guard: the thread is marked as holding it until it drops.
pub struct CoreGuard<'a, T> {
    guard: MutexGuard<'a, T>,
}

impl<T> CoreMutex<T> {
    pub fn new(value: T) -> Self {
        CoreMutex {
            inner: Mutex::new(value),
        }
    }

    pub fn lock(&self) -> CoreGuard<'_, T> {
        if cfg!(debug_assertions) {
            assert!(
                !HELD.with(Cell::get),
                "the store's lock taken by a thread that holds it; see common/lock_order.rs"
            );
        }
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        HELD.with(|h| h.set(true));
        CoreGuard { guard }
    }
}

impl<T> Drop for CoreGuard<'_, T> {
    fn drop(&mut self) {
        HELD.with(|h| h.set(false));
    }
}

impl<T> Deref for CoreGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for CoreGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_released_with_its_guard() {
        let store = CoreMutex::new(1);
        *store.lock() += 1;
        assert_eq!(*store.lock(), 2);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the store's lock taken by a thread that holds it")]
    fn taking_the_lock_again_on_the_same_thread_panics_instead_of_deadlocking() {
        let store = CoreMutex::new(());
        let _first = store.lock();
        let _second = store.lock();
    }

    #[test]
    fn another_thread_waits_for_it() {
        let store = std::sync::Arc::new(CoreMutex::new(0));
        let held = store.lock();
        let other = store.clone();
        let waiter = std::thread::spawn(move || *other.lock() += 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !waiter.is_finished(),
            "the other thread waits while the lock is held"
        );
        drop(held);
        waiter.join().unwrap();
        assert_eq!(*store.lock(), 1);
    }
}
