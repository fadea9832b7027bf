//! The missions routes under `/api/missions`: the legacy queue's (`/enqueue`, `/queue`, `/worker/status`,
//! `/info`, `/health`) and the newer module's (`POST /`, `GET /`, `/{id}`, `/{id}/status`, `/{id}/log`,
//! `/stats/overview`, `/{id}/execute`), plus `/{id}/cancel`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_events::mission::MissionStatus;
use brain_http::{ApiError, Json, Path, Query};
use serde_json::json;

use super::error::MissionError;
use super::model::{CreateRequest, EnqueueRequest, ListQuery, LogEntry, NewMission, QueueQuery, StatusQuery};
use super::service::MissionService;
use crate::page::{Page, PageQuery};
use crate::web::{RequestContext, check_id, check_text};

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) service: Arc<MissionService>,
    pub(crate) executor_name: &'static str,
    pub(crate) poll_interval: Duration,
}

/// The missions router (full paths, no state left).
pub(crate) fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/missions", get(list).post(create))
        .route("/api/missions/info", get(info))
        .route("/api/missions/health", get(health))
        .route("/api/missions/enqueue", post(enqueue))
        .route("/api/missions/queue", get(queue))
        .route("/api/missions/worker/status", get(worker_status))
        .route("/api/missions/stats/overview", get(stats))
        .route("/api/missions/{mission_id}", get(get_one))
        .route("/api/missions/{mission_id}/status", post(set_status))
        .route("/api/missions/{mission_id}/cancel", post(cancel))
        .route("/api/missions/{mission_id}/execute", post(execute))
        .route("/api/missions/{mission_id}/log", get(get_log).post(append_log))
        .with_state(state)
}

async fn info() -> Response {
    axum::Json(json!({
        "name": "BRAIN Mission System",
        "version": "0.2.0",
        "description": "Mission queue with priorities, worker pool and EventStream integration",
    }))
    .into_response()
}

async fn health(State(st): State<ApiState>, ctx: RequestContext) -> Result<Response, ApiError> {
    let (_, length) = st.service.queue_preview(ctx.origin().tenant(), 1).await?;
    let w = st.service.worker_state();
    Ok(axum::Json(json!({
        "status": "ok",
        "details": {
            "queue_healthy": true,
            "queue_length": length,
            "worker_running": w.running.load(Ordering::SeqCst),
            "worker_poll_interval": st.poll_interval.as_secs_f64(),
        }
    }))
    .into_response())
}

fn validate_common(
    max_retries: Option<u32>,
    agent_id: Option<&str>,
    credit_cost: Option<f64>,
    created_by: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(n) = max_retries.filter(|n| *n > 100) {
        return Err(ApiError::invalid("max_retries", format!("max_retries must be at most 100, got {n}")));
    }
    if let Some(a) = agent_id {
        check_id("agent_id", a)?;
    }
    if let Some(c) = credit_cost {
        if !c.is_finite() || c <= 0.0 || c > 1e12 {
            return Err(ApiError::invalid("credit_cost", "credit_cost must be a positive number up to 1e12"));
        }
        if agent_id.is_none() {
            return Err(ApiError::invalid("agent_id", "a mission with a credit_cost needs the agent_id that pays it"));
        }
    }
    if let Some(c) = created_by {
        check_text("created_by", c, 128, true)?;
    }
    Ok(())
}

async fn enqueue(State(st): State<ApiState>, ctx: RequestContext, Json(req): Json<EnqueueRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_text("type", &req.mission_type, 128, true)?;
    validate_common(req.max_retries, req.agent_id.as_deref(), req.credit_cost, req.created_by.as_deref())?;
    let new = NewMission {
        id: None,
        name: req.mission_type.clone(),
        mission_type: req.mission_type,
        description: None,
        data: req.payload,
        priority: req.priority,
        max_retries: req.max_retries,
        created_by: req.created_by.unwrap_or_else(|| "api".into()),
        agent_id: req.agent_id,
        credit_cost: req.credit_cost,
    };
    let m = st.service.create(&ctx.origin(), new).await?;
    Ok(axum::Json(json!({"mission_id": m.id, "status": "queued"})).into_response())
}

