//! security monitoring: a burst of invalid approvals raises exactly one `system.alert` per tenant and
//! window (with the trigger as `causation_id`), more events in the window, redeliveries, a `--reprocess`
//! replay and a second replica raise none; `ir.dag_diff_failed` alerts at once; alerts are listed per
//! tenant, paginated. On SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use brain_events::EventPayload;
use brain_events::ir::{IrApprovalInvalid, IrDagDiffFailed};
use brain_events::system::SystemAlert;
use brain_events::threat::ThreatDetected;
use brain_modules::ModulesConfig;
use eventstream::ConsumerRuntime;
use eventstream_core::{Event, StartFrom};
use eventstream_testkit::fixtures::eventually;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::helpers::{App, TENANT, fast_config, field, of_type};

const RULE: &str = "ir_approval_invalid_burst";

/// One-hour windows, so a test never straddles a window boundary it did not choose.
fn config() -> ModulesConfig {
    let mut c = fast_config();
    c.security.ir_approval_invalid_burst.window = Duration::from_secs(3600);
    c
}

/// An event of type `t` for `tenant` at `at_ms` (the rules read only the envelope).
fn ev(t: &str, tenant: &str, at_ms: i64) -> Event {
    let mut e = Event::new(t.parse().expect("type"), "security_test".parse().expect("source"), Map::new());
    e.tenant_id = tenant.parse().ok();
    e.timestamp = chrono::DateTime::from_timestamp_millis(at_ms).expect("time");
    e.correlation_id = Some(format!("corr-{tenant}"));
    e
}

/// One second into the current hour window (epoch ms). Events at `hour() + i` stay in this window even
/// if the test runs past its end; one still in the future is counted at "now", also in this window.
fn hour() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now - now.rem_euclid(3_600_000) + 1_000
}

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

/// Waits until the security subscriber has acknowledged every event in the log.
async fn settled(app: &App) {
    let group = brain_events::consumers::SECURITY_MONITORING.parse().expect("group");
    eventually("security_monitoring has no lag", Duration::from_secs(30), || async {
        let info = app.log.group_info(&group).await.ok()?;
        (info.lag() == 0).then_some(())
    })
    .await;
}

/// Every alert an admin sees.
async fn all_alerts(app: &App) -> Vec<Value> {
    let (status, body) = get_as(app, "/api/security/alerts", "ops", "admin").await;
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().cloned().unwrap_or_default()
}

async fn burst(app: &App, tenant: &str, n: i64, from: i64) -> Vec<Event> {
    let events: Vec<Event> = (0..n).map(|i| ev(IrApprovalInvalid::TYPE, tenant, from + i)).collect();
    app.events.publish_batch(&events).await.expect("publish");
    events
}

#[tokio::test]
async fn alerts_fire_once_per_rule_tenant_and_window() {
    alerts_fire_once(App::start(config()).await).await;
}

#[tokio::test]
async fn alerts_fire_once_per_rule_tenant_and_window_on_postgres() {
    let Some(app) = App::start_postgres(config()).await else { return };
    alerts_fire_once(app).await;
}

