//! Replicas sharing one PostgreSQL state store share API keys and the event index: the first start
//! creates the admin key, the second does not, and each answers with the other's keys and events.

use eventstream_sql::{StateStore, StoreOptions, sqlx};
use serde_json::json;

use super::helpers::{ids, send};
use crate::suite::support::Server;

fn pg_url() -> String {
    std::env::var("BRAIN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[tokio::test]
async fn replicas_on_one_postgres_share_keys_and_the_event_index() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    // A private schema: the state store's migrations plus our tables live there.
    let schema = format!("brain_api_{}", uuid::Uuid::new_v4().simple());
    let store = StateStore::connect_with(&url, StoreOptions::default().schema(&schema)).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-csearch_path%3D{schema}");

    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = Server::start(d1.path(), &["--database", &db]);
    let admin = one.admin_key().expect("the first start on a fresh store prints the admin key");
    let two = Server::start(d2.path(), &["--database", &db]);
    assert_eq!(two.admin_key(), None, "the store already has a key: {:?}", two.startup);
    assert!(!d2.path().join("brain-data/admin.key").exists());

    let client = reqwest::Client::new();
    let (status, v) = send(client.post(one.url("/api/events")).bearer_auth(&admin).json(&json!({
        "type": "task.created", "payload": {"task_id": "pg1", "mission_type": "m", "priority": "LOW"}, "correlation_id": "pg-flow"})))
    .await;
    assert_eq!(status, 201, "{v}");
    let (status, page) = send(client.get(two.url("/api/events?correlation_id=pg-flow&type=task.*")).bearer_auth(&admin)).await;
    assert_eq!(status, 200, "the other replica accepts the key: {page}");
    assert_eq!(ids(&page), vec![v["id"].as_str().unwrap().to_owned()]);
    drop((one, two));
    // Best effort: the killed servers' sessions may still hold locks for a moment.
    for attempt in 1..=20u64 {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))).execute(store.pool()).await {
            Ok(_) => break,
            Err(e) if attempt == 20 => eprintln!("could not drop test schema {schema}: {e}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await,
        }
    }
}

#[tokio::test]
async fn replicas_starting_at_once_on_a_fresh_postgres_schema_all_start() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    // The schema exists (with the state store's own migrations), every other table is created by the
    // replicas themselves, all at the same moment.
    let schema = format!("brain_ddl_{}", uuid::Uuid::new_v4().simple());
    let store = StateStore::connect_with(&url, StoreOptions::default().schema(&schema)).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(dirs.len()));
    let servers: Vec<Server> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| {
                let (barrier, db) = (barrier.clone(), db.clone());
                s.spawn(move || {
                    barrier.wait();
                    Server::start(d.path(), &["--database", &db])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("every replica starts")).collect()
    });
    let client = reqwest::Client::new();
    for s in &servers {
        let (status, body) = send(client.get(s.url("/ready"))).await;
        assert_eq!(status, 200, "{body}");
    }
    drop(servers);
    for attempt in 1..=20u64 {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))).execute(store.pool()).await {
            Ok(_) => break,
            Err(e) if attempt == 20 => eprintln!("could not drop test schema {schema}: {e}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await,
        }
    }
}
