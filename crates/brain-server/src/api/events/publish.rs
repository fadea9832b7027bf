//! `POST /api/events` (publish) and the publishing path shared with CloudEvents: the request body, the
//! defaults the server fills in, role and tenant checks, then ingest, append and index.
//!
//! # Event ids are unique per tenant
//! An id names one event of one tenant; another tenant may use the same id for its own event, and both
//! are indexed and processed. A publish that repeats an id of its own tenant is a producer's retry: with
//! the same content (every envelope field but `timestamp`, which the server fills when left out) it is
//! answered 200 with the first event's position and appends nothing; with different content it is 409
//! `duplicate_event_id`. The check reads the index of the caller's tenant only, so it says nothing
//! about other tenants' ids. (Two concurrent first publishes of one id can both be appended; the index
//! and every inbox keep the first, as for a producer that retries through the log directly.)

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brain_events::Warning;
use brain_http::{ApiError, Json, Principal};
use chrono::Utc;
use eventstream_core::{Event, EventId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::errors;
use crate::api::ingest::ingest;
use crate::server::AppState;

/// The body of `POST /api/events`: an envelope without the parts the server fills in. `id` (a UUID,
/// default a new UUIDv7), `timestamp` (default now), `source` and `meta` (default from the catalog) may be
/// given; unknown fields are rejected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct PublishRequest {
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
            meta.extend(given);
        }
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

/// What a successful publish answers.
pub(in crate::api) struct Published {
    pub(in crate::api) event: Event,
    pub(in crate::api) position: String,
    pub(in crate::api) warnings: Vec<Warning>,
    /// The event was already published (a same-content retry): 200 instead of 201, nothing appended.
    pub(in crate::api) replayed: bool,
}

impl IntoResponse for Published {
    fn into_response(self) -> Response {
        let status = if self.replayed { StatusCode::OK } else { StatusCode::CREATED };
        let mut body = json!({"id": self.event.id, "position": self.position, "type": self.event.event_type});
        if !self.warnings.is_empty() {
            body["warnings"] = serde_json::to_value(&self.warnings).unwrap_or(Value::Null);
        }
        (status, axum::Json(body)).into_response()
    }
}

/// The publishing path of the API: role, tenant, then [`ingest`] (limits, envelope checks, catalog
/// validation), append, index.
///
/// The tenant of the event is the key's. A non-admin key that names another tenant gets 403; an admin
/// may publish for any tenant (default: its own).
pub(in crate::api) async fn publish_checked(state: &AppState, principal: &Principal, mut event: Event) -> Result<Published, ApiError> {
    principal.require_writer()?;
    match &event.tenant_id {
        None => event.tenant_id = Some(principal.tenant.clone()),
        Some(t) if *t == principal.tenant || principal.is_admin() => {}
        Some(_) => return Err(ApiError::forbidden("a key may only publish events of its own tenant").with_field("tenant_id")),
    }
    let (event, warnings) = ingest(&state.catalog, state.validation, event)?;
    if let Some(first) = already_published(state, &event).await? {
        return Ok(Published { event, position: first, warnings, replayed: true });
    }
    // The request's trace context, unless the event brought its own (a CloudEvent's `traceparent`).
    let mut event = event;
    eventstream::trace::stamp(&mut event);
    let started = Instant::now();
    let receipt = state.events.publish(event.clone()).await.map_err(|e| errors::publish(&e))?;
    state.metrics.observe_publish(event.event_type.as_str(), started.elapsed());
    if let Err(e) = state.index.insert_published(&receipt.position, &event).await {
        // The index subscriber will add it; only read-your-writes is delayed.
        tracing::warn!(error = %e, event_id = %event.id, "cannot index a published event now");
    }
    Ok(Published { event, position: receipt.position.to_string(), warnings, replayed: false })
}

/// The position of the event of `event`'s tenant with `event`'s id, when one was already published with
/// the same content (see the module doc).
///
/// # Errors
/// 409 `duplicate_event_id` when the tenant's event with this id differs; the store's error.
async fn already_published(state: &AppState, event: &Event) -> Result<Option<String>, ApiError> {
    let Some(row) = state.index.get(event.id.as_str(), event.tenant_id.as_ref()).await.map_err(|e| errors::store(&e))? else {
        return Ok(None);
    };
    let content = |e: &Event| {
        let mut v = e.to_json_value();
        if let Value::Object(m) = &mut v {
            m.remove("timestamp");
            // A retry comes with another request's trace context.
            if let Some(Value::Object(meta)) = m.get_mut("meta") {
                meta.remove(eventstream_core::trace::META_TRACEPARENT);
                meta.remove(eventstream_core::trace::META_TRACESTATE);
            }
        }
        v
    };
    let same = Event::from_json_slice(row.body.as_bytes()).is_ok_and(|first| content(&first) == content(event));
    if !same {
        return Err(ApiError::conflict(
            "duplicate_event_id",
            format!("an event with id `{}` was already published with different content; use a new id", event.id),
        )
        .with_field("id"));
    }
    Ok(Some(row.position))
}

/// `POST /api/events`.
pub(in crate::api) async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<PublishRequest>,
) -> Result<Published, ApiError> {
    principal.require_writer()?;
    let event = req.into_event(&state)?;
    publish_checked(&state, &principal, event).await
}
