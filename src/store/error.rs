use std::path::PathBuf;

use crate::text::quote;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot use the data directory {}: {source}", quote(&.path.to_string_lossy()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    #[error("database schema version {found} is newer than this SDK's {supported}")]
    NewerSchema { found: i64, supported: i64 },
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Errors after which the file cannot be trusted and is better moved aside.
    pub(crate) fn means_unusable_file(&self) -> bool {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match self {
            StoreError::Corrupt(_) | StoreError::NewerSchema { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, DatabaseCorrupt | NotADatabase)
            }
            _ => false,
        }
    }
}
