//! WAL checkpoints off the commit path.
//!
//! By default SQLite checkpoints inside the COMMIT that pushes the write-ahead log past 1,000 pages: that
//! append then waits while about 4 MB are copied into the database file and fsynced, and every append
//! queued behind it waits too. Here the writer connection turns automatic checkpoints off, and a
//! background thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` after commits, at most
//! every [`MIN_INTERVAL`]. A passive checkpoint never blocks the writer or readers; once the whole log is
//! checkpointed, the next write starts it again from the beginning, so the file stays small.
//! `journal_size_limit` truncates a log that grew during a burst.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::OpenError;
use crate::options::EmbeddedOptions;
use crate::schema;

/// The shortest time between two checkpoints while commits keep coming.
const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The size the write-ahead log is truncated to after a checkpoint (bytes).
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The handle the writer thread signals after each commit. Dropping it stops the checkpoint thread.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    tx: mpsc::SyncSender<()>,
}

impl Checkpoints {
    /// Tells the checkpoint thread that a commit happened (never blocks).
    pub(crate) fn committed(&self) {
        let _ = self.tx.try_send(());
    }
}

/// Turns automatic checkpoints off on the writer connection `writer` and starts the checkpoint thread on
/// a connection of its own to `path`.
pub(crate) fn start(path: &Path, writer: &Connection, options: &EmbeddedOptions) -> Result<Checkpoints, OpenError> {
    let db = |source| OpenError::Database { path: path.to_owned(), source };
    writer.pragma_update(None, "wal_autocheckpoint", 0).map_err(db)?;
    writer.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT).map_err(db)?;
    let conn = schema::connect(path, options)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT).map_err(db)?;
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new().name("eventstream-embedded-checkpoint".into()).spawn(move || run(&conn, &rx)).map_err(OpenError::Spawn)?;
    Ok(Checkpoints { tx })
}

fn run(conn: &Connection, rx: &mpsc::Receiver<()>) {
    let mut last = Instant::now().checked_sub(MIN_INTERVAL).unwrap_or_else(Instant::now);
    while rx.recv().is_ok() {
        let wait = MIN_INTERVAL.saturating_sub(last.elapsed());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        // Commits during the wait are covered by this checkpoint.
        while rx.try_recv().is_ok() {}
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %eventstream_core::error::Chain(&e), "embedded event log: checkpoint failed; the next commit retries");
        }
        last = Instant::now();
    }
}
