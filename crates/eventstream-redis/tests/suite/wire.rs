//! Wire compatibility with the original Python EventStream: entries it wrote (recorded fixtures, and a
//! live Python producer) are read through `RedisLog`, and every entry `RedisLog` writes is read by the
//! original's own reading path (`fixtures/original_reader.py`: its `Event.from_dict`,
//! `get_event_history` and `EventConsumer`) and by a plain Python consumer.
//!
//! The Python tests run the interpreter [`interop_python`] finds, with redis-py
//! (`fixtures/requirements.txt`); under `CI=true` a missing interpreter or package fails them.

use std::path::PathBuf;
use std::time::Duration;

use eventstream_core::{Event, EventLog, EventType, GroupName, Severity, Source, StartFrom, TenantId};
use serde_json::{Map, Value, json};

use super::helpers::{Prefix, raw, redis_available, redis_url, xadd_raw};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn load_fixture(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    v["entries"].as_array().cloned().unwrap_or_else(|| panic!("fixture {name} has no entries"))
}

/// Asserts every key of `want` equals the same key of `got` (objects compared recursively the same way).
fn assert_subset(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) if at.ends_with("meta") || at.is_empty() => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&Value::Null);
                assert_subset(gv, wv, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "field {at}"),
    }
}

/// Writes every fixture entry raw (as the original did, field order kept) and checks what `RedisLog` reads.
async fn fixtures_are_read(file: &str) {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("wire-fixtures");
    let log = prefix.log("s");
    let mut con = raw(&redis_url()).await;
    let entries = load_fixture(file);
    let mut ids = Vec::new();
    for entry in &entries {
        let fields: Vec<(String, String)> = entry["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("fields"))
            .iter()
            .map(|kv| (kv[0].as_str().unwrap_or_default().to_owned(), kv[1].as_str().unwrap_or_default().to_owned()))
            .collect();
        let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        ids.push(xadd_raw(&mut con, log.stream(), &borrowed).await);
    }

    let records = log.read(&StartFrom::Beginning, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(records.iter().map(|r| r.position.to_string()).collect::<Vec<_>>(), ids, "{file}: every raw entry is read, none dropped");
    for (entry, record) in entries.iter().zip(&records) {
        let name = entry["name"].as_str().unwrap_or_default();
        match (&record.event, &entry["expect"]) {
            (Ok(event), expect) if expect.get("ok").is_some() => assert_subset(&event.to_json_value(), &expect["ok"], ""),
            (Err(e), expect) if expect.get("error_field").is_some() => {
                assert_eq!(Some(e.field.as_str()), expect["error_field"].as_str(), "{name}: the decode error names the field ({e})");
            }
            (got, expect) => panic!("{name}: expected {expect}, got {got:?}"),
        }
    }

    // A consumer group gets every entry too, the undecodable ones included (to dead-letter them).
    let g: GroupName = "wire_reader".parse().unwrap_or_else(|e| panic!("{e}"));
    let c = "replica-1".parse().unwrap_or_else(|e| panic!("{e}"));
    log.ensure_group(&g, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let delivered = log.read_group(&g, &c, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("read_group: {e}"));
    assert_eq!(delivered.len(), entries.len(), "{file}: read_group delivers every entry");
}

#[tokio::test]
async fn entries_in_the_16cf265d_to_dict_shape_are_read() {
    fixtures_are_read("original_16cf265d_to_dict.json").await;
}

#[tokio::test]
async fn entries_in_the_head_publish_event_shape_are_read() {
    fixtures_are_read("original_head_publish_event.json").await;
}

#[tokio::test]
async fn entries_nobody_can_decode_come_back_as_decode_errors() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("wire-garbage");
    let log = prefix.log("s");
    let mut con = raw(&redis_url()).await;
    let ok = log.append(&[full_event()]).await.unwrap_or_else(|e| panic!("append: {e}"));
    type Fields<'a> = Vec<(&'a str, &'a [u8])>;
    let cases: Vec<(&str, Fields<'_>)> = vec![
        ("id", vec![("id", b"\xff\xfe"), ("type", b"task.created")]),
        ("id", vec![("hello", b"world")]),
        (
            "payload",
            vec![("id", b"e1"), ("type", b"task.created"), ("source", b"s"), ("timestamp", b"2025-01-01T00:00:00"), ("payload", b"[1,2]")],
        ),
        ("timestamp", vec![("id", b"e2"), ("type", b"task.created"), ("source", b"s"), ("timestamp", b"yesterday"), ("payload", b"{}")]),
    ];
    for (_, fields) in &cases {
        xadd_raw(&mut con, log.stream(), fields).await;
    }
    let after = log.append(&[full_event()]).await.unwrap_or_else(|e| panic!("append: {e}"));
    let records = log.read(&StartFrom::Beginning, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(records.len(), 6, "undecodable entries are returned, not skipped");
    assert_eq!(records[0].position, ok[0]);
    assert_eq!(records[5].position, after[0]);
    assert!(records[0].event.is_ok() && records[5].event.is_ok());
    for ((field, _), r) in cases.iter().zip(&records[1..5]) {
        let err = r.event.as_ref().err().unwrap_or_else(|| panic!("{} decoded", r.position));
        assert_eq!(err.field, *field, "{err}");
    }
    let back = log.read_back(None, 10).await.unwrap_or_else(|e| panic!("read_back: {e}"));
    assert_eq!(back.iter().filter(|r| r.event.is_err()).count(), 4, "read_back keeps undecodable entries too");
}

/// An event with every optional field set.
fn full_event() -> Event {
    let mut payload = Map::new();
    payload.insert("course_id".into(), json!("c-9"));
    payload.insert("nested".into(), json!({"a": [1, 2, {"b": null}], "unicode": "Grüße ✓"}));
    let mut e = Event::new(
        "course.generation.completed".parse::<EventType>().unwrap_or_else(|e| panic!("{e}")),
        "course_factory".parse::<Source>().unwrap_or_else(|e| panic!("{e}")),
        payload,
    );
    e.target = Some("course_distribution".into());
    e.mission_id = Some("m-1".into());
    e.task_id = Some("t-1".into());
    e.correlation_id = Some("corr-1".into());
    e.causation_id = Some("cause-1".into());
    e.tenant_id = Some("acme".parse::<TenantId>().unwrap_or_else(|e| panic!("{e}")));
    e.actor_id = Some("user-1".into());
    e.severity = Some(Severity::Critical);
    e.meta.extra.insert("trace".into(), json!("abc"));
    // The W3C trace context travels inside `meta` (the original's reader keeps meta as its JSON string).
    e.meta.extra.insert("traceparent".into(), json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    e.meta.extra.insert("tracestate".into(), json!("congo=t61rcWkgMzE"));
    // The wire format carries microseconds.
    e.timestamp = chrono::SubsecRound::trunc_subsecs(e.timestamp, 6);
    e
}

#[tokio::test]
async fn entries_we_write_use_the_original_field_layout() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("wire-layout");
    let log = prefix.log("s");
    let mut sparse = full_event();
    sparse.target = None;
    sparse.severity = None;
    let events = [full_event(), sparse];
    let ps = log.append(&events).await.unwrap_or_else(|e| panic!("append: {e}"));
    let mut con = raw(&redis_url()).await;
    let raw_entries: Vec<(String, Vec<(String, String)>)> =
        ::redis::cmd("XRANGE").arg(log.stream()).arg("-").arg("+").query_async(&mut con).await.unwrap_or_else(|e| panic!("XRANGE: {e}"));
    assert_eq!(raw_entries.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ps.iter().map(ToString::to_string).collect::<Vec<_>>());
    let (_, fields) = &raw_entries[0];
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "type",
            "source",
            "target",
            "payload",
            "timestamp",
            "mission_id",
            "task_id",
            "correlation_id",
            "tenant_id",
            "actor_id",
            "severity",
            "meta"
        ],
        "one field per field of the original's dataclass, in its order; causation_id (unknown to it) is in meta"
    );
    let get = |fs: &[(String, String)], k: &str| fs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get(fields, "stream"), None);
    let payload: Value =
        serde_json::from_str(&get(fields, "payload").unwrap_or_default()).unwrap_or_else(|e| panic!("payload is JSON: {e}"));
    assert_eq!(Value::Object(events[0].payload.clone()), payload);
    let meta: Value = serde_json::from_str(&get(fields, "meta").unwrap_or_default()).unwrap_or_else(|e| panic!("meta is JSON: {e}"));
    assert_eq!(meta["schema_version"], json!(1));
    assert_eq!(meta["trace"], json!("abc"));
    assert_eq!(meta["causation_id"], json!("cause-1"), "fields the original does not know travel in meta");
    assert!(get(fields, "timestamp").is_some_and(|t| t.ends_with("+00:00")), "RFC 3339 with +00:00, which fromisoformat reads on 3.7+");
    let (_, sparse_fields) = &raw_entries[1];
    assert_eq!(get(sparse_fields, "target").as_deref(), Some(""), "target is required by the original's dataclass: a broadcast is \"\"");
    assert_eq!(get(sparse_fields, "severity"), None, "absent optionals are omitted, never written as None/null");
    assert!(sparse_fields.iter().all(|(_, v)| v != "None" && v != "null"));
    let back = log.read(&StartFrom::Beginning, 10, Duration::ZERO).await.unwrap_or_else(|e| panic!("read: {e}"));
    for (r, e) in back.iter().zip(&events) {
        assert_eq!(r.event.as_ref().ok(), Some(e), "round trip");
    }
}

