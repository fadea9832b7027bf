//! `GET /api/events` (history with filters and a cursor) and `GET /api/events/{id}`; the query string
//! shared with the SSE tail, the cursor codec, and how a stored event is shown.
//!
//! Both reads answer CloudEvents when asked: `GET /api/events/{id}` with
//! `Accept: application/cloudevents+json` answers one structured CloudEvent, `GET /api/events` with
//! `Accept: application/cloudevents-batch+json` (or `format=cloudevents`) a batch (a JSON array); the
//! next page of a batch is in the `Link: <...>; rel="next"` header, since a batch has no room for it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use brain_http::{ApiError, Path, Principal, Query};
use chrono::{DateTime, Utc};
use eventstream_core::codec::cloudevents;
use eventstream_core::{Event, EventId, MAX_FIELD_CHARS, Source, TenantId, TypePattern};
use eventstream_system::index::{EventFilter, IndexedEvent};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::errors;
use crate::server::AppState;

/// Default page size of `GET /api/events`.
const DEFAULT_LIMIT: u32 = 100;
/// Largest page size.
const MAX_LIMIT: u32 = 1000;
/// Most type patterns in one `type` filter.
const MAX_TYPE_PATTERNS: usize = 32;

/// The query string of `GET /api/events` and `GET /api/events/stream`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct EventQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    source: Option<String>,
    tenant: Option<String>,
    correlation_id: Option<String>,
    mission_id: Option<String>,
    task_id: Option<String>,
    actor_id: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
    pub(in crate::api) limit: Option<String>,
    pub(in crate::api) cursor: Option<String>,
    /// `json` (default) or `cloudevents`.
    format: Option<String>,
}

/// How events are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::api) enum Format {
    /// The envelope, with its `position`.
    Json,
    /// Structured CloudEvents 1.0.
    CloudEvents,
}

fn invalid_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

/// RFC 3339, naive ISO, `YYYY-MM-DD`, epoch seconds, or an age (`15m`, `2h`, `7d`), as the CLI reads them.
fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    crate::time_arg::parse_since(s, Utc::now()).map_err(|reason| invalid_query(field, format!("`{field}`: {reason}")))
}

fn id_filter(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.is_empty() || s.chars().count() > MAX_FIELD_CHARS => {
            Err(invalid_query(field, format!("`{field}` must be 1 to {MAX_FIELD_CHARS} characters")))
        }
        other => Ok(other),
    }
}

impl EventQuery {
    /// The `format` asked for; without one, CloudEvents when `accept_cloudevents` (the Accept header
    /// names the CloudEvents media type of the route).
    pub(in crate::api) fn format(&self, accept_cloudevents: bool) -> Result<Format, ApiError> {
        match self.format.as_deref() {
            None if accept_cloudevents => Ok(Format::CloudEvents),
            None | Some("json") => Ok(Format::Json),
            Some("cloudevents") => Ok(Format::CloudEvents),
            Some(_) => Err(invalid_query("format", "`format` must be `json` or `cloudevents`")),
        }
    }

    /// The filter this query asks for, scoped to what `principal` may see.
    pub(in crate::api) fn filter(&self, principal: &Principal) -> Result<EventFilter, ApiError> {
        let mut types = Vec::new();
        if let Some(t) = &self.event_type {
            for p in t.split(',').map(str::trim) {
                types.push(p.parse::<TypePattern>().map_err(|e| invalid_query("type", e.to_string()))?);
            }
            if types.len() > MAX_TYPE_PATTERNS {
                return Err(invalid_query("type", format!("at most {MAX_TYPE_PATTERNS} type patterns")));
            }
        }
        let tenant = self.tenant.as_deref().map(str::parse::<TenantId>).transpose().map_err(|e| invalid_query("tenant", e.to_string()))?;
        let tenant = principal.scope(tenant.as_ref())?;
        let source = self.source.as_deref().map(str::parse::<Source>).transpose().map_err(|e| invalid_query("source", e.to_string()))?;
        let since = self.since.as_deref().map(|s| parse_time("since", s)).transpose()?;
        let until = self.until.as_deref().map(|s| parse_time("until", s)).transpose()?;
        Ok(EventFilter {
            types,
            source,
            tenant,
            correlation_id: id_filter("correlation_id", self.correlation_id.clone())?,
            mission_id: id_filter("mission_id", self.mission_id.clone())?,
            task_id: id_filter("task_id", self.task_id.clone())?,
            actor_id: id_filter("actor_id", self.actor_id.clone())?,
            target: id_filter("target", self.target.clone())?,
            since,
            until,
        })
    }
}

