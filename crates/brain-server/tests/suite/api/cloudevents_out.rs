//! CloudEvents out: `GET /api/events/{id}` (structured), `GET /api/events` (batch, next page in `Link`)
//! and the SSE tail (`format=cloudevents`) answer documents the CloudEvents SDK (`cloudevents-sdk`) reads
//! with our attributes; without asking, the answers stay the JSON envelope.

use std::time::Duration;

use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Data};
use reqwest::Method;
use serde_json::{Value, json};

use crate::suite::helpers::{SseReader, TestApp};

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn ext(e: &cloudevents::Event, name: &str) -> Option<String> {
    match e.extension(name) {
        Some(ExtensionValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn data(e: &cloudevents::Event) -> Value {
    match e.data() {
        Some(Data::Json(v)) => v.clone(),
        other => panic!("JSON data expected: {other:?}"),
    }
}

#[tokio::test]
async fn history_answers_structured_cloudevents_and_batches_when_asked() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let mut published = Vec::new();
    for i in 0..3 {
        let v = api.publish_task(&w, &format!("ce-out-{i}"), json!({"correlation_id": "ce-out", "actor_id": "Zoë Adler"})).await;
        published.push(v["id"].as_str().unwrap().to_owned());
    }

    // One event.
    let resp = api
        .req(Method::GET, &format!("/api/events/{}", published[0]), Some(&w))
        .header("accept", "application/cloudevents+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(content_type(&resp).starts_with("application/cloudevents+json"), "{}", content_type(&resp));
    let sdk: cloudevents::Event = serde_json::from_str(&resp.text().await.unwrap()).expect("the SDK reads it");
    assert_eq!(sdk.id(), published[0]);
    assert_eq!(sdk.ty(), "task.created");
    assert_eq!(sdk.source(), "/brain/mission_control_runtime");
    assert_eq!(data(&sdk)["task_id"], "ce-out-0");
    assert_eq!(ext(&sdk, "correlationid").as_deref(), Some("ce-out"));
    assert_eq!(ext(&sdk, "actorid").as_deref(), Some("Zoë Adler"));
    assert_eq!(ext(&sdk, "tenantid").as_deref(), Some("acme"));

    // Without asking: the JSON envelope.
    let (status, plain) = api.get(&format!("/api/events/{}", published[0]), &w).await;
    assert_eq!((status, plain["payload"]["task_id"].as_str()), (200, Some("ce-out-0")), "{plain}");
    assert!(plain.get("specversion").is_none());

    // A batch, paged through `Link`.
    let mut url = "/api/events?correlation_id=ce-out&limit=2".to_owned();
    let mut seen = Vec::new();
    for page in 0.. {
        assert!(page < 3, "the pages end");
        let resp = api.req(Method::GET, &url, Some(&w)).header("accept", "application/cloudevents-batch+json").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(content_type(&resp).starts_with("application/cloudevents-batch+json"), "{}", content_type(&resp));
        let link = resp.headers().get("link").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let batch: Vec<cloudevents::Event> = serde_json::from_str(&resp.text().await.unwrap()).expect("the SDK reads the batch");
        seen.extend(batch.iter().map(|e| e.id().to_owned()));
        match link {
            Some(l) => {
                assert!(l.ends_with("rel=\"next\"") && l.contains("correlation_id=ce-out"), "{l}");
                url = l.trim_start_matches('<').split('>').next().unwrap().to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, published);
    // `format=cloudevents` asks the same without a header; a bad format is named.
    let resp = api.req(Method::GET, "/api/events?correlation_id=ce-out&format=cloudevents", Some(&w)).send().await.unwrap();
    assert!(content_type(&resp).starts_with("application/cloudevents-batch+json"));
    let (status, v) = api.get("/api/events?format=xml", &w).await;
    assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (400, Some("invalid_query"), Some("format")), "{v}");
}

#[tokio::test]
async fn sse_with_format_cloudevents_sends_structured_cloudevents() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let resp = api.req(Method::GET, "/api/events/stream?format=cloudevents&correlation_id=ce-live", Some(&w)).send().await.unwrap();
    let mut sse = SseReader::new(resp);
    let published = api.publish_task(&w, "live-1", json!({"correlation_id": "ce-live"})).await;
    let ev = sse.next(Duration::from_secs(10)).await.expect("the event arrives");
    assert_eq!(ev.id, published["position"].as_str().unwrap());
    assert_eq!(ev.event, "task.created");
    let sdk: cloudevents::Event = serde_json::from_value(ev.data).expect("the SDK reads the SSE data");
    assert_eq!(sdk.id(), published["id"].as_str().unwrap());
    assert_eq!(data(&sdk)["task_id"], "live-1");
    assert_eq!(ext(&sdk, "correlationid").as_deref(), Some("ce-live"));
}
