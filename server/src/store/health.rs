//! Whether the database is known to be damaged.
//!
//! A backend reports damage as [`StoreError::Damaged`] (SQLite: a page that fails its
//! own checks, `SQLITE_CORRUPT` or `SQLITE_NOTADB`). The first such answer, from any
//! call, marks the store damaged for the rest of the process: every write is refused
//! from then on without reaching the backend, so nothing more goes into a file that is
//! already damaged, while reads still go through (what is readable stays readable).
//! Only an operator can clear it, by repairing the file and restarting the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::StoreError;

#[derive(Debug, Default)]
pub(super) struct Health {
    damaged: AtomicBool,
    /// What the backend said the first time.
    first: OnceLock<String>,
}

impl Health {
    pub fn is_damaged(&self) -> bool {
        self.damaged.load(Ordering::Acquire)
    }

    /// `Err` once the database is known to be damaged: the write must not start.
    pub fn admit_write(&self) -> Result<(), StoreError> {
        if !self.is_damaged() {
            return Ok(());
        }
        let first = self.first.get().map_or("", String::as_str);
        Err(StoreError::Damaged {
            detail: format!("writes are refused since the database was found damaged ({first})"),
        })
    }

    /// Notes what a backend call returned; the first damage marks the store damaged
    /// and logs, once, what happened and what the operator must do (`repair`).
    pub fn observe<T>(
        &self,
        result: Result<T, StoreError>,
        repair: impl FnOnce() -> String,
    ) -> Result<T, StoreError> {
        if let Err(StoreError::Damaged { detail }) = &result {
            let _ = self.first.set(detail.clone());
            if !self.damaged.swap(true, Ordering::AcqRel) {
                tracing::error!(
                    error = %detail,
                    "the database is damaged: from now on every write is refused (devices \
                     keep their events and retry), reads still work and /readyz answers \
                     503. {}",
                    repair()
                );
            }
        }
        result
    }
}
