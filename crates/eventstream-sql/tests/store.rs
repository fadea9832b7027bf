//! The state store against real databases: every case runs on SQLite (own temp dir) and on PostgreSQL
//! (own schema). See `helpers` for where PostgreSQL is looked for and what happens when it is missing.

#![allow(clippy::unwrap_used)]

mod helpers;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use eventstream_core::{DecodeError, EventId};
use eventstream_sql::sqlx::{self, Row};
use eventstream_sql::{
    DEFAULT_PROCESSED_RETENTION, DeadLetterFilter, DeadLetterKind, DeadLetterStatus, ForgetScope, MIGRATIONS_TABLE, NewDeadLetter,
    ProcessedRecord, StateStore, StoreError, StoreKind, StoreOptions,
};
use helpers::{Backend, TestDb, event, group, pos, tenant, tenant_event};

/// Generates one `#[tokio::test]` per case and database, named `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_databases {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = super::helpers::TestDb::open(super::helpers::Backend::Sqlite, stringify!($case)).await {
                        super::cases::$case(db).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = super::helpers::TestDb::open(super::helpers::Backend::Postgres, stringify!($case)).await {
                        super::cases::$case(db).await;
                    }
                }
            )+
        }
    };
}

on_both_databases!(
    migrations_are_idempotent_across_connects,
    mark_processed_is_true_then_false,
    both_dedup_keys_are_unique,
    handler_write_and_dedup_row_commit_or_roll_back_together,
    concurrent_marks_of_one_event_yield_exactly_one_true,
    forget_processed_reopens_events_for_reprocessing,
    retention_purges_only_old_processed_rows,
    dead_letter_upsert_accumulates_attempts_while_open,
    dead_letter_list_filters_and_pages,
    dead_letter_retry_and_discard_resolve_once,
    outbox_returns_rows_in_insertion_order,
    transactional_outbox_rows_exist_only_if_committed,
    retry_state_counts_survive_reconnect_and_clear,
);

fn record(subscriber: &str, position: &str, e: &eventstream_core::Event) -> ProcessedRecord {
    ProcessedRecord::for_event(&group(subscriber), "brain:events:stream", &pos(position), e)
}

async fn mark(store: &StateStore, rec: &ProcessedRecord) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let fresh = tx.mark_processed(rec).await?;
    tx.commit().await?;
    Ok(fresh)
}

mod cases {
    use super::*;

    pub(super) async fn migrations_are_idempotent_across_connects(db: TestDb) {
        let expected = match db.backend {
            Backend::Sqlite => StoreKind::Sqlite,
            Backend::Postgres => StoreKind::Postgres,
        };
        assert_eq!(db.store.kind(), expected);
        let e = event("task.created");
        assert!(mark(&db.store, &record("s", "1-0", &e)).await.unwrap());

        // Two more processes connect at once, then one more: nothing is re-applied, data is kept.
        let (a, b) = tokio::join!(db.reconnect(), db.reconnect());
        let (a, _b) = (a.unwrap(), b.unwrap());
        let again = db.reconnect().await.unwrap();
        assert!(again.is_processed(&group("s"), &e.id).await.unwrap());
        let sql = format!("SELECT COUNT(*) AS n FROM {MIGRATIONS_TABLE}");
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(a.pool()).await.unwrap().get("n");
        assert_eq!(n, 1);
        again.ping().await.unwrap();
        if db.backend == Backend::Sqlite {
            let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(a.pool()).await.unwrap().get(0);
            assert_eq!(mode, "wal");
            let busy: i64 = sqlx::query("PRAGMA busy_timeout").fetch_one(a.pool()).await.unwrap().get(0);
            assert!(busy >= 5000, "{busy}");
        }
    }

