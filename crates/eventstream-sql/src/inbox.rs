//! The inbox: `processed_events`, which makes at-least-once delivery effectively-once.
//!
//! A subscriber records each event it has processed, keyed twice: by (tenant, event id) (a producer that
//! re-sends an event gets it ignored) and by stream position (a redelivered entry gets it ignored). Event
//! ids are unique per tenant only, so another tenant's event with the same id is a different event; a
//! tenantless event is stored with tenant `''` (a tenant id is never empty), so it is deduplicated too. The record is
//! written with `INSERT ... ON CONFLICT DO NOTHING` inside the handler's transaction, so the check and the
//! insert are one atomic statement (no check-then-act race between replicas) and the handler's effect and
//! the record commit or roll back together. Rows older than the retention (30 days by default) are
//! purged by [`StateStore::purge_processed_older_than`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use eventstream_core::{Event, EventId, EventType, GroupName, Position, TenantId};
use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::error::StoreError;
use crate::row::{MAX_BINDS_PER_STATEMENT, ago, to_ms};
use crate::store::{StateStore, Tx};

/// How long processed-event records are kept by default: 30 days. The original's docs said "30+ days"
/// and its index said 90; redelivery and producer retries happen within minutes, so 30 days is ample.
pub const DEFAULT_PROCESSED_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// One processed event, as recorded in `processed_events`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedRecord {
    /// The subscriber (= consumer group) that processed it.
    pub subscriber: GroupName,
    /// The stream or log it was read from (`brain:events:stream` on Redis).
    pub stream_name: String,
    /// Its position in that log (the Redis stream id, the embedded sequence, ...).
    pub stream_message_id: Position,
    /// The envelope id.
    pub event_id: EventId,
    /// The event type.
    pub event_type: EventType,
    /// The envelope's tenant.
    pub tenant_id: Option<TenantId>,
    /// The envelope's `meta`, kept for audit.
    pub metadata: Option<Value>,
    /// When it was processed.
    pub processed_at: DateTime<Utc>,
}

impl ProcessedRecord {
    /// The record for `event`, read by `subscriber` at `position` of `stream_name`, processed now.
    pub fn for_event(subscriber: &GroupName, stream_name: &str, position: &Position, event: &Event) -> Self {
        Self {
            subscriber: subscriber.clone(),
            stream_name: stream_name.to_owned(),
            stream_message_id: position.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            tenant_id: event.tenant_id.clone(),
            metadata: serde_json::to_value(&event.meta).ok(),
            processed_at: Utc::now(),
        }
    }
}

/// An event as the inbox keys it: its tenant and id (ids are unique per tenant).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    /// The envelope's tenant (`None`: a tenantless event).
    pub tenant_id: Option<TenantId>,
    /// The envelope id.
    pub event_id: EventId,
}

impl EventKey {
    /// The key of `event`.
    pub fn of(event: &Event) -> Self {
        Self { tenant_id: event.tenant_id.clone(), event_id: event.id.clone() }
    }
}

/// The `tenant_id` column's value: the tenant, or `''` for a tenantless event.
pub(crate) fn tenant_column(tenant: Option<&TenantId>) -> &str {
    tenant.map_or("", TenantId::as_str)
}

/// Which processed-event records [`StateStore::forget_processed`] removes, so a replay with
/// `--reprocess` runs the handlers again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ForgetScope<'a> {
    /// Every record of the subscriber.
    All,
    /// Records written at or after this instant.
    ProcessedSince(DateTime<Utc>),
    /// The records of these events (each of its own tenant).
    Events(&'a [EventKey]),
}

/// How many inbox rows one set-based INSERT carries (8 binds each, far below both databases' limits).
const INBOX_ROWS_PER_STATEMENT: usize = 256;

/// Shards of `processed_counts` per (subscriber, type): concurrent transactions of one subscriber add to
/// different rows, so on PostgreSQL they do not wait on each other's row lock.
const COUNT_SHARDS: u64 = 16;

