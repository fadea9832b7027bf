//! Dead letters: `GET /api/dlq` (filters `subscriber`, `type`, `status`, `tenant` (admin), `limit`,
//! `cursor`), `GET /api/dlq/{id}`, `POST /api/dlq/{id}/retry`, `POST /api/dlq/{id}/discard`, and the bulk
//! forms `POST /api/dlq/retry` / `POST /api/dlq/discard` with `{"ids": [...]}` (up to 500 ids).
//!
//! Non-admin keys see and act on their own tenant's dead letters only: the list filters by tenant in the
//! query, and another tenant's letter is 404, exactly like an unknown id. Retry and discard need a writer.

use axum::extract::State;
use axum::http::StatusCode;
use brain_http::{ApiError, Json, Path, Principal, Query};
use eventstream_core::{EventType, GroupName, TenantId};
use eventstream_sql::{DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors;
use crate::server::AppState;

/// The query string of `GET /api/dlq`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DlqQuery {
    subscriber: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: Option<String>,
    tenant: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A dead letter as the API shows it: the stored envelope as JSON when it parses.
fn view(dl: &DeadLetter) -> Value {
    let mut v = serde_json::to_value(dl).unwrap_or(Value::Null);
    if let Ok(event) = serde_json::from_str::<Value>(&dl.letter.event) {
        v["event"] = event;
    }
    v
}

fn parse_id(s: &str) -> Result<DeadLetterId, ApiError> {
    match s.parse::<DeadLetterId>() {
        Ok(id) if id.0 > 0 => Ok(id),
        _ => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", "a dead letter id is a positive integer").with_field("id")),
    }
}

/// The dead letter `id` if `principal` may see it; 404 otherwise.
async fn visible(state: &AppState, principal: &Principal, id: DeadLetterId) -> Result<DeadLetter, ApiError> {
    let not_found = || ApiError::not_found(format!("dead letter {id} not found"));
    let dl = state.store.get_dead_letter(id).await.map_err(|e| errors::store(&e))?.ok_or_else(not_found)?;
    match principal.scope(None)? {
        Some(t) if dl.letter.tenant_id.as_ref() != Some(&t) => Err(not_found()),
        _ => Ok(dl),
    }
}

/// `GET /api/dlq`.
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<DlqQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let tenant =
        q.tenant.as_deref().map(str::parse::<TenantId>).transpose().map_err(|e| ApiError::invalid_query("tenant", e.to_string()))?;
    let tenant = principal.scope(tenant.as_ref())?;
    let subscriber = q
        .subscriber
        .as_deref()
        .map(str::parse::<GroupName>)
        .transpose()
        .map_err(|e| ApiError::invalid_query("subscriber", e.to_string()))?;
    let event_type =
        q.event_type.as_deref().map(str::parse::<EventType>).transpose().map_err(|e| ApiError::invalid_query("type", e.to_string()))?;
    let status = q
        .status
        .as_deref()
        .map(str::parse::<DeadLetterStatus>)
        .transpose()
        .map_err(|e| ApiError::invalid_query("status", format!("`status` {e}")))?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(ApiError::invalid_query("limit", "`limit` must be an integer from 1 to 1000")),
        },
    };
    let after_id = match q.cursor.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<i64>().ok().filter(|n| *n >= 0).map(DeadLetterId).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "invalid cursor: pass `next_cursor` of a previous page unchanged")
                .with_field("cursor")
        })?),
    };
    let filter = DeadLetterFilter { subscriber, event_type, tenant, status, limit: limit + 1, after_id };
    let mut rows = state.store.list_dead_letters(&filter).await.map_err(|e| errors::store(&e))?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|d| d.id.0.to_string()) } else { None };
    Ok(axum::Json(json!({"dead_letters": rows.iter().map(view).collect::<Vec<_>>(), "next_cursor": next_cursor})))
}

/// `GET /api/dlq/{id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let dl = visible(&state, &principal, id).await?;
    Ok(axum::Json(view(&dl)))
}

/// `POST /api/dlq/{id}/retry`: re-delivers the event to its subscriber only.
pub(super) async fn retry(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    principal.require_writer()?;
    visible(&state, &principal, id).await?;
    let position = eventstream::dlq::retry_dead_letter(&state.log, &state.store, id).await.map_err(|e| errors::dlq(&e))?;
    Ok(axum::Json(json!({"id": id, "status": DeadLetterStatus::Retried, "position": position})))
}