    pub(super) async fn mark_processed_is_true_then_false(db: TestDb) {
        let e = tenant_event("mission.completed", "acme");
        let rec = record("audit", "1700000000000-0", &e);
        assert!(!db.store.is_processed(&rec.subscriber, &e.id).await.unwrap());
        assert!(mark(&db.store, &rec).await.unwrap(), "first mark records");
        assert!(!mark(&db.store, &rec).await.unwrap(), "second mark is a duplicate");
        assert!(db.store.is_processed(&rec.subscriber, &e.id).await.unwrap());
        // Another subscriber processes the same event independently.
        assert!(mark(&db.store, &record("analytics", "1700000000000-0", &e)).await.unwrap());
        assert!(!db.store.is_processed(&group("security"), &e.id).await.unwrap());

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

    pub(super) async fn both_dedup_keys_are_unique(db: TestDb) {
        let e = event("task.created");
        assert!(mark(&db.store, &record("s", "1-0", &e)).await.unwrap());

        // Same event re-sent by its producer: a new stream entry, the same id -> duplicate.
        assert!(!mark(&db.store, &record("s", "2-0", &e)).await.unwrap());

        // A different event at an already recorded position: the log was reset; an error, not a skip.
        let other = event("task.created");
        let err = mark(&db.store, &record("s", "1-0", &other)).await.unwrap_err();
        assert!(matches!(err, StoreError::PositionReused { .. }), "{err:?}");
        assert!(!err.is_transient());
        assert!(!db.store.is_processed(&group("s"), &other.id).await.unwrap());

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

    pub(super) async fn handler_write_and_dedup_row_commit_or_roll_back_together(db: TestDb) {
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
            assert!(tx.is_processed(&rec.subscriber, &e.id).await.unwrap(), "visible inside the tx");
        }
        assert_eq!(count_effects().await, 0);
        assert!(!db.store.is_processed(&rec.subscriber, &e.id).await.unwrap());

        // Explicit rollback: same.
        let mut tx = db.store.begin().await.unwrap();
        sqlx::query("INSERT INTO handler_effects (event_id, note) VALUES ($1, 'x')").bind(e.id.as_str()).execute(tx.conn()).await.unwrap();
        assert!(tx.mark_processed(&rec).await.unwrap());
        tx.rollback().await.unwrap();
        assert_eq!(count_effects().await, 0);
        assert!(!db.store.is_processed(&rec.subscriber, &e.id).await.unwrap());

        // Committed: both exist; the redelivery is a duplicate and its effect never happens.
        let mut tx = db.store.begin().await.unwrap();
        sqlx::query("INSERT INTO handler_effects (event_id, note) VALUES ($1, 'x')").bind(e.id.as_str()).execute(tx.conn()).await.unwrap();
        assert!(tx.mark_processed(&rec).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(count_effects().await, 1);
        assert!(db.store.is_processed(&rec.subscriber, &e.id).await.unwrap());
        let mut tx = db.store.begin().await.unwrap();
        assert!(!tx.mark_processed(&rec).await.unwrap());
        drop(tx);
        assert_eq!(count_effects().await, 1);
    }

    pub(super) async fn concurrent_marks_of_one_event_yield_exactly_one_true(db: TestDb) {
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

    pub(super) async fn forget_processed_reopens_events_for_reprocessing(db: TestDb) {
        let s = group("projection");
        let events: Vec<_> = (0..4).map(|_| event("mission.created")).collect();
        for (i, e) in events.iter().enumerate() {
            assert!(mark(&db.store, &record("projection", &format!("{i}-0"), e)).await.unwrap());
        }
        assert!(mark(&db.store, &record("other", "0-0", &events[0])).await.unwrap());

        let n = db.store.forget_processed(&s, ForgetScope::Events(&[events[0].id.clone()])).await.unwrap();
        assert_eq!(n, 1);
        assert!(!db.store.is_processed(&s, &events[0].id).await.unwrap());
        assert!(db.store.is_processed(&s, &events[1].id).await.unwrap());
        // Replaying it with reprocess records it again.
        assert!(mark(&db.store, &record("projection", "0-0", &events[0])).await.unwrap());

        // Forget inside a transaction, then re-mark in the same transaction (a reprocessing replay).
        let mut tx = db.store.begin().await.unwrap();
        assert_eq!(tx.forget_processed(&s, ForgetScope::Events(&[events[1].id.clone()])).await.unwrap(), 1);
        assert!(tx.mark_processed(&record("projection", "1-0", &events[1])).await.unwrap());
        tx.commit().await.unwrap();

        let future = Utc::now() + TimeDelta::hours(1);
        assert_eq!(db.store.forget_processed(&s, ForgetScope::ProcessedSince(future)).await.unwrap(), 0);
        let past = Utc::now() - TimeDelta::hours(1);
        assert_eq!(db.store.forget_processed(&s, ForgetScope::ProcessedSince(past)).await.unwrap(), 4);
        assert!(mark(&db.store, &record("projection", "9-0", &events[2])).await.unwrap());
        assert_eq!(db.store.forget_processed(&s, ForgetScope::All).await.unwrap(), 1);
        // The other subscriber's record is untouched.
        assert!(db.store.is_processed(&group("other"), &events[0].id).await.unwrap());
    }

    pub(super) async fn retention_purges_only_old_processed_rows(db: TestDb) {
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
        assert!(!db.store.is_processed(&group("s"), &old.id).await.unwrap());
        assert!(db.store.is_processed(&group("s"), &edge.id).await.unwrap());
        assert!(db.store.is_processed(&group("s"), &new.id).await.unwrap());
        assert_eq!(db.store.purge_processed_older_than(DEFAULT_PROCESSED_RETENTION).await.unwrap(), 0);
        assert_eq!(db.store.purge_processed_older_than(Duration::from_secs(u64::MAX)).await.unwrap(), 0);
    }

    pub(super) async fn dead_letter_upsert_accumulates_attempts_while_open(db: TestDb) {
        let e = tenant_event("course.deployed.staging", "acme");
        let s = group("course_distribution");
        let mut first =
            NewDeadLetter::for_event(&s, "brain:events:stream", &pos("3-0"), &e, DeadLetterKind::TransientExhausted, "timeout", 5);
        first.first_failed_at = Utc::now() - TimeDelta::minutes(10);
        let id = db.store.add_dead_letter(&first).await.unwrap();

        let second = NewDeadLetter::for_event(&s, "brain:events:stream", &pos("4-0"), &e, DeadLetterKind::Permanent, "bad payload", 2);
        assert_eq!(db.store.add_dead_letter(&second).await.unwrap(), id, "same open row");

        let dl = db.store.get_dead_letter(id).await.unwrap().unwrap();
        assert_eq!(dl.letter.subscriber, s);
        assert_eq!(dl.letter.attempts, 7);
        assert_eq!(dl.letter.error, "bad payload");
        assert_eq!(dl.letter.kind, DeadLetterKind::Permanent);
        assert_eq!(dl.letter.stream_message_id, pos("4-0"));
        assert_eq!(dl.letter.event_id, e.id.as_str());
        assert_eq!(dl.letter.event_type.as_ref().map(|t| t.as_str()), Some("course.deployed.staging"));
        assert_eq!(dl.letter.tenant_id, Some(tenant("acme")));
        assert_eq!(dl.status, DeadLetterStatus::Open);
        assert_eq!(dl.resolved_at, None);
        assert_eq!(dl.letter.first_failed_at.timestamp_millis(), first.first_failed_at.timestamp_millis());
        assert_eq!(dl.letter.last_failed_at.timestamp_millis(), second.last_failed_at.timestamp_millis());
        assert_eq!(dl.decode_event().unwrap(), e);
        // The JSON shape (GET /api/dlq, `brain dlq --json`): the letter's fields flat beside id and status.
        let json = serde_json::to_value(&dl).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = [
            "id",
            "subscriber",
            "stream_name",
            "stream_message_id",
            "event_id",
            "event_type",
            "tenant_id",
            "event",
            "error",
            "kind",
            "attempts",
            "first_failed_at",
            "last_failed_at",
            "status",
            "resolved_at",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(
            (&json["attempts"], &json["kind"], &json["status"]),
            (&serde_json::json!(7), &serde_json::json!("permanent"), &serde_json::json!("open"))
        );

        // Another subscriber failing on the same event has its own row.
        let other = NewDeadLetter::for_event(&group("audit"), "s", &pos("3-0"), &e, DeadLetterKind::Permanent, "x", 1);
        assert_ne!(db.store.add_dead_letter(&other).await.unwrap(), id);

        // Undecodable entries are kept raw, keyed by position, and written inside a transaction too.
        let raw = r#"{"type": "???"}"#;
        let bad = NewDeadLetter::undecodable(&s, "brain:events:stream", &pos("5-0"), raw, &DecodeError::new("id", "is required"));
        let mut tx = db.store.begin().await.unwrap();
        let bad_id = tx.add_dead_letter(&bad).await.unwrap();
        tx.commit().await.unwrap();
        let dl = db.store.get_dead_letter(bad_id).await.unwrap().unwrap();
        assert_eq!(
            (dl.letter.kind, dl.letter.event.as_str(), dl.letter.event_id.as_str()),
            (DeadLetterKind::Undecodable, raw, "position:5-0")
        );
        assert_eq!(dl.letter.error, "field `id` is required");
        assert!(dl.decode_event().is_err());
        assert_eq!(dl.letter.event_type, None);
    }

    pub(super) async fn dead_letter_list_filters_and_pages(db: TestDb) {
        let add = |sub: &'static str, ty: &'static str, ten: &'static str| {
            let store = db.store.clone();
            async move {
                let e = tenant_event(ty, ten);
                let dl = NewDeadLetter::for_event(&group(sub), "st", &pos("1-0"), &e, DeadLetterKind::Permanent, "boom", 1);
                store.add_dead_letter(&dl).await.unwrap()
            }
        };
        let a1 = add("a", "task.created", "t1").await;
        let a2 = add("a", "task.failed", "t1").await;
        let a3 = add("a", "task.created", "t2").await;
        let b1 = add("b", "task.created", "t1").await;
        let b2 = add("b", "mission.created", "t2").await;
        assert!(db.store.discard_dead_letter(a2).await.unwrap().is_some());

        let ids = |list: Vec<eventstream_sql::DeadLetter>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
        let all = db.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
        assert_eq!(ids(all), vec![a1, a2, a3, b1, b2]);

        let f = DeadLetterFilter { subscriber: Some(group("a")), ..Default::default() };
        assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a1, a2, a3]);
        let f = DeadLetterFilter { event_type: Some("task.created".parse().unwrap()), ..Default::default() };
        assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a1, a3, b1]);
        let f = DeadLetterFilter { tenant: Some(tenant("t2")), ..Default::default() };
        assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a3, b2]);
        let f = DeadLetterFilter { status: Some(DeadLetterStatus::Discarded), ..Default::default() };
        assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a2]);
        let f = DeadLetterFilter {
            subscriber: Some(group("a")),
            event_type: Some("task.created".parse().unwrap()),
            tenant: Some(tenant("t1")),
            status: Some(DeadLetterStatus::Open),
            ..Default::default()
        };
        assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a1]);

        // Pages of two, following the cursor.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let f = DeadLetterFilter { limit: 2, after_id: after, ..Default::default() };
            let page = ids(db.store.list_dead_letters(&f).await.unwrap());
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 2);
            after = page.last().copied();
            seen.extend(page);
        }
        assert_eq!(seen, vec![a1, a2, a3, b1, b2]);

        let counts = db.store.dead_letter_counts(None).await.unwrap();
        assert_eq!(counts.len(), 2);
        assert_eq!((counts[0].subscriber.as_str(), counts[0].open, counts[0].retried, counts[0].discarded), ("a", 2, 0, 1));
        assert_eq!((counts[1].subscriber.as_str(), counts[1].open, counts[1].retried, counts[1].discarded), ("b", 2, 0, 0));
        let counts = db.store.dead_letter_counts(Some(&tenant("t2"))).await.unwrap();
        assert_eq!(counts.iter().map(|c| (c.subscriber.as_str(), c.open)).collect::<Vec<_>>(), vec![("a", 1), ("b", 1)]);
    }

    pub(super) async fn dead_letter_retry_and_discard_resolve_once(db: TestDb) {
        let e = event("ir.approval_invalid");
        let s = group("security");
        let new = || NewDeadLetter::for_event(&s, "st", &pos("1-0"), &e, DeadLetterKind::Permanent, "boom", 1);
        let id = db.store.add_dead_letter(&new()).await.unwrap();

        let retried = db.store.mark_dead_letter_retried(id).await.unwrap().unwrap();
        assert_eq!(retried.status, DeadLetterStatus::Retried);
        assert!(retried.resolved_at.is_some());
        assert_eq!(retried.decode_event().unwrap(), e);
        assert!(db.store.mark_dead_letter_retried(id).await.unwrap().is_none(), "a retry happens once");
        assert!(db.store.discard_dead_letter(id).await.unwrap().is_none(), "only open ones are discarded");

        // The retried event fails again: a new open row, the old one stays as history.
        let id2 = db.store.add_dead_letter(&new()).await.unwrap();
        assert_ne!(id2, id);
        assert_eq!(db.store.get_dead_letter(id2).await.unwrap().unwrap().letter.attempts, 1);
        let discarded = db.store.discard_dead_letter(id2).await.unwrap().unwrap();
        assert_eq!(discarded.status, DeadLetterStatus::Discarded);
        assert_eq!(db.store.get_dead_letter(id).await.unwrap().unwrap().status, DeadLetterStatus::Retried);
        assert!(db.store.get_dead_letter(eventstream_sql::DeadLetterId(999_999)).await.unwrap().is_none());
        let counts = db.store.dead_letter_counts(None).await.unwrap();
        assert_eq!((counts[0].open, counts[0].retried, counts[0].discarded), (0, 1, 1));
    }

    pub(super) async fn outbox_returns_rows_in_insertion_order(db: TestDb) {
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

    pub(super) async fn transactional_outbox_rows_exist_only_if_committed(db: TestDb) {
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

    pub(super) async fn retry_state_counts_survive_reconnect_and_clear(db: TestDb) {
        let s = group("supervisor");
        let e = event("mission.failed");
        assert_eq!(db.store.retry_state(&s, &e.id).await.unwrap(), None);
        let first = db.store.record_retry_failure(&s, &e.id, "timeout 1").await.unwrap();
        assert_eq!(first.attempts, 1);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (store, s, id) = (db.store.clone(), s.clone(), e.id.clone());
            tasks.spawn(async move { store.record_retry_failure(&s, &id, "timeout").await.unwrap().attempts });
        }
        let mut seen = HashSet::new();
        while let Some(n) = tasks.join_next().await {
            seen.insert(n.unwrap());
        }
        assert_eq!(seen, (2..=21).collect::<HashSet<u32>>(), "every concurrent failure counts once");

        let again = db.reconnect().await.unwrap();
        let state = again.retry_state(&s, &e.id).await.unwrap().unwrap();
        assert_eq!(state.attempts, 21);
        assert_eq!(state.first_failed_at, first.first_failed_at);
        assert!(state.last_failed_at >= first.first_failed_at);
        assert_eq!(state.last_error.as_deref(), Some("timeout"));

        let mut tx = again.begin().await.unwrap();
        assert!(tx.retry_state(&s, &e.id).await.unwrap().is_some());
        assert!(tx.clear_retry_state(&s, &e.id).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(db.store.retry_state(&s, &e.id).await.unwrap(), None);
        assert!(!db.store.clear_retry_state(&s, &e.id).await.unwrap());

        // Retry state left behind for two hours is purged after one; fresh state is kept.
        let stale = event("mission.failed");
        db.store.record_retry_failure(&s, &stale.id, "x").await.unwrap();
        db.store.record_retry_failure(&s, &e.id, "x").await.unwrap();
        sqlx::query("UPDATE retry_state SET updated_at = updated_at - 7200000 WHERE event_id = $1")
            .bind(stale.id.as_str())
            .execute(db.store.pool())
            .await
            .unwrap();
        assert_eq!(db.store.purge_retry_state_older_than(Duration::from_secs(3600)).await.unwrap(), 1);
        assert_eq!(db.store.retry_state(&s, &stale.id).await.unwrap(), None);
        assert!(db.store.retry_state(&s, &e.id).await.unwrap().is_some());
    }
}

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
    assert!(store.is_processed(&group("s"), &e.id).await.unwrap());
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

/// Compile-time check: every future of the public API can be spawned on a multi-threaded runtime.
#[allow(dead_code, clippy::let_underscore_future)]
fn public_futures_are_send(store: StateStore, mut tx: eventstream_sql::Tx) {
    fn send<T: Send>(_: T) {}
    let (g, id) = (group("g"), EventId::new());
    let e = [event("task.created")];
    let rec = record("g", "1", &e[0]);
    let dl = NewDeadLetter::for_event(&g, "s", &pos("1"), &e[0], DeadLetterKind::Permanent, "x", 1);
    send(StateStore::connect("sqlite::memory:"));
    send(store.begin());
    send(store.ping());
    send(store.is_processed(&g, &id));
    send(store.forget_processed(&g, ForgetScope::All));
    send(store.purge_processed_older_than(DEFAULT_PROCESSED_RETENTION));
    send(store.add_dead_letter(&dl));
    send(store.list_dead_letters(&DeadLetterFilter::default()));
    send(store.get_dead_letter(eventstream_sql::DeadLetterId(1)));
    send(store.mark_dead_letter_retried(eventstream_sql::DeadLetterId(1)));
    send(store.dead_letter_counts(None));
    send(store.outbox_insert_batch(&e));
    send(store.outbox_fetch(1));
    send(store.outbox_delete(&[]));
    send(store.outbox_record_failure(&[], "x"));
    send(store.outbox_stats());
    send(store.record_retry_failure(&g, &id, "x"));
    send(store.retry_state(&g, &id));
    send(tx.mark_processed(&rec));
    send(tx.outbox_insert(&e));
    send(tx.add_dead_letter(&dl));
    send(tx.clear_retry_state(&g, &id));
    send(tx.commit());
}
