//! security monitoring: a burst of invalid approvals raises exactly one `system.alert` per tenant and
//! window (with the trigger as `causation_id`), more events in the window, redeliveries, a `--reprocess`
//! replay and a second replica raise none; `ir.dag_diff_failed` alerts at once; alerts are listed per
//! tenant, paginated; `policy_denied_spike`, `threat_escalated` and `immune_critical_event` fire too; a
//! disabled rule raises nothing; a burst in a later window raises a second alert. On SQLite and
//! PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use brain_events::EventPayload;
use brain_events::immune::ImmuneCriticalEvent;
use brain_events::ir::{IrApprovalInvalid, IrDagDiffFailed};
use brain_events::policy::PolicyDenied;
use brain_events::system::SystemAlert;
use brain_events::threat::{ThreatDetected, ThreatEscalated};
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

/// A config with `policy_denied_spike` at 3 in an hour; the other rules keep their defaults.
fn every_rule_config() -> ModulesConfig {
    let mut c = config();
    c.security.policy_denied_spike.threshold = 3;
    c.security.policy_denied_spike.window = Duration::from_secs(3600);
    c
}

/// The alerts an admin sees, as `(rule, tenant, trigger event id, severity)`, sorted.
async fn alert_keys(app: &App) -> Vec<(String, String, String, String)> {
    let s = |a: &Value, k: &str| a[k].as_str().unwrap_or("").to_owned();
    let mut keys: Vec<_> =
        all_alerts(app).await.iter().map(|a| (s(a, "rule"), s(a, "tenant"), s(a, "trigger_event_id"), s(a, "severity"))).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn policy_denied_spike_threat_escalated_and_immune_critical_event_fire() {
    let app = App::start(every_rule_config()).await;
    let at = hour();
    // Two policy.denied of acme: below the threshold of three.
    let denied: Vec<Event> = (0..2).map(|i| ev(PolicyDenied::TYPE, TENANT, at + i)).collect();
    app.events.publish_batch(&denied).await.expect("publish");
    settled(&app).await;
    assert!(all_alerts(&app).await.is_empty(), "2 < threshold 3");
    // The third, a threat escalation of beta and a critical immune event of gamma: one alert each.
    let third = ev(PolicyDenied::TYPE, TENANT, at + 2);
    let threat = ev(ThreatEscalated::TYPE, "beta", at);
    let immune = ev(ImmuneCriticalEvent::TYPE, "gamma", at);
    app.events.publish_batch(&[third.clone(), threat.clone(), immune.clone()]).await.expect("publish");
    let events = app.wait_events("three alert events", |ev| of_type(ev, SystemAlert::TYPE).len() >= 3).await;
    settled(&app).await;
    let k = |rule: &str, tenant: &str, trigger: &Event, severity: &str| {
        (rule.to_owned(), tenant.to_owned(), trigger.id.to_string(), severity.to_owned())
    };
    assert_eq!(
        alert_keys(&app).await,
        vec![
            k("immune_critical_event", "gamma", &immune, "CRITICAL"),
            k("policy_denied_spike", TENANT, &third, "WARNING"),
            k("threat_escalated", "beta", &threat, "CRITICAL"),
        ]
    );
    let alerts = of_type(&events, SystemAlert::TYPE);
    assert_eq!(alerts.len(), 3, "one system.alert per alert");
    for (trigger, rule) in [(&third, "policy_denied_spike"), (&threat, "threat_escalated"), (&immune, "immune_critical_event")] {
        let alert = alerts.iter().find(|a| a.causation_id.as_deref() == Some(trigger.id.as_str())).expect("an alert caused by the trigger");
        assert_eq!(field(alert, "alert_type").as_str(), Some(rule));
        assert_eq!(alert.tenant_id, trigger.tenant_id);
    }
    // More of each in the same window: no second alert.
    let more =
        [ev(PolicyDenied::TYPE, TENANT, at + 3), ev(ThreatEscalated::TYPE, "beta", at + 1), ev(ImmuneCriticalEvent::TYPE, "gamma", at + 1)];
    app.events.publish_batch(&more).await.expect("publish");
    settled(&app).await;
    assert_eq!(all_alerts(&app).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_rule_raises_nothing() {
    let mut c = every_rule_config();
    for rule in [
        &mut c.security.ir_approval_invalid_burst,
        &mut c.security.policy_denied_spike,
        &mut c.security.threat_escalated,
        &mut c.security.immune_critical_event,
    ] {
        rule.enabled = false;
    }
    let app = App::start(c).await;
    let at = hour();
    let mut events = Vec::new();
    for t in [IrApprovalInvalid::TYPE, PolicyDenied::TYPE, ThreatEscalated::TYPE, ImmuneCriticalEvent::TYPE] {
        events.extend((0..6).map(|i| ev(t, TENANT, at + i)));
    }
    // The one enabled rule last: once its alert is there, every event before it was evaluated.
    let dag = ev(IrDagDiffFailed::TYPE, TENANT, at);
    events.push(dag.clone());
    app.events.publish_batch(&events).await.expect("publish");
    app.wait_events("the dag alert", |ev| !of_type(ev, SystemAlert::TYPE).is_empty()).await;
    settled(&app).await;
    assert_eq!(
        alert_keys(&app).await,
        vec![("ir_dag_diff_failed".to_owned(), TENANT.to_owned(), dag.id.to_string(), "CRITICAL".to_owned())]
    );
    let (_, rules) = app.get("/api/security/rules").await;
    let enabled: Vec<(String, bool)> = rules["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["rule"].as_str().unwrap_or("").to_owned(), r["enabled"].as_bool().unwrap_or(true)))
        .collect();
    assert_eq!(enabled.iter().filter(|(_, e)| *e).count(), 1, "{enabled:?}");
    app.stop().await;
}

/// Two-second windows. Windows are fixed by the events' own timestamps (the envelope's time, never later
/// than now), so the test places bursts in chosen windows a few seconds in the past instead of waiting
/// for the clock: a burst in window W raises one alert, more events in W none, a burst in a later window
/// a second one.
async fn a_burst_in_a_later_window_raises_a_second_alert(app: App) {
    const WINDOW_MS: i64 = 2_000;
    let now = chrono::Utc::now().timestamp_millis();
    let w0 = now - now.rem_euclid(WINDOW_MS) - 4 * WINDOW_MS;
    let w2 = w0 + 2 * WINDOW_MS;
    let first = burst(&app, TENANT, 3, w0 + 100).await;
    app.wait_events("the first alert", |ev| of_type(ev, SystemAlert::TYPE).len() == 1).await;
    burst(&app, TENANT, 4, w0 + 200).await;
    settled(&app).await;
    assert_eq!(all_alerts(&app).await.len(), 1, "one alert per window");
    // Window w0 + 1: two events, below the threshold of three within two seconds.
    burst(&app, TENANT, 2, w0 + WINDOW_MS + 1_500).await;
    settled(&app).await;
    assert_eq!(all_alerts(&app).await.len(), 1, "w1 stays below the threshold");
    // Window w0 + 2: a new burst, a second alert caused by its third event.
    let second = burst(&app, TENANT, 5, w2 + 1_700).await;
    app.wait_events("the second alert", |ev| of_type(ev, SystemAlert::TYPE).len() == 2).await;
    settled(&app).await;
    let mut alerts = all_alerts(&app).await;
    alerts.reverse();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let window = |ms: i64| eventstream_core::format_timestamp(&chrono::DateTime::from_timestamp_millis(ms).expect("time"));
    let got: Vec<(&str, &str, u64)> = alerts
        .iter()
        .map(|a| {
            (a["window_start"].as_str().unwrap_or(""), a["trigger_event_id"].as_str().unwrap_or(""), a["window_secs"].as_u64().unwrap_or(0))
        })
        .collect();
    // The second burst's third event fires: the two w1 events are more than two seconds before it.
    assert_eq!(got, vec![(window(w0).as_str(), first[2].id.as_str(), 2), (window(w2).as_str(), second[2].id.as_str(), 2)]);
    app.stop().await;
}

fn two_second_windows() -> ModulesConfig {
    let mut c = fast_config();
    c.security.ir_approval_invalid_burst.threshold = 3;
    c.security.ir_approval_invalid_burst.window = Duration::from_secs(2);
    c
}

#[tokio::test]
async fn a_burst_in_a_later_window_raises_a_second_alert_on_sqlite() {
    a_burst_in_a_later_window_raises_a_second_alert(App::start(two_second_windows()).await).await;
}

#[tokio::test]
async fn a_burst_in_a_later_window_raises_a_second_alert_on_postgres() {
    let Some(app) = App::start_postgres(two_second_windows()).await else { return };
    a_burst_in_a_later_window_raises_a_second_alert(app).await;
}
