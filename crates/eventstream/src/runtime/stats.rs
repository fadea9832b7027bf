//! The live counters of one subscriber in this process.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

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
