//! The audit log over HTTP: `GET /api/audit/checkpoint` (text/plain signed note; `?tenant=`),
//! `GET /api/audit/key` (the C2SP verifier key), `GET /api/audit/proof/inclusion?event_id=&tree_size=&tenant=`,
//! `GET /api/audit/proof/consistency?from=&to=&tenant=`, `GET /api/audit` (browse: `type`, `tenant`,
//! `since`, `until`, `limit`, `cursor`), and `POST /api/audit/verify` (admin: run the verification
//! `brain audit verify` runs and answer its report).
//!
//! Non-admin keys only ever see their own tenant's tree: the tenant is forced to the key's, in the query.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use brain_http::{ApiError, Principal, Query};
use eventstream_core::{TenantId, TypePattern};
use eventstream_system::audit::{AuditError, AuditFilter};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors;
use crate::server::AppState;

fn invalid_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

fn audit_error(e: &AuditError) -> ApiError {
    match e {
        AuditError::Store(s) => errors::store(s),
        AuditError::UnknownEvent { .. } => ApiError::not_found(e.to_string()),
        AuditError::NoCheckpoint(_) => ApiError::new(StatusCode::CONFLICT, "not_checkpointed", e.to_string()),
        AuditError::Pruned { .. } => ApiError::new(StatusCode::GONE, "pruned", e.to_string()),
        e if e.is_client_error() => ApiError::bad_request(e.to_string()),
        e => ApiError::internal(e),
    }
}

fn tenant_scope(p: &Principal, tenant: Option<&str>) -> Result<Option<TenantId>, ApiError> {
    let requested =
        tenant.map(|t| t.parse::<TenantId>().map_err(|e| invalid_query("tenant", format!("invalid tenant: {e}")))).transpose()?;
    p.scope(requested.as_ref())
}

fn number(field: &str, v: Option<&str>) -> Result<Option<u64>, ApiError> {
    v.map(|s| s.parse::<u64>().map_err(|_| invalid_query(field, format!("{field} must be a non-negative integer")))).transpose()
}

/// `?tenant=` only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TenantQuery {
    tenant: Option<String>,
}

/// `GET /api/audit/checkpoint`: the latest signed checkpoint of the caller's tree.
pub(super) async fn checkpoint(State(state): State<AppState>, p: Principal, Query(q): Query<TenantQuery>) -> Result<Response, ApiError> {
    let tenant = tenant_scope(&p, q.tenant.as_deref())?;
    let note = state.audit.latest_checkpoint(tenant.as_ref()).await.map_err(|e| audit_error(&e))?;
    let note = note.ok_or_else(|| ApiError::not_found("no checkpoint yet: the tree is empty"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// `GET /api/audit/key`: the verifier key.
pub(super) async fn key(State(state): State<AppState>, _p: Principal) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n", state.audit.verifier())).into_response()
}

/// The query of the inclusion proof.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InclusionQuery {
    event_id: Option<String>,
    tree_size: Option<String>,
    tenant: Option<String>,
}

/// `GET /api/audit/proof/inclusion`.
pub(super) async fn inclusion(State(state): State<AppState>, p: Principal, Query(q): Query<InclusionQuery>) -> Result<Response, ApiError> {
    let event_id = q.event_id.filter(|s| !s.is_empty()).ok_or_else(|| invalid_query("event_id", "event_id is required"))?;
    let size = number("tree_size", q.tree_size.as_deref())?;
    let tenant = tenant_scope(&p, q.tenant.as_deref())?;
    let proof = state.audit.inclusion_proof(&event_id, size, tenant.as_ref()).await.map_err(|e| audit_error(&e))?;
    Ok(axum::Json(proof).into_response())
}

/// The query of the consistency proof.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
    tenant: Option<String>,
}

/// `GET /api/audit/proof/consistency`.
pub(super) async fn consistency(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let from = number("from", q.from.as_deref())?.ok_or_else(|| invalid_query("from", "from is required"))?;
    let to = number("to", q.to.as_deref())?.ok_or_else(|| invalid_query("to", "to is required"))?;
    let tenant = tenant_scope(&p, q.tenant.as_deref())?;
    let proof = state.audit.consistency_proof(from, to, tenant.as_ref()).await.map_err(|e| audit_error(&e))?;
    Ok(axum::Json(proof).into_response())
}

/// The query of `GET /api/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    tenant: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `since` / `until`: RFC 3339, a date, epoch seconds or an age such as `15m` ([`crate::time_arg::parse_since`]).
fn instant(field: &str, v: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| crate::time_arg::parse_since(s, chrono::Utc::now()).map_err(|e| invalid_query(field, format!("{field}: {e}"))))
        .transpose()
}

/// `GET /api/audit`: browse the log (tenant-filtered in the query).
pub(super) async fn list(State(state): State<AppState>, p: Principal, Query(q): Query<ListQuery>) -> Result<axum::Json<Value>, ApiError> {
    let event_type = q
        .event_type
        .as_deref()
        .map(|t| t.parse::<TypePattern>().map_err(|e| invalid_query("type", format!("invalid type pattern: {e}"))))
        .transpose()?;
    let filter = AuditFilter {
        event_type,
        tenant: tenant_scope(&p, q.tenant.as_deref())?,
        since: instant("since", q.since.as_deref())?,
        until: instant("until", q.until.as_deref())?,
    };
    let limit = number("limit", q.limit.as_deref())?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(invalid_query("limit", "limit must be between 1 and 1000"));
    }
    let cursor = number("cursor", q.cursor.as_deref())?;
    let rows = state.audit.list(&filter, cursor, limit as u32).await.map_err(|e| audit_error(&e))?;
    let next = if rows.len() as u64 == limit { rows.last().map(|r| r.index.to_string()) } else { None };
    Ok(axum::Json(json!({ "entries": rows, "next_cursor": next })))
}

/// The optional body of `POST /api/audit/verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyRequest {
    /// Rehash every row from the first one (default: incremental from the last trusted checkpoint).
    #[serde(default)]
    full: bool,
}

/// `POST /api/audit/verify` (admin): runs the verification of `brain audit verify` on the server's store
/// and answers its report with `intact` on top. Not intact is still `200`: the check ran and found a bad
/// row (`finding`). Runs are serialised: they share the trusted-state file in the data dir.
pub(super) async fn verify(State(state): State<AppState>, p: Principal, body: Bytes) -> Result<axum::Json<Value>, ApiError> {
    p.require_admin()?;
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        VerifyRequest::default()
    } else {
        let mut de = serde_json::Deserializer::from_slice(&body);
        serde::Deserialize::deserialize(&mut de).and_then(|r| de.end().map(|()| r)).map_err(|e| {
            if e.is_data() {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", format!("invalid body: {e}")).with_field("full")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("malformed JSON: {e}"))
            }
        })?
    };
    let _running = state.verify_lock.lock().await;
    let report = state.audit.verify(req.full).await.map_err(|e| audit_error(&e))?;
    let mut body = serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?;
    if let Value::Object(m) = &mut body {
        m.insert("intact".into(), Value::Bool(report.finding.is_none()));
    }
    Ok(axum::Json(body))
}