/// The shard a transaction that recorded `first` adds its counts to (FNV-1a of the position).
fn count_shard(first: &Position) -> i64 {
    let h = first.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (h % COUNT_SHARDS) as i64
}

/// Adds the newly recorded events to `processed_counts`, one upsert for every type in the batch.
async fn add_counts(conn: &mut AnyConnection, subscriber: &GroupName, shard_of: &Position, types: &[&EventType]) -> Result<(), StoreError> {
    if types.is_empty() {
        return Ok(());
    }
    // Sorted, so that concurrent transactions touching the same rows lock them in the same order.
    let mut per_type: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for t in types {
        *per_type.entry(t.as_str()).or_default() += 1;
    }
    let shard = count_shard(shard_of);
    let rows: Vec<String> = (0..per_type.len()).map(|i| format!("($1, ${}, $2, ${})", 3 + 2 * i, 4 + 2 * i)).collect();
    let sql = format!(
        "INSERT INTO processed_counts (subscriber_name, event_type, shard, processed) VALUES {} \
         ON CONFLICT (subscriber_name, event_type, shard) DO UPDATE SET processed = processed_counts.processed + excluded.processed",
        rows.join(", ")
    );
    // Only placeholders are interpolated; every value is bound.
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(subscriber.as_str()).bind(shard);
    for (t, n) in per_type {
        q = q.bind(t).bind(n);
    }
    q.execute(&mut *conn).await.map_err(|e| StoreError::sqlx("counting processed events", e))?;
    Ok(())
}

/// Records a batch of events in one set-based statement per [`INBOX_ROWS_PER_STATEMENT`] rows (instead of
/// one round trip per event), then counts them. Returns, per record: `Ok(true)` newly recorded,
/// `Ok(false)` a duplicate of an event this subscriber already processed, or
/// `Err(StoreError::PositionReused)`. The outer error is the statement's own failure.
pub(crate) async fn mark_processed_many(
    conn: &mut AnyConnection,
    recs: &[ProcessedRecord],
) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
    const CONTEXT: &str = "recording processed events";
    let mut inserted: std::collections::HashSet<String> = std::collections::HashSet::with_capacity(recs.len());
    for chunk in recs.chunks(INBOX_ROWS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 8 * i;
                format!("(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8)
            })
            .collect();
        let sql = format!(
            "INSERT INTO processed_events \
             (subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, metadata, processed_at) \
             VALUES {} ON CONFLICT DO NOTHING RETURNING subscriber_name, stream_message_id",
            rows.join(", ")
        );
        // Only placeholders are interpolated; every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for rec in chunk {
            q = q
                .bind(rec.subscriber.as_str())
                .bind(rec.stream_name.as_str())
                .bind(rec.stream_message_id.as_str())
                .bind(rec.event_id.as_str())
                .bind(rec.event_type.as_str())
                .bind(tenant_column(rec.tenant_id.as_ref()))
                .bind(rec.metadata.as_ref().map(Value::to_string))
                .bind(to_ms(rec.processed_at));
        }
        let returned = q.fetch_all(&mut *conn).await.map_err(|e| StoreError::sqlx(CONTEXT, e))?;
        for row in &returned {
            let r = crate::row::RowReader::new(row, "processed_events");
            inserted.insert(format!("{}\u{0}{}", r.text("subscriber_name")?, r.text("stream_message_id")?));
        }
    }
    let mut out = Vec::with_capacity(recs.len());
    let mut per_subscriber: Vec<(&GroupName, &Position, Vec<&EventType>)> = Vec::new();
    for rec in recs {
        if inserted.contains(&format!("{}\u{0}{}", rec.subscriber.as_str(), rec.stream_message_id.as_str())) {
            match per_subscriber.iter_mut().find(|(s, _, _)| *s == &rec.subscriber) {
                Some((_, _, types)) => types.push(&rec.event_type),
                None => per_subscriber.push((&rec.subscriber, &rec.stream_message_id, vec![&rec.event_type])),
            }
            out.push(Ok(true));
            continue;
        }
        // Not inserted: a duplicate event, or the position is taken by another event (the log was reset).
        if is_processed(conn, &rec.subscriber, rec.tenant_id.as_ref(), &rec.event_id).await? {
            out.push(Ok(false));
        } else {
            out.push(Err(StoreError::PositionReused {
                subscriber: rec.subscriber.clone(),
                position: rec.stream_message_id.clone(),
                event_id: rec.event_id.clone(),
            }));
        }
    }
    for (subscriber, first, types) in per_subscriber {
        add_counts(conn, subscriber, first, &types).await?;
    }
    Ok(out)
}

