//! The tenant isolation matrix: for every `/api` route, a key of tenant A never sees, replays, retries or
//! discards anything of tenant B; readers cannot write; admin-only routes are 403 for the others.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::suite::helpers::{SseReader, TestApp, failing_subscriber, ids, send, task_event};

/// Every `/api` route (placeholders: EVT an event id, DL a dead-letter id, SUB a subscriber).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/events"),
    ("GET", "/api/events"),
    ("GET", "/api/events/stream"),
    ("GET", "/api/events/EVT"),
    ("POST", "/api/cloudevents"),
    ("GET", "/api/catalog"),
    ("GET", "/api/consumers"),
    ("POST", "/api/consumers/SUB/replay"),
    ("GET", "/api/dlq"),
    ("GET", "/api/dlq/DL"),
    ("POST", "/api/dlq/DL/retry"),
    ("POST", "/api/dlq/DL/discard"),
    ("POST", "/api/dlq/retry"),
    ("POST", "/api/dlq/discard"),
    ("GET", "/api/stats"),
    ("GET", "/api/stats/series"),
    ("GET", "/api/stats/series/stream"),
    ("GET", "/api/openapi.json"),
];

fn dl_ids(v: &Value) -> Vec<i64> {
    v["dead_letters"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn tenant_a_never_sees_or_touches_tenant_b() {
    let api = TestApp::start_with(vec![failing_subscriber("failer", "task.created")]).await;
    let (wa, ra, wb) = (api.key("tenant_a", "writer").await, api.key("tenant_a", "reader").await, api.key("tenant_b", "writer").await);

    // Publishing: tenant from the key; an admin may publish for any tenant; a writer only for its own.
    let b1 = api.publish_task(&wb, "b1", json!({"correlation_id": "corr-b"})).await;
    let a1 = api.publish_task(&wa, "a1", json!({"correlation_id": "corr-a"})).await;
    let b2 = api.publish_task(&api.admin, "b2", json!({"tenant_id": "tenant_b"})).await;
    let a2 = api.publish_task(&wa, "a2", json!({"tenant_id": "tenant_a"})).await;
    let (status, v) = api
        .post("/api/events", &wa, &{
            let mut e = task_event("x");
            e["tenant_id"] = "tenant_b".into();
            e
        })
        .await;
    assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (403, Some("forbidden"), Some("tenant_id")));
    let ce = json!({"specversion": "1.0", "id": "ce-x", "source": "/brain/tests", "type": "task.created", "tenantid": "tenant_b",
        "data": {"task_id": "x", "mission_type": "m", "priority": "LOW"}});
    let (status, _) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&wa)).header("content-type", "application/cloudevents+json").body(ce.to_string()),
    )
    .await;
    assert_eq!(status, 403, "a CloudEvent of another tenant");

    // Readers cannot write.
    let (status, v) = api.post("/api/events", &ra, &task_event("r")).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("forbidden")));
    let ce_a = json!({"specversion": "1.0", "id": "ce-a", "source": "/brain/tests", "type": "task.created",
        "data": {"task_id": "x", "mission_type": "m", "priority": "LOW"}});
    let (status, _) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&ra)).header("content-type", "application/cloudevents+json").body(ce_a.to_string()),
    )
    .await;
    assert_eq!(status, 403);

    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (a_ids, b_ids) = (vec![id(&a1), id(&a2)], vec![id(&b1), id(&b2)]);

    // History: only the key's tenant, whatever the filters; other tenants are 403; admin sees all.
    for key in [&wa, &ra] {
        let v = api.wait_for("/api/events", key, |v| ids(v).len() >= 2).await;
        assert_eq!(ids(&v), a_ids);
        let (_, v) = api.get("/api/events?correlation_id=corr-b", key).await;
        assert!(ids(&v).is_empty());
        let (_, v) = api.get("/api/events?tenant=tenant_a&type=task.*", key).await;
        assert_eq!(ids(&v), a_ids);
        let (status, v) = api.get("/api/events?tenant=tenant_b", key).await;
        assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (403, Some("forbidden"), Some("tenant")));
        for b in &b_ids {
            let (status, _) = api.get(&format!("/api/events/{b}"), key).await;
            assert_eq!(status, 404, "another tenant's event is not found");
        }
        let (status, v) = api.get(&format!("/api/events/{}", a_ids[0]), key).await;
        assert_eq!((status, v["tenant_id"].as_str()), (200, Some("tenant_a")));
    }
    let v = api.wait_for("/api/events", &api.admin, |v| ids(v).len() >= 4).await;
    assert_eq!(ids(&v).len(), 4);
    let (_, v) = api.get("/api/events?tenant=tenant_b", &api.admin).await;
    assert_eq!(ids(&v), b_ids);

    // Live tail: resuming after B's first event, A's reader gets a1 and a2 and nothing of B in between.
    let resp = api
        .req(Method::GET, "/api/events/stream", Some(&ra))
        .header("last-event-id", b1["position"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let mut sse = SseReader::new(resp);
    let mut got = Vec::new();
    while got.len() < 2 {
        let ev = sse.next(Duration::from_secs(10)).await.expect("A's events arrive");
        assert_eq!(ev.data["tenant_id"], "tenant_a", "{ev:?}");
        got.push(ev.data["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, a_ids);
    let (status, _) = send(api.req(Method::GET, "/api/events/stream?tenant=tenant_b", Some(&ra))).await;
    assert_eq!(status, 403);

    // Dead letters: the failing subscriber dead-letters all four events.
    let all = api.wait_for("/api/dlq", &api.admin, |v| dl_ids(v).len() == 4).await;
    let tenant_of = |d: &Value| d["tenant_id"].as_str().unwrap().to_owned();
    let letters = all["dead_letters"].as_array().unwrap();
    let dl_a: Vec<i64> = letters.iter().filter(|d| tenant_of(d) == "tenant_a").map(|d| d["id"].as_i64().unwrap()).collect();
    let dl_b: Vec<i64> = letters.iter().filter(|d| tenant_of(d) == "tenant_b").map(|d| d["id"].as_i64().unwrap()).collect();
    assert_eq!((dl_a.len(), dl_b.len()), (2, 2));
    for key in [&wa, &ra] {
        let (status, v) = api.get("/api/dlq", key).await;
        assert_eq!(status, 200);
        assert_eq!(dl_ids(&v), dl_a);
        let (status, _) = api.get("/api/dlq?tenant=tenant_b", key).await;
        assert_eq!(status, 403);
        let (_, v) = api.get("/api/dlq?subscriber=failer&status=open&type=task.created", key).await;
        assert_eq!(dl_ids(&v), dl_a);
        for b in &dl_b {
            let (status, _) = api.get(&format!("/api/dlq/{b}"), key).await;
            assert_eq!(status, 404);
        }
        let (status, v) = api.get(&format!("/api/dlq/{}", dl_a[0]), key).await;
        assert_eq!((status, v["event"]["tenant_id"].as_str()), (200, Some("tenant_a")));
    }
    for b in &dl_b {
        for action in ["retry", "discard"] {
            let (status, _) = api.post(&format!("/api/dlq/{b}/{action}"), &wa, &json!({})).await;
            assert_eq!(status, 404, "{action} of another tenant's dead letter");
        }
    }
    for action in ["retry", "discard"] {
        let (status, v) = api.post(&format!("/api/dlq/{}/{action}", dl_a[0]), &ra, &json!({})).await;
        assert_eq!((status, v["code"].as_str()), (403, Some("forbidden")), "a reader cannot {action}");
    }
    let (_, v) = api.get("/api/dlq?tenant=tenant_b&status=open", &api.admin).await;
    assert_eq!(dl_ids(&v), dl_b, "B's dead letters are untouched");
    let (status, v) = api.post(&format!("/api/dlq/{}/retry", dl_a[0]), &wa, &json!({})).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("retried")), "{v}");
    let (status, v) = api.post(&format!("/api/dlq/{}/discard", dl_a[0]), &wa, &json!({})).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("dead_letter_not_open")));
    let (status, v) = api.post(&format!("/api/dlq/{}/discard", dl_a[1]), &wa, &json!({})).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("discarded")));

    // Consumers: a tenant sees its own dead-letter counts and no cross-tenant counters.
    let (status, v) = api.get("/api/consumers", &ra).await;
    assert_eq!(status, 200);
    let failer = v["consumers"].as_array().unwrap().iter().find(|c| c["name"] == "failer").cloned().unwrap();
    let open_a = failer["dead_letters"]["open"].as_u64().unwrap();
    assert!(open_a <= 1, "only A's letters are counted: {failer}");
    assert!(failer.get("lag").is_none() && failer.get("stats").is_none(), "{failer}");
    let (_, v) = api.get("/api/consumers", &api.admin).await;
    let failer = v["consumers"].as_array().unwrap().iter().find(|c| c["name"] == "failer").cloned().unwrap();
    assert!(failer["dead_letters"]["open"].as_u64().unwrap() >= 2, "{failer}");
    assert!(failer.get("lag").is_some());

    // Replay is admin-only.
    for key in [&wa, &ra, &wb] {
        let (status, v) = api.post("/api/consumers/failer/replay", key, &json!({"from": "start"})).await;
        assert_eq!((status, v["code"].as_str()), (403, Some("forbidden")));
    }
    let (status, v) = api.post("/api/consumers/failer/replay", &api.admin, &json!({"from": "end", "reprocess": false})).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = api.post("/api/consumers/nobody/replay", &api.admin, &json!({"from": "start"})).await;
    assert_eq!((status, v["code"].as_str()), (404, Some("not_found")));

    // Routes without tenant data are open to every role.
    for path in ["/api/catalog", "/api/openapi.json"] {
        let (status, _) = api.get(path, &ra).await;
        assert_eq!(status, 200, "{path}");
    }
}
