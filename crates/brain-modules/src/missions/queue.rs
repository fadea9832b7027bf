//! The queue: which mission runs next, handing it to a worker under a lease, and getting back the
//! missions of workers that died.
//!
//! Leases: a claim ([`MissionService::claim_next`]) marks the mission `RUNNING` with `lease_owner` (the
//! replica's consumer name), a fresh `claim_id` and `lease_until` = now + the lease duration
//! (`[modules] mission_lease_secs`, default 30 s). The worker renews it while the attempt runs
//! ([`MissionService::renew_lease`], every third of the lease). When a process dies, its leases run out;
//! every replica looks for expired leases at start and every half lease
//! ([`MissionService::requeue_expired`]) and records the lost attempt as a failure (`error_type`
//! `WorkerLost`, counted toward `max_retries`): the mission is queued again, or ends `FAILED` when no retry
//! is left, with a `mission.status_changed` whose `reason` says the worker was lost. A worker that was only
//! slow (its lease expired, yet it is alive) finds its claim gone when it reports and records nothing,
//! so the mission completes once.
//!
//! Fairness: tenants take turns (round robin over the tenants with queued missions, in
//! `mission_tenant_turns`); priority orders a tenant's own missions only, since any writer may set
//! `CRITICAL`.
//!
//! On PostgreSQL, claims and recoveries lock the row they pick with `FOR UPDATE SKIP LOCKED`, so replicas
//! never wait on or take the same mission; on SQLite every write transaction holds the database lock
//! (`BEGIN IMMEDIATE`), which serialises them. Lease times are the replicas' clocks (epoch ms): keep
//! the lease far above the clock skew between replicas. A mission set `RUNNING` by hand has no lease and
//! is never recovered.

use std::time::Duration;

use brain_events::EventPayload;
use brain_events::mission::MissionStatus;
use brain_events::task::TaskStarted;
use eventstream::store::StoreKind;
use eventstream::store::sqlx::{self, Row, any::AnyRow};

use super::error::MissionError;
use super::lifecycle::{Change, Failure};
use super::model::{Mission, QueueEntry};
use super::rows::{claim_id_of, mission_from_row, origin_of, select_missions};
use super::service::MissionService;
use crate::sql::db;
use crate::web::{Origin, now_ms, now_secs};

/// The counter giving queue positions (FIFO within a priority).
pub(super) const QUEUE_SEQ: &str = "mission_queue_seq";

/// The next mission to claim, fairly across tenants: of the tenants with queued missions, the one
/// served least recently (never served first); its highest priority, then its oldest queue position.
/// Ties between tenants (none served yet) go to the oldest queue position.
macro_rules! fair_next {
    () => {
        "SELECT m.tenant, m.id, m.name, m.mission_type, m.description, m.data, m.priority, m.status, m.queued, m.queue_seq, \
         m.retry_count, m.max_retries, m.created_by, m.agent_id, m.credit_cost, m.correlation_id, m.last_error, m.result, \
         m.created_at, m.updated_at, m.lease_owner, m.lease_until, m.claim_id \
         FROM missions m LEFT JOIN mission_tenant_turns t ON t.tenant = m.tenant WHERE m.queued = 1 \
         ORDER BY COALESCE(t.served, 0) ASC, m.priority DESC, m.queue_seq ASC LIMIT 1"
    };
}

/// The `error_type` of an attempt whose worker was lost.
pub const WORKER_LOST: &str = "WorkerLost";

/// Expired leases recovered per [`MissionService::requeue_expired`] call at most.
const RECOVER_BATCH: usize = 256;

/// A worker's hold on a mission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The replica holding it (its consumer name).
    pub owner: String,
    /// This claim, unique per attempt: only the holder of the current claim records an outcome.
    pub claim_id: String,
    /// When it expires unless renewed (epoch ms).
    pub until_ms: i64,
}

/// A mission the worker took from the queue.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The mission as it is now (RUNNING).
    pub mission: Mission,
    /// Its tenant and the correlation id of the request that created it.
    pub origin: Origin,
    /// The lease the worker holds.
    pub lease: Lease,
}

