//! [`EmbeddedLog`]: the [`EventLog`] implementation, mapping each operation onto the writer thread (every
//! write) or a pooled reader connection on the blocking pool (every read), and waiting for new entries.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventstream_core::{
    Capabilities, ConsumerName, Delivery, Event, EventLog, GroupInfo, GroupName, LogError, Position, Record, StartFrom,
};
use rusqlite::Connection;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{OpenError, sql};
use crate::options::EmbeddedOptions;
use crate::schema;
use crate::store::{self, NewRow, Redeliver};
use crate::writer::{Writer, WriterStats};

/// Idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// An [`EventLog`] stored in a SQLite database (`events.db`, WAL mode) in a data directory.
///
/// Cheap to clone: clones share the writer thread and the reader connections. The writer thread stops
/// when the last clone is dropped. Several processes may open the same directory at once.
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    path: PathBuf,
    options: EmbeddedOptions,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// Bumped after every commit of this handle and whenever another connection's commit is detected;
    /// blocked reads wait on it.
    changes: Arc<watch::Sender<u64>>,
    /// The connection that watches `PRAGMA data_version` for commits by other processes, with the last
    /// value seen.
    watcher: Mutex<Option<(Connection, i64)>>,
    /// When `watcher` was last asked (ms since `started`), so that many blocked readers cost one query per
    /// poll interval.
    last_refresh_ms: AtomicU64,
    started: Instant,
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog").field("path", &self.inner.path).field("options", &self.inner.options).finish_non_exhaustive()
    }
}

fn bump(changes: &watch::Sender<u64>) {
    changes.send_modify(|v| *v = v.wrapping_add(1));
}

