//! The application's routes, in-process.

use std::time::Duration;

use eventstream_testkit::fixtures::eventually;
use serde_json::{Value, json};

use super::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = TestApp::start().await;
    let r = app.client.get(app.url("/health")).send().await.expect("health");
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/ready")).send().await.expect("ready");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert!(body.get("backend").is_none(), "readiness without a key shows no backend details: {body}");
    app.stop().await;
}

#[tokio::test]
async fn api_routes_need_a_key() {
    let app = TestApp::start().await;
    let r = app.client.get(app.url("/api/events")).send().await.expect("request");
    assert_eq!(r.status(), 401);
    let r = app.client.get(app.url("/api/events")).bearer_auth("brk_not-a-key").send().await.expect("request");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_published_event_is_in_the_history_and_by_id() {
    let app = TestApp::start().await;
    let body = json!({"type": "task.created", "payload": {"task_id": "t-in-process", "mission_id": "m-1", "mission_type": "demo", "priority": "NORMAL"}});
    let (status, created) = app.post("/api/events", &app.admin, &body).await;
    assert_eq!(status, 201, "publish: {created}");
    let id = created["id"].as_str().expect("the answer names the event id").to_owned();
    let (_, one) = app.get(&format!("/api/events/{id}"), &app.admin).await;
    assert_eq!(one["payload"]["task_id"], "t-in-process");
    let listed = eventually("the event in the history", Duration::from_secs(10), || async {
        let (_, page) = app.get("/api/events?type=task.created", &app.admin).await;
        page["events"].as_array().filter(|e| !e.is_empty()).cloned()
    })
    .await;
    assert_eq!(listed[0]["id"], id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let app = TestApp::start().await;
    let (status, body) = app.get("/api/no-such-route", &app.admin).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found");
    app.stop().await;
}