async fn alerts_fire_once(app: App) {
    let at = hour();
    // Four in the window: below the threshold of five.
    let first = burst(&app, TENANT, 4, at).await;
    settled(&app).await;
    assert!(all_alerts(&app).await.is_empty(), "4 < threshold 5");

    // The fifth fires the rule: one alert, caused by the fifth event.
    let fifth = burst(&app, TENANT, 1, at + 10).await.remove(0);
    let events = app.wait_events("the alert event", |ev| of_type(ev, SystemAlert::TYPE).len() == 1).await;
    let alert = of_type(&events, SystemAlert::TYPE)[0].clone();
    assert_eq!(alert.causation_id.as_deref(), Some(fifth.id.as_str()));
    assert_eq!(alert.tenant_id.as_ref().map(|t| t.as_str()), Some(TENANT));
    assert_eq!(alert.correlation_id.as_deref(), Some("corr-acme"), "the trigger's correlation is carried on");
    assert_eq!(alert.severity.map(|s| s.as_str()), Some("ERROR"));
    assert_eq!((field(&alert, "alert_type").as_str(), field(&alert, "component").as_str()), (Some(RULE), Some("security_monitoring")));
    let details = field(&alert, "details");
    assert_eq!((details["rule"].as_str(), details["observed"].as_u64(), details["threshold"].as_u64()), (Some(RULE), Some(5), Some(5)));
    assert_eq!(details["window_secs"], 3600);
    assert!(brain_events::Catalog::new().decode::<SystemAlert>(&alert).is_ok(), "the alert matches the catalog's schema");

    // Ten more in the same window: still one.
    burst(&app, TENANT, 10, at + 20).await;
    // The same event again (a producer retry): the inbox drops it.
    app.events.publish(first[0].clone()).await.expect("publish");
    settled(&app).await;
    let alerts = all_alerts(&app).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0]["rule"].as_str(), alerts[0]["tenant"].as_str()), (Some(RULE), Some(TENANT)));
    assert_eq!(alerts[0]["id"].as_str(), Some(alert.id.as_str()));
    assert_eq!(alerts[0]["trigger_event_id"].as_str(), Some(fifth.id.as_str()));
    assert_eq!((alerts[0]["observed"].as_u64(), alerts[0]["window_secs"].as_u64()), (Some(5), Some(3600)));

    // Another tenant: its own alert. Any dag_diff_failed: an alert at once.
    burst(&app, "beta", 5, at).await;
    let dag = ev(IrDagDiffFailed::TYPE, "gamma", at);
    app.events.publish(dag.clone()).await.expect("publish");
    // A watched type without a rule raises nothing.
    app.events.publish(ev(ThreatDetected::TYPE, "gamma", at)).await.expect("publish");
    settled(&app).await;
    let alerts = all_alerts(&app).await;
    let mut seen: Vec<(String, String)> =
        alerts.iter().map(|a| (a["rule"].as_str().unwrap_or("").to_owned(), a["tenant"].as_str().unwrap_or("").to_owned())).collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("ir_approval_invalid_burst".into(), "acme".into()),
            ("ir_approval_invalid_burst".into(), "beta".into()),
            ("ir_dag_diff_failed".into(), "gamma".into())
        ]
    );
    let dag_alert = alerts.iter().find(|a| a["tenant"] == "gamma").cloned().unwrap_or_default();
    assert_eq!((dag_alert["trigger_event_id"].as_str(), dag_alert["severity"].as_str()), (Some(dag.id.as_str()), Some("CRITICAL")));

    // A replay that bypasses the inbox (`--reprocess`) evaluates every event again: no new alert.
    let group = brain_events::consumers::SECURITY_MONITORING.parse().expect("group");
    eventstream::replay::replay(&app.log, app.events.store(), &group, &StartFrom::Beginning, true, &|_, _| {}).await.expect("replay");
    // Once this event raises its alert, the replay before it is done (the subscriber runs in log order).
    app.events.publish(ev(IrDagDiffFailed::TYPE, "delta", at)).await.expect("publish");
    let events = app
        .wait_events("the delta alert", |ev| {
            of_type(ev, SystemAlert::TYPE).iter().any(|e| e.tenant_id.as_ref().map(|t| t.as_str()) == Some("delta"))
        })
        .await;
    settled(&app).await;
    assert_eq!(all_alerts(&app).await.len(), 4, "the replay raised nothing");
    assert_eq!(of_type(&events, SystemAlert::TYPE).len(), 4, "one system.alert per alert");

    // Listing: a key sees its own tenant; pages of one, newest first, follow the cursor to the end.
    let (_, mine) = app.get("/api/security/alerts").await;
    assert_eq!(mine["alerts"].as_array().map(Vec::len), Some(1));
    let (status, body) = app.get("/api/security/alerts?tenant=beta").await;
    assert_eq!((status, body["field"].as_str()), (403, Some("tenant")));
    let mut ids = Vec::new();
    let mut path = "/api/security/alerts?limit=1".to_owned();
    loop {
        let (status, page) = get_as(&app, &path, "ops", "admin").await;
        assert_eq!(status, 200, "{page}");
        ids.extend(page["alerts"].as_array().into_iter().flatten().filter_map(|a| a["id"].as_str().map(str::to_owned)));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/security/alerts?limit=1&cursor={c}"),
            None => break,
        }
        assert!(ids.len() <= 4, "the cursor must end");
    }
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!((ids.len(), &ids), (4, &sorted));
    let (_, by_rule) = get_as(&app, "/api/security/alerts?rule=ir_dag_diff_failed", "ops", "admin").await;
    assert_eq!(by_rule["alerts"].as_array().map(Vec::len), Some(2));
    for (bad, field_name) in
        [("limit=0", "limit"), ("limit=x", "limit"), ("rule=nope", "rule"), ("cursor=zzz", "cursor"), ("tenant=A%20B", "tenant")]
    {
        let (status, body) = app.get(&format!("/api/security/alerts?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["field"].as_str(), Some(field_name), "{bad}");
    }
    let (status, rules) = app.get("/api/security/rules").await;
    assert_eq!(status, 200);
    let burst_rule = rules["rules"].as_array().and_then(|l| l.iter().find(|r| r["rule"] == RULE)).cloned().unwrap_or_default();
    assert_eq!((burst_rule["threshold"].as_u64(), burst_rule["window_secs"].as_u64()), (Some(5), Some(3600)));
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_raise_one_alert_for_a_concurrent_burst_on_postgres() {
    let Some(app) = App::start_postgres(config()).await else { return };
    two_replicas_one_alert(app).await;
}

#[tokio::test]
async fn two_replicas_raise_one_alert_for_a_concurrent_burst() {
    two_replicas_one_alert(App::start(config()).await).await;
}

/// A second runtime shares the `security_monitoring` group (another consumer name); a burst of 40
/// appended at once is split between the replicas, and still raises one alert per tenant.
async fn two_replicas_one_alert(app: App) {
    let mut second = ConsumerRuntime::new(Arc::clone(&app.log), app.events.store().clone(), "replica-two".parse().expect("name"));
    let mut stats = Vec::new();
    for sub in app.modules.subscriptions() {
        if sub.name().as_str() == brain_events::consumers::SECURITY_MONITORING {
            stats.push(second.spawn(sub));
        }
    }
    assert_eq!(stats.len(), 1);
    let at = hour();
    let mut events = Vec::new();
    for i in 0..40 {
        events.push(ev(IrApprovalInvalid::TYPE, if i % 2 == 0 { TENANT } else { "beta" }, at + i));
    }
    app.events.publish_batch(&events).await.expect("publish");
    settled(&app).await;
    let alerts = all_alerts(&app).await;
    let mut tenants: Vec<&str> = alerts.iter().filter_map(|a| a["tenant"].as_str()).collect();
    tenants.sort_unstable();
    assert_eq!(tenants, vec![TENANT, "beta"], "{alerts:?}");
    let events = app.wait_events("two alert events", |ev| of_type(ev, SystemAlert::TYPE).len() >= 2).await;
    assert_eq!(of_type(&events, SystemAlert::TYPE).len(), 2);
    eprintln!("second replica handled {} of 40", stats[0].snapshot().processed);
    second.shutdown(Duration::from_secs(5)).await;
    app.stop().await;
}
