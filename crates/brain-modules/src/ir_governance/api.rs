//! The ir_governance routes, at the original's paths: `GET /api/ir/info`, `POST /api/ir/validate`,
//! `POST /api/ir/dag-diff` (new: the diff audit had no route), and under `/api/ir/approvals`: issue
//! (`POST`), `POST consume`, `GET pending`, `GET stats`, `GET health`, `GET ws` (WebSocket),
//! `GET {approval_id}`, `GET {approval_id}/status`, `POST {approval_id}/acknowledge`. Static segments
//! win over `{approval_id}` in axum's router, so `stats` and `health` are served (the original shadowed
//! them). Every route needs a key; the POST routes need the writer role.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::{ApiError, Json};
use serde_json::json;

use super::approvals::ConsumeRequest;
use super::error::IrGovernanceError;
use super::model::{
    AcknowledgeBody, ConsumeBody, ConsumeQuery, CreateApprovalQuery, DEFAULT_TTL_SECONDS, DagDiffBody, MAX_ACTOR, MAX_TOKEN,
    MAX_TTL_SECONDS, PendingQuery, TenantQuery,
};
use super::service::IrGovernanceService;
use super::ws;
use crate::ir::{Ir, truncate_hash};
use crate::page::Page;
use crate::web::{Path, Query, RequestContext, check_id};

/// The ir_governance router.
pub(crate) fn router(service: Arc<IrGovernanceService>) -> Router {
    Router::new()
        .route("/api/ir/info", get(info))
        .route("/api/ir/validate", post(validate))
        .route("/api/ir/dag-diff", post(dag_diff))
        .route("/api/ir/approvals", post(create))
        .route("/api/ir/approvals/consume", post(consume))
        .route("/api/ir/approvals/pending", get(pending))
        .route("/api/ir/approvals/stats", get(stats))
        .route("/api/ir/approvals/health", get(health))
        .route("/api/ir/approvals/ws", get(ws::upgrade))
        .route("/api/ir/approvals/{approval_id}", get(approval))
        .route("/api/ir/approvals/{approval_id}/status", get(status))
        .route("/api/ir/approvals/{approval_id}/acknowledge", post(acknowledge))
        .with_state(service)
}

type St = State<Arc<IrGovernanceService>>;

/// `Ok` when `given` (a body or query `tenant_id`) is absent or the key's tenant.
pub(super) fn same_tenant(ctx: &RequestContext, field: &'static str, given: Option<&str>) -> Result<(), IrGovernanceError> {
    match given {
        Some(t) if t.trim() != ctx.principal.tenant.as_str() => {
            Err(IrGovernanceError::TenantMismatch { field, tenant: ctx.principal.tenant.as_str().to_owned() })
        }
        _ => Ok(()),
    }
}

/// An IR hash: 64 lowercase hex characters (what `sha256_hex` writes).
fn check_hash(field: &str, value: Option<&str>) -> Result<String, ApiError> {
    match value {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => Ok(h.to_owned()),
        Some(_) => Err(ApiError::invalid(field, format!("`{field}` must be a SHA-256 hex digest (64 lowercase hex characters)"))),
        None => Err(ApiError::invalid(field, format!("`{field}` is required"))),
    }
}

/// An actor name (`created_by`, ...): 1 to 200 characters, no control characters.
fn check_actor(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() || v.chars().count() > MAX_ACTOR || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, format!("`{field}` must be 1 to {MAX_ACTOR} characters without control characters")));
    }
    Ok(Some(v.to_owned()))
}

async fn info(_ctx: RequestContext) -> Response {
    axum::Json(json!({
        "name": "IR Governance",
        "version": "1.0.0",
        "sprint": "Sprint 9",
        "description": "Intermediate representation validation, single-use HITL approvals and IR-to-DAG diff audits",
        "features": [
            "Canonical JSON and SHA-256 IR hashing (request_id, created_at and validator fields excluded)",
            "Risk tiers 0-3 with whole-word scope matching; PASS / ESCALATE / REJECT",
            "Single-use approval tokens (256 bits, only the SHA-256 stored, TTL)",
            "IR-to-DAG diff audit",
            "Tenant WebSocket notifications"
        ],
        "endpoints": [
            "GET /api/ir/info", "POST /api/ir/validate", "POST /api/ir/dag-diff", "POST /api/ir/approvals",
            "POST /api/ir/approvals/consume", "GET /api/ir/approvals/pending", "GET /api/ir/approvals/stats",
            "GET /api/ir/approvals/health", "GET /api/ir/approvals/ws", "GET /api/ir/approvals/{approval_id}",
            "GET /api/ir/approvals/{approval_id}/status", "POST /api/ir/approvals/{approval_id}/acknowledge"
        ],
    }))
    .into_response()
}

/// Normalises an IR of the request and checks that it is the key's tenant's.
fn own_ir(ctx: &RequestContext, ir: Ir) -> Result<Ir, IrGovernanceError> {
    let ir = ir.normalized()?;
    same_tenant(ctx, "tenant_id", Some(&ir.tenant_id))?;
    Ok(ir)
}

async fn validate(State(s): St, ctx: RequestContext, Json(ir): Json<Ir>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    let ir = own_ir(&ctx, ir)?;
    let result = s.validate(&ctx.origin(), &ir).await?;
    Ok(axum::Json(result).into_response())
}