pub(crate) async fn mark_processed(conn: &mut AnyConnection, rec: &ProcessedRecord) -> Result<bool, StoreError> {
    const CONTEXT: &str = "recording a processed event";
    let inserted = sqlx::query(
        "INSERT INTO processed_events \
         (subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, metadata, processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT DO NOTHING",
    )
    .bind(rec.subscriber.as_str())
    .bind(rec.stream_name.as_str())
    .bind(rec.stream_message_id.as_str())
    .bind(rec.event_id.as_str())
    .bind(rec.event_type.as_str())
    .bind(tenant_column(rec.tenant_id.as_ref()))
    .bind(rec.metadata.as_ref().map(Value::to_string))
    .bind(to_ms(rec.processed_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::sqlx(CONTEXT, e))?
    .rows_affected();
    if inserted == 1 {
        add_counts(conn, &rec.subscriber, &rec.stream_message_id, &[&rec.event_type]).await?;
        return Ok(true);
    }
    // The insert conflicted. A row for this (tenant, event id) means a duplicate; otherwise the position is
    // already taken by another event, which only happens when the log was reset under a kept state store.
    if is_processed(conn, &rec.subscriber, rec.tenant_id.as_ref(), &rec.event_id).await? {
        Ok(false)
    } else {
        Err(StoreError::PositionReused {
            subscriber: rec.subscriber.clone(),
            position: rec.stream_message_id.clone(),
            event_id: rec.event_id.clone(),
        })
    }
}

pub(crate) async fn is_processed(
    conn: &mut AnyConnection,
    subscriber: &GroupName,
    tenant: Option<&TenantId>,
    event_id: &EventId,
) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 FROM processed_events WHERE subscriber_name = $1 AND tenant_id = $2 AND event_id = $3")
        .bind(subscriber.as_str())
        .bind(tenant_column(tenant))
        .bind(event_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| StoreError::sqlx("looking up a processed event", e))?;
    Ok(row.is_some())
}

pub(crate) async fn forget(conn: &mut AnyConnection, subscriber: &GroupName, scope: ForgetScope<'_>) -> Result<u64, StoreError> {
    const CONTEXT: &str = "forgetting processed events";
    let done = match scope {
        ForgetScope::All => sqlx::query("DELETE FROM processed_events WHERE subscriber_name = $1")
            .bind(subscriber.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::sqlx(CONTEXT, e))?
            .rows_affected(),
        ForgetScope::ProcessedSince(t) => sqlx::query("DELETE FROM processed_events WHERE subscriber_name = $1 AND processed_at >= $2")
            .bind(subscriber.as_str())
            .bind(to_ms(t))
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::sqlx(CONTEXT, e))?
            .rows_affected(),
        ForgetScope::Events(keys) => {
            let mut total = 0;
            // Two binds per event, one for the subscriber.
            for chunk in keys.chunks((MAX_BINDS_PER_STATEMENT - 1) / 2) {
                let pairs: Vec<String> =
                    (0..chunk.len()).map(|i| format!("(tenant_id = ${} AND event_id = ${})", 2 + 2 * i, 3 + 2 * i)).collect();
                let sql = format!("DELETE FROM processed_events WHERE subscriber_name = $1 AND ({})", pairs.join(" OR "));
                // Only placeholders are interpolated; every value is bound.
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(subscriber.as_str());
                for key in chunk {
                    q = q.bind(tenant_column(key.tenant_id.as_ref()).to_owned()).bind(key.event_id.as_str());
                }
                total += q.execute(&mut *conn).await.map_err(|e| StoreError::sqlx(CONTEXT, e))?.rows_affected();
            }
            total
        }
    };
    Ok(done)
}

