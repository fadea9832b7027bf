//! What happens to a delivery: first deliveries are handled in chunks in one transaction with their
//! inbox rows; redeliveries, undecodable entries and failed events one by one, with transient retries
//! (backoff, attempts recorded so they survive restarts) and dead letters that carry the whole error
//! chain.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eventstream_core::error::{Chain, chain};
use eventstream_core::{Delivery, Position};
use eventstream_sql::{DeadLetterKind, EventKey, NewDeadLetter, ProcessedRecord};
use futures::FutureExt;
use tokio::sync::Semaphore;

use super::REDELIVER_TO_META_KEY;
use super::worker::Worker;
use crate::handler::{BatchContext, BatchError, BatchItem, HandlerContext, HandlerError, panic_error};

/// What one try of a delivery came to.
enum Outcome {
    Done,
    Duplicate,
    Failed(HandlerError),
    /// The state store could not be used: retry later without counting an attempt.
    StoreDown(eventstream_sql::StoreError),
}

impl Worker {
    /// Handles a chunk of deliveries; returns the positions that may be acked.
    ///
    /// First deliveries are handled together in one transaction (one commit for the chunk). If a handler
    /// fails inside it, the transaction rolls back, the failing delivery leaves the batch (its failure
    /// counts as its first attempt) and the rest is tried again as a batch. Redeliveries, undecodable
    /// entries and failed deliveries then go through [`Worker::handle_delivery`] one by one, each with its
    /// own slot, so a retrying event never holds up the others.
    pub(super) async fn handle_chunk(
        &self,
        ds: Vec<Delivery>,
        permit: tokio::sync::OwnedSemaphorePermit,
        sem: &Arc<Semaphore>,
    ) -> Vec<Position> {
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

    /// Handles first deliveries in one transaction: the inbox rows of the whole chunk in one set-based
    /// statement, then the handler's batch (`Handler::handle_batch`) for the events new to this
    /// subscriber, then one commit.
    async fn try_batch(&self, batch: &[Delivery]) -> BatchOutcome {
        let Ok(mut tx) = self.store.begin().await else { return BatchOutcome::StoreDown };
        let mut records = Vec::with_capacity(batch.len());
        for d in batch {
            let Ok(event) = &d.record.event else { return BatchOutcome::StoreDown };
            records.push(ProcessedRecord::for_event(&self.sub.name, self.log.stream(), &d.record.position, event));
        }
        let marked = match tx.mark_processed_many(&records).await {
            Ok(m) => m,
            // The set statement failed as a whole: each event then goes on its own.
            Err(_) => return BatchOutcome::StoreDown,
        };
        let mut new = Vec::with_capacity(batch.len());
        let mut duplicates = 0u64;
        for (index, (d, m)) in batch.iter().zip(marked).enumerate() {
            match m {
                Ok(true) => {
                    if let Ok(event) = &d.record.event {
                        new.push((index, BatchItem { position: &d.record.position, event }));
                    }
                }
                Ok(false) => duplicates += 1,
                Err(e) => return BatchOutcome::Failed { index, error: HandlerError::permanent(e) },
            }
        }
        let items: Vec<BatchItem<'_>> = new.iter().map(|(_, item)| *item).collect();
        let result = {
            let mut ctx = BatchContext { tx: &mut tx, subscriber: &self.sub.name };
            AssertUnwindSafe(self.sub.handler.handle_batch(&mut ctx, &items)).catch_unwind().await
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(BatchError { index: Some(i), error })) if i < new.len() => {
                return BatchOutcome::Failed { index: new[i].0, error };
            }
            Ok(Err(_)) | Err(_) => return BatchOutcome::StoreDown,
        }
        match tx.commit().await {
            Ok(()) => BatchOutcome::Committed { processed: new.len() as u64, duplicates },
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
            match self.store.retry_state(name, &EventKey::of(event)).await {
                Ok(st) => break st,
                Err(e) => {
                    tracing::warn!(subscriber = %name, error = %Chain(&e), "state store unavailable; waiting");
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
                        let _ = self.store.clear_retry_state(name, &EventKey::of(event)).await;
                    }
                    return true;
                }
                Outcome::Duplicate => {
                    self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Outcome::StoreDown(e) => {
                    store_failures += 1;
                    tracing::warn!(subscriber = %name, error = %Chain(&e), "state store unavailable; retrying");
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
                        tracing::warn!(subscriber = %name, event_id = %event.id, attempt, error = %Chain(&err), "dead-lettering");
                        let mut dl = NewDeadLetter::for_event(name, self.log.stream(), &position, event, kind, chain(&err), attempt);
                        if let Some(first) = first_failed_at {
                            dl.first_failed_at = first;
                        }
                        let ok = self.dead_letter(dl).await;
                        if ok {
                            let _ = self.store.clear_retry_state(name, &EventKey::of(event)).await;
                        }
                        return ok;
                    }
                    tracing::info!(subscriber = %name, event_id = %event.id, attempt, error = %Chain(&err), "transient failure; will retry");
                    let _ = self.store.record_retry_failure(name, &EventKey::of(event), &chain(&err)).await;
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
            let run = AssertUnwindSafe(self.sub.handler.handle(&mut ctx, event)).catch_unwind();
            crate::trace::handle_in_span(&self.sub.name, event, attempt, run).await
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
                    tracing::warn!(subscriber = %dl.subscriber, error = %Chain(&e), "cannot store the dead letter; retrying");
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
