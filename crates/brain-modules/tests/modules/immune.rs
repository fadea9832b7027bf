//! immune: records with `immune.event_published` (and `immune.critical_event` for CRITICAL ones) and the
//! 60-minute summary, over HTTP, with the events read back from the log.

use brain_events::EventPayload;
use brain_events::immune::{ImmuneCriticalEvent, ImmuneEventPublished};
use eventstream_core::Event;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

fn of_record<'a>(events: &'a [Event], id: &Value) -> Vec<&'a Event> {
    events.iter().filter(|e| e.payload.get("event_id") == Some(id)).collect()
}

async fn post(app: &App, tenant: &str, corr: &str, body: Value) -> Value {
    let (status, id) = app.call(Method::POST, "/api/immune/event", tenant, Some(corr), Some(body)).await;
    assert_eq!(status, 200, "{id}");
    assert!(id.as_i64().is_some_and(|i| i > 0), "an int id: {id}");
    id
}

/// IM-T1..IM-T3 on any store: published for every record, critical after it for a CRITICAL one.
async fn records_and_events(app: &App) {
    let spike = json!({"severity": "WARNING", "type": "ERROR_SPIKE", "message": "errors up", "module": "missions", "meta": {"error_count": 42}, "created_at": "2020-01-01T00:00:00"});
    let id1 = post(app, TENANT, "corr-imm", spike).await;
    let violation = json!({"severity": "CRITICAL", "type": "POLICY_VIOLATION", "message": "forbidden write", "agent_id": "agent-7", "module": "policy"});
    let id2 = post(app, TENANT, "corr-imm", violation).await;
    let healing = json!({"severity": "INFO", "type": "SELF_HEALING_ACTION", "message": "restarted worker", "id": 99});
    let id3 = post(app, TENANT, "corr-imm", healing).await;
    assert_eq!((id1.clone(), id2.clone(), id3.clone()), (json!(1), json!(2), json!(3)), "sequential per tenant; a client id is ignored");

    let events = app.wait_events("immune events", |ev| of_type(ev, ImmuneEventPublished::TYPE).len() == 3).await;
    assert_eq!(of_type(&events, ImmuneEventPublished::TYPE).len(), 3);
    let critical = of_type(&events, ImmuneCriticalEvent::TYPE);
    assert_eq!(critical.len(), 1, "only the CRITICAL record");
    let one = of_record(&events, &id1);
    assert_eq!(one.len(), 1);
    let e = one[0];
    assert_envelope(e, ImmuneEventPublished::SOURCE, TENANT, Some("corr-imm"));
    assert_eq!(
        (field(e, "severity"), field(e, "type"), field(e, "message")),
        (&json!("WARNING"), &json!("ERROR_SPIKE"), &json!("errors up"))
    );
    assert_eq!((field(e, "module"), &field(e, "meta")["error_count"]), (&json!("missions"), &json!(42)));
    assert!(field(e, "published_at").as_f64().is_some_and(|t| t > 1.7e9), "true epoch seconds, not the client's created_at");
    assert!(e.payload.get("agent_id").is_none());

    let two = of_record(&events, &id2);
    let types: Vec<&str> = two.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, [ImmuneEventPublished::TYPE, ImmuneCriticalEvent::TYPE], "published, then critical");
    let c = two[1];
    assert_envelope(c, ImmuneCriticalEvent::SOURCE, TENANT, Some("corr-imm"));
    assert_eq!((field(c, "agent_id"), field(c, "module"), field(c, "severity")), (&json!("agent-7"), &json!("policy"), &json!("CRITICAL")));
    assert_eq!((field(c, "type"), field(c, "message")), (&json!("POLICY_VIOLATION"), &json!("forbidden write")));
    assert!(field(c, "critical_at").as_f64().is_some() && c.payload.get("published_at").is_none());
    assert!(c.payload.get("meta").is_none(), "empty meta is left out");
    let three = of_record(&events, &id3);
    assert_eq!((three.len(), field(three[0], "type")), (1, &json!("SELF_HEALING_ACTION")));
}

