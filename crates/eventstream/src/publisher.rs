//! Publishing: [`EventStream::publish`] (returns once durable in the log) and [`EventStream::emit`]
//! (never waits on the network, never fails).
//!
//! `emit` path: an in-memory queue (bounded: a full queue makes `emit` wait for the local writer, it never
//! drops) -> a writer task that batches the queue into the local durable outbox (a SQLite file in the data
//! dir) within [`PublisherOptions::flush_interval`] -> a relay task that appends outbox rows to the log in
//! order and deletes them once the log accepted them, retrying with backoff while the log is down.
//!
//! Loss window: an event is durable once the writer committed its batch. A process crash after `emit`
//! returned and before that commit (at most `flush_interval` plus one local commit) loses it. Code that
//! cannot afford that uses [`EventStream::publish`] or the transactional outbox
//! ([`EventStream::outbox_in_tx`]).
//!
//! The relay may append a row twice (crash after the append, before the delete); consumers deduplicate on
//! the event id, so the second copy has no effect.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventstream_core::error::{Chain, chain};
use eventstream_core::{Event, EventLog, LogError, Position};
use eventstream_sql::{StateStore, StoreError, Tx};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;

/// A publish that reached the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The event id.
    pub id: eventstream_core::EventId,
    /// Where the log stored it.
    pub position: Position,
}

/// Why `publish` failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The log refused or could not be reached.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The outbox could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The publisher was shut down.
    #[error("the publisher is shut down")]
    Closed,
}

/// Tuning of the `emit` path.
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// Events waiting in memory before `emit` waits for the writer (default 65,536).
    pub queue_capacity: usize,
    /// The longest an emitted event waits in memory before the writer commits it (default 10 ms).
    pub flush_interval: Duration,
    /// Outbox rows appended per log call (default 500).
    pub relay_batch: usize,
    /// How often the relay looks for rows written by other processes or transactions (default 500 ms).
    pub relay_poll: Duration,
    /// Relay retry delays while the log is down (default 100 ms doubling to 5 s).
    pub relay_backoff: Backoff,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            flush_interval: Duration::from_millis(10),
            relay_batch: 500,
            relay_poll: Duration::from_millis(500),
            relay_backoff: Backoff::default(),
        }
    }
}

/// Counters of the `emit` path.
#[derive(Debug, Default)]
pub struct PublisherStats {
    /// Events handed to `emit`.
    pub emitted: AtomicU64,
    /// Events the writer committed to the outbox.
    pub outboxed: AtomicU64,
    /// Events the relay appended to the log.
    pub relayed: AtomicU64,
    /// Failed relay attempts.
    pub relay_failures: AtomicU64,
}

/// The handle modules receive: publish, emit, and the transactional outbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventStream {
    log: Arc<dyn EventLog>,
    outbox: StateStore,
    store: StateStore,
    separate_outbox: bool,
    queue: mpsc::Sender<Event>,
    /// Wakes the writer before its flush deadline once the queue is half full.
    high_water: Arc<Notify>,
    relay_wakeup: Arc<Notify>,
    stats: Arc<PublisherStats>,
}

/// The background tasks of an [`EventStream`]; stop them with [`PublisherTasks::shutdown`].
#[derive(Debug)]
pub struct PublisherTasks {
    cancel: CancellationToken,
    writer: JoinHandle<()>,
    relays: Vec<JoinHandle<()>>,
}

impl PublisherTasks {
    /// Flushes the in-memory queue into the outbox, lets the relay try once more, and stops.
    pub async fn shutdown(self, grace: Duration) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(grace, self.writer).await;
        for r in self.relays {
            let _ = tokio::time::timeout(grace, r).await;
        }
    }
}

