//! What a mock keeps about the requests it refused.

use std::sync::Mutex;

/// Rejection reasons beyond this many are counted but not kept.
const MAX_KEPT: usize = 1000;

#[derive(Default)]
pub(crate) struct Rejections(Mutex<Vec<String>>);

impl Rejections {
    pub(crate) fn add(&self, reason: String) {
        let mut kept = self.0.lock().unwrap();
        if kept.len() < MAX_KEPT {
            kept.push(reason);
        }
    }

    pub(crate) fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}
