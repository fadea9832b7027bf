//! The security routes: `GET /api/security/alerts[?tenant=&rule=&limit=&cursor=]` (newest first, a key
//! sees its own tenant's alerts, an admin every tenant's or the one named) and `GET /api/security/rules`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use brain_http::ApiError;
use eventstream_core::TenantId;
use serde::Deserialize;
use serde_json::json;

use super::config::Rule;
use super::service::{AlertFilter, SecurityService};
use crate::web::{Query, RequestContext, store_error};

/// Alerts per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
const MAX_LIMIT: u32 = 500;

/// The security router.
pub(crate) fn router(service: Arc<SecurityService>) -> Router {
    Router::new().route("/api/security/alerts", get(alerts)).route("/api/security/rules", get(rules)).with_state(service)
}

/// The query of `GET /api/security/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    tenant: Option<String>,
    rule: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

type St = State<Arc<SecurityService>>;

async fn alerts(State(s): St, ctx: RequestContext, Query(q): Query<AlertsQuery>) -> Result<Response, ApiError> {
    let tenant =
        q.tenant.as_deref().map(str::parse::<TenantId>).transpose().map_err(|e| ApiError::invalid_query("tenant", e.to_string()))?;
    let tenant = ctx.principal.scope(tenant.as_ref())?;
    let rule = match q.rule.as_deref() {
        None => None,
        Some(r) => Some(Rule::named(r).ok_or_else(|| {
            let names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
            ApiError::invalid_query("rule", format!("unknown rule; expected one of {}", names.join(", ")))
        })?),
    };
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(ApiError::invalid_query("limit", format!("`limit` must be an integer from 1 to {MAX_LIMIT}"))),
        },
    };
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => match uuid::Uuid::parse_str(c) {
            Ok(u) => Some(u.hyphenated().to_string()),
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    "invalid cursor: pass `next_cursor` of a previous page unchanged",
                )
                .with_field("cursor"));
            }
        },
    };
    let filter = AlertFilter { tenant, rule, before };
    let mut page = s.alerts(&filter, limit + 1).await.map_err(|e| store_error(&e))?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next_cursor = if more { page.last().map(|a| a.id.clone()) } else { None };
    Ok(axum::Json(json!({"alerts": page, "next_cursor": next_cursor})).into_response())
}

async fn rules(State(s): St, _ctx: RequestContext) -> Response {
    axum::Json(json!({"rules": s.rules()})).into_response()
}
