//! The trace of each request: a `http.request` span (target [`eventstream::trace::TARGET`]) that continues
//! the W3C trace context of the `traceparent` / `tracestate` headers, or starts a new trace when the
//! request has none (or an invalid one, which the specification says to ignore rather than refuse).
//!
//! Events the request publishes (the event API, CloudEvents, every module route through the publisher)
//! carry the span's context in `meta.traceparent`, so the handlers that consume them continue this trace
//! (see [`eventstream::trace`]).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use eventstream_core::trace::{META_TRACEPARENT, META_TRACESTATE, TraceContext};

/// Runs the request inside its span.
pub(crate) async fn trace_request(req: Request, next: Next) -> Response {
    // In a block: a borrow of the request (whose body is not `Sync`) must not live across the await.
    let (parent, span) = {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let parent = TraceContext::from_headers(header(META_TRACEPARENT), header(META_TRACESTATE));
        let route = req.extensions().get::<MatchedPath>().map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
        let name = format!("{} {route}", req.method());
        let span = tracing::info_span!(
            target: eventstream::trace::TARGET,
            "http.request",
            otel.name = %name,
            otel.kind = "server",
            http.request.method = %req.method(),
            http.route = %route,
        );
        (parent, span)
    };
    eventstream::trace::scope(span, parent, true, next.run(req)).await
}
