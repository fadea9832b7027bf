//! threats: detection, status changes with escalation and mitigation, filters, statistics from the rows,
//! over HTTP, with the `threat.*` events read back from the log.

use brain_events::EventPayload;
use brain_events::threat::{ThreatDetected, ThreatEscalated, ThreatMitigated, ThreatStatusChanged};
use eventstream_core::Event;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

fn of_threat<'a>(events: &'a [Event], id: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.payload.get("threat_id").and_then(Value::as_str) == Some(id)).collect()
}

async fn create(app: &App, severity: &str, corr: &str) -> Value {
    let body = json!({"type": "brute_force", "source": "api_gateway", "severity": severity, "description": "many failed logins", "metadata": {"ip": "10.0.0.7"}});
    let (status, t) = app.call(Method::POST, "/api/threats", TENANT, Some(corr), Some(body)).await;
    assert_eq!(status, 201, "{t}");
    t
}

async fn set_status(app: &App, id: &str, status: &str, corr: &str) -> (u16, Value) {
    app.call(Method::POST, &format!("/api/threats/{id}/status?status={status}"), TENANT, Some(corr), None).await
}

/// TH-T1..TH-T4 on any store: detected, then OPEN -> INVESTIGATING -> ESCALATED -> MITIGATED.
async fn escalation_lifecycle(app: &App) {
    let t = create(app, "HIGH", "corr-threat").await;
    let id = t["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!((t["status"].as_str(), t["severity"].as_str(), t["type"].as_str()), (Some("OPEN"), Some("HIGH"), Some("brute_force")));
    assert_eq!(t["created_at"], t["last_seen_at"]);
    let (status, got) = app.get(&format!("/api/threats/{id}")).await;
    assert_eq!((status, &got), (200, &t));

    for to in ["INVESTIGATING", "ESCALATED", "MITIGATED"] {
        let (status, body) = set_status(app, &id, to, "corr-threat").await;
        assert_eq!((status, body["status"].as_str(), body["severity"].as_str()), (200, Some(to), Some("HIGH")), "{body}");
    }
    let (_, last) = app.get(&format!("/api/threats/{id}")).await;
    assert!(last["last_seen_at"].as_f64() > t["last_seen_at"].as_f64());

    let events =
        app.wait_events("mitigation", |ev| of_threat(ev, &id).iter().any(|e| e.event_type.as_str() == ThreatMitigated::TYPE)).await;
    let seq = of_threat(&events, &id);
    let types: Vec<&str> = seq.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            ThreatDetected::TYPE,
            ThreatStatusChanged::TYPE,
            ThreatStatusChanged::TYPE,
            ThreatEscalated::TYPE,
            ThreatStatusChanged::TYPE,
            ThreatMitigated::TYPE
        ],
        "1 detected, 3 status_changed, escalated and mitigated each after its status_changed"
    );
    for e in &seq {
        assert_envelope(e, ThreatDetected::SOURCE, TENANT, Some("corr-threat"));
        assert_eq!(
            (field(e, "type"), field(e, "source"), field(e, "severity")),
            (&json!("brute_force"), &json!("api_gateway"), &json!("HIGH"))
        );
        assert_eq!(field(e, "description"), &json!("many failed logins"));
    }
    let detected = seq[0];
    assert_eq!((field(detected, "status"), &field(detected, "metadata")["ip"]), (&json!("OPEN"), &json!("10.0.0.7")));
    assert_eq!(field(detected, "detected_at"), &t["created_at"], "detected_at == created_at");
    assert_eq!((field(seq[1], "old_status"), field(seq[1], "new_status")), (&json!("OPEN"), &json!("INVESTIGATING")));
    assert!(field(seq[1], "changed_at").as_f64().is_some());
    assert_eq!((field(seq[2], "old_status"), field(seq[2], "new_status")), (&json!("INVESTIGATING"), &json!("ESCALATED")));
    assert_eq!(field(seq[3], "old_status"), &json!("INVESTIGATING"));
    assert!(field(seq[3], "escalated_at").as_f64().is_some());
    assert_eq!(field(seq[5], "old_status"), &json!("ESCALATED"));
    assert!(field(seq[5], "mitigated_at").as_f64().is_some());
    assert!(field(seq[5], "duration_seconds").as_f64().is_some_and(|d| d > 0.0), "{:?}", seq[5].payload);
}

