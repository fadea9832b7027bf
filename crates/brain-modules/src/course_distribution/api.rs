//! The course_distribution routes under `/api/courses` (the original's paths and JSON shapes):
//! - public (any key of the tenant, reader included; D-1): `GET public`, `GET public/{slug}` (counts a
//!   view), `GET public/{slug}/outline`, `POST public/{slug}/track-enrollment`, `GET public/{slug}/page`
//!   (HTML; counts a view);
//! - management (writer role for changes): `POST distribution/create`, `POST distribution/micro-niche`,
//!   `GET distribution/health`, `GET|PATCH|DELETE distribution/{id}`, `POST distribution/{id}/publish`,
//!   `POST distribution/{id}/unpublish`, `POST distribution/{id}/version-bump`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::{ApiError, Json, Path, Query};
use serde_json::json;

use super::html::course_page;
use super::model::{CreateRequest, MicroNicheRequest, PublicQuery, UpdateRequest, check_slug, is_language};
use super::service::DistributionService;
use crate::web::{RequestContext, check_id};

/// The course_distribution router.
pub(crate) fn router(service: Arc<DistributionService>) -> Router {
    Router::new()
        .route("/api/courses/public", get(public_list))
        .route("/api/courses/public/{slug}", get(public_detail))
        .route("/api/courses/public/{slug}/outline", get(outline))
        .route("/api/courses/public/{slug}/track-enrollment", post(track_enrollment))
        .route("/api/courses/public/{slug}/page", get(page))
        .route("/api/courses/distribution/create", post(create))
        .route("/api/courses/distribution/micro-niche", post(micro_niche))
        .route("/api/courses/distribution/health", get(health))
        .route("/api/courses/distribution/{distribution_id}", get(one).patch(update).delete(remove))
        .route("/api/courses/distribution/{distribution_id}/publish", post(publish))
        .route("/api/courses/distribution/{distribution_id}/unpublish", post(unpublish))
        .route("/api/courses/distribution/{distribution_id}/version-bump", post(version_bump))
        .with_state(service)
}

type St = State<Arc<DistributionService>>;

async fn public_list(State(s): St, ctx: RequestContext, Query(q): Query<PublicQuery>) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_query("limit", format!("limit must be 1 to 100, got {limit}")));
    }
    if let Some(l) = &q.language
        && !is_language(l)
    {
        return Err(ApiError::invalid_query("language", "language must look like `de` or `en-US`"));
    }
    let items = s.public_list(ctx.origin().tenant(), q.language.as_deref(), limit).await?;
    Ok(axum::Json(items).into_response())
}

async fn public_detail(State(s): St, ctx: RequestContext, Path(slug): Path<String>) -> Result<Response, ApiError> {
    check_slug("slug", &slug)?;
    let (_, detail) = s.view(&ctx.origin(), &slug).await?;
    Ok(axum::Json(detail).into_response())
}

/// The outline. The events carry no module titles, so this is the original's placeholder, kept and
/// marked as such (`placeholder: true`, D-8): two modules of 3 chapters / 45 minutes and 5 chapters / 90
/// minutes. It does not count a view.
async fn outline(State(s): St, ctx: RequestContext, Path(slug): Path<String>) -> Result<Response, ApiError> {
    check_slug("slug", &slug)?;
    let d = s.public(ctx.origin().tenant(), &slug).await?;
    let modules = json!([
        {"module_id": "module_1", "title": "Module 1", "description": "Foundations", "chapter_count": 3, "estimated_duration_minutes": 45},
        {"module_id": "module_2", "title": "Module 2", "description": "Application", "chapter_count": 5, "estimated_duration_minutes": 90},
    ]);
    Ok(axum::Json(json!({
        "slug": d.slug,
        "title": d.title,
        "language": d.language,
        "version": d.version,
        "modules": modules,
        "total_chapters": 8,
        "total_duration_minutes": 135,
        "prerequisites": [],
        "learning_outcomes": [],
        "placeholder": true,
    }))
    .into_response())
}

async fn track_enrollment(State(s): St, ctx: RequestContext, Path(slug): Path<String>) -> Result<Response, ApiError> {
    check_slug("slug", &slug)?;
    let count = s.track_enrollment(&ctx.origin(), &slug).await?;
    Ok(axum::Json(json!({"slug": slug, "tracked": true, "message": "Enrollment click tracked", "enrollment_count": count})).into_response())
}

async fn page(State(s): St, ctx: RequestContext, Path(slug): Path<String>) -> Result<Response, ApiError> {
    check_slug("slug", &slug)?;
    let (d, detail) = s.view(&ctx.origin(), &slug).await?;
    let mut resp = Html(course_page(&d, detail.derived_from_slug.as_deref())).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The page runs no script: a policy that forbids any makes an escaping slip harmless.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src https: http:; style-src 'unsafe-inline'"),
    );
    Ok(resp)
}

async fn create(State(s): St, ctx: RequestContext, Json(req): Json<CreateRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    req.check()?;
    let d = s.create(&ctx.origin(), req).await?;
    let body = json!({"distribution_id": d.distribution_id, "slug": d.slug, "message": "Distribution created"});
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn micro_niche(State(s): St, ctx: RequestContext, Json(req): Json<MicroNicheRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    req.check()?;
    let d = s.micro_niche(&ctx.origin(), req).await?;
    let body = json!({"distribution_id": d.distribution_id, "slug": d.slug, "message": "Micro-niche variant created"});
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn health(State(s): St, ctx: RequestContext) -> Response {
    let (status, count) = match s.public_count(ctx.origin().tenant()).await {
        Ok(n) if s.healthy().await => ("healthy", n),
        _ => ("degraded", 0),
    };
    axum::Json(json!({"name": "course_distribution", "version": "1.0.0", "status": status, "public_courses_count": count})).into_response()
}

async fn one(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    check_id("distribution_id", &id)?;
    Ok(axum::Json(s.get(ctx.origin().tenant(), &id).await?).into_response())
}

async fn update(State(s): St, ctx: RequestContext, Path(id): Path<String>, Json(req): Json<UpdateRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("distribution_id", &id)?;
    req.check()?;
    Ok(axum::Json(s.update(&ctx.origin(), &id, req).await?).into_response())
}

async fn remove(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("distribution_id", &id)?;
    let d = s.delete(&ctx.origin(), &id).await?;
    Ok(axum::Json(json!({"distribution_id": d.distribution_id, "deleted": true, "message": "Distribution deleted"})).into_response())
}

async fn publish(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("distribution_id", &id)?;
    let d = s.publish(&ctx.origin(), &id).await?;
    Ok(axum::Json(json!({"distribution_id": d.distribution_id, "published": true, "message": "Distribution published"})).into_response())
}

async fn unpublish(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("distribution_id", &id)?;
    let (d, changed) = s.unpublish(&ctx.origin(), &id).await?;
    let message = if changed { "Distribution unpublished" } else { "Distribution was not public" };
    Ok(axum::Json(json!({"distribution_id": d.distribution_id, "published": false, "message": message})).into_response())
}

async fn version_bump(State(s): St, ctx: RequestContext, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("distribution_id", &id)?;
    let (old, new) = s.bump(&ctx.origin(), &id).await?;
    let message = format!("Version bumped from {old} to {new}");
    Ok(axum::Json(json!({"distribution_id": id, "old_version": old, "new_version": new, "message": message})).into_response())
}