/// Encodes a cursor (opaque to clients).
fn encode_cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("e1:{seq}"))
}

/// Decodes a cursor; 400 `invalid_cursor` for anything this server did not issue.
fn decode_cursor(s: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "invalid cursor: pass `next_cursor` of a previous page unchanged")
            .with_field("cursor")
    };
    if s.len() > 64 {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let seq = text.strip_prefix("e1:").and_then(|n| n.parse::<i64>().ok()).ok_or_else(bad)?;
    if seq < 0 { Err(bad()) } else { Ok(seq) }
}

/// Whether the Accept header names `media` (parameters and q-values are not weighed).
pub(in crate::api) fn accepts(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| m.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(media)))
}

/// The stored event of a row, upcast to the current schema version (`None`: stored by an older version
/// in a form this one cannot read).
pub(in crate::api) fn event_of(state: &AppState, row: &IndexedEvent) -> Option<Event> {
    let e = Event::from_json_slice(row.body.as_bytes()).ok()?;
    Some(state.catalog.upcast(e.clone()).unwrap_or(e))
}

/// An indexed event as the API shows it: the envelope (upcast to the current schema version) plus its
/// `position`.
pub(in crate::api) fn view(state: &AppState, row: &IndexedEvent) -> Value {
    let mut v = match Event::from_json_slice(row.body.as_bytes()) {
        Ok(e) => match state.catalog.upcast(e.clone()) {
            Ok(current) => current.to_json_value(),
            Err(_) => e.to_json_value(),
        },
        // Stored by an older version in a form this one cannot read: show it as stored.
        Err(_) => serde_json::from_str(&row.body).unwrap_or(Value::String(row.body.clone())),
    };
    if let Value::Object(m) = &mut v {
        m.insert("position".into(), row.position.clone().into());
    }
    v
}

/// `GET /api/events`.
pub(in crate::api) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(q): Query<EventQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter(&principal)?;
    let format = q.format(accepts(&headers, cloudevents::BATCH_CONTENT_TYPE))?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(invalid_query("limit", format!("`limit` must be an integer from 1 to {MAX_LIMIT}"))),
        },
    };
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut rows = state.index.page(&filter, after, limit + 1).await.map_err(|e| errors::store(&e))?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| encode_cursor(r.seq)) } else { None };
    if format == Format::Json {
        let events: Vec<Value> = rows.iter().map(|r| view(&state, r)).collect();
        return Ok(axum::Json(json!({"events": events, "next_cursor": next_cursor})).into_response());
    }
    // Rows this version cannot decode have no CloudEvents form; they are left out of a batch.
    let events: Vec<Event> = rows.iter().filter_map(|r| event_of(&state, r)).collect();
    let mut resp = ([(header::CONTENT_TYPE, cloudevents::BATCH_CONTENT_TYPE)], cloudevents::to_batch(&events).to_string()).into_response();
    if let Some(c) = next_cursor {
        let kept: Vec<&str> = raw.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty() && !p.starts_with("cursor=")).collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        let link = format!("</api/events?{query}cursor={c}>; rel=\"next\"");
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// `GET /api/events/{id}`: the caller's tenant's event with this id (ids are unique per tenant); 404 for
/// an unknown id or another tenant's event. An admin gets its own tenant's event, else the first indexed
/// one of any tenant.
pub(in crate::api) async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: EventId = id
        .parse()
        .map_err(|e: eventstream_core::InvalidId| ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()).with_field("id"))?;
    let tenant = principal.scope(None)?;
    let mut row = state.index.get(id.as_str(), tenant.as_ref()).await.map_err(|e| errors::store(&e))?;
    if tenant.is_none() {
        // An admin sees every tenant; ids are unique per tenant only, so its own tenant's event comes first.
        if let Some(own) = state.index.get(id.as_str(), Some(&principal.tenant)).await.map_err(|e| errors::store(&e))? {
            row = Some(own);
        }
    }
    let Some(row) = row else { return Err(ApiError::not_found(format!("no event with id `{id}`"))) };
    if !accepts(&headers, cloudevents::STRUCTURED_CONTENT_TYPE) {
        return Ok(axum::Json(view(&state, &row)).into_response());
    }
    let event = event_of(&state, &row).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "this event is stored in a form that has no CloudEvents encoding; ask for application/json",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, cloudevents::STRUCTURED_CONTENT_TYPE)], cloudevents::to_structured(&event).to_string()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)).ok(), Some(42));
        for bad in ["", "x", "!!!", "ZTE6LTE", &"A".repeat(100), "ZTE6"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
