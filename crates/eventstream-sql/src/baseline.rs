//! The direct-SQL baseline of `brain bench --consumers` (feature `bench`; not part of the store's API):
//! the same rows the consumer runtime writes per event — an inbox row with the same columns and unique
//! keys as `processed_events`, and the handler's effect row — inserted directly, one transaction per
//! event, so the benchmark can report the runtime's throughput as a ratio to it.

use eventstream_core::Event;

use crate::{MigrationSet, StateStore, StoreError, Tx};

/// The table recording the baseline's migrations.
const MIGRATIONS_TABLE: &str = "bench_baseline_migrations";

/// The baseline's tables (the same SQL on both databases).
const MIGRATIONS: MigrationSet = &[(1, "benchmark baseline tables", TABLES_V1, TABLES_V1)];

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
