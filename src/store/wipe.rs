//! Deleting everything the device holds (the user asked for their data to be deleted),
//! so that nothing of it can be read back from the files afterwards.

use super::{QueueTotals, Store, StoreError};

impl Store {
    /// Deletes every row of every table of the schema except those in `keep`, in one
    /// commit, then rebuilds the file and empties the WAL: deleted rows linger in free
    /// pages and old WAL frames until both are rewritten. Tables added by any
    /// migration are covered without being named here. Unless its table is kept, the
    /// identity is replaced by a new anonymous one.
    pub fn wipe(&mut self, keep: &[&str]) -> Result<(), StoreError> {
        // The log's events go to SQLite, to be deleted with the rest, and its file is
        // overwritten.
        self.settle_log(usize::MAX, true)?;
        let tables: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        // Zeroes what the deletes free, so no copy of a row survives in a page that
        // the rebuild below would not rewrite.
        self.conn.pragma_update(None, "secure_delete", true)?;
        let deleted = (|| {
            let tx = self.conn.transaction()?;
            for table in tables.iter().filter(|t| !keep.contains(&t.as_str())) {
                tx.execute(
                    &format!("DELETE FROM \"{}\"", table.replace('"', "\"\"")),
                    [],
                )?;
            }
            tx.commit()
        })();
        self.conn.pragma_update(None, "secure_delete", false)?;
        deleted?;
        self.totals = Some(QueueTotals::default());
        // The user continues under a new anonymous identity (unless it was kept).
        self.identity = self.load_identity()?;
        self.conn.execute_batch("VACUUM")?;
        // Not while the checkpointer copies: it would leave the WAL busy.
        let _copying = self.wal.copying();
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy != 0 {
            return Err(StoreError::Corrupt(
                "the write-ahead log could not be emptied after deleting local data".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{QueueLimits, StateKey, APPEND_LOG_FILE, DATABASE_FILE};

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn files(dir: &std::path::Path) -> Vec<u8> {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let path = dir.join(format!("{DATABASE_FILE}{suffix}"));
            bytes.extend(std::fs::read(path).unwrap_or_default());
        }
        bytes.extend(std::fs::read(dir.join(APPEND_LOG_FILE)).unwrap());
        bytes
    }

    #[test]
    fn every_table_is_emptied_except_those_kept_and_no_copy_stays_in_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), QueueLimits::default()).unwrap();
        let secret = "user-7f3a9c-who-asked-to-be-forgotten";
        // A table no migration knows yet is wiped too.
        store
            .conn
            .execute_batch("CREATE TABLE added_later (value TEXT)")
            .unwrap();
        store
            .conn
            .execute("INSERT INTO added_later VALUES (?1)", [secret])
            .unwrap();
        store
            .set_state(&[(StateKey::UserId, Some(secret))])
            .unwrap();
        for i in 0..300 {
            let payload = format!("{{\"user_id\":\"{secret}\",\"n\":{i}}}");
            store.enqueue(i, payload.as_bytes()).unwrap();
            store.append_history([(i, payload.as_bytes())]).unwrap();
        }
        store.opt_out(5).unwrap();
        // Still in the append log.
        store
            .enqueue(400, format!("{{\"user_id\":\"{secret}\"}}").as_bytes())
            .unwrap();
        assert!(contains(&files(dir.path()), secret.as_bytes()));

        store.wipe(&["opt_out"]).unwrap();

        assert_eq!(store.totals().unwrap(), QueueTotals::default());
        assert_eq!(store.get_state(StateKey::UserId).unwrap(), None);
        assert!(store.history().unwrap().is_empty());
        let later: i64 = store
            .conn
            .query_row("SELECT count(*) FROM added_later", [], |r| r.get(0))
            .unwrap();
        assert_eq!(later, 0);
        assert_eq!(store.opted_out_since().unwrap(), Some(5), "kept");
        assert!(!contains(&files(dir.path()), secret.as_bytes()));
        // The store goes on working.
        store.enqueue(1, b"{}").unwrap();
        assert_eq!(store.totals().unwrap().events, 1);
    }
}
