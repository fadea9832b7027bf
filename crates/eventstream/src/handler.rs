//! What a subscriber's code implements: a [`Handler`] that returns a classified [`HandlerError`].
//!
//! The runtime owns retries, dead-lettering and acks; a handler only says what happened. A handler that
//! writes to the state store uses the transaction in [`HandlerContext`]: its writes and the inbox row that
//! marks the event processed commit together, so the effect exists exactly once.

use std::fmt;

use async_trait::async_trait;
use eventstream_core::{BoxError, Event, GroupName, Position};
use eventstream_sql::Tx;
use futures::FutureExt;
use serde::de::DeserializeOwned;

/// Why a handler failed, classified by what should happen next. The boxed error is its `source()`, so
/// [`eventstream_core::error::chain`] prints the whole story (a dead letter's `error` column does).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Retrying may succeed (a dependency is down, a timeout): retried with backoff, then dead-lettered.
    #[error("transient failure")]
    Transient(#[source] BoxError),
    /// Retrying cannot succeed (a bad payload, a violated invariant): dead-lettered at once.
    #[error("permanent failure")]
    Permanent(#[source] BoxError),
}

impl HandlerError {
    /// A transient error from anything printable.
    pub fn transient(e: impl Into<BoxError>) -> Self {
        HandlerError::Transient(e.into())
    }

    /// A permanent error from anything printable.
    pub fn permanent(e: impl Into<BoxError>) -> Self {
        HandlerError::Permanent(e.into())
    }

    /// Whether the runtime will retry.
    pub fn is_transient(&self) -> bool {
        matches!(self, HandlerError::Transient(_))
    }
}

/// A state-store error inside a handler is transient unless the store says otherwise.
impl From<eventstream_sql::StoreError> for HandlerError {
    fn from(e: eventstream_sql::StoreError) -> Self {
        if e.is_transient() { HandlerError::Transient(Box::new(e)) } else { HandlerError::Permanent(Box::new(e)) }
    }
}

/// A database error from handler SQL: connection problems are transient, the rest permanent.
impl From<sqlx_error::Error> for HandlerError {
    fn from(e: sqlx_error::Error) -> Self {
        let transient = matches!(
            e,
            sqlx_error::Error::Io(_) | sqlx_error::Error::PoolTimedOut | sqlx_error::Error::PoolClosed | sqlx_error::Error::WorkerCrashed
        );
        if transient { HandlerError::Transient(Box::new(e)) } else { HandlerError::Permanent(Box::new(e)) }
    }
}

mod sqlx_error {
    pub(crate) use eventstream_sql::sqlx::Error;
}

/// What a handler gets besides the event.
pub struct HandlerContext<'a> {
    /// The transaction in which the inbox row is written; use it for the handler's own SQL.
    pub tx: &'a mut Tx,
    /// The subscriber running the handler.
    pub subscriber: &'a GroupName,
    /// The event's position in the log.
    pub position: &'a Position,
    /// 1 for the first try, then 2, 3, ... across restarts.
    pub attempt: u32,
}

impl fmt::Debug for HandlerContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerContext")
            .field("subscriber", self.subscriber)
            .field("position", self.position)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// What a handler gets for a batch of first deliveries (see [`Handler::handle_batch`]).
pub struct BatchContext<'a> {
    /// The transaction in which the batch's inbox rows were written; use it for the handler's own SQL.
    pub tx: &'a mut Tx,
    /// The subscriber running the handler.
    pub subscriber: &'a GroupName,
}

impl fmt::Debug for BatchContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchContext").field("subscriber", self.subscriber).finish_non_exhaustive()
    }
}

/// One event of a batch and its position in the log.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// The event's position.
    pub position: &'a Position,
    /// The event.
    pub event: &'a Event,
}

/// Why a batch failed: the failing item, when the handler knows it, and its error.
#[derive(Debug)]
pub struct BatchError {
    /// The index (into the items passed to [`Handler::handle_batch`]) of the event that failed; `None`
    /// when the handler cannot tell (the runtime then handles the batch's events one by one).
    pub index: Option<usize>,
    /// What happened.
    pub error: HandlerError,
}

