//! `GET /api/openapi.json`: the OpenAPI 3.0 document of every route, built by hand with `serde_json`
//! (the routes are few and their shapes are written once here). A test checks it against the OpenAPI 3
//! schema and that it lists every route.

use axum::extract::State;
use brain_http::Principal;
use serde_json::{Value, json};

use crate::server::AppState;

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

/// Adds the error responses every authenticated route can give.
fn op(summary: &str, tag: &str, mut responses: serde_json::Map<String, Value>, extra: Value) -> Value {
    responses.insert("401".into(), error_response("Missing or invalid API key (`unauthorized`)"));
    responses.insert("403".into(), error_response("The key's role or tenant does not allow this (`forbidden`)"));
    responses.insert("503".into(), error_response("A backend is unavailable (`unavailable`)"));
    let mut v = json!({"summary": summary, "tags": [tag], "security": [{"bearer": []}], "responses": responses});
    if let (Value::Object(o), Value::Object(x)) = (&mut v, extra) {
        o.extend(x);
    }
    v
}

fn responses(pairs: &[(&str, Value)]) -> serde_json::Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn filter_params() -> Vec<Value> {
    let s = json!({"type": "string"});
    vec![
        query("type", "Event type: exact (`task.created`), prefix glob (`task.*`) or `*`; several separated by commas", s.clone()),
        query("source", "Exact producing component", s.clone()),
        query("tenant", "Tenant (admin keys only; others always see their own)", s.clone()),
        query("correlation_id", "Exact correlation id", s.clone()),
        query("mission_id", "Exact mission id", s.clone()),
        query("task_id", "Exact task id", s.clone()),
        query("actor_id", "Exact actor id", s.clone()),
        query("target", "Exact target agent", s.clone()),
        query("since", "Envelope timestamp at or after: RFC 3339, naive ISO, YYYY-MM-DD, epoch seconds or an age (15m, 2h, 7d)", s.clone()),
        query("until", "Envelope timestamp before: RFC 3339, naive ISO, YYYY-MM-DD, epoch seconds or an age (15m, 2h, 7d)", s),
    ]
}

