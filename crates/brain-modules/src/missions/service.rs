//! The missions service: every rule about missions, and the only code that writes the `missions` and
//! `mission_logs` tables. Each change and its events are written in one transaction (the transactional
//! outbox), so an event exists if and only if the change committed.
//!
//! The service is split by concern: this file creates and reads missions; [`super::queue`] hands them
//! to workers under a lease and recovers the missions of lost workers; [`super::lifecycle`] records
//! status changes and attempt outcomes (and lists the event sequences); [`super::rows`] holds the tables.

use std::sync::Arc;
use std::time::Duration;

use brain_events::EventPayload;
use brain_events::mission::{MissionCreated, MissionStatus};
use brain_events::task::TaskCreated;
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row};
use eventstream::store::{StateStore, StoreError};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::error::MissionError;
use super::lifecycle::log_entry;
use super::model::{LogEntry, Mission, NewMission, Priority};
use super::queue::QUEUE_SEQ;
use super::rows::{mission_from_row, select_missions};
use super::worker::WorkerState;
use crate::page::Page;
use crate::sql::{db, is_unique_violation, next_counter};
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// Entries a mission's log may hold; `POST /api/missions/{id}/log` beyond it is a 409 `log_full`
/// (the worker's own entries are always written).
pub(crate) const MAX_LOG_ENTRIES: i64 = 1000;

/// The stats of `GET /api/missions/stats/overview`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MissionStats {
    /// All missions of the tenant.
    pub total: u64,
    /// Per status (every status present).
    pub by_status: std::collections::BTreeMap<String, u64>,
    /// When the newest change happened (epoch seconds; now when there are none).
    pub last_updated: f64,
}

/// The default lease of a claimed mission (see [`MissionService::with_lease`]).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The missions service. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct MissionService {
    pub(super) events: EventStream,
    pub(super) store: StateStore,
    pub(super) default_max_retries: u32,
    pub(super) wake: Arc<Notify>,
    pub(super) worker: Arc<WorkerState>,
    /// Who this replica's claims belong to (its consumer name).
    pub(super) lease_owner: String,
    /// How long a claim lasts without renewal.
    pub(super) lease: Duration,
}

