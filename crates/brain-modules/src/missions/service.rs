//! The missions service: every rule about missions, and the only code that writes the `missions` and
//! `mission_logs` tables. Each change and its events are written in one transaction (the transactional
//! outbox), so an event exists if and only if the change committed.
//!
//! Event sequences (types, in log order) per mission:
//! - create: `mission.log_appended` ("Mission created"), `mission.created`, `task.created`;
//! - the worker takes it: `task.started`, `mission.log_appended`, `mission.status_changed`
//!   (PENDING -> RUNNING), `mission.started`;
//! - success: `task.completed`, `mission.log_appended`, `mission.status_changed` (-> COMPLETED),
//!   `mission.completed`;
//! - failure with a retry left: `task.failed` (`will_retry` true), `mission.log_appended`,
//!   `mission.status_changed` (RUNNING -> PENDING), `task.retrying`;
//! - failure without: `task.failed` (`will_retry` false), `mission.log_appended`, `mission.status_changed`
//!   (-> FAILED), `mission.failed`;
//! - cancel: `mission.log_appended`, `mission.status_changed` (-> CANCELLED), `mission.cancelled`,
//!   `task.cancelled`;
//! - other manual status changes: `mission.log_appended`, `mission.status_changed`, and the legacy type
//!   of the new status where one exists (`mission.started/completed/failed`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

use brain_events::EventPayload;
use brain_events::mission::{
    MissionCancelled, MissionCompleted, MissionCreated, MissionFailed, MissionLogAppended, MissionStarted, MissionStatus,
    MissionStatusChanged,
};
use brain_events::task::{TaskCancelled, TaskCompleted, TaskCreated, TaskFailed, TaskRetrying, TaskStarted};
use eventstream::EventStream;
use eventstream_core::{Event, TenantId};
use eventstream_sql::sqlx::{self, Row, any::AnyRow};
use eventstream_sql::{StateStore, StoreError, Tx};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::error::MissionError;
use super::model::{ALL_STATUSES, LogEntry, Mission, NewMission, Priority, QueueEntry, legacy_status, parse_status, status_str};
use crate::sql::{db, is_unique_violation, next_counter};
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// The tables of the missions module.
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS missions (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        mission_type TEXT NOT NULL,
        description TEXT,
        data TEXT NOT NULL,
        priority BIGINT NOT NULL,
        status TEXT NOT NULL,
        queued BIGINT NOT NULL,
        queue_seq BIGINT NOT NULL,
        retry_count BIGINT NOT NULL,
        max_retries BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        agent_id TEXT,
        credit_cost DOUBLE PRECISION,
        correlation_id TEXT,
        last_error TEXT,
        result TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, id)
    )",
    "CREATE INDEX IF NOT EXISTS missions_queue ON missions (queued, priority, queue_seq)",
    "CREATE TABLE IF NOT EXISTS mission_logs (
        tenant TEXT NOT NULL,
        mission_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL,
        logged_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tenant, mission_id, seq)
    )",
];

/// The counter giving queue positions (FIFO within a priority).
const QUEUE_SEQ: &str = "mission_queue_seq";

macro_rules! select_missions {
    ($rest:literal) => {
        concat!(
            "SELECT tenant, id, name, mission_type, description, data, priority, status, queued, queue_seq, retry_count, \
             max_retries, created_by, agent_id, credit_cost, correlation_id, last_error, result, created_at, updated_at \
             FROM missions ",
            $rest
        )
    };
}

/// Counters of the worker pool, for `GET /api/missions/worker/status`.
#[derive(Debug, Default)]
pub struct WorkerState {
    /// Whether the pool runs.
    pub running: AtomicBool,
    /// Workers started.
    pub workers: AtomicUsize,
    /// Workers executing a mission now.
    pub busy: AtomicUsize,
    /// Attempts finished (success or failure).
    pub attempts: AtomicU64,
}

/// A mission the worker took from the queue.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The mission as it is now (RUNNING).
    pub mission: Mission,
    /// Its tenant and the correlation id of the request that created it.
    pub origin: Origin,
}

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

/// The missions service. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct MissionService {
    events: EventStream,
    store: StateStore,
    default_max_retries: u32,
    wake: Arc<Notify>,
    worker: Arc<WorkerState>,
}

/// How a transition changes the row besides the status.
struct Change<'a> {
    to: MissionStatus,
    queued: bool,
    queue_seq: i64,
    retry_count: u32,
    last_error: Option<&'a str>,
    result: Option<&'a Value>,
}

