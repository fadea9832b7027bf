//! The direct-SQL baselines of `brain bench --consumers` (feature `bench`; not part of the store's API):
//! the same rows the consumer runtime writes per event — an inbox row with the same columns as
//! `processed_events`, and the handler's effect row — inserted directly, so the benchmark can report the
//! runtime's throughput as a ratio to them. [`insert_chunk_direct`] is the fair one: the same batching
//! (one transaction per chunk, set-based statements) and the same keys and indexes as the inbox;
//! [`insert_direct`] is the naive one, one transaction per event.

use eventstream_core::Event;

use crate::{MigrationSet, StateStore, StoreError, Tx};

/// The table recording the baseline's migrations.
const MIGRATIONS_TABLE: &str = "bench_baseline_migrations";

/// The baseline's tables.
const MIGRATIONS: MigrationSet = &[
    (1, "benchmark baseline tables", TABLES_V1, TABLES_V1),
    (2, "benchmark inbox with the inbox's own keys and indexes", INBOX_V2_SQLITE, INBOX_V2_POSTGRES),
];

/// `bench_inbox`: the columns, keys and indexes `processed_events` has on SQLite after the state store's
/// migrations, so the batched baseline pays the same per-row index cost as the runtime's inbox.
const INBOX_V2_SQLITE: &str = "CREATE TABLE IF NOT EXISTS bench_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscriber_name TEXT NOT NULL, stream_name TEXT NOT NULL, stream_message_id TEXT NOT NULL, event_id TEXT NOT NULL,
        event_type TEXT NOT NULL, tenant_id TEXT NOT NULL DEFAULT '', metadata TEXT, processed_at INTEGER NOT NULL,
        UNIQUE (subscriber_name, tenant_id, event_id), UNIQUE (subscriber_name, stream_message_id));
    CREATE INDEX IF NOT EXISTS bench_inbox_processed_at ON bench_inbox (processed_at)";

/// The same on PostgreSQL.
const INBOX_V2_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS bench_inbox (
        subscriber_name TEXT NOT NULL, stream_name TEXT NOT NULL, stream_message_id TEXT NOT NULL, event_id TEXT NOT NULL,
        event_type TEXT NOT NULL, tenant_id TEXT NOT NULL DEFAULT '', metadata TEXT, processed_at BIGINT NOT NULL,
        UNIQUE (subscriber_name, tenant_id, event_id), UNIQUE (subscriber_name, stream_message_id));
    CREATE INDEX IF NOT EXISTS bench_inbox_processed_at ON bench_inbox USING brin (processed_at)";

const TABLES_V1: &str = "CREATE TABLE IF NOT EXISTS bench_effects (event_id TEXT NOT NULL, note TEXT);
    CREATE TABLE IF NOT EXISTS bench_dedup (subscriber_name TEXT NOT NULL, stream_name TEXT NOT NULL,
        stream_message_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT, tenant_id TEXT, metadata TEXT,
        processed_at BIGINT NOT NULL, UNIQUE (subscriber_name, event_id), UNIQUE (subscriber_name, stream_message_id))";

/// Creates the baseline's tables (`bench_effects`, `bench_dedup`) when missing, through the migration
/// runner like every other table.
///
/// # Errors
/// The migration fails.
pub async fn create_tables(store: &StateStore) -> Result<(), StoreError> {
    store.migrate_set(MIGRATIONS_TABLE, MIGRATIONS).await
}

/// The handler's effect in the benchmark: one row per event, written in the handler's transaction.
///
/// # Errors
/// The insert fails.
pub async fn insert_effect(tx: &mut Tx, event: &Event) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO bench_effects (event_id, note) VALUES ($1, $2)")
        .bind(event.id.to_string())
        .bind(event.event_type.to_string())
        .execute(tx.conn())
        .await
        .map_err(|e| StoreError::sqlx("inserting a benchmark effect", e))?;
    Ok(())
}

