//! The supervisor routes: `GET /api/supervisor/{health,status,agents}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use brain_http::ApiError;
use serde_json::json;

use super::service::SupervisorService;
use crate::web::{RequestContext, store_error};

/// The supervisor router.
pub(crate) fn router(service: Arc<SupervisorService>) -> Router {
    Router::new()
        .route("/api/supervisor/health", get(health))
        .route("/api/supervisor/status", get(status))
        .route("/api/supervisor/agents", get(agents))
        .with_state(service)
}

async fn health(State(s): State<Arc<SupervisorService>>, ctx: RequestContext) -> Response {
    let at = s.health(&ctx.origin()).await;
    let ts = eventstream_core::epoch_seconds(at).map(|t| eventstream_core::format_timestamp(&t)).unwrap_or_default();
    axum::Json(json!({"status": "ok", "timestamp": ts})).into_response()
}

async fn status(State(s): State<Arc<SupervisorService>>, ctx: RequestContext) -> Result<Response, ApiError> {
    let st = s.status(&ctx.origin()).await.map_err(|e| store_error(&e))?;
    Ok(axum::Json(st).into_response())
}

async fn agents(State(s): State<Arc<SupervisorService>>, ctx: RequestContext) -> Result<Response, ApiError> {
    let agents = s.agents(&ctx.origin()).await.map_err(|e| store_error(&e))?;
    Ok(axum::Json(agents).into_response())
}
