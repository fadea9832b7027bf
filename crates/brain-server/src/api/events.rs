//! `POST /api/events` (publish), `GET /api/events` (history with filters and a cursor),
//! `GET /api/events/{id}`; and the publishing path shared with CloudEvents.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use brain_events::Warning;
use brain_http::{ApiError, Json, Path, Principal, Query};
use chrono::{DateTime, Utc};
use eventstream_core::{Event, EventId, MAX_FIELD_CHARS, Source, TenantId, TypePattern};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::errors;
use eventstream_system::index::{EventFilter, IndexedEvent};
use crate::server::AppState;

/// The largest event payload, serialised (512 KiB).
pub(crate) const MAX_PAYLOAD_BYTES: usize = 512 * 1024;
/// The longest string inside a payload, in characters.
pub(crate) const MAX_STRING_CHARS: usize = 64 * 1024;
/// The deepest nesting of a payload.
const MAX_DEPTH: usize = 32;
/// The largest `meta`, serialised.
const MAX_META_BYTES: usize = 16 * 1024;
/// Default page size of `GET /api/events`.
const DEFAULT_LIMIT: u32 = 100;
/// Largest page size.
const MAX_LIMIT: u32 = 1000;
/// Most type patterns in one `type` filter.
const MAX_TYPE_PATTERNS: usize = 32;

/// The body of `POST /api/events`: an envelope without the parts the server fills in. `id` (a UUID,
/// default a new UUIDv7), `timestamp` (default now), `source` and `meta` (default from the catalog) may be
/// given; unknown fields are rejected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PublishRequest {
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    source: Option<String>,
    target: Option<String>,
    timestamp: Option<Value>,
    #[serde(default)]
    payload: Map<String, Value>,
    mission_id: Option<String>,
    task_id: Option<String>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    tenant_id: Option<String>,
    actor_id: Option<String>,
    severity: Option<String>,
    meta: Option<Map<String, Value>>,
}

fn invalid_event(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", message).with_field(field)
}

impl PublishRequest {
    /// Builds the envelope: fills id, timestamp, source and meta, then decodes it with the envelope's
    /// own rules (which name the offending field).
    fn into_event(self, state: &AppState) -> Result<Event, ApiError> {
        let event_type: eventstream_core::EventType =
            self.event_type.parse().map_err(|e: eventstream_core::InvalidId| invalid_event("type", e.to_string()))?;
        let entry = state.catalog.get(event_type.as_str());
        let id = match self.id {
            None => EventId::new().to_string(),
            Some(id) => {
                // Ids made here are UUIDs; a producer that retries sends the id it was given back.
                let ok = uuid::Uuid::try_parse(&id).is_ok_and(|u| u.hyphenated().to_string() == id.to_ascii_lowercase());
                if !ok {
                    return Err(invalid_event("id", "must be a UUID (8-4-4-4-12 hex digits); leave it out to get a new UUIDv7"));
                }
                id
            }
        };
        let source = match (self.source, entry) {
            (Some(s), _) => s,
            (None, Some(entry)) => entry.source.to_owned(),
            (None, None) => return Err(invalid_event("source", "is required for a type the catalog does not list")),
        };
        let mut meta = Map::new();
        meta.insert("schema_version".into(), entry.map_or(1, |e| e.schema_version).into());
        meta.insert("producer".into(), source.clone().into());
        meta.insert("source_module".into(), entry.map_or_else(|| event_type.namespace().to_owned(), |e| e.module.to_owned()).into());
        if let Some(given) = self.meta {
            if Value::Object(given.clone()).to_string().len() > MAX_META_BYTES {
                return Err(ApiError::payload_too_large(format!("meta is larger than {MAX_META_BYTES} bytes")).with_field("meta"));
            }
            meta.extend(given);
        }
        check_payload(&self.payload)?;
        let mut env = Map::new();
        env.insert("id".into(), id.into());
        env.insert("type".into(), event_type.as_str().into());
        env.insert("source".into(), source.into());
        env.insert("timestamp".into(), self.timestamp.unwrap_or_else(|| eventstream_core::format_timestamp(&Utc::now()).into()));
        env.insert("payload".into(), Value::Object(self.payload));
        env.insert("meta".into(), Value::Object(meta));
        let optional = [
            ("target", self.target),
            ("mission_id", self.mission_id),
            ("task_id", self.task_id),
            ("correlation_id", self.correlation_id),
            ("causation_id", self.causation_id),
            ("tenant_id", self.tenant_id),
            ("actor_id", self.actor_id),
            ("severity", self.severity),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                env.insert(k.into(), v.into());
            }
        }
        Event::from_json_value(Value::Object(env)).map_err(|e| invalid_event(&e.field, e.to_string()))
    }
}

