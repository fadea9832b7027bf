//! The SSE live tail: an event published over HTTP reaches a filtered client within 100 ms; resume with
//! `Last-Event-ID`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::suite::helpers::{SseReader, TestApp, task_event};

#[tokio::test]
async fn published_event_reaches_a_filtered_sse_client_within_100ms() {
    let api = TestApp::start().await;
    let writer = api.key("acme", "writer").await;
    let reader = api.key("acme", "reader").await;
    let resp = api.req(Method::GET, "/api/events/stream?type=task.*&correlation_id=flow-1", Some(&reader)).send().await.unwrap();
    let mut sse = SseReader::new(resp);
    // Warm up: the first publish also compiles the type's schema.
    api.publish_task(&writer, "warm", json!({"correlation_id": "flow-1"})).await;
    let warm = sse.next(Duration::from_secs(10)).await.expect("the warm-up event arrives");
    assert_eq!(warm.data["payload"]["task_id"], "warm");

    let mut worst = Duration::ZERO;
    for i in 0..5 {
        // Events the filter excludes, then one it matches.
        api.publish_task(&writer, &format!("other-{i}"), json!({"correlation_id": "flow-2"})).await;
        let started = Instant::now();
        let (status, published) = api
            .post("/api/events", &writer, &{
                let mut e = task_event(&format!("t{i}"));
                e["correlation_id"] = "flow-1".into();
                e
            })
            .await;
        assert_eq!(status, 201);
        let ev = sse.next(Duration::from_secs(5)).await.expect("the event arrives");
        let took = started.elapsed();
        assert_eq!(ev.data["id"], published["id"], "only matching events are sent");
        assert_eq!(ev.id, published["position"].as_str().unwrap());
        assert_eq!(ev.event, "task.created");
        worst = worst.max(took);
    }
    eprintln!("SSE publish-to-receive (including the publish round trip), worst of 5: {worst:?}");
    assert!(worst < Duration::from_millis(100), "publish to SSE took {worst:?}");
}

#[tokio::test]
async fn sse_resumes_after_last_event_id() {
    let api = TestApp::start().await;
    let first = api.publish_task(&api.admin, "one", json!({})).await;
    let second = api.publish_task(&api.admin, "two", json!({})).await;
    let third = api.publish_task(&api.admin, "three", json!({})).await;
    let resp = api
        .req(Method::GET, "/api/events/stream", Some(&api.admin))
        .header("last-event-id", first["position"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let mut sse = SseReader::new(resp);
    for want in [&second, &third] {
        let ev = sse.next(Duration::from_secs(10)).await.expect("missed events are replayed");
        assert_eq!(ev.data["id"], want["id"]);
    }
    let resp = api.req(Method::GET, "/api/events/stream", Some(&api.admin)).header("last-event-id", "999999").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "invalid_last_event_id");
}
