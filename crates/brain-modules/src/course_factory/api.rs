//! The course_factory routes, at the original's paths under `/api/course-factory`: `GET info`,
//! `GET health`, `POST generate-ir`, `POST validate-ir`, `POST generate`, `POST dry-run`,
//! `POST workflow/transition`, `POST workflow/rollback`, and the new `GET courses/{course_id}`.
//! Every route needs a key; the routes that store something need the writer role.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::{ApiError, Json};
use serde_json::json;

use super::error::{CourseFactoryError, Reject};
use super::ir_plan;
use super::model::{CourseGenerationRequest, GenerateQuery, MAX_ACTOR, MAX_REASON, RollbackQuery, TransitionQuery};
use super::service::CourseFactoryService;
use crate::ir::Ir;
use crate::ir::IrAction;
use crate::web::{Path, Query, RequestContext, check_id, check_text};

/// The course_factory router.
pub(crate) fn router(service: Arc<CourseFactoryService>) -> Router {
    Router::new()
        .route("/api/course-factory/info", get(info))
        .route("/api/course-factory/health", get(health))
        .route("/api/course-factory/generate-ir", post(generate_ir))
        .route("/api/course-factory/validate-ir", post(validate_ir))
        .route("/api/course-factory/generate", post(generate))
        .route("/api/course-factory/dry-run", post(dry_run))
        .route("/api/course-factory/workflow/transition", post(transition))
        .route("/api/course-factory/workflow/rollback", post(rollback))
        .route("/api/course-factory/courses/{course_id}", get(course))
        .with_state(service)
}

type St = State<Arc<CourseFactoryService>>;
type Answer = Result<Response, Reject>;

const ENDPOINTS: &[&str] = &[
    "GET /api/course-factory/info",
    "GET /api/course-factory/health",
    "POST /api/course-factory/generate-ir",
    "POST /api/course-factory/validate-ir",
    "POST /api/course-factory/generate",
    "POST /api/course-factory/dry-run",
    "POST /api/course-factory/workflow/transition",
    "POST /api/course-factory/workflow/rollback",
    "GET /api/course-factory/courses/{course_id}",
];

async fn info(State(s): St, _ctx: RequestContext) -> Response {
    let actions: Vec<&str> = IrAction::ALL.iter().map(|a| a.as_str()).filter(|a| a.starts_with("course.")).collect();
    axum::Json(json!({
        "name": "CourseFactory",
        "version": "2.0.0",
        "description": "Online course generation (outline, lessons, quiz, landing page) governed by IR validation and HITL approvals",
        "generator": s.generator_name(),
        "features": [
            "Deterministic template generator (4-6 modules, 3-5 lessons each, 15-question quiz, landing page)",
            "IR generation and validation with the shared IR library (PASS / ESCALATE / REJECT)",
            "Escalated IRs need a consumed ir_governance approval of their hash",
            "Evidence pack stored in the state store",
            "Workflow state machine with an approval gate on review -> publish_ready",
            "Staging deploy once the course's distribution exists (distribution.created)"
        ],
        "languages": ["de", "en", "fr", "es"],
        "ir_actions": actions,
        "endpoints": ENDPOINTS,
    }))
    .into_response()
}

async fn health(_ctx: RequestContext) -> Response {
    axum::Json(json!({
        "status": "healthy",
        "module": "course_factory",
        "ir_enabled": true,
        "sprint": "Sprint 1",
        "workflow_enabled": true,
        "enhancements_enabled": false,
        "webgenesis_enabled": false,
    }))
    .into_response()
}

async fn generate_ir(State(s): St, ctx: RequestContext, Json(req): Json<CourseGenerationRequest>) -> Answer {
    req.check()?;
    let (ir, _) = s.plan(&ctx.origin(), &req)?;
    Ok(axum::Json(ir).into_response())
}

async fn validate_ir(ctx: RequestContext, Json(ir): Json<Ir>) -> Answer {
    let ir = ir.normalized().map_err(CourseFactoryError::from)?;
    if ir.tenant_id != ctx.principal.tenant.as_str() {
        return Err(CourseFactoryError::TenantMismatch(ctx.principal.tenant.as_str().to_owned()).into());
    }
    let result = ir_plan::validate(&ir).map_err(CourseFactoryError::from)?;
    Ok(axum::Json(result).into_response())
}

fn check_approval(id: Option<&str>) -> Result<(), ApiError> {
    match id {
        Some(id) => check_id("approval_id", id),
        None => Ok(()),
    }
}

async fn run(s: &CourseFactoryService, ctx: &RequestContext, q: GenerateQuery, req: CourseGenerationRequest) -> Answer {
    ctx.require_writer()?;
    req.check()?;
    check_approval(q.approval_id.as_deref())?;
    let result = s.generate(&ctx.origin(), &req, q.approval_id.as_deref()).await?;
    Ok(axum::Json(result).into_response())
}

async fn generate(State(s): St, ctx: RequestContext, Query(q): Query<GenerateQuery>, Json(req): Json<CourseGenerationRequest>) -> Answer {
    run(&s, &ctx, q, req).await
}

async fn dry_run(
    State(s): St,
    ctx: RequestContext,
    Query(q): Query<GenerateQuery>,
    Json(mut req): Json<CourseGenerationRequest>,
) -> Answer {
    req.dry_run = true;
    run(&s, &ctx, q, req).await
}

fn check_actor(actor: &str) -> Result<(), ApiError> {
    check_text("actor", actor, MAX_ACTOR, true)?;
    if actor.chars().any(char::is_control) {
        return Err(ApiError::invalid("actor", "`actor` must not contain control characters"));
    }
    Ok(())
}

async fn transition(State(s): St, ctx: RequestContext, Query(q): Query<TransitionQuery>) -> Answer {
    ctx.require_writer()?;
    check_id("course_id", &q.course_id)?;
    check_actor(&q.actor)?;
    if let Some(r) = &q.reason {
        check_text("reason", r, MAX_REASON, false)?;
    }
    check_approval(q.approval_id.as_deref())?;
    Ok(axum::Json(s.transition(&ctx.origin(), &q).await?).into_response())
}

async fn rollback(State(s): St, ctx: RequestContext, Query(q): Query<RollbackQuery>) -> Answer {
    ctx.require_writer()?;
    check_id("course_id", &q.course_id)?;
    check_id("transition_id", &q.transition_id)?;
    check_actor(&q.actor)?;
    check_text("reason", &q.reason, MAX_REASON, true)?;
    check_approval(q.approval_id.as_deref())?;
    Ok(axum::Json(s.rollback(&ctx.origin(), &q).await?).into_response())
}

async fn course(State(s): St, ctx: RequestContext, Path(course_id): Path<String>) -> Answer {
    check_id("course_id", &course_id)?;
    Ok(axum::Json(s.course(ctx.origin().tenant(), &course_id).await?).into_response())
}
