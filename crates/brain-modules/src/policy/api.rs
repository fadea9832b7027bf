//! The policy routes under `/api/policy`: `health`, `info`, `stats`, `evaluate`, `test-rule`,
//! `policies` (list, create), `policies/{policy_id}` (get, update, delete) and `default-policies`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::{ApiError, Json, Path, Query};
use serde_json::json;

use super::engine::effect_str;
use super::model::{CreateRequest, EvaluationContext, EvaluationResult, UpdateRequest};
use super::service::{DEFAULT_POLICY_IDS, PolicyService};
use crate::page::{Page, PageQuery};
use crate::web::{RequestContext, check_id};

/// The policy router.
pub(crate) fn router(service: Arc<PolicyService>) -> Router {
    Router::new()
        .route("/api/policy/health", get(health))
        .route("/api/policy/info", get(info))
        .route("/api/policy/stats", get(stats))
        .route("/api/policy/evaluate", post(evaluate))
        .route("/api/policy/test-rule", post(test_rule))
        .route("/api/policy/policies", get(list).post(create))
        .route("/api/policy/policies/{policy_id}", get(one).put(update).delete(remove))
        .route("/api/policy/default-policies", get(default_policies))
        .with_state(service)
}

type St = State<Arc<PolicyService>>;

async fn health(_ctx: RequestContext) -> Response {
    let ts = eventstream_core::format_timestamp(&chrono::Utc::now());
    axum::Json(json!({"status": "ok", "timestamp": ts})).into_response()
}

async fn info(_ctx: RequestContext) -> Response {
    axum::Json(json!({"name": "brain.policy", "version": "2.0.0", "config": {}})).into_response()
}

async fn stats(State(s): St, ctx: RequestContext) -> Result<Response, ApiError> {
    Ok(axum::Json(s.stats(ctx.origin().tenant()).await?).into_response())
}

/// The original's 403 on a deny, inside our error body: `{code, message, field}` plus its detail keys
/// `error`, `reason`, `effect`, `matched_rule`, `matched_policy`.
fn denied(r: &EvaluationResult) -> Response {
    let body = json!({
        "code": "policy_denied",
        "message": r.reason,
        "field": "action",
        "error": "Action denied by policy",
        "reason": r.reason,
        "effect": effect_str(r.effect),
        "matched_rule": r.matched_rule,
        "matched_policy": r.matched_policy,
    });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

async fn evaluate(State(s): St, ctx: RequestContext, Json(req): Json<EvaluationContext>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    req.check()?;
    let outcome = s.evaluate(&ctx.origin(), &req, true).await?;
    if !outcome.result.allowed {
        return Ok(denied(&outcome.result));
    }
    Ok(axum::Json(outcome.result).into_response())
}

async fn test_rule(State(s): St, ctx: RequestContext, Json(req): Json<EvaluationContext>) -> Result<Response, ApiError> {
    req.check()?;
    let outcome = s.evaluate(&ctx.origin(), &req, false).await?;
    Ok(axum::Json(outcome.result).into_response())
}

async fn list(State(s): St, ctx: RequestContext, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let (policies, next, total) = s.list_page(ctx.origin().tenant(), page).await?;
    Ok(axum::Json(json!({"total": total, "policies": policies, "next_cursor": next})).into_response())
}

async fn one(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    check_id("policy_id", &id)?;
    Ok(axum::Json(s.get(ctx.origin().tenant(), &id).await?).into_response())
}

async fn create(State(s): St, ctx: RequestContext, Json(req): Json<CreateRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    req.check()?;
    let policy = s.create(&ctx.origin(), req).await?;
    Ok((StatusCode::CREATED, axum::Json(policy)).into_response())
}

async fn update(State(s): St, ctx: RequestContext, Path(id): Path<String>, Json(req): Json<UpdateRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("policy_id", &id)?;
    req.check()?;
    Ok(axum::Json(s.update(&ctx.origin(), &id, req).await?).into_response())
}

async fn remove(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("policy_id", &id)?;
    s.delete(&ctx.origin(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn default_policies(_ctx: RequestContext) -> Response {
    axum::Json(DEFAULT_POLICY_IDS).into_response()
}
