//! A fresh, isolated state store and audit log per test: SQLite in its own temp dir, PostgreSQL in its
//! own schema (`t_<uuid>`, dropped when the test ends). PostgreSQL is at `BRAIN_TEST_DATABASE_URL` or
//! `postgres://postgres@127.0.0.1:5432/test`; unreachable, it fails the test under `CI=true` and is
//! skipped loudly otherwise.

#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, SubsecRound, Utc};
use eventstream_core::{Event, EventType, Source, TenantId};
use eventstream_sql::sqlx::{self, AssertSqlSafe, Connection};
use eventstream_sql::{StateStore, StoreOptions, sqlite_url};
use eventstream_system::audit::{AuditConfig, AuditLog, append};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn pg_url() -> String {
    std::env::var("BRAIN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A test's audit log, its store and directory.
pub struct TestAudit {
    pub log: AuditLog,
    pub store: StateStore,
    pub dir: tempfile::TempDir,
    pub config: AuditConfig,
    _guard: Option<SchemaGuard>,
}

impl TestAudit {
    pub async fn open(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (store, guard) = match backend {
            Backend::Sqlite => (StateStore::connect(&sqlite_url(&dir.path().join("state.db"))).await.unwrap(), None),
            Backend::Postgres => {
                if !eventstream_testkit::require_service("postgres", &pg_url()) {
                    return None;
                }
                let guard = SchemaGuard { url: pg_url(), schema: format!("t_{}", uuid::Uuid::new_v4().simple()) };
                let store = StateStore::connect_with(&guard.url, StoreOptions::default().schema(&guard.schema)).await.unwrap();
                (store, Some(guard))
            }
        };
        let config = AuditConfig::in_data_dir(dir.path());
        let log = AuditLog::open(store.clone(), &config).await.unwrap();
        Some(Self { log, store, dir, config, _guard: guard })
    }

    /// Appends events the way the subscriber does (one transaction each).
    pub async fn append_all(&self, events: &[Event]) {
        for e in events {
            let mut tx = self.store.begin().await.unwrap();
            append(&mut tx, e).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
}

/// Drops a PostgreSQL schema when the test ends, also when it panics.
pub struct SchemaGuard {
    url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let mut conn = sqlx::AnyConnection::connect(&url).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))).execute(&mut conn).await?;
                conn.close().await
            })
        })
        .join();
    }
}

/// Event `i` of type `task.created`, of `tenant` (or none), at `at`.
pub fn event(i: u64, tenant: Option<&str>, at: DateTime<Utc>) -> Event {
    let ty: EventType = "task.created".parse().unwrap();
    let source: Source = "tests".parse().unwrap();
    let mut payload = serde_json::Map::new();
    payload.insert("task_id".into(), format!("t{i}").into());
    payload.insert("note".into(), "x".repeat((i % 7) as usize * 10).into());
    let mut e = Event::new(ty, source, payload);
    e.timestamp = at.trunc_subsecs(6);
    e.tenant_id = tenant.map(|t| t.parse::<TenantId>().unwrap());
    e
}

/// `n` events spread over tenants `acme`, `globex`, `initech` and no tenant.
pub fn mixed_events(n: u64, at: DateTime<Utc>) -> Vec<Event> {
    let tenants = [Some("acme"), Some("globex"), None, Some("initech"), Some("acme")];
    (0..n).map(|i| event(i, tenants[(i % 5) as usize], at)).collect()
}
