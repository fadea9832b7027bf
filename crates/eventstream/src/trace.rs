//! Tracing across the stream: the W3C trace context of the code that publishes an event travels in the
//! event's `meta.traceparent` / `meta.tracestate` ([`eventstream_core::trace`]), and the consumer runtime
//! runs each handler inside a `tracing` span whose OpenTelemetry parent is that context. So a handler's
//! span is a child of the publishing request's span, across any backend, and the events a handler emits
//! carry the handler span's context in turn.
//!
//! Where the context comes from, first match wins:
//!
//! 1. the OpenTelemetry context of the current `tracing` span, when the process installed the
//!    `tracing-opentelemetry` layer (the `brain` binary always does; it exports spans only when
//!    `[telemetry] otlp_endpoint` is set);
//! 2. otherwise the context this task runs under ([`scope`]): the one the HTTP request brought (or a new
//!    trace started there), or the event a handler is handling. Without the layer no spans are recorded,
//!    so the context passes through unchanged and the caller's span stays the parent.
//!
//! [`stamp`] writes the current context into an event that has none; the publisher calls it on every
//! `publish`, `emit` and transactional-outbox write, so module code needs nothing of its own. An event that
//! already carries a context (a CloudEvent with a `traceparent`, a re-published dead letter) keeps it.

use std::future::Future;

use eventstream_core::trace::{TraceContext, TraceParent};
use eventstream_core::{Event, GroupName};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

tokio::task_local! {
    /// The context of this task when no OpenTelemetry layer gives one (see the module doc).
    static TASK_CONTEXT: TraceContext;
}

/// The `tracing` target of the spans this crate and the server make for traces, so a subscriber can
/// select them (and only them) for OpenTelemetry.
pub const TARGET: &str = "eventstream::trace";

/// The OpenTelemetry context of a trace context received from elsewhere (a header, an event's meta).
pub fn to_otel(tc: &TraceContext) -> opentelemetry::Context {
    let state = tc.state.as_deref().and_then(|s| s.parse::<TraceState>().ok()).unwrap_or_default();
    let sc = SpanContext::new(
        TraceId::from_bytes(tc.parent.trace_id),
        SpanId::from_bytes(tc.parent.span_id),
        TraceFlags::new(tc.parent.flags),
        true,
        state,
    );
    opentelemetry::Context::new().with_remote_span_context(sc)
}

/// The trace context of an OpenTelemetry context's span, when it has a valid one.
pub fn from_otel(cx: &opentelemetry::Context) -> Option<TraceContext> {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return None;
    }
    let parent = TraceParent { trace_id: sc.trace_id().to_bytes(), span_id: sc.span_id().to_bytes(), flags: sc.trace_flags().to_u8() };
    let state = Some(sc.trace_state().header()).filter(|s| !s.is_empty());
    Some(TraceContext { parent, state })
}

/// The trace context of the code running now (see the module doc), or `None` outside any trace.
pub fn current() -> Option<TraceContext> {
    from_otel(&tracing::Span::current().context()).or_else(|| TASK_CONTEXT.try_with(Clone::clone).ok())
}

/// Writes the current trace context into `event.meta` unless the event already carries one.
pub fn stamp(event: &mut Event) {
    if TraceContext::from_meta(&event.meta).is_some() {
        return;
    }
    if let Some(tc) = current() {
        tc.write_to(&mut event.meta);
    }
}

/// `events` with the current trace context written into those that carry none (borrowed when nothing
/// changes).
pub fn stamp_all(events: &[Event]) -> std::borrow::Cow<'_, [Event]> {
    let missing = |e: &Event| TraceContext::from_meta(&e.meta).is_none();
    if !events.iter().any(missing) {
        return std::borrow::Cow::Borrowed(events);
    }
    let Some(tc) = current() else { return std::borrow::Cow::Borrowed(events) };
    let mut owned = events.to_vec();
    for e in owned.iter_mut().filter(|e| missing(e)) {
        tc.write_to(&mut e.meta);
    }
    std::borrow::Cow::Owned(owned)
}