impl EmbeddedLog {
    /// Opens (creating if needed) the log in `dir`: the directory, `dir/events.db` and its schema, then
    /// starts the writer thread. The SQLite work runs on the blocking pool.
    ///
    /// # Errors
    /// [`OpenError`] when the directory cannot be created, the database cannot be opened or prepared, or
    /// was written by a newer version.
    pub async fn open(dir: impl Into<PathBuf>, options: EmbeddedOptions) -> Result<Self, OpenError> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, options)).await.map_err(OpenError::Task)?
    }

    /// [`EmbeddedLog::open`] for callers outside an async context (it blocks while SQLite opens the file).
    ///
    /// # Errors
    /// As [`EmbeddedLog::open`].
    pub fn open_blocking(dir: &Path, options: EmbeddedOptions) -> Result<Self, OpenError> {
        let (path, conn) = schema::open_dir(dir, &options)?;
        let checkpoints = crate::checkpoint::start(&path, &conn, &options)?;
        let changes = Arc::new(watch::Sender::new(0u64));
        let on_commit = changes.clone();
        let writer = Writer::start(conn, options.max_batch_events, move |_| {
            bump(&on_commit);
            checkpoints.committed();
        })?;
        let inner = Inner {
            dir: dir.to_owned(),
            path,
            options,
            writer,
            readers: Mutex::new(Vec::new()),
            changes,
            watcher: Mutex::new(None),
            last_refresh_ms: AtomicU64::new(0),
            started: Instant::now(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The database file (`<dir>/events.db`).
    pub fn db_path(&self) -> &Path {
        &self.inner.path
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &EmbeddedOptions {
        &self.inner.options
    }

    /// The writer thread's counters: how many appends were submitted and how many commits they took.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Runs a read on a pooled connection on the blocking pool.
    async fn reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => schema::connect(&inner.path, &inner.options)?,
            };
            let result = f(&mut conn);
            let mut idle = inner.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| LogError::storage("a read task of the embedded log failed", e))?
    }

    /// Checks (at most once per poll interval for all waiters together) whether another connection
    /// committed, and if so wakes the blocked reads.
    async fn refresh(&self) -> Result<(), LogError> {
        let inner = &self.inner;
        let now = u64::try_from(inner.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = inner.last_refresh_ms.load(Ordering::Relaxed);
        let poll = u64::try_from(inner.options.poll_interval.as_millis()).unwrap_or(u64::MAX);
        if now.saturating_sub(last) < poll
            || inner.last_refresh_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return Ok(());
        }
        let inner = inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut watcher = inner.watcher.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if watcher.is_none() {
                *watcher = Some((schema::connect(&inner.path, &inner.options)?, -1));
            }
            if let Some((conn, seen)) = watcher.as_mut() {
                let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(|e| sql("checking for changes", e))?;
                if version != *seen {
                    // Also on the first check: a change may have happened before the watcher existed.
                    *seen = version;
                    bump(&inner.changes);
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| LogError::storage("a watch task of the embedded log failed", e))?
    }

    /// Runs `attempt` until it returns something or `block` has passed, waking on commits of this handle at
    /// once and on commits of other processes within the poll interval.
    async fn wait_for<T, F, Fut>(&self, block: Duration, mut attempt: F) -> Result<Vec<T>, LogError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Vec<T>, LogError>>,
    {
        let start = Instant::now();
        let deadline = start.checked_add(block).unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 3600));
        let mut changes = self.inner.changes.subscribe();
        loop {
            changes.borrow_and_update();
            let got = attempt().await?;
            if !got.is_empty() {
                return Ok(got);
            }
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return Ok(got);
                }
                let wait = (deadline - now).min(self.inner.options.poll_interval);
                match tokio::time::timeout(wait, changes.changed()).await {
                    Ok(Ok(())) => break,
                    Ok(Err(_)) => return Err(LogError::Closed),
                    Err(_) => {
                        self.refresh().await?;
                        if changes.has_changed().map_err(|_| LogError::Closed)? {
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[async_trait]
impl EventLog for EmbeddedLog {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn stream(&self) -> &str {
        &self.inner.options.stream
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { persistent: true, multi_process: true, replicated: false, native_blocking: false }
    }

    async fn append(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows = events.iter().map(NewRow::encode).collect::<Result<Vec<_>, _>>()?;
        let seqs = self.inner.writer.append(rows).await?;
        seqs.into_iter().map(store::position).collect()
    }

    async fn ensure_group(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        let (g, s) = (group.clone(), start.clone());
        self.inner.writer.run(move |c| store::ensure_group(c, &g, &s)).await?;
        bump(&self.inner.changes);
        Ok(())
    }

    async fn read_group(&self, group: &GroupName, consumer: &ConsumerName, max: usize, block: Duration) -> Result<Vec<Delivery>, LogError> {
        let d = self.inner.options.durability;
        self.wait_for(block, || {
            let (g, c) = (group.clone(), consumer.clone());
            self.inner.writer.run(move |conn| store::without_fsync(conn, d, |conn| store::claim(conn, &g, &c, max)))
        })
        .await
    }

    async fn read_pending(&self, group: &GroupName, consumer: &ConsumerName, max: usize) -> Result<Vec<Delivery>, LogError> {
        let (g, c) = (group.clone(), consumer.clone());
        self.inner.writer.run(move |conn| store::redeliver(conn, &g, &c, Redeliver::Own(&c), max)).await
    }

    async fn ack(&self, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
        let (g, ps) = (group.clone(), positions.to_vec());
        let d = self.inner.options.durability;
        self.inner.writer.run(move |conn| store::without_fsync(conn, d, |conn| store::ack(conn, &g, &ps))).await
    }

    async fn reclaim(&self, group: &GroupName, consumer: &ConsumerName, min_idle: Duration, max: usize) -> Result<Vec<Delivery>, LogError> {
        let (g, c) = (group.clone(), consumer.clone());
        self.inner.writer.run(move |conn| store::redeliver(conn, &g, &c, Redeliver::IdleFor(min_idle), max)).await
    }

    async fn read(&self, from: &StartFrom, max: usize, block: Duration) -> Result<Vec<Record>, LogError> {
        let from = match from {
            // "From now on": fix the head once, so the wait returns what is appended during it.
            StartFrom::End => StartFrom::After(store::position(self.reader(|c| store::last_entry(c)).await?.0)?),
            StartFrom::After(p) => {
                store::parse_position(p)?;
                from.clone()
            }
            other => other.clone(),
        };
        self.wait_for(block, || {
            let from = from.clone();
            self.reader(move |c| {
                let cursor = store::resolve(c, &from)?;
                store::read_after(c, cursor, max)
            })
        })
        .await
    }

    async fn read_back(&self, before: Option<&Position>, max: usize) -> Result<Vec<Record>, LogError> {
        let before = before.map(store::parse_position).transpose()?.unwrap_or(i64::MAX);
        self.reader(move |c| store::read_before(c, before, max)).await
    }

    async fn head(&self) -> Result<Option<Position>, LogError> {
        let (seq, _) = self.reader(|c| store::last_entry(c)).await?;
        if seq == 0 { Ok(None) } else { store::position(seq).map(Some) }
    }

    async fn groups(&self) -> Result<Vec<GroupInfo>, LogError> {
        self.reader(store::groups).await
    }

    async fn group_info(&self, group: &GroupName) -> Result<GroupInfo, LogError> {
        let g = group.clone();
        self.reader(move |c| store::group_info(c, &g)).await
    }

    async fn set_group_position(&self, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
        let (g, s) = (group.clone(), start.clone());
        self.inner.writer.run(move |c| store::set_group_position(c, &g, &s)).await?;
        bump(&self.inner.changes);
        Ok(())
    }

    async fn health(&self) -> Result<(), LogError> {
        self.reader(|c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).map_err(|e| sql("reading the schema", e))
        })
        .await?;
        self.inner.writer.run(|_| Ok(())).await
    }
}
