//! The `security_monitoring` subscriber: each watched event is evaluated against its rule in the inbox
//! transaction, so the observation, the alert row and the `system.alert` outbox row commit together with
//! the inbox row, or not at all.
//!
//! The payload is not decoded: the rules count events by type and tenant, and a malformed payload of a
//! security type is still worth counting.

use std::sync::Arc;

use async_trait::async_trait;
use eventstream::{Handler, HandlerContext, HandlerError};
use eventstream_core::Event;

use super::service::SecurityService;
use crate::web::now_ms;

/// The rule-evaluating handler.
pub(crate) struct SecurityMonitor {
    pub(crate) service: Arc<SecurityService>,
}

#[async_trait]
impl Handler for SecurityMonitor {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        if let Some(alert) = self.service.evaluate_in(ctx.tx, event, now_ms()).await? {
            tracing::warn!(alert_id = %alert.id, cause = %event.id, event_type = %event.event_type, "security alert raised");
            self.service.wake_relay();
        }
        Ok(())
    }
}
