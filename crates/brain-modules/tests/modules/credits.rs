//! credits: the ledger routes, concurrency safety, and missions paying through events.

use brain_events::EventPayload;
use brain_events::credits::{CreditsAllocated, CreditsConsumed, CreditsDepleted, CreditsHealthChecked, CreditsRefunded};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

#[tokio::test]
async fn ledger_routes_change_balances_and_emit_events() {
    let app = App::start(fast_config()).await;
    let corr = Some("corr-credits");
    let (status, h) = app.call(Method::GET, "/api/credits/health", TENANT, corr, None).await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    let (status, a) = app
        .call(Method::POST, "/api/credits/agents/agent-1/allocate", TENANT, corr, Some(json!({"amount": 10.5, "reason": "initial_grant"})))
        .await;
    assert_eq!((status, a["balance"].as_f64()), (200, Some(10.5)));
    let (status, c) =
        app.call(Method::POST, "/api/credits/agents/agent-1/consume", TENANT, corr, Some(json!({"amount": 4, "mission_id": "m-9"}))).await;
    assert_eq!((status, c["balance"].as_f64()), (200, Some(6.5)));
    let (status, r) = app.call(Method::POST, "/api/credits/agents/agent-1/refund", TENANT, corr, Some(json!({"amount": 1.25}))).await;
    assert_eq!((status, r["balance"].as_f64()), (200, Some(7.75)));
    let (status, r) = app.call(Method::POST, "/api/credits/agents/agent-1/refund", TENANT, corr, Some(json!({"amount": 3}))).await;
    assert_eq!((status, r["code"].as_str()), (409, Some("refund_exceeds_consumed")));
    let (status, r) = app.call(Method::POST, "/api/credits/agents/agent-1/consume", TENANT, corr, Some(json!({"amount": 100}))).await;
    assert_eq!((status, r["code"].as_str()), (409, Some("insufficient_credits")));
    let (status, r) = app.call(Method::POST, "/api/credits/agents/agent-1/consume", TENANT, corr, Some(json!({"amount": 7.75}))).await;
    assert_eq!((status, r["balance"].as_f64()), (200, Some(0.0)));
    let (status, b) = app.get("/api/credits/agents/agent-1/balance").await;
    assert_eq!(status, 200);
    assert_eq!((b["allocated"].as_f64(), b["consumed"].as_f64(), b["refunded"].as_f64()), (Some(10.5), Some(11.75), Some(1.25)));
    let (status, hist) = app.get("/api/credits/agents/agent-1/history").await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = hist["entries"].as_array().map(|a| a.iter().filter_map(|e| e["kind"].as_str()).collect()).unwrap_or_default();
    assert_eq!(kinds, ["consumed", "refunded", "consumed", "allocated"]);
    // Accounts are per tenant.
    let (status, r) = app.call(Method::GET, "/api/credits/agents/agent-1/balance", "other", None, None).await;
    assert_eq!((status, r["code"].as_str()), (404, Some("account_not_found")));

    // The health check goes through `emit` and the ledger events through the transactional outbox: two
    // relays, so wait for both.
    let events = app
        .wait_events("the ledger events", |ev| {
            of_type(ev, CreditsDepleted::TYPE).len() == 1 && of_type(ev, CreditsHealthChecked::TYPE).len() == 1
        })
        .await;
    let health = of_type(&events, CreditsHealthChecked::TYPE);
    assert_eq!(health.len(), 1);
    assert_envelope(health[0], CreditsHealthChecked::SOURCE, TENANT, corr);
    assert_eq!(field(health[0], "status"), "ok");
    assert!(field(health[0], "checked_at").is_f64());
    let alloc = of_type(&events, CreditsAllocated::TYPE);
    assert_eq!(alloc.len(), 1);
    assert_envelope(alloc[0], CreditsAllocated::SOURCE, TENANT, corr);
    assert_eq!(
        (field(alloc[0], "amount"), field(alloc[0], "balance_after"), field(alloc[0], "reason")),
        (&json!(10.5), &json!(10.5), &json!("initial_grant"))
    );
    let consumed = of_type(&events, CreditsConsumed::TYPE);
    assert_eq!(consumed.len(), 2);
    assert_eq!(
        (field(consumed[0], "amount"), field(consumed[0], "balance_after"), field(consumed[0], "mission_id")),
        (&json!(4.0), &json!(6.5), &json!("m-9"))
    );
    assert_eq!(consumed[0].mission_id.as_deref(), Some("m-9"));
    let refunded = of_type(&events, CreditsRefunded::TYPE);
    assert_eq!(refunded.len(), 1);
    assert_eq!(field(refunded[0], "balance_after"), &json!(7.75));
    let depleted = of_type(&events, CreditsDepleted::TYPE);
    assert_envelope(depleted[0], CreditsDepleted::SOURCE, TENANT, corr);
    assert_eq!((field(depleted[0], "amount"), field(depleted[0], "balance_after")), (&json!(7.75), &json!(0.0)));
    app.stop().await;
}