/// The Python the interop tests run: `$BRAIN_TEST_PYTHON`, else the workspace's `target/pyenv` (the venv
/// `scripts/test` makes from `fixtures/requirements.txt`), else `python3` on `PATH`.
fn interop_python() -> PathBuf {
    eventstream_testkit::test_python()
}

/// Whether the interop Python with redis-py is there. When it is not: under `CI=true` this fails the test;
/// elsewhere it writes a visible SKIPPED banner and returns false.
fn python_with_redis() -> bool {
    eventstream_testkit::require_tool("redis-py", eventstream_testkit::ToolProbe::python_module("redis"))
}

async fn run_python(script: &str, args: &[&str]) -> Value {
    let out = tokio::process::Command::new(interop_python())
        .arg(fixture_path(script))
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", interop_python().display()));
    assert!(out.status.success(), "python {script} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python {script} {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

async fn python(mode: &str, stream: &str) -> Value {
    run_python("original_producer.py", &[mode, &redis_url(), stream]).await
}

#[tokio::test]
async fn a_python_producer_like_the_original_and_this_log_read_each_other() {
    if !redis_available() || !python_with_redis() {
        return;
    }
    let prefix = Prefix::new("wire-python");
    let log = prefix.log("s");

    // Python -> Rust.
    let report = python("produce", log.stream()).await;
    assert_eq!(report["c1"], json!("DataError"), "redis-py refuses the 16cf265d to_dict() shape (flaw C1)");
    let sent = report["events"].as_array().cloned().unwrap_or_default();
    let records = log.read(&StartFrom::Beginning, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(records.len(), sent.len(), "every event the Python producer published is read");
    for (r, py) in records.iter().zip(&sent) {
        let e = r.event.as_ref().unwrap_or_else(|err| panic!("{}: {err}", r.position));
        assert_eq!(e.id.as_str(), py["id"].as_str().unwrap_or_default());
        assert_eq!(e.event_type.as_str(), py["type"].as_str().unwrap_or_default());
        assert_eq!(Value::Object(e.payload.clone()), py["payload"]);
        assert_eq!(e.target.as_deref(), py["target"].as_str());
        assert_eq!(e.tenant_id.as_ref().map(TenantId::as_str), py["tenant_id"].as_str());
        assert_eq!(e.severity.map(Severity::as_str), py["severity"].as_str());
        let naive = py["timestamp"].as_str().unwrap_or_default();
        let naive = chrono::NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f").unwrap_or_else(|err| panic!("{naive}: {err}"));
        assert_eq!(e.timestamp.naive_utc(), naive, "naive utcnow() is read as UTC");
        assert_eq!(e.meta.schema_version, 1, "schema_version 1 and \"1.0\" both read as 1");
    }

    // Rust -> Python.
    let mine = full_event();
    let p = log.append(std::slice::from_ref(&mine)).await.unwrap_or_else(|e| panic!("append: {e}"));
    let seen = python("consume", log.stream()).await;
    let row = seen
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["stream_id"] == json!(p[0].to_string())))
        .cloned()
        .unwrap_or_else(|| panic!("python did not see {}", p[0]));
    let d = &row["decoded"];
    assert_eq!(d["id"], json!(mine.id.to_string()));
    assert_eq!(d["type"], json!("course.generation.completed"));
    assert_eq!(d["payload"], Value::Object(mine.payload.clone()));
    assert_eq!(d["meta"]["producer"], json!(mine.meta.producer));
    assert_eq!(d["tenant_id"], json!("acme"));
    assert_eq!(d["severity"], json!("CRITICAL"));
    let py_time = d["timestamp"].as_str().unwrap_or_default();
    let parsed = chrono::DateTime::parse_from_rfc3339(py_time).unwrap_or_else(|e| panic!("python's isoformat {py_time}: {e}"));
    assert_eq!(parsed.with_timezone(&chrono::Utc), mine.timestamp, "Python's fromisoformat reads our timestamp");
}

/// Events that exercise every envelope field, broadcasts, unicode in every string field and nested
/// payloads; every type is one of the original's closed `EventType` enum (any other type is a ValueError
/// in its `from_dict`, whatever the encoding).
fn events_for_the_original_reader() -> Vec<Event> {
    let ev = |t: &str, source: &str, payload: Value| -> Event {
        let Value::Object(payload) = payload else { panic!("payload must be an object") };
        let mut e = Event::new(t.parse().unwrap_or_else(|e| panic!("{e}")), source.parse().unwrap_or_else(|e| panic!("{e}")), payload);
        e.timestamp = chrono::SubsecRound::trunc_subsecs(e.timestamp, 6);
        e
    };
    let full = full_event();
    let mut broadcast = ev("task.created", "mission_queue_manager", json!({"task_id": "t-2", "priority": 20}));
    broadcast.causation_id = Some(full.id.to_string());
    let mut unicode = ev(
        "agent.message",
        "supervisor",
        json!({"message": "Grüße, 世界 ✓ 🚀", "from": "Zoë", "to": "agent-7", "名前": {"データ": ["ü", {"ß": null, "n": 1.5}], "leer": {}}}),
    );
    unicode.target = Some("agent-7 Zoë".into());
    unicode.actor_id = Some("Zoë Adler".into());
    unicode.correlation_id = Some("корреляция-1".into());
    unicode.causation_id = Some("ursache ✓".into());
    unicode.tenant_id = Some("acme".parse().unwrap_or_else(|e| panic!("{e}")));
    unicode.severity = Some(Severity::Warning);
    unicode.meta.extra.insert("note".into(), json!("méta 🚀"));
    unicode.meta.extra.insert("nested".into(), json!({"a": [1, {"b": "ç"}]}));
    let mut other_tenant = ev("ir.validated_pass", "ir_governance", json!({"ir_hash": "ff00", "risk_tier": 0, "steps": [{"n": 1}]}));
    other_tenant.tenant_id = Some("globex".parse().unwrap_or_else(|e| panic!("{e}")));
    other_tenant.meta.schema_version = 2;
    let legacy_broadcast = ev("broadcast", "supervisor", json!({"message": "all hands", "from": "supervisor"}));
    vec![full, broadcast, unicode, other_tenant, legacy_broadcast]
}

/// Asserts what the original's `from_dict` made of our entry (`py`, as `original_reader.py` dumps it) is
/// `want`: the same field values, `payload` and `meta` the JSON strings of ours (it does not decode them),
/// an aware UTC timestamp, and `causation_id` under `meta`.
fn assert_python_decoded(py: &Value, want: &Event) {
    let id = want.id.as_str();
    let text = |k: &str| py[k].as_str().map(ToOwned::to_owned);
    assert_eq!(text("id").as_deref(), Some(id));
    assert_eq!(text("type").as_deref(), Some(want.event_type.as_str()), "{id}: type");
    assert_eq!(text("source").as_deref(), Some(want.source.as_str()), "{id}: source");
    assert_eq!(text("target"), Some(want.target.clone().unwrap_or_default()), "{id}: target (\"\" for a broadcast)");
    for (k, v) in [
        ("mission_id", &want.mission_id),
        ("task_id", &want.task_id),
        ("correlation_id", &want.correlation_id),
        ("actor_id", &want.actor_id),
    ] {
        assert_eq!(&text(k), v, "{id}: {k}");
    }
    assert_eq!(text("tenant_id").as_deref(), want.tenant_id.as_ref().map(TenantId::as_str), "{id}: tenant_id");
    assert_eq!(text("severity").as_deref(), want.severity.map(Severity::as_str), "{id}: severity");
    assert_eq!(py["payload_python_type"], json!("str"), "{id}: from_dict leaves payload as the stream's string");
    let payload: Value = serde_json::from_str(py["payload"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{id}: payload: {e}"));
    assert_eq!(payload, Value::Object(want.payload.clone()), "{id}: payload");
    let meta: Value = serde_json::from_str(py["meta"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{id}: meta: {e}"));
    assert_eq!(meta["schema_version"], json!(want.meta.schema_version), "{id}: meta.schema_version");
    assert_eq!(meta["producer"], json!(want.meta.producer), "{id}: meta.producer");
    assert_eq!(meta["source_module"], json!(want.meta.source_module), "{id}: meta.source_module");
    for (k, v) in &want.meta.extra {
        assert_eq!(&meta[k], v, "{id}: meta.{k}");
    }
    assert_eq!(meta.get("causation_id").and_then(Value::as_str), want.causation_id.as_deref(), "{id}: causation_id in meta");
    assert_eq!(py["utcoffset_seconds"], json!(0.0), "{id}: an aware UTC datetime");
    let ts = py["timestamp"].as_str().unwrap_or_default();
    let parsed = chrono::DateTime::parse_from_rfc3339(ts).unwrap_or_else(|e| panic!("{id}: python's isoformat {ts}: {e}"));
    assert_eq!(parsed.with_timezone(&chrono::Utc), want.timestamp, "{id}: timestamp");
}

#[tokio::test]
async fn the_originals_own_reader_decodes_every_event_we_write() {
    if !redis_available() || !python_with_redis() {
        return;
    }
    let prefix = Prefix::new("wire-original-reader");
    let log = prefix.log("s");
    let events = events_for_the_original_reader();
    log.append(&events).await.unwrap_or_else(|e| panic!("append: {e}"));
    let url = redis_url();

    // get_event_history: XREVRANGE, from_dict, client-side filters; entries it cannot parse are skipped.
    let history = run_python("original_reader.py", &["history", &url, log.stream()]).await;
    assert_eq!(history["failures"], json!([]), "from_dict fails on none of our entries");
    let got = history["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(got.len(), events.len(), "get_event_history returns every event we wrote");
    for (py, want) in got.iter().zip(events.iter().rev()) {
        assert_python_decoded(py, want);
    }
    let acme = run_python("original_reader.py", &["history", &url, log.stream(), "acme"]).await;
    let acme_ids: Vec<&str> = acme["events"].as_array().into_iter().flatten().filter_map(|e| e["id"].as_str()).collect();
    let want_acme: Vec<&str> =
        events.iter().rev().filter(|e| e.tenant_id.as_ref().is_some_and(|t| t.as_str() == "acme")).map(|e| e.id.as_str()).collect();
    assert_eq!(acme_ids, want_acme, "its tenant filter sees our top-level tenant_id");

    // EventConsumer: a parse failure is "permanent" and acknowledged away; none may be.
    let group = "group_original_reader";
    let consumed = run_python("original_reader.py", &["consume", &url, log.stream(), group]).await;
    assert_eq!(consumed["acked_away"], json!([]), "the original's consumer drops none of our entries");
    assert_eq!(consumed["pending"], json!([]));
    let processed = consumed["processed"].as_array().cloned().unwrap_or_default();
    assert_eq!(processed.len(), events.len(), "the original's consumer processes every event we wrote");
    for (py, want) in processed.iter().zip(&events) {
        assert_python_decoded(py, want);
    }

    // And we still read back exactly what we wrote.
    let back = log.read(&StartFrom::Beginning, 100, Duration::ZERO).await.unwrap_or_else(|e| panic!("read: {e}"));
    let back: Vec<Event> = back.into_iter().map(|r| r.event.unwrap_or_else(|e| panic!("{e}"))).collect();
    assert_eq!(back, events);
}
