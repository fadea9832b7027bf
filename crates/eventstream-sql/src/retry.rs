//! Retry state: how often a subscriber's handler has failed transiently on an event, keyed by
//! (subscriber, tenant, event id) since event ids are unique per tenant only.
//!
//! The count lives in the state store rather than in memory so that a restart (or another replica
//! reclaiming the delivery) continues the backoff schedule instead of starting over, and the dead letter
//! made when retries run out knows when the event first failed. The runtime clears the row when the
//! event is finally processed or dead-lettered, ideally in that same transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use eventstream_core::GroupName;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::inbox::{EventKey, tenant_column};
use crate::row::{RowReader, ago, to_ms};
use crate::store::{StateStore, Tx};

/// The transient failures of one event in one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryState {
    /// Failed attempts so far.
    pub attempts: u32,
    /// The latest error.
    pub last_error: Option<String>,
    /// When the first attempt failed.
    pub first_failed_at: DateTime<Utc>,
    /// When the latest attempt failed.
    pub last_failed_at: DateTime<Utc>,
}

impl RetryState {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let r = RowReader::new(row, "retry_state");
        Ok(Self {
            attempts: r.count("attempts")?,
            last_error: r.opt_text("last_error")?,
            first_failed_at: r.time("first_failed_at")?,
            last_failed_at: r.time("updated_at")?,
        })
    }
}

pub(crate) async fn get(conn: &mut AnyConnection, subscriber: &GroupName, event: &EventKey) -> Result<Option<RetryState>, StoreError> {
    let row = sqlx::query(
        "SELECT attempts, last_error, first_failed_at, updated_at FROM retry_state \
         WHERE subscriber_name = $1 AND tenant_id = $2 AND event_id = $3",
    )
    .bind(subscriber.as_str())
    .bind(tenant_column(event.tenant_id.as_ref()))
    .bind(event.event_id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| StoreError::sqlx("reading retry state", e))?;
    row.as_ref().map(RetryState::from_row).transpose()
}

pub(crate) async fn record_failure(
    conn: &mut AnyConnection,
    subscriber: &GroupName,
    event: &EventKey,
    error: &str,
) -> Result<RetryState, StoreError> {
    let error: String = error.chars().take(crate::dead_letter::MAX_ERROR_CHARS).collect();
    let row = sqlx::query(
        "INSERT INTO retry_state (subscriber_name, tenant_id, event_id, attempts, last_error, first_failed_at, updated_at) \
         VALUES ($1, $2, $3, 1, $4, $5, $5) \
         ON CONFLICT (subscriber_name, tenant_id, event_id) DO UPDATE SET \
         attempts = retry_state.attempts + 1, last_error = excluded.last_error, updated_at = excluded.updated_at \
         RETURNING attempts, last_error, first_failed_at, updated_at",
    )
    .bind(subscriber.as_str())
    .bind(tenant_column(event.tenant_id.as_ref()))
    .bind(event.event_id.as_str())
    .bind(error)
    .bind(to_ms(Utc::now()))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| StoreError::sqlx("recording a retry", e))?;
    RetryState::from_row(&row)
}

pub(crate) async fn clear(conn: &mut AnyConnection, subscriber: &GroupName, event: &EventKey) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM retry_state WHERE subscriber_name = $1 AND tenant_id = $2 AND event_id = $3")
        .bind(subscriber.as_str())
        .bind(tenant_column(event.tenant_id.as_ref()))
        .bind(event.event_id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::sqlx("clearing retry state", e))?;
    Ok(done.rows_affected() > 0)
}

impl StateStore {
    /// The retry state of `event` in `subscriber`, `None` when it has not failed (or was cleared).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn retry_state(&self, subscriber: &GroupName, event: &EventKey) -> Result<Option<RetryState>, StoreError> {
        get(&mut *self.acquire().await?, subscriber, event).await
    }

    /// Records one more transient failure (atomically: concurrent callers each count) and returns the
    /// new state; `attempts` is 1 after the first failure.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn record_retry_failure(&self, subscriber: &GroupName, event: &EventKey, error: &str) -> Result<RetryState, StoreError> {
        record_failure(&mut *self.acquire().await?, subscriber, event, error).await
    }

    /// Forgets the retry state of `event` in `subscriber`. Returns whether there was one.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn clear_retry_state(&self, subscriber: &GroupName, event: &EventKey) -> Result<bool, StoreError> {
        clear(&mut *self.acquire().await?, subscriber, event).await
    }

    /// Deletes retry state not updated for `age` (left behind by subscribers that were removed).
    /// Returns how many rows were deleted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn purge_retry_state_older_than(&self, age: Duration) -> Result<u64, StoreError> {
        let cutoff = ago(age);
        let done = sqlx::query("DELETE FROM retry_state WHERE updated_at < $1")
            .bind(to_ms(cutoff))
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("purging old retry state", e))?;
        Ok(done.rows_affected())
    }
}

impl Tx {
    /// [`StateStore::retry_state`] inside this transaction.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn retry_state(&mut self, subscriber: &GroupName, event: &EventKey) -> Result<Option<RetryState>, StoreError> {
        get(self.conn(), subscriber, event).await
    }

    /// [`StateStore::clear_retry_state`] inside this transaction (with the dedup row or the dead letter).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn clear_retry_state(&mut self, subscriber: &GroupName, event: &EventKey) -> Result<bool, StoreError> {
        clear(self.conn(), subscriber, event).await
    }
}
