//! Tracing across the stream: a request's W3C trace context reaches the event's meta, the CloudEvents
//! `traceparent` extension and the consumer runtime, whose handler spans are children of the request's
//! span, on the embedded and the Redis backends.
//!
//! Spans are recorded with the OpenTelemetry SDK's in-memory exporter behind the `tracing-opentelemetry`
//! layer, installed for the test's thread only (`#[tokio::test]` runs everything on that one thread).

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstream_core::EventLog;
use eventstream_core::trace::TraceParent;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest::Method;
use serde_json::{Value, json};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::suite::helpers::{TestApp, send, task_event};

/// The caller's context: trace `4bf9…4736`, its span `00f0…02b7`, sampled, with vendor state.
const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const STATE: &str = "congo=t61rcWkgMzE";

/// Installs the OpenTelemetry layer with an in-memory exporter for this thread.
fn record_spans() -> (InMemorySpanExporter, SdkTracerProvider, tracing::subscriber::DefaultGuard) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("trace-test"))
        .with_filter(Targets::new().with_target(eventstream::trace::TARGET, LevelFilter::INFO));
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    tracing::callsite::rebuild_interest_cache();
    (exporter, provider, guard)
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

/// Waits (bounded) until `pick` finds spans among the finished ones.
async fn finished(exporter: &InMemorySpanExporter, what: &str, pick: impl Fn(&SpanData) -> bool) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans: Vec<SpanData> = exporter.get_finished_spans().expect("finished spans").into_iter().filter(&pick).collect();
        if !spans.is_empty() {
            return spans;
        }
        assert!(Instant::now() < deadline, "no finished span: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Publishes with the caller's `traceparent` and checks the whole path: the request span continues the
/// caller's trace, the event carries the request span's context (also as the CloudEvents extension), every
/// handler span of the event is its child, and a module route's events carry the trace too.
async fn request_span_parents_the_handler_spans(app: &TestApp, exporter: &InMemorySpanExporter) {
    let caller: TraceParent = CALLER.parse().expect("valid");
    let key = app.key("acme", "writer").await;
    // A span callsite another test thread registered while this thread's subscriber was being installed
    // can keep the interest it computed without it ("never"); rebuilding now, before the traced request,
    // gives every registered callsite this subscriber's interest.
    tracing::callsite::rebuild_interest_cache();
    let resp = app
        .req(Method::POST, "/api/events", Some(&key))
        .header("traceparent", CALLER)
        .header("tracestate", STATE)
        .json(&task_event("trace-1"))
        .send()
        .await
        .expect("publish");
    let (status, body) = send_resp(resp).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("the event id").to_owned();

    // The request span: a child of the caller's span in the caller's trace.
    let requests = finished(exporter, "POST /api/events", |s| s.name == "POST /api/events").await;
    let request = &requests[0];
    let trace_id = TraceId::from_bytes(caller.trace_id);
    assert_eq!(request.span_context.trace_id(), trace_id, "the request continues the caller's trace");
    assert_eq!(request.parent_span_id, SpanId::from_bytes(caller.span_id), "the request span's parent is the caller's span");

    // The stored event carries the request span's context and the caller's vendor state.
    let (status, stored) = app.get(&format!("/api/events/{id}"), &key).await;
    assert_eq!(status, 200, "{stored}");
    let meta_parent: TraceParent = stored["meta"]["traceparent"].as_str().expect("meta.traceparent").parse().expect("valid");
    assert_eq!(meta_parent.trace_id, caller.trace_id);
    assert_eq!(SpanId::from_bytes(meta_parent.span_id), request.span_context.span_id(), "the event's parent is the request span");
    assert_eq!(stored["meta"]["tracestate"], json!(STATE));

    // As a CloudEvent the context is the distributed-tracing extension, not buried in `brainmeta`.
    let ce = app
        .req(Method::GET, &format!("/api/events/{id}"), Some(&key))
        .header("accept", "application/cloudevents+json")
        .send()
        .await
        .expect("get as CloudEvent");
    let (status, ce) = send_resp(ce).await;
    assert_eq!(status, 200, "{ce}");
    assert_eq!(ce["traceparent"], stored["meta"]["traceparent"]);
    assert_eq!(ce["tracestate"], json!(STATE));
    assert!(ce.get("brainmeta").is_none_or(|m| !m.as_str().unwrap_or_default().contains("traceparent")), "{ce}");

    // Every subscriber that handled the event did so in a child span of the request span.
    let handlers = finished(exporter, "a handler span of the event", |s| {
        s.name.starts_with("handle ") && attr(s, "messaging.message.id").as_deref() == Some(id.as_str())
    })
    .await;
    for h in &handlers {
        assert_eq!(h.span_context.trace_id(), trace_id, "handler {:?} is in the caller's trace", attr(h, "messaging.consumer.group.name"));
        assert_eq!(h.parent_span_id, request.span_context.span_id(), "handler {:?}: parent", attr(h, "messaging.consumer.group.name"));
    }

    // A module route's events (stamped through `Origin`, emitted through the outbox) carry the trace too.
    let resp = app
        .req(Method::POST, "/api/credits/agents/agent-t/allocate", Some(&key))
        .header("traceparent", CALLER)
        .json(&json!({"amount": 5, "reason": "trace"}))
        .send()
        .await
        .expect("allocate");
    let (status, body) = send_resp(resp).await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let allocated = loop {
        let (_, page) = app.get("/api/events?type=credits.*&limit=50", &key).await;
        let found = page["events"].as_array().and_then(|evs| evs.iter().find(|e| e["payload"]["agent_id"] == json!("agent-t")).cloned());
        if let Some(e) = found {
            break e;
        }
        assert!(Instant::now() < deadline, "no credits event of agent-t: {page}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let module_parent: TraceParent =
        allocated["meta"]["traceparent"].as_str().expect("module event meta.traceparent").parse().expect("valid");
    assert_eq!(module_parent.trace_id, caller.trace_id, "{allocated}");
    let route_spans = finished(exporter, "the allocate request", |s| s.name == "POST /api/credits/agents/{agent_id}/allocate").await;
    assert_eq!(SpanId::from_bytes(module_parent.span_id), route_spans[0].span_context.span_id());
}

async fn send_resp(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn handler_spans_are_children_of_the_publishing_request_on_the_embedded_log() {
    let (exporter, _provider, _guard) = record_spans();
    let app = TestApp::start().await;
    request_span_parents_the_handler_spans(&app, &exporter).await;
}

#[tokio::test]
async fn handler_spans_are_children_of_the_publishing_request_on_redis() {
    let url = std::env::var("BRAIN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    if !eventstream_testkit::require_service("redis", &url) {
        return;
    }
    let (exporter, _provider, _guard) = record_spans();
    let name = eventstream_testkit::fixtures::unique_name("trace");
    let config = eventstream_redis::RedisConfig::new(url).with_key_prefix(format!("es-test:{name}:"));
    let log: Arc<dyn EventLog> = Arc::new(eventstream_redis::RedisLog::connect(config).await.expect("redis log"));
    let app = TestApp::start_on(log, Vec::new()).await;
    request_span_parents_the_handler_spans(&app, &exporter).await;
}

#[tokio::test]
async fn a_request_without_traceparent_starts_a_trace_and_a_bad_one_is_ignored() {
    let (exporter, _provider, _guard) = record_spans();
    let app = TestApp::start().await;
    let key = app.key("acme", "writer").await;
    for (i, header) in [None, Some("00-not-a-trace-01")].into_iter().enumerate() {
        let mut req = app.req(Method::POST, "/api/events", Some(&key)).json(&task_event(&format!("root-{i}")));
        if let Some(h) = header {
            req = req.header("traceparent", h);
        }
        let (status, body) = send(req).await;
        assert_eq!(status, 201, "{body}");
        let (_, stored) = app.get(&format!("/api/events/{}", body["id"].as_str().expect("id")), &key).await;
        let parent: TraceParent =
            stored["meta"]["traceparent"].as_str().unwrap_or_else(|| panic!("a new trace is stamped: {stored}")).parse().expect("valid");
        assert_ne!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let spans = finished(&exporter, "the request span", |s| s.span_context.span_id() == SpanId::from_bytes(parent.span_id)).await;
        assert_eq!(spans[0].parent_span_id, SpanId::INVALID, "a root span");
    }
    // A producer's own invalid `meta.traceparent` is refused with the field named.
    let mut bad = task_event("bad-trace");
    bad["meta"] = json!({"traceparent": "nope"});
    let (status, body) = app.post("/api/events", &key, &bad).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("meta.traceparent")), "{body}");
}
