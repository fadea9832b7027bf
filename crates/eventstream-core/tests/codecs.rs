//! Round-trip property tests of the three encodings, and the CloudEvents codec against the official
//! CloudEvents SDK (`suite/cloudevents_sdk.rs`).

#![allow(clippy::unwrap_used)]

mod suite {
    pub(crate) mod cloudevents_sdk;
}

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use eventstream_core::codec::{cloudevents, redis_fields};
use eventstream_core::{Event, EventId, EventType, Meta, Severity, Source, TenantId};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn arb_json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_payload() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,10}", arb_json(), 0..5).prop_map(|m| m.into_iter().collect())
}

fn arb_opt_label() -> impl Strategy<Value = Option<String>> {
    // Spaces, `"`, `%` and non-ASCII: what binary mode must percent-encode.
    prop::option::of("[A-Za-z0-9_:.%ë-][A-Za-z0-9 _:.%\"ëß✓🚀-]{0,20}[A-Za-z0-9_ü]")
}

/// `meta.cloudevents` as the CloudEvents decoder makes it: subject, dataschema, foreign extensions.
fn arb_kept_cloudevents() -> impl Strategy<Value = Option<Value>> {
    let ext_value = prop_oneof![Just(Value::Bool(true)), any::<i32>().prop_map(Value::from), "\\PC{0,12}".prop_map(Value::from)];
    prop::option::of((
        prop::option::of("\\PC{1,16}"),
        prop::option::of("https://schemas\\.example\\.com/[a-z]{1,8}\\.json"),
        prop::collection::btree_map("x[a-z0-9]{0,8}", ext_value, 0..4),
    ))
    .prop_map(|kept| {
        let (subject, dataschema, extensions) = kept?;
        let mut m = Map::new();
        if let Some(s) = subject {
            m.insert("subject".into(), s.into());
        }
        if let Some(s) = dataschema {
            m.insert("dataschema".into(), s.into());
        }
        if !extensions.is_empty() {
            m.insert("extensions".into(), Value::Object(extensions.into_iter().collect()));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    })
}

/// Binary mode carries every extension value as a string.
fn with_string_extensions(mut e: Event) -> Event {
    if let Some(Value::Object(x)) = e.meta.extra.get_mut("cloudevents").and_then(|c| c.get_mut("extensions")) {
        for v in x.values_mut() {
            if !v.is_string() {
                *v = Value::String(v.to_string());
            }
        }
    }
    e
}

prop_compose! {
    fn arb_event()(
        id in "[A-Za-z0-9_-]{1,40}",
        ns in "[a-z][a-z0-9_]{0,8}",
        name in "[a-z0-9_]{1,10}(\\.[a-z0-9_]{1,6})?",
        source in "[A-Za-z0-9_/-]{1,20}",
        target in arb_opt_label(),
        micros in 0i64..4_000_000_000_000_000,
        payload in arb_payload(),
        mission_id in arb_opt_label(),
        task_id in arb_opt_label(),
        correlation_id in arb_opt_label(),
        causation_id in arb_opt_label(),
        tenant in prop::option::of("[a-z0-9-]{1,12}"),
        actor_id in arb_opt_label(),
        severity in prop::option::of(prop_oneof![Just(Severity::Info), Just(Severity::Warning), Just(Severity::Error), Just(Severity::Critical)]),
        schema_version in 0u32..10,
        extra in prop::collection::btree_map("x[a-z_]{0,6}", arb_json(), 0..3),
        kept in arb_kept_cloudevents(),
    ) -> Event {
        let mut extra: Map<String, Value> = extra.into_iter().collect();
        if let Some(k) = kept {
            extra.insert("cloudevents".into(), k);
        }
        Event {
            id: id.parse::<EventId>().unwrap(),
            event_type: format!("{ns}.{name}").parse::<EventType>().unwrap(),
            source: source.parse::<Source>().unwrap(),
            target,
            timestamp: Utc.timestamp_micros(micros).unwrap(),
            payload,
            mission_id, task_id, correlation_id, causation_id,
            tenant_id: tenant.map(|t| t.parse::<TenantId>().unwrap()),
            actor_id,
            severity,
            meta: Meta { schema_version, producer: "p".into(), source_module: ns, extra },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn json_round_trips(e in arb_event()) {
        let text = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(Event::from_json_value(e.to_json_value()).unwrap(), e);
    }

    #[test]
    fn redis_fields_round_trip(e in arb_event()) {
        let fields: HashMap<String, String> = redis_fields::encode(&e).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        prop_assert!(fields.values().all(|v| v != "None"));
        prop_assert_eq!(redis_fields::decode(&fields).unwrap(), e);
    }

    #[test]
    fn cloudevents_structured_round_trips(e in arb_event()) {
        let ce = cloudevents::to_structured(&e);
        let text = ce.to_string();
        let back = cloudevents::from_structured(&serde_json::from_str(&text).unwrap()).unwrap();
        prop_assert_eq!(back, e);
    }

    #[test]
    fn cloudevents_binary_round_trips(e in arb_event()) {
        let (headers, body) = cloudevents::to_binary(&e);
        prop_assert!(headers.iter().all(|(_, v)| v.bytes().all(|b| (0x21..0x7f).contains(&b))), "printable ASCII header values: {:?}", headers);
        let back = cloudevents::from_binary(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body).unwrap();
        prop_assert_eq!(back, with_string_extensions(e));
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(v in arb_json()) {
        let _ = Event::from_json_value(v.clone());
        let _ = cloudevents::from_structured(&v);
    }

    #[test]
    fn decoding_arbitrary_redis_fields_never_panics(m in prop::collection::hash_map(prop_oneof![Just("id".to_owned()), Just("type".to_owned()), Just("timestamp".to_owned()), Just("payload".to_owned()), Just("meta".to_owned()), Just("source".to_owned()), "[a-z]{1,5}"], "\\PC{0,30}", 0..8)) {
        let _ = redis_fields::decode(&m);
    }
}

#[test]
fn cloudevents_structured_shape_uses_the_documented_extensions() {
    let mut e = Event::new("task.created".parse().unwrap(), "mission_queue_manager".parse().unwrap(), Map::new());
    e.tenant_id = Some("acme".parse().unwrap());
    e.correlation_id = Some("c1".into());
    e.causation_id = Some("p1".into());
    e.target = Some("agent_7".into());
    let ce = cloudevents::to_structured(&e);
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["source"], "/brain/mission_queue_manager");
    assert_eq!(ce["tenantid"], "acme");
    assert_eq!(ce["correlationid"], "c1");
    assert_eq!(ce["causationid"], "p1");
    assert_eq!(ce["schemaversion"], 1);
    assert_eq!(ce["target"], "agent_7");
    assert!(ce["time"].as_str().unwrap().ends_with('Z'));
    let (headers, _) = cloudevents::to_binary(&e);
    assert!(headers.iter().any(|(k, v)| k == "ce-tenantid" && v == "acme"));
}

#[test]
fn cloudevents_errors_name_the_attribute() {
    let base = serde_json::json!({"specversion": "1.0", "id": "1", "source": "/brain/x", "type": "task.created", "data": {}});
    assert!(cloudevents::from_structured(&base).is_ok());
    for (k, v) in [
        ("specversion", Value::from("0.3")),
        ("type", "Bad".into()),
        ("data", Value::from(3)),
        ("tenantid", "a b".into()),
        ("time", "never".into()),
    ] {
        let mut c = base.clone();
        c[k] = v;
        assert_eq!(cloudevents::from_structured(&c).err().map(|e| e.field), Some(k.to_owned()), "{k}");
    }
    let err = cloudevents::from_binary([("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "x")], b"{}").err().unwrap();
    assert_eq!(err.field, "type");
}