impl MissionService {
    /// The next `limit` queued missions of the tenant in the order the workers take them, and the queue
    /// length.
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn queue_preview(&self, tenant: &str, limit: u32) -> Result<(Vec<QueueEntry>, u64), MissionError> {
        let rows = sqlx::query(select_missions!("WHERE tenant = $1 AND queued = 1 ORDER BY priority DESC, queue_seq ASC LIMIT $2"))
            .bind(tenant.to_owned())
            .bind(i64::from(limit))
            .fetch_all(self.store.pool())
            .await
            .map_err(db("reading the queue"))?;
        let items = rows
            .iter()
            .map(mission_from_row)
            .map(|m| {
                m.map(|m| QueueEntry {
                    id: m.id,
                    mission_type: m.mission_type,
                    status: m.status,
                    priority: m.priority,
                    score: m.priority.value() as f64,
                    created_at: m.created_at,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let length: i64 = sqlx::query("SELECT COUNT(*) FROM missions WHERE tenant = $1 AND queued = 1")
            .bind(tenant.to_owned())
            .fetch_one(self.store.pool())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("counting the queue"))?;
        Ok((items, u64::try_from(length).unwrap_or(0)))
    }

    /// Takes the next mission from the queue, marks it `RUNNING` and leases it to this replica. `None`
    /// when the queue is empty.
    ///
    /// Fair between tenants (round robin): the tenant served least recently among those with queued
    /// missions goes first, so one tenant's backlog, CRITICAL or not, delays another tenant's next
    /// mission by at most one claim per other waiting tenant. Within a tenant: highest priority, then
    /// oldest queue position.
    ///
    /// # Errors
    /// [`MissionError::Store`]; [`MissionError::Concurrent`] when the row changed between read and write
    /// (the caller just tries again).
    pub async fn claim_next(&self) -> Result<Option<Claimed>, MissionError> {
        let mut tx = self.store.begin().await?;
        let next = match tx.kind() {
            StoreKind::Postgres => concat!(fair_next!(), " FOR UPDATE OF m SKIP LOCKED"),
            StoreKind::Sqlite => fair_next!(),
        };
        let row = sqlx::query(next).fetch_optional(tx.conn()).await.map_err(db("reading the queue"))?;
        let Some(row) = row else { return Ok(None) };
        let tenant: String = row.try_get(0).map_err(db("reading the queue"))?;
        let m = mission_from_row(&row)?;
        let origin = origin_of(&tenant, &m)?;
        let lease = Lease {
            owner: self.lease_owner.clone(),
            claim_id: uuid::Uuid::new_v4().simple().to_string(),
            until_ms: now_ms().saturating_add(lease_ms(self.lease)),
        };
        let mut out = vec![
            origin.stamp(
                TaskStarted {
                    task_id: m.id.clone(),
                    mission_type: m.mission_type.clone(),
                    priority: m.priority.legacy(),
                    score: m.priority.value() as f64,
                    retry_count: m.retry_count,
                    started_at: now_secs(),
                }
                .to_event(),
            ),
        ];
        let change = Change {
            to: MissionStatus::Running,
            queued: false,
            queue_seq: m.queue_seq,
            retry_count: m.retry_count,
            last_error: m.last_error.as_deref(),
            result: None,
            lease: Some(&lease),
            if_claim: None,
            reason: None,
        };
        // After the claim's time is taken: claims running at once keep their times in queue order.
        self.take_turn(&mut tx, &tenant).await?;
        let running = self.transition_in(&mut tx, &origin, &m, &change, &mut out).await?;
        self.commit(tx, &out).await?;
        Ok(Some(Claimed { mission: running, origin, lease }))
    }

    /// Records that `tenant` was served now: every other tenant with queued work goes before its next
    /// claim. On PostgreSQL a concurrent claim of the same tenant holding its turn row is advancing the
    /// turn already, so this one skips the row rather than wait for it (claims stay concurrent).
    async fn take_turn(&self, tx: &mut eventstream::store::Tx, tenant: &str) -> Result<(), MissionError> {
        sqlx::query(
            "INSERT INTO mission_tenant_turns (tenant, served) SELECT $1, 0 \
             WHERE NOT EXISTS (SELECT 1 FROM mission_tenant_turns WHERE tenant = $1) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant.to_owned())
        .execute(tx.conn())
        .await
        .map_err(db("recording a tenant's turn"))?;
        let update = match tx.kind() {
            StoreKind::Postgres => {
                "UPDATE mission_tenant_turns SET served = $2 WHERE tenant = \
                 (SELECT tenant FROM mission_tenant_turns WHERE tenant = $1 FOR UPDATE SKIP LOCKED)"
            }
            StoreKind::Sqlite => "UPDATE mission_tenant_turns SET served = $2 WHERE tenant = $1",
        };
        sqlx::query(update).bind(tenant.to_owned()).bind(now_us()).execute(tx.conn()).await.map_err(db("recording a tenant's turn"))?;
        Ok(())
    }

    /// Extends the lease of `claimed` to now + the lease duration. Returns `false` when the claim is no
    /// longer the mission's (recovered after it expired, cancelled, set by hand): the attempt's outcome
    /// will then be discarded.
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn renew_lease(&self, claimed: &Claimed) -> Result<bool, MissionError> {
        let done = sqlx::query("UPDATE missions SET lease_until = $1 WHERE tenant = $2 AND id = $3 AND claim_id = $4 AND status = $5")
            .bind(now_ms().saturating_add(lease_ms(self.lease)))
            .bind(claimed.origin.tenant().to_owned())
            .bind(claimed.mission.id.clone())
            .bind(claimed.lease.claim_id.clone())
            .bind((MissionStatus::Running).as_str())
            .execute(self.store.pool())
            .await
            .map_err(db("renewing a mission lease"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Recovers the missions whose lease expired (their worker died or lost the database): each lost
    /// attempt is recorded as a failure of type [`WORKER_LOST`] that counts toward `max_retries`, so the
    /// mission is queued again or ends `FAILED`. Returns how many were recovered (at most 256 per call).
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn requeue_expired(&self) -> Result<usize, MissionError> {
        let mut recovered = 0;
        let mut requeued = false;
        while recovered < RECOVER_BATCH {
            let mut tx = self.store.begin().await?;
            let expired = match tx.kind() {
                StoreKind::Postgres => {
                    select_missions!("WHERE status = $1 AND lease_until < $2 ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED")
                }
                StoreKind::Sqlite => select_missions!("WHERE status = $1 AND lease_until < $2 ORDER BY lease_until LIMIT 1"),
            };
            let now = now_ms();
            let row = sqlx::query(expired)
                .bind((MissionStatus::Running).as_str())
                .bind(now)
                .fetch_optional(tx.conn())
                .await
                .map_err(db("looking for expired mission leases"))?;
            let Some(row) = row else { break };
            let claimed = claimed_from_row(&row)?;
            let reason = format!(
                "worker lost: the lease of `{}` expired {} ms ago; attempt {} counted",
                claimed.lease.owner,
                now.saturating_sub(claimed.lease.until_ms),
                claimed.mission.retry_count + 1
            );
            // The attempt ran from its claim (the row's `updated_at`) until now, as far as anyone knows.
            let duration_ms = (now_secs() - claimed.mission.updated_at).max(0.0) * 1000.0;
            let failure = Failure { error_type: WORKER_LOST, error: &reason, duration_ms, reason: Some(&reason) };
            let mut out = Vec::new();
            match self.fail_in(&mut tx, &claimed, &failure, &mut out).await {
                Ok(will_retry) => requeued |= will_retry,
                // Cannot happen under the row lock; leave the row to the next round rather than spin.
                Err(MissionError::Concurrent(_)) => break,
                Err(e) => return Err(e),
            }
            self.commit(tx, &out).await?;
            tracing::warn!(mission = %claimed.mission.id, owner = %claimed.lease.owner, "mission lease expired; the worker is lost");
            recovered += 1;
        }
        if requeued {
            self.wake.notify_waiters();
        }
        Ok(recovered)
    }
}

/// A leased row as the claim its (lost) worker held.
fn claimed_from_row(row: &AnyRow) -> Result<Claimed, MissionError> {
    let tenant: String = row.try_get(0).map_err(db("reading an expired lease"))?;
    let mission = mission_from_row(row)?;
    let origin = origin_of(&tenant, &mission)?;
    let until: Option<i64> = row.try_get("lease_until").map_err(db("reading an expired lease"))?;
    let lease = Lease {
        owner: mission.lease_owner.clone().unwrap_or_default(),
        claim_id: claim_id_of(row)?.unwrap_or_default(),
        until_ms: until.unwrap_or_default(),
    };
    Ok(Claimed { mission, origin, lease })
}

/// Now in epoch microseconds: when a tenant was last served (`mission_tenant_turns.served`).
fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}
