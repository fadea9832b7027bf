//! The `analytics` subscriber: every event of every type and tenant is counted into the buckets, in the
//! inbox transaction, so a redelivered event is never counted twice.
//!
//! The payload is not read (analytics counts envelopes), so an event whose payload does not match its
//! schema is counted like any other instead of being dead-lettered.

use std::sync::Arc;

use async_trait::async_trait;
use eventstream::{Handler, HandlerContext, HandlerError};
use eventstream_core::Event;

use super::service::AnalyticsService;
use crate::web::now_ms;

/// The counting handler.
pub(crate) struct EventCounter {
    pub(crate) service: Arc<AnalyticsService>,
}

#[async_trait]
impl Handler for EventCounter {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        self.service.record_in(ctx.tx, event, now_ms()).await?;
        Ok(())
    }
}
