//! The supervisor service: reads its projection tables, reports queries as events, and marks agents
//! offline whose heartbeats stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use brain_events::EventPayload;
use brain_events::agent::AgentOffline;
use brain_events::supervisor::{SupervisorAgentsListed, SupervisorHealthChecked, SupervisorStatusQueried};
use eventstream::EventStream;
use eventstream::store::StoreError;
use eventstream::store::sqlx::{self, Row};
use eventstream_core::{Source, TenantId};
use serde::Serialize;

use crate::page::Page;
use crate::sql::db;
use crate::web::{Origin, ms_to_secs, now_ms, now_secs};

/// The source the supervisor's own `agent.offline` events carry.
const SUPERVISOR_SOURCE: &str = "supervisor_service";

/// An agent as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    /// The agent id.
    pub id: String,
    /// Its display name (the id when it never gave one).
    pub name: String,
    /// `online`, `offline`, `degraded` or what its heartbeat said; `offline` once heartbeats stopped.
    pub state: String,
    /// Its last sign of life (epoch seconds).
    pub last_heartbeat: f64,
    /// The mission its last heartbeat named.
    pub current_mission_id: Option<String>,
    /// What it can do.
    pub capabilities: Vec<String>,
    /// Errors it reported.
    pub errors: u64,
    /// Missions it runs (1 when its heartbeat names one).
    pub missions_running: u32,
}

/// `GET /api/supervisor/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupervisorStatus {
    /// `ok`.
    pub status: String,
    /// `healthy`, `degraded` (an agent is degraded or offline) or `offline` (every agent is).
    pub global_state: String,
    /// When (RFC 3339).
    pub timestamp: String,
    /// All missions seen.
    pub total_missions: u64,
    /// Running.
    pub running_missions: u64,
    /// Pending.
    pub pending_missions: u64,
    /// Completed.
    pub completed_missions: u64,
    /// Failed.
    pub failed_missions: u64,
    /// Cancelled.
    pub cancelled_missions: u64,
    /// Counts of `task.*` events by kind (`started`, `completed`, `failed`, `retrying`, ...).
    pub task_events: BTreeMap<String, u64>,
    /// The agents.
    pub agents: Vec<AgentView>,
}

/// The supervisor service.
#[derive(Debug)]
pub struct SupervisorService {
    events: EventStream,
    heartbeat_timeout: Duration,
}

impl SupervisorService {
    /// The service; agents silent for longer than `heartbeat_timeout` are offline.
    pub fn new(events: EventStream, heartbeat_timeout: Duration) -> Self {
        Self { events, heartbeat_timeout }
    }

    /// Reports a health check (`supervisor.health_checked`).
    pub async fn health(&self, origin: &Origin) -> f64 {
        let at = now_secs();
        self.events.emit(origin.stamp(SupervisorHealthChecked { status: "ok".into(), checked_at: at }.to_event())).await;
        at
    }

    /// The tenant's mission counts and agents (`supervisor.status_queried`).
    ///
    /// # Errors
    /// The store's error.
    pub async fn status(&self, origin: &Origin) -> Result<SupervisorStatus, StoreError> {
        let pool = self.events.store().pool();
        let rows = sqlx::query("SELECT status, COUNT(*) FROM supervisor_missions WHERE tenant = $1 GROUP BY status")
            .bind(origin.tenant().to_owned())
            .fetch_all(pool)
            .await
            .map_err(db("counting missions"))?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for r in rows {
            let s: String = r.try_get(0).map_err(db("counting missions"))?;
            let n: i64 = r.try_get(1).map_err(db("counting missions"))?;
            counts.insert(s, u64::try_from(n).unwrap_or(0));
        }
        let rows = sqlx::query("SELECT kind, count FROM supervisor_task_counts WHERE tenant = $1")
            .bind(origin.tenant().to_owned())
            .fetch_all(pool)
            .await
            .map_err(db("reading task counts"))?;
        let mut task_events = BTreeMap::new();
        for r in rows {
            let k: String = r.try_get(0).map_err(db("reading task counts"))?;
            let n: i64 = r.try_get(1).map_err(db("reading task counts"))?;
            task_events.insert(k, u64::try_from(n).unwrap_or(0));
        }
        let agents = self.agents_of(origin.tenant(), None).await?;
        let c = |s: &str| counts.get(s).copied().unwrap_or(0);
        let offline = agents.iter().filter(|a| a.state == "offline").count();
        let degraded = agents.iter().filter(|a| a.state == "degraded").count();
        let global_state = if !agents.is_empty() && offline == agents.len() {
            "offline"
        } else if offline + degraded > 0 {
            "degraded"
        } else {
            "healthy"
        };
        let status = SupervisorStatus {
            status: "ok".into(),
            global_state: global_state.into(),
            timestamp: eventstream_core::format_timestamp(&chrono_now()),
            total_missions: counts.values().sum(),
            running_missions: c("RUNNING"),
            pending_missions: c("PENDING"),
            completed_missions: c("COMPLETED"),
            failed_missions: c("FAILED"),
            cancelled_missions: c("CANCELLED"),
            task_events,
            agents,
        };
        let payload = SupervisorStatusQueried {
            total_missions: status.total_missions,
            running_missions: status.running_missions,
            pending_missions: status.pending_missions,
            completed_missions: status.completed_missions,
            failed_missions: status.failed_missions,
            cancelled_missions: status.cancelled_missions,
            agent_count: u32::try_from(status.agents.len()).unwrap_or(u32::MAX),
            queried_at: now_secs(),
        };
        self.events.emit(origin.stamp(payload.to_event())).await;
        Ok(status)
    }

