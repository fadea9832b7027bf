//! The subscriber of the runtime tests (outage, kill): its handler inserts one row per event into an
//! `effects` table, inside the handler's transaction. The table has no unique constraint on purpose: a
//! second effect of one event would be a second row, so `count == distinct` proves "exactly once in
//! effect" comes from the runtime (inbox row and effect committed together), not from the schema.

use std::time::Duration;

use async_trait::async_trait;
use eventstream::{Handler, HandlerContext, HandlerError};
use eventstream_core::Event;
use eventstream_sql::StateStore;
use eventstream_sql::sqlx::{self, Row};

/// Creates the `effects` table (no unique constraint).
pub(crate) async fn create_effects_table(store: &StateStore) {
    sqlx::query("CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL, position TEXT NOT NULL, consumer TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("creating the effects table: {e}"));
}

/// Rows in `effects` and distinct event ids among them.
pub(crate) async fn effect_counts(store: &StateStore) -> (u64, u64) {
    let row = sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM effects")
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("counting effects: {e}"));
    let (n, d): (i64, i64) = (row.get("n"), row.get("d"));
    (u64::try_from(n).unwrap_or(0), u64::try_from(d).unwrap_or(0))
}

/// Every effect as `(event_id, position, consumer)`.
pub(crate) async fn effects(store: &StateStore) -> Vec<(String, String, String)> {
    sqlx::query("SELECT event_id, position, consumer FROM effects")
        .fetch_all(store.pool())
        .await
        .unwrap_or_else(|e| panic!("reading effects: {e}"))
        .iter()
        .map(|r| (r.get("event_id"), r.get("position"), r.get("consumer")))
        .collect()
}

/// Rows in `dead_letters` (the runtime tests expect none).
pub(crate) async fn dead_letter_count(store: &StateStore) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM dead_letters")
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("counting dead letters: {e}"))
        .get("n")
}

/// Inserts one `effects` row per event in the handler's transaction, after an optional delay (so work
/// is in flight when a replica is killed).
pub(crate) struct RecordEffect {
    /// The consumer name written into each row: which replica had the effect.
    pub(crate) consumer: String,
    /// Time spent in the handler before the insert.
    pub(crate) delay: Duration,
}

#[async_trait]
impl Handler for RecordEffect {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        sqlx::query("INSERT INTO effects (event_id, position, consumer) VALUES ($1, $2, $3)")
            .bind(event.id.to_string())
            .bind(ctx.position.as_str().to_owned())
            .bind(self.consumer.clone())
            .execute(ctx.tx.conn())
            .await?;
        Ok(())
    }
}
