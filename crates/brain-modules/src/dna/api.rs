//! The dna routes: `POST /api/dna/snapshot`, `POST /api/dna/agents/{agent_id}/mutate`,
//! `POST /api/dna/agents/{agent_id}/karma`, `GET /api/dna/agents/{agent_id}/history?limit=&cursor=`
//! (a page of versions, oldest first, with `next_cursor`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::{ApiError, Json, Path, Query};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::service::{DnaError, DnaService};
use crate::page::Page;
use crate::web::{RequestContext, check_id, check_text, store_error};

/// Keys allowed in one DNA or traits object.
const MAX_KEYS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRequest {
    agent_id: String,
    dna: Map<String, Value>,
    #[serde(default)]
    traits: Map<String, Value>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MutateRequest {
    mutation: Map<String, Value>,
    #[serde(default)]
    traits_delta: Map<String, Value>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KarmaRequest {
    score: f64,
}

impl From<DnaError> for ApiError {
    fn from(e: DnaError) -> Self {
        match &e {
            DnaError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "agent_not_found", e.to_string()).with_field("agent_id"),
            DnaError::Concurrent(_) => ApiError::conflict("concurrent_update", e.to_string()),
            DnaError::TooLarge { field, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "dna_too_large", e.to_string()).with_field(*field)
            }
            DnaError::Store(s) => store_error(s),
        }
    }
}

/// The dna router.
pub(crate) fn router(service: Arc<DnaService>) -> Router {
    Router::new()
        .route("/api/dna/snapshot", post(snapshot))
        .route("/api/dna/agents/{agent_id}/mutate", post(mutate))
        .route("/api/dna/agents/{agent_id}/karma", post(karma))
        .route("/api/dna/agents/{agent_id}/history", get(history))
        .with_state(service)
}

fn check_map(field: &str, m: &Map<String, Value>) -> Result<(), ApiError> {
    if m.len() > MAX_KEYS {
        return Err(ApiError::invalid(field, format!("`{field}` may have at most {MAX_KEYS} keys")));
    }
    Ok(())
}

fn check_reason(reason: Option<&String>) -> Result<(), ApiError> {
    reason.map_or(Ok(()), |r| check_text("reason", r, 500, false))
}

async fn snapshot(State(s): State<Arc<DnaService>>, ctx: RequestContext, Json(req): Json<SnapshotRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("agent_id", &req.agent_id)?;
    check_map("dna", &req.dna)?;
    check_map("traits", &req.traits)?;
    check_reason(req.reason.as_ref())?;
    let snap = s.snapshot(&ctx.origin(), &req.agent_id, req.dna, req.traits, req.reason).await?;
    Ok((StatusCode::CREATED, axum::Json(snap)).into_response())
}

async fn mutate(
    State(s): State<Arc<DnaService>>,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Json(req): Json<MutateRequest>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("agent_id", &agent)?;
    check_map("mutation", &req.mutation)?;
    check_map("traits_delta", &req.traits_delta)?;
    check_reason(req.reason.as_ref())?;
    let snap = s.mutate(&ctx.origin(), &agent, req.mutation, req.traits_delta, req.reason).await?;
    Ok(axum::Json(snap).into_response())
}

async fn karma(
    State(s): State<Arc<DnaService>>,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Json(req): Json<KarmaRequest>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("agent_id", &agent)?;
    if !req.score.is_finite() || !(0.0..=100.0).contains(&req.score) {
        return Err(ApiError::invalid("score", "score must be between 0 and 100"));
    }
    let snap = s.update_karma(&ctx.origin(), &agent, req.score).await?;
    Ok(axum::Json(snap).into_response())
}

/// The query of the history route: a page of versions, oldest first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// Versions per page (1 to 500, default 100).
    #[serde(default)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    cursor: Option<String>,
}

async fn history(
    State(s): State<Arc<DnaService>>,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    check_id("agent_id", &agent)?;
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 500)?;
    let (snaps, next) = s.history(ctx.origin().tenant(), &agent, page).await?;
    Ok(axum::Json(json!({"agent_id": agent, "snapshots": snaps, "next_cursor": next})).into_response())
}
