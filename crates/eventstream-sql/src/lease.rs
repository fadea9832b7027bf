//! Leases: one replica at a time holds a named job (a periodic timer such as the metrics aggregation,
//! retention or the audit checkpoints), so several `brain serve` processes on one state store run it
//! once per interval between them instead of once each.
//!
//! A lease is a row of `leases`: its name, its holder and the instant it expires. [`Lease::try_acquire`]
//! takes it when it is free or expired, renews it when the caller already holds it, and otherwise
//! leaves it alone; all three in one conditional upsert, so two replicas racing for an expired lease
//! cannot both win. A holder that dies stops renewing; another replica takes over once `ttl` passed
//! since the last renewal. [`Lease::release`] lets a replica that shuts down hand over at once.
//!
//! Expiry compares the replicas' own clocks (milliseconds since the epoch): clock skew between replicas
//! shortens or lengthens a dead holder's lease by the skew, which is why the `ttl` should be several
//! times the renewal interval.

use std::time::Duration;

use chrono::Utc;

use crate::error::StoreError;
use crate::row::{RowReader, to_ms};
use crate::store::StateStore;

/// A named lease as one replica sees it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Lease {
    store: StateStore,
    name: String,
    holder: String,
    ttl: Duration,
}

/// Who holds a lease, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holder's name (a replica's consumer name).
    pub holder: String,
    /// When the lease expires unless renewed.
    pub until: chrono::DateTime<Utc>,
    /// When this holder first took it.
    pub acquired_at: chrono::DateTime<Utc>,
}

impl Lease {
    /// The lease `name` as seen by `holder`, held for `ttl` after each acquisition or renewal.
    pub fn new(store: StateStore, name: impl Into<String>, holder: impl Into<String>, ttl: Duration) -> Self {
        Self { store, name: name.into(), holder: holder.into(), ttl }
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This replica's name as holder.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes the lease when it is free or expired, or renews it when this holder has it: `true` when
    /// this holder now holds it for `ttl`, `false` when another holder's lease is still running.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn try_acquire(&self) -> Result<bool, StoreError> {
        let now = to_ms(Utc::now());
        let until = now.saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 2));
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, until_ms, acquired_at, renewed_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms, renewed_at = excluded.renewed_at, \
             acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END \
             WHERE leases.holder = excluded.holder OR leases.until_ms < excluded.renewed_at",
        )
        .bind(&self.name)
        .bind(&self.holder)
        .bind(until)
        .bind(now)
        .execute(&mut *self.store.acquire().await?)
        .await
        .map_err(|e| StoreError::sqlx("acquiring a lease", e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up if this holder has it, so another replica can take it at once. Returns
    /// whether it was held.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`].
    pub async fn release(&self) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(&self.name)
            .bind(&self.holder)
            .execute(&mut *self.store.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("releasing a lease", e))?;
        Ok(done.rows_affected() == 1)
    }

    /// The current holder, when the lease exists (it may have expired: compare `until` with now).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`], [`StoreError::Query`] or [`StoreError::Corrupt`].
    pub async fn current(&self) -> Result<Option<LeaseHolder>, StoreError> {
        let row = sqlx::query("SELECT holder, until_ms, acquired_at FROM leases WHERE name = $1")
            .bind(&self.name)
            .fetch_optional(&mut *self.store.acquire().await?)
            .await
            .map_err(|e| StoreError::sqlx("reading a lease", e))?;
        row.map(|row| {
            let r = RowReader::new(&row, "leases");
            Ok(LeaseHolder { holder: r.text("holder")?, until: r.time("until_ms")?, acquired_at: r.time("acquired_at")? })
        })
        .transpose()
    }
}
