//! SQL shared by the modules' tables: DDL at start, named counters, and recognising constraint
//! violations. Every statement is written once with `$1` placeholders and runs on SQLite and PostgreSQL.

use eventstream::store::sqlx::{self, Row};
use eventstream::store::{StateStore, StoreError, Tx};

/// The counters table: named sequences (queue order, snapshot ids) shared by the modules.
const COUNTERS_DDL: &str = "CREATE TABLE IF NOT EXISTS module_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)";

/// Runs `statements` in order (each `CREATE ... IF NOT EXISTS`, so running them again changes nothing),
/// through [`StateStore::run_ddl`], which tolerates two replicas creating the same tables at once.
///
/// # Errors
/// The store's error for the first statement that fails.
pub(crate) async fn create_tables(store: &StateStore, statements: &[&'static str]) -> Result<(), StoreError> {
    store.run_ddl(COUNTERS_DDL).await?;
    for ddl in statements {
        store.run_ddl(ddl).await?;
    }
    Ok(())
}

/// The next value of counter `name` (1, 2, ...), taken inside `tx` so it commits with the row using it.
/// The `UPDATE` locks the counter row on PostgreSQL; SQLite transactions are serialised already.
///
/// # Errors
/// The store's error.
pub(crate) async fn next_counter(tx: &mut Tx, name: &str) -> Result<i64, StoreError> {
    sqlx::query("INSERT INTO module_counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(name.to_owned())
        .execute(tx.conn())
        .await
        .map_err(|e| StoreError::sqlx("creating a counter", e))?;
    let row = sqlx::query("UPDATE module_counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(name.to_owned())
        .fetch_one(tx.conn())
        .await
        .map_err(|e| StoreError::sqlx("advancing a counter", e))?;
    row.try_get::<i64, _>(0).map_err(|e| StoreError::sqlx("reading a counter", e))
}

/// Whether a driver error is a unique-key violation (a concurrent insert of the same key).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Wraps a driver error raised while `context`.
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::sqlx(context, e)
}
