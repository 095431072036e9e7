//! The one way device routes apply identity verification: judge the users a request
//! names, count what was let through or refused, and refuse with the users' problems.

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
    let Some(first) = judgement.refused.first() else {
        return Ok(());
    };
    count(&judgement.refused, &metrics.identity_refused_events);
    Metrics::reason(
        &metrics.identity_refused_requests,
        first.problem.as_str(),
        1,
    );
    tracing::info!(
        app_key_chars = app_key.len(),
        users = judgement.refused.len(),
        problem = first.problem.as_str(),
        "request refused: no valid identity token"
    );
    Err(ApiError::identity_refused(judgement.refused))
}
