//! The supervisor's projection of `mission.*`, `task.*` and `agent.*` events into its tables.
//!
//! Every write is idempotent per mission or agent (a status is set, not counted up), except the task
//! counters, which the runtime's inbox protects (each event is applied once, in the inbox transaction).
//! The subscription runs with concurrency 1, so statuses are applied in log order.

use std::sync::Arc;

use async_trait::async_trait;
use brain_events::agent::{AgentError, AgentHeartbeat, AgentOffline, AgentOnline};
use brain_events::mission::{
    MissionCancelled, MissionCompleted, MissionCreated, MissionFailed, MissionStarted, MissionStatus, MissionStatusChanged,
};
use brain_events::task::{TaskCancelled, TaskCompleted, TaskCreated, TaskFailed, TaskRetrying, TaskStarted};
use brain_events::{Catalog, EventPayload};
use eventstream::store::sqlx;
use eventstream::{Handler, HandlerContext, HandlerError};
use eventstream_core::{Event, TenantId};

/// The projection handler.
pub(crate) struct SupervisorProjection {
    pub(crate) catalog: Arc<Catalog>,
}

fn permanent(e: impl std::error::Error + Send + Sync + 'static) -> HandlerError {
    HandlerError::Permanent(Box::new(e))
}

#[async_trait]
impl Handler for SupervisorProjection {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        let tenant = TenantId::or_default(event.tenant_id.as_ref()).to_owned();
        let at = event.timestamp.timestamp_millis();
        let t = event.event_type.as_str();
        if t == MissionCreated::TYPE {
            let p: MissionCreated = self.catalog.decode(event).map_err(permanent)?;
            sqlx::query(
                "INSERT INTO supervisor_missions (tenant, mission_id, status, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant, mission_id) DO NOTHING",
            )
            .bind(tenant)
            .bind(p.mission_id)
            .bind(p.status.as_str())
            .bind(at)
            .execute(ctx.tx.conn())
            .await?;
        } else if t == MissionStatusChanged::TYPE {
            let p: MissionStatusChanged = self.catalog.decode(event).map_err(permanent)?;
            set_status(ctx, tenant, p.mission_id, p.new_status, at).await?;
        } else if let Some((id, status)) = self.legacy_status(event)? {
            set_status(ctx, tenant, id, status, at).await?;
        } else if let Some(kind) = task_kind(t) {
            sqlx::query(
                "INSERT INTO supervisor_task_counts (tenant, kind, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (tenant, kind) DO UPDATE SET count = supervisor_task_counts.count + 1",
            )
            .bind(tenant)
            .bind(kind)
            .execute(ctx.tx.conn())
            .await?;
        } else if t == AgentOnline::TYPE {
            let p: AgentOnline = self.catalog.decode(event).map_err(permanent)?;
            let caps = serde_json::to_string(&p.capabilities.unwrap_or_default()).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO supervisor_agents (tenant, agent_id, name, state, capabilities, current_mission_id, last_seen, errors) \
                 VALUES ($1, $2, $3, 'online', $4, NULL, $5, 0) \
                 ON CONFLICT (tenant, agent_id) DO UPDATE SET name = COALESCE(excluded.name, supervisor_agents.name), \
                 state = 'online', capabilities = excluded.capabilities, \
                 last_seen = CASE WHEN excluded.last_seen > supervisor_agents.last_seen THEN excluded.last_seen ELSE supervisor_agents.last_seen END",
            )
            .bind(tenant)
            .bind(p.agent_id)
            .bind(p.name)
            .bind(caps)
            .bind(at)
            .execute(ctx.tx.conn())
            .await?;
        } else if t == AgentHeartbeat::TYPE {
            let p: AgentHeartbeat = self.catalog.decode(event).map_err(permanent)?;
            let state = p.state.unwrap_or_else(|| "online".into());
            sqlx::query(
                "INSERT INTO supervisor_agents (tenant, agent_id, name, state, capabilities, current_mission_id, last_seen, errors) \
                 VALUES ($1, $2, NULL, $3, '[]', $4, $5, 0) \
                 ON CONFLICT (tenant, agent_id) DO UPDATE SET state = excluded.state, current_mission_id = excluded.current_mission_id, \
                 last_seen = CASE WHEN excluded.last_seen > supervisor_agents.last_seen THEN excluded.last_seen ELSE supervisor_agents.last_seen END",
            )
            .bind(tenant)
            .bind(p.agent_id)
            .bind(state)
            .bind(p.current_mission_id)
            .bind(at)
            .execute(ctx.tx.conn())
            .await?;
        } else if t == AgentOffline::TYPE {
            let p: AgentOffline = self.catalog.decode(event).map_err(permanent)?;
            sqlx::query(
                "INSERT INTO supervisor_agents (tenant, agent_id, name, state, capabilities, current_mission_id, last_seen, errors) \
                 VALUES ($1, $2, NULL, 'offline', '[]', NULL, $3, 0) \
                 ON CONFLICT (tenant, agent_id) DO UPDATE SET state = 'offline', current_mission_id = NULL",
            )
            .bind(tenant)
            .bind(p.agent_id)
            .bind(at)
            .execute(ctx.tx.conn())
            .await?;
        } else if t == AgentError::TYPE {
            let p: AgentError = self.catalog.decode(event).map_err(permanent)?;
            sqlx::query(
                "INSERT INTO supervisor_agents (tenant, agent_id, name, state, capabilities, current_mission_id, last_seen, errors) \
                 VALUES ($1, $2, NULL, 'degraded', '[]', NULL, $3, 1) \
                 ON CONFLICT (tenant, agent_id) DO UPDATE SET state = 'degraded', errors = supervisor_agents.errors + 1",
            )
            .bind(tenant)
            .bind(p.agent_id)
            .bind(at)
            .execute(ctx.tx.conn())
            .await?;
        }
        Ok(())
    }
}