/// The document.
pub(crate) fn spec() -> Value {
    let id_param = path_param("id", "Event id", json!({"type": "string", "maxLength": 128}));
    let dl_param = path_param("id", "Dead letter id", json!({"type": "integer", "minimum": 1}));
    let mut list_params = filter_params();
    list_params.push(query("limit", "Page size, 1 to 1000 (default 100)", json!({"type": "integer", "minimum": 1, "maximum": 1000})));
    list_params.push(query("cursor", "`next_cursor` of the previous page", json!({"type": "string"})));
    let mut stream_params = filter_params();
    stream_params.push(json!({"name": "Last-Event-ID", "in": "header", "required": false, "description": "Resume after this position", "schema": {"type": "string"}}));
    let obj = json!({"type": "object"});
    let bad = error_response("Invalid input (`malformed_json`, `invalid_body`, `invalid_query`, `invalid_id`, `invalid_cursor`, ...)");
    let unprocessable = error_response(
        "The event is invalid (`invalid_event`, `unknown_event_type`, `invalid_payload`, `unsupported_schema_version`, ...)",
    );
    let too_large = error_response("Body, payload or a string over its limit (`payload_too_large`)");
    let not_found = error_response("Not found, or not visible to this key's tenant (`not_found`)");
    let conflict = error_response("The dead letter is not open (`dead_letter_not_open`, `dead_letter_undecodable`)");
    let published = ok_json("Published", json!({"$ref": "#/components/schemas/Published"}));
    let republished = ok_json(
        "This tenant already published this id with the same content: the first event, nothing appended",
        json!({"$ref": "#/components/schemas/Published"}),
    );
    let duplicate =
        error_response("This tenant already published this id with different content (`duplicate_event_id`); ids are unique per tenant");
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "BRAiN EventStream API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Publish and read BRAiN events, follow them live, inspect consumers and dead letters. Every /api route needs `Authorization: Bearer KEY`; keys belong to a tenant and have a role (admin, writer, reader; metrics reads /metrics only). Errors are `{code, message, field?}` with stable codes."
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "events"}, {"name": "catalog"}, {"name": "consumers"}, {"name": "dlq"}, {"name": "audit"}, {"name": "operations"}],
        "paths": {
            "/health": {"get": {"summary": "Liveness", "tags": ["operations"], "security": [], "responses": {"200": ok_json("The process answers", obj.clone())}}},
            "/ready": {"get": {"summary": "Readiness: the event log and state store answer (`{status, checks: {log, state_store}}`, each `{status: ok|unavailable, kind}`; reasons go to the server log)", "tags": ["operations"], "security": [], "responses": {
                "200": ok_json("Ready", obj.clone()), "503": ok_json("A backend does not answer", obj.clone())}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (a `metrics` or `admin` key: the numbers span every tenant)", "tags": ["operations"], "security": [{"bearer": []}], "responses": {
                "200": {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "401": error_response("Missing or invalid key (`unauthorized`)"), "403": error_response("Not a metrics or admin key (`forbidden`)")}}},
            "/api/openapi.json": {"get": op("This document", "operations", responses(&[("200", ok_json("OpenAPI 3 document", obj.clone()))]), json!({}))},
            "/api/events": {
                "post": op("Publish an event", "events",
                    responses(&[("201", published.clone()), ("200", republished.clone()), ("409", duplicate.clone()), ("400", bad.clone()), ("413", too_large.clone()), ("415", error_response("Not JSON (`unsupported_media_type`)")), ("422", unprocessable.clone())]),
                    json!({"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PublishRequest"}}}}})),
                "get": op("Query event history, oldest first", "events",
                    responses(&[("200", ok_json("A page of events", json!({"$ref": "#/components/schemas/EventPage"}))), ("400", bad.clone())]),
                    json!({"parameters": list_params})),
            },
            "/api/events/stream": {"get": op("Live tail (Server-Sent Events)", "events",
                responses(&[("200", {
                    json!({"description": "An SSE stream: `id` = position, `event` = type, `data` = the event. It ends within seconds of the key's revocation and at the server's maximum stream lifetime; reconnect with `Last-Event-ID`", "content": {"text/event-stream": {"schema": {"type": "string"}}}})
                }), ("400", bad.clone())]),
                json!({"parameters": stream_params}))},
            "/api/events/{id}": {"get": op("One event", "events",
                responses(&[("200", ok_json("The event", json!({"$ref": "#/components/schemas/Event"}))), ("400", bad.clone()), ("404", not_found.clone())]),
                json!({"parameters": [id_param]}))},
            "/api/cloudevents": {"post": op("Publish a CloudEvents 1.0 event (structured or binary mode)", "events",
                responses(&[("201", published), ("200", republished), ("409", duplicate), ("400", bad.clone()), ("413", too_large), ("415", error_response("Neither structured nor binary mode (`unsupported_media_type`)")), ("422", unprocessable)]),
                json!({"requestBody": {"required": true, "content": {
                    "application/cloudevents+json": {"schema": {"type": "object", "required": ["specversion", "id", "source", "type"]}},
                    "application/json": {"schema": {"type": "object", "description": "Binary mode: the payload; attributes in ce-* headers"}}}}}))},
            "/api/catalog": {"get": op("Every event type with its JSON Schema", "catalog",
                responses(&[("200", ok_json("The catalog", obj.clone()))]), json!({}))},
            "/api/consumers": {"get": op("Consumers: groups, lag (admin), dead-letter counts", "consumers",
                responses(&[("200", ok_json("Consumers", json!({"type": "object", "properties": {"consumers": {"type": "array", "items": {"type": "object"}}}})))]), json!({}))},
            "/api/consumers/{name}/replay": {"post": op("Move a subscriber back and re-run it (admin)", "consumers",
                responses(&[("200", ok_json("What the replay did", obj.clone())), ("400", bad.clone()), ("404", not_found.clone()), ("422", error_response("Invalid body (`invalid_body`)"))]),
                json!({"parameters": [path_param("name", "Subscriber name", json!({"type": "string"}))],
                       "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReplayRequest"}}}}}))},
            "/api/dlq": {"get": op("Dead letters of the key's tenant", "dlq",
                responses(&[("200", ok_json("A page of dead letters", json!({"type": "object", "properties": {
                    "dead_letters": {"type": "array", "items": {"$ref": "#/components/schemas/DeadLetter"}}, "next_cursor": {"type": "string", "nullable": true}}}))), ("400", bad.clone())]),
                json!({"parameters": [
                    query("subscriber", "Subscriber name", json!({"type": "string"})),
                    query("type", "Exact event type", json!({"type": "string"})),
                    query("status", "open, retried or discarded", json!({"type": "string", "enum": ["open", "retried", "discarded"]})),
                    query("tenant", "Tenant (admin keys only)", json!({"type": "string"})),
                    query("limit", "Page size, 1 to 1000 (default 100)", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
                    query("cursor", "`next_cursor` of the previous page", json!({"type": "string"}))]}))},
            "/api/audit": {"get": op("Browse the audit log (tenant-filtered; admins may pass tenant)", "audit",
                responses(&[("200", ok_json("A page of audit rows and next_cursor", obj.clone())), ("400", bad.clone()), ("403", error_response("Another tenant's tree (`forbidden`)"))]),
                json!({"parameters": [
                    query("type", "Exact event type", json!({"type": "string"})),
                    query("tenant", "Tenant (admin keys only)", json!({"type": "string"})),
                    query("since", "RFC 3339, a date or an age such as 15m", json!({"type": "string"})),
                    query("until", "RFC 3339, a date or an age", json!({"type": "string"})),
                    query("limit", "Page size, 1 to 1000 (default 100)", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
                    query("cursor", "`next_cursor` of the previous page", json!({"type": "string"}))]}))},
            "/api/audit/checkpoint": {"get": op("The latest signed checkpoint (C2SP tlog-checkpoint signed note) of the global tree or, with tenant, a tenant's tree", "audit",
                responses(&[("200", {let mut r = serde_json::Map::new(); r.insert("description".into(), json!("Signed note")); r.insert("content".into(), json!({"text/plain": {"schema": {"type": "string"}}})); Value::Object(r)}), ("403", error_response("Another tenant's tree (`forbidden`)")), ("404", not_found.clone())]),
                json!({"parameters": [query("tenant", "Tenant tree (non-admin keys: their own only)", json!({"type": "string"}))]}))},
            "/api/audit/key": {"get": op("The checkpoint verifier key (C2SP vkey: name+hex key id+base64(0x01||Ed25519 key))", "audit",
                responses(&[("200", {let mut r = serde_json::Map::new(); r.insert("description".into(), json!("Verifier key")); r.insert("content".into(), json!({"text/plain": {"schema": {"type": "string"}}})); Value::Object(r)})]),
                json!({}))},
            "/api/audit/proof/inclusion": {"get": op("RFC 6962 inclusion proof of an event, with the signed checkpoint of that tree size", "audit",
                responses(&[("200", ok_json("{leaf_index, tree_size, leaf, hashes, checkpoint}", obj.clone())), ("400", bad.clone()), ("403", error_response("Another tenant's tree (`forbidden`)")), ("404", not_found.clone()), ("410", error_response("The event's bytes were pruned (`pruned`)"))]),
                json!({"parameters": [
                    query("event_id", "The event id", json!({"type": "string", "maxLength": 128})),
                    query("tree_size", "Tree size to prove against (default: the latest checkpoint)", json!({"type": "integer", "minimum": 1})),
                    query("tenant", "Tenant tree", json!({"type": "string"}))]}))},
            "/api/audit/proof/consistency": {"get": op("RFC 6962 consistency proof between two tree sizes", "audit",
                responses(&[("200", ok_json("{from, to, hashes}", obj.clone())), ("400", bad.clone()), ("403", error_response("Another tenant's tree (`forbidden`)"))]),
                json!({"parameters": [
                    query("from", "Older tree size", json!({"type": "integer", "minimum": 1})),
                    query("to", "Newer tree size", json!({"type": "integer", "minimum": 1})),
                    query("tenant", "Tenant tree", json!({"type": "string"}))]}))},
            "/api/audit/verify": {"post": op("Run the audit verification of `brain audit verify` (admin); 200 with the report whether intact or not", "audit",
                responses(&[("200", ok_json("{intact, full, escalated, rows_checked, tree_size, checkpoints_checked, pruned_rows, trusted_size, finding: null | {class, tree, index, other, detail}}", obj.clone())),
                    ("400", bad.clone()), ("403", error_response("Not an admin key (`forbidden`)")), ("422", error_response("Invalid body (`invalid_body`)"))]),
                json!({"requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                    "properties": {"full": {"type": "boolean", "default": false, "description": "Rehash every row from the first one (default: incremental from the last trusted checkpoint)"}}}}}}}))},
            "/api/dlq/retry": {"post": op("Retry many dead letters (writer): one result per id, `status` or `error` {code, message}", "dlq",
                responses(&[("200", ok_json("{done, failed, results}", obj.clone())), ("400", bad.clone()), ("422", error_response("Invalid body (`invalid_body`)"))]),
                json!({"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BulkIds"}}}}}))},
            "/api/dlq/discard": {"post": op("Discard many dead letters (writer): one result per id, `status` or `error` {code, message}", "dlq",
                responses(&[("200", ok_json("{done, failed, results}", obj.clone())), ("400", bad.clone()), ("422", error_response("Invalid body (`invalid_body`)"))]),
                json!({"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BulkIds"}}}}}))},
            "/api/stats": {"get": op("The dashboard's gauges: dead letters (tenant), outbox, subscribers and counts by type (admin)", "operations",
                responses(&[("200", ok_json("{backend, stream, dead_letters, outbox, subscribers, events_seen_by_type}", obj.clone()))]), json!({}))},
            "/api/stats/series": {"get": op("Time series sampled by the server (admin): events/s by module, lag per subscriber, open dead letters, outbox depth", "operations",
                responses(&[("200", ok_json("{window, interval_seconds, resolution_seconds, from, to, samples: [{t, span_seconds, rates, lag, dead_letters_open, outbox_depth}]}", obj.clone())),
                    ("400", bad.clone()), ("403", error_response("Not an admin key (`forbidden`)"))]),
                json!({"parameters": [query("window", "15m, 1h (default; samples every 5 s) or 24h (one-minute buckets)", json!({"type": "string", "enum": ["15m", "1h", "24h"]}))]}))},
            "/api/stats/series/stream": {"get": op("Each new sample of the time series as Server-Sent Events (`event: sample`, admin); also takes `?access_token=`", "operations",
                responses(&[("200", {let mut r = serde_json::Map::new(); r.insert("description".into(), json!("SSE stream")); r.insert("content".into(), json!({"text/event-stream": {"schema": {"type": "string"}}})); Value::Object(r)}),
                    ("403", error_response("Not an admin key (`forbidden`)")), ("429", error_response("Too many open streams (`too_many_streams`)"))]),
                json!({}))},
            "/api/dlq/{id}": {"get": op("One dead letter", "dlq",
                responses(&[("200", ok_json("The dead letter", json!({"$ref": "#/components/schemas/DeadLetter"}))), ("400", bad.clone()), ("404", not_found.clone())]),
                json!({"parameters": [dl_param.clone()]}))},
            "/api/dlq/{id}/retry": {"post": op("Re-deliver a dead letter to its subscriber (writer)", "dlq",
                responses(&[("200", ok_json("Retried", obj.clone())), ("400", bad.clone()), ("404", not_found.clone()), ("409", conflict.clone())]),
                json!({"parameters": [dl_param.clone()]}))},
            "/api/dlq/{id}/discard": {"post": op("Discard a dead letter (writer)", "dlq",
                responses(&[("200", ok_json("Discarded", json!({"$ref": "#/components/schemas/DeadLetter"}))), ("400", bad), ("404", not_found), ("409", conflict)]),
                json!({"parameters": [dl_param]}))},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key from `brain keys create`"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable code"},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The field, parameter or JSON pointer at fault"}}},
                "Published": {"type": "object", "required": ["id", "position", "type"], "properties": {
                    "id": {"type": "string"}, "position": {"type": "string"}, "type": {"type": "string"},
                    "warnings": {"type": "array", "items": {"type": "object"}}}},
                "PublishRequest": {"type": "object", "additionalProperties": false, "required": ["type"], "properties": {
                    "id": {"type": "string", "format": "uuid", "description": "Default: a new UUIDv7"},
                    "type": {"type": "string", "example": "task.created"},
                    "source": {"type": "string", "description": "Default: the catalog's producer for the type"},
                    "target": {"type": "string"},
                    "timestamp": {"type": "string", "format": "date-time", "description": "Default: now"},
                    "payload": {"type": "object", "description": "Checked against the type's schema"},
                    "mission_id": {"type": "string"}, "task_id": {"type": "string"}, "correlation_id": {"type": "string"},
                    "causation_id": {"type": "string"}, "actor_id": {"type": "string"},
                    "tenant_id": {"type": "string", "description": "Default and, for non-admin keys, required value: the key's tenant"},
                    "severity": {"type": "string", "enum": ["INFO", "WARNING", "ERROR", "CRITICAL"]},
                    "meta": {"type": "object", "description": "Default: schema version, producer and module from the catalog"}}},
                "Event": {"type": "object", "required": ["id", "type", "source", "timestamp", "payload", "meta"], "properties": {
                    "id": {"type": "string"}, "type": {"type": "string"}, "source": {"type": "string"},
                    "target": {"type": "string", "nullable": true}, "timestamp": {"type": "string", "format": "date-time"},
                    "payload": {"type": "object"}, "mission_id": {"type": "string", "nullable": true},
                    "task_id": {"type": "string", "nullable": true}, "correlation_id": {"type": "string", "nullable": true},
                    "causation_id": {"type": "string", "nullable": true}, "tenant_id": {"type": "string", "nullable": true},
                    "actor_id": {"type": "string", "nullable": true},
                    "severity": {"type": "string", "nullable": true, "enum": ["INFO", "WARNING", "ERROR", "CRITICAL", null]},
                    "meta": {"type": "object", "required": ["schema_version", "producer", "source_module"]},
                    "position": {"type": "string", "description": "Position in the log"}}},
                "EventPage": {"type": "object", "required": ["events", "next_cursor"], "properties": {
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                    "next_cursor": {"type": "string", "nullable": true, "description": "null on the last page"}}},
                "ReplayRequest": {"type": "object", "additionalProperties": false, "required": ["from"], "properties": {
                    "from": {"oneOf": [{"type": "string", "description": "start, end, an RFC 3339 time or a position"}, {"type": "integer"}]},
                    "reprocess": {"type": "boolean", "default": false}}},
                "BulkIds": {"type": "object", "additionalProperties": false, "required": ["ids"], "properties": {
                    "ids": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "integer", "minimum": 1}}}},
                "DeadLetter": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "subscriber": {"type": "string"}, "stream_name": {"type": "string"},
                    "stream_message_id": {"type": "string"}, "event_id": {"type": "string"},
                    "event_type": {"type": "string", "nullable": true}, "tenant_id": {"type": "string", "nullable": true},
                    "event": {"description": "The stored envelope (JSON, or the raw entry as text)"},
                    "error": {"type": "string"}, "kind": {"type": "string", "enum": ["transient_exhausted", "permanent", "undecodable"]},
                    "attempts": {"type": "integer"}, "first_failed_at": {"type": "string", "format": "date-time"},
                    "last_failed_at": {"type": "string", "format": "date-time"},
                    "status": {"type": "string", "enum": ["open", "retried", "discarded"]},
                    "resolved_at": {"type": "string", "format": "date-time", "nullable": true}}}
            }
        }
    })
}

