//! Event ids are unique per tenant (M3): another tenant's event with an id already used is indexed,
//! readable by its tenant and processed by every subscriber; a tenant repeating its own id is a retry
//! (same content: 200 and the first position, nothing appended) or a conflict (409 `duplicate_event_id`,
//! saying nothing about other tenants). Also: a client's `meta.redeliver_to` never hides an event (L1).

use std::time::Duration;

use eventstream_core::{Event, EventId, GroupName, TenantId};
use eventstream_testkit::fixtures::eventually;
use reqwest::Method;
use serde_json::{Value, json};

use crate::suite::helpers::{TestApp, recording_subscriber, send, task_event};

fn task_with_id(id: &str, task_id: &str) -> Value {
    let mut e = task_event(task_id);
    e["id"] = id.into();
    e
}

fn tenant(t: &str) -> TenantId {
    t.parse().expect("tenant")
}

/// Waits until `subscriber` has recorded the event `id` of `tenant` in its inbox.
async fn processed_by(api: &TestApp, subscriber: &str, t: &str, id: &EventId) {
    let group: GroupName = subscriber.parse().expect("subscriber");
    let t = tenant(t);
    eventually(&format!("{subscriber} processes {t}'s {id}"), Duration::from_secs(10), || async {
        api.store().is_processed(&group, Some(&t), id).await.expect("inbox").then_some(())
    })
    .await;
}

#[tokio::test]
async fn another_tenants_event_with_a_used_id_is_indexed_read_and_processed() {
    let (recorder, seen) = recording_subscriber("id_recorder", "task.*");
    let api = TestApp::start_with(vec![recorder]).await;
    let (wa, wb) = (api.key("acme", "writer").await, api.key("globex", "writer").await);
    let id = uuid::Uuid::now_v7().to_string();

    let (status, a) = api.post("/api/events", &wa, &task_with_id(&id, "acme-task")).await;
    assert_eq!(status, 201, "{a}");
    let (status, b) = api.post("/api/events", &wb, &task_with_id(&id, "globex-task")).await;
    assert_eq!(status, 201, "{b}");
    assert_ne!(a["position"], b["position"], "globex's event is appended as its own");

    // Each tenant reads its own event under the id.
    let (status, got) = api.get(&format!("/api/events/{id}"), &wb).await;
    assert_eq!(status, 200, "globex reads its event: {got}");
    assert_eq!((got["tenant_id"].as_str(), got["payload"]["task_id"].as_str()), (Some("globex"), Some("globex-task")));
    let (status, got) = api.get(&format!("/api/events/{id}"), &wa).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!((got["tenant_id"].as_str(), got["payload"]["task_id"].as_str()), (Some("acme"), Some("acme-task")));
    let (_, list) = api.get("/api/events?type=task.created", &wb).await;
    assert_eq!(list["events"].as_array().map(Vec::len), Some(1), "{list}");

    // Every subscriber processes both: the module projections, the index and a test subscriber.
    let event_id: EventId = id.parse().expect("id");
    for t in ["acme", "globex"] {
        for subscriber in [brain_events::consumers::SUPERVISOR, brain_events::consumers::ANALYTICS, "event_index", "id_recorder"] {
            processed_by(&api, subscriber, t, &event_id).await;
        }
    }
    let mut recorded: Vec<(Option<String>, String)> = seen
        .lock()
        .expect("records")
        .iter()
        .filter(|e: &&Event| e.id == event_id)
        .map(|e| (e.tenant_id.as_ref().map(|t| t.as_str().to_owned()), e.payload["task_id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    recorded.sort();
    assert_eq!(recorded, [(Some("acme".into()), "acme-task".into()), (Some("globex".into()), "globex-task".into())]);
    api.stop().await;
}

#[tokio::test]
async fn a_tenant_repeating_its_own_id_gets_the_first_event_or_a_conflict() {
    let api = TestApp::start().await;
    let (wa, wb) = (api.key("acme", "writer").await, api.key("globex", "writer").await);
    let id = uuid::Uuid::now_v7().to_string();
    let (status, first) = api.post("/api/events", &wa, &task_with_id(&id, "t1")).await;
    assert_eq!(status, 201, "{first}");

    // The same content again (the server fills a new timestamp): a retry, answered with the first position.
    let (status, again) = api.post("/api/events", &wa, &task_with_id(&id, "t1")).await;
    assert_eq!((status, &again["position"], &again["id"]), (200, &first["position"], &first["id"]), "{again}");
    let head = api.log.head().await.expect("log head");
    assert_eq!(head.map(|p| p.to_string()).as_deref(), first["position"].as_str(), "nothing appended");

    // Different content under the same id: 409, naming the field, whatever the route.
    let (status, v) = api.post("/api/events", &wa, &task_with_id(&id, "t2")).await;
    assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (409, Some("duplicate_event_id"), Some("id")), "{v}");
    let ce = json!({"specversion": "1.0", "id": id, "source": "/brain/tests", "type": "task.created",
        "data": {"task_id": "t3", "mission_type": "agent.chat", "priority": "NORMAL"}});
    let (status, v) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&wa)).header("content-type", "application/cloudevents+json").body(ce.to_string()),
    )
    .await;
    assert_eq!((status, v["code"].as_str()), (409, Some("duplicate_event_id")), "{v}");
    let (_, stored) = api.get(&format!("/api/events/{id}"), &wa).await;
    assert_eq!(stored["payload"]["task_id"], "t1", "the first event stays");

    // The same id is free for another tenant, and its conflicts say nothing about acme.
    let (status, v) = api.post("/api/events", &wb, &task_with_id(&id, "t2")).await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = api.post("/api/events", &wb, &task_with_id(&id, "t9")).await;
    assert_eq!(status, 409, "{v}");
    assert!(!v.to_string().contains("acme"), "{v}");

    // CloudEvents ids (any label) are per tenant too.
    for (key, t) in [(&wa, "acme"), (&wb, "globex")] {
        let ce = json!({"specversion": "1.0", "id": "order-1001", "source": "/brain/tests", "type": "task.created",
            "data": {"task_id": format!("order-{t}"), "mission_type": "agent.chat", "priority": "NORMAL"}});
        let (status, v) = send(
            api.req(Method::POST, "/api/cloudevents", Some(key))
                .header("content-type", "application/cloudevents+json")
                .body(ce.to_string()),
        )
        .await;
        assert_eq!(status, 201, "{t}: {v}");
        let (status, got) = api.get("/api/events/order-1001", key).await;
        assert_eq!((status, got["payload"]["task_id"].as_str()), (200, Some(format!("order-{t}").as_str())), "{got}");
    }
    api.stop().await;
}

