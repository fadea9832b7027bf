//! The publisher's outbox: insertion order and the transactional outbox.

use super::*;

on_both_databases!(
    outbox_returns_rows_in_insertion_order,
    transactional_outbox_rows_exist_only_if_committed,
    two_relays_never_send_a_row_twice,
);

/// A failed claim leaves its rows for the next one; on PostgreSQL two relays on two pools (two replicas)
/// drain one outbox at once and every row is claimed exactly once, in id order per relay.
async fn two_relays_never_send_a_row_twice(db: TestDb) {
    let events: Vec<_> = (0..600).map(|_| event("task.created")).collect();
    db.store.outbox_insert_batch(&events).await.unwrap();
    // A failed attempt releases its rows and records the failure.
    let claim = db.store.outbox_claim(10).await.unwrap();
    let failed: Vec<_> = claim.rows().iter().map(|r| r.id).collect();
    assert_eq!(failed.len(), 10);
    assert_eq!(claim.fail(&failed, "log unavailable").await.unwrap(), 10);
    assert_eq!(db.store.outbox_fetch(1).await.unwrap()[0].attempts, 1);
    if db.backend == Backend::Sqlite {
        // One process owns a SQLite outbox: its claims are plain reads, there is no second relay.
        let mut claim = db.store.outbox_claim(1000).await.unwrap();
        let rows = claim.take_rows();
        assert_eq!(rows.len(), 600);
        let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
        assert_eq!(claim.delete(&ids).await.unwrap(), 600);
        return;
    }

    let other = db.reconnect().await.unwrap();
    let relay = |store: StateStore| {
        tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                let mut claim = store.outbox_claim(25).await.unwrap();
                let rows = claim.take_rows();
                if rows.is_empty() {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                idle = 0;
                let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "a claim is in id order");
                // The "append" takes a moment while the claim is held.
                tokio::time::sleep(Duration::from_millis(2)).await;
                assert_eq!(claim.delete(&ids).await.unwrap(), ids.len() as u64);
                sent.extend(rows.into_iter().map(|r| r.event.id));
            }
            sent
        })
    };
    let (a, b) = (relay(db.store.clone()), relay(other));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let all: Vec<EventId> = a.iter().chain(&b).cloned().collect();
    let unique: HashSet<&EventId> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (600, 600), "every row sent once: {} + {}", a.len(), b.len());
    assert_eq!(db.store.outbox_stats().await.unwrap().depth, 0);
}

async fn outbox_returns_rows_in_insertion_order(db: TestDb) {
    assert_eq!(db.store.outbox_stats().await.unwrap().depth, 0);
    assert_eq!(db.store.outbox_stats().await.unwrap().oldest_created_at, None);
    assert_eq!(db.store.outbox_insert_batch(&[]).await.unwrap(), 0);

    // More than one INSERT chunk, then a second batch.
    let first: Vec<_> = (0..400).map(|_| event("metrics.aggregation_completed")).collect();
    let second: Vec<_> = (0..3).map(|_| tenant_event("task.created", "acme")).collect();
    assert_eq!(db.store.outbox_insert_batch(&first).await.unwrap(), 400);
    assert_eq!(db.store.outbox_insert_batch(&second).await.unwrap(), 3);
    let stats = db.store.outbox_stats().await.unwrap();
    assert_eq!(stats.depth, 403);
    let age = Utc::now() - stats.oldest_created_at.unwrap();
    assert!(age >= TimeDelta::zero() && age < TimeDelta::minutes(1), "{age}");

    let rows = db.store.outbox_fetch(1000).await.unwrap();
    let want: Vec<EventId> = first.iter().chain(&second).map(|e| e.id.clone()).collect();
    assert_eq!(rows.iter().map(|r| r.event.id.clone()).collect::<Vec<_>>(), want);
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(rows[402].event, second[2], "events round-trip unchanged");

    // A failed relay attempt is recorded on the rows it touched.
    let head: Vec<_> = rows[..2].iter().map(|r| r.id).collect();
    assert_eq!(db.store.outbox_record_failure(&head, "log unavailable").await.unwrap(), 2);
    let page = db.store.outbox_fetch(3).await.unwrap();
    assert_eq!(page.iter().map(|r| r.attempts).collect::<Vec<_>>(), vec![1, 1, 0]);
    assert_eq!(page[0].last_error.as_deref(), Some("log unavailable"));

    // Relayed rows are deleted; the rest keep their order.
    let relayed: Vec<_> = rows[..401].iter().map(|r| r.id).collect();
    assert_eq!(db.store.outbox_delete(&relayed).await.unwrap(), 401);
    let rest = db.store.outbox_fetch(10).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.event.id.clone()).collect::<Vec<_>>(), want[401..].to_vec());
    assert_eq!(db.store.outbox_stats().await.unwrap().depth, 2);
    assert_eq!(db.store.outbox_delete(&relayed).await.unwrap(), 0, "deleting twice is harmless");
    let ids: Vec<_> = rest.iter().map(|r| r.id).collect();
    db.store.outbox_delete(&ids).await.unwrap();
    assert_eq!(db.store.outbox_stats().await.unwrap().oldest_created_at, None);
}

async fn transactional_outbox_rows_exist_only_if_committed(db: TestDb) {
    sqlx::query("CREATE TABLE missions (id TEXT PRIMARY KEY, status TEXT NOT NULL)").execute(db.store.pool()).await.unwrap();
    let change = |id: &'static str| {
        let store = db.store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            sqlx::query("INSERT INTO missions (id, status) VALUES ($1, 'created')").bind(id).execute(tx.conn()).await.unwrap();
            let events = vec![event("mission.created"), event("mission.started")];
            assert_eq!(tx.outbox_insert(&events).await.unwrap(), 2);
            (tx, events)
        }
    };
    let (tx, _) = change("m1").await;
    drop(tx);
    assert_eq!(db.store.outbox_stats().await.unwrap().depth, 0);
    let (tx, events) = change("m2").await;
    tx.commit().await.unwrap();
    let rows = db.store.outbox_fetch(10).await.unwrap();
    assert_eq!(rows.into_iter().map(|r| r.event).collect::<Vec<_>>(), events);
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM missions").fetch_one(db.store.pool()).await.unwrap().get("n");
    assert_eq!(n, 1);
}