impl MissionService {
    /// The service over `events` (whose store holds the tables). Its claims belong to a fresh consumer
    /// name and last [`DEFAULT_LEASE`]; [`MissionService::with_lease`] sets both.
    pub fn new(events: EventStream, default_max_retries: u32) -> Self {
        let store = events.store().clone();
        Self {
            events,
            store,
            default_max_retries,
            wake: Arc::new(Notify::new()),
            worker: Arc::new(WorkerState::default()),
            lease_owner: eventstream::default_consumer_name().to_string(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Claims made by this service belong to `owner` (the replica's consumer name) and expire `lease`
    /// after their last renewal (at least 1 ms).
    #[must_use]
    pub fn with_lease(mut self, owner: impl Into<String>, lease: Duration) -> Self {
        self.lease_owner = owner.into();
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// The owner name of this replica's claims.
    pub fn lease_owner(&self) -> &str {
        &self.lease_owner
    }

    /// How long a claim lasts without renewal.
    pub fn lease_duration(&self) -> Duration {
        self.lease
    }

    /// Wakes idle workers when something was queued.
    pub fn queue_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The worker pool's counters.
    pub fn worker_state(&self) -> &Arc<WorkerState> {
        &self.worker
    }

    /// Creates a mission and queues it for the worker pool.
    ///
    /// # Errors
    /// [`MissionError::AlreadyExists`] for a taken id; [`MissionError::Store`].
    pub async fn create(&self, origin: &Origin, new: NewMission) -> Result<Mission, MissionError> {
        let id = new.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if self.load(&mut tx, origin.tenant(), &id).await?.is_some() {
            return Err(MissionError::AlreadyExists(id));
        }
        let seq = next_counter(&mut tx, QUEUE_SEQ).await?;
        let mission = Mission {
            id: id.clone(),
            name: new.name,
            mission_type: new.mission_type,
            description: new.description,
            data: new.data,
            priority: new.priority,
            status: MissionStatus::Pending,
            retry_count: 0,
            max_retries: new.max_retries.unwrap_or(self.default_max_retries),
            queued: true,
            created_by: new.created_by,
            agent_id: new.agent_id,
            credit_cost: new.credit_cost,
            last_error: None,
            result: None,
            created_at: ms_to_secs(now),
            updated_at: ms_to_secs(now),
            lease_owner: None,
            lease_until: None,
            correlation_id: origin.correlation_id.clone(),
            queue_seq: seq,
        };
        let inserted = sqlx::query(
            "INSERT INTO missions (tenant, id, name, mission_type, description, data, priority, status, queued, queue_seq, \
             retry_count, max_retries, created_by, agent_id, credit_cost, correlation_id, last_error, result, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, 0, $10, $11, $12, $13, $14, NULL, NULL, $15, $15)",
        )
        .bind(origin.tenant().to_owned())
        .bind(mission.id.clone())
        .bind(mission.name.clone())
        .bind(mission.mission_type.clone())
        .bind(mission.description.clone())
        .bind(Value::Object(mission.data.clone()).to_string())
        .bind(mission.priority.value())
        .bind((MissionStatus::Pending).as_str())
        .bind(seq)
        .bind(i64::from(mission.max_retries))
        .bind(mission.created_by.clone())
        .bind(mission.agent_id.clone())
        .bind(mission.credit_cost)
        .bind(mission.correlation_id.clone())
        .bind(now)
        .execute(tx.conn())
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(MissionError::AlreadyExists(id)),
            Err(e) => return Err(StoreError::sqlx("inserting a mission", e).into()),
        }
        let mut out = Vec::new();
        let details = json!({"name": mission.name, "description": mission.description});
        self.append_log_in(&mut tx, origin, &mission.id, &log_entry("Mission created", details), &mut out).await?;
        out.push(
            origin.stamp(
                MissionCreated {
                    mission_id: mission.id.clone(),
                    name: mission.name.clone(),
                    description: mission.description.clone().unwrap_or_default(),
                    status: MissionStatus::Pending,
                    created_at: mission.created_at,
                    agent_id: mission.agent_id.clone(),
                    credit_cost: mission.credit_cost,
                    ..MissionCreated::default()
                }
                .to_event(),
            ),
        );
        out.push(
            origin.stamp(
                TaskCreated {
                    task_id: mission.id.clone(),
                    mission_type: mission.mission_type.clone(),
                    priority: mission.priority.legacy(),
                    created_by: Some(mission.created_by.clone()),
                }
                .to_event(),
            ),
        );
        self.commit(tx, &out).await?;
        self.wake.notify_waiters();
        Ok(mission)
    }

    /// The mission `id` of the tenant.
    ///
    /// # Errors
    /// [`MissionError::NotFound`]; [`MissionError::Store`].
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Mission, MissionError> {
        let row = sqlx::query(select_missions!("WHERE tenant = $1 AND id = $2"))
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(self.store.pool())
            .await
            .map_err(db("reading a mission"))?;
        row.as_ref().map(mission_from_row).transpose()?.ok_or_else(|| MissionError::NotFound(id.to_owned()))
    }

    /// The tenant's missions, newest first, filtered.
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub(crate) async fn list(
        &self,
        tenant: &str,
        status: Option<MissionStatus>,
        mission_type: Option<&str>,
        priority: Option<Priority>,
        page: Page,
    ) -> Result<(Vec<Mission>, Option<String>), MissionError> {
        let offset = page.after.unwrap_or(0);
        let rows = sqlx::query(select_missions!(
            "WHERE tenant = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR mission_type = $3) \
             AND ($4 = 0 OR priority = $4) ORDER BY created_at DESC, queue_seq DESC LIMIT $5 OFFSET $6"
        ))
        .bind(tenant.to_owned())
        .bind(status.map(MissionStatus::as_str).unwrap_or("").to_owned())
        .bind(mission_type.unwrap_or("").to_owned())
        .bind(priority.map_or(0, Priority::value))
        .bind(page.fetch())
        .bind(offset)
        .fetch_all(self.store.pool())
        .await
        .map_err(db("listing missions"))?;
        let mut missions = rows.iter().map(mission_from_row).collect::<Result<Vec<_>, _>>()?;
        // The cursor is the number of missions before the next page.
        let next = page.finish(&mut missions, |_| 0).map(|_| (offset + i64::from(page.limit)).to_string());
        Ok((missions, next))
    }

    /// Counts by status for the tenant.
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn stats(&self, tenant: &str) -> Result<MissionStats, MissionError> {
        let rows = sqlx::query("SELECT status, COUNT(*), MAX(updated_at) FROM missions WHERE tenant = $1 GROUP BY status")
            .bind(tenant.to_owned())
            .fetch_all(self.store.pool())
            .await
            .map_err(db("counting missions"))?;
        let mut by_status: std::collections::BTreeMap<String, u64> =
            MissionStatus::ALL.iter().map(|s| ((*s).as_str().to_owned(), 0)).collect();
        let mut total = 0;
        let mut last: Option<i64> = None;
        for row in rows {
            let status: String = row.try_get(0).map_err(db("counting missions"))?;
            let count: i64 = row.try_get(1).map_err(db("counting missions"))?;
            let updated: i64 = row.try_get(2).map_err(db("counting missions"))?;
            let count = u64::try_from(count).unwrap_or(0);
            total += count;
            *by_status.entry(status).or_default() += count;
            last = Some(last.map_or(updated, |l| l.max(updated)));
        }
        Ok(MissionStats { total, by_status, last_updated: last.map_or_else(now_secs, ms_to_secs) })
    }

    /// Appends an entry to a mission's log.
    ///
    /// # Errors
    /// [`MissionError::NotFound`]; [`MissionError::LogFull`] at [`MAX_LOG_ENTRIES`]; [`MissionError::Store`].
    pub async fn append_log(&self, origin: &Origin, id: &str, entry: LogEntry) -> Result<(), MissionError> {
        let mut tx = self.store.begin().await?;
        if self.load(&mut tx, origin.tenant(), id).await?.is_none() {
            return Err(MissionError::NotFound(id.to_owned()));
        }
        let entries: i64 = sqlx::query("SELECT COUNT(*) FROM mission_logs WHERE tenant = $1 AND mission_id = $2")
            .bind(origin.tenant().to_owned())
            .bind(id.to_owned())
            .fetch_one(tx.conn())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("counting a mission log"))?;
        if entries >= MAX_LOG_ENTRIES {
            return Err(MissionError::LogFull(id.to_owned()));
        }
        let mut out = Vec::new();
        self.append_log_in(&mut tx, origin, id, &entry, &mut out).await?;
        self.commit(tx, &out).await?;
        Ok(())
    }

    /// A page of a mission's log, oldest first, and the next page's cursor (the last entry's
    /// position) when more follow.
    ///
    /// # Errors
    /// [`MissionError::NotFound`]; [`MissionError::Store`].
    pub(crate) async fn log(&self, tenant: &str, id: &str, page: Page) -> Result<(Vec<LogEntry>, Option<String>), MissionError> {
        self.get(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT level, message, data, logged_at, seq FROM mission_logs WHERE tenant = $1 AND mission_id = $2 AND seq > $3 \
             ORDER BY seq LIMIT $4",
        )
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .bind(page.after.unwrap_or(0))
        .bind(page.fetch())
        .fetch_all(self.store.pool())
        .await
        .map_err(db("reading a mission log"))?;
        let mut entries = rows
            .iter()
            .map(|r| -> Result<(LogEntry, i64), StoreError> {
                let data: String = r.try_get(2).map_err(db("reading a mission log"))?;
                let entry = LogEntry {
                    level: r.try_get(0).map_err(db("reading a mission log"))?,
                    message: r.try_get(1).map_err(db("reading a mission log"))?,
                    data: serde_json::from_str(&data).unwrap_or_default(),
                    timestamp: Some(r.try_get(3).map_err(db("reading a mission log"))?),
                };
                Ok((entry, r.try_get(4).map_err(db("reading a mission log"))?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = page.finish(&mut entries, |(_, seq)| *seq);
        Ok((entries.into_iter().map(|(e, _)| e).collect(), next))
    }
}