async fn create(State(st): State<ApiState>, ctx: RequestContext, Json(req): Json<CreateRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    if let Some(id) = &req.id {
        check_id("id", id)?;
    }
    check_text("name", &req.name, 200, true)?;
    if let Some(d) = &req.description {
        check_text("description", d, 4000, false)?;
    }
    if let Some(t) = &req.mission_type {
        check_text("type", t, 128, true)?;
    }
    validate_common(req.max_retries, req.agent_id.as_deref(), req.credit_cost, req.created_by.as_deref())?;
    let new = NewMission {
        id: req.id,
        name: req.name,
        mission_type: req.mission_type.unwrap_or_else(|| "generic".into()),
        description: req.description,
        data: req.data,
        priority: req.priority,
        max_retries: req.max_retries,
        created_by: req.created_by.unwrap_or_else(|| "api".into()),
        agent_id: req.agent_id,
        credit_cost: req.credit_cost,
    };
    let m = st.service.create(&ctx.origin(), new).await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

async fn list(State(st): State<ApiState>, ctx: RequestContext, Query(q): Query<ListQuery>) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<MissionStatus>().map_err(|_| ApiError::invalid_query("status", format!("unknown status {s:?}")))?),
    };
    let priority = match q.priority {
        None => None,
        Some(p) => Some(
            super::model::Priority::from_value(p)
                .ok_or_else(|| ApiError::invalid_query("priority", "priority must be 10, 20, 30 or 40"))?,
        ),
    };
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let (missions, next) = st.service.list(ctx.origin().tenant(), status, q.mission_type.as_deref(), priority, page).await?;
    Ok(axum::Json(json!({"missions": missions, "next_cursor": next})).into_response())
}

async fn queue(State(st): State<ApiState>, ctx: RequestContext, Query(q): Query<QueueQuery>) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_query("limit", "limit must be 1 to 100"));
    }
    let (items, length) = st.service.queue_preview(ctx.origin().tenant(), limit).await?;
    Ok(axum::Json(json!({"items": items, "length": length})).into_response())
}

async fn worker_status(State(st): State<ApiState>, _ctx: RequestContext) -> Response {
    let w = st.service.worker_state();
    axum::Json(json!({
        "running": w.running.load(Ordering::SeqCst),
        "workers": w.workers.load(Ordering::SeqCst),
        "busy": w.busy.load(Ordering::SeqCst),
        "attempts": w.attempts.load(Ordering::SeqCst),
        "poll_interval": st.poll_interval.as_secs_f64(),
        "executor": st.executor_name,
        "redis_url": null,
    }))
    .into_response()
}

async fn stats(State(st): State<ApiState>, ctx: RequestContext) -> Result<Response, ApiError> {
    let stats = st.service.stats(ctx.origin().tenant()).await?;
    Ok(axum::Json(json!({"stats": stats})).into_response())
}

/// A path id that fails the id rules cannot name a mission: 404, like any unknown id.
fn known_shape(id: &str) -> Result<(), ApiError> {
    check_id("mission_id", id).map_err(|_| MissionError::NotFound(id.to_owned()).into())
}

async fn get_one(State(st): State<ApiState>, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    known_shape(&id)?;
    let m = st.service.get(ctx.origin().tenant(), &id).await?;
    Ok(axum::Json(m).into_response())
}

async fn set_status(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    known_shape(&id)?;
    let to = q
        .mission_status
        .parse::<MissionStatus>()
        .map_err(|_| ApiError::invalid_query("mission_status", format!("unknown status {:?}", q.mission_status)))?;
    let m = st.service.set_status(&ctx.origin(), &id, to).await?;
    Ok(axum::Json(m).into_response())
}

async fn cancel(State(st): State<ApiState>, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    known_shape(&id)?;
    let m = st.service.set_status(&ctx.origin(), &id, MissionStatus::Cancelled).await?;
    Ok(axum::Json(m).into_response())
}

/// The newer module's "run it now": every pending mission is already queued for the worker pool, so
/// this accepts a queued mission and refuses the others (409).
async fn execute(State(st): State<ApiState>, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    known_shape(&id)?;
    let m = st.service.get(ctx.origin().tenant(), &id).await?;
    if m.status != MissionStatus::Pending || !m.queued {
        return Err(MissionError::IllegalTransition { id, from: m.status, to: MissionStatus::Running }.into());
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"status": "accepted"}))).into_response())
}

async fn append_log(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(entry): Json<LogEntry>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    known_shape(&id)?;
    check_text("message", &entry.message, 10_000, true)?;
    check_text("level", &entry.level, 32, true)?;
    if let Some(t) = entry.timestamp.filter(|t| !t.is_finite() || *t < 0.0) {
        return Err(ApiError::invalid("timestamp", format!("timestamp must be epoch seconds, got {t}")));
    }
    st.service.append_log(&ctx.origin(), &id, entry).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"status": "accepted"}))).into_response())
}

async fn get_log(
    State(st): State<ApiState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    known_shape(&id)?;
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let (log, next) = st.service.log(ctx.origin().tenant(), &id, page).await?;
    Ok(axum::Json(json!({"mission_id": id, "log": log, "next_cursor": next})).into_response())
}
