//! analytics: rates per type, module and tenant over the three windows, created/completed/failed counts
//! per module, tenant scoping, and a redelivered event counted once.

use brain_events::EventPayload;
use brain_events::dna::DnaSnapshotCreated;
use brain_events::hardware::HardwareCommandSent;
use brain_events::task::{TaskCompleted, TaskCreated, TaskFailed};
use eventstream_core::Event;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::helpers::{App, TENANT, fast_config};

/// An event of type `t` for `tenant`, `ago` seconds old. Analytics reads only the envelope.
fn ev(t: &str, tenant: &str, ago: i64) -> Event {
    let mut e = Event::new(t.parse().expect("type"), "analytics_test".parse().expect("source"), Map::new());
    e.tenant_id = tenant.parse().ok();
    e.timestamp -= chrono::Duration::seconds(ago);
    e
}

/// `GET path` with a role.
async fn get_as(app: &App, path: &str, tenant: &str, role: &str) -> (u16, Value) {
    let resp = app
        .client
        .request(Method::GET, format!("{}{path}", app.base))
        .header("x-test-tenant", tenant)
        .header("x-test-role", role)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn count_of(list: &Value, key: &str) -> u64 {
    list.as_array().and_then(|l| l.iter().find(|r| r["key"] == key)).and_then(|r| r["count"].as_u64()).unwrap_or(0)
}

#[tokio::test]
async fn rates_and_module_outcomes_follow_the_windows_and_the_tenant() {
    let app = App::start(fast_config()).await;
    let mut batch = Vec::new();
    for _ in 0..4 {
        batch.push(ev(TaskCreated::TYPE, TENANT, 0));
    }
    batch.push(ev(TaskCompleted::TYPE, TENANT, 0));
    batch.push(ev(TaskCompleted::TYPE, TENANT, 0));
    batch.push(ev(DnaSnapshotCreated::TYPE, TENANT, 30 * 60)); // in 1h and 24h, not in 1m
    batch.push(ev(DnaSnapshotCreated::TYPE, TENANT, 30 * 60));
    batch.push(ev(DnaSnapshotCreated::TYPE, TENANT, 3 * 3600)); // in 24h only
    batch.push(ev(DnaSnapshotCreated::TYPE, TENANT, 2 * 86_400)); // in the all-time totals only
    for _ in 0..5 {
        batch.push(ev(HardwareCommandSent::TYPE, "beta", 0));
    }
    let dup = ev(TaskCreated::TYPE, TENANT, 0);
    batch.push(dup.clone());
    batch.push(dup); // the same id again: a redelivery, counted once
    app.events.publish_batch(&batch).await.expect("publish");
    // The last event: once it is counted (the subscriber runs in log order), everything before it is.
    app.events.publish(ev(TaskFailed::TYPE, TENANT, 0)).await.expect("publish");

    let m =
        app.wait_get("/api/analytics/rates?window=1m", "the last event counted", |b| count_of(&b["types"], TaskFailed::TYPE) == 1).await;
    assert_eq!((m["window"].as_str(), m["window_seconds"].as_i64(), m["tenant"].as_str()), (Some("1m"), Some(60), Some(TENANT)));
    assert_eq!(m["total"], 8, "4 + 1 created, 2 completed, 1 failed: {m}");
    assert_eq!(
        (count_of(&m["types"], TaskCreated::TYPE), count_of(&m["types"], TaskCompleted::TYPE)),
        (5, 2),
        "the duplicate id is counted once"
    );
    assert_eq!(m["types"][0]["key"], TaskCreated::TYPE, "most frequent first");
    assert_eq!(m["types"][0]["per_minute"].as_f64(), Some(5.0));
    assert_eq!((count_of(&m["modules"], "task"), count_of(&m["modules"], "dna")), (8, 0));
    assert_eq!(m["tenants"], json!([{"key": TENANT, "count": 8, "per_minute": 8.0}]), "a key sees its own tenant only");

    let (status, h) = app.get("/api/analytics/rates?window=1h").await;
    assert_eq!((status, h["total"].as_u64(), count_of(&h["modules"], "dna")), (200, Some(10), 2));
    let (_, d) = app.get("/api/analytics/rates?window=24h").await;
    assert_eq!((d["total"].as_u64(), count_of(&d["types"], DnaSnapshotCreated::TYPE)), (Some(11), 3));
    let (_, default) = app.get("/api/analytics/rates").await;
    assert_eq!((default["window"].as_str(), default["total"].as_u64()), (Some("1h"), Some(10)));

    // Module outcomes since the start (the two-day-old event too), and in a window.
    let (status, all) = app.get("/api/analytics/modules").await;
    assert_eq!((status, all["window"].as_str()), (200, Some("all")));
    let task = all["modules"].as_array().and_then(|l| l.iter().find(|r| r["module"] == "task")).cloned().unwrap_or_default();
    assert_eq!(
        (task["events"].as_u64(), task["created"].as_u64(), task["completed"].as_u64(), task["failed"].as_u64()),
        (Some(8), Some(5), Some(2), Some(1)),
        "{all}"
    );
    assert!((task["failure_ratio"].as_f64().unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-9, "failed / (completed + failed)");
    let dna = all["modules"].as_array().and_then(|l| l.iter().find(|r| r["module"] == "dna")).cloned().unwrap_or_default();
    assert_eq!((dna["events"].as_u64(), dna["created"].as_u64(), dna["failure_ratio"].clone()), (Some(4), Some(4), Value::Null));
    let (_, minute) = app.get("/api/analytics/modules?window=1m").await;
    assert_eq!(minute["modules"].as_array().map(|l| l.iter().map(|r| r["module"].clone()).collect::<Vec<_>>()), Some(vec![json!("task")]));

    // Tenants: another key sees its own; an admin sees all or names one; a non-admin cannot name another.
    let (_, beta) = app.call(Method::GET, "/api/analytics/rates?window=1m", "beta", None, None).await;
    assert_eq!((beta["total"].as_u64(), count_of(&beta["types"], HardwareCommandSent::TYPE)), (Some(5), 5));
    let (status, admin) = get_as(&app, "/api/analytics/rates?window=1m", "ops", "admin").await;
    assert_eq!((status, admin["tenant"].clone(), admin["total"].as_u64()), (200, Value::Null, Some(13)));
    assert_eq!((count_of(&admin["tenants"], TENANT), count_of(&admin["tenants"], "beta")), (8, 5));
    let (_, named) = get_as(&app, "/api/analytics/modules?tenant=beta", "ops", "admin").await;
    assert_eq!(named["modules"][0]["module"], "hardware");
    assert_eq!(named["modules"].as_array().map(Vec::len), Some(1));
    let (status, body) = app.get("/api/analytics/rates?tenant=beta").await;
    assert_eq!((status, body["field"].as_str()), (403, Some("tenant")));

    for bad in ["/api/analytics/rates?window=2h", "/api/analytics/modules?window=", "/api/analytics/rates?tenant=Bad%20Tenant"] {
        let (status, body) = app.get(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_query", "{bad}");
    }
    let (status, body) = app.get("/api/analytics/rates?windw=1m").await;
    assert!((400..500).contains(&status), "unknown parameters are refused: {status} {body}");
    assert_eq!(body["code"].as_str(), Some("invalid_query"));
    app.stop().await;
}
