//! The metrics routes: `POST /api/metrics/aggregate` (run now) and `GET /api/metrics/results`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_http::ApiError;
use serde_json::json;

use super::service::{JOB_ID, MetricsError, MetricsService};
use crate::web::{RequestContext, store_error};

/// The metrics router.
pub(crate) fn router(service: Arc<MetricsService>) -> Router {
    Router::new().route("/api/metrics/aggregate", post(aggregate)).route("/api/metrics/results", get(results)).with_state(service)
}

async fn aggregate(State(s): State<Arc<MetricsService>>, ctx: RequestContext) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    match s.run(Some(&ctx.origin())).await {
        Ok(r) => Ok(axum::Json(r).into_response()),
        Err(MetricsError::Store(e)) => Err(store_error(&e)),
        Err(e) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "aggregation_failed", e.to_string())),
    }
}

async fn results(State(s): State<Arc<MetricsService>>, ctx: RequestContext) -> Result<Response, ApiError> {
    let tenant = ctx.origin().tenant().to_owned();
    let counts = s.counts(Some(&tenant)).await.map_err(|e| store_error(&e))?;
    let last = s.last_run(&tenant).await.map_err(|e| store_error(&e))?;
    let total: u64 = counts.values().sum();
    let last_run = last.map(|(entries, duration_ms, completed_at)| {
        json!({"entries_processed": entries, "duration_ms": duration_ms, "completed_at": completed_at})
    });
    Ok(axum::Json(json!({"job_id": JOB_ID, "total_missions": total, "status_counts": counts, "last_run": last_run})).into_response())
}