impl SupervisorProjection {
    /// The mission id and new status of a legacy `mission.started/completed/failed/cancelled` event.
    fn legacy_status(&self, event: &Event) -> Result<Option<(String, MissionStatus)>, HandlerError> {
        let t = event.event_type.as_str();
        let decoded = if t == MissionStarted::TYPE {
            self.catalog.decode::<MissionStarted>(event).map(|p| (p.mission_id, MissionStatus::Running))
        } else if t == MissionCompleted::TYPE {
            self.catalog.decode::<MissionCompleted>(event).map(|p| (p.mission_id, MissionStatus::Completed))
        } else if t == MissionFailed::TYPE {
            self.catalog.decode::<MissionFailed>(event).map(|p| (p.mission_id, MissionStatus::Failed))
        } else if t == MissionCancelled::TYPE {
            self.catalog.decode::<MissionCancelled>(event).map(|p| (p.mission_id, MissionStatus::Cancelled))
        } else {
            return Ok(None);
        };
        decoded.map(Some).map_err(permanent)
    }
}

/// The counter a `task.*` type increments.
fn task_kind(t: &str) -> Option<&'static str> {
    [
        (TaskCreated::TYPE, "created"),
        (TaskStarted::TYPE, "started"),
        (TaskCompleted::TYPE, "completed"),
        (TaskFailed::TYPE, "failed"),
        (TaskRetrying::TYPE, "retrying"),
        (TaskCancelled::TYPE, "cancelled"),
    ]
    .into_iter()
    .find(|(ty, _)| *ty == t)
    .map(|(_, k)| k)
}

async fn set_status(
    ctx: &mut HandlerContext<'_>,
    tenant: String,
    mission_id: String,
    status: MissionStatus,
    at: i64,
) -> Result<(), HandlerError> {
    sqlx::query(
        "INSERT INTO supervisor_missions (tenant, mission_id, status, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant, mission_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
    )
    .bind(tenant)
    .bind(mission_id)
    .bind(status.as_str())
    .bind(at)
    .execute(ctx.tx.conn())
    .await?;
    Ok(())
}
