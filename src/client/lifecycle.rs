//! An instance's life: its working parts are reachable only while it runs.
//!
//! Every public call reaches the SDK's parts through [`Lifecycle::running`], so no call
//! can forget to check for a shut-down instance; what still answers after shutdown
//! (the ids, the open report) says so by using [`Lifecycle::in_any_state`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::error::ClientError;
use super::instance_lock::InstanceLock;

pub(super) struct Lifecycle<T> {
    parts: T,
    running: AtomicBool,
    /// Held while running; released by [`Lifecycle::stop`] so another instance may
    /// open the data directory.
    lock: Mutex<Option<InstanceLock>>,
}

impl<T> Lifecycle<T> {
    pub(super) fn start(parts: T, lock: InstanceLock) -> Self {
        Lifecycle {
            parts,
            running: AtomicBool::new(true),
            lock: Mutex::new(Some(lock)),
        }
    }

    /// The parts, unless the instance was shut down.
    pub(super) fn running(&self) -> Result<&T, ClientError> {
        if self.running.load(Ordering::Acquire) {
            Ok(&self.parts)
        } else {
            Err(ClientError::ShutDown)
        }
    }

    /// The parts whatever the state, for answers that stay true after shutdown.
    pub(super) fn in_any_state(&self) -> &T {
        &self.parts
    }

    /// Stops the instance once: later calls to [`Lifecycle::running`] fail, `stop`
    /// runs with the parts, then the data directory is released. Calls after the first
    /// do nothing.
    pub(super) fn stop(&self, stop: impl FnOnce(&T)) {
        let mut lock = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if lock.is_some() {
            self.running.store(false, Ordering::Release);
            stop(&self.parts);
            *lock = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn parts_are_reachable_only_until_stopped_and_stopping_happens_once() {
        let dir = tempfile::tempdir().unwrap();
        let lifecycle = Lifecycle::start(7, InstanceLock::acquire(dir.path()).unwrap());
        assert_eq!(lifecycle.running().copied().unwrap(), 7);
        let stops = Cell::new(0);
        lifecycle.stop(|parts| {
            assert_eq!(*parts, 7);
            stops.set(stops.get() + 1);
        });
        lifecycle.stop(|_| stops.set(stops.get() + 1));
        assert_eq!(stops.get(), 1);
        assert!(matches!(lifecycle.running(), Err(ClientError::ShutDown)));
        assert_eq!(*lifecycle.in_any_state(), 7);
        // The directory is free again.
        InstanceLock::acquire(dir.path()).unwrap();
    }
}
