//! policy: evaluations (allow, deny, warn, audit, safety override, no policy), test-rule, CRUD, stats and
//! the default policies, over HTTP, with the `policy.*` events read back from the log.

use brain_events::EventPayload;
use brain_events::policy::{
    PolicyAuditRequired, PolicyCreated, PolicyDeleted, PolicyDenied, PolicyEvaluated, PolicyUpdated, PolicyWarningTriggered,
};
use eventstream_core::Event;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

/// The events of correlation id `corr`, in log order.
fn of_corr<'a>(events: &'a [Event], corr: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.correlation_id.as_deref() == Some(corr)).collect()
}

fn types(events: &[&Event]) -> Vec<String> {
    events.iter().map(|e| e.event_type.as_str().to_owned()).collect()
}

async fn evaluate(app: &App, corr: &str, role: &str, action: &str) -> (u16, Value) {
    let body = json!({"agent_id": "agent-1", "agent_role": role, "action": action});
    app.call(Method::POST, "/api/policy/evaluate", TENANT, Some(corr), Some(body)).await
}

/// A request with a role, as `tenant`.
async fn as_role(app: &App, method: Method, path: &str, role: &str, body: Option<Value>) -> u16 {
    let mut req = app.client.request(method, format!("{}{path}", app.base)).header("x-test-role", role);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("request").status().as_u16()
}

/// PO-T1, PO-T2 and the ordered sequence evaluated -> denied, on any store.
async fn allow_and_deny(app: &App) {
    let (status, r) = evaluate(app, "corr-allow", "admin", "read_data").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["allowed"].as_bool(), r["effect"].as_str()), (Some(true), Some("allow")));
    assert_eq!((r["matched_policy"].as_str(), r["matched_rule"].as_str()), (Some("admin_full_access"), Some("admin_allow_all")));
    assert_eq!(r["reason"], json!("Allowed by rule 'Admin Allow All'"));

    let (status, r) = evaluate(app, "corr-deny", "guest", "delete").await;
    assert_eq!(status, 403, "{r}");
    assert_eq!((r["code"].as_str(), r["field"].as_str()), (Some("policy_denied"), Some("action")));
    assert_eq!(r["error"], json!("Action denied by policy"));
    assert_eq!((r["effect"].as_str(), r["reason"].as_str()), (Some("deny"), Some("Denied by rule 'Guest Write Deny'")));
    assert_eq!((r["matched_policy"].as_str(), r["matched_rule"].as_str()), (Some("guest_read_only"), Some("guest_write_deny")));
    assert_eq!(r["message"], r["reason"]);

    let events = app.wait_events("deny events", |ev| !of_type(ev, PolicyDenied::TYPE).is_empty()).await;
    let allow = of_corr(&events, "corr-allow");
    assert_eq!(types(&allow), [PolicyEvaluated::TYPE]);
    let ev = allow[0];
    assert_envelope(ev, PolicyEvaluated::SOURCE, TENANT, Some("corr-allow"));
    assert_eq!(
        (field(ev, "agent_id"), field(ev, "action"), field(ev, "agent_role")),
        (&json!("agent-1"), &json!("read_data"), &json!("admin"))
    );
    assert_eq!(field(ev, "result"), &json!({"allowed": true, "effect": "allow", "reason": "Allowed by rule 'Admin Allow All'"}));
    assert_eq!((field(ev, "policy_id"), field(ev, "rule_name")), (&json!("admin_full_access"), &json!("Admin Allow All")));
    assert_eq!((field(ev, "matched_policy"), field(ev, "matched_rule")), (&json!("admin_full_access"), &json!("admin_allow_all")));
    assert!(field(ev, "evaluation_time_ms").as_f64().is_some_and(|t| t >= 0.0));
    assert!(field(ev, "evaluated_at").as_f64().is_some_and(|t| t > 1.7e9));
    assert!(ev.payload.get("warnings").is_none() && ev.payload.get("requires_audit").is_none(), "{:?}", ev.payload);

    let deny = of_corr(&events, "corr-deny");
    assert_eq!(types(&deny), [PolicyEvaluated::TYPE, PolicyDenied::TYPE], "exactly evaluated then denied");
    assert_eq!(field(deny[0], "result")["allowed"], json!(false));
    assert_eq!(field(deny[0], "result")["effect"], json!("deny"));
    let denied = deny[1];
    assert_envelope(denied, PolicyDenied::SOURCE, TENANT, Some("corr-deny"));
    assert_eq!((field(denied, "matched_policy"), field(denied, "matched_rule")), (&json!("guest_read_only"), &json!("guest_write_deny")));
    assert_eq!((field(denied, "policy_name"), field(denied, "rule_id")), (&json!("Guest Read Only"), &json!("guest_write_deny")));
    assert!(field(denied, "denied_at").as_f64().is_some());
    assert_eq!(
        (field(denied, "agent_id"), field(denied, "action"), field(denied, "agent_role")),
        (&json!("agent-1"), &json!("delete"), &json!("guest")),
        "PO-E2: the request's context"
    );
}