#[tokio::test]
async fn escalation_lifecycle_emits_ordered_threat_events() {
    let app = App::start(fast_config()).await;
    escalation_lifecycle(&app).await;
    // INVESTIGATING -> MITIGATED directly gives status_changed and mitigated (old INVESTIGATING).
    let t = create(&app, "LOW", "corr-2").await;
    let id = t["id"].as_str().unwrap_or_default();
    set_status(&app, id, "INVESTIGATING", "corr-2").await;
    set_status(&app, id, "MITIGATED", "corr-2").await;
    let events = app.wait_events("second mitigation", |ev| of_type(ev, ThreatMitigated::TYPE).len() == 2).await;
    let seq = of_threat(&events, id);
    assert_eq!(seq.len(), 4);
    assert_eq!((seq[3].event_type.as_str(), field(seq[3], "old_status")), (ThreatMitigated::TYPE, &json!("INVESTIGATING")));
    app.stop().await;
}

#[tokio::test]
async fn same_status_is_a_no_op_and_unknown_or_foreign_ids_are_404() {
    let app = App::start(fast_config()).await;
    let t = create(&app, "MEDIUM", "corr-same").await;
    let id = t["id"].as_str().unwrap_or_default().to_owned();
    let (status, body) = set_status(&app, &id, "OPEN", "corr-same").await;
    assert_eq!((status, &body), (200, &t), "unchanged, last_seen_at included");
    let (status, body) = set_status(&app, "3f0e1c1e-0000-4000-8000-000000000000", "MITIGATED", "c").await;
    assert_eq!((status, body["code"].as_str(), body["message"].as_str()), (404, Some("threat_not_found"), Some("Threat not found")));
    let a = &app;
    let other = move |m: Method, p: String| async move { a.call(m, &p, "other", None, None).await.0 };
    assert_eq!(other(Method::GET, format!("/api/threats/{id}")).await, 404);
    assert_eq!(other(Method::POST, format!("/api/threats/{id}/status?status=IGNORED")).await, 404);
    let (_, list) = app.call(Method::GET, "/api/threats", "other", None, None).await;
    assert_eq!(list, json!({"threats": [], "next_cursor": null}));
    // Reader keys read but do not write.
    let reader = move |m: Method, p: String| async move {
        let req = a.client.request(m, format!("{}{p}", a.base)).header("x-test-role", "reader");
        let req = if p == "/api/threats" { req.json(&json!({"type": "t", "source": "s", "severity": "LOW"})) } else { req };
        req.send().await.expect("request").status().as_u16()
    };
    assert_eq!(reader(Method::POST, "/api/threats".into()).await, 403);
    assert_eq!(reader(Method::POST, format!("/api/threats/{id}/status?status=IGNORED")).await, 403);
    for p in [format!("/api/threats/{id}"), "/api/threats".into(), "/api/threats/stats/overview".into(), "/api/threats/health".into()] {
        assert_eq!(reader(Method::GET, p.clone()).await, 200, "{p}");
    }
    // One more event after the no-op: once it is in the log, a status_changed of the no-op would be too.
    set_status(&app, &id, "IGNORED", "corr-after").await;
    let events = app.wait_events("ignored", |ev| !of_type(ev, ThreatStatusChanged::TYPE).is_empty()).await;
    let changed = of_type(&events, ThreatStatusChanged::TYPE);
    assert_eq!(changed.len(), 1, "the same-status update emitted nothing");
    assert_eq!(field(changed[0], "old_status"), &json!("OPEN"));
    for (path, name) in [
        ("/api/threats?status=DONE", "status"),
        ("/api/threats?severity=huge", "severity"),
        (&*format!("/api/threats/{id}/status?status=FIXED"), "status"),
    ] {
        let (status, body) = if path.contains("/status?") { app.post(path, json!(null)).await } else { app.get(path).await };
        assert_eq!((status, body["code"].as_str(), body["field"].as_str()), (400, Some("invalid_query"), Some(name)), "{path}");
    }
    let (_, h) = app.get("/api/threats/health").await;
    assert_eq!(h, json!({"status": "ok"}));
    app.stop().await;
}