/// Size limits on a payload: total bytes, string lengths, nesting depth.
fn check_payload(payload: &Map<String, Value>) -> Result<(), ApiError> {
    fn walk(v: &Value, path: &mut String, depth: usize) -> Result<(), ApiError> {
        if depth > MAX_DEPTH {
            return Err(ApiError::invalid(path.clone(), format!("nested deeper than {MAX_DEPTH} levels")).with_code("payload_too_deep"));
        }
        match v {
            Value::String(s) if s.chars().count() > MAX_STRING_CHARS => {
                Err(ApiError::payload_too_large(format!("a string is longer than {MAX_STRING_CHARS} characters")).with_field(path.clone()))
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    walk(item, path, depth + 1)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(m) => {
                for (k, item) in m {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(item, path, depth + 1)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    let bytes = Value::Object(payload.clone()).to_string().len();
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(
            ApiError::payload_too_large(format!("the payload is {bytes} bytes; at most {MAX_PAYLOAD_BYTES}")).with_field("/payload")
        );
    }
    let mut path = String::from("/payload");
    for (k, v) in payload {
        let len = path.len();
        path.push('/');
        path.push_str(&k.replace('~', "~0").replace('/', "~1"));
        walk(v, &mut path, 1)?;
        path.truncate(len);
    }
    Ok(())
}

/// Extension: replace an error's code (for the rare status whose code differs from the helper's).
trait WithCode {
    fn with_code(self, code: &'static str) -> Self;
}

impl WithCode for ApiError {
    fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

/// What a successful publish answers.
pub(super) struct Published {
    pub(super) event: Event,
    pub(super) position: String,
    pub(super) warnings: Vec<Warning>,
}

impl IntoResponse for Published {
    fn into_response(self) -> Response {
        let mut body = json!({"id": self.event.id, "position": self.position, "type": self.event.event_type});
        if !self.warnings.is_empty() {
            body["warnings"] = serde_json::to_value(&self.warnings).unwrap_or(Value::Null);
        }
        (StatusCode::CREATED, axum::Json(body)).into_response()
    }
}

/// The publishing path of the API: role, tenant, catalog validation, append, index.
///
/// The tenant of the event is the key's. A non-admin key that names another tenant gets 403; an admin
/// may publish for any tenant (default: its own).
pub(super) async fn publish_checked(state: &AppState, principal: &Principal, mut event: Event) -> Result<Published, ApiError> {
    principal.require_writer()?;
    match &event.tenant_id {
        None => event.tenant_id = Some(principal.tenant.clone()),
        Some(t) if *t == principal.tenant || principal.is_admin() => {}
        Some(_) => return Err(ApiError::forbidden("a key may only publish events of its own tenant").with_field("tenant_id")),
    }
    check_payload(&event.payload)?;
    let warnings = state
        .catalog
        .validate(&event, state.validation)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()).with_field(e.pointer()))?;
    let started = Instant::now();
    let receipt = state.events.publish(event.clone()).await.map_err(|e| errors::publish(&e))?;
    state.metrics.observe_publish(event.event_type.as_str(), started.elapsed());
    if let Err(e) = state.index.insert_published(&receipt.position, &event).await {
        // The index subscriber will add it; only read-your-writes is delayed.
        tracing::warn!(error = %e, event_id = %event.id, "cannot index a published event now");
    }
    Ok(Published { event, position: receipt.position.to_string(), warnings })
}

/// `POST /api/events`.
pub(super) async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<PublishRequest>,
) -> Result<Published, ApiError> {
    principal.require_writer()?;
    let event = req.into_event(&state)?;
    publish_checked(&state, &principal, event).await
}

/// The query string of `GET /api/events` and `GET /api/events/stream`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventQuery {
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
    pub(super) limit: Option<String>,
    pub(super) cursor: Option<String>,
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
    /// The filter this query asks for, scoped to what `principal` may see.
    pub(super) fn filter(&self, principal: &Principal) -> Result<EventFilter, ApiError> {
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

/// An indexed event as the API shows it: the envelope (upcast to the current schema version) plus its
/// `position`.
pub(super) fn view(state: &AppState, row: &IndexedEvent) -> Value {
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
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<EventQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let filter = q.filter(&principal)?;
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
    let events: Vec<Value> = rows.iter().map(|r| view(&state, r)).collect();
    Ok(axum::Json(json!({"events": events, "next_cursor": next_cursor})))
}

/// `GET /api/events/{id}`: 404 for an unknown id or another tenant's event.
pub(super) async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let id: EventId = id
        .parse()
        .map_err(|e: eventstream_core::InvalidId| ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string()).with_field("id"))?;
    let tenant = principal.scope(None)?;
    let row = state.index.get(id.as_str(), tenant.as_ref()).await.map_err(|e| errors::store(&e))?;
    match row {
        Some(r) => Ok(axum::Json(view(&state, &r))),
        None => Err(ApiError::not_found(format!("no event with id `{id}`"))),
    }
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

    #[test]
    fn payload_limits_name_the_field() {
        let mut p = Map::new();
        p.insert("note".into(), "x".repeat(MAX_STRING_CHARS + 1).into());
        let e = check_payload(&p).err().map(|e| (e.code, e.field));
        assert_eq!(e, Some(("payload_too_large", Some("/payload/note".into()))));
        let mut deep = Value::Null;
        for _ in 0..40 {
            deep = json!([deep]);
        }
        let mut p = Map::new();
        p.insert("d".into(), deep);
        assert_eq!(check_payload(&p).err().map(|e| e.code), Some("payload_too_deep"));
    }
}
