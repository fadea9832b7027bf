//! A CloudEvents SDK (`cloudevents-sdk`) as the client: events it builds, sent to `POST /api/cloudevents`
//! in binary and structured mode, come back from `GET /api/events/{id}` with
//! `Accept: application/cloudevents+json` with every attribute intact: percent-decoded binary header values
//! (HTTP binding 3.1.3.2), non-ASCII extension values, `subject`, `dataschema` and `traceparent`.
//!
//! The SDK writes binary header values verbatim and cannot put a non-ASCII value into a header, so the
//! binary event carries its non-ASCII values percent-encoded, as the binding says a client sends them.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{TimeZone, Utc};
use cloudevents::binding::http::{Builder, Serializer};
use cloudevents::event::ExtensionValue;
use cloudevents::message::BinaryDeserializer;
use cloudevents::{AttributesReader, Data, EventBuilder, EventBuilderV10};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::json;

use crate::suite::helpers::{TestApp, send};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const DATASCHEMA: &str = "https://schemas.example.com/task.created/1.json";

/// An event as an SDK client builds it; `actor` and `comment` as they go on the wire.
fn sdk_event(id: &str, actor: &str, comment: &str) -> cloudevents::Event {
    EventBuilderV10::new()
        .id(id)
        .source("/brain/sdk_client")
        .ty("task.created")
        .time(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
        .subject("order 7")
        .data_with_schema("application/json", DATASCHEMA, json!({"task_id": "t-ü", "mission_type": "agent.chat", "priority": "HIGH"}))
        .extension("traceparent", TRACEPARENT)
        .extension("actorid", actor)
        .extension("comment", comment)
        .extension("correlationid", "sdk-flow")
        .build()
        .unwrap()
}

/// Collects the headers and body the SDK's HTTP binary serializer writes.
#[derive(Clone, Default)]
struct Collect(Rc<RefCell<Vec<(String, String)>>>);

impl Builder<(Vec<(String, String)>, Vec<u8>)> for Collect {
    fn header(&mut self, key: &str, value: HeaderValue) {
        self.0.borrow_mut().push((key.to_owned(), value.to_str().unwrap().to_owned()));
    }
    fn body(&mut self, bytes: Vec<u8>) -> cloudevents::message::Result<(Vec<(String, String)>, Vec<u8>)> {
        Ok((self.0.borrow().clone(), bytes))
    }
    fn finish(&mut self) -> cloudevents::message::Result<(Vec<(String, String)>, Vec<u8>)> {
        self.body(Vec::new())
    }
}

fn ext(e: &cloudevents::Event, name: &str) -> Option<String> {
    match e.extension(name) {
        Some(ExtensionValue::String(s)) => Some(s.clone()),
        other => panic!("extension {name}: {other:?}"),
    }
}

/// Reads event `id` back as a structured CloudEvent with the SDK, and checks what every test expects.
async fn read_back(api: &TestApp, key: &str, id: &str, actor: &str, comment: &str) -> cloudevents::Event {
    let resp = api
        .req(Method::GET, &format!("/api/events/{id}"), Some(key))
        .header("accept", "application/cloudevents+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sdk: cloudevents::Event = serde_json::from_str(&resp.text().await.unwrap()).expect("the SDK reads our answer");
    assert_eq!(sdk.id(), id);
    assert_eq!(sdk.ty(), "task.created");
    assert_eq!(sdk.source(), "/brain/sdk_client");
    assert_eq!(sdk.time(), Some(&Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()));
    assert_eq!(sdk.subject(), Some("order 7"));
    assert_eq!(sdk.dataschema().map(ToString::to_string).as_deref(), Some(DATASCHEMA));
    assert_eq!(ext(&sdk, "traceparent").as_deref(), Some(TRACEPARENT));
    assert_eq!(ext(&sdk, "actorid").as_deref(), Some(actor));
    assert_eq!(ext(&sdk, "comment").as_deref(), Some(comment));
    assert_eq!(ext(&sdk, "correlationid").as_deref(), Some("sdk-flow"));
    assert_eq!(ext(&sdk, "tenantid").as_deref(), Some("acme"), "the key's tenant");
    match sdk.data() {
        Some(Data::Json(v)) => assert_eq!(v, &json!({"task_id": "t-ü", "mission_type": "agent.chat", "priority": "HIGH"})),
        other => panic!("JSON data expected: {other:?}"),
    }
    sdk
}

#[tokio::test]
async fn binary_mode_events_of_the_sdk_survive_publish_and_read_back_as_cloudevents() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let sdk = sdk_event("sdk-binary-1", "Zo%C3%AB%20Adler", "Gr%C3%BC%C3%9Fe%20%F0%9F%9A%80%20%22100%25%22");
    let (headers, body) = BinaryDeserializer::deserialize_binary(sdk, Serializer::new(Collect::default())).unwrap();
    assert!(headers.iter().any(|(k, v)| k == "ce-actorid" && v == "Zo%C3%AB%20Adler"), "{headers:?}");
    assert!(headers.iter().any(|(k, v)| k == "ce-dataschema" && v == DATASCHEMA), "{headers:?}");
    let mut req = api.req(Method::POST, "/api/cloudevents", Some(&w));
    for (k, v) in &headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let (status, v) = send(req.body(body)).await;
    assert_eq!((status, v["id"].as_str()), (201, Some("sdk-binary-1")), "{v}");

    // Stored decoded, not as `Zo%C3%AB%20Adler`.
    let (status, stored) = api.get("/api/events/sdk-binary-1", &w).await;
    assert_eq!((status, stored["actor_id"].as_str()), (200, Some("Zoë Adler")), "{stored}");
    read_back(&api, &w, "sdk-binary-1", "Zoë Adler", "Grüße 🚀 \"100%\"").await;
}

#[tokio::test]
async fn structured_events_of_the_sdk_with_non_ascii_extensions_survive_the_round_trip() {
    let api = TestApp::start().await;
    let w = api.key("acme", "writer").await;
    let (actor, comment) = ("Zoë Adler", "Grüße, 世界 \"100%\" 🚀");
    let sdk = sdk_event("sdk-structured-1", actor, comment);
    let (status, v) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&w))
            .header("content-type", "application/cloudevents+json")
            .body(serde_json::to_string(&sdk).unwrap()),
    )
    .await;
    assert_eq!((status, v["id"].as_str()), (201, Some("sdk-structured-1")), "{v}");
    let (status, stored) = api.get("/api/events/sdk-structured-1", &w).await;
    assert_eq!((status, stored["actor_id"].as_str()), (200, Some(actor)), "{stored}");
    let back = read_back(&api, &w, "sdk-structured-1", actor, comment).await;
    // Nothing the SDK sent is lost: every extension it set comes back with the same value.
    for (name, value) in sdk.iter_extensions() {
        assert_eq!(back.extension(name), Some(value), "extension {name}");
    }
}
