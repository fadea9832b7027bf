//! The mission queue is fair between tenants: one tenant's backlog of CRITICAL missions does not hold
//! back another tenant's missions (round robin between tenants, priority within a tenant).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{App, fast_config};

fn slow_config() -> brain_modules::ModulesConfig {
    // 50 ms per mission: tenant A's 200 take at least 2.5 s on 4 workers, far longer than B's turn.
    brain_modules::ModulesConfig { executor_duration: Duration::from_millis(50), ..fast_config() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenants_critical_backlog_does_not_starve_another_tenant() {
    one_tenant_cannot_starve_another(App::start(slow_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenants_critical_backlog_does_not_starve_another_tenant_on_postgres() {
    if let Some(app) = App::start_postgres(slow_config()).await {
        one_tenant_cannot_starve_another(app).await;
    }
}

async fn one_tenant_cannot_starve_another(mut app: App) {
    for i in 0..200 {
        let body = json!({"type": "agent.chat", "payload": {"i": i}, "priority": "CRITICAL", "max_retries": 0});
        let (status, q) = app.call(Method::POST, "/api/missions/enqueue", "tenant-a", None, Some(body)).await;
        assert_eq!(status, 200, "{q}");
    }
    let mut b_ids = Vec::new();
    for i in 0..5 {
        // LOW: priority orders a tenant's own missions, never one tenant's against another's.
        let body = json!({"id": format!("b-{i}"), "name": "b", "priority": "LOW", "max_retries": 0});
        let (status, m) = app.call(Method::POST, "/api/missions", "tenant-b", None, Some(body)).await;
        assert_eq!(status, 201, "{m}");
        b_ids.push(format!("b-{i}"));
    }
    app.start_background();
    for id in &b_ids {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, m) = app.call(Method::GET, &format!("/api/missions/{id}"), "tenant-b", None, None).await;
            if status == 200 && m["status"] == "COMPLETED" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "tenant B's {id} did not complete: {status} {m}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (status, q) = app.call(Method::GET, "/api/missions/queue?limit=1", "tenant-a", None, None).await;
    assert_eq!(status, 200, "{q}");
    let queued = q["length"].as_u64().expect("queue length");
    assert!(queued > 100, "tenant B's 5 missions completed while most of tenant A's 200 were still queued; {queued} were");
    app.stop().await;
}