/// `POST /api/dlq/{id}/discard`.
pub(super) async fn discard(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    principal.require_writer()?;
    let dl = visible(&state, &principal, id).await?;
    match state.store.discard_dead_letter(id).await.map_err(|e| errors::store(&e))? {
        Some(done) => Ok(axum::Json(view(&done))),
        None => Err(ApiError::conflict("dead_letter_not_open", format!("dead letter {id} is {}, not open", dl.status))),
    }
}

/// The most dead letters one bulk call acts on.
const BULK_MAX: usize = 500;

/// The body of `POST /api/dlq/retry` and `POST /api/dlq/discard`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkRequest {
    ids: Vec<i64>,
}

/// What a bulk call does to each letter.
#[derive(Debug, Clone, Copy)]
enum BulkAction {
    Retry,
    Discard,
}

/// Checks the ids of a bulk request: 1 to [`BULK_MAX`] positive ids, duplicates removed (order kept).
fn bulk_ids(req: &BulkRequest) -> Result<Vec<DeadLetterId>, ApiError> {
    if req.ids.is_empty() || req.ids.len() > BULK_MAX {
        return Err(ApiError::invalid("ids", format!("`ids` must list 1 to {BULK_MAX} dead letter ids, got {}", req.ids.len())));
    }
    let mut out: Vec<DeadLetterId> = Vec::with_capacity(req.ids.len());
    for (i, id) in req.ids.iter().enumerate() {
        if *id <= 0 {
            return Err(ApiError::invalid(format!("ids[{i}]"), "a dead letter id is a positive integer"));
        }
        if !out.iter().any(|d| d.0 == *id) {
            out.push(DeadLetterId(*id));
        }
    }
    Ok(out)
}

/// Acts on each letter in turn; one letter's failure (not found, not open) is reported in its result
/// and does not stop the others. A backend failure stops the call (5xx), as on the single routes.
async fn bulk(state: &AppState, principal: &Principal, ids: Vec<DeadLetterId>, action: BulkAction) -> Result<Value, ApiError> {
    let mut results = Vec::with_capacity(ids.len());
    let mut done = 0u64;
    for id in ids {
        let outcome = match action {
            BulkAction::Retry => match visible(state, principal, id).await {
                Ok(_) => match eventstream::dlq::retry_dead_letter(&state.log, &state.store, id).await {
                    Ok(position) => Ok(json!({"id": id, "status": DeadLetterStatus::Retried, "position": position})),
                    Err(e) => Err(errors::dlq(&e)),
                },
                Err(e) => Err(e),
            },
            BulkAction::Discard => match visible(state, principal, id).await {
                Ok(dl) => match state.store.discard_dead_letter(id).await.map_err(|e| errors::store(&e))? {
                    Some(_) => Ok(json!({"id": id, "status": DeadLetterStatus::Discarded})),
                    None => Err(ApiError::conflict("dead_letter_not_open", format!("dead letter {id} is {}, not open", dl.status))),
                },
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(v) => {
                done += 1;
                results.push(v);
            }
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(e) => results.push(json!({"id": id, "error": {"code": e.code, "message": e.message}})),
        }
    }
    let failed = results.len() as u64 - done;
    Ok(json!({"done": done, "failed": failed, "results": results}))
}

/// `POST /api/dlq/retry` with `{"ids": [1, 2]}`: retries each listed dead letter like
/// `POST /api/dlq/{id}/retry`; the answer has one result per id (`status`, or `error` with `code`).
pub(super) async fn retry_many(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<BulkRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    principal.require_writer()?;
    let ids = bulk_ids(&req)?;
    Ok(axum::Json(bulk(&state, &principal, ids, BulkAction::Retry).await?))
}

/// `POST /api/dlq/discard` with `{"ids": [1, 2]}`: discards each listed dead letter like
/// `POST /api/dlq/{id}/discard`; the answer has one result per id.
pub(super) async fn discard_many(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<BulkRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    principal.require_writer()?;
    let ids = bulk_ids(&req)?;
    Ok(axum::Json(bulk(&state, &principal, ids, BulkAction::Discard).await?))
}
