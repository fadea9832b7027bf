//! The aggregation job.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_events::metrics::{MetricsAggregationCompleted, MetricsAggregationFailed, MetricsAggregationStarted};
use brain_events::mission::{
    MissionCancelled, MissionCompleted, MissionCreated, MissionFailed, MissionStarted, MissionStatus, MissionStatusChanged,
};
use brain_events::{Catalog, EventPayload};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row};
use eventstream::store::{StoreError, Tx};
use eventstream_core::{Event, EventLog, LogError, Position, StartFrom, TenantId, TypePattern};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::sql::db;
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// The job's id, in every `metrics.*` payload.
pub const JOB_ID: &str = "aggregate_mission_metrics";

/// The cursor's name.
const CURSOR: &str = "mission_status";

/// Pages one run reads at most (a run does not chase a log that grows faster than it reads).
const MAX_PAGES: usize = 10_000;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The event log could not be read.
    #[error("reading the event log failed")]
    Log(#[from] LogError),
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
    /// The stored cursor is not a position.
    #[error("the stored cursor {0:?} is not a log position")]
    Cursor(String),
}

impl MetricsError {
    /// The `error_type` of `metrics.aggregation_failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            MetricsError::Log(_) => "LogError",
            MetricsError::Store(_) => "StoreError",
            MetricsError::Cursor(_) => "CursorError",
        }
    }
}

/// What a run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregationResult {
    /// [`JOB_ID`].
    pub job_id: String,
    /// Mission events processed in this run (of the tenant, for a tenant's run).
    pub entries_processed: u64,
    /// How long the run took.
    pub duration_ms: f64,
    /// When it completed (epoch seconds).
    pub completed_at: f64,
    /// Missions by last known status (of the tenant, for a tenant's run; of all tenants for the timer's).
    pub status_counts: BTreeMap<String, u64>,
}

/// The metrics service.
#[derive(Debug)]
pub struct MetricsService {
    events: EventStream,
    log: Arc<dyn EventLog>,
    catalog: Arc<Catalog>,
    batch: usize,
    running: Mutex<()>,
}

impl MetricsService {
    /// The job over `log`, reading `batch` entries per page.
    pub fn new(events: EventStream, log: Arc<dyn EventLog>, catalog: Arc<Catalog>, batch: usize) -> Self {
        Self { events, log, catalog, batch: batch.max(1), running: Mutex::new(()) }
    }

