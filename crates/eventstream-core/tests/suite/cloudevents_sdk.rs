//! The CloudEvents codec against the official Rust SDK (`cloudevents-sdk`) as the other side: events the
//! SDK builds (structured JSON and HTTP binary headers, non-ASCII values) decode through our codec
//! intact, and the documents we send out parse with the SDK with every attribute equal.
//!
//! The SDK (0.9) writes and reads binary-mode header values verbatim: it neither percent-encodes nor
//! percent-decodes them (HTTP binding 3.1.3.2), and it cannot put a non-ASCII value into a header at all.
//! Its binary headers are therefore built with ASCII values; non-ASCII binary values are checked with
//! headers encoded as the binding specifies, and our encoded headers are compared with the SDK's reading
//! after percent-decoding.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{TimeZone, Utc};
use cloudevents::binding::http::{Builder, Serializer, to_event};
use cloudevents::event::ExtensionValue;
use cloudevents::message::BinaryDeserializer;
use cloudevents::{AttributesReader, Data, EventBuilder, EventBuilderV10};
use eventstream_core::codec::cloudevents as ce;
use eventstream_core::{Event, Severity};
use serde_json::{Value, json};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn sdk_event(actor: &str, comment: &str) -> cloudevents::Event {
    EventBuilderV10::new()
        .id("sdk-evt-1")
        .source("/brain/sdk_client")
        .ty("task.created")
        .time(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(123_456))
        .subject("order 7")
        .data_with_schema(
            "application/json",
            "https://schemas.example.com/task.created/1.json",
            json!({"task_id": "t-1", "n": [1, {"x": "ü"}]}),
        )
        .extension("traceparent", TRACEPARENT)
        .extension("actorid", actor)
        .extension("comment", comment)
        .extension("tenantid", "acme")
        .extension("correlationid", "flow-1")
        .extension("schemaversion", 2i64)
        .extension("retries", 3i64)
        .extension("sampled", true)
        .build()
        .unwrap()
}

/// What an SDK event must become on our side.
fn assert_decoded(e: &Event, actor: &str, comment: &str, ext_value: impl Fn(Value) -> Value) {
    assert_eq!(e.id.as_str(), "sdk-evt-1");
    assert_eq!(e.event_type.as_str(), "task.created");
    assert_eq!(e.source.as_str(), "sdk_client");
    assert_eq!(e.timestamp, Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(123_456));
    assert_eq!(Value::Object(e.payload.clone()), json!({"task_id": "t-1", "n": [1, {"x": "ü"}]}));
    assert_eq!(e.actor_id.as_deref(), Some(actor));
    assert_eq!(e.tenant_id.as_ref().map(|t| t.as_str()), Some("acme"));
    assert_eq!(e.correlation_id.as_deref(), Some("flow-1"));
    assert_eq!(e.meta.schema_version, 2);
    assert_eq!(
        e.meta.extra.get(ce::META_KEY),
        Some(&json!({
            "subject": "order 7",
            "dataschema": "https://schemas.example.com/task.created/1.json",
            "extensions": {"comment": comment, "retries": ext_value(json!(3)), "sampled": ext_value(json!(true))},
        })),
        "subject, dataschema and unknown extensions are kept under meta.cloudevents"
    );
    assert_eq!(e.meta.extra.get("traceparent"), Some(&json!(TRACEPARENT)), "the trace context is first-class: meta.traceparent");
}

