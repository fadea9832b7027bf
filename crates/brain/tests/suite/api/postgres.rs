//! Replicas sharing one PostgreSQL state store share API keys and the event index: the first start
//! creates the admin key, the second does not, and each answers with the other's keys and events.

use serde_json::json;

use super::helpers::{ids, send};
use crate::suite::support::{PgSchema, Server, pg_url};

#[tokio::test]
async fn replicas_on_one_postgres_share_keys_and_the_event_index() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    // A private schema: the state store's migrations plus our tables live there.
    let pg = PgSchema::create(&url, "brain_api").await;
    let db = pg.url.clone();

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
    pg.drop_schema().await;
}

#[tokio::test]
async fn replicas_starting_at_once_on_a_fresh_postgres_schema_all_start() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    // The schema exists (with the state store's own migrations), every other table is created by the
    // replicas themselves, all at the same moment.
    let pg = PgSchema::create(&url, "brain_ddl").await;
    let db = pg.url.clone();
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
    pg.drop_schema().await;
}

#[tokio::test]
async fn postgres_with_sslmode_require_connects_over_tls() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    let pg = PgSchema::create(&url, "brain_tls").await;
    let tls_url = format!("{}&sslmode=require", pg.url);
    let store = eventstream_sql::StateStore::connect(&tls_url).await.expect("sslmode=require connects (the test server has ssl=on)");
    let row =
        eventstream_sql::sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_one(store.pool()).await.unwrap();
    assert!(eventstream_sql::sqlx::Row::get::<bool, _>(&row, "ssl"), "the connection is encrypted");
    // The CLI too; and a `metrics` key can be created for Prometheus.
    let dir = tempfile::tempdir().unwrap();
    let key = crate::suite::support::ok_stdout(crate::suite::support::brain(dir.path()).args([
        "keys",
        "create",
        "--database",
        &tls_url,
        "--tenant",
        "ops",
        "--role",
        "metrics",
    ]));
    assert!(key.trim().starts_with("brk_"), "{key}");
    store.close().await;
    pg.drop_schema().await;
}
