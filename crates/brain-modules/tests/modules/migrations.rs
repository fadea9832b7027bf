//! The modules' migrations: a database whose tables an earlier version created ad hoc (before the crate
//! had migrations; with or without the mission lease columns) upgrades and keeps working, on SQLite and
//! PostgreSQL; applying the migrations again changes nothing.

use brain_modules::MIGRATIONS_TABLE;
use eventstream::store::sqlx::{self, AssertSqlSafe, Row};
use eventstream::store::{StateStore, StoreKind};
use serde_json::json;

use crate::helpers::{BareStore, fast_config};

/// The tables as the crate created them before leases existed (its DDL list of that time, verbatim):
/// `missions` has no lease columns.
const OLD_DDL_BEFORE_LEASES: &str = "
    CREATE TABLE IF NOT EXISTS module_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS missions (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        mission_type TEXT NOT NULL,
        description TEXT,
        data TEXT NOT NULL,
        priority BIGINT NOT NULL,
        status TEXT NOT NULL,
        queued BIGINT NOT NULL,
        queue_seq BIGINT NOT NULL,
        retry_count BIGINT NOT NULL,
        max_retries BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        agent_id TEXT,
        credit_cost DOUBLE PRECISION,
        correlation_id TEXT,
        last_error TEXT,
        result TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX IF NOT EXISTS missions_queue ON missions (queued, priority, queue_seq);
    CREATE TABLE IF NOT EXISTS mission_logs (
        tenant TEXT NOT NULL,
        mission_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL,
        logged_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tenant, mission_id, seq)
    );
    CREATE TABLE IF NOT EXISTS credit_accounts (tenant TEXT NOT NULL, agent_id TEXT NOT NULL, balance BIGINT NOT NULL,
        allocated BIGINT NOT NULL, consumed BIGINT NOT NULL, refunded BIGINT NOT NULL, created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL, PRIMARY KEY (tenant, agent_id))";

/// What the last version without migrations did after its DDL list: the lease columns and their index,
/// added by its own `ALTER TABLE` runner.
const OLD_LEASE_ALTERS: &str = "
    ALTER TABLE missions ADD COLUMN lease_owner TEXT;
    ALTER TABLE missions ADD COLUMN lease_until BIGINT;
    ALTER TABLE missions ADD COLUMN claim_id TEXT;
    CREATE INDEX IF NOT EXISTS missions_leases ON missions (status, lease_until)";

