//! The `course_factory` subscriber (the original consumed nothing):
//! - `distribution.created` (CF-C1, chain A hop A3): deploys the course to staging and emits
//!   `course.deployed.staging` when the course is known in the event's tenant, asked for a staging deploy,
//!   was not a dry run, is not yet deployed, and the distribution is a root (`derived_from` null: a
//!   micro-niche child must not deploy again). Otherwise it does nothing. The deployed flag is set with a
//!   conditional `UPDATE`, so a redelivered or second root event never deploys twice;
//! - `ir.approval_consumed` (CF-C2, chain B hop B3): records `(tenant, approval_id, ir_hash, consumed_at)`
//!   in the approvals projection the HITL gate reads.
//!
//! Everything runs in the inbox transaction, so the effect, its event and the dedup row commit together;
//! the event's `causation_id` is the consumed event's id and its correlation id carries on.

use std::sync::Arc;

use async_trait::async_trait;
use brain_events::course::CourseDeployedStaging;
use brain_events::distribution::DistributionCreated;
use brain_events::ir::IrApprovalConsumed;
use brain_events::{Catalog, EventPayload};
use eventstream::store::sqlx::{self, Row};
use eventstream::{EventStream, Handler, HandlerContext, HandlerError};
use eventstream_core::{Event, TenantId};

use super::service::{iso, staging_url};
use crate::web::{Origin, now_ms};

/// The course_factory subscriber's handler.
pub(crate) struct CourseFactoryConsumer {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) events: EventStream,
}

fn permanent(e: impl std::error::Error + Send + Sync + 'static) -> HandlerError {
    HandlerError::Permanent(Box::new(e))
}

#[async_trait]
impl Handler for CourseFactoryConsumer {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        let tenant = event.tenant_id.clone().unwrap_or_else(TenantId::default_tenant);
        let t = event.event_type.as_str();
        if t == DistributionCreated::TYPE {
            let p: DistributionCreated = self.catalog.decode(event).map_err(permanent)?;
            self.deploy(ctx, event, &tenant, &p).await
        } else if t == IrApprovalConsumed::TYPE {
            let p: IrApprovalConsumed = self.catalog.decode(event).map_err(permanent)?;
            sqlx::query(
                "INSERT INTO course_factory_approvals (tenant, approval_id, ir_hash, consumed_at, consumed_by, event_id, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, approval_id) DO NOTHING",
            )
            .bind(tenant.as_str().to_owned())
            .bind(p.approval_id)
            .bind(p.ir_hash)
            .bind(p.consumed_at)
            .bind(p.consumed_by)
            .bind(event.id.as_str().to_owned())
            .bind(now_ms())
            .execute(ctx.tx.conn())
            .await?;
            Ok(())
        } else {
            Ok(())
        }
    }
}

impl CourseFactoryConsumer {
    async fn deploy(
        &self,
        ctx: &mut HandlerContext<'_>,
        event: &Event,
        tenant: &TenantId,
        p: &DistributionCreated,
    ) -> Result<(), HandlerError> {
        if p.derived_from.is_some() {
            return Ok(());
        }
        let row = sqlx::query(
            "SELECT staging_domain FROM course_factory_courses WHERE tenant = $1 AND course_id = $2 AND generation_status = 'completed' \
             AND deploy_to_staging = 1 AND dry_run = 0 AND deployed = 0",
        )
        .bind(tenant.as_str().to_owned())
        .bind(p.course_id.clone())
        .fetch_optional(ctx.tx.conn())
        .await?;
        let Some(row) = row else { return Ok(()) };
        let domain: Option<String> = row.try_get(0)?;
        // A request with deploy_to_staging always has a domain (422 otherwise); "unknown" as the catalog says.
        let domain = domain.unwrap_or_else(|| "unknown".to_owned());
        let url = staging_url(&domain, &p.course_id);
        let now = now_ms();
        let changed = sqlx::query(
            "UPDATE course_factory_courses SET deployed = 1, staging_url = $1, deployed_at = $2, updated_at = $2 \
             WHERE tenant = $3 AND course_id = $4 AND deployed = 0",
        )
        .bind(url.clone())
        .bind(now)
        .bind(tenant.as_str().to_owned())
        .bind(p.course_id.clone())
        .execute(ctx.tx.conn())
        .await?;
        if changed.rows_affected() != 1 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO course_factory_deploys (tenant, course_id, distribution_id, staging_domain, staging_url, cause_event_id, deployed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.as_str().to_owned())
        .bind(p.course_id.clone())
        .bind(p.distribution_id.clone())
        .bind(domain.clone())
        .bind(url.clone())
        .bind(event.id.as_str().to_owned())
        .bind(now)
        .execute(ctx.tx.conn())
        .await?;
        let origin = Origin::background(tenant.clone(), event.correlation_id.clone());
        let mut deployed = origin.stamp(
            CourseDeployedStaging { course_id: p.course_id.clone(), staging_url: url, staging_domain: domain, deployed_at: iso(now) }
                .to_event(),
        );
        deployed.causation_id = Some(event.id.as_str().to_owned());
        self.events.outbox_in_tx(ctx.tx, &[deployed]).await?;
        self.events.wake_relay();
        Ok(())
    }
}
