//! The consumer runtime: runs subscribers against an [`EventLog`] with the inbox, retries and dead
//! letters in the [`StateStore`].
//!
//! Per delivery:
//! 1. An undecodable entry is dead-lettered (`undecodable`) and acked, unless its type could be read and the
//!    subscriber does not want it. A type the subscriber does not want,
//!    or a redelivery addressed to another subscriber, is acked without a trace (it is not ours).
//! 2. In one state-store transaction: the inbox row `(subscriber, event_id)` is inserted with
//!    `ON CONFLICT DO NOTHING`; if it already existed the event is a duplicate and is acked without calling
//!    the handler; otherwise the handler runs with the transaction and the transaction commits. The
//!    handler's SQL writes and the inbox row therefore exist together or not at all. First deliveries are
//!    handled in chunks of up to `handler_batch` events per transaction (one commit per chunk); if one
//!    handler fails, the chunk rolls back and is redone without it, and the failing event continues alone
//!    with its failure counted as its first attempt.
//! 3. The entry is acked after the commit. A crash between commit and ack redelivers it; step 2 then finds
//!    the inbox row and acks.
//! 4. A transient error rolls back, records the attempt (so counts survive restarts), frees the
//!    concurrency slot, waits with backoff and retries, up to `max_attempts`; then the event is
//!    dead-lettered and acked. A permanent error or a panic dead-letters at once. If the dead letter
//!    cannot be written the entry is not acked: it stays pending and is retried later. Nothing is acked
//!    away without a trace.
//! 5. Deliveries left pending by a dead replica are reclaimed after `claim_idle`; at start a replica
//!    first takes back its own pending entries.
//! 6. Shutdown stops reading, lets in-flight handlers finish (bounded by a grace period), flushes acks.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstream_core::{ConsumerName, Delivery, EventLog, GroupName, Position};
use eventstream_sql::{DeadLetterKind, NewDeadLetter, ProcessedRecord, StateStore};
use futures::FutureExt;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::handler::{HandlerContext, HandlerError};
use crate::subscriber::Subscription;

/// The `meta` key that addresses a redelivered event (a dead-letter retry) to one subscriber; every other
/// subscriber acks it without processing.
pub const REDELIVER_TO_META_KEY: &str = "redeliver_to";

/// Live counters of one subscriber in this process.
#[derive(Debug, Default)]
pub struct SubscriberStats {
    /// Events whose handler succeeded and committed.
    pub processed: AtomicU64,
    /// Deliveries skipped because the inbox had them already.
    pub duplicates: AtomicU64,
    /// Handler failures (each attempt).
    pub failures: AtomicU64,
    /// Events dead-lettered.
    pub dead_lettered: AtomicU64,
    /// Deliveries being handled right now (including those waiting for a retry).
    pub in_flight: AtomicU64,
}

/// A snapshot of [`SubscriberStats`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`SubscriberStats::processed`].
    pub processed: u64,
    /// See [`SubscriberStats::duplicates`].
    pub duplicates: u64,
    /// See [`SubscriberStats::failures`].
    pub failures: u64,
    /// See [`SubscriberStats::dead_lettered`].
    pub dead_lettered: u64,
    /// See [`SubscriberStats::in_flight`].
    pub in_flight: u64,
}

impl SubscriberStats {
    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            processed: self.processed.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }
}

/// Runs subscribers until shut down.
#[derive(Debug)]
pub struct ConsumerRuntime {
    log: Arc<dyn EventLog>,
    store: StateStore,
    consumer: ConsumerName,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    stats: Vec<(GroupName, Arc<SubscriberStats>)>,
}

/// A unique consumer name for this process: `<host>-<pid>-<random>`.
pub fn default_consumer_name() -> ConsumerName {
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let host: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
    let host = if host.is_empty() { "brain".to_owned() } else { host };
    let suffix: u32 = rand::random();
    format!("{host}-{}-{suffix:08x}", std::process::id()).parse().unwrap_or_else(|_| ConsumerName::generate())
}

impl ConsumerRuntime {
    /// A runtime whose replicas are called `consumer` in every group.
    pub fn new(log: Arc<dyn EventLog>, store: StateStore, consumer: ConsumerName) -> Self {
        Self { log, store, consumer, shutdown: CancellationToken::new(), tasks: JoinSet::new(), stats: Vec::new() }
    }