/// A queued mission and an account written by the old version.
const OLD_ROWS: &str = "
    INSERT INTO module_counters (name, value) VALUES ('mission_queue_seq', 1);
    INSERT INTO missions (tenant, id, name, mission_type, description, data, priority, status, queued, queue_seq,
        retry_count, max_retries, created_by, created_at, updated_at)
        VALUES ('acme', 'old-1', 'Legacy survey', 'survey', NULL, '{\"k\": 1}', 20, 'PENDING', 1, 1, 0, 3, 'tester',
        1700000000000, 1700000000000);
    INSERT INTO credit_accounts (tenant, agent_id, balance, allocated, consumed, refunded, created_at, updated_at)
        VALUES ('acme', 'agent-old', 7000, 10000, 3000, 0, 1700000000000, 1700000000000)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tables_created_before_leases_upgrade_and_work() {
    upgrades_and_works(BareStore::sqlite().await, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tables_created_with_ad_hoc_lease_columns_upgrade_and_work() {
    upgrades_and_works(BareStore::sqlite().await, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_created_before_leases_upgrade_and_work() {
    if let Some(bare) = BareStore::postgres().await {
        upgrades_and_works(bare, false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_created_with_ad_hoc_lease_columns_upgrade_and_work() {
    if let Some(bare) = BareStore::postgres().await {
        upgrades_and_works(bare, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_applying_the_migrations_twice_is_a_no_op() {
    applying_twice_is_a_no_op(BareStore::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_applying_the_migrations_twice_is_a_no_op() {
    if let Some(bare) = BareStore::postgres().await {
        applying_twice_is_a_no_op(bare).await;
    }
}

async fn upgrades_and_works(bare: BareStore, with_leases: bool) {
    let store = bare.store.clone();
    let old = if with_leases {
        format!("{OLD_DDL_BEFORE_LEASES}; {OLD_LEASE_ALTERS}; {OLD_ROWS}")
    } else {
        format!("{OLD_DDL_BEFORE_LEASES}; {OLD_ROWS}")
    };
    sqlx::raw_sql(AssertSqlSafe(old)).execute(store.pool()).await.expect("the old version's tables");

    let mut app = bare.start(fast_config()).await;
    assert_eq!(applied_versions(&store).await, [1, 2, 3, 4, 5]);
    let columns = columns(&store, "missions").await;
    for lease in ["lease_owner", "lease_until", "claim_id"] {
        assert!(columns.iter().any(|c| c == lease), "missions lacks {lease}: {columns:?}");
    }

    // The old rows are read as before.
    let (status, m) = app.get("/api/missions/old-1").await;
    assert_eq!((status, m["name"].as_str(), m["status"].as_str()), (200, Some("Legacy survey"), Some("PENDING")), "{m}");
    let (status, account) = app.get("/api/credits/agents/agent-old/balance").await;
    assert_eq!((status, account["balance"].as_f64(), account["allocated"].as_f64()), (200, Some(7.0), Some(10.0)), "{account}");

    // The worker claims the old queued mission under a lease (the new columns) and runs it; a new
    // mission goes through the same queue after it.
    let (status, q) = app.post("/api/missions/enqueue", json!({"type": "agent.chat", "payload": {}, "created_by": "tester"})).await;
    assert_eq!(status, 200, "{q}");
    let new_id = q["mission_id"].as_str().expect("the new mission's id").to_owned();
    app.start_background();
    app.wait_get("/api/missions/old-1", "the old mission to complete", |m| m["status"] == "COMPLETED").await;
    app.wait_get(&format!("/api/missions/{new_id}"), "the new mission to complete", |m| m["status"] == "COMPLETED").await;

    // Tables the old version's database lacked were created (here: another module's).
    let (status, s) = app
        .post(
            "/api/dna/snapshot",
            json!({"agent_id": "ag-1", "dna": {"model": "x", "temperature": 0.7, "max_tokens": 100, "style": "terse"}, "traits": {"a": 1}}),
        )
        .await;
    assert_eq!((status, s["version"].as_u64()), (201, Some(1)), "{s}");

    // And the next start applies nothing.
    brain_modules::migrate(&store).await.expect("migrate again");
    assert_eq!(applied_versions(&store).await, [1, 2, 3, 4, 5]);
    app.stop().await;
}

async fn applying_twice_is_a_no_op(bare: BareStore) {
    let store = bare.store.clone();
    brain_modules::migrate(&store).await.expect("first run");
    let before = schema(&store).await;
    assert!(before.iter().any(|(t, c)| t == "missions" && c == "lease_until"), "{before:?}");
    sqlx::raw_sql(AssertSqlSafe(OLD_ROWS.to_owned())).execute(store.pool()).await.expect("rows");

    brain_modules::migrate(&store).await.expect("second run");
    // As a second replica starting would: its own connection pool, both at once.
    let again = bare.reconnect().await;
    let (a, b) = tokio::join!(brain_modules::migrate(&store), brain_modules::migrate(&again));
    a.expect("third run");
    b.expect("fourth run");
    again.close().await;

    assert_eq!(applied_versions(&store).await, [1, 2, 3, 4, 5]);
    assert_eq!(schema(&store).await, before);
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM missions").fetch_one(store.pool()).await.expect("count").get(0);
    assert_eq!(n, 1, "the rows are kept");
    bare.start(fast_config()).await.stop().await;
}

async fn applied_versions(store: &StateStore) -> Vec<i64> {
    let sql = format!("SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version");
    sqlx::query(AssertSqlSafe(sql)).fetch_all(store.pool()).await.expect("versions").iter().map(|r| r.get::<i64, _>(0)).collect()
}

async fn columns(store: &StateStore, table: &str) -> Vec<String> {
    schema(store).await.into_iter().filter(|(t, _)| t == table).map(|(_, c)| c).collect()
}

/// Every (table, column) of the store, in order, read from the database's own catalog.
async fn schema(store: &StateStore) -> Vec<(String, String)> {
    let sql = match store.kind() {
        StoreKind::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                              WHERE m.type = 'table' ORDER BY m.name, p.cid"
        }
        StoreKind::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
                                WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        }
    };
    let rows = sqlx::query(sql).fetch_all(store.pool()).await.expect("schema");
    rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))).collect()
}