#[tokio::test]
async fn allow_and_deny_give_evaluated_then_denied_events() {
    let app = App::start(fast_config()).await;
    allow_and_deny(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn warn_and_audit_rules_emit_their_events_after_evaluated() {
    let app = App::start(fast_config()).await;
    let policy = json!({"name": "Ops", "rules": [
        {"rule_id": "test_warn", "name": "Deploy Warning", "effect": "warn", "priority": 2000,
         "conditions": [{"field": "action", "operator": "contains", "value": "deploy"}]},
        {"rule_id": "test_audit", "name": "Delete Audit", "effect": "audit", "priority": 2000,
         "conditions": [{"field": "action", "operator": "contains", "value": "delete"}, {"field": "agent_role", "operator": "==", "value": "admin"}]}
    ]});
    let (status, p) = app.post("/api/policy/policies", policy).await;
    assert_eq!(status, 201, "{p}");

    let (status, r) = evaluate(&app, "corr-warn", "admin", "deploy_application").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["allowed"].as_bool(), r["effect"].as_str()), (Some(true), Some("warn")), "priority 2000 beats admin's 1000");
    assert_eq!(r["warnings"], json!(["Action 'deploy_application' triggered warning rule"]));
    let (status, r) = evaluate(&app, "corr-audit", "admin", "delete_database").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["effect"].as_str(), r["requires_audit"].as_bool()), (Some("audit"), Some(true)));

    let events = app.wait_events("audit", |ev| !of_type(ev, PolicyAuditRequired::TYPE).is_empty()).await;
    let warn = of_corr(&events, "corr-warn");
    assert_eq!(types(&warn), [PolicyEvaluated::TYPE, PolicyWarningTriggered::TYPE]);
    assert_eq!(field(warn[0], "warnings"), &json!(["Action 'deploy_application' triggered warning rule"]));
    let w = warn[1];
    assert_envelope(w, PolicyWarningTriggered::SOURCE, TENANT, Some("corr-warn"));
    assert_eq!(
        (field(w, "rule_id"), field(w, "policy_id"), field(w, "rule_name")),
        (&json!("test_warn"), &p["policy_id"], &json!("Deploy Warning"))
    );
    assert!(field(w, "warnings").as_array().is_some_and(|a| !a.is_empty()));
    assert!(w.payload.get("result").is_none(), "warning_triggered carries no result");
    assert!(field(w, "warning_triggered_at").as_f64().is_some());

    let audit = of_corr(&events, "corr-audit");
    assert_eq!(types(&audit), [PolicyEvaluated::TYPE, PolicyAuditRequired::TYPE]);
    assert_eq!(field(audit[0], "requires_audit"), &json!(true));
    let a = audit[1];
    assert_envelope(a, PolicyAuditRequired::SOURCE, TENANT, Some("corr-audit"));
    assert_eq!(
        (field(a, "rule_id"), field(a, "requires_audit"), field(a, "matched_rule")),
        (&json!("test_audit"), &json!(true), &json!("test_audit"))
    );
    assert_eq!(field(a, "result")["effect"], json!("audit"));
    assert!(field(a, "audit_required_at").as_f64().is_some());
    app.stop().await;
}

