//! ir_governance over HTTP: every route, its events read back from the log (type, source, tenant,
//! correlation id, payload), the consume check table, single use under 100 concurrent consumes (SQLite
//! and PostgreSQL), the canonical-JSON vectors against the API, and tenant-isolated WebSocket pushes.

use std::time::Duration;

use brain_events::EventPayload;
use brain_events::ir::{
    IrApprovalConsumed, IrApprovalCreated, IrApprovalExpired, IrApprovalInvalid, IrDagDiffFailed, IrDagDiffOk, IrValidatedEscalate,
    IrValidatedPass, IrValidatedReject,
};
use eventstream_core::Event;
use eventstream_testkit::fixtures::eventually;
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

const SOURCE: &str = IrApprovalCreated::SOURCE;

fn step(action: &str, provider: &str, resource: &str) -> Value {
    json!({"action": action, "provider": provider, "resource": resource, "idempotency_key": format!("k-{resource}")})
}

fn ir_of(tenant: &str, request_id: &str, steps: Vec<Value>) -> Value {
    json!({"tenant_id": tenant, "request_id": request_id, "steps": steps})
}

async fn post_as(app: &App, tenant: &str, corr: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    app.call(Method::POST, path, tenant, Some(corr), body).await
}

/// Issues an approval of `hash` for `tenant`; returns (approval_id, token).
async fn issue(app: &App, tenant: &str, hash: &str, ttl: u32) -> (String, String) {
    let path = format!("/api/ir/approvals?ir_hash={hash}&ttl_seconds={ttl}&created_by=alice");
    let (status, b) = post_as(app, tenant, "corr-issue", &path, None).await;
    assert_eq!(status, 201, "{b}");
    (b["approval_id"].as_str().unwrap_or_default().to_owned(), b["token"].as_str().unwrap_or_default().to_owned())
}

async fn consume(app: &App, tenant: &str, corr: &str, hash: &str, token: &str) -> Value {
    let body = json!({"tenant_id": tenant, "ir_hash": hash, "token": token});
    let (status, b) = post_as(app, tenant, corr, "/api/ir/approvals/consume?consumed_by=bob", Some(body)).await;
    assert_eq!(status, 200, "{b}");
    b
}

fn with_corr<'a>(events: &'a [Event], t: &str, corr: &str) -> Vec<&'a Event> {
    of_type(events, t).into_iter().filter(|e| e.correlation_id.as_deref() == Some(corr)).collect()
}

fn hash_a() -> String {
    "a".repeat(64)
}

