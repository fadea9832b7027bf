//! Errors of opening an embedded log, and the mapping of SQLite errors onto [`LogError`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use eventstream_core::LogError;
use rusqlite::ErrorCode;

/// An embedded log could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The data directory does not exist and cannot be created.
    #[error("cannot create the data directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// SQLite cannot open or prepare the database file (permissions, corrupt file, locked too long).
    #[error("cannot open the event database {path}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer version of this crate.
    #[error("the event database {path} has schema version {found}; this build reads up to {supported}")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The writer thread could not be started.
    #[error("cannot start the writer thread")]
    Spawn(#[source] std::io::Error),
    /// The blocking task that opened the log failed.
    #[error("the task opening the event database failed")]
    Task(#[source] tokio::task::JoinError),
}

impl From<OpenError> for LogError {
    fn from(e: OpenError) -> Self {
        match &e {
            OpenError::Database { source, .. } if is_busy(source) => LogError::unavailable("opening the embedded event log", e),
            _ => LogError::storage("opening the embedded event log", e),
        }
    }
}

/// Whether SQLite gave up waiting for another connection's lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Maps a SQLite error: a lock held too long by another process is transient ([`LogError::Unavailable`]);
/// anything else (I/O error, full disk, corrupt file) is [`LogError::Storage`].
pub(crate) fn sql(context: &str, e: rusqlite::Error) -> LogError {
    if is_busy(&e) { LogError::unavailable(context, e) } else { LogError::storage(context, e) }
}

/// One SQLite error shared by every caller of a failed group commit (each caller gets its own `LogError`).
#[derive(Debug, Clone)]
pub(crate) struct SharedSqlError(pub(crate) Arc<rusqlite::Error>);

impl fmt::Display for SharedSqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SharedSqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl SharedSqlError {
    /// The error for one caller.
    pub(crate) fn to_log_error(&self, context: &str) -> LogError {
        if is_busy(&self.0) { LogError::unavailable(context, self.clone()) } else { LogError::storage(context, self.clone()) }
    }
}
