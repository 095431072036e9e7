//! Which kind of key each user key is: a user id or a device's anonymous id.
//!
//! A user's events, permissions and profile are filed under their user id; an
//! anonymous device's under its anonymous id. Both live in one key space, so a key must
//! stay one kind for good: otherwise a device could name a victim's user id as its
//! anonymous id (or the other way round) and read or change the victim's data. The
//! first event naming a key decides its kind; with identities enforced, an event
//! naming a key as the other kind is refused.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// What a user key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A user id the app identified the user with.
    User,
    /// An install's anonymous id.
    Anonymous,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyKind::User => "user",
            KeyKind::Anonymous => "anonymous",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "user" => Ok(KeyKind::User),
            "anonymous" => Ok(KeyKind::Anonymous),
            other => Err(StoreError::CorruptRow {
                table: "identity_keys",
                detail: format!("kind {other:?}"),
            }),
        }
    }
}

const CLAIM: &str = "INSERT INTO identity_keys (key, kind) VALUES (?1, ?2)
    ON CONFLICT (key) DO NOTHING";

const KIND: &str = "SELECT kind FROM identity_keys WHERE key = ?1";

/// The kind recorded for `key`, if any event named it.
pub(super) fn kind_of(conn: &Connection, key: &str) -> Result<Option<KeyKind>, StoreError> {
    conn.prepare_cached(KIND)?
        .query_row([key], |row| row.get::<_, String>(0))
        .optional()?
        .map(|text| KeyKind::parse(&text))
        .transpose()
}

/// The kinds of the keys one insert has claimed so far, so a batch of one device's
/// events costs a statement per key, not per event.
#[derive(Default)]
pub(super) struct Claims {
    known: HashMap<String, KeyKind>,
}

impl Claims {
    /// Records `key` as `kind` unless it already has a kind; returns the kind it has.
    pub fn claim(
        &mut self,
        conn: &Connection,
        key: &str,
        kind: KeyKind,
    ) -> Result<KeyKind, StoreError> {
        if let Some(known) = self.known.get(key) {
            return Ok(*known);
        }
        conn.prepare_cached(CLAIM)?
            .execute(params![key, kind.as_str()])?;
        let recorded = kind_of(conn, key)?.unwrap_or(kind);
        self.known.insert(key.to_string(), recorded);
        Ok(recorded)
    }

    /// The kind `key` has, recorded or claimed in this insert.
    pub fn known(&mut self, conn: &Connection, key: &str) -> Result<Option<KeyKind>, StoreError> {
        if let Some(known) = self.known.get(key) {
            return Ok(Some(*known));
        }
        let recorded = kind_of(conn, key)?;
        if let Some(kind) = recorded {
            self.known.insert(key.to_string(), kind);
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_decides_and_later_claims_see_it() {
        let conn = super::super::migrations::test_database();
        let mut claims = Claims::default();
        assert_eq!(
            claims.claim(&conn, "alice", KeyKind::User).unwrap(),
            KeyKind::User
        );
        assert_eq!(
            claims.claim(&conn, "alice", KeyKind::Anonymous).unwrap(),
            KeyKind::User
        );
        let mut fresh = Claims::default();
        assert_eq!(
            fresh.claim(&conn, "alice", KeyKind::Anonymous).unwrap(),
            KeyKind::User,
            "recorded for good, not only in one insert"
        );
        assert_eq!(fresh.known(&conn, "nobody").unwrap(), None);
        assert_eq!(kind_of(&conn, "alice").unwrap(), Some(KeyKind::User));
    }
}
