//! Event ids are unique per tenant (not globally) in the audit log and the event index: another tenant's
//! event with an id already used is appended and indexed, each tenant's proof and lookup is of its own
//! event, and stores written by version 1 migrate.

use chrono::Utc;
use eventstream_core::{Event, Position, TenantId};
use eventstream_sql::sqlx::{self, Row};
use eventstream_system::audit::{Checkpoint, NoteVerifier, canonical_bytes};
use eventstream_system::index::EventIndex;

use super::helpers::{Backend, TestAudit, event};

/// `e` as another tenant's (or a tenantless) event with the same id.
fn same_id(e: &Event, tenant: Option<&str>) -> Event {
    let mut other = e.clone();
    other.tenant_id = tenant.map(|t| t.parse::<TenantId>().unwrap());
    other.payload.insert("task_id".into(), format!("of-{}", tenant.unwrap_or("nobody")).into());
    other
}

async fn audit_log_appends_each_tenants_event_with_a_shared_id(backend: Backend) {
    let Some(t) = TestAudit::open(backend).await else { return };
    let acme = event(1, Some("acme"), Utc::now());
    let events = [acme.clone(), same_id(&acme, Some("globex")), same_id(&acme, None)];
    t.append_all(&events).await;
    t.append_all(&events).await; // each is still appended once
    t.log.checkpoint_now().await.unwrap();
    let vkey: NoteVerifier = t.log.verifier().to_string().parse().unwrap();
    let global = Checkpoint::open(&t.log.latest_checkpoint(None).await.unwrap().unwrap(), &vkey).unwrap();
    assert_eq!(global.size, 3, "three leaves");
    for e in &events[..2] {
        let proof = t.log.inclusion_proof(e.id.as_str(), None, e.tenant_id.as_ref()).await.unwrap();
        let (_, leaf) = proof.verify(&vkey).unwrap();
        assert_eq!(leaf, canonical_bytes(e), "{:?} gets its own event", e.tenant_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_audit_log_appends_each_tenants_event_with_a_shared_id() {
    audit_log_appends_each_tenants_event_with_a_shared_id(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_log_appends_each_tenants_event_with_a_shared_id() {
    audit_log_appends_each_tenants_event_with_a_shared_id(Backend::Postgres).await;
}

/// The index table as version 1 created it (`id` unique on its own, `tenant_id` nullable).
const EVENTS_V1: &str = "DROP TABLE events; DELETE FROM _event_index_migrations WHERE version = 2;
    CREATE TABLE events (seq BIGINT NOT NULL PRIMARY KEY, position TEXT NOT NULL, id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL, source TEXT NOT NULL, tenant_id TEXT, correlation_id TEXT, mission_id TEXT, task_id TEXT,
        actor_id TEXT, target TEXT, event_time BIGINT NOT NULL, indexed_at BIGINT NOT NULL, body TEXT NOT NULL);
    UPDATE event_index_seq SET v = 1 WHERE name = 'events'";

async fn event_index_keys_on_tenant_and_id_and_migrates(backend: Backend) {
    let Some(t) = TestAudit::open(backend).await else { return };
    let index = EventIndex::open(t.store.clone()).await.unwrap();
    sqlx::raw_sql(EVENTS_V1).execute(t.store.pool()).await.unwrap();
    let old = event(1, None, Utc::now());
    sqlx::query("INSERT INTO events (seq, position, id, event_type, source, tenant_id, event_time, indexed_at, body) VALUES (1, '1', $1, 'task.created', 'tests', NULL, 0, 0, $2)")
        .bind(old.id.as_str())
        .bind(old.to_json_value().to_string())
        .execute(t.store.pool())
        .await
        .unwrap();
    drop(index);

    // Reopening applies version 2: the tenantless row stays readable and is still deduplicated.
    let index = EventIndex::open(t.store.clone()).await.unwrap();
    let pos = |p: &str| p.parse::<Position>().unwrap();
    assert_eq!(index.get(old.id.as_str(), None).await.unwrap().map(|r| r.seq), Some(1));
    index.insert_published(&pos("2"), &old).await.unwrap();
    let acme = same_id(&old, Some("acme"));
    let globex = same_id(&old, Some("globex"));
    index.insert_published(&pos("3"), &acme).await.unwrap();
    index.insert_published(&pos("4"), &globex).await.unwrap();
    index.insert_published(&pos("5"), &globex).await.unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM events").fetch_one(t.store.pool()).await.unwrap().get("n");
    assert_eq!(n, 3, "one row per (tenant, id)");
    for (e, p) in [(&acme, "3"), (&globex, "4")] {
        let row = index.get(e.id.as_str(), e.tenant_id.as_ref()).await.unwrap().unwrap();
        assert_eq!((row.position.as_str(), row.body.clone()), (p, e.to_json_value().to_string()));
    }
    assert_eq!(index.head().await.unwrap(), 3, "the counter continued after the migrated rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_event_index_keys_on_tenant_and_id_and_migrates() {
    event_index_keys_on_tenant_and_id_and_migrates(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_event_index_keys_on_tenant_and_id_and_migrates() {
    event_index_keys_on_tenant_and_id_and_migrates(Backend::Postgres).await;
}