/// A new trace: random trace and span ids, sampled.
pub fn new_root() -> TraceContext {
    loop {
        let trace_id: [u8; 16] = rand::random();
        let span_id: [u8; 8] = rand::random();
        if trace_id != [0; 16] && span_id != [0; 8] {
            return TraceContext { parent: TraceParent { trace_id, span_id, flags: 1 }, state: None };
        }
    }
}

/// Runs `fut` inside `span`, continuing `parent`: with the OpenTelemetry layer `span` becomes a child of
/// `parent` (a root span when `None`); without it the task runs under `parent` (or, for `None`, a new
/// trace when `start_trace`), which [`current`] then returns.
pub async fn scope<F: Future>(span: tracing::Span, parent: Option<TraceContext>, start_trace: bool, fut: F) -> F::Output {
    if let Some(p) = &parent {
        // Fails only without the layer (or for a disabled span); the task context below covers that.
        let _ = span.set_parent(to_otel(p));
    }
    let fallback = match parent {
        Some(p) => Some(p),
        None if start_trace => Some(new_root()),
        None => None,
    };
    match fallback {
        Some(tc) => TASK_CONTEXT.scope(tc, fut.instrument(span)).await,
        None => fut.instrument(span).await,
    }
}

/// The span a handler of `subscriber` runs in for `event` (attempt `attempt`); [`handle_in_span`] gives it
/// the event's trace context as parent.
pub fn handler_span(subscriber: &GroupName, event: &Event, attempt: u32) -> tracing::Span {
    tracing::info_span!(
        target: TARGET,
        "eventstream.handle",
        otel.name = %format_args!("handle {}", event.event_type),
        otel.kind = "consumer",
        messaging.consumer.group.name = %subscriber,
        messaging.message.id = %event.id,
        event_type = %event.event_type,
        attempt,
    )
}

/// Runs a handler future for `event` inside [`handler_span`], continuing the event's trace context.
pub async fn handle_in_span<F: Future>(subscriber: &GroupName, event: &Event, attempt: u32, fut: F) -> F::Output {
    let span = handler_span(subscriber, event, attempt);
    scope(span, TraceContext::from_meta(&event.meta), false, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_convert_both_ways() {
        let tc = TraceContext {
            parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap_or_else(|e| panic!("{e}")),
            state: Some("congo=t61rcWkgMzE".into()),
        };
        assert_eq!(from_otel(&to_otel(&tc)), Some(tc));
        assert_eq!(from_otel(&opentelemetry::Context::new()), None);
    }

    #[tokio::test]
    async fn without_the_layer_the_task_context_is_stamped_and_kept() {
        let mut e = Event::new(
            "task.created".parse().unwrap_or_else(|e| panic!("{e}")),
            "s".parse().unwrap_or_else(|e| panic!("{e}")),
            serde_json::Map::new(),
        );
        stamp(&mut e);
        assert!(TraceContext::from_meta(&e.meta).is_none(), "outside any trace nothing is stamped");
        let root = new_root();
        let stamped = scope(tracing::Span::none(), Some(root.clone()), false, async {
            let mut e = e.clone();
            stamp(&mut e);
            e
        })
        .await;
        assert_eq!(TraceContext::from_meta(&stamped.meta), Some(root.clone()));
        let other = new_root();
        let kept = scope(tracing::Span::none(), Some(other), false, async move {
            let mut s = stamped;
            stamp(&mut s);
            s
        })
        .await;
        assert_eq!(TraceContext::from_meta(&kept.meta), Some(root), "an event's own context is kept");
        let started = scope(tracing::Span::none(), None, true, async { current() }).await;
        assert!(started.is_some(), "a request without a traceparent starts a trace");
    }
}
