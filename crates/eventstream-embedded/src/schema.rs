//! The database file: where it lives, how connections are configured, and the schema.
//!
//! ```text
//! events   (seq INTEGER PRIMARY KEY, appended_at ms, event_id, event_type, tenant_id, body = canonical JSON)
//! groups   (name PRIMARY KEY, last_seq = the group's position, 0 = before the first entry, created_at ms)
//! pending  ((group_name, seq) PRIMARY KEY, consumer, delivered_at ms, delivery_count)
//! consumers((group_name, consumer) PRIMARY KEY, seen_at ms)
//! ```
//!
//! `appended_at` never decreases along `seq` (the writer stores `max(now, previous)`), so "the first entry
//! appended at or after t" is one index lookup.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::OpenError;
use crate::options::EmbeddedOptions;

/// The database file inside the data directory.
pub const DB_FILE: &str = "events.db";

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY,
    appended_at INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    tenant_id   TEXT,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_appended_at ON events (appended_at);
CREATE TABLE IF NOT EXISTS groups (
    name       TEXT PRIMARY KEY,
    last_seq   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    group_name     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    consumer       TEXT NOT NULL,
    delivered_at   INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL,
    PRIMARY KEY (group_name, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_consumer ON pending (group_name, consumer, seq);
CREATE TABLE IF NOT EXISTS consumers (
    group_name TEXT NOT NULL,
    consumer   TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (group_name, consumer)
) WITHOUT ROWID;
";

/// The database file of a data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Opens a connection configured as every connection of this crate is: WAL, the chosen durability, the
/// busy timeout.
pub(crate) fn connect(path: &Path, options: &EmbeddedOptions) -> Result<Connection, OpenError> {
    let db = |source| OpenError::Database { path: path.to_owned(), source };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(db)?;
    conn.busy_timeout(options.busy_timeout).map_err(db)?;
    // WAL lets readers run beside the writer and makes a commit one sequential append to the log. The mode
    // is stored in the file; switching needs a moment of exclusive access, which busy_timeout covers.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(db(rusqlite::Error::InvalidParameterName(format!("journal_mode stayed {mode}, WAL is required"))));
    }
    conn.pragma_update(None, "synchronous", options.durability.pragma()).map_err(db)?;
    Ok(conn)
}

/// Creates the tables if needed and checks the schema version, in one write transaction so that two
/// processes opening a new directory at once do not race.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let db = |source| OpenError::Database { path: path.to_owned(), source };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    if found > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema { path: path.to_owned(), found, supported: SCHEMA_VERSION });
    }
    tx.execute_batch(SCHEMA).map_err(db)?;
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// Creates the data directory (mode 0700 on Unix, for directories it creates) and opens a migrated
/// connection. A new database file is created with mode 0600 before SQLite opens it: SQLite gives its
/// `-wal` and `-shm` files the mode of the database file, so they are private too.
pub(crate) fn open_dir(dir: &Path, options: &EmbeddedOptions) -> Result<(PathBuf, Connection), OpenError> {
    let create = |source| OpenError::CreateDir { path: dir.to_owned(), source };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(create)?;
    let path = db_path(dir);
    eventstream_core::fs::create_private_file(&path).map_err(create)?;
    let mut conn = connect(&path, options)?;
    migrate(&mut conn, &path)?;
    Ok((path, conn))
}
