//! The writer thread: the one place this process writes the database, and where group commit happens.
//!
//! Callers send commands over a channel. The thread takes the first command; if it is an append it also
//! drains every append already queued (up to `max_batch_events` events), writes them all in ONE `BEGIN
//! IMMEDIATE` transaction with one commit (one fsync under [`crate::Durability::Full`]), then answers each
//! caller with its own positions. Under load the queue fills while a commit is in flight, so N concurrent
//! publishers pay about one fsync per commit instead of N. A failed commit answers every caller in it with
//! the error and leaves none of their events behind (the transaction rolls back as a whole).
//!
//! Other writes (deliveries, acks, group changes) run on the same thread as jobs, one transaction each,
//! so this process never contends with itself for SQLite's write lock; other processes are serialised by
//! the lock itself (`BEGIN IMMEDIATE` + busy timeout).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use eventstream_core::LogError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{OpenError, SharedSqlError};
use crate::store::{KnownHead, NewRow, insert_batches};

/// A job run on the writer thread with its connection.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Positions (sequence numbers) of one append, or why it failed.
type AppendReply = oneshot::Sender<Result<Vec<i64>, LogError>>;

enum Command {
    Append { rows: Vec<NewRow>, reply: AppendReply },
    Run(Job),
}

/// Counters of the writer thread, for benchmarks and tests.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    append_requests: AtomicU64,
    append_commits: AtomicU64,
    appended_events: AtomicU64,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// `append` calls submitted to the writer.
    pub append_requests: u64,
    /// Transactions that committed appends (each is one fsync under `Durability::Full`).
    pub append_commits: u64,
    /// Events committed.
    pub appended_events: u64,
}

/// The sending side of the writer thread. Dropping every handle stops the thread after it has answered
/// what was queued.
#[derive(Debug)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Command>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Append { rows, .. } => write!(f, "Append({} rows)", rows.len()),
            Command::Run(_) => f.write_str("Run"),
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`. `committed` is called after every successful commit of
    /// appends with the newest sequence number.
    pub(crate) fn start(conn: Connection, max_batch_events: usize, committed: impl Fn(i64) + Send + 'static) -> Result<Self, OpenError> {
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("eventstream-embedded-writer".into())
            .spawn(move || run(conn, &rx, max_batch_events.max(1), &thread_counters, &committed))
            .map_err(OpenError::Spawn)?;
        Ok(Self { tx, counters })
    }

    /// Appends rows; returns their sequence numbers once committed.
    pub(crate) async fn append(&self, rows: Vec<NewRow>) -> Result<Vec<i64>, LogError> {
        let (reply, rx) = oneshot::channel();
        self.counters.append_requests.fetch_add(1, Ordering::Relaxed);
        self.tx.send(Command::Append { rows, reply }).map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// Runs `f` on the writer thread's connection.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone away (timeout, cancelled task); its result is then dropped.
            let _ = reply.send(f(conn));
        });
        self.tx.send(Command::Run(job)).map_err(|_| LogError::Closed)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            append_requests: self.counters.append_requests.load(Ordering::Relaxed),
            append_commits: self.counters.append_commits.load(Ordering::Relaxed),
            appended_events: self.counters.appended_events.load(Ordering::Relaxed),
        }
    }
}

fn run(mut conn: Connection, rx: &mpsc::Receiver<Command>, max_batch_events: usize, counters: &Counters, committed: &dyn Fn(i64)) {
    let mut carried: Option<Command> = None;
    let mut known = KnownHead::default();
    loop {
        let command = match carried.take() {
            Some(c) => c,
            None => match rx.recv() {
                Ok(c) => c,
                Err(_) => return,
            },
        };
        match command {
            Command::Run(job) => job(&mut conn),
            Command::Append { rows, reply } => {
                let mut events = rows.len();
                let mut batch = vec![(rows, reply)];
                // Group commit: take every append already queued into the same transaction.
                while events < max_batch_events {
                    match rx.try_recv() {
                        Ok(Command::Append { rows, reply }) => {
                            events += rows.len();
                            batch.push((rows, reply));
                        }
                        Ok(other) => {
                            carried = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit(&mut conn, &mut known, batch, counters, committed);
            }
        }
    }
}

fn commit(
    conn: &mut Connection,
    known: &mut KnownHead,
    batch: Vec<(Vec<NewRow>, AppendReply)>,
    counters: &Counters,
    committed: &dyn Fn(i64),
) {
    // BEGIN and COMMIT through cached statements: `Connection::transaction` would parse them again on
    // every commit.
    let result = (|| -> Result<Vec<Vec<i64>>, rusqlite::Error> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let written = insert_batches(conn, known, batch.iter().map(|(rows, _)| rows.as_slice()))
            .and_then(|seqs| conn.prepare_cached("COMMIT")?.execute([]).map(|_| seqs));
        if written.is_err() {
            // The remembered head may count rows that are now rolled back: read it again next time.
            *known = KnownHead::default();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        written
    })();
    match result {
        Ok(seqs) => {
            let events: usize = seqs.iter().map(Vec::len).sum();
            counters.append_commits.fetch_add(1, Ordering::Relaxed);
            counters.appended_events.fetch_add(events as u64, Ordering::Relaxed);
            if let Some(&last) = seqs.iter().rev().find_map(|s| s.last()) {
                committed(last);
            }
            for ((_, reply), s) in batch.into_iter().zip(seqs) {
                let _ = reply.send(Ok(s));
            }
        }
        Err(e) => {
            tracing::warn!(error = %eventstream_core::error::Chain(&e), appends = batch.len(), "embedded event log: group commit failed");
            let shared = SharedSqlError(Arc::new(e));
            for (_, reply) in batch {
                let _ = reply.send(Err(shared.to_log_error("appending events")));
            }
        }
    }
}