/// The handler's effect for a batch: one multi-row INSERT of the same rows [`insert_effect`] writes.
///
/// # Errors
/// The insert fails.
pub async fn insert_effects(tx: &mut Tx, events: &[&Event]) -> Result<(), StoreError> {
    for chunk in events.chunks(200) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
        let sql = format!("INSERT INTO bench_effects (event_id, note) VALUES {}", rows.join(", "));
        // Only placeholders are interpolated; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q.bind(e.id.as_str()).bind(e.event_type.as_str());
        }
        q.execute(tx.conn()).await.map_err(|e| StoreError::sqlx("inserting benchmark effects", e))?;
    }
    Ok(())
}

/// The batched baseline for a chunk: in one transaction, the chunk's inbox rows in one set-based
/// `INSERT ... ON CONFLICT DO NOTHING RETURNING` into `bench_inbox` (same columns, keys and indexes as
/// the inbox), then their effect rows in one multi-row INSERT, then one commit: what the runtime does per
/// chunk, without a log or a runtime. `first_message` numbers the rows' stream positions.
///
/// # Errors
/// A statement or the commit fails.
pub async fn insert_chunk_direct(store: &StateStore, first_message: usize, events: &[Event]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let now = chrono::Utc::now().timestamp_millis();
    for (c, chunk) in events.chunks(200).enumerate() {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 8 * i;
                format!("(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8)
            })
            .collect();
        let sql = format!(
            "INSERT INTO bench_inbox (subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, metadata, \
             processed_at) VALUES {} ON CONFLICT DO NOTHING RETURNING subscriber_name, stream_message_id",
            rows.join(", ")
        );
        // Only placeholders are interpolated; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (i, e) in chunk.iter().enumerate() {
            q = q
                .bind("baseline")
                .bind("bench")
                .bind((first_message + c * 200 + i).to_string())
                .bind(e.id.as_str())
                .bind(e.event_type.as_str())
                .bind(e.tenant_id.as_ref().map_or("", |t| t.as_str()))
                .bind(serde_json::to_string(&e.meta).unwrap_or_default())
                .bind(now);
        }
        q.fetch_all(tx.conn()).await.map_err(|e| StoreError::sqlx("inserting benchmark inbox rows", e))?;
    }
    let refs: Vec<&Event> = events.iter().collect();
    insert_effects(&mut tx, &refs).await?;
    tx.commit().await
}

/// The baseline for one event: its inbox-like row and its effect row in one transaction.
///
/// # Errors
/// A statement or the commit fails.
pub async fn insert_direct(store: &StateStore, message_id: &str, event: &Event) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO bench_dedup (subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, metadata, \
         processed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind("baseline")
    .bind("bench")
    .bind(message_id)
    .bind(event.id.to_string())
    .bind(event.event_type.to_string())
    .bind(None::<String>)
    .bind(serde_json::to_string(&event.meta).unwrap_or_default())
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(tx.conn())
    .await
    .map_err(|e| StoreError::sqlx("inserting a benchmark inbox row", e))?;
    insert_effect(&mut tx, event).await?;
    tx.commit().await
}

/// The query `/metrics` ran before the counters existed: `COUNT(*) ... GROUP BY` over the whole inbox
/// (O(inbox rows) per call), for `brain bench --history` to compare with. Returns the number of groups.
///
/// # Errors
/// The query fails.
pub async fn processed_counts_by_scan(store: &StateStore) -> Result<usize, StoreError> {
    let rows = sqlx::query("SELECT subscriber_name, event_type, COUNT(*) AS n FROM processed_events GROUP BY subscriber_name, event_type")
        .fetch_all(store.pool())
        .await
        .map_err(|e| StoreError::sqlx("counting the inbox by scan", e))?;
    Ok(rows.len())
}

/// Drops a PostgreSQL schema and everything in it (the benchmark's own throwaway schema).
///
/// # Errors
/// The name is not a plain identifier, or the statement fails.
pub async fn drop_schema(store: &StateStore, schema: &str) -> Result<(), StoreError> {
    if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::InvalidSchema { name: schema.to_owned() });
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(store.pool())
        .await
        .map_err(|e| StoreError::sqlx("dropping the benchmark schema", e))?;
    Ok(())
}
