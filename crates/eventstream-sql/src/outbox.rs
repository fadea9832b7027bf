//! The publisher's durable outbox: events waiting to be moved to the event log.
//!
//! `emit` queues events in memory; the publisher's writer batches them here with
//! [`StateStore::outbox_insert_batch`] (one transaction per batch), and a module that changes state writes
//! its events with [`Tx::outbox_insert`] in the same transaction as the change, so an event exists if and
//! only if the change committed. The relay claims rows in id order ([`StateStore::outbox_claim`]), appends
//! them to the log, deletes them, and records failures while the log is down. On PostgreSQL the relays of
//! several replicas share the outbox: a claim locks its rows (`FOR UPDATE SKIP LOCKED`) and relays take
//! turns, so no row is sent by two relays and the log keeps the outbox order.
//!
//! Order: ids are assigned in insertion order, so the events of one batch or one transaction keep their
//! order. Rows of transactions that commit concurrently on PostgreSQL may become visible out of id
//! order; such events have no causal order between them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use eventstream_core::Event;
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::error::StoreError;
use crate::row::{MAX_BINDS_PER_STATEMENT, RowReader, placeholders, to_ms};
use crate::store::{StateStore, StoreKind, Tx};

/// The id of an outbox row; ids grow with insertion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for OutboxId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(OutboxId)
    }
}

/// One event waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// The row id (the publication order).
    pub id: OutboxId,
    /// The event.
    pub event: Event,
    /// When it was written to the outbox.
    pub created_at: DateTime<Utc>,
    /// Failed attempts to move it to the log so far.
    pub attempts: u32,
    /// The last such failure.
    pub last_error: Option<String>,
}

/// Outbox rows claimed by one relay ([`StateStore::outbox_claim`]). Dropping it without
/// [`OutboxClaim::delete`] releases the rows for the next claim.
#[derive(Debug)]
pub struct OutboxClaim {
    store: StateStore,
    tx: Option<Tx>,
    rows: Vec<OutboxRow>,
}

impl OutboxClaim {
    /// The claimed rows, in id order (empty when there is nothing to send, or another relay has its turn).
    pub fn rows(&self) -> &[OutboxRow] {
        &self.rows
    }

    /// Takes the claimed rows out (the claim keeps their ids).
    pub fn take_rows(&mut self) -> Vec<OutboxRow> {
        std::mem::take(&mut self.rows)
    }

    /// Deletes the claimed rows `ids` (their events reached the log) and ends the claim. Returns how many
    /// were deleted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`]; on PostgreSQL nothing is deleted then and
    /// the rows go to the next claim (their events are sent again; consumers deduplicate on event id).
    pub async fn delete(self, ids: &[OutboxId]) -> Result<u64, StoreError> {
        match self.tx {
            Some(mut tx) => {
                let n = for_ids(tx.conn(), ids, "DELETE FROM outbox WHERE", &[], "deleting outbox rows").await?;
                tx.commit().await?;
                Ok(n)
            }
            None => self.store.outbox_delete(ids).await,
        }
    }

    /// Ends the claim without deleting and records the failed attempt on rows `ids`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`] from recording the failure.
    pub async fn fail(self, ids: &[OutboxId], error: &str) -> Result<u64, StoreError> {
        if let Some(tx) = self.tx {
            tx.rollback().await?;
        }
        self.store.outbox_record_failure(ids, error).await
    }
}

/// Reads one `outbox` row.
fn decode_row(row: &sqlx::any::AnyRow) -> Result<OutboxRow, StoreError> {
    let r = RowReader::new(row, "outbox");
    let json = r.text("event")?;
    let event =
        Event::from_json_slice(json.as_bytes()).map_err(|source| StoreError::CorruptEvent { table: "outbox", row_id: r.id(), source })?;
    Ok(OutboxRow {
        id: OutboxId(r.id()),
        event,
        created_at: r.time("created_at")?,
        attempts: r.count("attempts")?,
        last_error: r.opt_text("last_error")?,
    })
}

/// The size of the outbox, for metrics and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    /// Rows waiting.
    pub depth: u64,
    /// When the oldest waiting row was written (`None` when the outbox is empty).
    pub oldest_created_at: Option<DateTime<Utc>>,
}

/// Rows per multi-row `INSERT` (three values each).
const INSERT_CHUNK: usize = MAX_BINDS_PER_STATEMENT / 3;

pub(crate) async fn insert(conn: &mut AnyConnection, events: &[Event]) -> Result<u64, StoreError> {
    let now = to_ms(Utc::now());
    let mut total = 0;
    for chunk in events.chunks(INSERT_CHUNK) {
        let mut sql = String::from("INSERT INTO outbox (event_id, event, created_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("({})", placeholders(3 * i + 1, 3)));
        }
        // Only placeholders are interpolated; every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for event in chunk {
            let json = serde_json::to_string(event).map_err(|source| StoreError::Encode { id: event.id.clone(), source })?;
            q = q.bind(event.id.as_str()).bind(json).bind(now);
        }
        total += q.execute(&mut *conn).await.map_err(|e| StoreError::sqlx("writing events to the outbox", e))?.rows_affected();
    }
    Ok(total)
}