#[test]
fn structured_events_the_sdk_builds_decode_intact_with_non_ascii_values() {
    let (actor, comment) = ("Zoë Adler", "Grüße, 世界 \"100%\" 🚀");
    let sdk = sdk_event(actor, comment);
    let text = serde_json::to_string(&sdk).unwrap();
    let ours = ce::from_structured(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_decoded(&ours, actor, comment, |v| v);
}

/// Collects what the SDK's HTTP binary serializer writes.
#[derive(Clone, Default)]
struct Collect(Rc<RefCell<Vec<(String, String)>>>);

impl Builder<(Vec<(String, String)>, Vec<u8>)> for Collect {
    fn header(&mut self, key: &str, value: http::HeaderValue) {
        self.0.borrow_mut().push((key.to_owned(), value.to_str().unwrap().to_owned()));
    }
    fn body(&mut self, bytes: Vec<u8>) -> cloudevents::message::Result<(Vec<(String, String)>, Vec<u8>)> {
        Ok((self.0.borrow().clone(), bytes))
    }
    fn finish(&mut self) -> cloudevents::message::Result<(Vec<(String, String)>, Vec<u8>)> {
        self.body(Vec::new())
    }
}

#[test]
fn binary_events_the_sdk_sends_decode_intact() {
    // ASCII only: the SDK cannot put anything else into a header (see the module doc).
    let (actor, comment) = ("Zoe Adler", "a \"quoted\", spaced value");
    let (headers, body) = BinaryDeserializer::deserialize_binary(sdk_event(actor, comment), Serializer::new(Collect::default())).unwrap();
    assert!(headers.iter().any(|(k, v)| k == "ce-traceparent" && v == TRACEPARENT), "{headers:?}");
    let ours = ce::from_binary(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body).unwrap();
    // Binary mode carries every extension value as a string.
    assert_decoded(&ours, actor, comment, |v| Value::String(v.to_string()));
}

#[test]
fn percent_encoded_binary_headers_are_decoded() {
    // The issue's vector, and the HTTP binding's rule for non-ASCII, space, `"` and `%`.
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-id", "b-1"),
        ("ce-source", "/brain/sdk_client"),
        ("ce-type", "task.created"),
        ("ce-actorid", "Zo%C3%AB%20Adler"),
        ("ce-comment", "%22100%25%22%20%E2%9C%93"),
        ("ce-subject", "Stra%C3%9Fe 7"),
        ("Content-Type", "application/json; charset=utf-8"),
    ];
    let e = ce::from_binary(headers, br#"{"k": "v"}"#).unwrap();
    assert_eq!(e.actor_id.as_deref(), Some("Zoë Adler"), "not stored as Zo%C3%AB%20Adler");
    assert_eq!(e.meta.extra[ce::META_KEY], json!({"subject": "Straße 7", "extensions": {"comment": "\"100%\" ✓"}}));
    let bad = ce::from_binary(
        [("ce-specversion", "1.0"), ("ce-id", "b"), ("ce-source", "s"), ("ce-type", "task.created"), ("ce-actorid", "%FF%FE")],
        b"",
    );
    assert_eq!(bad.err().map(|e| e.field).as_deref(), Some("actorid"), "a value that is not UTF-8 once decoded");
    let control = ce::from_binary(
        [("ce-specversion", "1.0"), ("ce-id", "b"), ("ce-source", "s"), ("ce-type", "task.created"), ("ce-target", "a%1Bb")],
        b"",
    );
    assert_eq!(control.err().map(|e| e.field).as_deref(), Some("target"), "control characters are refused after decoding too");
}

/// An event of ours with every field set, non-ASCII values and kept CloudEvents attributes.
fn our_event() -> Event {
    let sdk = sdk_event("Zoë Adler", "Grüße 🚀 \"100%\"");
    let mut e = ce::from_structured(&serde_json::to_value(&sdk).unwrap()).unwrap();
    e.target = Some("agent 7 ✓".into());
    e.mission_id = Some("m-1".into());
    e.task_id = Some("t-1".into());
    e.causation_id = Some("cause-1".into());
    e.severity = Some(Severity::Critical);
    e.meta.producer = "prodücer".into();
    e.meta.extra.insert("note".into(), json!({"nested": ["é", 1]}));
    e
}

/// Every attribute the SDK read equals ours; `decode` undoes the transport's encoding of string values.
fn assert_sdk_reads(sdk: &cloudevents::Event, e: &Event, decode: impl Fn(&str) -> String, int: impl Fn(i64) -> ExtensionValue) {
    assert_eq!(sdk.id(), e.id.as_str());
    assert_eq!(sdk.source(), &format!("/brain/{}", e.source));
    assert_eq!(sdk.ty(), e.event_type.as_str());
    assert_eq!(sdk.time(), Some(&e.timestamp));
    assert_eq!(sdk.datacontenttype(), Some("application/json"));
    assert_eq!(sdk.subject().map(&decode).as_deref(), Some("order 7"));
    assert_eq!(sdk.dataschema().map(ToString::to_string).as_deref(), Some("https://schemas.example.com/task.created/1.json"));
    let s = |name: &str| match sdk.extension(name) {
        Some(ExtensionValue::String(v)) => Some(decode(v)),
        other => panic!("extension {name}: {other:?}"),
    };
    assert_eq!(s("tenantid").as_deref(), e.tenant_id.as_ref().map(|t| t.as_str()));
    for (name, want) in [
        ("correlationid", &e.correlation_id),
        ("causationid", &e.causation_id),
        ("target", &e.target),
        ("missionid", &e.mission_id),
        ("taskid", &e.task_id),
        ("actorid", &e.actor_id),
    ] {
        assert_eq!(&s(name), want, "{name}");
    }
    assert_eq!(s("severity").as_deref(), Some("CRITICAL"));
    assert_eq!(s("producer").as_deref(), Some("prodücer"));
    assert_eq!(s("sourcemodule").as_deref(), Some(e.meta.source_module.as_str()));
    assert_eq!(s("traceparent").as_deref(), Some(TRACEPARENT));
    assert_eq!(s("comment").as_deref(), Some("Grüße 🚀 \"100%\""));
    assert_eq!(sdk.extension("schemaversion"), Some(&int(2)));
    assert_eq!(sdk.extension("retries"), Some(&int(3)));
    let brainmeta: Value = serde_json::from_str(&s("brainmeta").unwrap_or_default()).unwrap();
    assert_eq!(brainmeta, json!({"note": {"nested": ["é", 1]}}), "other meta keys travel in brainmeta");
    let expected_extensions = 16;
    assert_eq!(sdk.iter_extensions().count(), expected_extensions, "{:?}", sdk.iter_extensions().collect::<Vec<_>>());
    match sdk.data() {
        Some(Data::Json(v)) => assert_eq!(v, &Value::Object(e.payload.clone())),
        Some(Data::Binary(b)) => assert_eq!(serde_json::from_slice::<Value>(b).unwrap(), Value::Object(e.payload.clone())),
        other => panic!("data: {other:?}"),
    }
}

#[test]
fn our_structured_events_and_batches_parse_with_the_sdk() {
    let e = our_event();
    let sdk: cloudevents::Event = serde_json::from_value(ce::to_structured(&e)).unwrap();
    assert_sdk_reads(&sdk, &e, ToOwned::to_owned, ExtensionValue::Integer);
    assert_eq!(sdk.extension("sampled"), Some(&ExtensionValue::Boolean(true)));

    let mut second = Event::new("task.completed".parse().unwrap(), "missions_service".parse().unwrap(), serde_json::Map::new());
    second.timestamp = e.timestamp;
    let batch = ce::to_batch(&[e.clone(), second.clone()]);
    let parsed: Vec<cloudevents::Event> = serde_json::from_value(batch).unwrap();
    assert_eq!(parsed.len(), 2);
    assert_sdk_reads(&parsed[0], &e, ToOwned::to_owned, ExtensionValue::Integer);
    assert_eq!(parsed[1].id(), second.id.as_str());
    assert_eq!(parsed[1].subject(), None);
    assert_eq!(ce::STRUCTURED_CONTENT_TYPE, "application/cloudevents+json");
    assert_eq!(ce::BATCH_CONTENT_TYPE, "application/cloudevents-batch+json");
}

#[test]
fn our_binary_headers_parse_with_the_sdk() {
    let e = our_event();
    let (headers, body) = ce::to_binary(&e);
    let mut map = http::HeaderMap::new();
    for (k, v) in &headers {
        // Every value is printable ASCII, so it is a valid header value as it is.
        let value = http::HeaderValue::from_str(v).unwrap_or_else(|err| panic!("{k}: {v}: {err}"));
        map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), value);
    }
    assert_eq!(map.get("ce-actorid").and_then(|v| v.to_str().ok()), Some("Zo%C3%AB%20Adler"));
    assert!(map.get("ce-datacontenttype").is_none(), "binary mode sends the content type as content-type only");
    let sdk = to_event(&map, body).unwrap();
    let decode = |v: &str| percent_encoding::percent_decode_str(v).decode_utf8().unwrap().into_owned();
    assert_sdk_reads(&sdk, &e, decode, |n| ExtensionValue::String(n.to_string()));
    // And our own decoder gets the event back whole, except extension values that become strings.
    let back = ce::from_binary(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &ce::to_binary(&e).1).unwrap();
    let mut want = e.clone();
    let kept = want.meta.extra.get_mut(ce::META_KEY).and_then(|v| v.get_mut("extensions")).and_then(Value::as_object_mut).unwrap();
    for v in kept.values_mut() {
        if !v.is_string() {
            *v = Value::String(v.to_string());
        }
    }
    assert_eq!(back, want);
}
