//! Leases and the replica registry: what several replicas on one state store share.

use eventstream_sql::Lease;

use super::*;

on_both_databases!(
    a_lease_has_one_holder_until_it_expires,
    racing_replicas_take_an_expired_lease_once,
    replicas_register_heartbeat_and_leave,
);

async fn a_lease_has_one_holder_until_it_expires(db: TestDb) {
    let ttl = Duration::from_millis(400);
    let a = Lease::new(db.store.clone(), "job", "replica-a", ttl);
    let b = Lease::new(db.reconnect().await.unwrap(), "job", "replica-b", ttl);
    assert_eq!(a.current().await.unwrap(), None);
    assert!(a.try_acquire().await.unwrap(), "a free lease is taken");
    assert!(!b.try_acquire().await.unwrap(), "a held lease is not taken");
    assert!(a.try_acquire().await.unwrap(), "the holder renews");
    let held = a.current().await.unwrap().unwrap();
    assert_eq!(held.holder, "replica-a");
    assert!(held.until > Utc::now());
    // Another job's lease is independent.
    assert!(Lease::new(db.store.clone(), "other-job", "replica-b", ttl).try_acquire().await.unwrap());

    // The holder stops renewing (it died): once expired, the other replica takes over.
    eventstream_testkit::fixtures::eventually("the lease expires and moves", Duration::from_secs(10), || {
        let b = b.clone();
        async move { b.try_acquire().await.unwrap().then_some(()) }
    })
    .await;
    let moved = b.current().await.unwrap().unwrap();
    assert_eq!(moved.holder, "replica-b");
    assert!(moved.acquired_at > held.acquired_at, "a new holder has a new acquisition time");
    assert!(!a.try_acquire().await.unwrap(), "the old holder cannot take it back while it runs");
    assert!(!a.release().await.unwrap(), "nor release another holder's lease");
    assert!(b.release().await.unwrap(), "the holder releases");
    assert!(a.try_acquire().await.unwrap(), "a released lease is taken at once");
}

async fn racing_replicas_take_an_expired_lease_once(db: TestDb) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.reconnect().await.unwrap();
        tasks.push(tokio::spawn(async move {
            Lease::new(store, "race", format!("r{i}"), Duration::from_secs(60)).try_acquire().await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one replica holds the lease");
}

async fn replicas_register_heartbeat_and_leave(db: TestDb) {
    let started = Utc::now();
    let subs = serde_json::json!([{"name": "audit_log", "patterns": ["*"], "stats": {"processed": 3}}]);
    db.store.replica_heartbeat("r1", started, &subs).await.unwrap();
    db.store.replica_heartbeat("r2", started, &serde_json::json!([])).await.unwrap();
    let first = db.store.replicas().await.unwrap();
    assert_eq!(first.iter().map(|r| r.replica.as_str()).collect::<Vec<_>>(), ["r1", "r2"]);
    assert_eq!(first[0].subscribers, subs);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = serde_json::json!([{"name": "audit_log", "patterns": ["*"], "stats": {"processed": 9}}]);
    db.store.replica_heartbeat("r1", started, &later).await.unwrap();
    let second = db.store.replicas().await.unwrap();
    assert!(second[0].last_seen >= first[0].last_seen, "a heartbeat moves last_seen");
    assert_eq!(second[0].subscribers["0"], serde_json::Value::Null);
    assert_eq!(second[0].subscribers[0]["stats"]["processed"], 9);
    assert!(db.store.replica_remove("r2").await.unwrap(), "a replica leaves at shutdown");
    assert!(!db.store.replica_remove("r2").await.unwrap());
    assert_eq!(db.store.replicas_purge_older_than(Duration::from_secs(3600)).await.unwrap(), 0, "a live replica stays");
    assert_eq!(db.store.replicas().await.unwrap().len(), 1);
}
