//! The OpenAPI document describes every route and validates as OpenAPI 3 (openapi-spec-validator in the
//! interop Python, `eventstream_testkit::test_python`); the catalog route (`brain catalog` is tested with
//! the CLI); the metrics exposition.

use std::process::Command;
use std::time::Duration;

use eventstream_testkit::fixtures::eventually;
use eventstream_testkit::{ToolProbe, require_tool, test_python};

use super::isolation::ROUTES;
use crate::suite::helpers::TestApp;

#[tokio::test]
async fn openapi_document_lists_every_route_and_is_valid() {
    let api = TestApp::start().await;
    let (status, doc) = api.get("/api/openapi.json", &api.admin).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut expected: Vec<(String, String)> =
        ROUTES.iter().map(|(m, p)| (m.to_lowercase(), p.replace("EVT", "{id}").replace("DL", "{id}").replace("SUB", "{name}"))).collect();
    expected.extend([("get".into(), "/health".into()), ("get".into(), "/ready".into()), ("get".into(), "/metrics".into())]);
    // The modules' routes: documented, and each one really served (not the router's fallback).
    for route in brain_modules::routes::ROUTES {
        expected.push((route.method.to_owned(), route.path.to_owned()));
        let concrete: String = route.path.split('/').map(|seg| if seg.starts_with('{') { "x1" } else { seg }).collect::<Vec<_>>().join("/");
        let (status, body) = if route.method == "post" {
            api.post(&concrete, &api.admin, &serde_json::json!({})).await
        } else {
            api.get(&concrete, &api.admin).await
        };
        let fallback = body["message"].as_str().is_some_and(|m| m.contains("no such route")) || status == 405;
        assert!(!fallback && status < 500, "{} {} is not served: {status} {body}", route.method, route.path);
    }
    for (method, path) in &expected {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not documented");
        let op = &paths[path][method];
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has responses");
    }
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }

    // The OpenAPI 3 schema itself, by openapi-spec-validator in the interop Python (`scripts/test` installs
    // it from tests/fixtures/requirements.txt); missing, it fails under CI=true and is skipped loudly otherwise.
    if !require_tool("openapi-spec-validator", ToolProbe::python_module("openapi_spec_validator")) {
        return;
    }
    let file = api.dir().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let script = "import json,sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')";
    let python = test_python();
    let out = Command::new(&python).args(["-c", script]).arg(&file).output().unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(out.status.success(), "the OpenAPI document is invalid:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "valid");
}

#[tokio::test]
async fn catalog_route_lists_every_type() {
    let api = TestApp::start().await;
    let (status, v) = api.get("/api/catalog", &api.key("acme", "reader").await).await;
    assert_eq!(status, 200);
    let types = v["types"].as_array().unwrap();
    assert_eq!(types.len() as u64, v["count"].as_u64().unwrap());
    assert!(types.len() > 70);
    // `brain catalog --json` lists as many (the CLI test compares it with the same catalog).
    assert_eq!(types.len(), brain_events::Catalog::new().len());
    let task = types.iter().find(|t| t["event_type"] == "task.created").unwrap();
    assert_eq!(task["schema"]["type"], "object");
    assert_eq!(v["validation"], "strict");
}

#[tokio::test]
async fn metrics_expose_publish_consume_lag_outbox_and_dead_letters() {
    let api = TestApp::start().await;
    api.publish_task(&api.admin, "t1", serde_json::json!({})).await;
    // Wait (bounded, failing at the deadline) for the index subscriber to count it.
    let consumed = "brain_events_consumed{subscriber=\"event_index\",type=\"task.created\"} 1";
    let text = eventually("the event index counts the published task.created in /metrics", Duration::from_secs(10), || async {
        let text = api.client.get(api.url("/metrics")).bearer_auth(&api.admin).send().await.unwrap().text().await.unwrap();
        text.contains(consumed).then_some(text)
    })
    .await;
    for needle in [
        "brain_events_published_total{type=\"task.created\"} 1",
        "brain_api_events_published_total{type=\"task.created\"} 1",
        "brain_publish_latency_seconds_bucket{le=\"+Inf\"} 1",
        "brain_publish_latency_seconds_count 1",
        "brain_consumer_lag{subscriber=\"event_index\"}",
        "brain_outbox_depth ",
        "# TYPE brain_dead_letters gauge",
        "brain_events_consumed{subscriber=\"event_index\",type=\"task.created\"} 1",
        "brain_up{component=\"log\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
