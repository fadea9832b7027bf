//! The inbox (`processed_events`): dedup by event id and by position, commit together with the handler's
//! writes, forgetting and retention.

use super::*;

on_both_databases!(
    mark_processed_is_true_then_false,
    both_dedup_keys_are_unique,
    handler_write_and_dedup_row_commit_or_roll_back_together,
    concurrent_marks_of_one_event_yield_exactly_one_true,
    forget_processed_reopens_events_for_reprocessing,
    retention_purges_only_old_processed_rows,
    a_chunk_is_marked_in_one_statement_with_the_same_outcomes_and_counted,
);

async fn a_chunk_is_marked_in_one_statement_with_the_same_outcomes_and_counted(db: TestDb) {
    let done = event("task.created");
    assert!(mark(&db.store, &record("s", "1-0", &done)).await.unwrap());
    let (a, b, c) = (event("task.created"), tenant_event("mission.completed", "acme"), event("task.created"));
    let chunk = [
        record("s", "2-0", &a),
        // Already processed (a re-sent event at a new position): a duplicate.
        record("s", "3-0", &done),
        record("s", "4-0", &b),
        // Another event at a recorded position: the log was reset.
        record("s", "1-0", &c),
    ];
    let mut tx = db.store.begin().await.unwrap();
    let marked = tx.mark_processed_many(&chunk).await.unwrap();
    assert!(matches!(marked[0], Ok(true)) && matches!(marked[1], Ok(false)) && matches!(marked[2], Ok(true)), "{marked:?}");
    assert!(matches!(marked[3], Err(StoreError::PositionReused { .. })), "{marked:?}");
    tx.commit().await.unwrap();
    assert!(db.store.is_processed(&group("s"), None, &a.id).await.unwrap());
    assert!(db.store.is_processed(&group("s"), b.tenant_id.as_ref(), &b.id).await.unwrap());
    assert!(!db.store.is_processed(&group("s"), None, &c.id).await.unwrap());

    // A second delivery of the whole chunk: all duplicates or reused positions, nothing counted twice.
    let mut tx = db.store.begin().await.unwrap();
    let again = tx.mark_processed_many(&chunk[..3]).await.unwrap();
    assert!(again.iter().all(|m| matches!(m, Ok(false))), "{again:?}");
    tx.commit().await.unwrap();

    // A rolled-back chunk leaves neither rows nor counts.
    let d = event("task.created");
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(tx.mark_processed_many(&[record("s", "5-0", &d)]).await.unwrap()[0], Ok(true)));
    tx.rollback().await.unwrap();
    assert!(!db.store.is_processed(&group("s"), None, &d.id).await.unwrap());

    // The counts: 2 task.created (the single mark and the chunk) and 1 mission.completed.
    let counts = db.store.processed_counts_by_type().await.unwrap();
    let n = |t: &str| counts.iter().find(|c| c.subscriber == "s" && c.event_type == t).map(|c| c.count);
    assert_eq!(n("task.created"), Some(2), "{counts:?}");
    assert_eq!(n("mission.completed"), Some(1), "{counts:?}");
    // Many chunks of one subscriber and type (different shards) add up.
    for i in 0..20 {
        let e = event("task.created");
        let mut tx = db.store.begin().await.unwrap();
        tx.mark_processed_many(&[record("s", &format!("{}-1", 100 + i), &e)]).await.unwrap();
        tx.commit().await.unwrap();
    }
    let counts = db.store.processed_counts_by_type().await.unwrap();
    assert_eq!(counts.iter().find(|c| c.subscriber == "s" && c.event_type == "task.created").map(|c| c.count), Some(22));
}

