//! One subscriber's loop: create the group, take back this consumer's own pending entries, then read,
//! reclaim idle deliveries of dead replicas and dispatch chunks to handler tasks, each holding a
//! concurrency slot; on shutdown drain the handlers and flush the acks.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstream_core::error::Chain;
use eventstream_core::{ConsumerName, Delivery, EventLog, Position};
use eventstream_sql::StateStore;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::acker::acker;
use super::stats::SubscriberStats;
use crate::subscriber::Subscription;

/// One subscriber's loop and what its deliveries need.
pub(super) struct Worker {
    pub(super) log: Arc<dyn EventLog>,
    pub(super) store: StateStore,
    pub(super) consumer: ConsumerName,
    pub(super) sub: Arc<Subscription>,
    pub(super) stats: Arc<SubscriberStats>,
    pub(super) shutdown: CancellationToken,
    pub(super) in_flight: Arc<Mutex<HashSet<Position>>>,
}

impl Worker {
    /// Runs the subscriber until shut down.
    pub(super) async fn run(self) {
        let name = self.sub.name.clone();
        // Create the group, waiting out an unavailable log.
        let mut backoff_attempt = 0;
        loop {
            match self.log.ensure_group(&name, &self.sub.options.start).await {
                Ok(()) => break,
                Err(e) => {
                    backoff_attempt += 1;
                    tracing::warn!(subscriber = %name, error = %Chain(&e), "cannot create the consumer group; retrying");
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
                    Err(e) => tracing::warn!(subscriber = %name, error = %Chain(&e), "reclaim failed"),
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
                    tracing::warn!(subscriber = %name, error = %Chain(&e), "read failed; retrying");
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
    pub(super) async fn pause(&self, d: Duration) -> bool {
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
}
