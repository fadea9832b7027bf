//! The analytics routes: `GET /api/analytics/rates?window=1m|1h|24h[&tenant=T]` and
//! `GET /api/analytics/modules[?window=1m|1h|24h][&tenant=T]`.
//!
//! A key sees its own tenant; an admin key sees every tenant, or the one it names with `tenant`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use brain_http::ApiError;
use eventstream_core::TenantId;
use serde::Deserialize;

use super::model::Window;
use super::service::AnalyticsService;
use crate::web::{Query, RequestContext, store_error};

/// The analytics router.
pub(crate) fn router(service: Arc<AnalyticsService>) -> Router {
    Router::new().route("/api/analytics/rates", get(rates)).route("/api/analytics/modules", get(modules)).with_state(service)
}

/// The query of both routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowQuery {
    /// `1m`, `1h` or `24h`.
    window: Option<String>,
    /// The tenant to count (admin keys only may name another tenant than their own).
    tenant: Option<String>,
}

impl WindowQuery {
    fn window(&self) -> Result<Option<Window>, ApiError> {
        self.window.as_deref().map(str::parse::<Window>).transpose().map_err(|e| ApiError::invalid_query("window", e.to_string()))
    }

    /// The tenant the query counts: the key's own, or for an admin the one named (`None` = every tenant).
    fn scope(&self, ctx: &RequestContext) -> Result<Option<TenantId>, ApiError> {
        let named =
            self.tenant.as_deref().map(str::parse::<TenantId>).transpose().map_err(|e| ApiError::invalid_query("tenant", e.to_string()))?;
        ctx.principal.scope(named.as_ref())
    }
}

type St = State<Arc<AnalyticsService>>;

async fn rates(State(s): St, ctx: RequestContext, Query(q): Query<WindowQuery>) -> Result<Response, ApiError> {
    let window = q.window()?.unwrap_or(Window::OneHour);
    let tenant = q.scope(&ctx)?;
    let rates = s.rates(tenant.as_ref(), window).await.map_err(|e| store_error(&e))?;
    Ok(axum::Json(rates).into_response())
}

async fn modules(State(s): St, ctx: RequestContext, Query(q): Query<WindowQuery>) -> Result<Response, ApiError> {
    let window = q.window()?;
    let tenant = q.scope(&ctx)?;
    let report = s.modules(tenant.as_ref(), window).await.map_err(|e| store_error(&e))?;
    Ok(axum::Json(report).into_response())
}
