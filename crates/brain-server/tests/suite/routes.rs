//! The application's routes, in-process.

use std::time::Duration;

use eventstream_testkit::fixtures::eventually;
use serde_json::{Value, json};

use super::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = TestApp::start().await;
    let r = app.http.get(format!("{}/health", app.base)).send().await.expect("health");
    assert_eq!(r.status(), 200);
    let r = app.http.get(format!("{}/ready", app.base)).send().await.expect("ready");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["backend"], "embedded");
    app.stop().await;
}

#[tokio::test]
async fn api_routes_need_a_key() {
    let app = TestApp::start().await;
    let r = app.http.get(format!("{}/api/events", app.base)).send().await.expect("request");
    assert_eq!(r.status(), 401);
    let r = app.http.get(format!("{}/api/events", app.base)).bearer_auth("brk_not-a-key").send().await.expect("request");
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn a_published_event_is_in_the_history_and_by_id() {
    let app = TestApp::start().await;
    let r = app
        .post("/api/events", &json!({"type": "task.created", "payload": {"task_id": "t-in-process", "mission_id": "m-1", "mission_type": "demo", "priority": "NORMAL"}}))
        .await;
    assert_eq!(r.status(), 201, "publish: {}", r.text().await.unwrap_or_default());
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("the answer names the event id").to_owned();
    let one: Value = app.get(&format!("/api/events/{id}")).await.json().await.expect("json");
    assert_eq!(one["payload"]["task_id"], "t-in-process");
    let listed = eventually("the event in the history", Duration::from_secs(10), || async {
        let page: Value = app.get("/api/events?type=task.created").await.json().await.ok()?;
        page["events"].as_array().filter(|e| !e.is_empty()).cloned()
    })
    .await;
    assert_eq!(listed[0]["id"], id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let app = TestApp::start().await;
    let r = app.get("/api/no-such-route").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
    app.stop().await;
}