#[tokio::test]
async fn records_emit_published_then_critical_for_critical_ones() {
    let app = App::start(fast_config()).await;
    records_and_events(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn health_summary_counts_the_last_hour_per_tenant() {
    let app = App::start(fast_config()).await;
    let (status, empty) = app.get("/api/immune/health").await;
    assert_eq!((status, empty), (200, json!({"active_issues": 0, "critical_issues": 0, "last_events": []})));
    let id = post(&app, TENANT, "c", json!({"severity": "WARNING", "type": "ERROR_SPIKE", "message": "m", "module": "x"})).await;
    let (_, s) = app.get("/api/immune/health").await;
    assert_eq!((s["active_issues"].as_u64(), s["critical_issues"].as_u64()), (Some(1), Some(0)));
    let rec = &s["last_events"][0];
    assert_eq!(
        (&rec["id"], rec["severity"].as_str(), rec["type"].as_str(), rec["module"].as_str()),
        (&id, Some("WARNING"), Some("ERROR_SPIKE"), Some("x"))
    );
    assert!(rec["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{rec}");

    // Older than 60 minutes drops out (the row is moved back in time directly in the store).
    let back = eventstream::store::sqlx::query("UPDATE immune_events SET created_at = created_at - 3660000 WHERE tenant = $1")
        .bind(TENANT)
        .execute(app.events.store().pool())
        .await
        .expect("backdate");
    assert_eq!(back.rows_affected(), 1);
    let (_, s) = app.get("/api/immune/health").await;
    assert_eq!((s["active_issues"].as_u64(), s["last_events"].as_array().map(Vec::len)), (Some(0), Some(0)), "{s}");

    for i in 0..12 {
        let sev = if i % 4 == 0 { "CRITICAL" } else { "INFO" };
        post(&app, TENANT, "c", json!({"severity": sev, "type": "SELF_HEALING_ACTION", "message": format!("m{i}")})).await;
    }
    let (_, s) = app.get("/api/immune/health").await;
    assert_eq!((s["active_issues"].as_u64(), s["critical_issues"].as_u64()), (Some(12), Some(3)));
    let ids: Vec<i64> = s["last_events"].as_array().map(|a| a.iter().filter_map(|r| r["id"].as_i64()).collect()).unwrap_or_default();
    assert_eq!(ids, (4..=13).collect::<Vec<_>>(), "the last 10, in insertion order");

    // Another tenant has its own ids and summary; reader keys read but do not post.
    let other = post(&app, "other", "c", json!({"severity": "INFO", "type": "ERROR_SPIKE", "message": "m"})).await;
    assert_eq!(other, json!(1));
    let (_, s) = app.call(Method::GET, "/api/immune/health", "other", None, None).await;
    assert_eq!(s["active_issues"], json!(1));
    let reader = app
        .client
        .post(format!("{}/api/immune/event", app.base))
        .header("x-test-role", "reader")
        .json(&json!({"severity": "INFO", "type": "ERROR_SPIKE", "message": "m"}))
        .send()
        .await
        .expect("request");
    assert_eq!(reader.status().as_u16(), 403);
    let reader = app.client.get(format!("{}/api/immune/health", app.base)).header("x-test-role", "reader").send().await.expect("request");
    assert_eq!(reader.status().as_u16(), 200);
    let (_, s) = app.get("/api/immune/health").await;
    assert_eq!(s["active_issues"], json!(12), "nothing was added by the reader or the other tenant");
    app.stop().await;
}

#[tokio::test]
async fn immune_records_and_events_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    records_and_events(&app).await;
    let (_, s) = app.get("/api/immune/health").await;
    assert_eq!((s["active_issues"].as_u64(), s["critical_issues"].as_u64()), (Some(3), Some(1)), "{s}");
    app.stop().await;
}
