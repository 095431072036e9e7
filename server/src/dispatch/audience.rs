//! Who a send goes to: the users its target admits, found by one pass over the event
//! log with the shared segment engine (the same evaluation as the admin API's segment
//! members, `source=server`), handed on in chunks with each user's history while the
//! pass goes on, so planning starts before the last user is read and memory holds a
//! few chunks, not the audience.

use std::collections::{BTreeMap, BTreeSet};

use beckon::protocol::WireEvent;
use beckon::segments::{SegmentDefinition, SegmentSet, UserHistory};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::catalog::segments::evaluation_set;
use crate::evaluate::user_history;
use crate::sends::Target;
use crate::store::{Catalog, Store, StoreError, UserVisitor, AUDIENCE_CHUNK};

/// Users admitted by the target, each with their history.
pub(super) type Chunk = Vec<(String, UserHistory)>;

/// The segments to evaluate for `target`: each segment it names, with every segment
/// those refer to. `None` when no segment needs evaluating (one user, or a campaign
/// for everyone).
pub fn segment_set(catalog: &Catalog, target: &Target) -> Result<Option<SegmentSet>, String> {
    let Target::Segments { any_of, exclude } = target else {
        return Ok(None);
    };
    let mut needed: BTreeMap<String, SegmentDefinition> = BTreeMap::new();
    for id in any_of.iter().chain(exclude) {
        let set = evaluation_set(catalog, id).map_err(|err| err.message)?;
        for definition in set.definitions() {
            needed.insert(definition.id.clone(), definition.clone());
        }
    }
    if needed.is_empty() {
        return Ok(None);
    }
    SegmentSet::new(needed.into_values().collect())
        .map(Some)
        .map_err(|errors| {
            let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
            problems.join("; ")
        })
}

/// Walks the event log once, sending every admitted user on `out` in chunks of
/// [`AUDIENCE_CHUNK`]. A send to one user always yields that user, with no history if
/// the log has none. Returns how many users were admitted; stops handing out (but
/// finishes the pass) once `out` is closed.
pub(super) async fn scan(
    store: &Store,
    target: Target,
    set: Option<SegmentSet>,
    now: DateTime<Utc>,
    out: mpsc::Sender<Chunk>,
) -> Result<usize, StoreError> {
    let scan = store
        .for_each_user(Scan {
            target,
            set,
            now,
            chunk: Vec::new(),
            out,
            closed: false,
            admitted: 0,
        })
        .await?;
    let Scan {
        target,
        mut chunk,
        out,
        mut admitted,
        closed,
        ..
    } = scan;
    if let Target::User(key) = target {
        if admitted == 0 {
            chunk.push((key, UserHistory::new()));
            admitted = 1;
        }
    }
    if !chunk.is_empty() && !closed {
        // A closed receiver means planning stopped; it says why itself.
        let _ = out.send(chunk).await;
    }
    Ok(admitted)
}

struct Scan {
    target: Target,
    set: Option<SegmentSet>,
    now: DateTime<Utc>,
    chunk: Chunk,
    out: mpsc::Sender<Chunk>,
    closed: bool,
    admitted: usize,
}

impl UserVisitor for Scan {
    fn visit(&mut self, user_key: &str, events: &[WireEvent]) {
        if self.closed {
            return;
        }
        if let Target::User(key) = &self.target {
            if key != user_key {
                return;
            }
        }
        let history = user_history(events);
        let memberships = match &self.set {
            Some(set) => set.evaluate_all(&history, self.now),
            None => BTreeSet::new(),
        };
        if !self.target.admits(user_key, &memberships) {
            return;
        }
        self.admitted += 1;
        self.chunk.push((user_key.to_owned(), history));
        if self.chunk.len() >= AUDIENCE_CHUNK {
            let full = std::mem::take(&mut self.chunk);
            // The pass runs on the blocking pool: waiting here holds it back while
            // planning catches up.
            self.closed = self.out.blocking_send(full).is_err();
        }
    }
}

#[cfg(test)]
mod tests {
    use beckon::segments::templates;
    use serde_json::json;

    use super::*;
    use crate::store::{sample_record, Kind, Record, Status};

    fn record(id: &str, body: serde_json::Value, status: Status) -> Record {
        let mut record = sample_record(Kind::Segment, id, status);
        record.body = body;
        record
    }

    fn segment(id: &str, rule: serde_json::Value) -> serde_json::Value {
        json!({"schema": 1, "id": id, "name": id, "rule": rule})
    }

    #[test]
    fn a_target_needs_its_segments_and_what_they_refer_to() {
        let catalog = Catalog::new(vec![
            record(
                "buyer",
                segment(
                    "buyer",
                    json!({"count": {"event": "Order Completed"}, "at_least": 1}),
                ),
                Status::Active,
            ),
            record(
                "loyal",
                segment(
                    "loyal",
                    json!({"all": [{"segment": "buyer"}, {"count": {"event": "Order Completed"}, "at_least": 3}]}),
                ),
                Status::Active,
            ),
            record(
                "unrelated",
                serde_json::to_value(templates::inactive(30)).unwrap(),
                Status::Active,
            ),
            record(
                "old",
                segment("old", json!({"count": {"event": "X"}, "at_least": 1})),
                Status::Archived,
            ),
        ]);
        let target = Target::Segments {
            any_of: vec!["loyal".into()],
            exclude: vec![],
        };
        let set = segment_set(&catalog, &target).unwrap().unwrap();
        let ids: Vec<&str> = set.definitions().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"loyal") && ids.contains(&"buyer"), "{ids:?}");

        assert!(segment_set(&catalog, &Target::User("ana".into()))
            .unwrap()
            .is_none());
        let everyone = Target::Segments {
            any_of: vec![],
            exclude: vec![],
        };
        assert!(segment_set(&catalog, &everyone).unwrap().is_none());
        let archived = Target::Segments {
            any_of: vec![],
            exclude: vec!["old".into()],
        };
        let err = segment_set(&catalog, &archived).unwrap_err();
        assert!(err.contains("archived"), "{err}");
    }
}
