//! Shared test setup: a log and a state store in a temp dir, an effects table written by handlers in
//! their transaction, bounded polling, and [`Faulty`], a fault-injecting decorator around the real log.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use eventstream::{Backoff, SubscriptionOptions};
use eventstream_core::{DelegatingLog, Event, EventLog, GroupName, LogError, Position};
use eventstream_embedded::{EmbeddedLog, EmbeddedOptions};
use eventstream_sql::{StateStore, StoreOptions, Tx, sqlx};
use serde_json::json;
use tokio::sync::Notify;

pub async fn embedded(dir: &Path) -> Arc<dyn EventLog> {
    Arc::new(EmbeddedLog::open(dir.join("log"), EmbeddedOptions::default()).await.unwrap())
}

pub async fn sqlite_store(dir: &Path) -> StateStore {
    StateStore::connect(&eventstream_sql::sqlite_url(&dir.join("state.db"))).await.unwrap()
}

fn pg_url() -> String {
    std::env::var("BRAIN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A PostgreSQL store in a fresh schema and the schema's name (drop it with [`drop_schema`]), or `None`
/// (skipped loudly; a failure under CI=true).
pub async fn postgres_store() -> Option<(StateStore, String)> {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return None;
    }
    let schema = format!("rt_{}", uuid::Uuid::new_v4().simple());
    Some((StateStore::connect_with(&url, StoreOptions::default().schema(schema.clone())).await.unwrap(), schema))
}

/// Drops a test schema made by [`postgres_store`].
pub async fn drop_schema(schema: &str) {
    let store = StateStore::connect(&pg_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(store.pool()).await.unwrap();
}

/// Creates the `effects` table: one row per handler effect, deliberately WITHOUT a unique constraint, so
/// a double effect shows up as a second row.
pub async fn create_effects(store: &StateStore) {
    sqlx::query("CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL, note TEXT)").execute(store.pool()).await.unwrap();
}

/// Writes one effect row inside the handler's transaction.
pub async fn write_effect(tx: &mut Tx, event: &Event) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO effects (event_id, note) VALUES ($1, $2)")
        .bind(event.id.to_string())
        .bind(event.event_type.to_string())
        .execute(tx.conn())
        .await
        .map(|_| ())
}

/// (rows, distinct event ids) in `effects`.
pub async fn effect_counts(store: &StateStore) -> (i64, i64) {
    use sqlx::Row;
    let row = sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM effects").fetch_one(store.pool()).await.unwrap();
    (row.try_get::<i64, _>("n").unwrap(), row.try_get::<i64, _>("d").unwrap())
}

pub fn events(n: usize, event_type: &str) -> Vec<Event> {
    (0..n).map(|i| Event::new(event_type.parse().unwrap(), "test".parse().unwrap(), json!({"i": i}).as_object().unwrap().clone())).collect()
}

pub fn group(name: &str) -> GroupName {
    format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]).parse().unwrap()
}

/// Fast options for tests: short backoff, short claim idle, short read block.
pub fn fast_options() -> SubscriptionOptions {
    SubscriptionOptions {
        backoff: Backoff { initial: Duration::from_millis(10), max: Duration::from_millis(50) },
        claim_idle: Duration::from_secs(2),
        claim_interval: Duration::from_millis(200),
        read_block: Duration::from_millis(200),
        ..SubscriptionOptions::default()
    }
}

/// Polls `check` until it returns true, for at most `limit` (the testkit's bounded polling).
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventstream_testkit::fixtures::eventually(what, limit, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await;
}

/// A fault-injecting decorator around a real log (not a fake: every call goes to `inner`): while `down`,
/// appends and health checks fail as if the server were gone; while `hold_appends`, an append that
/// reached the log returns only after [`Faulty::release`], so a test can act between the append and
/// what its caller does next.
#[derive(Debug)]
pub struct Faulty {
    pub inner: Arc<dyn EventLog>,
    pub down: AtomicBool,
    pub hold_appends: AtomicBool,
    released: Notify,
}

impl Faulty {
    pub fn wrap(inner: Arc<dyn EventLog>) -> Arc<Self> {
        Arc::new(Self { inner, down: AtomicBool::new(false), hold_appends: AtomicBool::new(false), released: Notify::new() })
    }

    /// Lets one held append return (or the next one, if none is waiting yet).
    pub fn release(&self) {
        self.released.notify_one();
    }

    fn check(&self) -> Result<(), LogError> {
        if self.down.load(Ordering::SeqCst) { Err(LogError::unavailable("append", "injected outage")) } else { Ok(()) }
    }
}

#[async_trait]
impl DelegatingLog for Faulty {
    fn inner(&self) -> &dyn EventLog {
        &*self.inner
    }
    fn backend_name(&self) -> &'static str {
        "faulty"
    }
    async fn on_append(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        self.check()?;
        let positions = self.inner.append(events).await?;
        if self.hold_appends.load(Ordering::SeqCst) {
            self.released.notified().await;
        }
        Ok(positions)
    }
    async fn on_health(&self) -> Result<(), LogError> {
        self.check()?;
        self.inner.health().await
    }
}
