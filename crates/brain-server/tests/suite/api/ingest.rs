//! One way in: `POST /api/events`, `POST /api/cloudevents` and `brain publish` apply the same envelope
//! field rules, size limits and catalog validation, and drop a client's `meta.redeliver_to`; and replay
//! positions read the same over HTTP as on the CLI.

use reqwest::Method;
use serde_json::{Value, json};

use crate::suite::helpers::{TestApp, send};

fn ce(extra: Value) -> Value {
    let mut v = json!({"specversion": "1.0", "id": uuid::Uuid::now_v7().to_string(), "source": "/brain/ce_tests", "type": "task.created",
        "data": {"task_id": "t", "mission_type": "m", "priority": "LOW"}});
    if let (Value::Object(v), Value::Object(x)) = (&mut v, extra) {
        v.extend(x);
    }
    v
}

async fn post_ce(api: &TestApp, key: &str, body: &Value) -> (u16, Value) {
    send(api.req(Method::POST, "/api/cloudevents", Some(key)).header("content-type", "application/cloudevents+json").body(body.to_string()))
        .await
}

#[tokio::test]
async fn cloudevents_pass_the_same_envelope_checks_and_limits_as_post_events() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let long = "x".repeat(300);
    // The same bad value through both routes: the same status, the field named (as the CloudEvents
    // attribute on that route, as the envelope field on the other).
    let cases: [(&str, Value, Value, u16, &str, &str); 3] = [
        ("a 300-character actor", json!({"actorid": long}), json!({"actor_id": long}), 422, "actorid", "actor_id"),
        (
            "a control character",
            json!({"correlationid": "a\u{7}b"}),
            json!({"correlation_id": "a\u{7}b"}),
            422,
            "correlationid",
            "correlation_id",
        ),
        ("a 400 KB meta", json!({"bigext": "y".repeat(400 * 1024)}), json!({"meta": {"big": "y".repeat(400 * 1024)}}), 413, "meta", "meta"),
    ];
    for (what, ce_extra, ev_extra, status, ce_field, field) in cases {
        let (got, v) = post_ce(&api, &w, &ce(ce_extra)).await;
        assert_eq!((got, v["field"].as_str()), (status, Some(ce_field)), "cloudevents, {what}: {v}");
        let mut body = json!({"type": "task.created", "payload": {"task_id": "t", "mission_type": "m", "priority": "LOW"}});
        if let (Value::Object(b), Value::Object(x)) = (&mut body, ev_extra) {
            b.extend(x);
        }
        let (got, v) = api.post("/api/events", &w, &body).await;
        assert_eq!((got, v["field"].as_str()), (status, Some(field)), "events, {what}: {v}");
    }
    // A client cannot address a "dead-letter retry" to one subscriber.
    let body = json!({"type": "task.created", "payload": {"task_id": "r", "mission_type": "m", "priority": "LOW"},
        "meta": {"redeliver_to": "event_index", "note": "kept"}});
    let (status, v) = api.post("/api/events", &w, &body).await;
    assert_eq!(status, 201, "{v}");
    let (status, stored) = api.get(&format!("/api/events/{}", v["id"].as_str().unwrap()), &w).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["meta"]["note"], "kept");
    assert!(stored["meta"].get("redeliver_to").is_none(), "{stored}");
}

#[tokio::test]
async fn replay_over_http_reads_every_position_form_of_the_cli() {
    let api = TestApp::start().await;
    let first = api.publish_task(&api.admin, "one", json!({})).await;
    for from in [
        json!("start"),
        json!("beginning"),
        json!("end"),
        json!("now"),
        json!("15m"),
        json!("2h"),
        json!("2026-01-01"),
        json!("2026-01-01T00:00:00Z"),
        json!(0),
        first["position"].clone(),
    ] {
        let (status, v) = api.post("/api/consumers/event_index/replay", &api.admin, &json!({"from": from})).await;
        assert_eq!(status, 200, "from {from}: {v}");
    }
    let (status, v) = api.post("/api/consumers/event_index/replay", &api.admin, &json!({"from": "whenever"})).await;
    assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (422, Some("invalid_body"), Some("from")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("an age such as 15m"), "the message lists the accepted forms: {v}");
}