impl EventStream {
    /// Builds the handle and starts the writer and relay tasks. `store` is the state store (modules' data
    /// and its transactional outbox); `local_outbox` is where `emit` writes, a SQLite file on local disk,
    /// when `store` is not local (PostgreSQL). `None` means `emit` uses `store`'s outbox.
    pub fn start(
        log: Arc<dyn EventLog>,
        store: StateStore,
        local_outbox: Option<StateStore>,
        options: PublisherOptions,
    ) -> (Self, PublisherTasks) {
        let separate_outbox = local_outbox.is_some();
        let outbox = local_outbox.unwrap_or_else(|| store.clone());
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let cancel = CancellationToken::new();
        let wakeup = Arc::new(Notify::new());
        let stats = Arc::new(PublisherStats::default());
        let high_water = Arc::new(Notify::new());
        let writer =
            tokio::spawn(writer(rx, outbox.clone(), wakeup.clone(), high_water.clone(), stats.clone(), options.clone(), cancel.clone()));
        let mut relays =
            vec![tokio::spawn(relay(log.clone(), outbox.clone(), wakeup.clone(), stats.clone(), options.clone(), cancel.clone()))];
        if separate_outbox {
            relays.push(tokio::spawn(relay(log.clone(), store.clone(), wakeup.clone(), stats.clone(), options, cancel.clone())));
        }
        let handle = Self { log, outbox, store, separate_outbox, queue: tx, high_water, relay_wakeup: wakeup, stats };
        (handle, PublisherTasks { cancel, writer, relays })
    }

    /// The event log.
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// The state store (modules' data, inbox, dead letters).
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    /// Counters of the emit path.
    pub fn stats(&self) -> &Arc<PublisherStats> {
        &self.stats
    }

    /// Appends the events to the log and returns once they are durable there. An event without a trace
    /// context gets the current one ([`crate::trace::stamp`]), as with `emit` and the outbox.
    ///
    /// # Errors
    /// [`PublishError::Log`] when the log refuses or cannot be reached (nothing was appended then).
    pub async fn publish(&self, mut event: Event) -> Result<Receipt, PublishError> {
        crate::trace::stamp(&mut event);
        let id = event.id.clone();
        let positions = self.log.append(std::slice::from_ref(&event)).await?;
        let position = positions.into_iter().next().ok_or(PublishError::Closed)?;
        Ok(Receipt { id, position })
    }

    /// Appends a batch in order; returns once durable.
    ///
    /// # Errors
    /// As [`EventStream::publish`].
    pub async fn publish_batch(&self, events: &[Event]) -> Result<Vec<Position>, PublishError> {
        Ok(self.log.append(&crate::trace::stamp_all(events)).await?)
    }

    /// Hands the event to the outbox path and returns without waiting on the network. Never fails: if the
    /// in-memory queue is full it waits for the local writer; if the publisher was shut down the event is
    /// written to the outbox directly.
    pub async fn emit(&self, mut event: Event) {
        crate::trace::stamp(&mut event);
        self.stats.emitted.fetch_add(1, Ordering::Relaxed);
        let sent = self.queue.send(event).await;
        // The writer sleeps through its flush interval without listening to the queue (so an emit wakes
        // nobody); past half full it is woken early.
        if self.queue.capacity() < self.queue.max_capacity() / 2 {
            self.high_water.notify_one();
        }
        if let Err(mpsc::error::SendError(event)) = sent {
            // Shut down: write it ourselves so it is not lost.
            let mut backoff = 1;
            while let Err(e) = self.outbox.outbox_insert_batch(std::slice::from_ref(&event)).await {
                tracing::error!(error = %Chain(&e), "cannot write to the local outbox; retrying");
                tokio::time::sleep(Backoff::default().delay(backoff)).await;
                backoff += 1;
            }
            self.relay_wakeup.notify_one();
        }
    }

    /// Writes events to the state store's outbox inside the caller's transaction: they are published if and
    /// only if the transaction commits. Call [`EventStream::wake_relay`] after the commit for prompt
    /// delivery (otherwise the relay finds them within `relay_poll`).
    ///
    /// # Errors
    /// The state store's error; the caller's transaction should then be rolled back.
    pub async fn outbox_in_tx(&self, tx: &mut Tx, events: &[Event]) -> Result<(), StoreError> {
        tx.outbox_insert(&crate::trace::stamp_all(events)).await.map(|_| ())
    }

    /// Tells the relay that new outbox rows exist.
    pub fn wake_relay(&self) {
        self.relay_wakeup.notify_waiters();
        self.relay_wakeup.notify_one();
    }

