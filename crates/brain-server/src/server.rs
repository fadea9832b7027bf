//! The HTTP server: `run(listener, state, shutdown)`, so tests bind port 0 and stop it at will.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use eventstream_core::EventLog;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::guard;
use crate::listen::HttpSettings;

/// A subscriber running in this process, with its live counters.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerInfo {
    /// Its name (= consumer group).
    pub(crate) name: eventstream_core::GroupName,
    /// The types it wants.
    pub(crate) patterns: Vec<eventstream_core::TypePattern>,
    /// Processed, failed, dead-lettered, in flight.
    pub(crate) stats: Arc<eventstream::SubscriberStats>,
}

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// The event log.
    pub(crate) log: Arc<dyn EventLog>,
    /// The state store: inbox, dead letters, outbox, module data.
    pub(crate) store: eventstream_sql::StateStore,
    /// Publishing (publish, emit, transactional outbox).
    pub(crate) events: eventstream::EventStream,
    /// Every event type with its schema.
    pub(crate) catalog: Arc<brain_events::Catalog>,
    /// How strictly API-published payloads are checked.
    pub(crate) validation: brain_events::ValidationMode,
    /// The subscribers this process runs.
    pub(crate) consumers: Arc<Vec<ConsumerInfo>>,
    /// API keys (authentication of `/api`).
    pub(crate) keys: crate::keys::KeyStore,
    /// The event index behind history queries and the SSE tail.
    pub(crate) index: Arc<eventstream_system::index::EventIndex>,
    /// Counters of the API (publish latency, published per type).
    pub(crate) metrics: Arc<crate::api::metrics::ApiMetrics>,
    /// The verifiable audit log (proofs, checkpoints, browsing).
    pub(crate) audit: eventstream_system::audit::AuditLog,
    /// Held while `POST /api/audit/verify` runs: runs share the trusted-state file.
    pub(crate) verify_lock: Arc<tokio::sync::Mutex<()>>,
    /// The limits of open streams and the key re-check they make (revocation ends them).
    pub(crate) live_keys: Arc<crate::api::live_keys::LiveKeys>,
    /// Host check, request timeout, stream caps, failed-key limits.
    pub(crate) guards: Arc<crate::api::guard::Guards>,
    /// The dashboard's time series (rates, lag, dead letters, outbox), sampled in the background.
    pub(crate) series: Arc<crate::dashboard::series::StatsSeries>,
    /// This replica's name (its consumer name in every group; its row in the replica registry).
    pub(crate) replica: Arc<str>,
}

/// The router with every route.
/// The router: health, the event API and the modules' routes, all `/api` routes behind the API keys.
pub(crate) fn router(state: AppState, modules: Router) -> Router {
    let modules = modules.route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::api::auth::require_key));
    let routes = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .merge(crate::api::routes(state.clone()))
        .merge(crate::dashboard::routes(state.clone()))
        .merge(modules.with_state(()));
    crate::api::finish(routes)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::request_timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check_host))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests (see [`crate::listen::serve`]).
///
/// # Errors
/// The listener fails.
pub(crate) async fn run(
    listener: TcpListener,
    state: AppState,
    modules: Router,
    http: &HttpSettings,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::listen::serve(listener, router(state, modules), http, tls, shutdown).await
}

/// Liveness: the process answers.
async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the event log and the state store answer. `status` is `ready` only when both do; `checks`
/// gives each dependency's state (`ok` / `unavailable`) and kind, never an error text (this route needs
/// no key; the reason of a failure goes to the log).
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let (log, store) = tokio::join!(state.log.health(), state.store.ping());
    let check = |ok: bool, kind: &str| json!({"status": if ok { "ok" } else { "unavailable" }, "kind": kind});
    let checks = json!({
        "log": check(log.is_ok(), state.log.backend()),
        "state_store": check(store.is_ok(), state.store.kind().as_str()),
    });
    if log.is_ok() && store.is_ok() {
        (StatusCode::OK, Json(json!({"status": "ready", "checks": checks})))
    } else {
        tracing::warn!(
            backend = state.log.backend(),
            log = %log.as_ref().map_or_else(|e| eventstream_core::error::Chain(e).to_string(), |()| "ok".into()),
            state_store = %store.as_ref().map_or_else(|e| eventstream_core::error::Chain(e).to_string(), |()| "ok".into()),
            "readiness check failed"
        );
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "checks": checks})))
    }
}
