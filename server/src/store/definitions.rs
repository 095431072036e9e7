//! Segment and campaign definitions as stored: the JSON document plus its lifecycle
//! (status, version, times). What a valid definition is, and which changes are allowed,
//! is decided by `crate::catalog`; this module only reads and writes rows.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, Row};
use serde::Serialize;
use serde_json::Value;

use super::StoreError;

const SELECT_ALL: &str = "SELECT kind, id, body, status, version, created_at, updated_at
    FROM definitions ORDER BY kind, id";

const INSERT: &str = "INSERT INTO definitions
        (kind, id, body, status, version, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)";

const UPDATE: &str = "UPDATE definitions SET body = ?3, status = ?4, version = ?5, updated_at = ?6
    WHERE kind = ?1 AND id = ?2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Segment,
    Campaign,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Segment => "segment",
            Kind::Campaign => "campaign",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "segment" => Some(Kind::Segment),
            "campaign" => Some(Kind::Campaign),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Only active definitions are sent to devices and evaluated; archived ones are kept
/// so their ids stay taken and their history readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Archived,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Status::Active),
            "archived" => Some(Status::Archived),
            _ => None,
        }
    }
}

/// One stored definition, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    #[serde(skip)]
    pub kind: Kind,
    pub id: String,
    pub status: Status,
    /// Starts at 1 and grows by one with every change.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The definition's JSON, in the canonical form the shared parser writes back.
    #[serde(rename = "definition")]
    pub body: Value,
}

impl Record {
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}

/// What a definition should become: its JSON and status.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub body: Value,
    pub status: Status,
}

/// Every stored definition, both kinds, both statuses: what a change is checked against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Sorted by kind, then id.
    records: Vec<Record>,
}

impl Catalog {
    pub fn new(mut records: Vec<Record>) -> Self {
        records.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        Self { records }
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Record> {
        self.records
            .binary_search_by(|r| (r.kind, r.id.as_str()).cmp(&(kind, id)))
            .ok()
            .map(|i| &self.records[i])
    }

    /// Every record of one kind, by id.
    pub fn all(&self, kind: Kind) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| r.kind == kind)
    }

    /// The active records of one kind, by id.
    pub fn active(&self, kind: Kind) -> impl Iterator<Item = &Record> {
        self.all(kind).filter(|r| r.is_active())
    }

    /// The catalog as it would be once `draft` is stored under `(kind, id)`; version and
    /// times are left as they are, as only the content matters to the checks.
    pub fn with(&self, kind: Kind, id: &str, draft: &Draft) -> Catalog {
        let mut records = self.records.clone();
        match records.iter_mut().find(|r| r.kind == kind && r.id == id) {
            Some(record) => {
                record.body = draft.body.clone();
                record.status = draft.status;
            }
            None => records.push(Record {
                kind,
                id: id.to_owned(),
                status: draft.status,
                version: 0,
                created_at: DateTime::UNIX_EPOCH,
                updated_at: DateTime::UNIX_EPOCH,
                body: draft.body.clone(),
            }),
        }
        Catalog::new(records)
    }
}

pub(super) fn load(conn: &Connection) -> Result<Catalog, StoreError> {
    let mut select = conn.prepare_cached(SELECT_ALL)?;
    let mut rows = select.query([])?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.push(read_record(row)?);
    }
    Ok(Catalog::new(records))
}