async fn dag_diff(State(s): St, ctx: RequestContext, Json(body): Json<DagDiffBody>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    let ir = own_ir(&ctx, body.ir).map_err(|e| match e {
        IrGovernanceError::Field(mut f) => {
            f.field = format!("ir.{}", f.field);
            IrGovernanceError::Field(f)
        }
        IrGovernanceError::TenantMismatch { tenant, .. } => IrGovernanceError::TenantMismatch { field: "ir.tenant_id", tenant },
        other => other,
    })?;
    let result = s.dag_diff(&ctx.origin(), &ir, &body.dag_nodes).await?;
    Ok(axum::Json(result).into_response())
}

async fn create(State(s): St, ctx: RequestContext, Query(q): Query<CreateApprovalQuery>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    same_tenant(&ctx, "tenant_id", q.tenant_id.as_deref())?;
    let ir_hash = check_hash("ir_hash", q.ir_hash.as_deref())?;
    let ttl = q.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::invalid("ttl_seconds", format!("ttl_seconds must be 1 to {MAX_TTL_SECONDS} seconds (got {ttl})")));
    }
    let created_by = check_actor("created_by", q.created_by.as_deref())?;
    let created = s.create_approval(&ctx.origin(), &ir_hash, ttl, created_by.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

async fn consume(
    State(s): St,
    ctx: RequestContext,
    Query(q): Query<ConsumeQuery>,
    Json(body): Json<ConsumeBody>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    same_tenant(&ctx, "tenant_id", body.tenant_id.as_deref())?;
    let ir_hash = check_hash("ir_hash", body.ir_hash.as_deref())?;
    let token = match body.token.as_deref() {
        Some(t) if !t.is_empty() && t.len() <= MAX_TOKEN => t,
        _ => return Err(ApiError::invalid("token", format!("`token` is required (1 to {MAX_TOKEN} characters)"))),
    };
    let consumed_by = check_actor("consumed_by", q.consumed_by.as_deref())?;
    let req = ConsumeRequest { ir_hash: &ir_hash, token, consumed_by: consumed_by.as_deref() };
    let result = s.consume(&ctx.origin(), &req).await?;
    Ok(axum::Json(result).into_response())
}

async fn approval(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    check_id("approval_id", &id)?;
    Ok(axum::Json(s.approval(ctx.origin().tenant(), &id).await?).into_response())
}

async fn status(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    check_id("approval_id", &id)?;
    let a = s.approval(ctx.origin().tenant(), &id).await?;
    Ok(axum::Json(json!({
        "approval_id": a.approval_id,
        "status": a.status,
        "tenant_id": a.tenant_id,
        "ir_hash": truncate_hash(&a.ir_hash),
        "created_at": a.created_at,
        "expires_at": a.expires_at,
        "consumed_at": a.consumed_at,
        "created_by": a.created_by,
        "consumed_by": a.consumed_by,
    }))
    .into_response())
}

async fn pending(State(s): St, ctx: RequestContext, Query(q): Query<PendingQuery>) -> Result<Response, ApiError> {
    same_tenant(&ctx, "tenant_id", q.tenant_id.as_deref())?;
    let page = Page::parse(q.limit, q.cursor.as_deref(), 100, 1000)?;
    let tenant = ctx.origin().tenant().to_owned();
    let (approvals, next) = s.pending(&tenant, page).await?;
    let c = s.counts(&tenant).await?;
    Ok(axum::Json(json!({
        "approvals": approvals,
        "next_cursor": next,
        "total": c.total(),
        "pending": c.pending,
        "consumed": c.consumed,
        "expired": c.expired,
    }))
    .into_response())
}

/// The original's cleanup worker never ran; here expiry is evaluated on every read and on consume.
fn cleanup_worker() -> serde_json::Value {
    json!({"running": false, "mode": "on_read", "message": "expiry is evaluated on read and on consume; no sweeper is needed"})
}

async fn stats(State(s): St, ctx: RequestContext, Query(q): Query<TenantQuery>) -> Result<Response, ApiError> {
    same_tenant(&ctx, "tenant_id", q.tenant_id.as_deref())?;
    let c = s.counts(ctx.origin().tenant()).await?;
    Ok(axum::Json(json!({"tenant_id": ctx.origin().tenant(), "by_status": c, "total": c.total(), "cleanup_worker": cleanup_worker()}))
        .into_response())
}

async fn health(State(s): St, _ctx: RequestContext) -> Response {
    let healthy = s.healthy().await;
    let message = if healthy { "approval store (SQL state store) reachable" } else { "approval store (SQL state store) unreachable" };
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        axum::Json(
            json!({"healthy": healthy, "redis_available": false, "store": "sql", "cleanup_worker": cleanup_worker(), "message": message}),
        ),
    )
        .into_response()
}

async fn acknowledge(
    State(s): St,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<AcknowledgeBody>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("approval_id", &id)?;
    let by = check_actor("acknowledged_by", body.acknowledged_by.as_deref())?
        .ok_or_else(|| ApiError::invalid("acknowledged_by", "`acknowledged_by` is required"))?;
    let a = s.acknowledge(ctx.origin().tenant(), &id, &by).await?;
    Ok(axum::Json(json!({
        "success": true,
        "approval_id": a.approval_id,
        "acknowledged_by": a.acknowledged_by,
        "acknowledged_at": a.acknowledged_at,
        "message": format!("Approval {} acknowledged by {by}", a.approval_id),
    }))
    .into_response())
}