async fn mark_processed_is_true_then_false(db: TestDb) {
    let e = tenant_event("mission.completed", "acme");
    let rec = record("audit", "1700000000000-0", &e);
    assert!(!db.store.is_processed(&rec.subscriber, e.tenant_id.as_ref(), &e.id).await.unwrap());
    assert!(mark(&db.store, &rec).await.unwrap(), "first mark records");
    assert!(!mark(&db.store, &rec).await.unwrap(), "second mark is a duplicate");
    assert!(db.store.is_processed(&rec.subscriber, e.tenant_id.as_ref(), &e.id).await.unwrap());
    // Another subscriber processes the same event independently.
    assert!(mark(&db.store, &record("analytics", "1700000000000-0", &e)).await.unwrap());
    assert!(!db.store.is_processed(&group("security"), e.tenant_id.as_ref(), &e.id).await.unwrap());

    // The stored row keeps the original's columns.
    let row = sqlx::query(
        "SELECT stream_name, stream_message_id, event_type, tenant_id, metadata, processed_at \
         FROM processed_events WHERE subscriber_name = $1 AND event_id = $2",
    )
    .bind("audit")
    .bind(e.id.as_str())
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("stream_name"), "brain:events:stream");
    assert_eq!(row.get::<String, _>("stream_message_id"), "1700000000000-0");
    assert_eq!(row.get::<String, _>("event_type"), "mission.completed");
    assert_eq!(row.get::<Option<String>, _>("tenant_id").as_deref(), Some("acme"));
    let meta: serde_json::Value = serde_json::from_str(&row.get::<String, _>("metadata")).unwrap();
    assert_eq!(meta["source_module"], "mission");
    assert!((Utc::now().timestamp_millis() - row.get::<i64, _>("processed_at")).abs() < 60_000);
}