/// Stores `draft` under `(kind, id)`: a new record at version 1, or the next version of
/// the existing one. A draft equal to what is stored changes nothing, not even the
/// version, so repeating a request is harmless and every version is a real change.
pub(super) fn save(
    conn: &Connection,
    catalog: &Catalog,
    kind: Kind,
    id: &str,
    draft: Draft,
    now: DateTime<Utc>,
) -> Result<Record, StoreError> {
    let body_text = serde_json::to_string(&draft.body)?;
    let Some(existing) = catalog.get(kind, id) else {
        conn.prepare_cached(INSERT)?.execute(params![
            kind.as_str(),
            id,
            body_text,
            draft.status.as_str(),
            time_text(now),
        ])?;
        return Ok(Record {
            kind,
            id: id.to_owned(),
            status: draft.status,
            version: 1,
            created_at: now,
            updated_at: now,
            body: draft.body,
        });
    };
    if existing.body == draft.body && existing.status == draft.status {
        return Ok(existing.clone());
    }
    let version = existing.version + 1;
    conn.prepare_cached(UPDATE)?.execute(params![
        kind.as_str(),
        id,
        body_text,
        draft.status.as_str(),
        i64::try_from(version).unwrap_or(i64::MAX),
        time_text(now),
    ])?;
    Ok(Record {
        status: draft.status,
        version,
        updated_at: now,
        body: draft.body,
        ..existing.clone()
    })
}

fn read_record(row: &Row<'_>) -> Result<Record, StoreError> {
    let id: String = row.get(1)?;
    let unreadable = |detail: String| StoreError::CorruptDefinition {
        id: id.clone(),
        detail,
    };
    let kind_text: String = row.get(0)?;
    let kind = Kind::parse(&kind_text).ok_or_else(|| unreadable(format!("kind {kind_text:?}")))?;
    let body_text: String = row.get(2)?;
    let body = serde_json::from_str(&body_text).map_err(|err| unreadable(err.to_string()))?;
    let status_text: String = row.get(3)?;
    let status =
        Status::parse(&status_text).ok_or_else(|| unreadable(format!("status {status_text:?}")))?;
    let version: i64 = row.get(4)?;
    let time = |i: usize| -> Result<DateTime<Utc>, StoreError> {
        let text: String = row.get(i)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.to_utc())
            .map_err(|err| unreadable(format!("time {text:?}: {err}")))
    };
    Ok(Record {
        kind,
        status,
        version: u64::try_from(version).map_err(|_| unreadable("negative version".into()))?,
        created_at: time(5)?,
        updated_at: time(6)?,
        body,
        id: id.clone(),
    })
}

fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A minimal record for tests of code that reads catalogs.
#[cfg(test)]
pub(crate) fn sample_record(kind: Kind, id: &str, status: Status) -> Record {
    Record {
        kind,
        id: id.into(),
        status,
        version: 1,
        created_at: DateTime::UNIX_EPOCH,
        updated_at: DateTime::UNIX_EPOCH,
        body: serde_json::json!({"id": id}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use super::sample_record as record;

    #[test]
    fn catalog_finds_records_by_kind_and_id_and_filters_active_ones() {
        let catalog = Catalog::new(vec![
            record(Kind::Campaign, "b", Status::Active),
            record(Kind::Segment, "z", Status::Archived),
            record(Kind::Segment, "a", Status::Active),
        ]);
        assert_eq!(catalog.get(Kind::Segment, "a").unwrap().id, "a");
        assert!(catalog.get(Kind::Campaign, "a").is_none());
        let ids = |it: &mut dyn Iterator<Item = &Record>| -> Vec<String> {
            it.map(|r| r.id.clone()).collect()
        };
        assert_eq!(ids(&mut catalog.all(Kind::Segment)), ["a", "z"]);
        assert_eq!(ids(&mut catalog.active(Kind::Segment)), ["a"]);
        assert_eq!(ids(&mut catalog.active(Kind::Campaign)), ["b"]);

        let draft = Draft {
            body: json!({"id": "c"}),
            status: Status::Active,
        };
        let grown = catalog.with(Kind::Segment, "c", &draft);
        assert_eq!(ids(&mut grown.active(Kind::Segment)), ["a", "c"]);
        let archived = catalog.with(
            Kind::Segment,
            "a",
            &Draft {
                body: json!({"id": "a"}),
                status: Status::Archived,
            },
        );
        assert_eq!(archived.active(Kind::Segment).count(), 0);
    }
}