/// PO-T4 and PO-B11 on any store: create, update, delete with their events; ids are never reused.
async fn crud(app: &App) {
    let corr = Some("corr-crud");
    let call = |m: Method, p: String, b: Option<Value>| async move { app.call(m, &p, TENANT, corr, b).await };
    let (status, p3) = call(Method::POST, "/api/policy/policies".into(), Some(json!({"name": "Test Policy", "description": "d"}))).await;
    assert_eq!(status, 201, "{p3}");
    assert_eq!(
        (p3["policy_id"].as_str(), p3["version"].as_str(), p3["default_effect"].as_str()),
        (Some("policy_3"), Some("1.0.0"), Some("deny"))
    );
    assert_eq!((p3["enabled"].as_bool(), p3["created_by"].as_str()), (Some(true), Some("test-key")));
    let (status, p4) = call(Method::POST, "/api/policy/policies".into(), Some(json!({"name": "Keep Me"}))).await;
    assert_eq!((status, p4["policy_id"].as_str()), (201, Some("policy_4")));

    let (status, up) =
        call(Method::PUT, "/api/policy/policies/policy_3".into(), Some(json!({"name": "Renamed", "enabled": false, "description": "d"})))
            .await;
    assert_eq!((status, up["name"].as_str(), up["enabled"].as_bool()), (200, Some("Renamed"), Some(false)), "{up}");
    assert_eq!(up["version"], json!("1.0.0"));
    assert_eq!(up["created_at"], p3["created_at"]);
    assert!(
        up["updated_at"].as_str() > p3["updated_at"].as_str(),
        "PO-B11: updated_at moves: {} -> {}",
        p3["updated_at"],
        up["updated_at"]
    );
    let (status, _) = call(Method::DELETE, "/api/policy/policies/policy_3".into(), None).await;
    assert_eq!(status, 204);
    let (status, body) = call(Method::GET, "/api/policy/policies/policy_3".into(), None).await;
    assert_eq!(
        (status, body["code"].as_str(), body["message"].as_str()),
        (404, Some("policy_not_found"), Some("Policy 'policy_3' not found"))
    );
    let (status, _) = call(Method::PUT, "/api/policy/policies/policy_3".into(), Some(json!({"name": "x"}))).await;
    assert_eq!(status, 404);
    let (status, _) = call(Method::DELETE, "/api/policy/policies/policy_3".into(), None).await;
    assert_eq!(status, 404);

    let (status, p5) = call(Method::POST, "/api/policy/policies".into(), Some(json!({"name": "After Delete"}))).await;
    assert_eq!((status, p5["policy_id"].as_str()), (201, Some("policy_5")), "the id of a deleted policy is not reused");
    let (status, kept) = call(Method::GET, "/api/policy/policies/policy_4".into(), None).await;
    assert_eq!((status, kept["name"].as_str()), (200, Some("Keep Me")), "no overwrite");
    let (status, list) = call(Method::GET, "/api/policy/policies".into(), None).await;
    let ids: Vec<&str> =
        list["policies"].as_array().map(|a| a.iter().filter_map(|p| p["policy_id"].as_str()).collect()).unwrap_or_default();
    assert_eq!((status, list["total"].as_u64(), ids), (200, Some(4), vec!["admin_full_access", "guest_read_only", "policy_4", "policy_5"]));

    let events = app.wait_events("crud events", |ev| of_type(ev, PolicyCreated::TYPE).len() == 3).await;
    let seq = of_corr(&events, "corr-crud");
    assert_eq!(types(&seq), [PolicyCreated::TYPE, PolicyCreated::TYPE, PolicyUpdated::TYPE, PolicyDeleted::TYPE, PolicyCreated::TYPE]);
    assert_envelope(seq[0], PolicyCreated::SOURCE, TENANT, corr);
    assert_eq!((field(seq[0], "policy_id"), field(seq[0], "policy_name")), (&json!("policy_3"), &json!("Test Policy")));
    assert!(field(seq[0], "created_at").as_f64().is_some());
    let changes = field(seq[2], "changes");
    assert_eq!(
        changes,
        &json!({"name": {"old": "Test Policy", "new": "Renamed"}, "enabled": {"old": true, "new": false}}),
        "unchanged description left out"
    );
    assert_eq!((field(seq[2], "policy_id"), field(seq[2], "policy_name")), (&json!("policy_3"), &json!("Renamed")));
    assert!(field(seq[2], "updated_at").as_f64().is_some());
    assert_eq!((field(seq[3], "policy_id"), field(seq[3], "policy_name")), (&json!("policy_3"), &json!("Renamed")));
    assert!(field(seq[3], "deleted_at").as_f64().is_some());
}

