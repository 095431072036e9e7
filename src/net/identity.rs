//! The server's refusals of identity tokens, read from its answers, and asking the app
//! for new tokens (once per refused token), for uploads and the sync alike.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::protocol::{ErrorAnswer, IdentityProblem, IdentityRefusal};
use crate::text::quote;

/// What the app implements to hand Beckon a new identity token when the server refuses
/// the one it has (or got none). Called on Beckon's upload thread ("beckon-upload"),
/// one call at a time, with no lock held: get the token from the app's backend on a
/// thread of the app's own and hand it over with `set_identity_token`, which may also
/// be called from inside the callback. Do not call `flush` or `sync` from here: they
/// wait for the thread this runs on.
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait IdentityTokenListener: Send + Sync {
    /// The server refused `user_id`'s token for `problem` (`Expired`: fetch a fresh
    /// one). The user's events stay queued until a new token arrives. Called once per
    /// user and refused token; `user_id` may be a user who has since logged out, whose
    /// events were queued before.
    fn identity_token_needed(&self, user_id: String, problem: IdentityProblem);
}

/// The users an error answer refuses for their identity, when it is such an answer: a
/// 401 whose body lists them.
pub fn identity_refusals(code: u16, body: &[u8]) -> Option<Vec<IdentityRefusal>> {
    if code != 401 {
        return None;
    }
    let answer: ErrorAnswer = serde_json::from_slice(body).ok()?;
    let refusals = answer.identity_refusals()?;
    (!refusals.is_empty()).then(|| refusals.to_vec())
}

/// How many users a description names before it only counts the rest.
const NAMED_IN_DESCRIPTION: usize = 3;

/// The readable reason for `stats().last_error` and a flush's report: who and why.
pub fn describe_refusals(refusals: &[IdentityRefusal]) -> String {
    let mut named: Vec<String> = refusals
        .iter()
        .take(NAMED_IN_DESCRIPTION)
        .map(|r| format!("user {} ({})", quote(&r.user_id), r.problem.as_str()))
        .collect();
    if refusals.len() > NAMED_IN_DESCRIPTION {
        named.push(format!(
            "{} more users",
            refusals.len() - NAMED_IN_DESCRIPTION
        ));
    }
    format!(
        "the server refused the identity token of {}: their events stay queued until \
         the app sets a new token (set_identity_token)",
        named.join(", ")
    )
}

/// One refused token: the user and a digest of the token sent (`None`: none was).
type Refused = (String, Option<u64>);

/// Past this many, the record of refusals already reported starts over (at worst the
/// app is asked once more for a token it was asked for before), and the oldest refusal
/// waiting for a listener goes.
const MAX_TOLD: usize = 256;

/// The refusals of `refusals` to tell the app about: those whose user and token sent
/// (`sent`, by user) are not in `told`, each once.
pub(crate) fn untold<'a>(
    refusals: &'a [IdentityRefusal],
    sent: &BTreeMap<String, String>,
    told: &HashSet<Refused>,
) -> Vec<(&'a IdentityRefusal, Refused)> {
    let mut seen = HashSet::new();
    refusals
        .iter()
        .map(|refusal| {
            let token = sent.get(&refusal.user_id).map(|t| digest(t));
            (refusal, (refusal.user_id.clone(), token))
        })
        .filter(|(_, key)| !told.contains(key) && seen.insert(key.clone()))
        .collect()
}

fn digest(token: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    token.hash(&mut hasher);
    hasher.finish()
}

/// The upload worker's side of asking the app for tokens: the listener, which refused
/// tokens it was told about, and those refused while no listener was set (told to the
/// next one).
#[derive(Default)]
pub(crate) struct TokenRequests {
    listener: Option<Arc<dyn IdentityTokenListener>>,
    told: HashSet<Refused>,
    waiting: Vec<(IdentityRefusal, Refused)>,
}

impl TokenRequests {
    /// Sets (or with `None` removes) the listener; one set now hears of the refusals
    /// that came while there was none.
    pub(crate) fn set_listener(&mut self, listener: Option<Arc<dyn IdentityTokenListener>>) {
        self.listener = listener;
        if self.listener.is_some() {
            for (refusal, key) in std::mem::take(&mut self.waiting) {
                self.tell(refusal, key);
            }
        }
    }

    /// The server refused `refusals` of a request that carried `sent` (tokens by user).
    pub(crate) fn refused(
        &mut self,
        refusals: &[IdentityRefusal],
        sent: &BTreeMap<String, String>,
    ) {
        for (refusal, key) in untold(refusals, sent, &self.told) {
            if self.listener.is_some() {
                self.tell(refusal.clone(), key);
            } else if !self.waiting.iter().any(|(_, waiting)| *waiting == key) {
                if self.waiting.len() >= MAX_TOLD {
                    self.waiting.remove(0);
                }
                self.waiting.push((refusal.clone(), key));
            }
        }
    }

    /// The app set a new token for `user_id`: a refusal waiting for a listener is
    /// answered already.
    pub(crate) fn token_arrived(&mut self, user_id: &str) {
        self.waiting
            .retain(|(refusal, _)| refusal.user_id != user_id);
    }

