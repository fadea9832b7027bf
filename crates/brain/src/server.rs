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

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// The event log.
    pub(crate) log: Arc<dyn EventLog>,
}

/// The router with every route.
pub(crate) fn router(state: AppState) -> Router {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).with_state(state)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
///
/// # Errors
/// The listener fails.
pub(crate) async fn run(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Liveness: the process answers.
async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the event log answers.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.log.health().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready", "backend": state.log.backend(), "stream": state.log.stream()}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "backend": state.log.backend(), "reason": e.to_string()})))
        }
    }
}