    /// Rows in the outboxes and the age of the oldest one.
    ///
    /// # Errors
    /// The state store's error.
    pub async fn outbox_stats(&self) -> Result<(u64, Option<Duration>), StoreError> {
        let mut stats = vec![self.outbox.outbox_stats().await?];
        if self.separate_outbox {
            stats.push(self.store.outbox_stats().await?);
        }
        let depth = stats.iter().map(|s| s.depth).sum();
        let now = chrono::Utc::now();
        let oldest = stats.iter().filter_map(|s| s.oldest_created_at).min().map(|t| (now - t).to_std().unwrap_or_default());
        Ok((depth, oldest))
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Event>,
    outbox: StateStore,
    wakeup: Arc<Notify>,
    high_water: Arc<Notify>,
    stats: Arc<PublisherStats>,
    options: PublisherOptions,
    cancel: CancellationToken,
) {
    let mut batch: Vec<Event> = Vec::new();
    loop {
        let first = tokio::select! {
            e = rx.recv() => e,
            _ = cancel.cancelled() => { rx.close(); rx.recv().await }
        };
        let Some(first) = first else { break };
        batch.push(first);
        // Gather what arrives within the flush interval: sleep until the deadline (or until the queue is
        // half full, or shutdown), then take what is queued. Not waiting on the queue itself means an
        // emit during the interval registers no wake-up and unparks no thread: it is an atomic and a push.
        let deadline = tokio::time::Instant::now() + options.flush_interval;
        if !cancel.is_cancelled() {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = high_water.notified() => {}
                _ = cancel.cancelled() => {}
            }
        }
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut attempt = 0;
        loop {
            match outbox.outbox_insert_batch(&batch).await {
                Ok(_) => break,
                Err(e) => {
                    attempt += 1;
                    tracing::error!(error = %Chain(&e), events = batch.len(), "cannot write to the local outbox; retrying");
                    tokio::time::sleep(options.relay_backoff.delay(attempt)).await;
                }
            }
        }
        stats.outboxed.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        wakeup.notify_one();
    }
}

async fn relay(
    log: Arc<dyn EventLog>,
    outbox: StateStore,
    wakeup: Arc<Notify>,
    stats: Arc<PublisherStats>,
    options: PublisherOptions,
    cancel: CancellationToken,
) {
    let mut failures = 0u32;
    let mut stopping = false;
    loop {
        let mut claim = match outbox.outbox_claim(u32::try_from(options.relay_batch).unwrap_or(u32::MAX)).await {
            Ok(claim) => Some(claim),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "cannot read the outbox");
                None
            }
        };
        let rows = claim.as_mut().map(eventstream_sql::OutboxClaim::take_rows).unwrap_or_default();
        let Some(claim) = claim.filter(|_| !rows.is_empty()) else {
            if stopping {
                return;
            }
            tokio::select! {
                () = wakeup.notified() => {}
                () = tokio::time::sleep(options.relay_poll) => {}
                _ = cancel.cancelled() => { stopping = true; }
            }
            continue;
        };
        let ids: Vec<eventstream_sql::OutboxId> = rows.iter().map(|r| r.id).collect();
        let events: Vec<Event> = rows.into_iter().map(|r| r.event).collect();
        // The rows are independent events: they need their order, not to be contiguous in the log.
        match log.append_interleaved(&events).await {
            Ok(_) => {
                failures = 0;
                stats.relayed.fetch_add(events.len() as u64, Ordering::Relaxed);
                let mut claim = Some(claim);
                let mut attempt = 0;
                loop {
                    let result = match claim.take() {
                        Some(c) => c.delete(&ids).await,
                        None => outbox.outbox_delete(&ids).await,
                    };
                    let Err(e) = result else { break };
                    attempt += 1;
                    tracing::warn!(error = %Chain(&e), "cannot delete relayed outbox rows; retrying");
                    tokio::time::sleep(options.relay_backoff.delay(attempt)).await;
                }
            }
            Err(e) => {
                failures += 1;
                stats.relay_failures.fetch_add(1, Ordering::Relaxed);
                let _ = claim.fail(&ids, &chain(&e)).await;
                if stopping {
                    tracing::warn!(error = %Chain(&e), "the log is unavailable at shutdown; {} events stay in the outbox and are sent at the next start", ids.len());
                    return;
                }
                let delay = options.relay_backoff.delay(failures);
                tracing::warn!(error = %Chain(&e), retry_in_ms = delay.as_millis() as u64, "cannot append outbox rows to the log; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => { stopping = true; }
                }
            }
        }
    }
}