#[tokio::test]
async fn crud_emits_created_updated_deleted_and_never_reuses_an_id() {
    let app = App::start(fast_config()).await;
    crud(&app).await;
    // A rules update reports the counts.
    let rules = json!({"rules": [{"rule_id": "r1", "name": "R1", "effect": "allow"}, {"rule_id": "r2", "name": "R2", "effect": "deny"}], "default_effect": "allow"});
    let (status, p) = app.call(Method::PUT, "/api/policy/policies/policy_4", TENANT, Some("corr-rules"), Some(rules)).await;
    assert_eq!((status, p["rules"].as_array().map(Vec::len), p["default_effect"].as_str()), (200, Some(2), Some("allow")), "{p}");
    let events = app.wait_events("rules update", |ev| !of_corr(ev, "corr-rules").is_empty()).await;
    let ev = of_corr(&events, "corr-rules")[0];
    assert_eq!(
        field(ev, "changes"),
        &json!({"rules": {"old_count": 0, "new_count": 2}, "default_effect": {"old": "deny", "new": "allow"}})
    );
    app.stop().await;
}

#[tokio::test]
async fn missing_fields_compare_false_and_patterns_are_checked() {
    let app = App::start(fast_config()).await;
    let policy = json!({"name": "Numbers", "rules": [
        {"rule_id": "big", "name": "Big Count", "effect": "deny", "priority": 5000,
         "conditions": [{"field": "params.count", "operator": ">", "value": 10}]},
        {"rule_id": "prod", "name": "Prod Pattern", "effect": "deny", "priority": 4000,
         "conditions": [{"field": "environment.stage", "operator": "matches", "value": "prod(uction)?$"}]}
    ]});
    let (status, _) = app.post("/api/policy/policies", policy).await;
    assert_eq!(status, 201);
    // `>` on a missing field is false (the original answered 500): the admin rule decides.
    let (status, r) = evaluate(&app, "c1", "admin", "read_data").await;
    assert_eq!((status, r["matched_rule"].as_str()), (200, Some("admin_allow_all")), "{r}");
    let ctx = |count: Value, stage: &str| json!({"agent_id": "a", "agent_role": "admin", "action": "read", "params": {"count": count}, "environment": {"stage": stage}});
    let (status, r) = app.post("/api/policy/evaluate", ctx(json!(11), "dev")).await;
    assert_eq!((status, r["matched_rule"].as_str()), (403, Some("big")));
    let (status, r) = app.post("/api/policy/evaluate", ctx(json!("eleven"), "dev")).await;
    assert_eq!((status, r["matched_rule"].as_str()), (200, Some("admin_allow_all")), "mismatched types are false: {r}");
    let (status, r) = app.post("/api/policy/evaluate", ctx(json!(1), "production")).await;
    assert_eq!((status, r["matched_rule"].as_str()), (403, Some("prod")));
    let (status, r) = app.post("/api/policy/evaluate", ctx(json!(1), "preprod")).await;
    assert_eq!((status, r["matched_rule"].as_str()), (200, Some("admin_allow_all")), "matches is anchored at the start: {r}");

    let bad = |value: Value| json!({"name": "Bad", "rules": [{"rule_id": "r", "name": "R", "effect": "deny", "conditions": [{"field": "action", "operator": "matches", "value": value}]}]});
    for (value, why) in [
        (json!("(unclosed"), "syntax"),
        (json!("(?<=x)y"), "lookbehind"),
        (json!(5), "not a string"),
        (json!("\\w{1000}{1000}"), "too big"),
    ] {
        let (status, body) = app.post("/api/policy/policies", bad(value)).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")), "{why}: {body}");
        assert_eq!(body["field"], json!("rules[0].conditions[0].value"), "{why}");
    }
    let (status, body) = app
        .call(Method::PUT, "/api/policy/policies/policy_3", TENANT, None, Some(json!({"rules": bad(json!("["))["rules"].clone()})))
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")), "update checks patterns too: {body}");
    app.stop().await;
}

