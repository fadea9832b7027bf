//! Publishing and history: defaults filled in, filters in the query, cursor pagination that returns
//! every event exactly once, CloudEvents in both modes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::suite::helpers::{TestApp, ids, send};

#[tokio::test]
async fn published_events_get_defaults_and_are_found_by_id() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let r = api.publish_task(&w, "t1", json!({"mission_id": "m-1"})).await;
    let id = r["id"].as_str().unwrap();
    assert_eq!(uuid_version(id), Some('7'), "a UUIDv7 id: {id}");
    assert_eq!(r["type"], "task.created");
    let (status, e) = api.get(&format!("/api/events/{id}"), &w).await;
    assert_eq!(status, 200, "visible at once: {e}");
    assert_eq!(e["tenant_id"], "acme");
    assert_eq!(e["source"], "mission_control_runtime", "the catalog's producer");
    assert_eq!(e["meta"]["schema_version"], 1);
    assert_eq!(e["meta"]["source_module"], "missions");
    assert_eq!(e["mission_id"], "m-1");
    assert_eq!(e["position"], r["position"]);
    assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    // A given UUID is kept (a producer retrying with its id).
    let mine = "0190a0b0-0000-7000-8000-00000000abcd";
    let r = api.publish_task(&w, "t2", json!({"id": mine})).await;
    assert_eq!(r["id"], mine);
}

fn uuid_version(id: &str) -> Option<char> {
    id.split('-').nth(2).and_then(|s| s.chars().next())
}

#[tokio::test]
async fn history_filters_in_the_query_and_pages_with_a_cursor() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let mut task_ids = Vec::new();
    for i in 0..25 {
        let corr = if i % 5 == 0 { "c-five" } else { "c-other" };
        let r = api.publish_task(&w, &format!("t{i}"), json!({"correlation_id": corr, "task_id": format!("t{i}")})).await;
        task_ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let (status, r) = api
        .post(
            "/api/events",
            &w,
            &json!({"type": "mission.log_appended", "payload": {"mission_id": "m1", "entry": {"level": "info", "message": "hi"}}}),
        )
        .await;
    let mission_id = if status == 201 { r["id"].as_str().map(str::to_owned) } else { None };

    // Pages of 10: every task event exactly once, oldest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/events?type=task.*&limit=10&cursor={c}"),
            None => "/api/events?type=task.*&limit=10".to_owned(),
        };
        let (status, v) = api.get(&path, &w).await;
        assert_eq!(status, 200, "{v}");
        let page = ids(&v);
        assert!(page.len() <= 10);
        seen.extend(page);
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, task_ids, "every task event once, in publish order");

    // Filters: the limit counts matching events (the original filtered after fetching, so it returned fewer).
    let (_, v) = api.get("/api/events?correlation_id=c-five&limit=5", &w).await;
    assert_eq!(ids(&v), task_ids.iter().step_by(5).cloned().collect::<Vec<_>>());
    let (_, v) = api.get("/api/events?task_id=t7", &w).await;
    assert_eq!(ids(&v), vec![task_ids[7].clone()]);
    let (_, v) = api.get("/api/events?type=task.created&source=mission_control_runtime&limit=3", &w).await;
    assert_eq!(ids(&v), task_ids[..3].to_vec());
    assert!(v["next_cursor"].is_string());
    let (_, v) = api.get("/api/events?type=nothing.here", &w).await;
    assert!(ids(&v).is_empty() && v["next_cursor"].is_null());
    let (_, v) = api.get("/api/events?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", &w).await;
    assert!(ids(&v).is_empty());
    let (_, v) = api.get("/api/events?since=2000-01-01T00:00:00Z&limit=1000", &w).await;
    assert!(ids(&v).len() >= 25);
    let (_, v) = api.get("/api/events?since=1h&type=task.created&limit=1000", &w).await;
    assert_eq!(ids(&v), task_ids, "an age works as `since`");
    let (_, v) = api.get("/api/events?until=2000-01-01", &w).await;
    assert!(ids(&v).is_empty(), "a date works as `until`");
    if let Some(m) = mission_id {
        let (_, v) = api.get("/api/events?type=mission.*,task.created&limit=1000", &w).await;
        assert!(ids(&v).contains(&m));
        let (_, v) = api.get("/api/events?type=mission.*", &w).await;
        assert_eq!(ids(&v), vec![m]);
    }
}

#[tokio::test]
async fn cloudevents_are_accepted_in_structured_and_binary_mode() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let data = json!({"task_id": "ce1", "mission_type": "m", "priority": "HIGH"});
    let structured = json!({"specversion": "1.0", "id": "ce-structured-1", "source": "/brain/ce_tests", "type": "task.created",
        "time": "2026-01-01T00:00:00Z", "correlationid": "ce-flow", "data": data});
    let (status, v) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&w))
            .header("content-type", "application/cloudevents+json")
            .body(structured.to_string()),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["id"], "ce-structured-1");
    let (status, v) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&w))
            .header("ce-specversion", "1.0")
            .header("ce-id", "ce-binary-1")
            .header("ce-source", "/brain/ce_tests")
            .header("ce-type", "task.created")
            .header("ce-correlationid", "ce-flow")
            .header("content-type", "application/json")
            .body(data.to_string()),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (_, v) = api.get("/api/events?correlation_id=ce-flow", &w).await;
    assert_eq!(ids(&v), vec!["ce-structured-1".to_owned(), "ce-binary-1".to_owned()]);
    let e: &Value = &v["events"][0];
    assert_eq!((e["source"].as_str(), e["tenant_id"].as_str()), (Some("ce_tests"), Some("acme")));
    // Invalid payload through CloudEvents is validated like any other.
    let bad = json!({"specversion": "1.0", "id": "ce-bad", "source": "/brain/x", "type": "task.created", "data": {"task_id": 1}});
    let (status, v) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&w)).header("content-type", "application/cloudevents+json").body(bad.to_string()),
    )
    .await;
    assert_eq!((status, v["code"].as_str()), (422, Some("invalid_payload")));
}
