//! dna storage and history: versions are stored as changes (periodic full versions), read back whole,
//! in pages; rows written before the change still read; a DNA cannot outgrow the cap.

use eventstream::store::sqlx::{self, Row};
use serde_json::{Map, Value, json};

use crate::helpers::{App, fast_config};

/// Every page of `agent`'s history with `limit` per page: (versions in order, each version's DNA).
async fn all_pages(app: &App, agent: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/api/dna/agents/{agent}/history?limit={limit}&cursor={c}"),
            None => format!("/api/dna/agents/{agent}/history?limit={limit}"),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let snaps = page["snapshots"].as_array().expect("snapshots").clone();
        assert!(snaps.len() <= limit as usize, "a page holds at most `limit` versions");
        out.extend(snaps);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(page["next_cursor"].is_null(), "the last page says so: {page}");
                return out;
            }
        }
    }
    panic!("more than 100 pages");
}

#[tokio::test]
async fn dna_versions_store_their_changes_and_history_comes_in_pages() {
    let app = App::start(fast_config()).await;
    let filler = "x".repeat(100);
    let mut dna: Map<String, Value> = (0..200).map(|i| (format!("k{i:03}"), json!(filler))).collect();
    let (status, s) = app.post("/api/dna/snapshot", json!({"agent_id": "big", "dna": dna, "traits": {"t": 0}})).await;
    assert_eq!(status, 201, "{s}");
    let whole_size = Value::Object(dna.clone()).to_string().len();

    // 40 mutations of one key each: versions 2..=41, version 32 stored whole.
    let mut expected = vec![(dna.clone(), json!({"t": 0}))];
    for v in 2..=41 {
        let (status, m) = app.post("/api/dna/agents/big/mutate", json!({"mutation": {format!("m{v}"): v}, "traits_delta": {"t": v}})).await;
        assert_eq!((status, m["version"].as_u64()), (200, Some(v)), "{m}");
        dna.insert(format!("m{v}"), json!(v));
        assert_eq!(m["dna"], Value::Object(dna.clone()), "the answer holds the whole DNA of version {v}");
        expected.push((dna.clone(), json!({"t": v})));
    }

    // Storage grows with the changes: two whole versions (1 and 32) plus 39 small changes, where copying
    // the whole DNA into every version would store 41 of them.
    let stored: i64 = sqlx::query("SELECT SUM(LENGTH(dna)) FROM dna_snapshots WHERE agent_id = 'big'")
        .fetch_one(app.events.store().pool())
        .await
        .expect("sum")
        .get(0);
    let stored = usize::try_from(stored).expect("size");
    assert!(stored < 3 * whole_size, "41 versions store {stored} bytes of DNA; one whole DNA is {whole_size}");

    // Every version reads back whole, in pages of 7, across the full version at 32.
    let versions = all_pages(&app, "big", 7).await;
    let numbers: Vec<u64> = versions.iter().filter_map(|s| s["version"].as_u64()).collect();
    assert_eq!(numbers, (1..=41).collect::<Vec<u64>>());
    for (s, (dna, traits)) in versions.iter().zip(&expected) {
        assert_eq!(&s["dna"], &Value::Object(dna.clone()), "version {}", s["version"]);
        assert_eq!(&s["traits"], traits, "version {}", s["version"]);
    }
    // The default page is the first 100 versions: all 41 here, no next page.
    let (status, page) = app.get("/api/dna/agents/big/history").await;
    assert_eq!((status, page["snapshots"].as_array().map(Vec::len), page["next_cursor"].is_null()), (200, Some(41), true));
    // A cursor past the end is an empty last page.
    let (status, page) = app.get("/api/dna/agents/big/history?cursor=41").await;
    assert_eq!((status, page["snapshots"].as_array().map(Vec::len), page["next_cursor"].is_null()), (200, Some(0), true));

    for (query, field) in
        [("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"), ("cursor=abc", "cursor"), ("cursor=-3", "cursor")]
    {
        let (status, e) = app.get(&format!("/api/dna/agents/big/history?{query}")).await;
        assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (400, Some("invalid_query"), Some(field)), "{query}: {e}");
    }
    app.stop().await;
}

#[tokio::test]
async fn dna_rows_stored_whole_before_the_change_still_read_and_mutate() {
    let app = App::start(fast_config()).await;
    // A version as the crate stored it before version 3 of its migrations: whole, `delta` NULL.
    sqlx::query(
        "INSERT INTO dna_snapshots (id, tenant, agent_id, version, dna, traits, karma_score, source, parent_snapshot_id, reason, created_at) \
         VALUES (900001, 'acme', 'old', 1, '{\"a\":1,\"b\":2}', '{\"t\":1}', 0.5, 'manual', NULL, 'legacy', 1700000000000)",
    )
    .execute(app.events.store().pool())
    .await
    .expect("legacy row");
    let (status, m) = app.post("/api/dna/agents/old/mutate", json!({"mutation": {"b": 3, "c": 4}})).await;
    assert_eq!((status, m["version"].as_u64(), m["karma_score"].as_f64()), (200, Some(2), Some(0.5)), "{m}");
    assert_eq!(m["dna"], json!({"a": 1, "b": 3, "c": 4}));
    let versions = all_pages(&app, "old", 1).await;
    assert_eq!(versions.iter().map(|s| s["dna"].clone()).collect::<Vec<_>>(), [json!({"a": 1, "b": 2}), json!({"a": 1, "b": 3, "c": 4})]);
    assert_eq!(versions[1]["traits"], json!({"t": 1}));
    app.stop().await;
}

#[tokio::test]
async fn a_mutation_that_would_grow_the_dna_past_the_cap_is_refused() {
    let app = App::start(fast_config()).await;
    let half: Map<String, Value> = (0..6).map(|i| (format!("a{i}"), json!("y".repeat(100_000)))).collect();
    let (status, s) = app.post("/api/dna/snapshot", json!({"agent_id": "fat", "dna": half})).await;
    assert_eq!(status, 201, "{s}");
    let more: Map<String, Value> = (0..5).map(|i| (format!("b{i}"), json!("z".repeat(100_000)))).collect();
    let (status, e) = app.post("/api/dna/agents/fat/mutate", json!({"mutation": more})).await;
    assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (422, Some("dna_too_large"), Some("mutation")), "{e}");
    let (_, page) = app.get("/api/dna/agents/fat/history").await;
    assert_eq!(page["snapshots"].as_array().map(Vec::len), Some(1), "nothing was stored");
    app.stop().await;
}
