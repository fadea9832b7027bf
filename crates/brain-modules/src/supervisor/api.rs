//! The supervisor routes: `GET /api/supervisor/{health,status,agents}`. `agents` answers a page
//! (`limit` 1 to 1000, default 1000; `cursor`) as a bare array, with the next page's cursor in the
//! `X-Next-Cursor` header when more follow.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use brain_http::{ApiError, Query};
use serde_json::json;

use super::service::SupervisorService;
use crate::page::{Page, PageQuery};
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

/// The header naming the next page's cursor: the answer is a bare array (the original's shape), so the
/// cursor cannot be a field of it.
const NEXT_CURSOR: &str = "x-next-cursor";

async fn agents(State(s): State<Arc<SupervisorService>>, ctx: RequestContext, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let page = Page::parse(q.limit, q.cursor.as_deref(), 1000, 1000)?;
    let (agents, next) = s.agents(&ctx.origin(), page).await.map_err(|e| store_error(&e))?;
    let mut resp = axum::Json(agents).into_response();
    if let Some(v) = next.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(NEXT_CURSOR, v);
    }
    Ok(resp)
}
