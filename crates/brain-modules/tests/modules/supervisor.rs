//! supervisor: health, status and agents from the projection of agent.* events, heartbeat timeouts.

use brain_events::EventPayload;
use brain_events::agent::{AgentHeartbeat, AgentOffline, AgentOnline};
use brain_events::supervisor::{SupervisorAgentsListed, SupervisorHealthChecked, SupervisorStatusQueried};
use eventstream_core::Event;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

fn for_tenant(mut e: Event, seconds_ago: i64) -> Event {
    e.tenant_id = TENANT.parse().ok();
    e.timestamp -= chrono::Duration::seconds(seconds_ago);
    e
}

#[tokio::test]
async fn supervisor_reports_agents_from_events_and_marks_silent_ones_offline() {
    let mut config = fast_config();
    config.heartbeat_timeout = std::time::Duration::from_secs(60);
    let mut app = App::start(config).await;
    let live =
        AgentOnline { agent_id: "a-live".into(), name: Some("Live".into()), capabilities: Some(vec!["chat".into()]), online_at: None };
    let beat = AgentHeartbeat {
        agent_id: "a-live".into(),
        state: Some("healthy".into()),
        current_mission_id: Some("m-7".into()),
        load: Some(0.2),
    };
    let silent = AgentOnline { agent_id: "a-silent".into(), name: None, capabilities: None, online_at: None };
    app.events.publish(for_tenant(live.to_event(), 0)).await.expect("publish");
    app.events.publish(for_tenant(beat.to_event(), 0)).await.expect("publish");
    app.events.publish(for_tenant(silent.to_event(), 3600)).await.expect("publish");
    let agents = app.wait_get("/api/supervisor/agents", "two agents", |b| b.as_array().map(Vec::len) == Some(2)).await;
    assert_eq!(agents[0]["id"], "a-live");
    assert_eq!(
        (agents[0]["state"].as_str(), agents[0]["current_mission_id"].as_str(), agents[0]["name"].as_str()),
        (Some("healthy"), Some("m-7"), Some("Live"))
    );
    assert_eq!(agents[1]["state"], "offline", "no heartbeat for an hour");

    let corr = Some("corr-sup");
    let (status, h) = app.call(Method::GET, "/api/supervisor/health", TENANT, corr, None).await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    let (status, st) = app.call(Method::GET, "/api/supervisor/status", TENANT, corr, None).await;
    assert_eq!(status, 200);
    assert_eq!((st["total_missions"].as_u64(), st["global_state"].as_str()), (Some(0), Some("degraded")));
    let (status, _) = app.call(Method::GET, "/api/supervisor/agents", TENANT, corr, None).await;
    assert_eq!(status, 200);
    // Another tenant sees no agents.
    let (_, other) = app.call(Method::GET, "/api/supervisor/agents", "other", None, None).await;
    assert_eq!(other, json!([]));

    // The heartbeat check publishes agent.offline for the silent agent.
    app.start_background();
    let events = app
        .wait_events("the supervisor events", |ev| {
            of_type(ev, AgentOffline::TYPE).len() == 1
                && of_type(ev, SupervisorAgentsListed::TYPE).iter().any(|e| e.correlation_id.as_deref() == Some("corr-sup"))
                && of_type(ev, SupervisorStatusQueried::TYPE).len() == 1
        })
        .await;
    let offline = of_type(&events, AgentOffline::TYPE)[0];
    assert_envelope(offline, "supervisor_service", TENANT, None);
    assert_eq!((field(offline, "agent_id"), field(offline, "reason")), (&json!("a-silent"), &json!("heartbeat_timeout")));
    let health = of_type(&events, SupervisorHealthChecked::TYPE)[0];
    assert_envelope(health, SupervisorHealthChecked::SOURCE, TENANT, corr);
    assert_eq!(field(health, "status"), "ok");
    assert!(field(health, "checked_at").is_f64());
    let status_ev = of_type(&events, SupervisorStatusQueried::TYPE)[0];
    assert_envelope(status_ev, SupervisorStatusQueried::SOURCE, TENANT, corr);
    assert_eq!((field(status_ev, "agent_count"), field(status_ev, "total_missions")), (&json!(2), &json!(0)));
    let listed: Vec<_> =
        of_type(&events, SupervisorAgentsListed::TYPE).into_iter().filter(|e| e.correlation_id.as_deref() == corr).collect();
    assert_eq!(field(listed[0], "agent_count"), &json!(2));
    app.stop().await;
}

#[tokio::test]
async fn supervisor_agents_come_in_pages_with_the_cursor_in_a_header() {
    let app = App::start(fast_config()).await;
    for i in 0..5 {
        let online = AgentOnline { agent_id: format!("pg-{i}"), name: None, capabilities: None, online_at: None };
        app.events.publish(for_tenant(online.to_event(), 0)).await.expect("publish");
    }
    let all = app.wait_get("/api/supervisor/agents", "five agents", |b| b.as_array().map(Vec::len) == Some(5)).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            Some(c) => format!("{}/api/supervisor/agents?limit=2&cursor={c}", app.base),
            None => format!("{}/api/supervisor/agents?limit=2", app.base),
        };
        let resp = app.client.get(&url).header("x-test-tenant", TENANT).send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        cursor = resp.headers().get("x-next-cursor").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let page: serde_json::Value = resp.json().await.expect("json");
        let items = page.as_array().expect("a bare array, as before").clone();
        assert!(items.len() <= 2);
        seen.extend(items);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(serde_json::Value::Array(seen), all, "the pages hold every agent once, in order");
    let (status, e) = app.get("/api/supervisor/agents?limit=0").await;
    assert_eq!((status, e["field"].as_str()), (400, Some("limit")), "{e}");
    app.stop().await;
}
