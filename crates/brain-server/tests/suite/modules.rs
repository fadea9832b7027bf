//! The modules as the server runs them: behind the API keys, tenant from the key, events in the log.

use std::time::Duration;

use eventstream_testkit::fixtures::{eventually, read_all};

use super::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_run_in_serve_behind_the_keys_and_publish_to_the_log() {
    let server = TestApp::start().await;
    let admin = server.admin.clone();
    let writer = server.key("acme", "writer").await;
    let http = reqwest::Client::new();

    // No key: 401; a key: the mission is created for the key's tenant.
    let anon = http.post(server.url("/api/missions")).json(&serde_json::json!({"name": "m", "description": "d"})).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    let created = http
        .post(server.url("/api/missions"))
        .bearer_auth(&writer)
        .header("X-Correlation-ID", "corr-modules-1")
        .json(&serde_json::json!({"name": "survey", "description": "map the lab", "priority": "HIGH"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let mission: serde_json::Value = created.json().await.unwrap();
    let id = mission["id"].as_str().unwrap().to_owned();

    // The worker pool runs it; the supervisor's projection sees it complete.
    eventually("the supervisor sees the mission completed", Duration::from_secs(20), || async {
        let status: serde_json::Value =
            http.get(server.url("/api/supervisor/status")).bearer_auth(&writer).send().await.unwrap().json().await.unwrap();
        (status["completed_missions"] == 1).then_some(())
    })
    .await;
    // Another tenant does not see it.
    let other = http.get(server.url(&format!("/api/missions/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(other.status(), 404, "the admin key's tenant is `default`, the mission belongs to `acme`");

    // Its events are in the log with the key's tenant and the request's correlation id.
    let events: Vec<serde_json::Value> = read_all(server.log.as_ref())
        .await
        .into_iter()
        .map(|r| r.event.unwrap())
        .filter(|e| e.event_type.as_str().starts_with("mission.") && e.tenant_id.as_ref().is_some_and(|t| t.as_str() == "acme"))
        .map(|e| e.to_json_value())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in ["mission.created", "mission.started", "mission.completed"] {
        assert!(types.contains(&t), "{t} missing in {types:?}");
    }
    let created = events.iter().find(|e| e["type"] == "mission.created").unwrap();
    assert_eq!(created["correlation_id"], "corr-modules-1");
    assert_eq!(created["payload"]["mission_id"].as_str().or(created["payload"]["id"].as_str()), Some(id.as_str()));
}
