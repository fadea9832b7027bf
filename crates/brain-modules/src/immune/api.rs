//! The immune routes: `POST /api/immune/event` (answers the new id) and `GET /api/immune/health`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_events::immune::{ImmuneEventType, ImmuneSeverity};
use brain_http::{ApiError, Json};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::service::{ImmuneError, ImmuneService, NewRecord};
use crate::web::{RequestContext, check_id, check_text, store_error};

/// Largest `meta` object, as JSON text.
const MAX_META: usize = 16 * 1024;

/// The body of `POST /api/immune/event` (the original's `ImmuneEvent`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    /// Ignored: the server assigns the id.
    #[serde(default, rename = "id")]
    _id: Option<Value>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    module: Option<String>,
    severity: ImmuneSeverity,
    #[serde(rename = "type")]
    event_type: ImmuneEventType,
    message: String,
    #[serde(default)]
    meta: Map<String, Value>,
    /// Ignored: the server stamps the time.
    #[serde(default, rename = "created_at")]
    _created_at: Option<Value>,
}

impl From<ImmuneError> for ApiError {
    fn from(e: ImmuneError) -> Self {
        match &e {
            ImmuneError::Store(s) => store_error(s),
        }
    }
}

/// The immune router.
pub(crate) fn router(service: Arc<ImmuneService>) -> Router {
    Router::new().route("/api/immune/event", post(publish)).route("/api/immune/health", get(health)).with_state(service)
}

type St = State<Arc<ImmuneService>>;

async fn publish(State(s): St, ctx: RequestContext, Json(req): Json<EventRequest>) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    if let Some(a) = &req.agent_id {
        check_id("agent_id", a)?;
    }
    if let Some(m) = &req.module {
        check_text("module", m, 128, true)?;
    }
    check_text("message", &req.message, 2000, true)?;
    if Value::Object(req.meta.clone()).to_string().len() > MAX_META {
        return Err(ApiError::invalid("meta", format!("`meta` must be at most {MAX_META} bytes of JSON")));
    }
    let record = NewRecord {
        agent_id: req.agent_id,
        module: req.module,
        severity: req.severity,
        event_type: req.event_type,
        message: req.message,
        meta: req.meta,
    };
    let id = s.publish(&ctx.origin(), record).await?;
    Ok(axum::Json(id).into_response())
}

async fn health(State(s): St, ctx: RequestContext) -> Result<Response, ApiError> {
    Ok(axum::Json(s.summary(ctx.origin().tenant()).await?).into_response())
}