impl StateStore {
    /// Whether `subscriber` has recorded the event `event_id` of `tenant` (`None`: tenantless) as
    /// processed. Another tenant's event with the same id is a different event.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn is_processed(&self, subscriber: &GroupName, tenant: Option<&TenantId>, event_id: &EventId) -> Result<bool, StoreError> {
        is_processed(&mut *self.acquire().await?, subscriber, tenant, event_id).await
    }

    /// Removes processed-event records of `subscriber` in `scope`, so that replaying those events runs the
    /// handlers again. Returns how many records were removed.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn forget_processed(&self, subscriber: &GroupName, scope: ForgetScope<'_>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = forget(tx.conn(), subscriber, scope).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Deletes processed-event records written more than `age` ago (see [`DEFAULT_PROCESSED_RETENTION`]);
    /// newer records are untouched. Returns how many were deleted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn purge_processed_older_than(&self, age: Duration) -> Result<u64, StoreError> {
        let cutoff = ago(age);
        self.purge_processed_before(cutoff).await
    }

    /// Deletes processed-event records written before `cutoff`. Returns how many were deleted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn purge_processed_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM processed_events WHERE processed_at < $1")
            .bind(to_ms(cutoff))
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("purging old processed events", e))?;
        Ok(done.rows_affected())
    }
}

impl Tx {
    /// Records `record` as processed, in this transaction. Returns `true` when it is newly recorded (run
    /// the handler's effect and commit), `false` when the subscriber already processed this event id of
    /// this tenant (a duplicate: commit nothing, acknowledge). The insert is atomic: of any number of concurrent
    /// attempts for one event, exactly one returns `true` once committed.
    ///
    /// # Errors
    /// [`StoreError::PositionReused`] when another event is already recorded at this position (the log
    /// was reset; dead-letter the event); [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn mark_processed(&mut self, record: &ProcessedRecord) -> Result<bool, StoreError> {
        mark_processed(self.conn(), record).await
    }

    /// Records several events in this transaction with one set-based statement (see
    /// [`Tx::mark_processed`] for one). Returns, in the order of `records`: `Ok(true)` newly recorded (run
    /// its handler), `Ok(false)` a duplicate (acknowledge it), `Err(`[`StoreError::PositionReused`]`)`
    /// another event is recorded at its position (dead-letter it; roll back if anything was recorded).
    ///
    /// # Errors
    /// The outer error: [`StoreError::Unavailable`] or [`StoreError::Query`] from the statement itself.
    pub async fn mark_processed_many(&mut self, records: &[ProcessedRecord]) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
        mark_processed_many(self.conn(), records).await
    }

    /// [`StateStore::is_processed`] inside this transaction.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn is_processed(
        &mut self,
        subscriber: &GroupName,
        tenant: Option<&TenantId>,
        event_id: &EventId,
    ) -> Result<bool, StoreError> {
        is_processed(self.conn(), subscriber, tenant, event_id).await
    }

    /// [`StateStore::forget_processed`] inside this transaction (a reprocessing replay forgets each
    /// event just before recording it again).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn forget_processed(&mut self, subscriber: &GroupName, scope: ForgetScope<'_>) -> Result<u64, StoreError> {
        forget(self.conn(), subscriber, scope).await
    }
}