/// Stats and the list agree after concurrent status changes (TH-T5, TH-F1).
async fn stats_agree_after_concurrent_updates(app: &App) {
    let (status, empty) = app.get("/api/threats/stats/overview").await;
    assert_eq!(status, 200);
    assert_eq!(empty["stats"]["total"], json!(0));
    assert_eq!(empty["stats"]["by_status"], json!({"ESCALATED": 0, "IGNORED": 0, "INVESTIGATING": 0, "MITIGATED": 0, "OPEN": 0}));
    assert_eq!(empty["stats"]["by_severity"], json!({"CRITICAL": 0, "HIGH": 0, "LOW": 0, "MEDIUM": 0}));
    let mut ids = Vec::new();
    for sev in ["LOW", "MEDIUM", "HIGH", "CRITICAL", "HIGH"] {
        ids.push(create(app, sev, "corr-many").await["id"].as_str().unwrap_or_default().to_owned());
    }
    let targets = ["INVESTIGATING", "ESCALATED", "MITIGATED", "IGNORED"];
    let mut calls = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for to in targets.iter().cycle().skip(i).take(4) {
            calls.push(set_status(app, id, to, "corr-many"));
        }
    }
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    let (_, list) = app.get("/api/threats").await;
    let threats = list["threats"].as_array().cloned().unwrap_or_default();
    assert_eq!(threats.len(), 5);
    let seen: Vec<f64> = threats.iter().filter_map(|t| t["last_seen_at"].as_f64()).collect();
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "latest change first: {seen:?}");
    let (_, stats) = app.get("/api/threats/stats/overview").await;
    let stats = &stats["stats"];
    assert_eq!(stats["total"], json!(5));
    for s in ["OPEN", "INVESTIGATING", "MITIGATED", "IGNORED", "ESCALATED"] {
        let n = threats.iter().filter(|t| t["status"] == json!(s)).count();
        assert_eq!(stats["by_status"][s].as_u64(), Some(n as u64), "{s}: {stats}");
        let (_, filtered) = app.get(&format!("/api/threats?status={s}")).await;
        assert_eq!(filtered["threats"].as_array().map(Vec::len), Some(n), "filter {s}");
    }
    assert_eq!(stats["by_severity"]["HIGH"], json!(2));
    let (_, high) = app.get("/api/threats?severity=HIGH").await;
    assert_eq!(high["threats"].as_array().map(Vec::len), Some(2));
    assert_eq!(stats["last_updated"], threats[0]["last_seen_at"]);
    // Each committed change emitted exactly one status_changed, whose old_status is the status it replaced.
    let final_status = |id: &str| threats.iter().find(|t| t["id"] == json!(id)).map(|t| t["status"].clone());
    let settled = |ev: &[Event]| {
        ids.iter().all(|id| {
            let last = of_threat(ev, id).into_iter().rev().find(|e| e.event_type.as_str() == ThreatStatusChanged::TYPE);
            last.map(|e| field(e, "new_status").clone()) == final_status(id)
        })
    };
    let events = app.wait_events("every threat's last change", settled).await;
    for id in &ids {
        let changes: Vec<(&Value, &Value)> = of_threat(&events, id)
            .into_iter()
            .filter(|e| e.event_type.as_str() == ThreatStatusChanged::TYPE)
            .map(|e| (field(e, "old_status"), field(e, "new_status")))
            .collect();
        for w in changes.windows(2) {
            assert_eq!(w[0].1, w[1].0, "a chain of true transitions for {id}");
        }
        let last = threats.iter().find(|t| t["id"] == json!(id)).map(|t| &t["status"]);
        assert_eq!(changes.last().map(|c| c.1), last, "the last event names the final status");
    }
}

#[tokio::test]
async fn stats_and_filters_agree_with_the_rows_after_concurrent_updates() {
    let app = App::start(fast_config()).await;
    stats_agree_after_concurrent_updates(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn threat_lifecycle_and_concurrent_updates_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    stats_agree_after_concurrent_updates(&app).await;
    escalation_lifecycle(&app).await;
    // Ten concurrent escalations of one threat: one change, one status_changed and one escalated.
    let t = create(&app, "CRITICAL", "corr-race").await;
    let id = t["id"].as_str().unwrap_or_default().to_owned();
    let calls: Vec<_> = (0..10).map(|_| set_status(&app, &id, "ESCALATED", "corr-race")).collect();
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!((status, body["status"].as_str()), (200, Some("ESCALATED")), "{body}");
    }
    let events = app.wait_events("race", |ev| of_threat(ev, &id).len() >= 3).await;
    let types: Vec<&str> = of_threat(&events, &id).iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, [ThreatDetected::TYPE, ThreatStatusChanged::TYPE, ThreatEscalated::TYPE]);
    app.stop().await;
}

/// A row whose status or severity the module cannot read (written by hand or by something else) is an
/// error, not silently an `OPEN` or `LOW` threat.
#[tokio::test]
async fn a_threat_row_with_an_unknown_status_is_an_error_not_open() {
    let app = App::start(fast_config()).await;
    let t = create(&app, "HIGH", "corr-corrupt").await;
    let id = t["id"].as_str().unwrap_or_default().to_owned();
    eventstream::store::sqlx::query("UPDATE threats SET status = 'BOGUS' WHERE id = $1")
        .bind(id.clone())
        .execute(app.events.store().pool())
        .await
        .expect("corrupt the row");
    let (status, body) = app.get(&format!("/api/threats/{id}")).await;
    assert_eq!((status, body["code"].as_str()), (500, Some("internal")), "{body}");
    let (status, _) = app.get("/api/threats/stats/overview").await;
    assert_eq!(status, 500, "statistics do not count a corrupt row as a status");
    app.stop().await;
}