    /// The tenant's agents (`supervisor.agents_listed`).
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn agents(&self, origin: &Origin, page: Page) -> Result<(Vec<AgentView>, Option<String>), StoreError> {
        let mut agents = self.agents_of(origin.tenant(), Some(page)).await?;
        // The cursor is the number of agents before the next page.
        let offset = page.after.unwrap_or(0);
        let next = page.finish(&mut agents, |_| 0).map(|_| (offset + i64::from(page.limit)).to_string());
        let payload = SupervisorAgentsListed { agent_count: u32::try_from(agents.len()).unwrap_or(u32::MAX), queried_at: now_secs() };
        self.events.emit(origin.stamp(payload.to_event())).await;
        Ok((agents, next))
    }

    /// The tenant's agents by id: `page` (one more than it holds, see [`Page::fetch`]) or all of them.
    async fn agents_of(&self, tenant: &str, page: Option<Page>) -> Result<Vec<AgentView>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent_id, name, state, capabilities, current_mission_id, last_seen, errors FROM supervisor_agents \
             WHERE tenant = $1 ORDER BY agent_id LIMIT $2 OFFSET $3",
        )
        .bind(tenant.to_owned())
        .bind(page.map_or(i64::MAX, |p| p.fetch()))
        .bind(page.and_then(|p| p.after).unwrap_or(0))
        .fetch_all(self.events.store().pool())
        .await
        .map_err(db("listing agents"))?;
        let deadline = now_ms() - i64::try_from(self.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
        rows.iter()
            .map(|r| -> Result<AgentView, StoreError> {
                let e = db("listing agents");
                let id: String = r.try_get(0).map_err(e)?;
                let name: Option<String> = r.try_get(1).map_err(db("listing agents"))?;
                let mut state: String = r.try_get(2).map_err(db("listing agents"))?;
                let caps: String = r.try_get(3).map_err(db("listing agents"))?;
                let current: Option<String> = r.try_get(4).map_err(db("listing agents"))?;
                let last_seen: i64 = r.try_get(5).map_err(db("listing agents"))?;
                let errors: i64 = r.try_get(6).map_err(db("listing agents"))?;
                if last_seen < deadline {
                    state = "offline".into();
                }
                let current = if state == "offline" { None } else { current };
                Ok(AgentView {
                    name: name.unwrap_or_else(|| id.clone()),
                    id,
                    state,
                    last_heartbeat: ms_to_secs(last_seen),
                    missions_running: u32::from(current.is_some()),
                    current_mission_id: current,
                    capabilities: serde_json::from_str(&caps).unwrap_or_default(),
                    errors: u64::try_from(errors).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Marks agents offline whose last heartbeat is older than the timeout, each with an `agent.offline`
    /// (reason `heartbeat_timeout`, source `supervisor_service`) in the same transaction. Returns how many.
    ///
    /// # Errors
    /// The store's error.
    pub async fn check_heartbeats(&self) -> Result<usize, StoreError> {
        let deadline = now_ms() - i64::try_from(self.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
        let store = self.events.store();
        let rows = sqlx::query("SELECT tenant, agent_id FROM supervisor_agents WHERE state <> 'offline' AND last_seen < $1")
            .bind(deadline)
            .fetch_all(store.pool())
            .await
            .map_err(db("finding silent agents"))?;
        let mut marked = 0;
        for r in rows {
            let tenant: String = r.try_get(0).map_err(db("finding silent agents"))?;
            let agent: String = r.try_get(1).map_err(db("finding silent agents"))?;
            let Ok(tenant_id) = tenant.parse::<TenantId>() else { continue };
            let mut tx = store.begin().await?;
            let done = sqlx::query(
                "UPDATE supervisor_agents SET state = 'offline', current_mission_id = NULL \
                 WHERE tenant = $1 AND agent_id = $2 AND state <> 'offline' AND last_seen < $3",
            )
            .bind(tenant.clone())
            .bind(agent.clone())
            .bind(deadline)
            .execute(tx.conn())
            .await
            .map_err(db("marking an agent offline"))?;
            if done.rows_affected() == 0 {
                continue;
            }
            let mut event = Origin::background(tenant_id, None)
                .stamp(AgentOffline { agent_id: agent, reason: Some("heartbeat_timeout".into()), offline_at: Some(now_secs()) }.to_event());
            if let Ok(source) = SUPERVISOR_SOURCE.parse::<Source>() {
                event.source = source;
            }
            self.events.outbox_in_tx(&mut tx, &[event]).await?;
            tx.commit().await?;
            marked += 1;
        }
        if marked > 0 {
            self.events.wake_relay();
        }
        Ok(marked)
    }
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