#[tokio::test]
async fn credits_cannot_go_negative_under_one_hundred_concurrent_consumes() {
    one_hundred_concurrent_consumes(App::start(fast_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_cannot_go_negative_under_one_hundred_concurrent_consumes_on_postgres() {
    // PostgreSQL runs the consumes truly in parallel (SQLite serialises writers).
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    one_hundred_concurrent_consumes(app).await;
}

async fn one_hundred_concurrent_consumes(app: App) {
    let (status, _) = app.post("/api/credits/agents/hot/allocate", json!({"amount": 37})).await;
    assert_eq!(status, 200);
    let calls = (0..100).map(|_| app.post("/api/credits/agents/hot/consume", json!({"amount": 1})));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused = results.iter().filter(|(s, b)| *s == 409 && b["code"] == "insufficient_credits").count();
    assert_eq!((ok, refused), (37, 63), "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    let (_, b) = app.get("/api/credits/agents/hot/balance").await;
    assert_eq!((b["balance"].as_f64(), b["consumed"].as_f64()), (Some(0.0), Some(37.0)));
    let events = app
        .wait_events("37 consumes", |ev| of_type(ev, CreditsConsumed::TYPE).len() == 37 && of_type(ev, CreditsDepleted::TYPE).len() == 1)
        .await;
    let mut after: Vec<f64> = of_type(&events, CreditsConsumed::TYPE).iter().filter_map(|e| field(e, "balance_after").as_f64()).collect();
    after.sort_by(f64::total_cmp);
    assert_eq!(after, (0..37).map(f64::from).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test]
async fn a_completed_mission_pays_its_declared_cost_through_events() {
    let mut app = App::start(fast_config()).await;
    app.post("/api/credits/agents/payer/allocate", json!({"amount": 5})).await;
    let (status, m) = app
        .call(
            Method::POST,
            "/api/missions",
            TENANT,
            Some("corr-pay"),
            Some(json!({"name": "paid", "agent_id": "payer", "credit_cost": 2.5})),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    let id = m["id"].as_str().unwrap_or_default().to_owned();
    let (status, m2) = app
        .call(
            Method::POST,
            "/api/missions",
            TENANT,
            Some("corr-pay"),
            Some(json!({"name": "too dear", "agent_id": "payer", "credit_cost": 50})),
        )
        .await;
    assert_eq!(status, 201);
    let id2 = m2["id"].as_str().unwrap_or_default().to_owned();
    app.start_background();
    let events = app
        .wait_events("the mission charge", |ev| {
            of_type(ev, CreditsConsumed::TYPE).iter().any(|e| e.mission_id.as_deref() == Some(id.as_str()))
                && of_type(ev, CreditsDepleted::TYPE).iter().any(|e| e.mission_id.as_deref() == Some(id2.as_str()))
        })
        .await;
    let charge =
        of_type(&events, CreditsConsumed::TYPE).into_iter().find(|e| e.mission_id.as_deref() == Some(id.as_str())).expect("charge");
    assert_envelope(charge, CreditsConsumed::SOURCE, TENANT, Some("corr-pay"));
    assert_eq!(
        (field(charge, "amount"), field(charge, "balance_after"), field(charge, "reason")),
        (&json!(2.5), &json!(2.5), &json!("mission_execution"))
    );
    assert!(charge.causation_id.is_some());
    let unpaid =
        of_type(&events, CreditsDepleted::TYPE).into_iter().find(|e| e.mission_id.as_deref() == Some(id2.as_str())).expect("depleted");
    assert_eq!((field(unpaid, "amount"), field(unpaid, "reason")), (&json!(50.0), &json!("insufficient_credits")));
    let (_, b) = app.get("/api/credits/agents/payer/balance").await;
    assert_eq!(b["balance"].as_f64(), Some(2.5));
    app.stop().await;
}