    /// The local data was deleted: so is what was refused.
    pub(crate) fn forget(&mut self) {
        self.told.clear();
        self.waiting.clear();
    }

    fn tell(&mut self, refusal: IdentityRefusal, key: Refused) {
        let Some(listener) = self.listener.clone() else {
            return;
        };
        if self.told.len() >= MAX_TOLD {
            self.told.clear();
        }
        self.told.insert(key);
        // The app's code: a panic in it must not take the upload thread down with it.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            listener.identity_token_needed(refusal.user_id, refusal.problem)
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn refusal(user_id: &str, problem: IdentityProblem) -> IdentityRefusal {
        IdentityRefusal {
            user_id: user_id.into(),
            problem,
        }
    }

    #[derive(Default)]
    struct Recording(Mutex<Vec<(String, IdentityProblem)>>);

    impl IdentityTokenListener for Recording {
        fn identity_token_needed(&self, user_id: String, problem: IdentityProblem) {
            self.0.lock().unwrap().push((user_id, problem));
        }
    }

    impl Recording {
        fn heard(&self) -> Vec<(String, IdentityProblem)> {
            self.0.lock().unwrap().clone()
        }
    }
    #[test]
    fn only_a_401_listing_users_is_an_identity_refusal() {
        let body = br#"{"error":{"code":"identity_token_expired","message":"m",
            "identity":[{"user_id":"u1","problem":"expired"}]}}"#;
        assert_eq!(
            identity_refusals(401, body),
            Some(vec![refusal("u1", IdentityProblem::Expired)])
        );
        assert_eq!(identity_refusals(403, body), None);
        let other = br#"{"error":{"code":"unauthorized","message":"bad app key"}}"#;
        assert_eq!(identity_refusals(401, other), None);
        assert_eq!(identity_refusals(401, b"<html>"), None);
        let empty = br#"{"error":{"code":"identity_token_missing","message":"m"}}"#;
        assert_eq!(identity_refusals(401, empty), None);
    }

    #[test]
    fn the_description_names_the_users_and_their_problems() {
        let text = describe_refusals(&[
            refusal("u1", IdentityProblem::Expired),
            refusal("u2", IdentityProblem::Missing),
        ]);
        assert!(
            text.contains(r#"user "u1" (expired), user "u2" (missing)"#),
            "{text}"
        );
        let many: Vec<_> = (0..5)
            .map(|i| refusal(&format!("u{i}"), IdentityProblem::Invalid))
            .collect();
        let text = describe_refusals(&many);
        assert!(text.contains("u2") && !text.contains("u3"), "{text}");
        assert!(text.contains("2 more users"), "{text}");
    }

    #[test]
    fn the_app_is_told_once_per_user_and_refused_token() {
        let listener = Arc::new(Recording::default());
        let mut requests = TokenRequests::default();
        requests.set_listener(Some(listener.clone()));
        let sent = BTreeMap::from([("u1".to_string(), "t1".to_string())]);
        let refusals = [
            refusal("u1", IdentityProblem::Expired),
            refusal("u2", IdentityProblem::Missing),
        ];
        requests.refused(&refusals, &sent);
        requests.refused(&refusals, &sent);
        assert_eq!(
            listener.heard(),
            [
                ("u1".into(), IdentityProblem::Expired),
                ("u2".into(), IdentityProblem::Missing)
            ]
        );
        // Another token refused for the same user is news.
        let sent = BTreeMap::from([("u1".to_string(), "t2".to_string())]);
        requests.refused(&refusals[..1], &sent);
        assert_eq!(listener.heard().len(), 3);
        // After the local data was deleted, everything is news again.
        requests.forget();
        requests.refused(&refusals[1..], &sent);
        assert_eq!(listener.heard().len(), 4);
    }

    #[test]
    fn refusals_before_a_listener_is_set_are_told_to_it_unless_a_token_came() {
        let mut requests = TokenRequests::default();
        let none = BTreeMap::new();
        requests.refused(&[refusal("u1", IdentityProblem::Missing)], &none);
        requests.refused(&[refusal("u1", IdentityProblem::Missing)], &none);
        requests.refused(&[refusal("u2", IdentityProblem::Missing)], &none);
        requests.token_arrived("u2");
        let listener = Arc::new(Recording::default());
        requests.set_listener(Some(listener.clone()));
        assert_eq!(listener.heard(), [("u1".into(), IdentityProblem::Missing)]);
        requests.set_listener(Some(listener.clone()));
        assert_eq!(listener.heard().len(), 1, "told once");
    }

    #[test]
    fn a_panicking_listener_does_not_stop_the_worker() {
        struct Panics;
        impl IdentityTokenListener for Panics {
            fn identity_token_needed(&self, _: String, _: IdentityProblem) {
                panic!("the app's bug");
            }
        }
        let mut requests = TokenRequests::default();
        requests.set_listener(Some(Arc::new(Panics)));
        requests.refused(&[refusal("u1", IdentityProblem::Invalid)], &BTreeMap::new());
    }
}
