//! The errors of the state store, classified by what the caller should do next.
//!
//! [`StoreError::is_transient`] answers the one question the consumer runtime and the publisher ask:
//! does retrying the same call later have a chance? Lost connections, pool timeouts, lock contention and
//! serialization failures do; constraint violations, SQL errors and corrupt rows do not.

use eventstream_core::{DecodeError, EventId, GroupName, Position};

/// A state store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The connection URL cannot be used. The URL itself is not repeated: it may hold a password.
    #[error("invalid state store URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A schema name that is not a plain lower-case SQL identifier.
    #[error("invalid schema name {name:?}: use 1 to 63 characters of [a-z0-9_], starting with a letter or _")]
    InvalidSchema {
        /// The rejected name.
        name: String,
    },
    /// The database cannot be reached or is too busy right now (connection lost or refused, pool
    /// exhausted, lock timeout, serialization failure, deadlock). Retrying later may succeed.
    #[error("state store unavailable while {context}")]
    Unavailable {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database rejected the operation (constraint, SQL or type error). Retrying will not help.
    #[error("state store query failed while {context}")]
    Query {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema migrations failed.
    #[error("migrating the state store schema failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Preparing the local database file failed (creating its directory).
    #[error("preparing the state store file failed")]
    Io(#[source] std::io::Error),
    /// An event could not be serialised for storage.
    #[error("event `{id}` cannot be stored")]
    Encode {
        /// The event id.
        id: EventId,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored row holds a value this version cannot read (a hand-edited row, or a bug).
    #[error("row {row_id} of `{table}` is corrupt: column `{column}` {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's `id` (or `-1` for tables keyed otherwise).
        row_id: i64,
        /// The unreadable column.
        column: &'static str,
        /// Why it cannot be read.
        reason: String,
    },
    /// A stored event envelope does not decode.
    #[error("row {row_id} of `{table}` holds an undecodable event")]
    CorruptEvent {
        /// The table.
        table: &'static str,
        /// The row's `id`.
        row_id: i64,
        /// Why it does not decode.
        #[source]
        source: DecodeError,
    },
    /// The subscriber already recorded a *different* event at this stream position. Positions are issued
    /// once per log, so this means the event log was reset or replaced while the state store was kept.
    /// The event cannot be recorded as processed; it must be dead-lettered, not skipped.
    #[error(
        "subscriber `{subscriber}` already processed another event at position `{position}` (event `{event_id}` \
         cannot be recorded): was the event log reset?"
    )]
    PositionReused {
        /// The subscriber.
        subscriber: GroupName,
        /// The reused position.
        position: Position,
        /// The event that could not be recorded.
        event_id: EventId,
    },
}

impl StoreError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } => true,
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_transient_sqlx(e),
            _ => false,
        }
    }

    /// Wraps a driver error, classifying it as [`StoreError::Unavailable`] or [`StoreError::Query`].
    /// Handler code that runs its own SQL in a [`crate::Tx`] uses this (or `From`) to report failures.
    pub fn sqlx(context: &'static str, source: sqlx::Error) -> Self {
        if is_transient_sqlx(&source) { StoreError::Unavailable { context, source } } else { StoreError::Query { context, source } }
    }

    pub(crate) fn corrupt(table: &'static str, row_id: i64, column: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Corrupt { table, row_id, column, reason: reason.into() }
    }
}

impl From<sqlx::Error> for StoreError {
    /// Classifies a driver error raised by caller-written SQL.
    fn from(source: sqlx::Error) -> Self {
        StoreError::sqlx("running a query", source)
    }
}

/// Whether a driver error is worth retrying: connection and pool problems, lock contention, serialization
/// failures and deadlocks are; everything the statement itself caused is not.
pub fn is_transient_sqlx(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => match db.code() {
            None => false,
            // The `Any` driver passes the native error through, so the database is known by its type.
            Some(code) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => is_transient_sqlite(&code),
            Some(code) => is_transient_sqlstate(&code),
        },
        _ => false,
    }
}

/// Transient SQLite result codes: busy and locked (the primary code is the low byte of the extended one).
fn is_transient_sqlite(code: &str) -> bool {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    const SQLITE_PROTOCOL: i32 = 15;
    code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, SQLITE_BUSY | SQLITE_LOCKED | SQLITE_PROTOCOL))
}

/// Transient PostgreSQL SQLSTATEs.
fn is_transient_sqlstate(code: &str) -> bool {
    matches!(
        code,
        "40001" // serialization_failure
            | "40P01" // deadlock_detected
            | "55P03" // lock_not_available
            | "57P01" // admin_shutdown
            | "57P02" // crash_shutdown
            | "57P03" // cannot_connect_now
            | "57014" // query_canceled (statement_timeout)
            | "53300" // too_many_connections
            | "53400" // configuration_limit_exceeded
    ) || code.starts_with("08") // connection_exception
        || code.starts_with("53") // insufficient_resources
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        for code in ["5", "261", "517", "6"] {
            assert!(is_transient_sqlite(code), "{code}");
        }
        for code in ["19", "2067", "1", "14"] {
            assert!(!is_transient_sqlite(code), "{code}");
        }
        for code in ["40001", "40P01", "08006", "53100", "57P01"] {
            assert!(is_transient_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "42601", "22P02"] {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
        assert!(is_transient_sqlx(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient_sqlx(&sqlx::Error::RowNotFound));
    }
}