#[tokio::test]
async fn a_clients_redeliver_to_never_hides_an_event_from_subscribers() {
    let (recorder, seen) = recording_subscriber("redeliver_recorder", "task.*");
    let api = TestApp::start_with(vec![recorder]).await;
    let w = api.key("acme", "writer").await;
    let mut body = task_event("steered");
    body["meta"] = json!({"redeliver_to": "nobody"});
    let (status, v) = api.post("/api/events", &w, &body).await;
    assert_eq!(status, 201, "{v}");
    let ce = json!({"specversion": "1.0", "id": "steered-ce", "source": "/brain/tests", "type": "task.created",
        "brainmeta": json!({"redeliver_to": "nobody"}).to_string(),
        "data": {"task_id": "steered-ce", "mission_type": "agent.chat", "priority": "NORMAL"}});
    let (status, v) = send(
        api.req(Method::POST, "/api/cloudevents", Some(&w)).header("content-type", "application/cloudevents+json").body(ce.to_string()),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    eventually("the recorder sees both events", Duration::from_secs(10), || async {
        let seen = seen.lock().expect("records");
        let tasks: Vec<&str> = seen.iter().filter_map(|e| e.payload["task_id"].as_str()).collect();
        (tasks.contains(&"steered") && tasks.contains(&"steered-ce")).then_some(())
    })
    .await;
    assert!(seen.lock().expect("records").iter().all(|e| !e.meta.extra.contains_key("redeliver_to")));
    api.stop().await;
}