    /// Starts a subscriber; returns its live counters.
    pub fn spawn(&mut self, sub: Subscription) -> Arc<SubscriberStats> {
        let stats = Arc::new(SubscriberStats::default());
        self.stats.push((sub.name.clone(), stats.clone()));
        let worker = Worker {
            log: self.log.clone(),
            store: self.store.clone(),
            consumer: self.consumer.clone(),
            sub: Arc::new(sub),
            stats: stats.clone(),
            shutdown: self.shutdown.clone(),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        };
        self.tasks.spawn(worker.run());
        stats
    }

    /// The counters of every subscriber started here.
    pub fn stats(&self) -> &[(GroupName, Arc<SubscriberStats>)] {
        &self.stats
    }

    /// A token that stops every subscriber when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops reading, waits up to `grace` for in-flight handlers, flushes acks.
    pub async fn shutdown(mut self, grace: Duration) {
        self.shutdown.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("subscribers did not stop within {grace:?}; their pending deliveries will be redelivered");
            self.tasks.abort_all();
        }
    }
}

struct Worker {
    log: Arc<dyn EventLog>,
    store: StateStore,
    consumer: ConsumerName,
    sub: Arc<Subscription>,
    stats: Arc<SubscriberStats>,
    shutdown: CancellationToken,
    in_flight: Arc<Mutex<HashSet<Position>>>,
}

/// What one try of a delivery came to.
enum Outcome {
    Done,
    Duplicate,
    Failed(HandlerError),
    /// The state store could not be used: retry later without counting an attempt.
    StoreDown(eventstream_sql::StoreError),
}