#[tokio::test]
async fn test_rule_neither_counts_nor_emits_and_stats_count_evaluations() {
    let app = App::start(fast_config()).await;
    let (status, s) = app.get("/api/policy/stats").await;
    assert_eq!(status, 200);
    assert_eq!(
        s,
        json!({"total_policies": 2, "active_policies": 2, "total_rules": 3, "total_evaluations": 0, "total_allows": 0, "total_denies": 0, "total_warnings": 0})
    );
    evaluate(&app, "e1", "admin", "read_data").await;
    evaluate(&app, "e2", "guest", "write").await;
    evaluate(&app, "e3", "guest", "read_docs").await;
    let body = json!({"agent_id": "agent-1", "agent_role": "guest", "action": "delete"});
    let (status, r) = app.call(Method::POST, "/api/policy/test-rule", TENANT, Some("corr-test"), Some(body)).await;
    assert_eq!(
        (status, r["allowed"].as_bool(), r["matched_rule"].as_str()),
        (200, Some(false), Some("guest_write_deny")),
        "never 403: {r}"
    );
    let (status, s) = app.get("/api/policy/stats").await;
    assert_eq!(status, 200);
    assert_eq!(
        (s["total_evaluations"].as_u64(), s["total_allows"].as_u64(), s["total_denies"].as_u64()),
        (Some(3), Some(2), Some(1)),
        "{s}"
    );
    // An event after the test-rule call: once it is in the log, the test-rule call would be too.
    evaluate(&app, "after", "admin", "read_data").await;
    let events = app.wait_events("after", |ev| !of_corr(ev, "after").is_empty()).await;
    assert!(of_corr(&events, "corr-test").is_empty(), "test-rule emitted events");
    assert_eq!(of_type(&events, PolicyEvaluated::TYPE).len(), 4);

    let (status, d) = app.get("/api/policy/default-policies").await;
    assert_eq!((status, d), (200, json!(["admin_full_access", "guest_read_only"])));
    let (status, h) = app.get("/api/policy/health").await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    assert!(h["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let (status, i) = app.get("/api/policy/info").await;
    assert_eq!((status, i), (200, json!({"name": "brain.policy", "version": "2.0.0", "config": {}})));
    app.stop().await;
}

#[tokio::test]
async fn safety_check_overrides_an_allow_counted_once_as_a_deny() {
    let app = App::start(fast_config()).await;
    let (status, r) = evaluate(&app, "corr-drop", "admin", "drop_database").await;
    assert_eq!((status, r["code"].as_str(), r["matched_rule"].as_str()), (403, Some("policy_denied"), Some("admin_allow_all")), "{r}");
    assert_eq!(r["reason"], json!("Allowed by rule 'Admin Allow All' (overridden by Foundation safety check)"));
    let (_, s) = app.get("/api/policy/stats").await;
    assert_eq!(
        (s["total_evaluations"].as_u64(), s["total_allows"].as_u64(), s["total_denies"].as_u64()),
        (Some(1), Some(0), Some(1)),
        "counted once: {s}"
    );
    // An overridden WARN result keeps its warnings in policy.denied (M11), and no warning event follows.
    let warn = json!({"name": "W", "rules": [{"rule_id": "w", "name": "W", "effect": "warn", "priority": 3000, "conditions": [{"field": "action", "operator": "contains", "value": "deploy"}]}]});
    assert_eq!(app.post("/api/policy/policies", warn).await.0, 201);
    let (status, r) = evaluate(&app, "corr-wipe", "admin", "deploy_and_wipe").await;
    assert_eq!((status, r["effect"].as_str()), (403, Some("deny")), "{r}");
    let events = app.wait_events("wipe", |ev| of_corr(ev, "corr-wipe").len() == 2).await;
    let seq = of_corr(&events, "corr-wipe");
    assert_eq!(types(&seq), [PolicyEvaluated::TYPE, PolicyDenied::TYPE]);
    assert_eq!(field(seq[1], "warnings"), &json!(["Action 'deploy_and_wipe' triggered warning rule"]));
    assert_eq!(field(seq[1], "result")["allowed"], json!(false));
    let decoded = brain_events::Catalog::new().decode::<PolicyDenied>(seq[1]).expect("typed decode");
    assert_eq!(decoded.warnings.map(|w| w.len()), Some(1), "the typed payload keeps the warnings");
    assert_eq!(types(&of_corr(&events, "corr-drop")), [PolicyEvaluated::TYPE, PolicyDenied::TYPE]);
    app.stop().await;
}

#[tokio::test]
async fn no_enabled_policy_is_a_deny_with_evaluated_and_denied_events() {
    let app = App::start(fast_config()).await;
    for id in ["admin_full_access", "guest_read_only"] {
        let (status, _) = app.call(Method::PUT, &format!("/api/policy/policies/{id}"), TENANT, None, Some(json!({"enabled": false}))).await;
        assert_eq!(status, 200);
    }
    let (status, r) = evaluate(&app, "corr-none", "admin", "read_data").await;
    assert_eq!((status, r["reason"].as_str()), (403, Some("No policies configured - default deny")), "{r}");
    assert_eq!((r["matched_rule"].clone(), r["matched_policy"].clone()), (Value::Null, Value::Null));
    let events = app.wait_events("none", |ev| of_corr(ev, "corr-none").len() == 2).await;
    let seq = of_corr(&events, "corr-none");
    assert_eq!(types(&seq), [PolicyEvaluated::TYPE, PolicyDenied::TYPE]);
    assert!(seq[1].payload.get("policy_id").is_none() && seq[1].payload.get("matched_rule").is_none());
    // A default effect applies when policies are enabled but no rule matches (the first enabled policy's).
    app.call(Method::PUT, "/api/policy/policies/guest_read_only", TENANT, None, Some(json!({"enabled": true, "default_effect": "allow"})))
        .await;
    let (status, r) = evaluate(&app, "corr-default", "robot", "read_data").await;
    assert_eq!(
        (status, r["reason"].as_str(), r["effect"].as_str()),
        (200, Some("No matching rules - applied default effect: allow"), Some("allow"))
    );
    app.stop().await;
}

#[tokio::test]
async fn other_tenants_get_404_and_reader_keys_cannot_write() {
    let app = App::start(fast_config()).await;
    let (status, p) = app.post("/api/policy/policies", json!({"name": "Mine"})).await;
    assert_eq!((status, p["policy_id"].as_str()), (201, Some("policy_3")));
    let path = "/api/policy/policies/policy_3";
    assert_eq!(app.call(Method::GET, path, "other", None, None).await.0, 404);
    assert_eq!(app.call(Method::PUT, path, "other", None, Some(json!({"name": "Theirs"}))).await.0, 404);
    assert_eq!(app.call(Method::DELETE, path, "other", None, None).await.0, 404);
    let (_, list) = app.call(Method::GET, "/api/policy/policies", "other", None, None).await;
    assert_eq!(list["total"], json!(2), "the other tenant has its own defaults only");
    assert_eq!(app.get(path).await.1["name"], json!("Mine"));

    let eval = json!({"agent_id": "a", "agent_role": "admin", "action": "read"});
    for (method, p, body) in [
        (Method::POST, "/api/policy/evaluate", Some(eval.clone())),
        (Method::POST, "/api/policy/policies", Some(json!({"name": "x"}))),
        (Method::PUT, path, Some(json!({"name": "x"}))),
        (Method::DELETE, path, None),
    ] {
        assert_eq!(as_role(&app, method.clone(), p, "reader", body).await, 403, "{method} {p}");
    }
    for p in ["/api/policy/policies", path, "/api/policy/stats", "/api/policy/health", "/api/policy/info", "/api/policy/default-policies"] {
        assert_eq!(as_role(&app, Method::GET, p, "reader", None).await, 200, "{p}");
    }
    assert_eq!(as_role(&app, Method::POST, "/api/policy/test-rule", "reader", Some(eval)).await, 200);
    assert_eq!(app.get(path).await.1["name"], json!("Mine"), "nothing changed");
    app.stop().await;
}

#[tokio::test]
async fn policy_deny_sequence_and_crud_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    allow_and_deny(&app).await;
    crud(&app).await;
    let (_, s) = app.get("/api/policy/stats").await;
    assert_eq!((s["total_evaluations"].as_u64(), s["total_policies"].as_u64()), (Some(2), Some(4)), "{s}");
    app.stop().await;
}
