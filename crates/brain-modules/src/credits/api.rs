//! The credits routes: `GET /api/credits/{health,info,accounts}` and per agent
//! `POST /api/credits/agents/{agent_id}/{allocate,consume,refund}`, `GET .../balance`, `GET .../history`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::{ApiError, Json, Path, Query};
use serde_json::json;

use super::model::{AmountRequest, HistoryQuery, MAX_AMOUNT, MILLI, Operation};
use super::service::{Change, CreditsService};
use crate::page::{Page, PageQuery};
use crate::web::{RequestContext, check_id, check_text};

/// The credits router.
pub(crate) fn router(service: Arc<CreditsService>) -> Router {
    Router::new()
        .route("/api/credits/health", get(health))
        .route("/api/credits/info", get(info))
        .route("/api/credits/accounts", get(accounts))
        .route("/api/credits/agents/{agent_id}/allocate", post(allocate))
        .route("/api/credits/agents/{agent_id}/consume", post(consume))
        .route("/api/credits/agents/{agent_id}/refund", post(refund))
        .route("/api/credits/agents/{agent_id}/balance", get(balance))
        .route("/api/credits/agents/{agent_id}/history", get(history))
        .with_state(service)
}

type St = State<Arc<CreditsService>>;

async fn health(State(s): St, ctx: RequestContext) -> Response {
    let at = s.health(&ctx.origin()).await;
    let ts = eventstream_core::epoch_seconds(at).map(|t| eventstream_core::format_timestamp(&t)).unwrap_or_default();
    axum::Json(json!({"status": "ok", "timestamp": ts})).into_response()
}

async fn info() -> Response {
    axum::Json(json!({"name": "brain.credits", "version": "2.0.0", "config": {"unit": "credit", "precision": 0.001}})).into_response()
}

async fn accounts(State(s): St, ctx: RequestContext, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let (accounts, next) = s.accounts(ctx.origin().tenant(), page).await?;
    Ok(axum::Json(json!({"accounts": accounts, "next_cursor": next})).into_response())
}

/// Checks an amount and converts it to milli-credits.
fn milli(amount: f64) -> Result<i64, ApiError> {
    let bad = || ApiError::invalid("amount", "amount must be a positive number of credits (at least 0.001, at most 1e12)");
    if !amount.is_finite() || amount <= 0.0 || amount > MAX_AMOUNT {
        return Err(bad());
    }
    let m = (amount * MILLI).round();
    if m < 1.0 {
        return Err(bad());
    }
    Ok(m as i64)
}

async fn apply(s: &CreditsService, ctx: &RequestContext, agent_id: &str, op: Operation, req: AmountRequest) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("agent_id", agent_id)?;
    let milli = milli(req.amount)?;
    if let Some(r) = &req.reason {
        check_text("reason", r, 500, true)?;
    }
    if let Some(m) = &req.mission_id {
        check_id("mission_id", m)?;
    }
    let reason = req.reason.unwrap_or_else(|| format!("manual_{}", op.kind()));
    let change = Change { agent_id, op, milli, reason: &reason, mission_id: req.mission_id.as_deref() };
    let account = s.change(&ctx.origin(), &change).await?;
    Ok((StatusCode::OK, axum::Json(account)).into_response())
}

async fn allocate(
    State(s): St,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Json(req): Json<AmountRequest>,
) -> Result<Response, ApiError> {
    apply(&s, &ctx, &agent, Operation::Allocate, req).await
}

async fn consume(
    State(s): St,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Json(req): Json<AmountRequest>,
) -> Result<Response, ApiError> {
    apply(&s, &ctx, &agent, Operation::Consume, req).await
}

async fn refund(
    State(s): St,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Json(req): Json<AmountRequest>,
) -> Result<Response, ApiError> {
    apply(&s, &ctx, &agent, Operation::Refund, req).await
}

async fn balance(State(s): St, ctx: RequestContext, Path(agent): Path<String>) -> Result<Response, ApiError> {
    check_id("agent_id", &agent)?;
    let account = s.account(ctx.origin().tenant(), &agent).await?;
    Ok(axum::Json(account).into_response())
}

async fn history(
    State(s): St,
    ctx: RequestContext,
    Path(agent): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    check_id("agent_id", &agent)?;
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let (entries, next) = s.history(ctx.origin().tenant(), &agent, page).await?;
    Ok(axum::Json(json!({"agent_id": agent, "entries": entries, "next_cursor": next})).into_response())
}