impl Worker {
    async fn run(self) {
        let name = self.sub.name.clone();
        // Create the group, waiting out an unavailable log.
        let mut backoff_attempt = 0;
        loop {
            match self.log.ensure_group(&name, &self.sub.options.start).await {
                Ok(()) => break,
                Err(e) => {
                    backoff_attempt += 1;
                    tracing::warn!(subscriber = %name, error = %e, "cannot create the consumer group; retrying");
                    if self.pause(self.sub.options.backoff.delay(backoff_attempt)).await {
                        return;
                    }
                }
            }
        }
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Position>();
        let acker = tokio::spawn(acker(self.log.clone(), name.clone(), ack_rx));
        let this = Arc::new(self);
        let sem = Arc::new(Semaphore::new(this.sub.options.concurrency.max(1)));
        let mut handlers = JoinSet::new();

        // Own pending entries first (this consumer name crashed before acking them).
        if let Ok(own) = this.log.read_pending(&name, &this.consumer, 10_000).await {
            this.dispatch_many(own, &sem, &ack_tx, &mut handlers).await;
        }

        let mut last_claim = Instant::now();
        let mut read_failures = 0u32;
        loop {
            if this.shutdown.is_cancelled() {
                break;
            }
            while handlers.try_join_next().is_some() {}
            if last_claim.elapsed() >= this.sub.options.claim_interval {
                last_claim = Instant::now();
                match this.log.reclaim(&name, &this.consumer, this.sub.options.claim_idle, this.sub.options.batch_size).await {
                    Ok(ds) => this.dispatch_many(ds, &sem, &ack_tx, &mut handlers).await,
                    Err(e) => tracing::warn!(subscriber = %name, error = %e, "reclaim failed"),
                }
            }
            // Read no more than we can start now: a read delivery's idle clock is running.
            let free = sem.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = this.shutdown.cancelled() => break,
                    _ = handlers.join_next(), if !handlers.is_empty() => {},
                    () = tokio::time::sleep(Duration::from_millis(50)) => {},
                }
                continue;
            }
            let max = free.saturating_mul(this.sub.options.handler_batch.max(1)).min(this.sub.options.batch_size).max(1);
            let read = tokio::select! {
                _ = this.shutdown.cancelled() => break,
                r = this.log.read_group(&name, &this.consumer, max, this.sub.options.read_block) => r,
            };
            match read {
                Ok(ds) => {
                    read_failures = 0;
                    this.dispatch_many(ds, &sem, &ack_tx, &mut handlers).await;
                }
                Err(e) => {
                    read_failures += 1;
                    tracing::warn!(subscriber = %name, error = %e, "read failed; retrying");
                    if this.pause(this.sub.options.backoff.delay(read_failures)).await {
                        break;
                    }
                }
            }
        }
        // Drain: in-flight handlers finish (those waiting for a retry give up and stay pending).
        while handlers.join_next().await.is_some() {}
        drop(ack_tx);
        let _ = acker.await;
    }

    /// Sleeps unless shut down first; returns true when shut down.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => true,
            () = tokio::time::sleep(d) => false,
        }
    }

    /// Splits deliveries into chunks of at most `handler_batch` and starts one task per chunk, each holding
    /// one concurrency slot.
    async fn dispatch_many(
        self: &Arc<Self>,
        ds: Vec<Delivery>,
        sem: &Arc<Semaphore>,
        acks: &mpsc::UnboundedSender<Position>,
        handlers: &mut JoinSet<()>,
    ) {
        let fresh: Vec<Delivery> = {
            let Ok(mut set) = self.in_flight.lock() else { return };
            // A reclaim can return our own delivery that is still being handled here: skip it.
            ds.into_iter().filter(|d| set.insert(d.record.position.clone())).collect()
        };
        let chunk = self.sub.options.handler_batch.max(1);
        let mut it = fresh.into_iter().peekable();
        while it.peek().is_some() {
            let part: Vec<Delivery> = it.by_ref().take(chunk).collect();
            let Ok(permit) = sem.clone().acquire_owned().await else { return };
            self.stats.in_flight.fetch_add(part.len() as u64, Ordering::Relaxed);
            let this = self.clone();
            let acks = acks.clone();
            let sem = sem.clone();
            handlers.spawn(async move {
                let positions: Vec<Position> = part.iter().map(|d| d.record.position.clone()).collect();
                for p in this.handle_chunk(part, permit, &sem).await {
                    let _ = acks.send(p);
                }
                this.stats.in_flight.fetch_sub(positions.len() as u64, Ordering::Relaxed);
                if let Ok(mut set) = this.in_flight.lock() {
                    for p in &positions {
                        set.remove(p);
                    }
                }
            });
        }
    }

    /// Handles a chunk of deliveries; returns the positions that may be acked.
    ///
    /// First deliveries are handled together in one transaction (one commit for the chunk). If a handler
    /// fails inside it, the transaction rolls back, the failing delivery leaves the batch (its failure
    /// counts as its first attempt) and the rest is tried again as a batch. Redeliveries, undecodable
    /// entries and failed deliveries then go through [`Worker::handle_delivery`] one by one, each with its
    /// own slot, so a retrying event never holds up the others.
    async fn handle_chunk(&self, ds: Vec<Delivery>, permit: tokio::sync::OwnedSemaphorePermit, sem: &Arc<Semaphore>) -> Vec<Position> {
        let mut acked = Vec::new();
        let mut batch: Vec<Delivery> = Vec::new();
        let mut singles: Vec<(Delivery, Option<HandlerError>)> = Vec::new();
        for d in ds {
            match &d.record.event {
                Ok(e) if !self.is_ours(e) => acked.push(d.record.position.clone()),
                // An undecodable entry whose type was readable and is not ours: not our concern.
                Err(err) if err.event_type.as_ref().is_some_and(|t| !self.sub.patterns.iter().any(|p| p.matches(t))) => {
                    acked.push(d.record.position.clone());
                }
                Ok(_) if d.delivery_count <= 1 => batch.push(d),
                _ => singles.push((d, None)),
            }
        }
        while batch.len() > 1 {
            match self.try_batch(&batch).await {
                BatchOutcome::Committed { processed, duplicates } => {
                    self.stats.processed.fetch_add(processed, Ordering::Relaxed);
                    self.stats.duplicates.fetch_add(duplicates, Ordering::Relaxed);
                    acked.extend(batch.drain(..).map(|d| d.record.position));
                }
                BatchOutcome::Failed { index, error } => {
                    let d = batch.remove(index);
                    singles.push((d, Some(error)));
                }
                BatchOutcome::StoreDown => singles.extend(batch.drain(..).map(|d| (d, None))),
            }
        }
        singles.extend(batch.drain(..).map(|d| (d, None)));
        if singles.is_empty() {
            return acked;
        }
        // One by one, concurrently, the first with this chunk's slot and the others with their own.
        let mut first_permit = Some(permit);
        let runs = singles.into_iter().map(|(d, failure)| {
            let permit = first_permit.take();
            async move {
                let permit = match permit {
                    Some(p) => p,
                    None => match sem.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return None,
                    },
                };
                let position = d.record.position.clone();
                self.handle_delivery(d, permit, sem, failure).await.then_some(position)
            }
        });
        acked.extend(futures::future::join_all(runs).await.into_iter().flatten());
        acked
    }

    /// Whether this subscriber handles the event: it wants the type, and the event is not a dead-letter
    /// retry addressed to another subscriber.
    fn is_ours(&self, event: &eventstream_core::Event) -> bool {
        if !self.sub.wants(event) {
            return false;
        }
        match event.meta.extra.get(REDELIVER_TO_META_KEY) {
            Some(serde_json::Value::String(to)) => to == self.sub.name.as_str(),
            _ => true,
        }
    }

    /// Handles first deliveries in one transaction: an inbox row and the handler's writes per event, one
    /// commit.
    async fn try_batch(&self, batch: &[Delivery]) -> BatchOutcome {
        let Ok(mut tx) = self.store.begin().await else { return BatchOutcome::StoreDown };
        let (mut processed, mut duplicates) = (0u64, 0u64);
        for (index, d) in batch.iter().enumerate() {
            let Ok(event) = &d.record.event else { return BatchOutcome::StoreDown };
            let position = &d.record.position;
            let record = ProcessedRecord::for_event(&self.sub.name, self.log.stream(), position, event);
            match tx.mark_processed(&record).await {
                Ok(true) => {}
                Ok(false) => {
                    duplicates += 1;
                    continue;
                }
                Err(e) if e.is_transient() => return BatchOutcome::StoreDown,
                Err(e) => return BatchOutcome::Failed { index, error: HandlerError::permanent(e) },
            }
            let result = {
                let mut ctx = HandlerContext { tx: &mut tx, subscriber: &self.sub.name, position, attempt: 1 };
                AssertUnwindSafe(self.sub.handler.handle(&mut ctx, event)).catch_unwind().await
            };
            match result {
                Ok(Ok(())) => processed += 1,
                Ok(Err(error)) => return BatchOutcome::Failed { index, error },
                Err(panic) => return BatchOutcome::Failed { index, error: panic_error(panic.as_ref()) },
            }
        }
        match tx.commit().await {
            Ok(()) => BatchOutcome::Committed { processed, duplicates },
            Err(_) => BatchOutcome::StoreDown,
        }
    }

    /// Handles one delivery to the end; returns whether it may be acked.
    async fn handle_delivery(
        &self,
        d: Delivery,
        mut permit: tokio::sync::OwnedSemaphorePermit,
        sem: &Arc<Semaphore>,
        first_failure: Option<HandlerError>,
    ) -> bool {
        let name = &self.sub.name;
        let position = d.record.position.clone();
        let event = match &d.record.event {
            Ok(e) => e,
            Err(decode) => {
                let raw = serde_json::json!({"position": position.as_str(), "error": decode.to_string()}).to_string();
                let dl = NewDeadLetter::undecodable(name, self.log.stream(), &position, raw, decode);
                return self.dead_letter(dl).await;
            }
        };
        if !self.is_ours(event) {
            return true;
        }
        // Only a redelivery can have failed attempts on record (a dead-letter retry clears them), so the
        // first delivery skips the lookup.
        let prior_state = loop {
            if d.delivery_count <= 1 {
                break None;
            }
            match self.store.retry_state(name, &event.id).await {
                Ok(st) => break st,
                Err(e) => {
                    tracing::warn!(subscriber = %name, error = %e, "state store unavailable; waiting");
                    if self.pause(Duration::from_millis(500)).await {
                        return false;
                    }
                }
            }
        };
        let prior = prior_state.as_ref().map_or(0, |s| s.attempts);
        let first_failed_at = prior_state.map(|s| s.first_failed_at);
        let mut attempt = prior + 1;
        let mut store_failures = 0u32;
        // A failure inside a batch already was this event's attempt.
        let mut pending_failure = first_failure;
        loop {
            let outcome = match pending_failure.take() {
                Some(err) => Outcome::Failed(err),
                None => self.try_once(&position, event, attempt).await,
            };
            match outcome {
                Outcome::Done => {
                    self.stats.processed.fetch_add(1, Ordering::Relaxed);
                    if prior > 0 || attempt > 1 {
                        let _ = self.store.clear_retry_state(name, &event.id).await;
                    }
                    return true;
                }
                Outcome::Duplicate => {
                    self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Outcome::StoreDown(e) => {
                    store_failures += 1;
                    tracing::warn!(subscriber = %name, error = %e, "state store unavailable; retrying");
                    drop(permit);
                    if self.pause(self.sub.options.backoff.delay(store_failures)).await {
                        return false;
                    }
                    let Ok(p) = sem.clone().acquire_owned().await else { return false };
                    permit = p;
                }
                Outcome::Failed(err) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    let exhausted = attempt >= self.sub.options.max_attempts;
                    if !err.is_transient() || exhausted {
                        let kind = if err.is_transient() { DeadLetterKind::TransientExhausted } else { DeadLetterKind::Permanent };
                        tracing::warn!(subscriber = %name, event_id = %event.id, attempt, error = %err, "dead-lettering");
                        let mut dl = NewDeadLetter::for_event(name, self.log.stream(), &position, event, kind, err.to_string(), attempt);
                        if let Some(first) = first_failed_at {
                            dl.first_failed_at = first;
                        }
                        let ok = self.dead_letter(dl).await;
                        if ok {
                            let _ = self.store.clear_retry_state(name, &event.id).await;
                        }
                        return ok;
                    }
                    tracing::info!(subscriber = %name, event_id = %event.id, attempt, error = %err, "transient failure; will retry");
                    let _ = self.store.record_retry_failure(name, &event.id, &err.to_string()).await;
                    // Free the slot while waiting so the events behind this one keep flowing.
                    drop(permit);
                    if self.pause(self.sub.options.backoff.delay(attempt)).await {
                        return false;
                    }
                    let Ok(p) = sem.clone().acquire_owned().await else { return false };
                    permit = p;
                    attempt += 1;
                }
            }
        }
    }

    async fn try_once(&self, position: &Position, event: &eventstream_core::Event, attempt: u32) -> Outcome {
        let mut tx = match self.store.begin().await {
            Ok(tx) => tx,
            Err(e) => return Outcome::StoreDown(e),
        };
        let record = ProcessedRecord::for_event(&self.sub.name, self.log.stream(), position, event);
        match tx.mark_processed(&record).await {
            Ok(true) => {}
            Ok(false) => return Outcome::Duplicate,
            Err(e) if e.is_transient() => return Outcome::StoreDown(e),
            Err(e) => return Outcome::Failed(HandlerError::permanent(e)),
        }
        let result = {
            let mut ctx = HandlerContext { tx: &mut tx, subscriber: &self.sub.name, position, attempt };
            AssertUnwindSafe(self.sub.handler.handle(&mut ctx, event)).catch_unwind().await
        };
        match result {
            Ok(Ok(())) => match tx.commit().await {
                Ok(()) => Outcome::Done,
                Err(e) if e.is_transient() => Outcome::StoreDown(e),
                Err(e) => Outcome::Failed(HandlerError::transient(e)),
            },
            Ok(Err(e)) => Outcome::Failed(e),
            Err(panic) => Outcome::Failed(panic_error(panic.as_ref())),
        }
    }

    /// Writes a dead letter; returns whether the delivery may be acked (only once the letter is stored).
    async fn dead_letter(&self, dl: NewDeadLetter) -> bool {
        for attempt in 1..=5u32 {
            match self.store.add_dead_letter(&dl).await {
                Ok(_) => {
                    self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(e) => {
                    tracing::warn!(subscriber = %dl.subscriber, error = %e, "cannot store the dead letter; retrying");
                    if self.pause(self.sub.options.backoff.delay(attempt)).await {
                        return false;
                    }
                }
            }
        }
        false
    }
}

/// What handling a batch in one transaction came to.
enum BatchOutcome {
    /// Committed: every delivery may be acked.
    Committed { processed: u64, duplicates: u64 },
    /// The delivery at `index` failed; the transaction rolled back.
    Failed { index: usize, error: HandlerError },
    /// The state store failed; nothing was committed.
    StoreDown,
}

/// A panic in a handler is a permanent error carrying the panic message.
fn panic_error(panic: &(dyn std::any::Any + Send)) -> HandlerError {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    HandlerError::permanent(format!("handler panicked: {msg}"))
}

/// Acks in batches; on shutdown flushes what is queued.
async fn acker(log: Arc<dyn EventLog>, group: GroupName, mut rx: mpsc::UnboundedReceiver<Position>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut tries = 0;
        loop {
            match log.ack(&group, &batch).await {
                Ok(_) => break,
                Err(e) => {
                    tries += 1;
                    if tries >= 5 {
                        // Left pending: they will be redelivered and the inbox will skip them.
                        tracing::warn!(subscriber = %group, error = %e, count = batch.len(), "ack failed; entries stay pending");
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
            }
        }
        batch.clear();
    }
}
