//! The threats routes: `GET /api/threats/health`, `GET`/`POST /api/threats`, `GET /api/threats/{threat_id}`,
//! `POST /api/threats/{threat_id}/status?status=`, `GET /api/threats/stats/overview`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_events::threat::{ThreatSeverity, ThreatStatus};
use brain_http::{ApiError, Json, Path, Query};
use serde_json::json;

use super::model::{ListQuery, StatusQuery, ThreatCreate};
use super::service::ThreatService;
use crate::page::Page;
use crate::web::{RequestContext, check_id};

/// The threats router.
pub(crate) fn router(service: Arc<ThreatService>) -> Router {
    Router::new()
        .route("/api/threats/health", get(health))
        .route("/api/threats", get(list).post(create))
        .route("/api/threats/stats/overview", get(stats))
        .route("/api/threats/{threat_id}", get(one))
        .route("/api/threats/{threat_id}/status", post(set_status))
        .with_state(service)
}

type St = State<Arc<ThreatService>>;

const STATUSES: &str = "OPEN, INVESTIGATING, MITIGATED, IGNORED or ESCALATED";
const SEVERITIES: &str = "LOW, MEDIUM, HIGH or CRITICAL";

async fn health(_ctx: RequestContext) -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn list(State(s): St, ctx: RequestContext, Query(q): Query<ListQuery>) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(v) => Some(v.parse::<ThreatStatus>().map_err(|_| ApiError::invalid_query("status", format!("status must be {STATUSES}")))?),
    };
    let severity = match q.severity.as_deref() {
        None => None,
        Some(v) => {
            Some(v.parse::<ThreatSeverity>().map_err(|_| ApiError::invalid_query("severity", format!("severity must be {SEVERITIES}")))?)
        }
    };
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let (threats, next) = s.list(ctx.origin().tenant(), status, severity, page).await?;
    Ok(axum::Json(json!({"threats": threats, "next_cursor": next})).into_response())
}

async fn create(State(s): St, ctx: RequestContext, Json(req): Json<ThreatCreate>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    req.check()?;
    let threat = s.create(&ctx.origin(), req).await?;
    Ok((StatusCode::CREATED, axum::Json(threat)).into_response())
}

async fn one(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    check_id("threat_id", &id)?;
    Ok(axum::Json(s.get(ctx.origin().tenant(), &id).await?).into_response())
}

async fn set_status(State(s): St, ctx: RequestContext, Path(id): Path<String>, Query(q): Query<StatusQuery>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("threat_id", &id)?;
    let to = q.status.parse::<ThreatStatus>().map_err(|_| ApiError::invalid_query("status", format!("status must be {STATUSES}")))?;
    Ok(axum::Json(s.set_status(&ctx.origin(), &id, to).await?).into_response())
}

async fn stats(State(s): St, ctx: RequestContext) -> Result<Response, ApiError> {
    Ok(axum::Json(json!({"stats": s.stats(ctx.origin().tenant()).await?})).into_response())
}