async fn both_dedup_keys_are_unique(db: TestDb) {
    let e = event("task.created");
    assert!(mark(&db.store, &record("s", "1-0", &e)).await.unwrap());

    // Same event re-sent by its producer: a new stream entry, the same id -> duplicate.
    assert!(!mark(&db.store, &record("s", "2-0", &e)).await.unwrap());

    // A different event at an already recorded position: the log was reset; an error, not a skip.
    let other = event("task.created");
    let err = mark(&db.store, &record("s", "1-0", &other)).await.unwrap_err();
    assert!(matches!(err, StoreError::PositionReused { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(!db.store.is_processed(&group("s"), other.tenant_id.as_ref(), &other.id).await.unwrap());

    // The constraints themselves hold against raw SQL, and their violation is permanent.
    for (event_id, message_id) in [(e.id.as_str(), "9-9"), ("fresh-id", "1-0")] {
        let err = sqlx::query(
            "INSERT INTO processed_events (subscriber_name, stream_name, stream_message_id, event_id, \
             event_type, processed_at) VALUES ('s', 'x', $1, $2, 't.x', 0)",
        )
        .bind(message_id)
        .bind(event_id)
        .execute(db.store.pool())
        .await
        .unwrap_err();
        let err = StoreError::from(err);
        assert!(matches!(err, StoreError::Query { .. }) && !err.is_transient(), "{err:?}");
    }
}

async fn handler_write_and_dedup_row_commit_or_roll_back_together(db: TestDb) {
    sqlx::query("CREATE TABLE handler_effects (event_id TEXT PRIMARY KEY, note TEXT NOT NULL)").execute(db.store.pool()).await.unwrap();
    let count_effects = || async {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM handler_effects").fetch_one(db.store.pool()).await.unwrap();
        row.get::<i64, _>("n")
    };
    let e = event("course.generation.completed");
    let rec = record("course_distribution", "7-0", &e);

    // Dropped without commit: neither the effect nor the dedup row exists.
    {
        let mut tx = db.store.begin().await.unwrap();
        sqlx::query("INSERT INTO handler_effects (event_id, note) VALUES ($1, $2)")
            .bind(e.id.as_str())
            .bind("distribution created")
            .execute(tx.conn())
            .await
            .unwrap();
        assert!(tx.mark_processed(&rec).await.unwrap());
        assert!(tx.is_processed(&rec.subscriber, e.tenant_id.as_ref(), &e.id).await.unwrap(), "visible inside the tx");
    }
    assert_eq!(count_effects().await, 0);
    assert!(!db.store.is_processed(&rec.subscriber, e.tenant_id.as_ref(), &e.id).await.unwrap());

    // Explicit rollback: same.
    let mut tx = db.store.begin().await.unwrap();
    sqlx::query("INSERT INTO handler_effects (event_id, note) VALUES ($1, 'x')").bind(e.id.as_str()).execute(tx.conn()).await.unwrap();
    assert!(tx.mark_processed(&rec).await.unwrap());
    tx.rollback().await.unwrap();
    assert_eq!(count_effects().await, 0);
    assert!(!db.store.is_processed(&rec.subscriber, e.tenant_id.as_ref(), &e.id).await.unwrap());

    // Committed: both exist; the redelivery is a duplicate and its effect never happens.
    let mut tx = db.store.begin().await.unwrap();
    sqlx::query("INSERT INTO handler_effects (event_id, note) VALUES ($1, 'x')").bind(e.id.as_str()).execute(tx.conn()).await.unwrap();
    assert!(tx.mark_processed(&rec).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(count_effects().await, 1);
    assert!(db.store.is_processed(&rec.subscriber, e.tenant_id.as_ref(), &e.id).await.unwrap());
    let mut tx = db.store.begin().await.unwrap();
    assert!(!tx.mark_processed(&rec).await.unwrap());
    drop(tx);
    assert_eq!(count_effects().await, 1);
}

async fn concurrent_marks_of_one_event_yield_exactly_one_true(db: TestDb) {
    let e = event("telemetry.reading");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let store = db.store.clone();
        // Half the deliveries carry the same position, half a different one (re-sent event).
        let rec = record("metrics", if i % 2 == 0 { "5-0" } else { "6-0" }, &e);
        tasks.spawn(async move { mark(&store, &rec).await });
    }
    let mut fresh = 0;
    while let Some(r) = tasks.join_next().await {
        if r.unwrap().unwrap() {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one of 50 concurrent marks records the event");
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM processed_events WHERE subscriber_name = 'metrics'")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 1);
}

async fn forget_processed_reopens_events_for_reprocessing(db: TestDb) {
    let s = group("projection");
    let events: Vec<_> = (0..4).map(|_| event("mission.created")).collect();
    for (i, e) in events.iter().enumerate() {
        assert!(mark(&db.store, &record("projection", &format!("{i}-0"), e)).await.unwrap());
    }
    assert!(mark(&db.store, &record("other", "0-0", &events[0])).await.unwrap());

    let n = db.store.forget_processed(&s, ForgetScope::Events(&[EventKey::of(&events[0])])).await.unwrap();
    assert_eq!(n, 1);
    assert!(!db.store.is_processed(&s, events[0].tenant_id.as_ref(), &events[0].id).await.unwrap());
    assert!(db.store.is_processed(&s, events[1].tenant_id.as_ref(), &events[1].id).await.unwrap());
    // Replaying it with reprocess records it again.
    assert!(mark(&db.store, &record("projection", "0-0", &events[0])).await.unwrap());

    // Forget inside a transaction, then re-mark in the same transaction (a reprocessing replay).
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.forget_processed(&s, ForgetScope::Events(&[EventKey::of(&events[1])])).await.unwrap(), 1);
    assert!(tx.mark_processed(&record("projection", "1-0", &events[1])).await.unwrap());
    tx.commit().await.unwrap();

    let future = Utc::now() + TimeDelta::hours(1);
    assert_eq!(db.store.forget_processed(&s, ForgetScope::ProcessedSince(future)).await.unwrap(), 0);
    let past = Utc::now() - TimeDelta::hours(1);
    assert_eq!(db.store.forget_processed(&s, ForgetScope::ProcessedSince(past)).await.unwrap(), 4);
    assert!(mark(&db.store, &record("projection", "9-0", &events[2])).await.unwrap());
    assert_eq!(db.store.forget_processed(&s, ForgetScope::All).await.unwrap(), 1);
    // The other subscriber's record is untouched.
    assert!(db.store.is_processed(&group("other"), events[0].tenant_id.as_ref(), &events[0].id).await.unwrap());
}

async fn retention_purges_only_old_processed_rows(db: TestDb) {
    let old = event("task.created");
    let edge = event("task.created");
    let new = event("task.created");
    let mut old_rec = record("s", "1-0", &old);
    old_rec.processed_at = Utc::now() - TimeDelta::days(40);
    let mut edge_rec = record("s", "2-0", &edge);
    edge_rec.processed_at = Utc::now() - TimeDelta::days(29);
    for rec in [&old_rec, &edge_rec, &record("s", "3-0", &new)] {
        assert!(mark(&db.store, rec).await.unwrap());
    }
    assert_eq!(db.store.purge_processed_older_than(DEFAULT_PROCESSED_RETENTION).await.unwrap(), 1);
    assert!(!db.store.is_processed(&group("s"), old.tenant_id.as_ref(), &old.id).await.unwrap());
    assert!(db.store.is_processed(&group("s"), edge.tenant_id.as_ref(), &edge.id).await.unwrap());
    assert!(db.store.is_processed(&group("s"), new.tenant_id.as_ref(), &new.id).await.unwrap());
    assert_eq!(db.store.purge_processed_older_than(DEFAULT_PROCESSED_RETENTION).await.unwrap(), 0);
    assert_eq!(db.store.purge_processed_older_than(Duration::from_secs(u64::MAX)).await.unwrap(), 0);
}
