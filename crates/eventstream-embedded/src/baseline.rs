//! The naive append path, measured by `brain bench` next to `EmbeddedLog::append` so results are
//! ratios: the same rows into the same schema with the same durability, but each publisher thread opens
//! its own connection and commits one transaction per event (one fsync each under
//! [`crate::Durability::Full`]), contending for SQLite's write lock through the busy timeout.

use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use eventstream_core::{Event, LogError};
use rusqlite::params;

use crate::error::OpenError;
use crate::options::EmbeddedOptions;
use crate::schema;
use crate::store::{NewRow, now_ms};

/// The baseline run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The database could not be opened or prepared.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// An event could not be encoded.
    #[error("cannot encode an event")]
    Encode(#[source] LogError),
    /// An insert failed.
    #[error("a baseline insert failed")]
    Insert(#[source] rusqlite::Error),
    /// A publisher thread panicked.
    #[error("a baseline publisher thread panicked")]
    Panicked,
}

/// Appends `events` to the log in `dir` from `publishers` threads (event `i` goes to publisher
/// `i % publishers`), each committing one transaction per event; returns the time from the moment all
/// publishers start until the last one finished. Connections are opened before the clock starts.
///
/// # Errors
/// [`BaselineError`] when the database cannot be opened or an insert fails.
pub fn append_one_transaction_per_event(
    dir: &Path,
    options: &EmbeddedOptions,
    publishers: usize,
    events: &[Event],
) -> Result<Duration, BaselineError> {
    let publishers = publishers.max(1);
    let (path, conn) = schema::open_dir(dir, options)?;
    drop(conn);
    let mut shares: Vec<Vec<&Event>> = vec![Vec::new(); publishers];
    for (i, e) in events.iter().enumerate() {
        shares[i % publishers].push(e);
    }
    let start_line = Barrier::new(publishers + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let (path, start_line) = (&path, &start_line);
                s.spawn(move || -> Result<(), BaselineError> {
                    let conn = schema::connect(path, options);
                    start_line.wait();
                    let conn = conn?;
                    let mut insert = conn
                        .prepare("INSERT INTO events (appended_at, event_id, event_type, tenant_id, body) VALUES (?1, ?2, ?3, ?4, ?5)")
                        .map_err(BaselineError::Insert)?;
                    for e in share {
                        let row = NewRow::encode(e).map_err(BaselineError::Encode)?;
                        // Autocommit: every statement is its own transaction. SQLite's busy handler is not
                        // fair, so with many writers one can time out: retry it, as real code would.
                        loop {
                            match insert.execute(params![now_ms(), row.event_id, row.event_type, row.tenant_id, row.body]) {
                                Ok(_) => break,
                                Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DatabaseBusy => {}
                                Err(e) => return Err(BaselineError::Insert(e)),
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        start_line.wait();
        let started = Instant::now();
        let mut first_error = None;
        for h in handles {
            let r = h.join().unwrap_or(Err(BaselineError::Panicked));
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        let elapsed = started.elapsed();
        first_error.map_or(Ok(elapsed), Err)
    })
}

/// The physical ceiling for batched appends: one thread on one connection inserts `events` in
/// transactions of `batch` rows each (one prepared single-row INSERT, one commit and fsync per
/// transaction), encoding each event as the log does. Returns the time from the first insert until the
/// last commit. The connection is opened before the clock starts.
///
/// # Errors
/// [`BaselineError`] when the database cannot be opened or an insert fails.
pub fn append_batched_one_connection(
    dir: &Path,
    options: &EmbeddedOptions,
    batch: usize,
    events: &[Event],
) -> Result<Duration, BaselineError> {
    let (_, mut conn) = schema::open_dir(dir, options)?;
    let started = Instant::now();
    let mut seq = 0i64;
    for chunk in events.chunks(batch.max(1)) {
        let tx = conn.transaction().map_err(BaselineError::Insert)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (seq, appended_at, event_id, event_type, tenant_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(BaselineError::Insert)?;
            let at = now_ms();
            for e in chunk {
                let row = NewRow::encode(e).map_err(BaselineError::Encode)?;
                seq += 1;
                insert.execute(params![seq, at, row.event_id, row.event_type, row.tenant_id, row.body]).map_err(BaselineError::Insert)?;
            }
        }
        tx.commit().map_err(BaselineError::Insert)?;
    }
    Ok(started.elapsed())
}