/// Adds the modules' routes ([`brain_modules::routes::ROUTES`]) to the document: path parameters from the
/// `{param}` segments, a JSON body for `post`, `put` and `patch`, JSON answers and the module error codes.
fn add_module_routes(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for route in brain_modules::routes::ROUTES {
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| path_param(name, "Identifier: 1 to 128 characters", json!({"type": "string", "maxLength": 128})))
            .collect();
        let mut extra = json!({"parameters": params});
        if matches!(route.method, "post" | "put" | "patch") {
            extra["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        let rs = responses(&[
            ("200", ok_json("Success (201 for creations)", json!({"type": "object"}))),
            ("400", error_response("Invalid input (`invalid_path`, `invalid_query`, `malformed_json`, `invalid_correlation_id`, ...)")),
            ("404", error_response("Unknown id for this tenant (`*_not_found`)")),
            ("409", error_response("Conflict with the current state (`illegal_transition`, `insufficient_credits`, ...)")),
            ("422", error_response("A value out of range or a missing field (`validation_failed`, `invalid_body`)")),
        ]);
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        entry[route.method] = op(route.summary, route.module, rs, extra);
    }
}

/// `GET /api/openapi.json`.
pub(super) async fn document(State(_state): State<AppState>, _principal: Principal) -> axum::Json<Value> {
    let mut doc = spec();
    add_module_routes(&mut doc);
    axum::Json(doc)
}
