//! dna: snapshots, mutations (key overrides) and KARMA updates.

use brain_events::EventPayload;
use brain_events::dna::{DnaKarmaUpdated, DnaMutationApplied, DnaSnapshotCreated};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

#[tokio::test]
async fn dna_snapshots_mutations_and_karma_emit_their_events() {
    let app = App::start(fast_config()).await;
    let corr = Some("corr-dna");
    let (status, s1) = app
        .call(Method::POST, "/api/dna/snapshot", TENANT, corr, Some(json!({"agent_id": "ag-1", "dna": {"model": "x", "temperature": 0.7, "max_tokens": 100, "style": "terse"}, "traits": {"a": 1, "b": 2, "c": 3}, "reason": "initial"})))
        .await;
    assert_eq!((status, s1["version"].as_u64()), (201, Some(1)));
    let (status, r) = app.call(Method::POST, "/api/dna/agents/nobody/mutate", TENANT, corr, Some(json!({"mutation": {"a": 1}}))).await;
    assert_eq!((status, r["code"].as_str()), (404, Some("agent_not_found")));
    let (status, s2) = app
        .call(
            Method::POST,
            "/api/dna/agents/ag-1/mutate",
            TENANT,
            corr,
            Some(json!({"mutation": {"temperature": 0.9, "max_tokens": 200}, "traits_delta": {"a": 5}, "reason": "tune"})),
        )
        .await;
    assert_eq!((status, s2["version"].as_u64()), (200, Some(2)));
    assert_eq!(
        (s2["dna"]["temperature"].as_f64(), s2["dna"]["model"].as_str(), s2["traits"]["a"].as_i64(), s2["traits"]["b"].as_i64()),
        (Some(0.9), Some("x"), Some(5), Some(2))
    );
    let (status, k1) = app.call(Method::POST, "/api/dna/agents/ag-1/karma", TENANT, corr, Some(json!({"score": 0.85}))).await;
    assert_eq!((status, k1["karma_score"].as_f64(), k1["version"].as_u64()), (200, Some(0.85), Some(2)));
    app.call(Method::POST, "/api/dna/agents/ag-1/karma", TENANT, corr, Some(json!({"score": 0.92}))).await;
    let (status, hist) = app.get("/api/dna/agents/ag-1/history").await;
    assert_eq!(status, 200);
    let versions: Vec<u64> =
        hist["snapshots"].as_array().map(|a| a.iter().filter_map(|s| s["version"].as_u64()).collect()).unwrap_or_default();
    assert_eq!(versions, [1, 2]);
    assert_eq!(hist["snapshots"][1]["karma_score"].as_f64(), Some(0.92));
    let (status, _) = app.get("/api/dna/agents/nobody/history").await;
    assert_eq!(status, 404);

    let events = app.wait_events("dna events", |ev| of_type(ev, DnaKarmaUpdated::TYPE).len() == 2).await;
    let created = of_type(&events, DnaSnapshotCreated::TYPE)[0];
    assert_envelope(created, DnaSnapshotCreated::SOURCE, TENANT, corr);
    let id1 = s1["id"].clone();
    assert_eq!(
        (
            field(created, "snapshot_id"),
            field(created, "version"),
            field(created, "source"),
            field(created, "parent_snapshot_id"),
            field(created, "dna_size"),
            field(created, "traits_count"),
            field(created, "reason")
        ),
        (&id1, &json!(1), &json!("manual"), &json!(null), &json!(4), &json!(3), &json!("initial"))
    );
    let mutated = of_type(&events, DnaMutationApplied::TYPE)[0];
    assert_envelope(mutated, DnaMutationApplied::SOURCE, TENANT, corr);
    assert_eq!((field(mutated, "version"), field(mutated, "parent_snapshot_id")), (&json!(2), &id1));
    assert_eq!(field(mutated, "mutation_keys"), &json!(["temperature", "max_tokens"]));
    assert_eq!(field(mutated, "traits_delta"), &json!({"a": 5}));
    let karma = of_type(&events, DnaKarmaUpdated::TYPE);
    assert_envelope(karma[0], DnaKarmaUpdated::SOURCE, TENANT, corr);
    assert!(karma[0].payload.get("previous_score").is_none() && karma[0].payload.get("score_delta").is_none());
    assert_eq!(field(karma[1], "previous_score"), &json!(0.85));
    let delta = field(karma[1], "score_delta").as_f64().unwrap_or_default();
    assert!((delta - 0.07).abs() < 1e-9, "{delta}");
    app.stop().await;
}
