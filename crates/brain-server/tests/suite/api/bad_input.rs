//! Bad input: each case is a 4xx with its stable code (and field where one is at fault), never a 5xx.

use reqwest::Method;
use serde_json::{Value, json};

use crate::suite::helpers::{TestApp, send, task_event};

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: body.as_ref().map(|_| "application/json"),
        body: body.map(|b| b.to_string().into_bytes()),
        status,
        code,
        field,
    }
}

fn raw(name: &'static str, path: &str, content_type: Option<&'static str>, body: &[u8], status: u16, code: &'static str) -> Case {
    Case { name, method: Method::POST, path: path.to_owned(), content_type, body: Some(body.to_vec()), status, code, field: None }
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

#[tokio::test]
async fn bad_inputs_get_4xx_with_stable_codes() {
    let api = TestApp::start().await;
    let writer = api.key("acme", "writer").await;
    let ok = task_event("t1");
    let big_string = "x".repeat(70 * 1024);
    let huge = format!("{{\"type\":\"task.created\",\"payload\":{{\"blob\":\"{}\"}}}}", "y".repeat(1_100_000));
    let mut deep = json!("leaf");
    for _ in 0..40 {
        deep = json!({"d": deep});
    }
    let cases = vec![
        raw("malformed JSON", "/api/events", Some("application/json"), b"{\"type\": ", 400, "malformed_json"),
        raw("not JSON at all", "/api/events", Some("application/json"), b"hello", 400, "malformed_json"),
        raw("no content type", "/api/events", None, ok.to_string().as_bytes(), 415, "unsupported_media_type"),
        raw("oversized body", "/api/events", Some("application/json"), huge.as_bytes(), 413, "payload_too_large"),
        case("body is an array", Method::POST, "/api/events", Some(json!([1, 2])), 422, "invalid_body", None),
        case("type is a number", Method::POST, "/api/events", Some(with(ok.clone(), "type", json!(5))), 422, "invalid_body", Some("type")),
        case(
            "payload is a string",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "payload", json!("x"))),
            422,
            "invalid_body",
            Some("payload"),
        ),
        case("missing type", Method::POST, "/api/events", Some(json!({"payload": {}})), 422, "invalid_body", None),
        case(
            "unknown envelope field",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "colour", json!("red"))),
            422,
            "invalid_body",
            None,
        ),
        case(
            "invalid type syntax",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "type", json!("Task Created"))),
            422,
            "invalid_event",
            Some("type"),
        ),
        case(
            "unknown event type",
            Method::POST,
            "/api/events",
            Some(json!({"type": "nosuch.thing", "source": "s", "payload": {}})),
            422,
            "unknown_event_type",
            Some("/type"),
        ),
        case(
            "invalid payload",
            Method::POST,
            "/api/events",
            Some(json!({"type": "task.created", "payload": {"task_id": 5}})),
            422,
            "invalid_payload",
            None,
        ),
        case(
            "invalid enum value",
            Method::POST,
            "/api/events",
            Some(json!({"type": "task.created", "payload": {"task_id": "t", "mission_type": "m", "priority": "URGENT"}})),
            422,
            "invalid_payload",
            Some("/payload/priority"),
        ),
        case(
            "invalid UUID id",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "id", json!("not-a-uuid"))),
            422,
            "invalid_event",
            Some("id"),
        ),
        case(
            "invalid timestamp",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "timestamp", json!("yesterday"))),
            422,
            "invalid_event",
            Some("timestamp"),
        ),
        case(
            "invalid severity",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "severity", json!("LOUD"))),
            422,
            "invalid_event",
            Some("severity"),
        ),
        case(
            "invalid tenant",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "tenant_id", json!("a b"))),
            422,
            "invalid_event",
            Some("tenant_id"),
        ),
        case(
            "overlong correlation id",
            Method::POST,
            "/api/events",
            Some(with(ok.clone(), "correlation_id", json!("c".repeat(300)))),
            422,
            "invalid_event",
            Some("correlation_id"),
        ),
        case(
            "overlong payload string",
            Method::POST,
            "/api/events",
            Some(json!({"type": "task.created", "payload": {"task_id": "t", "mission_type": "m", "priority": "LOW", "note": big_string}})),
            413,
            "payload_too_large",
            Some("/payload/note"),
        ),
        case(
            "payload too deep",
            Method::POST,
            "/api/events",
            Some(json!({"type": "task.created", "payload": {"task_id": "t", "mission_type": "m", "priority": "LOW", "deep": deep}})),
            422,
            "payload_too_deep",
            None,
        ),
        case("unknown query parameter", Method::GET, "/api/events?colour=red", None, 400, "invalid_query", Some("colour")),
        case("invalid cursor", Method::GET, "/api/events?cursor=garbage", None, 400, "invalid_cursor", Some("cursor")),
        case("forged cursor", Method::GET, "/api/events?cursor=ZTE6LTE", None, 400, "invalid_cursor", Some("cursor")),
        case("limit too large", Method::GET, "/api/events?limit=5000", None, 400, "invalid_query", Some("limit")),
        case("limit not a number", Method::GET, "/api/events?limit=ten", None, 400, "invalid_query", Some("limit")),
        case("invalid type pattern", Method::GET, "/api/events?type=TASK*", None, 400, "invalid_query", Some("type")),
        case("invalid since", Method::GET, "/api/events?since=soon", None, 400, "invalid_query", Some("since")),
        case("overlong event id", Method::GET, &format!("/api/events/{}", "e".repeat(200)), None, 400, "invalid_id", Some("id")),
        case("unknown event id", Method::GET, "/api/events/01900000-0000-7000-8000-000000000000", None, 404, "not_found", None),
        case("stream with cursor", Method::GET, "/api/events/stream?cursor=x", None, 400, "invalid_query", Some("cursor")),
        case("dead letter id not a number", Method::GET, "/api/dlq/abc", None, 400, "invalid_id", Some("id")),
        case("dead letter id negative", Method::POST, "/api/dlq/-1/retry", Some(json!({})), 400, "invalid_id", Some("id")),
        case(
            "dead letter id overflow",
            Method::POST,
            "/api/dlq/99999999999999999999/discard",
            Some(json!({})),
            400,
            "invalid_id",
            Some("id"),
        ),
        case("unknown dead letter", Method::GET, "/api/dlq/424242", None, 404, "not_found", None),
        case("invalid dlq status", Method::GET, "/api/dlq?status=lost", None, 400, "invalid_query", Some("status")),
        case("invalid dlq cursor", Method::GET, "/api/dlq?cursor=x", None, 400, "invalid_cursor", Some("cursor")),
        case("unknown route", Method::GET, "/api/nothing", None, 404, "not_found", None),
        case("wrong method", Method::DELETE, "/api/events", None, 405, "method_not_allowed", None),
        raw("cloudevent without mode", "/api/cloudevents", Some("text/plain"), b"hi", 415, "unsupported_media_type"),
        raw("malformed cloudevent", "/api/cloudevents", Some("application/cloudevents+json"), b"{", 400, "malformed_json"),
        raw(
            "cloudevent without specversion",
            "/api/cloudevents",
            Some("application/cloudevents+json"),
            br#"{"id":"1","source":"/brain/x","type":"task.created"}"#,
            422,
            "invalid_cloudevent",
        ),
        raw(
            "cloudevent of unknown type",
            "/api/cloudevents",
            Some("application/cloudevents+json"),
            br#"{"specversion":"1.0","id":"1","source":"/brain/x","type":"nosuch.thing","data":{}}"#,
            422,
            "unknown_event_type",
        ),
    ];
    for c in &cases {
        let mut r = api.req(c.method.clone(), &c.path, Some(&writer));
        if let Some(ct) = c.content_type {
            r = r.header("content-type", ct);
        }
        if let Some(b) = &c.body {
            r = r.body(b.clone());
        }
        let (status, v) = send(r).await;
        assert!(status < 500, "{}: a 5xx: {status} {v}", c.name);
        assert_eq!((status, v["code"].as_str()), (c.status, Some(c.code)), "{}: {v}", c.name);
        if let Some(f) = c.field {
            assert_eq!(v["field"].as_str(), Some(f), "{}: {v}", c.name);
        }
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{}: a message for people", c.name);
    }
    // Admin-only replay: bad bodies are still 4xx.
    for (body, code) in
        [(json!({"from": true}), "invalid_body"), (json!({"from": "start", "extra": 1}), "invalid_body"), (json!({}), "invalid_body")]
    {
        let (status, v) = api.post("/api/consumers/event_index/replay", &api.admin, &body).await;
        assert_eq!((status, v["code"].as_str()), (422, Some(code)), "{body}: {v}");
    }
    let (status, v) = api.post("/api/consumers/bad%20name/replay", &api.admin, &json!({"from": "start"})).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("invalid_id")), "{v}");
    // The server is still healthy after all of it.
    let (status, _) = api.get("/api/events", &writer).await;
    assert_eq!(status, 200);
}

/// Ages and times out of the representable range are 400 `invalid_query` naming the field (a 422 on the
/// replay body), never a panic that drops the connection, on every route that takes a time.
#[tokio::test]
async fn out_of_range_times_are_4xx_on_every_route_that_takes_one() {
    let api = TestApp::start().await;
    for value in ["100000000d", "9999999999999h", "-999999999999d", "99999999999999999999s", "99999999999999"] {
        for field in ["since", "until"] {
            for route in ["/api/events", "/api/events/stream", "/api/audit"] {
                let path = format!("{route}?{field}={value}");
                let (status, v) = api.get(&path, &api.admin).await;
                assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (400, Some("invalid_query"), Some(field)), "{path}: {v}");
            }
        }
        if value.bytes().all(|b| b.is_ascii_digit()) {
            continue; // a position to a replay, not a time
        }
        let (status, v) = api.post("/api/consumers/event_index/replay", &api.admin, &json!({"from": value})).await;
        assert_eq!((status, v["field"].as_str()), (422, Some("from")), "replay from {value}: {v}");
    }
    // The server is still serving.
    let (status, _) = api.get("/api/events?since=15m", &api.admin).await;
    assert_eq!(status, 200);
}
