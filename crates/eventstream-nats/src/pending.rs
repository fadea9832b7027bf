//! The pending-entry ownership table: which consumer of a group holds each delivered, unacknowledged
//! entry, how often it was delivered, and the JetStream ack subject that settles it.
//!
//! JetStream tracks one pending set per durable consumer; it does not know the replicas (consumer names)
//! inside a group, so it cannot answer "this consumer's own pending entries" after a restart, nor move an
//! entry to the consumer that reclaims it. This table does, in a stream of its own (`<stream>_pending`)
//! with one subject per entry, `<stream>.pending.<group>.<seq>`, and at most one message per subject:
//!
//! - `read_group` writes a record per delivered entry;
//! - `reclaim` replaces a record with compare-and-set (`Nats-Expected-Last-Subject-Sequence`), so two
//!   processes reclaiming at once cannot both take an entry; the record's server timestamp is when the
//!   entry was last delivered, which is what `min_idle` is measured against;
//! - `ack` purges the subject; the purge count says whether the entry was still pending, which makes
//!   concurrent and repeated acks count exactly once.
//!
//! The table is the source of truth for "pending": it survives a group being recreated by
//! `set_group_position`, which JetStream's own pending set does not.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE;
use async_nats::jetstream::Context;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::{DirectGetErrorKind, Stream};
use chrono::{DateTime, Utc};
use eventstream_core::{GroupName, LogError};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{BadRecord, bounded, storage, unavailable};
use crate::failover::{Retry, publish_retryable};
use crate::names::{pending_filter, pending_subject, seq_of_pending_subject};

/// How many table reads run at once when a group's records are listed.
const READ_CONCURRENCY: usize = 16;

/// What the table stores per pending entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    /// The consumer that holds the entry.
    pub(crate) consumer: String,
    /// How many times the entry was delivered to the group.
    pub(crate) count: u32,
    /// The JetStream ack subject of the delivery.
    pub(crate) reply: String,
}

/// A record read back from the table.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The entry's sequence in the event stream.
    pub(crate) seq: u64,
    /// The record's sequence in the table (for compare-and-set).
    revision: u64,
    /// When the entry was last delivered (the record's server timestamp).
    pub(crate) delivered_at: DateTime<Utc>,
    /// Who holds it.
    pub(crate) holder: Holder,
}

/// The table of one log.
#[derive(Debug, Clone)]
pub(crate) struct PendingTable {
    js: Context,
    table: Stream,
    log: String,
    timeout: Duration,
    failover: Duration,
}

/// Nanoseconds since the epoch as a chrono instant.
pub(crate) fn utc_from_nanos(nanos: i128) -> DateTime<Utc> {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000);
    i64::try_from(secs).ok().and_then(|s| DateTime::from_timestamp(s, u32::try_from(sub).unwrap_or(0))).unwrap_or_default()
}

impl PendingTable {
    pub(crate) fn new(js: Context, table: Stream, log: String, timeout: Duration, failover: Duration) -> Self {
        Self { js, table, log, timeout, failover }
    }

    /// Records that `consumer` now holds the entries `(seq, holder)`; publishes are pipelined, then every
    /// ack is awaited. Retried as a whole through a failover (each subject keeps only its last record, so
    /// writing a record twice is harmless).
    pub(crate) async fn put_many(&self, group: &GroupName, holders: Vec<(u64, Holder)>) -> Result<(), LogError> {
        let mut records = Vec::with_capacity(holders.len());
        for (seq, holder) in holders {
            let body = serde_json::to_vec(&holder).map_err(storage("encoding a pending record"))?;
            records.push((pending_subject(&self.log, group, seq), body));
        }
        let mut retry = Retry::new(self.failover);
        loop {
            match self.put_once(&records).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && retry.again("recording pending entries", &e).await => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn put_once(&self, records: &[(String, Vec<u8>)]) -> Result<(), LogError> {
        let mut acks = Vec::with_capacity(records.len());
        for (subject, body) in records {
            let ack = bounded("recording a pending entry", self.timeout, async {
                self.js.publish(subject.clone(), body.clone().into()).await.map_err(unavailable("recording a pending entry"))
            })
            .await?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(unavailable("recording a pending entry"))?;
        }
        Ok(())
    }

    /// Replaces `old` with `holder` unless someone changed it meanwhile; `false` when they did.
    pub(crate) async fn replace(&self, group: &GroupName, old: &Pending, holder: &Holder) -> Result<bool, LogError> {
        let body = serde_json::to_vec(holder).map_err(storage("encoding a pending record"))?;
        let mut headers = HeaderMap::new();
        headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, old.revision.to_string().as_str());
        let subject = pending_subject(&self.log, group, old.seq);
        let mut retry = Retry::new(self.failover);
        loop {
            let ack = bounded("moving a pending entry", self.timeout, async {
                self.js
                    .publish_with_headers(subject.clone(), headers.clone(), body.clone().into())
                    .await
                    .map_err(unavailable("moving a pending entry"))
            })
            .await;
            let result = match ack {
                Ok(ack) => ack.await,
                Err(e) if retry.again("moving a pending entry", &e).await => continue,
                Err(e) => return Err(e),
            };
            match result {
                Ok(_) => return Ok(true),
                // After a retry this may be our own first attempt that was stored after all: then the
                // record names this holder, which the caller's next look shows; the entry is not lost.
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Ok(false),
                Err(e) if publish_retryable(&e.kind()) && retry.again("moving a pending entry", &e).await => {}
                Err(e) => return Err(LogError::unavailable("moving a pending entry", e)),
            }
        }
    }

    /// The record of entry `seq`, if it is pending.
    pub(crate) async fn get(&self, group: &GroupName, seq: u64) -> Result<Option<Pending>, LogError> {
        let subject = pending_subject(&self.log, group, seq);
        match self.table.direct_get_last_for_subject(subject.clone()).await {
            Ok(m) => {
                let holder: Holder = serde_json::from_slice(&m.payload)
                    .map_err(|source| LogError::storage("reading a pending record", BadRecord { subject, source }))?;
                Ok(Some(Pending { seq, revision: m.sequence, delivered_at: utc_from_nanos(m.time.unix_timestamp_nanos()), holder }))
            }
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::unavailable("reading a pending record", e)),
        }
    }

    /// The sequences of every pending entry of `group`, ascending.
    pub(crate) async fn sequences(&self, group: &GroupName) -> Result<Vec<u64>, LogError> {
        let info = self.table.info_with_subjects(pending_filter(&self.log, group)).await.map_err(unavailable("listing pending entries"))?;
        let subjects: Vec<(String, usize)> = info.try_collect().await.map_err(unavailable("listing pending entries"))?;
        let mut seqs: Vec<u64> = subjects.iter().filter(|(_, n)| *n > 0).filter_map(|(s, _)| seq_of_pending_subject(s)).collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// Every pending record of `group`, oldest entry first.
    pub(crate) async fn list(&self, group: &GroupName) -> Result<Vec<Pending>, LogError> {
        let seqs = self.sequences(group).await?;
        let found: Vec<Option<Pending>> =
            futures::stream::iter(seqs.into_iter().map(|seq| self.get(group, seq))).buffered(READ_CONCURRENCY).try_collect().await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Removes the record of entry `seq`; returns 1 if it was pending, 0 if not.
    pub(crate) async fn remove(&self, group: &GroupName, seq: u64) -> Result<u64, LogError> {
        let r = self.table.purge().filter(pending_subject(&self.log, group, seq)).await.map_err(unavailable("settling a pending entry"))?;
        Ok(r.purged)
    }
}
