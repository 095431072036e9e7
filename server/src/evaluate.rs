//! Server-side segment membership: the shared engine (`beckon::segments`) over the
//! stored events, one user at a time, at an instant the caller passes in.
//!
//! A user is a user key: the `user_id` of the events when present, else their
//! `anonymous_id` (`store::user_key`). Events are not stitched across keys, so what a
//! user did before logging in counts for the anonymous id only. `permission` rules read
//! the permission changes devices reported among those events (the shared
//! `UserHistory::record_wire`); a change made through the admin API is not among those
//! events, so until the next device report these rules see the device's last word.

use beckon::protocol::WireEvent;
use beckon::segments::{Explanation, SegmentSet, UserHistory};
use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError, UserVisitor};

/// The user keys in segment `segment_id` at `now`, in byte order. `set` must contain
/// the segment and every segment it refers to.
pub async fn server_members(
    store: &Store,
    set: SegmentSet,
    segment_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let tally = Tally {
        set,
        segment_id: segment_id.to_owned(),
        now,
        members: Vec::new(),
    };
    Ok(store.for_each_user(tally).await?.members)
}

/// A user's history as the device builds it (membership reports are left out by the
/// shared `UserHistory::record_wire`).
pub fn user_history<'a>(events: impl IntoIterator<Item = &'a WireEvent>) -> UserHistory {
    UserHistory::from_wire(events)
}

/// Why `user_key` is or is not in segment `segment_id` at `now`, clause by clause;
/// `None` when the server holds no event of that user.
pub async fn explain_member(
    store: &Store,
    set: SegmentSet,
    segment_id: &str,
    user_key: &str,
    now: DateTime<Utc>,
) -> Result<Option<Explanation>, StoreError> {
    let finder = Explainer {
        set,
        segment_id: segment_id.to_owned(),
        user_key: user_key.to_owned(),
        now,
        found: None,
    };
    Ok(store.for_each_user(finder).await?.found)
}

struct Explainer {
    set: SegmentSet,
    segment_id: String,
    user_key: String,
    now: DateTime<Utc>,
    found: Option<Explanation>,
}

impl UserVisitor for Explainer {
    fn visit(&mut self, user_key: &str, events: &[WireEvent]) {
        if user_key != self.user_key {
            return;
        }
        let mut history = user_history(events);
        // Segments this one refers to are read from the memberships: compute them first.
        history.memberships = self.set.evaluate_all(&history, self.now);
        self.found = self.set.explain(&self.segment_id, &history, self.now);
    }
}

struct Tally {
    set: SegmentSet,
    segment_id: String,
    now: DateTime<Utc>,
    members: Vec<String>,
}

impl UserVisitor for Tally {
    fn visit(&mut self, user_key: &str, events: &[WireEvent]) {
        let history = user_history(events);
        if self
            .set
            .evaluate_all(&history, self.now)
            .contains(&self.segment_id)
        {
            self.members.push(user_key.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use beckon::protocol::{WireKind, SEGMENT_ENTERED};
    use beckon::segments::templates;
    use chrono::TimeDelta;
    use serde_json::{json, Map, Value};

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap()
    }

    fn track(name: &str, at: DateTime<Utc>, properties: Value) -> WireEvent {
        WireEvent {
            id: uuid::Uuid::new_v4().to_string(),
            kind: WireKind::Track,
            name: Some(name.into()),
            properties: properties.as_object().unwrap().clone(),
            traits: Map::new(),
            anonymous_id: "anon".into(),
            user_id: None,
            timestamp: at,
            context: Map::new(),
        }
    }

    #[test]
    fn membership_reports_do_not_count_as_activity() {
        let old = track("Product Viewed", now() - TimeDelta::days(40), json!({}));
        let report = track(
            SEGMENT_ENTERED,
            now(),
            json!({"segment_id": "inactive_30d"}),
        );
        let history = user_history([&old, &report]);
        assert_eq!(history.len(), 1);
        let set = SegmentSet::new(vec![templates::inactive(30)]).unwrap();
        assert!(set.evaluate_all(&history, now()).contains("inactive_30d"));
    }

    #[test]
    fn the_tally_keeps_members_of_the_asked_segment_only() {
        let mut tally = Tally {
            set: SegmentSet::new(vec![templates::repeat_customer(), templates::inactive(30)])
                .unwrap(),
            segment_id: "repeat_customer".into(),
            now: now(),
            members: Vec::new(),
        };
        let order = |days| track("Order Completed", now() - TimeDelta::days(days), json!({}));
        tally.visit("a", &[order(40), order(50)]);
        tally.visit("b", &[order(1)]);
        tally.visit("c", &[order(1), order(2)]);
        tally.visit("d", &[]);
        assert_eq!(tally.members, ["a", "c"]);
    }
}