impl MissionService {
    /// The service over `events` (whose store holds the tables).
    pub fn new(events: EventStream, default_max_retries: u32) -> Self {
        let store = events.store().clone();
        Self { events, store, default_max_retries, wake: Arc::new(Notify::new()), worker: Arc::new(WorkerState::default()) }
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
        .bind(status_str(MissionStatus::Pending))
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
    pub async fn list(
        &self,
        tenant: &str,
        status: Option<MissionStatus>,
        mission_type: Option<&str>,
        priority: Option<Priority>,
        limit: u32,
    ) -> Result<Vec<Mission>, MissionError> {
        let rows = sqlx::query(select_missions!(
            "WHERE tenant = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR mission_type = $3) \
             AND ($4 = 0 OR priority = $4) ORDER BY created_at DESC, queue_seq DESC LIMIT $5"
        ))
        .bind(tenant.to_owned())
        .bind(status.map(status_str).unwrap_or("").to_owned())
        .bind(mission_type.unwrap_or("").to_owned())
        .bind(priority.map_or(0, Priority::value))
        .bind(i64::from(limit))
        .fetch_all(self.store.pool())
        .await
        .map_err(db("listing missions"))?;
        rows.iter().map(mission_from_row).collect::<Result<_, _>>().map_err(Into::into)
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
        let mut by_status: std::collections::BTreeMap<String, u64> = ALL_STATUSES.iter().map(|s| (status_str(*s).to_owned(), 0)).collect();
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

    /// Appends an entry to a mission's log.
    ///
    /// # Errors
    /// [`MissionError::NotFound`]; [`MissionError::Store`].
    pub async fn append_log(&self, origin: &Origin, id: &str, entry: LogEntry) -> Result<(), MissionError> {
        let mut tx = self.store.begin().await?;
        if self.load(&mut tx, origin.tenant(), id).await?.is_none() {
            return Err(MissionError::NotFound(id.to_owned()));
        }
        let mut out = Vec::new();
        self.append_log_in(&mut tx, origin, id, &entry, &mut out).await?;
        self.commit(tx, &out).await?;
        Ok(())
    }

    /// A mission's log, oldest first.
    ///
    /// # Errors
    /// [`MissionError::NotFound`]; [`MissionError::Store`].
    pub async fn log(&self, tenant: &str, id: &str) -> Result<Vec<LogEntry>, MissionError> {
        self.get(tenant, id).await?;
        let rows =
            sqlx::query("SELECT level, message, data, logged_at FROM mission_logs WHERE tenant = $1 AND mission_id = $2 ORDER BY seq")
                .bind(tenant.to_owned())
                .bind(id.to_owned())
                .fetch_all(self.store.pool())
                .await
                .map_err(db("reading a mission log"))?;
        rows.iter()
            .map(|r| -> Result<LogEntry, StoreError> {
                let data: String = r.try_get(2).map_err(db("reading a mission log"))?;
                Ok(LogEntry {
                    level: r.try_get(0).map_err(db("reading a mission log"))?,
                    message: r.try_get(1).map_err(db("reading a mission log"))?,
                    data: serde_json::from_str(&data).unwrap_or_default(),
                    timestamp: Some(r.try_get(3).map_err(db("reading a mission log"))?),
                })
            })
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    /// Changes a mission's status by request, following the state machine. `RUNNING` takes it out of the
    /// queue (someone else executes it), `PENDING` queues it again.
    ///
    /// # Errors
    /// [`MissionError::NotFound`], [`MissionError::IllegalTransition`], [`MissionError::Concurrent`],
    /// [`MissionError::Store`].
    pub async fn set_status(&self, origin: &Origin, id: &str, to: MissionStatus) -> Result<Mission, MissionError> {
        let mut tx = self.store.begin().await?;
        let m = self.load(&mut tx, origin.tenant(), id).await?.ok_or_else(|| MissionError::NotFound(id.to_owned()))?;
        if !super::model::transition_allowed(m.status, to) {
            return Err(MissionError::IllegalTransition { id: id.to_owned(), from: m.status, to });
        }
        let queue_seq = if to == MissionStatus::Pending { next_counter(&mut tx, QUEUE_SEQ).await? } else { m.queue_seq };
        let mut out = Vec::new();
        let change = Change {
            to,
            queued: to == MissionStatus::Pending,
            queue_seq,
            retry_count: m.retry_count,
            last_error: m.last_error.as_deref(),
            result: m.result.as_ref(),
        };
        let updated = self.transition_in(&mut tx, origin, &m, &change, &mut out).await?;
        if to == MissionStatus::Cancelled {
            out.push(cancelled_event(origin, &updated));
        }
        self.commit(tx, &out).await?;
        if to == MissionStatus::Pending {
            self.wake.notify_waiters();
        }
        Ok(updated)
    }

    /// Takes the next mission from the queue (highest priority, then oldest queue position) and marks it
    /// `RUNNING`. `None` when the queue is empty.
    ///
    /// # Errors
    /// [`MissionError::Store`]; [`MissionError::Concurrent`] when another worker took the same mission
    /// first (PostgreSQL; the caller just tries again).
    pub async fn claim_next(&self) -> Result<Option<Claimed>, MissionError> {
        let mut tx = self.store.begin().await?;
        let row = sqlx::query(select_missions!("WHERE queued = 1 ORDER BY priority DESC, queue_seq ASC LIMIT 1"))
            .fetch_optional(tx.conn())
            .await
            .map_err(db("reading the queue"))?;
        let Some(row) = row else { return Ok(None) };
        let tenant: String = row.try_get(0).map_err(db("reading the queue"))?;
        let m = mission_from_row(&row)?;
        let origin = origin_of(&tenant, &m)?;
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
        };
        let running = self.transition_in(&mut tx, &origin, &m, &change, &mut out).await?;
        self.commit(tx, &out).await?;
        Ok(Some(Claimed { mission: running, origin }))
    }

    /// Records a successful attempt: `COMPLETED` with the executor's result. Returns `false` (and writes
    /// nothing) when the mission was changed meanwhile (cancelled, or set by hand).
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn complete(&self, claimed: &Claimed, result: Value, duration_ms: f64) -> Result<bool, MissionError> {
        let m = &claimed.mission;
        let mut tx = self.store.begin().await?;
        let mut out =
            vec![
                claimed.origin.stamp(
                    TaskCompleted { task_id: m.id.clone(), mission_type: m.mission_type.clone(), duration_ms, completed_at: now_secs() }
                        .to_event(),
                ),
            ];
        let change = Change {
            to: MissionStatus::Completed,
            queued: false,
            queue_seq: m.queue_seq,
            retry_count: m.retry_count,
            last_error: m.last_error.as_deref(),
            result: Some(&result),
        };
        match self.transition_in(&mut tx, &claimed.origin, m, &change, &mut out).await {
            Ok(_) => {}
            Err(MissionError::Concurrent(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.commit(tx, &out).await?;
        Ok(true)
    }

    /// Records a failed attempt: counts it, and either queues the mission again (same id, `PENDING`, at the
    /// end of its priority) or, when `retry_count > max_retries`, ends it `FAILED`. Returns `false` when
    /// the mission was changed meanwhile.
    ///
    /// # Errors
    /// [`MissionError::Store`].
    pub async fn fail(&self, claimed: &Claimed, error_type: &str, error: &str, duration_ms: f64) -> Result<bool, MissionError> {
        let m = &claimed.mission;
        let retry_count = m.retry_count + 1;
        let will_retry = retry_count <= m.max_retries;
        let mut tx = self.store.begin().await?;
        let now = now_secs();
        let mut out = vec![
            claimed.origin.stamp(
                TaskFailed {
                    task_id: m.id.clone(),
                    mission_type: m.mission_type.clone(),
                    error: error.to_owned(),
                    error_type: error_type.to_owned(),
                    retry_count,
                    max_retries: m.max_retries,
                    will_retry,
                    duration_ms,
                    failed_at: now,
                }
                .to_event(),
            ),
        ];
        let queue_seq = if will_retry { next_counter(&mut tx, QUEUE_SEQ).await? } else { m.queue_seq };
        let change = Change {
            to: if will_retry { MissionStatus::Pending } else { MissionStatus::Failed },
            queued: will_retry,
            queue_seq,
            retry_count,
            last_error: Some(error),
            result: None,
        };
        match self.transition_in(&mut tx, &claimed.origin, m, &change, &mut out).await {
            Ok(_) => {}
            Err(MissionError::Concurrent(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        if will_retry {
            out.push(
                claimed.origin.stamp(
                    TaskRetrying {
                        task_id: m.id.clone(),
                        mission_type: m.mission_type.clone(),
                        retry_count,
                        max_retries: m.max_retries,
                        next_attempt: retry_count + 1,
                        retried_at: now,
                    }
                    .to_event(),
                ),
            );
        }
        self.commit(tx, &out).await?;
        if will_retry {
            self.wake.notify_waiters();
        }
        Ok(true)
    }

    /// Writes a status change and its events (`mission.log_appended`, `mission.status_changed`, the legacy
    /// type of the new status) into `out`. Optimistic: the row must still have the status and retry count
    /// it was read with, or the result is [`MissionError::Concurrent`].
    async fn transition_in(
        &self,
        tx: &mut Tx,
        origin: &Origin,
        m: &Mission,
        change: &Change<'_>,
        out: &mut Vec<Event>,
    ) -> Result<Mission, MissionError> {
        let now = now_ms();
        let result_text = change.result.map(Value::to_string);
        let done = sqlx::query(
            "UPDATE missions SET status = $1, queued = $2, queue_seq = $3, retry_count = $4, last_error = $5, result = $6, \
             updated_at = $7 WHERE tenant = $8 AND id = $9 AND status = $10 AND retry_count = $11",
        )
        .bind(status_str(change.to))
        .bind(i64::from(change.queued))
        .bind(change.queue_seq)
        .bind(i64::from(change.retry_count))
        .bind(change.last_error.map(str::to_owned))
        .bind(result_text)
        .bind(now)
        .bind(origin.tenant().to_owned())
        .bind(m.id.clone())
        .bind(status_str(m.status))
        .bind(i64::from(m.retry_count))
        .execute(tx.conn())
        .await
        .map_err(db("updating a mission"))?;
        if done.rows_affected() == 0 {
            return Err(MissionError::Concurrent(m.id.clone()));
        }
        let mut updated = m.clone();
        updated.status = change.to;
        updated.queued = change.queued;
        updated.queue_seq = change.queue_seq;
        updated.retry_count = change.retry_count;
        updated.last_error = change.last_error.map(str::to_owned);
        updated.result = change.result.cloned();
        updated.updated_at = ms_to_secs(now);

        let details = json!({"from": status_str(m.status), "to": status_str(change.to)});
        self.append_log_in(tx, origin, &m.id, &log_entry("Mission status changed", details), out).await?;
        out.push(
            origin.stamp(
                MissionStatusChanged {
                    mission_id: m.id.clone(),
                    old_status: m.status,
                    new_status: change.to,
                    changed_at: updated.updated_at,
                }
                .to_event(),
            ),
        );
        let (old_status, new_status) = (legacy_status(m.status), legacy_status(change.to));
        let mission_id = m.id.clone();
        let mission_name = m.name.clone();
        let error_message = if change.to == MissionStatus::Failed { updated.last_error.clone() } else { None };
        let legacy = match change.to {
            MissionStatus::Running => {
                Some(MissionStarted { mission_id, mission_name, old_status, new_status, result: None, error_message: None }.to_event())
            }
            MissionStatus::Completed => Some(
                MissionCompleted { mission_id, mission_name, old_status, new_status, result: updated.result.clone(), error_message: None }
                    .to_event(),
            ),
            MissionStatus::Failed => {
                Some(MissionFailed { mission_id, mission_name, old_status, new_status, result: None, error_message }.to_event())
            }
            MissionStatus::Cancelled => {
                Some(MissionCancelled { mission_id, mission_name, old_status, new_status, result: None, error_message: None }.to_event())
            }
            MissionStatus::Pending => None,
        };
        if let Some(e) = legacy {
            out.push(origin.stamp(e));
        }
        Ok(updated)
    }

    /// Inserts a log line and pushes its `mission.log_appended`.
    async fn append_log_in(
        &self,
        tx: &mut Tx,
        origin: &Origin,
        mission_id: &str,
        entry: &LogEntry,
        out: &mut Vec<Event>,
    ) -> Result<(), MissionError> {
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM mission_logs WHERE tenant = $1 AND mission_id = $2")
            .bind(origin.tenant().to_owned())
            .bind(mission_id.to_owned())
            .fetch_one(tx.conn())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("appending to a mission log"))?;
        let at = entry.timestamp.unwrap_or_else(now_secs);
        sqlx::query(
            "INSERT INTO mission_logs (tenant, mission_id, seq, level, message, data, logged_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(origin.tenant().to_owned())
        .bind(mission_id.to_owned())
        .bind(seq + 1)
        .bind(entry.level.clone())
        .bind(entry.message.clone())
        .bind(Value::Object(entry.data.clone()).to_string())
        .bind(at)
        .execute(tx.conn())
        .await
        .map_err(db("appending to a mission log"))?;
        out.push(
            origin.stamp(
                MissionLogAppended {
                    mission_id: mission_id.to_owned(),
                    log_level: entry.level.clone(),
                    message: entry.message.clone(),
                    appended_at: at,
                }
                .to_event(),
            ),
        );
        Ok(())
    }

    async fn load(&self, tx: &mut Tx, tenant: &str, id: &str) -> Result<Option<Mission>, MissionError> {
        let row = sqlx::query(select_missions!("WHERE tenant = $1 AND id = $2"))
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("reading a mission"))?;
        Ok(row.as_ref().map(mission_from_row).transpose()?)
    }

    async fn commit(&self, mut tx: Tx, events: &[Event]) -> Result<(), StoreError> {
        self.events.outbox_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }
}

fn log_entry(message: &str, details: Value) -> LogEntry {
    let data = match details {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    LogEntry { timestamp: None, level: "info".into(), message: message.into(), data }
}

fn cancelled_event(origin: &Origin, m: &Mission) -> Event {
    origin.stamp(
        TaskCancelled {
            task_id: m.id.clone(),
            mission_type: Some(m.mission_type.clone()),
            reason: Some("cancelled by request".into()),
            cancelled_at: Some(m.updated_at),
        }
        .to_event(),
    )
}

fn origin_of(tenant: &str, m: &Mission) -> Result<Origin, StoreError> {
    let tenant: TenantId = tenant.parse().map_err(|e: eventstream_core::InvalidId| StoreError::Corrupt {
        table: "missions",
        row_id: -1,
        column: "tenant",
        reason: e.to_string(),
    })?;
    Ok(Origin::background(tenant, m.correlation_id.clone()))
}

fn corrupt(column: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table: "missions", row_id: -1, column, reason: reason.into() }
}

fn mission_from_row(r: &AnyRow) -> Result<Mission, StoreError> {
    let get = |e| StoreError::sqlx("reading a mission row", e);
    let data: String = r.try_get("data").map_err(get)?;
    let data = match serde_json::from_str(&data) {
        Ok(Value::Object(m)) => m,
        _ => return Err(corrupt("data", "is not a JSON object")),
    };
    let priority: i64 = r.try_get("priority").map_err(get)?;
    let status: String = r.try_get("status").map_err(get)?;
    let result: Option<String> = r.try_get("result").map_err(get)?;
    let retry_count: i64 = r.try_get("retry_count").map_err(get)?;
    let max_retries: i64 = r.try_get("max_retries").map_err(get)?;
    let queued: i64 = r.try_get("queued").map_err(get)?;
    let created_at: i64 = r.try_get("created_at").map_err(get)?;
    let updated_at: i64 = r.try_get("updated_at").map_err(get)?;
    Ok(Mission {
        id: r.try_get("id").map_err(get)?,
        name: r.try_get("name").map_err(get)?,
        mission_type: r.try_get("mission_type").map_err(get)?,
        description: r.try_get("description").map_err(get)?,
        data,
        priority: Priority::from_value(priority).ok_or_else(|| corrupt("priority", format!("{priority} is not a priority")))?,
        status: parse_status(&status).ok_or_else(|| corrupt("status", format!("{status:?} is not a status")))?,
        retry_count: u32::try_from(retry_count).map_err(|_| corrupt("retry_count", "out of range"))?,
        max_retries: u32::try_from(max_retries).map_err(|_| corrupt("max_retries", "out of range"))?,
        queued: queued != 0,
        created_by: r.try_get("created_by").map_err(get)?,
        agent_id: r.try_get("agent_id").map_err(get)?,
        credit_cost: r.try_get("credit_cost").map_err(get)?,
        last_error: r.try_get("last_error").map_err(get)?,
        result: result.and_then(|t| serde_json::from_str(&t).ok()),
        created_at: ms_to_secs(created_at),
        updated_at: ms_to_secs(updated_at),
        correlation_id: r.try_get("correlation_id").map_err(get)?,
        queue_seq: r.try_get("queue_seq").map_err(get)?,
    })
}
