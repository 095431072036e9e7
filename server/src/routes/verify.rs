//! The one way device routes apply identity verification: judge the users a request
//! names, count what was let through or refused, and refuse with the users' problems;
//! and what an anonymous id must be when identities are required.

use std::collections::BTreeMap;

use beckon::protocol::IdentityRefusal;
use chrono::{DateTime, Utc};

use crate::app::AppState;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Judges `users` (each with the number of events the request carries for them, 0 for
/// a read) for a request made with `app_key`; `Err` is the 401 to answer.
pub fn verify_users<'a>(
    state: &AppState,
    app_key: &str,
    users: &BTreeMap<&'a str, u64>,
    token_of: impl Fn(&str) -> Option<&'a str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let judgement = state
        .identities()
        .judge(app_key, users.keys().copied(), token_of, now);
    let metrics = state.metrics();
    let count = |refusals: &[IdentityRefusal], family| {
        for refusal in refusals {
            let events = users.get(refusal.user_id.as_str()).copied().unwrap_or(0);
            Metrics::reason(family, refusal.problem.as_str(), events);
        }
    };
    count(&judgement.unverified, &metrics.identity_unverified_events);
    if judgement.refused.is_empty() {
        return Ok(());
    }
    count(&judgement.refused, &metrics.identity_refused_events);
    Err(refuse(state, app_key, judgement.refused))
}

/// The 401 refusing `refused` (never empty), counted once per request and logged.
pub fn refuse(state: &AppState, app_key: &str, refused: Vec<IdentityRefusal>) -> ApiError {
    let problem = refused.first().map_or("missing", |r| r.problem.as_str());
    Metrics::reason(&state.metrics().identity_refused_requests, problem, 1);
    tracing::info!(
        app_key_chars = app_key.len(),
        users = refused.len(),
        problem,
        "request refused: no valid identity token"
    );
    ApiError::identity_refused(refused)
}

/// With identities required, an anonymous id must be what the SDK makes: a random
/// 128-bit UUID, which nobody can guess to act as another install. `Err` says why not.
pub fn check_random_id(anonymous_id: &str) -> Result<(), String> {
    match uuid::Uuid::parse_str(anonymous_id) {
        Ok(_) => Ok(()),
        Err(_) => Err(
            "anonymous_id: must be a UUID (a random 128-bit value made by the \
                       SDK) when identities are verified"
                .to_string(),
        ),
    }
}