/// A subscriber's code.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one event. Called at least once per event; the effect of the calls that return `Ok` and
    /// commit is recorded exactly once.
    ///
    /// # Errors
    /// [`HandlerError::Transient`] to be retried, [`HandlerError::Permanent`] to be dead-lettered.
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError>;

    /// Handles a batch of first deliveries in one transaction, whose inbox rows are already written (each
    /// event is new to this subscriber). The default calls [`Handler::handle`] for each, in order.
    /// Override it to write a batch with a few set-based statements instead of one per event; the
    /// batch's effect then commits with its inbox rows, exactly as for single events.
    ///
    /// On an error the transaction rolls back; the runtime then handles the failed event (`index`) on
    /// its own, with retries, and the rest of the batch again, or every event on its own when `index`
    /// is `None`. A panic is treated like an error without an index.
    ///
    /// # Errors
    /// A [`BatchError`] naming the failed item when known.
    async fn handle_batch(&self, ctx: &mut BatchContext<'_>, items: &[BatchItem<'_>]) -> Result<(), BatchError> {
        for (index, item) in items.iter().enumerate() {
            let mut one = HandlerContext { tx: &mut *ctx.tx, subscriber: ctx.subscriber, position: item.position, attempt: 1 };
            // Each event's handler runs in its own span, a child of the event's trace context.
            let run = std::panic::AssertUnwindSafe(self.handle(&mut one, item.event)).catch_unwind();
            let result = crate::trace::handle_in_span(ctx.subscriber, item.event, 1, run).await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(BatchError { index: Some(index), error }),
                Err(panic) => return Err(BatchError { index: Some(index), error: panic_error(panic.as_ref()) }),
            }
        }
        Ok(())
    }
}

/// A panic in a handler is a permanent error carrying the panic message.
pub(crate) fn panic_error(panic: &(dyn std::any::Any + Send)) -> HandlerError {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    HandlerError::permanent(format!("handler panicked: {msg}"))
}

/// A handler from an async closure over the raw event.
pub fn handler_fn<F>(f: F) -> FnHandler<F>
where
    F: for<'a, 'b> Fn(&'a mut HandlerContext<'b>, &'a Event) -> futures::future::BoxFuture<'a, Result<(), HandlerError>>
        + Send
        + Sync
        + 'static,
{
    FnHandler(f)
}

/// See [`handler_fn`].
pub struct FnHandler<F>(F);

#[async_trait]
impl<F> Handler for FnHandler<F>
where
    F: for<'a, 'b> Fn(&'a mut HandlerContext<'b>, &'a Event) -> futures::future::BoxFuture<'a, Result<(), HandlerError>>
        + Send
        + Sync
        + 'static,
{
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        (self.0)(ctx, event).await
    }
}

/// Decodes the payload of `event` into `P`; a payload that does not fit is a permanent error.
///
/// # Errors
/// [`HandlerError::Permanent`] naming the event type and the serde error.
pub fn decode_payload<P: DeserializeOwned>(event: &Event) -> Result<P, HandlerError> {
    serde_json::from_value(serde_json::Value::Object(event.payload.clone()))
        .map_err(|e| HandlerError::permanent(format!("payload of {} does not match the expected schema: {e}", event.event_type)))
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn handler_errors_keep_their_cause_as_source() {
        let store = eventstream_sql::StoreError::sqlx("writing the effect", eventstream_sql::sqlx::Error::PoolTimedOut);
        let err = HandlerError::from(store);
        assert!(err.is_transient());
        let source = err.source().expect("the cause is the source");
        assert!(source.downcast_ref::<eventstream_sql::StoreError>().is_some());
        assert_eq!(
            eventstream_core::error::chain(&err),
            "transient failure: state store unavailable while writing the effect: pool timed out while waiting for an open connection"
        );
        assert_eq!(eventstream_core::error::chain(&HandlerError::permanent("bad payload")), "permanent failure: bad payload");
    }
}
