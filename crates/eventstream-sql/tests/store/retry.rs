//! Retry state: transient-failure counts that survive a reconnect.

use super::*;

on_both_databases!(retry_state_counts_survive_reconnect_and_clear,);

async fn retry_state_counts_survive_reconnect_and_clear(db: TestDb) {
    let s = group("supervisor");
    let e = event("mission.failed");
    assert_eq!(db.store.retry_state(&s, &EventKey::of(&e)).await.unwrap(), None);
    let first = db.store.record_retry_failure(&s, &EventKey::of(&e), "timeout 1").await.unwrap();
    assert_eq!(first.attempts, 1);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (store, s, key) = (db.store.clone(), s.clone(), EventKey::of(&e));
        tasks.spawn(async move { store.record_retry_failure(&s, &key, "timeout").await.unwrap().attempts });
    }
    let mut seen = HashSet::new();
    while let Some(n) = tasks.join_next().await {
        seen.insert(n.unwrap());
    }
    assert_eq!(seen, (2..=21).collect::<HashSet<u32>>(), "every concurrent failure counts once");

    let again = db.reconnect().await.unwrap();
    let state = again.retry_state(&s, &EventKey::of(&e)).await.unwrap().unwrap();
    assert_eq!(state.attempts, 21);
    assert_eq!(state.first_failed_at, first.first_failed_at);
    assert!(state.last_failed_at >= first.first_failed_at);
    assert_eq!(state.last_error.as_deref(), Some("timeout"));

    let mut tx = again.begin().await.unwrap();
    assert!(tx.retry_state(&s, &EventKey::of(&e)).await.unwrap().is_some());
    assert!(tx.clear_retry_state(&s, &EventKey::of(&e)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(db.store.retry_state(&s, &EventKey::of(&e)).await.unwrap(), None);
    assert!(!db.store.clear_retry_state(&s, &EventKey::of(&e)).await.unwrap());

    // Retry state left behind for two hours is purged after one; fresh state is kept.
    let stale = event("mission.failed");
    db.store.record_retry_failure(&s, &EventKey::of(&stale), "x").await.unwrap();
    db.store.record_retry_failure(&s, &EventKey::of(&e), "x").await.unwrap();
    sqlx::query("UPDATE retry_state SET updated_at = updated_at - 7200000 WHERE event_id = $1")
        .bind(stale.id.as_str())
        .execute(db.store.pool())
        .await
        .unwrap();
    assert_eq!(db.store.purge_retry_state_older_than(Duration::from_secs(3600)).await.unwrap(), 1);
    assert_eq!(db.store.retry_state(&s, &EventKey::of(&stale)).await.unwrap(), None);
    assert!(db.store.retry_state(&s, &EventKey::of(&e)).await.unwrap().is_some());
}
