//! `POST /api/audit/verify`: the verification of `brain audit verify`, run by the server for admin keys.

use std::time::Duration;

use eventstream_testkit::fixtures::eventually;
use serde_json::{Value, json};

use super::helpers::TestApp;

/// Publishes `n` `task.created` events; returns their ids.
async fn publish(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"type": "task.created",
            "payload": {"task_id": format!("t-verify-{i}"), "mission_id": "m-verify", "mission_type": "demo", "priority": "NORMAL"}});
        let (status, v) = app.post("/api/events", &app.admin, &body).await;
        assert_eq!(status, 201, "publish: {v}");
        ids.push(v["id"].as_str().expect("id").to_owned());
    }
    ids
}

/// Waits until the latest global checkpoint covers at least `n` rows.
async fn wait_for_checkpoint(app: &TestApp, n: u64) {
    eventually("a checkpoint covering the published events", Duration::from_secs(20), || async {
        let (status, note) = app.get("/api/audit/checkpoint", &app.admin).await;
        if status != 200 {
            return None;
        }
        let note = note.as_str()?.to_owned();
        let size: u64 = note.lines().nth(1)?.parse().ok()?;
        (size >= n).then_some(())
    })
    .await;
}

async fn verify_as(app: &TestApp, key: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = app.client.post(format!("{}/api/audit/verify", app.base)).bearer_auth(key);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_owned());
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn admin_verification_reports_an_untouched_log_intact_and_an_edited_row_altered() {
    let app = TestApp::start().await;
    publish(&app, 3).await;
    wait_for_checkpoint(&app, 3).await;

    let (status, report) = verify_as(&app, &app.admin, None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["finding"], Value::Null, "{report}");
    assert!(report["tree_size"].as_u64().expect("a number") >= 3, "{report}");

    let (status, full) = verify_as(&app, &app.admin, Some(r#"{"full": true}"#)).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["intact"], true, "{full}");
    assert_eq!(full["full"], true, "{full}");
    assert!(full["rows_checked"].as_u64().expect("a number") >= 3, "a full run rehashes every row: {full}");
    assert!(full["checkpoints_checked"].as_u64().expect("a number") >= 1, "{full}");
    let (status, again) = verify_as(&app, &app.admin, Some("")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["intact"], true, "{again}");
    assert_eq!(again["full"], false, "an empty body: incremental from the trusted state: {again}");

    // An operator edits a stored row: the route reports it, still with 200 (the check ran).
    eventstream_sql::sqlx::query("UPDATE audit_log SET bytes = $1 WHERE idx = 1")
        .bind(b"{\"edited\":true}".to_vec())
        .execute(app.store().pool())
        .await
        .expect("edit a row");
    let (status, bad) = verify_as(&app, &app.admin, Some(r#"{"full": true}"#)).await;
    assert_eq!(status, 200, "{bad}");
    assert_eq!(bad["intact"], false, "{bad}");
    assert_eq!(bad["finding"]["class"], "altered", "{bad}");
    assert_eq!(bad["finding"]["index"], 1, "{bad}");
    app.stop().await;
}

#[tokio::test]
async fn verification_is_admin_only_and_checks_its_body() {
    let app = TestApp::start().await;
    for role in ["reader", "writer"] {
        let key = app.key("default", role).await;
        let (status, body) = verify_as(&app, &key, None).await;
        assert_eq!(status, 403, "{role:?}: {body}");
        assert_eq!(body["code"], "forbidden", "{body}");
        let (status, _) = app.post("/api/audit/verify", &key, &json!({"full": true})).await;
        assert_eq!(status, 403, "{role:?} with a body");
    }
    let (status, body) = verify_as(&app, &app.admin, Some(r#"{"full": "yes"}"#)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_body", "{body}");
    assert_eq!(body["field"], "full", "{body}");
    let (status, body) = verify_as(&app, &app.admin, Some(r#"{"deep": true}"#)).await;
    assert_eq!(status, 422, "an unknown field is refused: {body}");
    let (status, body) = verify_as(&app, &app.admin, Some("{not json")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "malformed_json", "{body}");
    let r = app.client.get(format!("{}/api/audit/verify", app.base)).bearer_auth(&app.admin).send().await.expect("request");
    assert_eq!(r.status(), 405, "verification is a POST");
    app.stop().await;
}
