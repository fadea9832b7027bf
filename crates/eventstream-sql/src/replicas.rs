//! The replica registry: every running `brain serve` records itself and its subscribers here on a
//! heartbeat, so that any replica (and `GET /api/consumers`) can show the consumers of all of them, and
//! which replicas are alive.
//!
//! A row is `(replica, started_at, last_seen, subscribers)`; `subscribers` is an opaque JSON document the
//! caller chooses (the server stores each subscriber's name, patterns and counters). A replica that shuts
//! down removes its row; one that dies leaves it until [`StateStore::replicas_purge_older_than`] drops it,
//! and readers tell the two apart by `last_seen`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::StoreError;
use crate::row::{RowReader, ago, to_ms};
use crate::store::StateStore;

/// One replica as last reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaRow {
    /// Its name (the consumer name it uses in every group).
    pub replica: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub last_seen: DateTime<Utc>,
    /// What it reported about its subscribers.
    pub subscribers: serde_json::Value,
}

impl StateStore {
    /// Records (or refreshes) `replica`'s row: its start time, now as `last_seen`, and `subscribers`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn replica_heartbeat(
        &self,
        replica: &str,
        started_at: DateTime<Utc>,
        subscribers: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO replicas (replica, started_at, last_seen, subscribers) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (replica) DO UPDATE SET started_at = excluded.started_at, last_seen = excluded.last_seen, \
             subscribers = excluded.subscribers",
        )
        .bind(replica)
        .bind(to_ms(started_at))
        .bind(to_ms(Utc::now()))
        .bind(subscribers.to_string())
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(|e| StoreError::sqlx("recording a replica heartbeat", e))?;
        Ok(())
    }

    /// Removes `replica`'s row (at shutdown). Returns whether it existed.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn replica_remove(&self, replica: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM replicas WHERE replica = $1")
            .bind(replica)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("removing a replica", e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Every registered replica, by name.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError> {
        let rows = sqlx::query("SELECT replica, started_at, last_seen, subscribers FROM replicas ORDER BY replica")
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("listing replicas", e))?;
        rows.iter()
            .map(|row| {
                let r = RowReader::new(row, "replicas");
                let subscribers = r.text("subscribers")?;
                Ok(ReplicaRow {
                    replica: r.text("replica")?,
                    started_at: r.time("started_at")?,
                    last_seen: r.time("last_seen")?,
                    subscribers: serde_json::from_str(&subscribers).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    /// Drops the rows of replicas silent for longer than `age` (dead ones). Returns how many.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn replicas_purge_older_than(&self, age: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM replicas WHERE last_seen < $1")
            .bind(to_ms(ago(age)))
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("purging dead replicas", e))?;
        Ok(done.rows_affected())
    }
}