/// Runs a statement `<head> id IN (...)` over `ids` in chunks; `head` uses `$1..$k` for the `k`
/// values of `head_binds`, which are bound before the ids.
async fn for_ids<'a>(
    conn: &mut AnyConnection,
    ids: &[OutboxId],
    head: &str,
    head_binds: &[HeadValue<'a>],
    context: &'static str,
) -> Result<u64, StoreError> {
    let mut total = 0;
    for chunk in ids.chunks(MAX_BINDS_PER_STATEMENT) {
        let sql = format!("{head} id IN ({})", placeholders(head_binds.len() + 1, chunk.len()));
        // Only the fixed statement head and placeholders are interpolated; every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in head_binds {
            q = match v {
                HeadValue::Text(s) => q.bind(*s),
                HeadValue::Int(n) => q.bind(*n),
            };
        }
        for id in chunk {
            q = q.bind(id.0);
        }
        total += q.execute(&mut *conn).await.map_err(|e| StoreError::sqlx(context, e))?.rows_affected();
    }
    Ok(total)
}

/// A value bound before the id list in [`for_ids`].
enum HeadValue<'a> {
    Text(&'a str),
    Int(i64),
}

impl StateStore {
    /// Writes `events` to the outbox in one transaction, in slice order. Returns how many were written.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Encode`]; then none of the
    /// events is written.
    pub async fn outbox_insert_batch(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let n = insert(tx.conn(), events).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The oldest `limit` outbox rows, in id order.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`], or [`StoreError::CorruptEvent`] /
    /// [`StoreError::Corrupt`] for a row this version cannot read (rows are only written from valid
    /// events, so this means the row was edited by hand).
    pub async fn outbox_fetch(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query("SELECT id, event, created_at, attempts, last_error FROM outbox ORDER BY id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("reading the outbox", e))?;
        rows.iter().map(decode_row).collect()
    }

    /// Claims the oldest `limit` outbox rows for a relay: [`OutboxClaim::rows`] to send, then
    /// [`OutboxClaim::delete`] once they reached the log (or [`OutboxClaim::fail`]).
    ///
    /// On PostgreSQL, where the relays of several replicas share the outbox, the claim is a transaction:
    /// relays take turns (a transaction-scoped advisory lock per schema, so the log receives the rows in
    /// outbox order), and the rows are locked `FOR UPDATE SKIP LOCKED`, so no row is ever sent by two
    /// relays at once. The claim ends with its transaction: deleted on success, released on failure or
    /// when the process dies (then another relay sends them). While another relay holds its turn the
    /// claim is empty. On SQLite (one process) the rows are read without a transaction.
    ///
    /// # Errors
    /// As [`StateStore::outbox_fetch`].
    pub async fn outbox_claim(&self, limit: u32) -> Result<OutboxClaim, StoreError> {
        if self.kind() == StoreKind::Sqlite {
            let rows = self.outbox_fetch(limit).await?;
            return Ok(OutboxClaim { store: self.clone(), tx: None, rows });
        }
        let mut tx = self.begin().await?;
        let turn = sqlx::query("SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.eventstream_outbox_relay')) AS turn")
            .fetch_one(tx.conn())
            .await
            .map_err(|e| StoreError::sqlx("taking the outbox relay's turn", e))?;
        let turn: bool = sqlx::Row::try_get(&turn, "turn").map_err(|e| StoreError::sqlx("taking the outbox relay's turn", e))?;
        if !turn {
            tx.rollback().await?;
            return Ok(OutboxClaim { store: self.clone(), tx: None, rows: Vec::new() });
        }
        let rows =
            sqlx::query("SELECT id, event, created_at, attempts, last_error FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED")
                .bind(i64::from(limit))
                .fetch_all(tx.conn())
                .await
                .map_err(|e| StoreError::sqlx("claiming outbox rows", e))?;
        let rows = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
        Ok(OutboxClaim { store: self.clone(), tx: Some(tx), rows })
    }

    /// Deletes outbox rows (after their events reached the log). Returns how many existed.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn outbox_delete(&self, ids: &[OutboxId]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let n = for_ids(tx.conn(), ids, "DELETE FROM outbox WHERE", &[], "deleting outbox rows").await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Records a failed attempt to move these rows to the log: attempts + 1, the error, the time.
    /// Returns how many rows were updated.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn outbox_record_failure(&self, ids: &[OutboxId], error: &str) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let error: String = error.chars().take(crate::dead_letter::MAX_ERROR_CHARS).collect();
        let head = "UPDATE outbox SET attempts = attempts + 1, last_error = $1, last_attempt_at = $2 WHERE";
        let binds = [HeadValue::Text(&error), HeadValue::Int(to_ms(Utc::now()))];
        let mut tx = self.begin().await?;
        let n = for_ids(tx.conn(), ids, head, &binds, "recording an outbox failure").await?;
        tx.commit().await?;
        Ok(n)
    }

    /// How many rows wait in the outbox and when the oldest was written.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM outbox")
            .fetch_one(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("measuring the outbox", e))?;
        let r = RowReader::new(&row, "outbox");
        Ok(OutboxStats { depth: u64::try_from(r.int("depth")?).unwrap_or(0), oldest_created_at: r.opt_time("oldest")? })
    }
}

impl Tx {
    /// Writes `events` to the outbox inside this transaction (the transactional outbox): they exist if
    /// and only if the transaction commits. Returns how many were written.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Encode`].
    pub async fn outbox_insert(&mut self, events: &[Event]) -> Result<u64, StoreError> {
        insert(self.conn(), events).await
    }
}
