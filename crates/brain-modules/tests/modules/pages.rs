//! Every list and history route of the modules comes in pages: `limit` (bounded) and `cursor`, with the
//! next page's cursor in `next_cursor` (`null` on the last page); bad values are 400 `invalid_query`
//! naming the parameter.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, fast_config};

/// Walks `path` (with a query string already, or none) in pages of `limit`, reading the items from
/// `key`; returns them in order.
async fn walk(app: &App, path: &str, key: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (status, page) = app.get(&url).await;
        assert_eq!(status, 200, "{url}: {page}");
        let items = page[key].as_array().unwrap_or_else(|| panic!("{url}: no `{key}` in {page}"));
        assert!(items.len() <= limit as usize, "{url}: {} items", items.len());
        out.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(page.get("next_cursor").is_some_and(Value::is_null), "{url}: the last page has next_cursor null: {page}");
                return out;
            }
        }
    }
    panic!("{path}: more than 200 pages");
}

/// The pages of `path` hold what one big page holds, in the same order; bad limits and cursors are
/// refused naming the parameter.
async fn pages_agree(app: &App, path: &str, key: &str, want: usize, max: u32) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, whole) = app.get(&format!("{path}{sep}limit={max}")).await;
    assert_eq!(status, 200, "{whole}");
    let whole = whole[key].as_array().cloned().unwrap_or_default();
    assert_eq!(whole.len(), want, "{path}: {whole:?}");
    assert_eq!(walk(app, path, key, 2).await, whole, "{path}: pages of 2");
    assert_eq!(walk(app, path, key, 3).await, whole, "{path}: pages of 3");
    for (query, field) in [("limit=0", "limit"), (&*format!("limit={}", max + 1), "limit"), ("limit=ten", "limit"), ("cursor=zz", "cursor")]
    {
        let (status, e) = app.get(&format!("{path}{sep}{query}")).await;
        assert_eq!((status, e["code"].as_str(), e["field"].as_str()), (400, Some("invalid_query"), Some(field)), "{path} {query}: {e}");
    }
}

#[tokio::test]
async fn missions_and_mission_logs_come_in_pages() {
    let app = App::start(fast_config()).await;
    for i in 0..7 {
        let (status, m) = app.post("/api/missions", json!({"id": format!("pm-{i}"), "name": format!("m{i}")})).await;
        assert_eq!(status, 201, "{m}");
    }
    for i in 0..9 {
        let (status, r) = app.post("/api/missions/pm-0/log", json!({"message": format!("line {i}"), "level": "info"})).await;
        assert_eq!(status, 202, "{r}");
    }
    pages_agree(&app, "/api/missions", "missions", 7, 1000).await;
    pages_agree(&app, "/api/missions?priority=20", "missions", 7, 1000).await;
    // The log keeps its order, oldest first, across pages (the creation adds its own first line).
    let log = walk(&app, "/api/missions/pm-0/log", "log", 4).await;
    let lines: Vec<&str> = log.iter().filter_map(|e| e["message"].as_str()).filter(|m| m.starts_with("line ")).collect();
    assert_eq!(lines, (0..9).map(|i| format!("line {i}")).collect::<Vec<_>>());
    let n = log.len();
    pages_agree(&app, "/api/missions/pm-0/log", "log", n, 1000).await;
    app.stop().await;
}

#[tokio::test]
async fn credit_history_threats_and_policies_come_in_pages() {
    let app = App::start(fast_config()).await;
    for i in 1..=6 {
        let (status, r) = app.post("/api/credits/agents/pa/allocate", json!({"amount": i, "reason": format!("grant {i}")})).await;
        assert_eq!(status, 200, "{r}");
    }
    pages_agree(&app, "/api/credits/agents/pa/history", "entries", 6, 1000).await;
    let newest_first: Vec<i64> =
        walk(&app, "/api/credits/agents/pa/history", "entries", 4).await.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(newest_first.windows(2).all(|w| w[0] > w[1]), "newest first: {newest_first:?}");

    for i in 0..5 {
        let body = json!({"type": format!("t{i}"), "source": "s", "severity": "LOW"});
        let (status, t) = app.post("/api/threats", body).await;
        assert_eq!(status, 201, "{t}");
    }
    pages_agree(&app, "/api/threats", "threats", 5, 1000).await;
    pages_agree(&app, "/api/threats?severity=LOW", "threats", 5, 1000).await;

    for i in 0..4 {
        let (status, p) = app.post("/api/policy/policies", json!({"name": format!("P{i}"), "description": "d"})).await;
        assert_eq!(status, 201, "{p}");
    }
    let (_, first) = app.get("/api/policy/policies?limit=1").await;
    let total = usize::try_from(first["total"].as_u64().expect("total")).expect("total");
    assert!(total >= 4, "the total counts every policy, not the page: {first}");
    pages_agree(&app, "/api/policy/policies", "policies", total, 1000).await;

    for i in 2..=5 {
        let (status, r) = app.post(&format!("/api/credits/agents/pa-{i}/allocate"), json!({"amount": 1})).await;
        assert_eq!(status, 200, "{r}");
    }
    pages_agree(&app, "/api/credits/accounts", "accounts", 5, 1000).await;
    app.stop().await;
}

#[tokio::test]
async fn pending_approvals_come_in_pages() {
    let app = App::start(fast_config()).await;
    for i in 0..5 {
        let hash = format!("{i:064x}");
        let path = format!("/api/ir/approvals?ir_hash={hash}&ttl_seconds=600&created_by=alice");
        let (status, b) = app.call(Method::POST, &path, TENANT, None, None).await;
        assert_eq!(status, 201, "{b}");
    }
    pages_agree(&app, "/api/ir/approvals/pending", "approvals", 5, 1000).await;
    app.stop().await;
}

#[tokio::test]
async fn a_mission_log_stops_at_1000_entries() {
    let app = App::start(fast_config()).await;
    let (status, m) = app.post("/api/missions", json!({"id": "full-log", "name": "chatty"})).await;
    assert_eq!(status, 201, "{m}");
    let (_, log) = app.get("/api/missions/full-log/log").await;
    let have = log["log"].as_array().map_or(0, Vec::len);
    // Fill the log to 999 entries directly, then the API adds the 1000th and refuses the 1001st.
    let mut tx = app.events.store().begin().await.expect("tx");
    for seq in 0..(999 - have) {
        eventstream::store::sqlx::query(
            "INSERT INTO mission_logs (tenant, mission_id, seq, level, message, data, logged_at) VALUES ('acme', 'full-log', $1, 'info', 'x', '{}', 0)",
        )
        .bind(i64::try_from(seq).expect("seq") + 1_000_000)
        .execute(tx.conn())
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let (status, r) = app.post("/api/missions/full-log/log", json!({"message": "the 1000th", "level": "info"})).await;
    assert_eq!(status, 202, "{r}");
    let (status, e) = app.post("/api/missions/full-log/log", json!({"message": "one too many", "level": "info"})).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("log_full")), "{e}");
    let all = walk(&app, "/api/missions/full-log/log", "log", 1000).await;
    assert_eq!(all.len(), 1000);
    app.stop().await;
}