    /// Runs the aggregation once. `scope` is the requesting tenant (its events carry the tenant and
    /// correlation id, and it sees only its own counts); `None` is the timer's run over all tenants.
    /// Runs never overlap.
    ///
    /// # Errors
    /// A [`MetricsError`], after `metrics.aggregation_failed` was emitted.
    pub async fn run(&self, scope: Option<&Origin>) -> Result<AggregationResult, MetricsError> {
        let _one_at_a_time = self.running.lock().await;
        let stamp = |e: Event| stamp(scope, e);
        let started = Instant::now();
        self.events.emit(stamp(MetricsAggregationStarted { job_id: JOB_ID.into(), started_at: now_secs() }.to_event())).await;
        match self.aggregate(scope, started).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let failed = MetricsAggregationFailed {
                    job_id: JOB_ID.into(),
                    error_message: eventstream_core::error::chain(&e),
                    error_type: e.kind().into(),
                    failed_at: now_secs(),
                };
                self.events.emit(stamp(failed.to_event())).await;
                Err(e)
            }
        }
    }

    async fn aggregate(&self, scope: Option<&Origin>, started: Instant) -> Result<AggregationResult, MetricsError> {
        let missions = TypePattern::from_str("mission.*").map_err(|_| MetricsError::Cursor("mission.*".into()))?;
        let store = self.events.store();
        let mut entries: u64 = 0;
        for _ in 0..MAX_PAGES {
            let cursor: Option<String> = sqlx::query("SELECT position FROM metrics_cursor WHERE name = $1")
                .bind(CURSOR)
                .fetch_optional(store.pool())
                .await
                .map_err(db("reading the metrics cursor"))?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(db("reading the metrics cursor"))?;
            let from = match cursor {
                None => StartFrom::Beginning,
                Some(c) => StartFrom::After(Position::from_str(&c).map_err(|_| MetricsError::Cursor(c.clone()))?),
            };
            let records = self.log.read(&from, self.batch, Duration::ZERO).await?;
            let Some(last) = records.last().map(|r| r.position.clone()) else { break };
            let mut tx = store.begin().await?;
            for record in &records {
                let Ok(event) = &record.event else { continue };
                if !missions.matches(&event.event_type) {
                    continue;
                }
                let tenant = TenantId::or_default(event.tenant_id.as_ref());
                if scope.is_none_or(|o| o.tenant() == tenant) {
                    entries += 1;
                }
                self.apply(&mut tx, tenant, event).await?;
            }
            sqlx::query(
                "INSERT INTO metrics_cursor (name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            )
            .bind(CURSOR)
            .bind(last.as_str().to_owned())
            .execute(tx.conn())
            .await
            .map_err(db("moving the metrics cursor"))?;
            tx.commit().await?;
            if records.len() < self.batch {
                break;
            }
        }
        let status_counts = self.counts(scope.map(Origin::tenant)).await?;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let now = now_ms();
        let mut tx = store.begin().await?;
        sqlx::query(
            "INSERT INTO metrics_runs (scope, entries_processed, duration_ms, completed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope) DO UPDATE SET entries_processed = excluded.entries_processed, duration_ms = excluded.duration_ms, \
             completed_at = excluded.completed_at",
        )
        .bind(scope.map_or("*", Origin::tenant).to_owned())
        .bind(i64::try_from(entries).unwrap_or(i64::MAX))
        .bind(duration_ms)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db("recording a metrics run"))?;
        let result = AggregationResult {
            job_id: JOB_ID.into(),
            entries_processed: entries,
            duration_ms,
            completed_at: ms_to_secs(now),
            status_counts,
        };
        let completed = MetricsAggregationCompleted {
            job_id: JOB_ID.into(),
            entries_processed: entries,
            duration_ms,
            completed_at: result.completed_at,
            status_counts: Some(result.status_counts.clone()),
        };
        self.events.outbox_in_tx(&mut tx, &[stamp(scope, completed.to_event())]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(result)
    }

    /// Updates a mission's last known status from one event.
    async fn apply(&self, tx: &mut Tx, tenant: &str, event: &Event) -> Result<(), StoreError> {
        let t = event.event_type.as_str();
        let c = &self.catalog;
        let (id, status, only_new) = if t == MissionCreated::TYPE {
            match c.decode::<MissionCreated>(event) {
                Ok(p) => (p.mission_id, p.status, true),
                Err(_) => return Ok(()),
            }
        } else if t == MissionStatusChanged::TYPE {
            match c.decode::<MissionStatusChanged>(event) {
                Ok(p) => (p.mission_id, p.new_status, false),
                Err(_) => return Ok(()),
            }
        } else if t == MissionStarted::TYPE {
            match c.decode::<MissionStarted>(event) {
                Ok(p) => (p.mission_id, MissionStatus::Running, false),
                Err(_) => return Ok(()),
            }
        } else if t == MissionCompleted::TYPE {
            match c.decode::<MissionCompleted>(event) {
                Ok(p) => (p.mission_id, MissionStatus::Completed, false),
                Err(_) => return Ok(()),
            }
        } else if t == MissionFailed::TYPE {
            match c.decode::<MissionFailed>(event) {
                Ok(p) => (p.mission_id, MissionStatus::Failed, false),
                Err(_) => return Ok(()),
            }
        } else if t == MissionCancelled::TYPE {
            match c.decode::<MissionCancelled>(event) {
                Ok(p) => (p.mission_id, MissionStatus::Cancelled, false),
                Err(_) => return Ok(()),
            }
        } else {
            return Ok(());
        };
        let sql = if only_new {
            "INSERT INTO metrics_mission_status (tenant, mission_id, status) VALUES ($1, $2, $3) ON CONFLICT (tenant, mission_id) DO NOTHING"
        } else {
            "INSERT INTO metrics_mission_status (tenant, mission_id, status) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, mission_id) DO UPDATE SET status = excluded.status"
        };
        sqlx::query(sql)
            .bind(tenant.to_owned())
            .bind(id)
            .bind(status.as_str())
            .execute(tx.conn())
            .await
            .map_err(db("aggregating mission statuses"))?;
        Ok(())
    }

    /// Missions by last known status, for one tenant or all.
    ///
    /// # Errors
    /// The store's error.
    pub async fn counts(&self, tenant: Option<&str>) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM metrics_mission_status WHERE ($1 = '' OR tenant = $1) GROUP BY status")
            .bind(tenant.unwrap_or("").to_owned())
            .fetch_all(self.events.store().pool())
            .await
            .map_err(db("counting mission statuses"))?;
        let mut out = BTreeMap::new();
        for r in rows {
            let s: String = r.try_get(0).map_err(db("counting mission statuses"))?;
            let n: i64 = r.try_get(1).map_err(db("counting mission statuses"))?;
            out.insert(s, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    }

    /// The last run visible to `tenant` (its own, or the timer's, whichever is newer):
    /// `(entries_processed, duration_ms, completed_at)`.
    ///
    /// # Errors
    /// The store's error.
    pub async fn last_run(&self, tenant: &str) -> Result<Option<(u64, f64, f64)>, StoreError> {
        let row = sqlx::query(
            "SELECT entries_processed, duration_ms, completed_at FROM metrics_runs WHERE scope = $1 OR scope = '*' \
             ORDER BY completed_at DESC LIMIT 1",
        )
        .bind(tenant.to_owned())
        .fetch_optional(self.events.store().pool())
        .await
        .map_err(db("reading metrics runs"))?;
        let Some(r) = row else { return Ok(None) };
        let e: i64 = r.try_get(0).map_err(db("reading metrics runs"))?;
        let d: f64 = r.try_get(1).map_err(db("reading metrics runs"))?;
        let c: i64 = r.try_get(2).map_err(db("reading metrics runs"))?;
        Ok(Some((u64::try_from(e).unwrap_or(0), d, ms_to_secs(c))))
    }
}

/// A tenant's run stamps its events with the tenant and correlation id; the timer's run has neither.
fn stamp(scope: Option<&Origin>, e: Event) -> Event {
    match scope {
        Some(o) => o.stamp(e),
        None => e,
    }
}
