//! The event API under `/api`: publishing and history of events, the SSE live tail, CloudEvents, the
//! catalog, consumers (+ replay), dead letters, the OpenAPI document; plus `/metrics`.
//!
//! Every `/api` route needs an API key (`Authorization: Bearer KEY`): the [`auth`] middleware turns it
//! into a [`brain_http::Principal`] in the request extensions (401 without a valid key); handlers check
//! the role (403) and scope every read to the key's tenant in the SQL query (only admins cross tenants).
//! Every error is a [`brain_http::ApiError`] with a stable code; [`errors`] maps backend failures.
//!
//! Limits: request bodies up to [`BODY_LIMIT`] (413 `payload_too_large`); every published event, from
//! HTTP, CloudEvents or `brain publish`, then passes [`ingest::ingest`]: payload and meta sizes, envelope
//! field rules, catalog validation.
//!
//! # Layout
//! `auth.rs` the key middleware, `ingest.rs` the checks every published event passes, `events/`
//! (`publish.rs`, `history.rs`), `stream.rs` SSE, `cloudevents.rs`, `catalog.rs`, `consumers.rs`, `dlq.rs`,
//! `metrics.rs`, `openapi.rs`, `audit.rs` the audit routes, `trace.rs` the request's trace span, `errors.rs` error mapping, `guard.rs` the Host
//! check, request timeout, stream caps and failed-key limits, `test_hooks.rs`
//! test-only subscribers (compiled only with the `test-hooks` feature, which the `brain` crate's own tests
//! turn on). The event index behind history and the SSE tail is a system consumer in
//! `eventstream_system::index`. `live_keys.rs`: the key re-check of open SSE streams and WebSockets.

mod audit;
pub(crate) mod auth;
mod catalog;
mod cloudevents;
mod consumers;
mod dlq;
mod errors;
mod events;
pub(crate) mod guard;
mod headers;
pub mod ingest;
pub(crate) mod live_keys;
pub(crate) mod metrics;
mod openapi;
mod stream;
#[cfg(feature = "test-hooks")]
pub(crate) mod test_hooks;
mod trace;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use brain_http::ApiError;

use crate::server::AppState;

/// The largest request body accepted (1 MiB).
pub(crate) const BODY_LIMIT: usize = 1 << 20;

/// The `/api` routes and `/metrics` (a `metrics` or `admin` key), all behind the key middleware.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/events", post(events::publish).get(events::list))
        .route("/api/events/stream", get(stream::stream).layer(middleware::from_fn_with_state(state.clone(), guard::limit_streams)))
        .route("/api/events/{id}", get(events::get_one))
        .route("/api/cloudevents", post(cloudevents::publish))
        .route("/api/catalog", get(catalog::list))
        .route("/api/consumers", get(consumers::list))
        .route("/api/consumers/{name}/replay", post(consumers::replay))
        .route("/api/dlq", get(dlq::list))
        .route("/api/dlq/retry", post(dlq::retry_many))
        .route("/api/dlq/discard", post(dlq::discard_many))
        .route("/api/dlq/{id}", get(dlq::get_one))
        .route("/api/dlq/{id}/retry", post(dlq::retry))
        .route("/api/dlq/{id}/discard", post(dlq::discard))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/audit", get(audit::list))
        .route("/api/audit/checkpoint", get(audit::checkpoint))
        .route("/api/audit/key", get(audit::key))
        .route("/api/audit/proof/inclusion", get(audit::inclusion))
        .route("/api/audit/proof/consistency", get(audit::consistency))
        .route("/api/audit/verify", post(audit::verify))
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(state, auth::require_key))
}

/// Adds what every route shares: the body limit, JSON answers for unknown paths and methods, the
/// response headers of [`headers`] (`no-store`, `nosniff`), and the request's trace span ([`trace`]).
pub(crate) fn finish(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(headers::security_headers))
        .layer(middleware::from_fn(trace::trace_request))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /api/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method; see /api/openapi.json")
}

/// What the API adds to the application at startup.
pub(crate) struct ApiParts {
    /// The key table.
    pub(crate) keys: crate::keys::KeyStore,
    /// The event index.
    pub(crate) index: std::sync::Arc<eventstream_system::index::EventIndex>,
    /// API counters.
    pub(crate) metrics: std::sync::Arc<metrics::ApiMetrics>,
    /// The admin key created on this (first) start, to print once.
    pub(crate) new_admin_key: Option<String>,
    /// System subscribers: the event index, plus test-hook subscribers when asked for.
    pub(crate) subscriptions: Vec<eventstream::Subscription>,
}

impl ApiParts {
    /// Creates the API's tables, the first admin key (on a store without keys) and its subscribers.
    ///
    /// # Errors
    /// The state store fails, the key file cannot be written, or a test hook is misconfigured.
    pub(crate) async fn open(store: &eventstream_sql::StateStore, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let keys = crate::keys::KeyStore::open(store.clone()).await.context("cannot prepare the api_keys table")?;
        let new_admin_key = keys.bootstrap_admin(data_dir).await.context("cannot create the first admin key")?;
        let index = eventstream_system::index::EventIndex::open(store.clone()).await.context("cannot prepare the events index table")?;
        #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
        let mut subscriptions = vec![index.subscription().context("event index subscriber")?];
        #[cfg(feature = "test-hooks")]
        subscriptions.extend(test_hooks::failing_subscribers()?);
        Ok(Self { keys, index, metrics: std::sync::Arc::default(), new_admin_key, subscriptions })
    }
}
