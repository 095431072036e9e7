//! Failures a test asks a mock to answer with, instead of accepting a valid request.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// A provider failure, answered the way each provider really answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// FCM 404 `UNREGISTERED`; APNs 410 `Unregistered`; webhook 410.
    Unregistered,
    /// FCM 400 `INVALID_ARGUMENT` on `message.token`; APNs 400 `BadDeviceToken`;
    /// webhook 400.
    BadToken,
    /// 429 (FCM `QUOTA_EXCEEDED`, APNs `TooManyRequests`), with this `Retry-After`.
    TooManyRequests { retry_after: Option<String> },
    /// 503, with this `Retry-After`.
    Unavailable { retry_after: Option<String> },
    /// 500.
    InternalError,
    /// FCM 401 `UNAUTHENTICATED`; APNs 403 `ExpiredProviderToken`; webhook 401.
    StaleCredentials,
}

/// Replies queued for the next requests, and replies for every request to one token
/// or address.
#[derive(Default)]
pub(crate) struct Script {
    /// Skips both locks on the hot path of a benchmark that scripts nothing.
    armed: AtomicBool,
    sequence: Mutex<VecDeque<Reply>>,
    per_key: Mutex<HashMap<String, Reply>>,
}

impl Script {
    pub(crate) fn push_sequence(&self, replies: impl IntoIterator<Item = Reply>) {
        self.sequence.lock().unwrap().extend(replies);
        self.armed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn set_for(&self, key: &str, reply: Reply) {
        self.per_key.lock().unwrap().insert(key.to_string(), reply);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// The scripted reply for a request to `key`: its own one first, else the next
    /// queued one.
    pub(crate) fn next(&self, key: &str) -> Option<Reply> {
        if !self.armed.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(reply) = self.per_key.lock().unwrap().get(key) {
            return Some(reply.clone());
        }
        self.sequence.lock().unwrap().pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_key_replies_persist_and_queued_ones_are_used_once_in_order() {
        let script = Script::default();
        assert_eq!(script.next("a"), None);
        script.push_sequence([Reply::InternalError, Reply::Unregistered]);
        script.set_for("gone", Reply::Unregistered);
        assert_eq!(script.next("gone"), Some(Reply::Unregistered));
        assert_eq!(script.next("gone"), Some(Reply::Unregistered));
        assert_eq!(script.next("a"), Some(Reply::InternalError));
        assert_eq!(script.next("b"), Some(Reply::Unregistered));
        assert_eq!(script.next("a"), None);
    }
}
