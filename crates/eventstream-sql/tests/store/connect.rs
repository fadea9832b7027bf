//! Connecting: URLs and schemas, unreachable servers, in-memory SQLite, concurrent first connects.

use super::*;

#[tokio::test]
async fn unreachable_postgres_is_a_transient_error() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let err =
        StateStore::connect_with("postgres://postgres@127.0.0.1:1/test", StoreOptions::default().acquire_timeout(Duration::from_secs(5)))
            .await
            .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn bad_urls_and_schemas_are_rejected() {
    let err = StateStore::connect("mysql://x@127.0.0.1/db").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
    let err = StateStore::connect_with("sqlite::memory:", StoreOptions::default().schema("s")).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
    let err = StateStore::connect_with(&helpers::pg_url(), StoreOptions::default().schema("x\"; DROP TABLE y; --")).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidSchema { .. }), "{err:?}");
}

#[tokio::test]
async fn in_memory_sqlite_works_on_one_connection() {
    let store = StateStore::connect("sqlite::memory:").await.unwrap();
    let e = event("task.created");
    assert!(mark(&store, &record("s", "1", &e)).await.unwrap());
    assert!(store.is_processed(&group("s"), e.tenant_id.as_ref(), &e.id).await.unwrap());
    assert_eq!(store.outbox_insert_batch(&[e]).await.unwrap(), 1);
    assert_eq!(store.outbox_stats().await.unwrap().depth, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_connects_to_a_fresh_sqlite_file_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = eventstream_sql::sqlite_url(&dir.path().join("state.db"));
    let connects = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { StateStore::connect(&url).await })
    });
    for c in connects.collect::<Vec<_>>() {
        let store = c.await.unwrap().unwrap();
        assert_eq!(store.outbox_stats().await.unwrap().depth, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_connects_to_a_fresh_postgres_schema_all_succeed() {
    let guard = helpers::SchemaGuard::new();
    let url = helpers::pg_url();
    if StateStore::connect(&url).await.is_err() {
        // `TestDb::open` decides between failing (CI) and a loud skip.
        assert!(TestDb::open(Backend::Postgres, "concurrent_first_connects_to_a_fresh_postgres_schema").await.is_none());
        return;
    }
    let connects = (0..4).map(|_| {
        let (url, schema) = (url.clone(), guard.schema().to_owned());
        tokio::spawn(async move { StateStore::connect_with(&url, StoreOptions::default().schema(schema)).await })
    });
    for c in connects.collect::<Vec<_>>() {
        let store = c.await.unwrap().unwrap();
        assert_eq!(store.outbox_stats().await.unwrap().depth, 0);
        store.close().await;
    }
}