async fn validation_reaches_all_three_verdicts_and_publishes_each_on(app: &App) {
    // "product", "delivery" and "Oliver" are not production words (IR-T6).
    let mut harmless = step("course.create", "course_factory.v1", "course:product-delivery");
    harmless["params"] = json!({"author": "Oliver", "title": "Produktivität", "note": "batch of 3"});
    let (status, pass) = post_as(app, TENANT, "corr-pass", "/api/ir/validate", Some(ir_of(TENANT, "req-pass", vec![harmless]))).await;
    assert_eq!((status, pass["status"].as_str(), pass["risk_tier"].as_u64()), (200, Some("PASS"), Some(0)), "{pass}");
    assert_eq!((pass["tenant_id"].as_str(), pass["request_id"].as_str()), (Some(TENANT), Some("req-pass")));
    assert_eq!(pass["ir_hash"].as_str().map(str::len), Some(64));

    let esc_steps = vec![step("infra.provision", "infra.terraform", "cluster:eu"), step("course.create", "course_factory.v1", "c:1")];
    let (_, esc) = post_as(app, TENANT, "corr-esc", "/api/ir/validate", Some(ir_of(TENANT, "req-esc", esc_steps))).await;
    assert_eq!(
        (esc["status"].as_str(), esc["risk_tier"].as_u64(), esc["requires_approval"].as_bool()),
        (Some("ESCALATE"), Some(2), Some(true))
    );

    let rej_steps = vec![step("odoo.read", "odoo", "x"), step("dns.update_records", "odoo.v17", "zone")];
    let (_, rej) = post_as(app, TENANT, "corr-rej", "/api/ir/validate", Some(ir_of(TENANT, "req-rej", rej_steps))).await;
    assert_eq!(rej["status"].as_str(), Some("REJECT"), "{rej}");
    let codes: Vec<&str> = rej["violations"].as_array().into_iter().flatten().filter_map(|v| v["code"].as_str()).collect();
    assert_eq!(codes, ["UNKNOWN_ACTION", "UNKNOWN_PROVIDER", "ACTION_PROVIDER_MISMATCH"]);
    assert_eq!((rej["violations"][0]["step_index"].as_u64(), rej["violations"][0]["severity"].as_str()), (Some(0), Some("ERROR")));

    let events = app
        .wait_events("three verdict events", |ev| {
            of_type(ev, IrValidatedPass::TYPE).len() == 1
                && of_type(ev, IrValidatedEscalate::TYPE).len() == 1
                && of_type(ev, IrValidatedReject::TYPE).len() == 1
        })
        .await;
    for (t, corr, result, req) in [
        (IrValidatedPass::TYPE, "corr-pass", &pass, "req-pass"),
        (IrValidatedEscalate::TYPE, "corr-esc", &esc, "req-esc"),
        (IrValidatedReject::TYPE, "corr-rej", &rej, "req-rej"),
    ] {
        let e = of_type(&events, t)[0];
        assert_envelope(e, SOURCE, TENANT, Some(corr));
        assert_eq!(field(e, "request_id"), req);
        assert_eq!(field(e, "ir_hash"), &result["ir_hash"]);
        assert_eq!(field(e, "tenant_id"), TENANT);
        assert_eq!(field(e, "risk_tier"), &result["risk_tier"]);
        assert_eq!(field(e, "violations"), &result["violations"]);
        assert_eq!(field(e, "validated_at"), &result["validated_at"]);
        assert!(field(e, "validated_at").as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let e = of_type(&events, IrValidatedEscalate::TYPE)[0];
    assert_eq!(field(e, "step_count"), 2);
    assert_eq!(
        field(e, "high_risk_steps"),
        &json!([{"step_index": 0, "action": "infra.provision", "provider": "infra.terraform", "risk_tier": 2, "reason": "Risk tier 2 detected"}])
    );
}

#[tokio::test]
async fn validation_reaches_all_three_verdicts_and_publishes_each() {
    let app = App::start(fast_config()).await;
    validation_reaches_all_three_verdicts_and_publishes_each_on(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn validate_hash_equals_the_python_vectors_and_floats_or_control_characters_are_422() {
    let app = App::start(fast_config()).await;
    let vectors: Value = serde_json::from_str(include_str!("../fixtures/ir_vectors.json")).expect("vectors");
    for case in vectors["ir"].as_array().expect("ir vectors") {
        let body: Value = serde_json::from_str(case["input"].as_str().expect("input")).expect("ir");
        let (status, r) = app.post("/api/ir/validate", body).await;
        assert_eq!(status, 200, "{}: {r}", case["name"]);
        assert_eq!(r["ir_hash"], case["ir_hash"], "{}", case["name"]);
    }
    let mut float = step("course.create", "course_factory.v1", "c");
    float["params"] = json!({"price": 19.99});
    let (status, e) = app.post("/api/ir/validate", ir_of(TENANT, "r", vec![float])).await;
    assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (422, Some("float_not_allowed"), Some("steps[0].params.price")), "{e}");
    let mut bell = step("course.create", "course_factory.v1", "c");
    bell["params"] = json!({"note": "ring\u{7}"});
    let (status, e) = app.post("/api/ir/validate", ir_of(TENANT, "r", vec![bell])).await;
    assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (422, Some("control_character"), Some("steps[0].params.note")), "{e}");
    let mut budget = step("course.create", "course_factory.v1", "c");
    budget["budget_cents"] = json!(1.5);
    let (status, e) = app.post("/api/ir/validate", ir_of(TENANT, "r", vec![budget])).await;
    assert_eq!((status, e["code"].as_str()), (422, Some("float_not_allowed")), "{e}");
    let events = app
        .wait_events("vector validations", |ev| {
            of_type(ev, IrValidatedPass::TYPE).len()
                + of_type(ev, IrValidatedEscalate::TYPE).len()
                + of_type(ev, IrValidatedReject::TYPE).len()
                == 3
        })
        .await;
    assert_eq!(events.iter().filter(|e| e.event_type.as_str().starts_with("ir.")).count(), 3, "a 422 publishes nothing");
    app.stop().await;
}

async fn approvals_are_created_consumed_and_expire_with_one_event_each_on(app: &App) {
    let hash = hash_a();
    let (status, created) =
        post_as(app, TENANT, "corr-new", &format!("/api/ir/approvals?tenant_id={TENANT}&ir_hash={hash}&created_by=alice"), None).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    let id = created["approval_id"].as_str().expect("id").to_owned();
    assert_eq!(token.len(), 43, "256-bit URL-safe token");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(created["ir_hash"], format!("{}...", &hash[..16]));
    assert_eq!(created["tenant_id"], TENANT);

    let (_, st) = app.get(&format!("/api/ir/approvals/{id}/status")).await;
    assert_eq!(
        (st["status"].as_str(), st["created_by"].as_str(), st["consumed_at"].is_null()),
        (Some("pending"), Some("alice"), true),
        "{st}"
    );
    let ok = consume(app, TENANT, "corr-use", &hash, &token).await;
    assert_eq!(ok, json!({"success": true, "status": "consumed", "message": "Approval consumed successfully", "approval_id": id}));
    let (_, st) = app.get(&format!("/api/ir/approvals/{id}/status")).await;
    assert_eq!((st["status"].as_str(), st["consumed_by"].as_str()), (Some("consumed"), Some("bob")));
    assert!(st["consumed_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    // A one-second approval, left to expire, then presented: expired, stored, with its event.
    let (short_id, short_token) = issue(app, TENANT, &hash, 1).await;
    // And a consumed one whose time passes: it stays consumed (IR-F5).
    let (used_id, used_token) = issue(app, TENANT, &hash, 1).await;
    assert_eq!(consume(app, TENANT, "corr-used", &hash, &used_token).await["success"], true);
    eventually("the one-second approval expires", Duration::from_secs(10), || async {
        let (_, st) = app.get(&format!("/api/ir/approvals/{short_id}/status")).await;
        (st["status"] == "expired").then_some(())
    })
    .await;
    let expired = consume(app, TENANT, "corr-late", &hash, &short_token).await;
    assert_eq!((expired["success"].as_bool(), expired["status"].as_str()), (Some(false), Some("expired")), "{expired}");
    assert!(expired["message"].as_str().is_some_and(|m| m.starts_with("Approval expired at ")));
    eventually("the consumed approval's time passes", Duration::from_secs(10), || async {
        let (_, a) = app.get(&format!("/api/ir/approvals/{used_id}")).await;
        let at = a["expires_at"].as_str().and_then(|t| eventstream_core::parse_timestamp(t).ok())?;
        (chrono::Utc::now() > at + chrono::Duration::milliseconds(5)).then_some(())
    })
    .await;
    let again = consume(app, TENANT, "corr-again", &hash, &used_token).await;
    assert_eq!(
        (again["status"].as_str(), again["message"].as_str()),
        (Some("consumed"), Some("Approval already consumed (single-use token)"))
    );
    let (_, st) = app.get(&format!("/api/ir/approvals/{used_id}/status")).await;
    assert_eq!(st["status"], "consumed", "a consumed approval is never rewritten to expired");

    let events = app
        .wait_events("approval events", |ev| {
            of_type(ev, IrApprovalExpired::TYPE).len() == 1 && of_type(ev, IrApprovalInvalid::TYPE).len() == 1
        })
        .await;
    let c = with_corr(&events, IrApprovalCreated::TYPE, "corr-new");
    assert_eq!(c.len(), 1);
    assert_envelope(c[0], SOURCE, TENANT, Some("corr-new"));
    assert_eq!((field(c[0], "approval_id"), field(c[0], "ir_hash"), field(c[0], "ttl_seconds")), (&json!(id), &json!(hash), &json!(3600)));
    assert_eq!((field(c[0], "created_by"), field(c[0], "expires_at")), (&json!("alice"), &created["expires_at"]));
    let (_, stored) = app.get(&format!("/api/ir/approvals/{id}")).await;
    assert_eq!(
        (field(c[0], "tenant_id"), field(c[0], "created_at")),
        (&json!(TENANT), &stored["created_at"]),
        "IR-E1: created_at as stored"
    );
    let u = with_corr(&events, IrApprovalConsumed::TYPE, "corr-use");
    assert_eq!(u.len(), 1);
    assert_envelope(u[0], SOURCE, TENANT, Some("corr-use"));
    assert_eq!(
        (field(u[0], "consumed_by"), field(u[0], "was_expired"), field(u[0], "time_to_consume_seconds")),
        (&json!("bob"), &json!(false), &json!(0))
    );
    assert_eq!((field(u[0], "approval_id"), field(u[0], "tenant_id"), field(u[0], "ir_hash")), (&json!(id), &json!(TENANT), &json!(hash)));
    let at = field(u[0], "consumed_at").as_str().and_then(|t| eventstream_core::parse_timestamp(t).ok());
    assert_eq!(at, Some(u[0].timestamp), "the envelope timestamp is consumed_at");
    let x = of_type(&events, IrApprovalExpired::TYPE)[0];
    assert_envelope(x, SOURCE, TENANT, Some("corr-late"));
    assert_eq!((field(x, "approval_id"), field(x, "ttl_seconds"), field(x, "was_consumed")), (&json!(short_id), &json!(1), &json!(false)));
    let (_, short) = app.get(&format!("/api/ir/approvals/{short_id}")).await;
    assert_eq!(
        (field(x, "expired_at"), field(x, "created_at"), field(x, "ir_hash")),
        (&short["expires_at"], &short["created_at"], &json!(hash)),
        "IR-E3: expired_at is the stored expires_at"
    );
    let inv = of_type(&events, IrApprovalInvalid::TYPE)[0];
    assert_eq!((field(inv, "reason"), field(inv, "approval_id")), (&json!("already_consumed"), &json!(used_id)));
    assert_eq!(field(inv, "ir_hash"), &json!(hash));
    assert!(field(inv, "attempted_at").as_str().is_some_and(|t| eventstream_core::parse_timestamp(t).is_ok()), "{inv:?}");
    assert_eq!(events.iter().filter(|e| e.event_type.as_str().starts_with("ir.approval_")).count(), 3 + 2 + 1 + 1, "one event per call");
}

#[tokio::test]
async fn approvals_are_created_consumed_and_expire_with_one_event_each() {
    let app = App::start(fast_config()).await;
    approvals_are_created_consumed_and_expire_with_one_event_each_on(&app).await;
    app.stop().await;
}

async fn the_four_invalid_reasons_are_answered_and_published_on(app: &App) {
    let hash = hash_a();
    let (id, token) = issue(app, TENANT, &hash, 600).await;
    let r1 = consume(app, TENANT, "corr-r1", &hash, "no-such-token").await;
    assert_eq!(r1, json!({"success": false, "status": "invalid", "message": "Invalid approval token", "approval_id": null}));
    let r2 = consume(app, "globex", "corr-r2", &hash, &token).await;
    assert_eq!(r2, json!({"success": false, "status": "invalid", "message": "Tenant ID mismatch", "approval_id": null}));
    let r3 = consume(app, TENANT, "corr-r3", &"b".repeat(64), &token).await;
    assert_eq!((r3["message"].as_str(), r3["approval_id"].as_str()), (Some("IR hash mismatch"), Some(id.as_str())));
    assert_eq!(consume(app, TENANT, "corr-ok", &hash, &token).await["success"], true, "the refusals did not use the token");
    let r5 = consume(app, TENANT, "corr-r5", &hash, &token).await;
    assert_eq!((r5["status"].as_str(), r5["success"].as_bool()), (Some("consumed"), Some(false)));

    let events = app.wait_events("four invalid events", |ev| of_type(ev, IrApprovalInvalid::TYPE).len() == 4).await;
    for (corr, tenant, reason, approval) in [
        ("corr-r1", TENANT, "token_not_found", Value::Null),
        ("corr-r2", "globex", "tenant_mismatch", Value::Null),
        ("corr-r3", TENANT, "ir_hash_mismatch", json!(id)),
        ("corr-r5", TENANT, "already_consumed", json!(id)),
    ] {
        let e = with_corr(&events, IrApprovalInvalid::TYPE, corr);
        assert_eq!(e.len(), 1, "{corr}");
        assert_envelope(e[0], SOURCE, tenant, Some(corr));
        assert_eq!(
            (field(e[0], "reason"), field(e[0], "tenant_id"), field(e[0], "approval_id")),
            (&json!(reason), &json!(tenant), &approval),
            "{corr}"
        );
        assert_eq!(field(e[0], "attempted_by"), "bob");
    }
    assert_eq!(of_type(&events, IrApprovalConsumed::TYPE).len(), 1);
}

#[tokio::test]
async fn the_four_invalid_reasons_are_answered_and_published() {
    let app = App::start(fast_config()).await;
    the_four_invalid_reasons_are_answered_and_published_on(&app).await;
    app.stop().await;
}

async fn pending_stats_health_and_acknowledge_are_served_without_token_hashes_on(app: &App) {
    let hash = hash_a();
    let (a1, t1) = issue(app, TENANT, &hash, 600).await;
    let (a2, _) = issue(app, TENANT, &hash, 600).await;
    issue(app, "globex", &hash, 600).await;
    consume(app, TENANT, "c", &hash, &t1).await;

    let (status, p) = app.get(&format!("/api/ir/approvals/pending?tenant_id={TENANT}&limit=10")).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["total"].as_u64(), p["pending"].as_u64(), p["consumed"].as_u64(), p["expired"].as_u64()),
        (Some(2), Some(1), Some(1), Some(0))
    );
    assert_eq!(p["approvals"].as_array().map(|a| a.iter().map(|x| x["approval_id"].clone()).collect::<Vec<_>>()), Some(vec![json!(a2)]));
    let (status, s) = app.get("/api/ir/approvals/stats").await;
    assert_eq!((status, s["by_status"]["pending"].as_u64(), s["by_status"]["consumed"].as_u64()), (200, Some(1), Some(1)), "{s}");
    assert!(s["cleanup_worker"].is_object());
    let (status, h) = app.get("/api/ir/approvals/health").await;
    assert_eq!((status, h["healthy"].as_bool(), h["redis_available"].as_bool()), (200, Some(true), Some(false)), "{h}");
    let (status, info) = app.get("/api/ir/info").await;
    assert_eq!((status, info["version"].as_str()), (200, Some("1.0.0")));

    let (status, full) = app.get(&format!("/api/ir/approvals/{a1}")).await;
    assert_eq!((status, full["ir_hash"].as_str(), full["status"].as_str()), (200, Some(hash.as_str()), Some("consumed")));
    let (status, ack) = app.post(&format!("/api/ir/approvals/{a2}/acknowledge"), json!({"acknowledged_by": "carol"})).await;
    assert_eq!((status, ack["success"].as_bool(), ack["acknowledged_by"].as_str()), (200, Some(true), Some("carol")), "{ack}");
    let (_, full2) = app.get(&format!("/api/ir/approvals/{a2}")).await;
    assert_eq!(full2["acknowledged_by"], "carol", "acknowledge is persisted");

    // Another tenant sees none of it.
    for path in [format!("/api/ir/approvals/{a1}"), format!("/api/ir/approvals/{a1}/status")] {
        let (status, e) = app.call(Method::GET, &path, "globex", None, None).await;
        assert_eq!((status, e["code"].as_str()), (404, Some("approval_not_found")), "{path}");
    }
    let (status, _) =
        app.call(Method::POST, &format!("/api/ir/approvals/{a1}/acknowledge"), "globex", None, Some(json!({"acknowledged_by": "x"}))).await;
    assert_eq!(status, 404);
    let (_, gp) = app.call(Method::GET, "/api/ir/approvals/pending", "globex", None, None).await;
    assert_eq!(gp["total"], 1);
    let (status, e) = app.call(Method::GET, &format!("/api/ir/approvals/pending?tenant_id={TENANT}"), "globex", None, None).await;
    assert_eq!((status, e["code"].as_str()), (403, Some("tenant_mismatch")));

    for body in [&p, &s, &h, &full, &full2, &ack, &gp] {
        assert!(!body.to_string().contains("token_hash"), "token_hash leaked: {body}");
    }
}

#[tokio::test]
async fn pending_stats_health_and_acknowledge_are_served_without_token_hashes() {
    let app = App::start(fast_config()).await;
    pending_stats_health_and_acknowledge_are_served_without_token_hashes_on(&app).await;
    app.stop().await;
}

async fn dag_diff_publishes_ok_and_failed_and_refuses_malformed_nodes_on(app: &App) {
    let mut s1 = step("course.create", "course_factory.v1", "c:1");
    s1["step_id"] = json!("s1");
    let ir = ir_of(TENANT, "req-dag", vec![s1, step("course.generate_outline", "course_factory.v1", "c:1")]);
    let (_, v) = app.post("/api/ir/validate", ir.clone()).await;
    // Step hashes from the shared library, as a DAG builder would take them.
    let parsed: brain_modules::ir::Ir = serde_json::from_value(ir.clone()).expect("ir");
    let hashes: Vec<String> = parsed.steps.iter().map(|s| s.hash().expect("hash")).collect();
    let nodes = json!([{"ir_step_id": "1", "ir_step_hash": hashes[1], "op": "outline"}, {"ir_step_id": "s1", "ir_step_hash": hashes[0]}]);
    let (status, ok) = post_as(app, TENANT, "corr-dag-ok", "/api/ir/dag-diff", Some(json!({"ir": ir, "dag_nodes": nodes}))).await;
    assert_eq!((status, ok["success"].as_bool()), (200, Some(true)), "{ok}");
    assert_eq!(ok["ir_hash"], v["ir_hash"], "validation does not change the hash");
    let bad_nodes = json!([{"ir_step_id": "s1", "ir_step_hash": "f".repeat(64)}, {"ir_step_id": "999", "ir_step_hash": "x"}]);
    let (_, failed) = post_as(app, TENANT, "corr-dag-bad", "/api/ir/dag-diff", Some(json!({"ir": ir, "dag_nodes": bad_nodes}))).await;
    assert_eq!(
        (failed["success"].as_bool(), &failed["missing_ir_steps"], &failed["extra_dag_nodes"]),
        (Some(false), &json!(["1"]), &json!(["999"]))
    );
    assert_eq!(failed["hash_mismatches"][0]["step_id"], "s1");
    assert_eq!(failed["hash_mismatches"][0]["actual_hash"], format!("{}...", "f".repeat(16)));

    for (nodes, code, f) in [
        (json!([{"ir_step_id": "s1"}]), "invalid_dag_node", "dag_nodes[0].ir_step_hash"),
        (json!([{"ir_step_id": 7, "ir_step_hash": "h"}]), "invalid_dag_node", "dag_nodes[0].ir_step_id"),
        (json!(["node"]), "invalid_dag_node", "dag_nodes[0]"),
        (
            json!([{"ir_step_id": "a", "ir_step_hash": "h"}, {"ir_step_id": "a", "ir_step_hash": "h"}]),
            "duplicate_step_id",
            "dag_nodes[1].ir_step_id",
        ),
    ] {
        let (status, e) = app.post("/api/ir/dag-diff", json!({"ir": ir, "dag_nodes": nodes})).await;
        assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (422, Some(code), Some(f)), "{e}");
    }
    let events = app
        .wait_events("dag events", |ev| of_type(ev, IrDagDiffOk::TYPE).len() == 1 && of_type(ev, IrDagDiffFailed::TYPE).len() == 1)
        .await;
    let e = of_type(&events, IrDagDiffOk::TYPE)[0];
    assert_envelope(e, SOURCE, TENANT, Some("corr-dag-ok"));
    assert_eq!((field(e, "step_count"), field(e, "dag_node_count"), field(e, "all_hashes_match")), (&json!(2), &json!(2), &json!(true)));
    assert_eq!((field(e, "dag_hash"), field(e, "request_id")), (&ok["dag_hash"], &json!("req-dag")));
    let e = of_type(&events, IrDagDiffFailed::TYPE)[0];
    assert_envelope(e, SOURCE, TENANT, Some("corr-dag-bad"));
    assert_eq!(field(e, "all_hashes_match"), false);
    assert_eq!(field(e, "mismatch_details")["extra_dag_nodes"], json!(["999"]));
    assert_eq!(field(e, "mismatch_details")["hash_mismatches"], failed["hash_mismatches"]);
    assert_eq!(of_type(&events, IrDagDiffFailed::TYPE).len() + of_type(&events, IrDagDiffOk::TYPE).len(), 2, "422s publish nothing");
}

#[tokio::test]
async fn dag_diff_publishes_ok_and_failed_and_refuses_malformed_nodes() {
    let app = App::start(fast_config()).await;
    dag_diff_publishes_ok_and_failed_and_refuses_malformed_nodes_on(&app).await;
    app.stop().await;
}

async fn one_hundred_concurrent_consumes(app: App) {
    let hash = hash_a();
    let (id, token) = issue(&app, TENANT, &hash, 600).await;
    let body = json!({"ir_hash": hash, "token": token});
    // Open 100 keep-alive connections first, so the consumes reach the server together instead of
    // trickling in behind 100 TCP handshakes (which would let them run one after another).
    futures::future::join_all((0..100).map(|_| app.get("/api/ir/approvals/health"))).await;
    let calls = (0..100).map(|_| app.call(Method::POST, "/api/ir/approvals/consume", TENANT, Some("corr-race"), Some(body.clone())));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    let wins = results.iter().filter(|(_, b)| b["success"] == true).count();
    let losses =
        results.iter().filter(|(_, b)| b["success"] == false && b["message"] == "Approval already consumed (single-use token)").count();
    assert_eq!((wins, losses), (1, 99));
    let events = app
        .wait_events("100 consume events", |ev| {
            of_type(ev, IrApprovalConsumed::TYPE).len() + of_type(ev, IrApprovalInvalid::TYPE).len() >= 100
        })
        .await;
    let invalid = of_type(&events, IrApprovalInvalid::TYPE);
    assert_eq!((of_type(&events, IrApprovalConsumed::TYPE).len(), invalid.len()), (1, 99));
    assert!(invalid.iter().all(|e| field(e, "reason") == "already_consumed" && field(e, "approval_id") == id.as_str()));
    let (_, st) = app.get(&format!("/api/ir/approvals/{id}/status")).await;
    assert_eq!(st["status"], "consumed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_consumed_by_one_hundred_concurrent_calls_succeeds_once() {
    one_hundred_concurrent_consumes(App::start(fast_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_consumed_by_one_hundred_concurrent_calls_succeeds_once_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    one_hundred_concurrent_consumes(app).await;
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &App, tenant: &str) -> Ws {
    let mut req = format!("{}/api/ir/approvals/ws?tenant_id={tenant}", app.ws_base).into_client_request().expect("request");
    req.headers_mut().insert("x-test-tenant", tenant.parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).expect("json"),
            Some(Ok(Message::Close(_))) | None => return Value::Null,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("websocket error: {e}"),
        }
    }
}

#[tokio::test]
async fn the_tenant_websocket_gets_only_its_own_tenants_notifications() {
    let app = App::start(fast_config()).await;
    let mut a = connect(&app, TENANT).await;
    let mut b = connect(&app, "globex").await;
    a.send(Message::Text("ping".into())).await.expect("send");
    assert_eq!(next_json(&mut a).await, json!({"type": "heartbeat", "message": "pong"}));

    let hash = hash_a();
    let (a_id, a_token) = issue(&app, TENANT, &hash, 600).await;
    let n = next_json(&mut a).await;
    assert_eq!(
        (n["type"].as_str(), n["approval_id"].as_str(), n["tenant_id"].as_str()),
        (Some("approval_created"), Some(a_id.as_str()), Some(TENANT))
    );
    consume(&app, TENANT, "c", &hash, &a_token).await;
    let n = next_json(&mut a).await;
    assert_eq!((n["type"].as_str(), n["approval_id"].as_str()), (Some("approval_consumed"), Some(a_id.as_str())));
    let (short_id, short_token) = issue(&app, TENANT, &hash, 1).await;
    assert_eq!(next_json(&mut a).await["approval_id"], short_id);
    eventually("the short approval expires", Duration::from_secs(10), || async {
        let (_, st) = app.get(&format!("/api/ir/approvals/{short_id}/status")).await;
        (st["status"] == "expired").then_some(())
    })
    .await;
    consume(&app, TENANT, "c2", &hash, &short_token).await;
    assert_eq!(next_json(&mut a).await["type"], "approval_expired");

    // B's first notification is its own: nothing of A's reached it.
    let (b_id, _) = issue(&app, "globex", &hash, 600).await;
    let n = next_json(&mut b).await;
    assert_eq!(
        (n["type"].as_str(), n["approval_id"].as_str(), n["tenant_id"].as_str()),
        (Some("approval_created"), Some(b_id.as_str()), Some("globex"))
    );
    a.send(Message::Text("ping".into())).await.expect("send");
    assert_eq!(next_json(&mut a).await["type"], "heartbeat", "and A got nothing of B's");

    // A socket may not ask for another tenant.
    let mut req = format!("{}/api/ir/approvals/ws?tenant_id=globex", app.ws_base).into_client_request().expect("request");
    req.headers_mut().insert("x-test-tenant", TENANT.parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(req).await.is_err(), "403 tenant_mismatch");
    app.stop().await;
}

#[tokio::test]
async fn reader_keys_may_read_but_not_write() {
    let app = App::start(fast_config()).await;
    let ir = ir_of(TENANT, "r", vec![step("course.create", "course_factory.v1", "c")]);
    for (path, body) in [
        ("/api/ir/validate", Some(ir.clone())),
        ("/api/ir/dag-diff", Some(json!({"ir": ir, "dag_nodes": []}))),
        ("/api/ir/approvals?ir_hash=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None),
        ("/api/ir/approvals/consume", Some(json!({"ir_hash": hash_a(), "token": "t"}))),
        ("/api/ir/approvals/x/acknowledge", Some(json!({"acknowledged_by": "r"}))),
    ] {
        let mut req = app.client.post(format!("{}{path}", app.base)).header("x-test-role", "reader");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 403, "{path}");
    }
    let resp =
        app.client.get(format!("{}/api/ir/approvals/stats", app.base)).header("x-test-role", "reader").send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let anon = app.client.get(format!("{}/api/ir/info", app.base)).header("x-test-anonymous", "1").send().await.expect("request");
    assert_eq!(anon.status().as_u16(), 401);
    assert!(app.all_events().await.iter().all(|e| !e.event_type.as_str().starts_with("ir.")), "refused writes publish nothing");
    app.stop().await;
}

/// The routes beyond the race, on PostgreSQL: its SQL (stats' grouping, conditional consume, expiry,
/// acknowledge) is not SQLite's.
#[tokio::test]
async fn ir_governance_routes_on_postgres() {
    for (name, flow) in [("validation", 0), ("approvals", 1), ("invalid reasons", 2), ("pending, stats, acknowledge", 3), ("dag diff", 4)] {
        let Some(app) = App::start_postgres(fast_config()).await else { return };
        eprintln!("ir_governance on PostgreSQL: {name}");
        match flow {
            0 => validation_reaches_all_three_verdicts_and_publishes_each_on(&app).await,
            1 => approvals_are_created_consumed_and_expire_with_one_event_each_on(&app).await,
            2 => the_four_invalid_reasons_are_answered_and_published_on(&app).await,
            3 => pending_stats_health_and_acknowledge_are_served_without_token_hashes_on(&app).await,
            _ => dag_diff_publishes_ok_and_failed_and_refuses_malformed_nodes_on(&app).await,
        }
        app.stop().await;
    }
}
