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
//!
//! # Layout
//! This file holds [`ConsumerRuntime`]; `stats.rs` the live counters, `worker.rs` one subscriber's read
//! loop (reading, reclaiming, dispatching chunks), `delivery.rs` what happens to a delivery (batch
//! transactions, retries, dead letters), `acker.rs` the batched acks.

mod acker;
mod delivery;
mod stats;
mod worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventstream_core::{ConsumerName, EventLog, GroupName};
use eventstream_sql::StateStore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use stats::{StatsSnapshot, SubscriberStats};

use crate::subscriber::Subscription;
use worker::Worker;

/// The `meta` key that addresses a redelivered event (a dead-letter retry) to one subscriber; every other
/// subscriber acks it without processing.
pub const REDELIVER_TO_META_KEY: &str = "redeliver_to";

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
