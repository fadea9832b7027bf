//! Missions pay for themselves through events: the `credits` subscriber records the cost a
//! `mission.created` declares and consumes it from the mission's agent when `mission.completed` arrives.
//!
//! The charge is written in the inbox transaction, so a redelivered completion never charges twice. A
//! charge the balance cannot cover (or an agent without an account) is not an error to retry: the charge
//! is marked `unpaid` and `credits.depleted` (reason `insufficient_credits`) reports it.

use std::sync::Arc;

use async_trait::async_trait;
use brain_events::credits::CreditsDepleted;
use brain_events::mission::{MissionCompleted, MissionCreated};
use brain_events::{Catalog, EventPayload};
use eventstream::store::sqlx::{self, Row};
use eventstream::{EventStream, Handler, HandlerContext, HandlerError};
use eventstream_core::{Event, TenantId};

use super::error::CreditsError;
use super::model::{MILLI, Operation, credits};
use super::service::{Change, apply_in};
use crate::web::{Origin, now_ms};

/// The mission-charge handler.
pub(crate) struct MissionCharges {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) events: EventStream,
}

fn permanent(e: impl std::error::Error + Send + Sync + 'static) -> HandlerError {
    HandlerError::Permanent(Box::new(e))
}

#[async_trait]
impl Handler for MissionCharges {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        let tenant = event.tenant_id.clone().unwrap_or_else(default_tenant);
        let t = event.event_type.as_str();
        if t == MissionCreated::TYPE {
            let p: MissionCreated = self.catalog.decode(event).map_err(permanent)?;
            let (Some(agent), Some(cost)) = (p.agent_id, p.credit_cost) else { return Ok(()) };
            let milli = (cost * MILLI).round();
            if !milli.is_finite() || !(1.0..=1e18).contains(&milli) {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO credit_mission_charges (tenant, mission_id, agent_id, cost, state, updated_at) \
                 VALUES ($1, $2, $3, $4, 'declared', $5) ON CONFLICT (tenant, mission_id) DO NOTHING",
            )
            .bind(tenant.as_str().to_owned())
            .bind(p.mission_id)
            .bind(agent)
            .bind(milli as i64)
            .bind(now_ms())
            .execute(ctx.tx.conn())
            .await?;
        } else if t == MissionCompleted::TYPE {
            let p: MissionCompleted = self.catalog.decode(event).map_err(permanent)?;
            let row = sqlx::query(
                "SELECT agent_id, cost FROM credit_mission_charges WHERE tenant = $1 AND mission_id = $2 AND state = 'declared'",
            )
            .bind(tenant.as_str().to_owned())
            .bind(p.mission_id.clone())
            .fetch_optional(ctx.tx.conn())
            .await?;
            let Some(row) = row else { return Ok(()) };
            let agent: String = row.try_get(0)?;
            let cost: i64 = row.try_get(1)?;
            let origin = Origin { tenant: tenant.clone(), correlation_id: event.correlation_id.clone(), actor_id: None };
            let change = Change {
                agent_id: &agent,
                op: Operation::Consume,
                milli: cost,
                reason: "mission_execution",
                mission_id: Some(&p.mission_id),
            };
            let (state, events) = match apply_in(ctx.tx, &origin, &change).await {
                Ok(events) => ("charged", events),
                Err(CreditsError::Insufficient { balance, .. }) => {
                    ("unpaid", vec![depleted(&origin, &agent, cost, balance, &p.mission_id)])
                }
                Err(CreditsError::AccountNotFound(_)) => ("unpaid", vec![depleted(&origin, &agent, cost, 0.0, &p.mission_id)]),
                Err(CreditsError::Store(e)) => return Err(e.into()),
                Err(other) => return Err(HandlerError::permanent(other.to_string())),
            };
            sqlx::query("UPDATE credit_mission_charges SET state = $1, updated_at = $2 WHERE tenant = $3 AND mission_id = $4")
                .bind(state)
                .bind(now_ms())
                .bind(tenant.as_str().to_owned())
                .bind(p.mission_id.clone())
                .execute(ctx.tx.conn())
                .await?;
            let events: Vec<Event> = events
                .into_iter()
                .map(|mut e| {
                    e.causation_id = Some(event.id.as_str().to_owned());
                    e
                })
                .collect();
            self.events.outbox_in_tx(ctx.tx, &events).await?;
            self.events.wake_relay();
        }
        Ok(())
    }
}

fn depleted(origin: &Origin, agent: &str, cost: i64, balance: f64, mission_id: &str) -> Event {
    origin.stamp(
        CreditsDepleted {
            agent_id: agent.to_owned(),
            amount: credits(cost),
            balance_after: balance,
            reason: "insufficient_credits".into(),
            mission_id: Some(mission_id.to_owned()),
        }
        .to_event(),
    )
}

fn default_tenant() -> TenantId {
    TenantId::default_tenant()
}
