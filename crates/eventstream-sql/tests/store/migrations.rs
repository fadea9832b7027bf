//! The migration runner: the store's own set across connects, other crates' sets, adopting tables created
//! before migrations, and two sets applied concurrently.

use super::*;

on_both_databases!(
    migrations_are_idempotent_across_connects,
    a_set_adopts_tables_created_before_migrations,
    a_fresh_database_gets_every_version_of_a_set,
    applying_a_set_twice_is_a_no_op,
    replicas_applying_a_set_at_once_apply_it_once,
    an_applied_migration_that_changed_is_refused,
);

/// The table recording the test set's versions.
const WIDGETS_MIGRATIONS: &str = "widgets_migrations";

/// A crate's set as it would ship: version 1 adopts a table an earlier release created ad hoc, version 2
/// adds columns that release may or may not have added already.
const WIDGETS: MigrationSet = &[(1, "widgets", WIDGETS_V1, WIDGETS_V1), (2, "widget colour and size", WIDGETS_V2, WIDGETS_V2)];
const WIDGETS_V1: &str = "CREATE TABLE IF NOT EXISTS widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS widgets_by_name ON widgets (name)";
const WIDGETS_V2: &str = "-- a comment; with a semicolon
    ALTER TABLE widgets ADD COLUMN IF NOT EXISTS colour TEXT;
    alter table widgets add column if not exists size BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS widgets_by_colour ON widgets (colour)";

async fn applied_versions(store: &StateStore, table: &str) -> Vec<i64> {
    let sql = format!("SELECT version FROM {table} ORDER BY version");
    sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await.unwrap().iter().map(|r| r.get::<i64, _>(0)).collect()
}

/// The columns of `table` in order, read through the database's own catalog.
async fn columns(db: &TestDb, table: &str) -> Vec<String> {
    let sql = match db.backend {
        Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        Backend::Postgres => format!(
            "SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = '{table}' ORDER BY ordinal_position"
        ),
    };
    sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.store.pool()).await.unwrap().iter().map(|r| r.get::<String, _>(0)).collect()
}

async fn insert_widget(store: &StateStore, id: &str, colour: &str, size: i64) {
    sqlx::query("INSERT INTO widgets (id, name, colour, size) VALUES ($1, $2, $3, $4)")
        .bind(id.to_owned())
        .bind(format!("widget {id}"))
        .bind(colour.to_owned())
        .bind(size)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn a_set_adopts_tables_created_before_migrations(db: TestDb) {
    // An earlier release: the table and one of the two later columns, created outside any migration.
    sqlx::raw_sql("CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL); ALTER TABLE widgets ADD COLUMN colour TEXT")
        .execute(db.store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO widgets (id, name, colour) VALUES ('old', 'kept', 'red')").execute(db.store.pool()).await.unwrap();

    db.store.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();

    assert_eq!(applied_versions(&db.store, WIDGETS_MIGRATIONS).await, [1, 2]);
    assert_eq!(columns(&db, "widgets").await, ["id", "name", "colour", "size"]);
    let row = sqlx::query("SELECT name, colour, size FROM widgets WHERE id = 'old'").fetch_one(db.store.pool()).await.unwrap();
    assert_eq!(row.get::<String, _>("name"), "kept");
    assert_eq!(row.get::<String, _>("colour"), "red");
    assert_eq!(row.get::<i64, _>("size"), 0);
    insert_widget(&db.store, "new", "blue", 3).await;
}

async fn a_fresh_database_gets_every_version_of_a_set(db: TestDb) {
    db.store.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();
    assert_eq!(applied_versions(&db.store, WIDGETS_MIGRATIONS).await, [1, 2]);
    assert_eq!(columns(&db, "widgets").await, ["id", "name", "colour", "size"]);
    insert_widget(&db.store, "w", "green", 1).await;
    // The store's own set is untouched by another crate's.
    assert_eq!(applied_versions(&db.store, MIGRATIONS_TABLE).await, [1, 2, 3, 4, 5, 6]);
}

async fn applying_a_set_twice_is_a_no_op(db: TestDb) {
    db.store.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();
    insert_widget(&db.store, "w", "green", 1).await;
    let before = columns(&db, "widgets").await;

    db.store.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();
    db.reconnect().await.unwrap().migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();

    assert_eq!(applied_versions(&db.store, WIDGETS_MIGRATIONS).await, [1, 2]);
    assert_eq!(columns(&db, "widgets").await, before);
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM widgets").fetch_one(db.store.pool()).await.unwrap().get(0);
    assert_eq!(n, 1);
}

async fn replicas_applying_a_set_at_once_apply_it_once(db: TestDb) {
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(db.reconnect().await.unwrap());
    }
    let runs: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    assert_eq!(applied_versions(&db.store, WIDGETS_MIGRATIONS).await, [1, 2]);
    insert_widget(&db.store, "w", "green", 1).await;
    for s in stores {
        s.close().await;
    }
}

async fn an_applied_migration_that_changed_is_refused(db: TestDb) {
    const CHANGED: MigrationSet = &[(
        1,
        "widgets",
        "CREATE TABLE IF NOT EXISTS widgets (id TEXT PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS widgets (id TEXT PRIMARY KEY)",
    )];
    db.store.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();
    let err = db.store.migrate_set(WIDGETS_MIGRATIONS, CHANGED).await.unwrap_err();
    assert!(matches!(err, StoreError::Migrate(_)), "{err:?}");
    // The refusal left no migration lock behind: another process still migrates (on PostgreSQL a leaked
    // advisory lock would block it), and the unchanged set is still a no-op.
    let other = tokio::time::timeout(Duration::from_secs(30), db.reconnect()).await.expect("a migration lock was left held").unwrap();
    other.migrate_set(WIDGETS_MIGRATIONS, WIDGETS).await.unwrap();
    assert_eq!(applied_versions(&other, WIDGETS_MIGRATIONS).await, [1, 2]);
}

async fn migrations_are_idempotent_across_connects(db: TestDb) {
    let expected = match db.backend {
        Backend::Sqlite => StoreKind::Sqlite,
        Backend::Postgres => StoreKind::Postgres,
    };
    assert_eq!(db.store.kind(), expected);
    let e = event("task.created");
    assert!(mark(&db.store, &record("s", "1-0", &e)).await.unwrap());

    // Two more processes connect at once, then one more: nothing is re-applied, data is kept.
    let (a, b) = tokio::join!(db.reconnect(), db.reconnect());
    let (a, _b) = (a.unwrap(), b.unwrap());
    let again = db.reconnect().await.unwrap();
    assert!(again.is_processed(&group("s"), e.tenant_id.as_ref(), &e.id).await.unwrap());
    let sql = format!("SELECT COUNT(*) AS n FROM {MIGRATIONS_TABLE}");
    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(a.pool()).await.unwrap().get("n");
    assert_eq!(n, 6, "the state store has six versions");
    again.ping().await.unwrap();
    if db.backend == Backend::Sqlite {
        let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(a.pool()).await.unwrap().get(0);
        assert_eq!(mode, "wal");
        let busy: i64 = sqlx::query("PRAGMA busy_timeout").fetch_one(a.pool()).await.unwrap().get(0);
        assert!(busy >= 5000, "{busy}");
    }
}
